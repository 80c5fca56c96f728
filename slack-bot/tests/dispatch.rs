//! The dispatcher's rules end to end: stuck handlers, the queue's byte budget, late replies,
//! handler declines, and what happens to acked requests at shutdown (spooled or counted).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{SOON, builder, fast_session, message, wait_until};
use slack_bot::Reply;
use slack_bot::slack_envelope::payload::SlackEvent;
use slack_testkit::FakeSlack;

fn text_of(ctx: &slack_bot::Context) -> String {
    match &ctx.event().unwrap().event {
        SlackEvent::Message(m) => m.text.clone().unwrap_or_default(),
        other => panic!("unexpected event {other:?}"),
    }
}

fn acked_first_ids(slack: &FakeSlack) -> HashSet<String> {
    slack
        .acks()
        .into_iter()
        .map(|a| a.first_envelope_id)
        .collect()
}

#[test]
fn a_stuck_handler_is_reported_and_its_worker_replaced() {
    let slack = FakeSlack::start().unwrap();
    let (release, stuck) = crossbeam_channel::bounded::<()>(0);
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let h = Arc::clone(&handled);
    let bot = builder(&slack)
        .workers(1)
        .handler_timeout(Duration::from_millis(300))
        .on_event("message", move |ctx| {
            let text = text_of(ctx);
            h.lock().unwrap().push(text.clone());
            if text == "stuck" {
                // Never returns while the test runs (released at its end).
                let _ = stuck.recv();
            }
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    slack.send_event(message("C1", "stuck", "1.1")).unwrap();
    wait_until(SOON, "the stuck handler to start", || {
        handled.lock().unwrap().len() == 1
    });
    // With the only worker stuck, these run only once it is replaced.
    for i in 0..3 {
        slack
            .send_event(message("C1", &format!("after {i}"), "1.2"))
            .unwrap();
    }
    wait_until(
        SOON,
        "the requests after the stuck one to be handled",
        || handled.lock().unwrap().len() == 4,
    );
    let stats = bot.stats();
    assert_eq!(stats.handlers_stuck, 1);
    assert_eq!(stats.workers_abandoned, 1);
    drop(release);
    let report = bot.shutdown().unwrap();
    assert_eq!(report.dropped, 0);
}

#[test]
fn a_request_over_the_byte_budget_is_declined_and_counted_never_acked() {
    let slack = FakeSlack::start().unwrap();
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let h = Arc::clone(&handled);
    let bot = builder(&slack)
        .queue_bytes(4096)
        .on_event("message", move |ctx| {
            h.lock().unwrap().push(text_of(ctx));
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let big = slack
        .send_event(message("C1", &"x".repeat(8192), "1.1"))
        .unwrap();
    let small = slack.send_event(message("C1", "small", "1.2")).unwrap();
    slack.wait_for_ack(&small, SOON).unwrap();
    wait_until(SOON, "the big request to be counted", || {
        bot.stats().too_large >= 1
    });
    wait_until(SOON, "the small request to run", || {
        !handled.lock().unwrap().is_empty()
    });
    assert!(!acked_first_ids(&slack).contains(&big), "never acked");
    assert_eq!(handled.lock().unwrap().clone(), ["small"]);
    bot.shutdown().unwrap();
}

#[test]
fn a_late_slash_command_reply_goes_to_its_response_url() {
    let slack = FakeSlack::start().unwrap();
    let (go, wait) = crossbeam_channel::bounded::<()>(1);
    let session = fast_session().ack_warning_after(Duration::from_millis(300));
    let bot = builder(&slack)
        .session(session)
        .on_command("/slow", move |_| {
            // Answers only after the test saw the empty ack.
            let _ = wait.recv_timeout(SOON);
            Ok(Reply::payload(serde_json::json!({"text": "late answer"})))
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack.send_slash_command("/slow", "now").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, None, "acked empty at the deadline");
    go.send(()).unwrap();
    let call = slack.wait_for_call("response_url", SOON).unwrap();
    assert_eq!(call.body["text"], "late answer");
    bot.shutdown().unwrap();
}

#[test]
fn a_declined_slash_command_is_left_for_slack_to_redeliver() {
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let bot = builder(&slack)
        .on_command("/maybe", move |_| {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok(Reply::Decline)
            } else {
                Ok(Reply::payload(serde_json::json!({"text": "second time"})))
            }
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack.send_slash_command("/maybe", "").unwrap();
    wait_until(SOON, "the redelivery to be acked", || {
        slack.acks().iter().any(|a| a.first_envelope_id == id)
    });
    let acks: Vec<_> = slack
        .acks()
        .into_iter()
        .filter(|a| a.first_envelope_id == id)
        .collect();
    assert_eq!(acks.len(), 1, "the declined delivery was not acked");
    assert!(acks[0].retry_attempt >= 1);
    assert_eq!(
        acks[0].payload.as_ref().map(|p| p["text"].clone()),
        Some("second time".into())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    bot.shutdown().unwrap();
}

/// Sends `n` events to a bot whose one worker takes 100 ms per request, waits for their acks
/// (on receipt), then stops it with a [`slack_bot::Stopper`] and a short shutdown timeout.
/// Returns the report and the texts whose handlers started.
fn stop_under_slow_handlers(
    slack: &FakeSlack,
    n: usize,
    spool: Option<&PathBuf>,
) -> (slack_bot::RunReport, Vec<String>) {
    let started: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = Arc::clone(&started);
    let mut b = builder(slack)
        .workers(1)
        .shutdown_timeout(Duration::from_millis(600))
        .on_event("message", move |ctx| {
            s.lock().unwrap().push(text_of(ctx));
            std::thread::sleep(Duration::from_millis(100));
            Ok(Reply::Ack)
        });
    if let Some(dir) = spool {
        b = b.spool_dir(dir);
    }
    let bot = b.start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let ids: Vec<String> = (0..n)
        .map(|i| {
            slack
                .send_event(message("C1", &format!("m{i}"), "1.1"))
                .unwrap()
        })
        .collect();
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    bot.stopper().stop();
    let report = bot.wait().unwrap();
    let started = started.lock().unwrap().clone();
    (report, started)
}

#[test]
fn acked_requests_not_run_by_the_shutdown_deadline_are_counted_as_dropped() {
    let slack = FakeSlack::start().unwrap();
    let (report, started) = stop_under_slow_handlers(&slack, 40, None);
    assert!(report.dropped > 0, "{report:?}");
    assert_eq!(report.spooled, 0);
    assert_eq!(started.len() + report.dropped, 40, "{report:?}");
}

#[test]
fn acked_requests_not_run_by_the_shutdown_deadline_are_spooled_and_run_at_the_next_start() {
    let dir = std::env::temp_dir().join(format!("slack-bot-spool-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let slack = FakeSlack::start().unwrap();
    let (report, first) = stop_under_slow_handlers(&slack, 40, Some(&dir));
    assert_eq!(report.dropped, 0, "{report:?}");
    assert!(report.spooled > 0, "{report:?}");
    assert_eq!(first.len() + report.spooled, 40, "{report:?}");

    // The next start runs them, before anything new.
    let second: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = Arc::clone(&second);
    let bot = builder(&slack)
        .spool_dir(&dir)
        .on_event("message", move |ctx| {
            s.lock().unwrap().push(text_of(ctx));
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    wait_until(SOON, "the spooled requests to run", || {
        second.lock().unwrap().len() == report.spooled
    });
    slack.wait_for_connections(1, SOON).unwrap();
    let fresh = slack.send_event(message("C1", "fresh", "1.2")).unwrap();
    slack.wait_for_ack(&fresh, SOON).unwrap();
    wait_until(SOON, "the fresh request to run", || {
        second.lock().unwrap().len() == report.spooled + 1
    });
    let report2 = bot.shutdown().unwrap();
    assert_eq!((report2.spooled, report2.dropped), (0, 0));
    let second = second.lock().unwrap().clone();
    assert_eq!(second.last().map(String::as_str), Some("fresh"));
    let mut all: Vec<String> = first
        .iter()
        .chain(&second[..second.len() - 1])
        .cloned()
        .collect();
    all.sort_by_key(|t| t[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    assert_eq!(all, expected, "every request ran exactly once");
    let _ = std::fs::remove_dir_all(&dir);
}
