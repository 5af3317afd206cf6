//! Progress of a long command on standard error: a bar with the rate and the
//! time left on a terminal, and a plain line every few seconds elsewhere
//! (logs, CI), so that standard output stays the command's result.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is written.
const EVERY: Duration = Duration::from_secs(2);

pub enum Progress {
    Bar(ProgressBar),
    Lines {
        total: String,
        unit: &'static str,
        started: Instant,
        state: Mutex<(u64, Instant)>,
    },
}

impl Progress {
    /// Progress towards `total` (`None`: not known beforehand).
    pub fn new(total: Option<u64>, unit: &'static str) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = match total {
                Some(_) => format!("{{bar:40}} {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left"),
                None => format!("{{spinner}} {{pos}} {unit}, {{per_sec}}"),
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            return Progress::Bar(bar);
        }
        let now = Instant::now();
        Progress::Lines {
            total: total.map_or_else(|| "?".to_string(), |t| t.to_string()),
            unit,
            started: now,
            state: Mutex::new((0, now)),
        }
    }

    pub fn add(&self, done: u64) {
        match self {
            Progress::Bar(bar) => bar.inc(done),
            Progress::Lines {
                total,
                unit,
                started,
                state,
            } => {
                let Ok(mut state) = state.lock() else { return };
                state.0 += done;
                if state.1.elapsed() >= EVERY {
                    state.1 = Instant::now();
                    let rate = state.0 as f64 / started.elapsed().as_secs_f64().max(1e-3);
                    eprintln!("{}/{total} {unit}, {rate:.0} {unit}/s", state.0);
                }
            }
        }
    }

    pub fn finish(&self) {
        match self {
            Progress::Bar(bar) => {
                bar.finish();
                // What is printed next starts on a line of its own.
                eprintln!();
            }
            Progress::Lines {
                total,
                unit,
                started,
                state,
            } => {
                let done = state.lock().map_or(0, |s| s.0);
                let seconds = started.elapsed().as_secs_f64();
                eprintln!("{done}/{total} {unit} in {seconds:.1} s");
            }
        }
    }
}
