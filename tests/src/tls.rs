//! Throwaway certificates for TLS tests: a CA and a leaf for 127.0.0.1 and
//! localhost signed by it, made with the `openssl` command.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug)]
pub struct TestCerts {
    /// The CA clients trust.
    pub ca: PathBuf,
    /// The coordinator's certificate and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCerts {
    /// Writes the CA, certificate and key under `dir`.
    pub fn create(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("certificate dir");
        let p = |name: &str| dir.join(name);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=floe test CA",
            "-keyout",
            p("ca.key").to_str().unwrap(),
            "-out",
            p("ca.pem").to_str().unwrap(),
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            p("key.pem").to_str().unwrap(),
            "-out",
            p("req.csr").to_str().unwrap(),
        ]);
        std::fs::write(
            p("leaf.ext"),
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            p("req.csr").to_str().unwrap(),
            "-CA",
            p("ca.pem").to_str().unwrap(),
            "-CAkey",
            p("ca.key").to_str().unwrap(),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            p("leaf.ext").to_str().unwrap(),
            "-out",
            p("cert.pem").to_str().unwrap(),
        ]);
        Self {
            ca: p("ca.pem"),
            cert: p("cert.pem"),
            key: p("key.pem"),
        }
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command makes the test certificates");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
