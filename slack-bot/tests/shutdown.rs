//! Graceful shutdown joins every thread and loses no queued message.
//!
//! Alone in its test binary: it counts the process's threads (`/proc/self/task`), which other
//! tests running in parallel would disturb.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{SOON, builder, message, wait_until};
use slack_bot::Reply;
use slack_testkit::FakeSlack;

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn shutdown_joins_every_thread_and_loses_no_queued_message() {
    let before = thread_count();
    let slack = FakeSlack::builder()
        .ping_interval(Duration::from_millis(300))
        .start()
        .unwrap();
    const PER_EVENT: usize = 4;
    const EVENTS: usize = 5;
    let bot = builder(&slack)
        .connections(2)
        .workers(4)
        .on_event("message", |ctx| {
            let text = ctx.event().unwrap().event_id.clone().unwrap();
            // 20 messages to one channel: the outbox paces them at about 1/s after a burst
            // of 5, so most are still queued when shutdown starts.
            for i in 0..PER_EVENT {
                ctx.say_later("C9", &format!("{text}/{i}"))?;
            }
            Ok(Reply::Ack)
        })
        .shutdown_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    slack.wait_for_connections(2, SOON).unwrap();
    assert!(thread_count() > before);

    let ids: Vec<String> = (0..EVENTS)
        .map(|i| {
            slack
                .send_event(message("C1", "queue some", &format!("8.{i}")))
                .unwrap()
        })
        .collect();
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    wait_until(SOON, "the handlers to finish", || {
        bot.stats().delivered == EVENTS as u64
    });
    slack.wait_for_call("chat.postMessage", SOON).unwrap();

    let report = bot.shutdown().unwrap();
    assert_eq!(report.workers_left_running, 0);
    // Every queued message was posted or is reported unsent (never both, never neither).
    let posted: Vec<String> = slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.status == 200)
        .map(|c| c.arg("text").unwrap().to_owned())
        .collect();
    let unsent: Vec<String> = report
        .unsent
        .iter()
        .map(|u| u.message.message.text.clone().unwrap_or_default())
        .collect();
    println!(
        "posted {} and reported {} unsent",
        posted.len(),
        unsent.len()
    );
    let all: HashSet<&String> = posted.iter().chain(unsent.iter()).collect();
    assert_eq!(
        all.len(),
        EVENTS * PER_EVENT,
        "posted {posted:?} unsent {unsent:?}"
    );
    let in_flight_dup = report.unsent.iter().filter(|u| u.in_flight).count();
    assert_eq!(
        posted.len() + unsent.len(),
        EVENTS * PER_EVENT + in_flight_dup,
        "posted {posted:?} unsent {unsent:?}"
    );
    // Every connection was closed by the bot with 1000.
    assert!(slack.open_connections().is_empty());
    for c in slack.connections() {
        assert!(!c.open, "{c:?}");
    }

    // Stopping while a connection is still being opened leaves nothing behind either.
    for i in 0..5 {
        let bot = builder(&slack).start().unwrap();
        std::thread::sleep(Duration::from_millis(i * 3));
        bot.shutdown().unwrap();
    }
    wait_until(SOON, "every socket to close", || {
        slack.open_connections().is_empty()
    });

    slack.shutdown();
    wait_until(Duration::from_secs(5), "every thread to end", || {
        thread_count() == before
    });
}
