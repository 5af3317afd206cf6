//! The harness of the CLI's tests: a running system with the scenarios'
//! data, and the binary run against it.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use aimaq_e2e::system::System;
use aimaq_testing::{TestPki, TestServer};
use serde_json::Value;

/// A running system with the scenarios' data, and a directory for files.
pub struct Stack {
    pub system: System,
    pub gateway: TestServer,
    pub token: String,
    pub dir: tempfile::TempDir,
}

pub async fn stack() -> Stack {
    let (system, gateway, token) = aimaq_e2e::system::with_every_scenario().await;
    // The system's signing key, as a stack keeps it in its data directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("token-signing-key.pem"),
        system.tokens.keys.private_pem.expose(),
    )
    .unwrap();
    Stack {
        system,
        gateway,
        token,
        dir,
    }
}

impl Stack {
    /// `aimaq` with `args`, connected to the gateway with `token`.
    pub async fn run_with(&self, token: &str, args: &[&str]) -> Output {
        let token_file = self.dir.path().join(format!("token-{}", token.len()));
        std::fs::write(&token_file, token).unwrap();
        aimaq(&self.gateway.url(), Some(&token_file), args).await
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with(&self.token.clone(), args).await
    }

    /// The JSON lines `aimaq` printed for `args`, which must succeed.
    pub async fn lines(&self, args: &[&str]) -> Vec<Value> {
        let output = self.run(args).await;
        succeeded(&output);
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// The `aimaq` command with the test client's certificate and CA, against
/// `endpoint`, with `token_file`'s token when given.
pub fn command(endpoint: &str, token_file: Option<&Path>) -> std::process::Command {
    let pki = TestPki::get();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aimaq"));
    command
        .env_remove("AIMAQ_TOKEN")
        .arg("--endpoint")
        .arg(endpoint)
        .arg("--ca")
        .arg(&pki.ca)
        .arg("--cert")
        .arg(&pki.client.cert)
        .arg("--key")
        .arg(&pki.client.key);
    if let Some(file) = token_file {
        command.arg("--token-file").arg(file);
    }
    command
}

/// `aimaq` with `args`, run to its end.
pub async fn aimaq(endpoint: &str, token_file: Option<&Path>, args: &[&str]) -> Output {
    let mut command = command(endpoint, token_file);
    command.args(args);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

pub fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}
