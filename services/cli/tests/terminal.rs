//! `aimaq` at a terminal, as a person sees it: run in a pseudo-terminal, an
//! import's dry run draws its progress bar and prints its report as an
//! aligned table (the default on a terminal).

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aimaq_e2e::scenario::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_at_a_terminal_shows_the_bar_and_the_report() {
    let stack = stack().await;
    let allocation = format!("allocations/AUYL_EL_BESIGI/{}/{REGION}", this_year());
    let file = stack.dir.path().join("terminal.csv");
    let mut text = String::from("allocation,settlement_kato,category,title,cost,status\n");
    for n in 0..40 {
        text.push_str(&format!(
            "{allocation},{VILLAGE},social infrastructure,Project {n},1,planned\n"
        ));
    }
    text.push_str(&format!(
        "{allocation},{VILLAGE},social infrastructure,Broken,ten,planned\n"
    ));
    std::fs::write(&file, text).unwrap();
    let token_file = stack.dir.path().join("token");
    std::fs::write(&token_file, &stack.token).unwrap();

    let mut command = command(&stack.gateway.url(), Some(&token_file));
    command
        .args(["import", "projects"])
        .arg(&file)
        .arg("--dry-run");
    let seen = tokio::task::spawn_blocking(move || {
        let options = rexpect::reader::Options::new()
            .timeout_ms(Some(30_000))
            .strip_ansi_escape_codes(true);
        let mut session = rexpect::session::spawn_with_options(command, options).unwrap();
        // The bar's last state: every row counted.
        let bar = session.exp_string("41/41 rows").unwrap();
        // The report: a table with its headings, the broken row, the summary.
        let report = session.exp_eof().unwrap();
        (bar, report)
    })
    .await
    .unwrap();
    let (_, report) = seen;
    let lines: Vec<&str> = report.lines().map(str::trim_end).collect();
    let heading = lines
        .iter()
        .position(|l| l.starts_with("row  column  problem"))
        .unwrap_or_else(|| panic!("{report:?}"));
    assert!(lines[heading + 1].starts_with("42   cost"), "{report}");
    assert!(
        report.contains("valid") && report.contains("40"),
        "{report}"
    );
}
