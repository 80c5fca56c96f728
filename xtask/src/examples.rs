//! `cargo xtask examples`: builds every example of the workspace, then runs the ones that can
//! run against the testkit (each starts its own fake Slack on 127.0.0.1, plays a scripted
//! exchange, checks the result and exits), and the test that shows how to test a bot.
//!
//! Every run has a time limit: a run that has not exited by then is killed and counts as a
//! failure. Tokens and Slack URLs from the environment are removed from the runs, so an example
//! never reaches the real Slack from here.
//!
//! ```text
//! cargo xtask examples [--timeout SECS] [--list] [NAME...]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::package::json::{self, Value};

/// One run: a program built by cargo, with its arguments.
struct Run {
    /// The name shown in the summary (and used to pick runs on the command line).
    name: &'static str,
    package: &'static str,
    kind: Kind,
    args: &'static [&'static str],
}

enum Kind {
    /// `target/debug/examples/NAME`.
    Example(&'static str),
    /// `cargo test -p PACKAGE --test NAME`.
    Test(&'static str),
}

/// What runs. Examples not listed here are only built: `slack-transport`'s `tail` needs a
/// WebSocket URL from the user.
const RUNS: &[Run] = &[
    Run {
        name: "echo_bot",
        package: "slack-bot",
        kind: Kind::Example("echo_bot"),
        args: &["--against-testkit"],
    },
    Run {
        name: "slash_command",
        package: "slack-bot",
        kind: Kind::Example("slash_command"),
        args: &["--against-testkit"],
    },
    Run {
        name: "modal_flow",
        package: "slack-bot",
        kind: Kind::Example("modal_flow"),
        args: &["--against-testkit"],
    },
    Run {
        name: "message_matcher",
        package: "slack-bot",
        kind: Kind::Example("message_matcher"),
        args: &["--against-testkit"],
    },
    Run {
        name: "late_command",
        package: "slack-bot",
        kind: Kind::Example("late_command"),
        args: &["--against-testkit"],
    },
    Run {
        name: "options_loading",
        package: "slack-bot",
        kind: Kind::Example("options_loading"),
        args: &["--against-testkit"],
    },
    Run {
        name: "app_home",
        package: "slack-bot",
        kind: Kind::Example("app_home"),
        args: &["--against-testkit"],
    },
    Run {
        // Starts its own redis-server (skipped, loudly, without one; an error under CI).
        name: "fleet_replicas",
        package: "slack-bot",
        kind: Kind::Example("fleet_replicas"),
        args: &["--against-testkit"],
    },
    Run {
        name: "tungstenite_loop",
        package: "slack-envelope",
        kind: Kind::Example("tungstenite_loop"),
        args: &["--against-testkit"],
    },
    Run {
        // A small count: this checks that it runs, not how fast (debug build).
        name: "core_throughput",
        package: "slack-envelope",
        kind: Kind::Example("core_throughput"),
        args: &["20000"],
    },
    Run {
        name: "frame_parse",
        package: "slack-envelope",
        kind: Kind::Example("frame_parse"),
        args: &["2000"],
    },
    Run {
        name: "dedup_capacity",
        package: "slack-envelope",
        kind: Kind::Example("dedup_capacity"),
        args: &["20000"],
    },
    Run {
        // Without a token and channel it uses the embedded fake Slack.
        name: "post_message",
        package: "slack-web",
        kind: Kind::Example("post_message"),
        args: &[],
    },
    Run {
        // The three examples of the typed Web API; each uses the embedded fake Slack
        // without a token.
        name: "upload_to_thread",
        package: "slack-web",
        kind: Kind::Example("upload_to_thread"),
        args: &[],
    },
    Run {
        name: "list_channels",
        package: "slack-web",
        kind: Kind::Example("list_channels"),
        args: &[],
    },
    Run {
        name: "block_kit_message",
        package: "slack-web",
        kind: Kind::Example("block_kit_message"),
        args: &[],
    },
    Run {
        name: "example_user_bot",
        package: "slack-bot",
        kind: Kind::Test("example_user_bot"),
        args: &[],
    },
];

/// Environment variables removed from every run.
const SCRUBBED: &[&str] = &[
    "SLACK_APP_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN_FILE",
    "SLACK_BOT_TOKEN_FILE",
    "SLACK_API_URL",
];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs the task; returns true on success.
pub(crate) fn run(root: &Path, args: &[String]) -> bool {
    let mut timeout = DEFAULT_TIMEOUT;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--timeout" => match it.next().and_then(|s| s.parse::<u64>().ok()) {
                Some(s) if s > 0 => timeout = Duration::from_secs(s),
                _ => {
                    eprintln!("[examples] --timeout needs a number of seconds");
                    return false;
                }
            },
            "--list" => {
                for r in RUNS {
                    println!("{:<18} {} {}", r.name, r.package, r.args.join(" "));
                }
                return true;
            }
            name if !name.starts_with('-') => only.push(name.to_owned()),
            other => {
                eprintln!("[examples] unknown argument `{other}`");
                return false;
            }
        }
    }
    if let Some(unknown) = only.iter().find(|n| !RUNS.iter().any(|r| r.name == *n)) {
        eprintln!("[examples] no run named `{unknown}` (see --list)");
        return false;
    }

    // Build every example of the workspace (this also builds the ones that only build) and the
    // test, learning where cargo put each executable.
    let mut exes = Vec::new();
    for build in [
        // Every feature, like the tests: `fleet_replicas` needs `fleet`.
        &["build", "--workspace", "--examples", "--all-features"][..],
        &[
            "test",
            "--no-run",
            "-p",
            "slack-bot",
            "--test",
            "example_user_bot",
        ][..],
    ] {
        println!("==> [examples] build: cargo {}", build.join(" "));
        match executables(root, build) {
            Some(found) => exes.extend(found),
            None => {
                eprintln!("[examples] `cargo {}` failed", build.join(" "));
                return false;
            }
        }
    }

    let mut results: Vec<(&str, Duration, Outcome)> = Vec::new();
    for r in RUNS {
        if !only.is_empty() && !only.iter().any(|n| n == r.name) {
            continue;
        }
        let wanted = match r.kind {
            Kind::Example(name) => ("example", name),
            Kind::Test(name) => ("test", name),
        };
        let exe = exes
            .iter()
            .find(|(kind, name, _)| (kind.as_str(), name.as_str()) == wanted)
            .map(|(_, _, path)| path.clone());
        let Some(exe) = exe else {
            results.push((
                r.name,
                Duration::ZERO,
                Outcome::NotStarted("not built".to_owned()),
            ));
            continue;
        };
        let mut cmd = Command::new(exe);
        cmd.args(r.args);
        cmd.current_dir(root.join(r.package)).stdin(Stdio::null());
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        println!(
            "\n==> [examples] {} ({}) {}",
            r.name,
            r.package,
            r.args.join(" ")
        );
        let started = Instant::now();
        let outcome = match cmd.spawn() {
            Ok(child) => wait_with_timeout(child, timeout),
            Err(e) => Outcome::NotStarted(e.to_string()),
        };
        results.push((r.name, started.elapsed(), outcome));
    }

    println!(
        "\n==> [examples] summary (time limit {}s each)",
        timeout.as_secs()
    );
    let mut ok = true;
    for (name, took, outcome) in &results {
        let (mark, note) = match outcome {
            Outcome::Exited(s) if s.success() => ("ok  ", String::new()),
            Outcome::Exited(s) => ("FAIL", format!("exited with {s}")),
            Outcome::TimedOut => ("FAIL", "killed: time limit reached".to_owned()),
            Outcome::NotStarted(e) => ("FAIL", format!("could not start: {e}")),
        };
        if mark != "ok  " {
            ok = false;
        }
        println!("  {mark} {name:<18} {:>6.1}s {note}", took.as_secs_f64());
    }
    println!("  (built only: slack-transport's `tail`, which needs a WebSocket URL)");
    if ok {
        println!("[examples] all runs passed");
    } else {
        println!("[examples] FAILED");
    }
    ok
}

