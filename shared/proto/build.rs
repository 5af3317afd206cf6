//! Generates the gRPC code and the encoded descriptor set from `proto/`, with
//! `protox` as the compiler so no system `protoc` is needed.

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "aimaq/common/v1/common.proto",
    "aimaq/governance/v1/governance.proto",
    "aimaq/budget/v1/budget.proto",
    "aimaq/grants/v1/grants.proto",
    "aimaq/gateway/v1/gateway.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.display());
    for file in FILES {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }

    let descriptors = protox::compile(FILES, [&root])?;
    std::fs::write(
        out_dir.join("aimaq_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // Undecodable bodies are the sender's mistake, not the server's fault.
        .codec_path("crate::codec::ProtoCodec")
        .compile_fds_with_config(descriptors, {
            // Message names let the codec find a request's descriptor.
            let mut config = tonic_prost_build::Config::new();
            config.enable_type_names();
            config
        })?;
    Ok(())
}
