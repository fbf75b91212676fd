// Generates floe.v1 with the protoc shipped by protoc-bin-vendored, so a build
// needs no system protoc.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure().compile_protos(&["floe/v1/floe.proto"], &["."])?;
    println!("cargo:rerun-if-changed=floe/v1/floe.proto");
    Ok(())
}
