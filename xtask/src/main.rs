//! Developer tasks for this workspace, run as `cargo xtask <task>`.
//!
//! * `test-all`: every check CI runs, failing on the first problem.
//! * `interop`: the official Python Slack SDK against the testkit's `fake-slack` (see `interop.rs`).
//! * `relay-check`: Bolt for Python (HTTP mode) behind `slack-bot relay` (see `relay_check.rs`).
//! * `systemd-check`: `systemd-analyze verify` on the example unit, where systemd is present.
//! * `bench`: the performance figures written to `BENCHMARKS.md` (see `bench.rs`).
//! * `soak`: a bounded soak run with faults injected (see `soak.rs`).
//! * `examples`: runs the examples that can run against the testkit (see `examples.rs`).
//! * `package`: `cargo package` for every library crate and the MSRV build (see `package.rs`).
//! * `help`: the list of tasks.
//!
//! Only the standard library is used, so the tasks build in seconds.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

mod bench;
mod examples;
mod interop;
mod package;
mod relay_check;
mod soak;

/// One step of a task: a name for the summary and the command to run.
struct Step {
    name: &'static str,
    program: &'static str,
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
}

impl Step {
    fn cargo(name: &'static str, args: &[&'static str]) -> Self {
        Step {
            name,
            program: "cargo",
            args: args.to_vec(),
            env: Vec::new(),
        }
    }

    fn with_env(mut self, key: &'static str, value: &'static str) -> Self {
        self.env.push((key, value));
        self
    }

    fn describe(&self) -> String {
        let mut line = String::new();
        for (k, v) in &self.env {
            line.push_str(&format!("{k}={v} "));
        }
        line.push_str(self.program);
        for a in &self.args {
            line.push(' ');
            line.push_str(a);
        }
        line
    }
}

/// The steps of `test-all`, in order.
fn test_all_steps() -> Vec<Step> {
    vec![
        Step::cargo("format", &["fmt", "--all", "--check"]),
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        ),
        Step::cargo("tests", &["test", "--workspace", "--all-features"]),
        Step::cargo(
            "demo",
            &["run", "--quiet", "--package", "slack-bot", "--", "demo"],
        ),
        Step::cargo("examples", &["xtask", "examples"]),
        Step::cargo("bench-smoke", &["xtask", "bench", "--smoke"]),
        Step::cargo("soak-smoke", &["xtask", "soak", "--seconds", "15"]),
        Step::cargo("interop", &["xtask", "interop"]),
        Step::cargo("relay-check", &["xtask", "relay-check"]),
        Step::cargo("systemd", &["xtask", "systemd-check"]),
        Step::cargo(
            "docs",
            &["doc", "--workspace", "--no-deps", "--all-features"],
        )
        .with_env("RUSTDOCFLAGS", "-D warnings"),
        Step::cargo("package", &["xtask", "package"]),
    ]
}

/// Variables `cargo run` sets for the xtask binary itself. A nested cargo inherits them, and
/// build scripts that watch them (ring's watches `CARGO_MANIFEST_DIR`) then see a change and
/// rebuild half the dependency tree on every switch between `cargo xtask …` and plain cargo.
const CARGO_RUN_VARS: [&str; 7] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// A `Command` for `program` without the variables `cargo run` set for the xtask itself
/// (`CARGO_PKG_*` and [`CARGO_RUN_VARS`]), so nested cargo builds reuse plain cargo's artifacts.
pub(crate) fn clean_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_") || CARGO_RUN_VARS.contains(&key.as_ref()) {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// `cargo`, cleaned as [`clean_command`] does.
pub(crate) fn cargo() -> Command {
    clean_command("cargo")
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    let manifest = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    match manifest {
        Some(dir) => dir.parent().map(Path::to_path_buf).unwrap_or(dir),
        None => PathBuf::from("."),
    }
}

/// Runs the steps in order, stopping at the first failure, then prints a summary.
fn run_steps(task: &str, steps: &[Step]) -> ExitCode {
    let root = workspace_root();
    let started = Instant::now();
    let mut results: Vec<(&str, Duration, bool)> = Vec::new();
    let mut failed = false;
    for step in steps {
        println!("\n==> [{task}] {}: {}", step.name, step.describe());
        let t = Instant::now();
        let status = clean_command(step.program)
            .args(&step.args)
            .envs(step.env.iter().copied())
            .current_dir(&root)
            .status();
        let ok = match status {
            Ok(s) => s.success(),
            Err(e) => {
                eprintln!("could not start `{}`: {e}", step.program);
                false
            }
        };
        results.push((step.name, t.elapsed(), ok));
        if !ok {
            failed = true;
            break;
        }
    }
    println!("\n==> [{task}] summary");
    for (name, took, ok) in &results {
        let mark = if *ok { "ok  " } else { "FAIL" };
        println!("  {mark} {name:<12} {:>7.1}s", took.as_secs_f64());
    }
    for step in steps.iter().skip(results.len()) {
        println!("  skip {:<12}", step.name);
    }
    println!("  total {:.1}s", started.elapsed().as_secs_f64());
    if failed {
        println!("[{task}] FAILED");
        ExitCode::FAILURE
    } else {
        println!("[{task}] all checks passed");
        ExitCode::SUCCESS
    }
}

fn help() {
    println!("usage: cargo xtask <task>");
    println!();
    println!("tasks:");
    println!(
        "  test-all   format, clippy, tests, demo, examples, bench and soak smoke runs, interop,"
    );
    println!("             relay-check, systemd-check, docs, package (what CI runs)");
    println!("  interop    the Python Slack SDK against the testkit's fake-slack");
    println!(
        "  relay-check  Bolt for Python (HTTP mode) behind `slack-bot relay`, fake-slack as Slack"
    );
    println!("  systemd-check  systemd-analyze verify slack-bot/deploy/slack-bot.service");
    println!("  bench      performance figures (release build), written to BENCHMARKS.md");
    println!("             --smoke: a few hundred envelopes, writes nothing (run by test-all)");
    println!(
        "  soak       events with random faults for --seconds N (default 120); reports losses"
    );
    println!("  examples   runs the examples that can run against the testkit");
    println!("  package    `cargo package` for every library crate, and the MSRV build");
    println!("  help       this list");
}

/// The arguments after the task name.
fn rest() -> Vec<String> {
    env::args().skip(2).collect()
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let task = env::args().nth(1);
    match task.as_deref() {
        Some("test-all") => run_steps("test-all", &test_all_steps()),
        Some("interop") => {
            if interop::run(&workspace_root()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some("relay-check") => exit(relay_check::run(&workspace_root())),
        Some("systemd-check") => exit(relay_check::systemd_check(&workspace_root())),
        Some("bench") => exit(bench::run(&workspace_root(), &rest())),
        Some("soak") => exit(soak::run(&workspace_root(), &rest())),
        Some("examples") => exit(examples::run(&workspace_root(), &rest())),
        Some("package") => exit(package::run(&workspace_root(), &rest())),
        Some("help") | Some("--help") | Some("-h") => {
            help();
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown task `{other}`");
            help();
            ExitCode::from(2)
        }
        None => {
            help();
            ExitCode::from(2)
        }
    }
}
