//! Servers under test in processes of their own (benchmarks, replicas that a
//! test kills): the test binary run again with a role in its environment.
//! The child prints its address on its first line, serves, and drains when
//! its standard input closes.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// Starts `command` with piped standard input and output, and waits for the
/// address it prints first; what it prints later is read and dropped, so
/// that its printing never fails on a closed pipe.
pub async fn spawn_server(mut command: Command) -> (Child, SocketAddr) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child server");
    let stdout = child.stdout.take().expect("the child's output");
    let address = tokio::task::spawn_blocking(move || {
        let mut stdout = std::io::BufReader::new(stdout);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("the child's address");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        line.trim().parse::<SocketAddr>()
    })
    .await
    .expect("reading the child's address")
    .expect("an address on the child's first line");
    (child, address)
}

/// In the child: completes when standard input closes (the parent has
/// finished, or is gone).
pub async fn parent_gone() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut buffer = [0u8; 64];
        while std::io::Read::read(&mut std::io::stdin(), &mut buffer).is_ok_and(|n| n > 0) {}
    })
    .await;
}
