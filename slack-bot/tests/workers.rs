//! The handler pool: one worker while idle, more as soon as a slow handler holds one up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SOON, builder, message, wait_until};
use slack_bot::Reply;
use slack_testkit::FakeSlack;

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

#[test]
fn an_idle_bot_holds_one_worker_and_a_slow_handler_gets_company() {
    let slack = FakeSlack::start().unwrap();
    // (text, when its handler started)
    let started: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let s = Arc::clone(&started);
    let bot = builder(&slack)
        .workers(4)
        .on_event("message", move |ctx| {
            let text = match ctx.event().unwrap().event.clone() {
                slack_bot::slack_envelope::payload::SlackEvent::Message(m) => {
                    m.text.unwrap_or_default()
                }
                other => panic!("unexpected event {other:?}"),
            };
            s.lock().unwrap().push((text.clone(), Instant::now()));
            if text == "slow" {
                std::thread::sleep(Duration::from_secs(3));
            }
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    // Threads of other tests in this binary would be counted too: this file has one test.
    assert_eq!(threads_named("slack-worker"), 1, "one worker while idle");

    let slow = slack.send_event(message("C1", "slow", "1.1")).unwrap();
    wait_until(SOON, "the slow handler to start", || {
        started.lock().unwrap().len() == 1
    });
    let t0 = Instant::now();
    let quick = slack.send_event(message("C1", "quick", "1.2")).unwrap();
    // The quick one must not wait for the slow one (3 s): a second worker takes it.
    wait_until(SOON, "the quick handler to start", || {
        started.lock().unwrap().len() == 2
    });
    let waited = t0.elapsed();
    let slow_started = started.lock().unwrap()[0].1;
    let quick_started = started.lock().unwrap()[1].1;
    assert!(
        quick_started < slow_started + Duration::from_secs(3),
        "the quick handler waited for the slow one ({waited:?})"
    );
    assert_eq!(threads_named("slack-worker"), 2);
    slack.wait_for_ack(&slow, SOON).unwrap();
    slack.wait_for_ack(&quick, SOON).unwrap();
    bot.shutdown().unwrap();
    assert_eq!(threads_named("slack-worker"), 0, "workers joined");
}
