//! `cargo xtask soak [--seconds N] [--seed S] [--rate R] [--connections C]`: a steady stream of
//! events to a running bot with random refreshes, drops and half-open links injected; reports
//! events sent, acked, delivered once, duplicates suppressed, lost (must be 0), reconnects, RSS
//! and threads, and fails when anything is lost, delivered twice, left un-acked or leaked.
//!
//! The work happens in the `soak` bench target of `slack-bot` (`slack-bot/benches/soak.rs`,
//! release build with debug info); this task builds and runs it with the arguments given.
//! Default 120 s; `cargo xtask test-all` runs `--seconds 15`.

use std::path::Path;
use std::time::Instant;

/// Options the soak understands; everything else is refused here, before a long build.
const OPTIONS: [&str; 5] = [
    "--seconds",
    "--seed",
    "--rate",
    "--connections",
    "--drain-seconds",
];

/// Runs the task; returns true on success.
pub(crate) fn run(root: &Path, args: &[String]) -> bool {
    let mut forwarded: Vec<String> = Vec::new();
    let mut seconds_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            println!(
                "usage: cargo xtask soak [--seconds N (default 120)] [--seed S] [--rate EVENTS_PER_S (200)] [--connections C (2)] [--drain-seconds D (180)]"
            );
            return true;
        }
        if !OPTIONS.contains(&a.as_str()) {
            eprintln!("[soak] unknown argument `{a}` (see `cargo xtask soak --help`)");
            return false;
        }
        let Some(value) = it.next() else {
            eprintln!("[soak] `{a}` needs a value");
            return false;
        };
        if value.parse::<u64>().is_err() {
            eprintln!("[soak] `{a}` needs a non-negative integer, got `{value}`");
            return false;
        }
        seconds_given |= a == "--seconds";
        forwarded.push(a.clone());
        forwarded.push(value.clone());
    }
    if !seconds_given {
        forwarded.push("--seconds".to_owned());
        forwarded.push("120".to_owned());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = crate::clean_command(&cargo);
    cmd.current_dir(root)
        .args(["bench", "--package", "slack-bot", "--bench", "soak", "--"])
        .args(&forwarded);
    println!(
        "[soak] cargo bench --package slack-bot --bench soak -- {}",
        forwarded.join(" ")
    );
    let started = Instant::now();
    let ok = match cmd.status() {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("[soak] could not start cargo: {e}");
            false
        }
    };
    println!(
        "[soak] {} in {:.1}s (build included)",
        if ok { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    ok
}