enum Outcome {
    Exited(ExitStatus),
    TimedOut,
    NotStarted(String),
}

/// Waits for the child; kills it at the deadline.
fn wait_with_timeout(mut child: Child, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Outcome::Exited(status),
            Ok(None) => {}
            Err(e) => return Outcome::NotStarted(e.to_string()),
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Outcome::TimedOut;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a cargo build with JSON messages and returns the executables it produced, as
/// (`example`/`test`/…, target name, path).
fn executables(root: &Path, args: &[&str]) -> Option<Vec<(String, String, PathBuf)>> {
    let out = crate::cargo()
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut found = Vec::new();
    for line in stdout.lines() {
        let Ok(msg) = json::parse(line) else {
            continue;
        };
        if msg.get("reason").and_then(Value::as_str) != Some("compiler-artifact") {
            continue;
        }
        let (Some(target), Some(exe)) = (
            msg.get("target"),
            msg.get("executable").and_then(Value::as_str),
        ) else {
            continue;
        };
        let name = target.get("name").and_then(Value::as_str).unwrap_or("");
        let kinds = target.get("kind").and_then(Value::as_array).unwrap_or(&[]);
        for kind in kinds.iter().filter_map(Value::as_str) {
            found.push((kind.to_owned(), name.to_owned(), PathBuf::from(exe)));
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_run_past_its_time_limit_is_killed() {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let started = Instant::now();
        assert!(matches!(
            wait_with_timeout(child, Duration::from_millis(200)),
            Outcome::TimedOut
        ));
        assert!(started.elapsed() < Duration::from_secs(20));
        let child = Command::new("true").spawn().unwrap();
        assert!(matches!(
            wait_with_timeout(child, Duration::from_secs(20)),
            Outcome::Exited(s) if s.success()
        ));
    }
}
