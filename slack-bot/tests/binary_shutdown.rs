//! The binary on SIGTERM under a slow Web API: requests acked but not handled by the
//! shutdown deadline are spooled (`--spool-dir`), or counted and reported with a non-zero exit
//! status. Nothing acked is dropped without a trace.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{SOON, message};
use slack_testkit::FakeSlack;

/// Messages sent; far more than the bot can handle before its shutdown deadline while every
/// `reactions.add` waits for a rate limit.
const SENT: usize = 200;

fn start(slack: &FakeSlack, spool: Option<&Path>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-bot"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SLACK_APP_TOKEN", slack.app_token())
        .env("SLACK_BOT_TOKEN", slack.bot_token())
        .env("BOT_USER_ID", slack.bot_user_id())
        .env("SLACK_API_URL", slack.api_url())
        .env("SLACK_ALLOW_INSECURE", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(dir) = spool {
        cmd.arg("--spool-dir").arg(dir);
    }
    cmd.spawn().unwrap()
}

/// Sends the messages, waits for their acks (on receipt), sends SIGTERM and waits for the
/// exit. Returns the exit code and stderr.
fn terminate_under_load(slack: &FakeSlack, mut child: Child) -> (Option<i32>, String) {
    // A slow Web API: every reaction waits for a rate limit first.
    slack.rate_limit("reactions.add", 1, 1_000_000);
    slack.wait_for_connections(1, SOON).unwrap();
    let ids: Vec<String> = (0..SENT)
        .map(|i| {
            slack
                .send_event(message("C1", &format!("m{i}"), &format!("1.{i}")))
                .unwrap()
        })
        .collect();
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the bot did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code(), stderr)
}

#[test]
fn without_a_spool_acked_requests_lost_at_shutdown_are_reported_and_the_exit_status_says_so() {
    let slack = FakeSlack::start().unwrap();
    let child = start(&slack, None);
    let (code, stderr) = terminate_under_load(&slack, child);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("are lost"), "{stderr}");
}

#[test]
fn with_a_spool_acked_requests_left_at_shutdown_are_written_and_the_exit_is_clean() {
    let dir = std::env::temp_dir().join(format!("slack-bot-binary-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let slack = FakeSlack::start().unwrap();
    let child = start(&slack, Some(&dir));
    let (code, stderr) = terminate_under_load(&slack, child);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: usize = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum();
    assert!(lines > 0 && lines < SENT, "{lines} spooled");
    let _ = std::fs::remove_dir_all(&dir);
}
