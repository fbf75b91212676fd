//! Floe's gRPC API. The generated code is `v1`; `From` conversions to the domain
//! types that coordinator and workers share are implemented here, at the edge.

mod convert;
pub mod security;

pub mod v1 {
    tonic::include_proto!("floe.v1");
}
