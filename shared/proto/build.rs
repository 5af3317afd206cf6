//! Generates the gRPC code and the encoded descriptor set from `proto/`, with
//! `protox` as the compiler so no system `protoc` is needed.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "aimaq/common/v1/common.proto",
    "aimaq/governance/v1/governance.proto",
    "aimaq/budget/v1/budget.proto",
    "aimaq/grants/v1/grants.proto",
    "aimaq/gateway/v1/gateway.proto",
    // Not used by the code; in the descriptor set so that the HTTP/JSON API
    // can write a status's rich error details as JSON.
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.display());
    for file in FILES {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }

    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(FILES)?;
    // Encoded by the compiler, which keeps extension options (the HTTP
    // rules) that the generated `MethodOptions` type would drop.
    std::fs::write(
        out_dir.join("aimaq_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let descriptors = compiler.file_descriptor_set();
    tonic_prost_build::configure()
        // Undecodable bodies are the sender's mistake, not the server's fault.
        .codec_path("crate::codec::ProtoCodec")
        .compile_fds_with_config(descriptors, {
            // Message names let the codec find a request's descriptor.
            let mut config = tonic_prost_build::Config::new();
            config.enable_type_names();
            // Change events carry resources as `Any` under the usual domain.
            config.type_name_domain(["."], "type.googleapis.com");
            config
        })?;
    Ok(())
}
