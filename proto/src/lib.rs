//! Floe's gRPC API. The generated code is `v1`; conversions to domain types live
//! with the crates that own those types, at the edge.

pub mod v1 {
    tonic::include_proto!("floe.v1");
}
