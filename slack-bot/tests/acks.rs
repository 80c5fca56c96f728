//! The ack model end to end: payload acks, the empty ack for slow handlers, and a full worker
//! queue leaving envelopes un-acked for Slack's redelivery.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SOON, builder, wait_until};
use serde_json::json;
use slack_bot::Reply;
use slack_testkit::FakeSlack;

#[test]
fn slash_command_is_answered_in_the_ack() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_command("/echo", |ctx| {
            let cmd = ctx.command().expect("a slash command");
            Ok(Reply::Payload(json!({
                "response_type": "in_channel",
                "text": format!("you said: {}", cmd.text),
            })))
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack.send_slash_command("/echo", "hello there").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.retry_attempt, 0);
    assert_eq!(
        ack.payload,
        Some(json!({"response_type": "in_channel", "text": "you said: hello there"}))
    );
    // A command nobody handles is still acked, without a payload.
    let id = slack.send_slash_command("/unknown", "x").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, None);
    bot.shutdown().unwrap();
}

#[test]
fn view_submission_is_answered_with_errors() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_view_submission("signup", |ctx| {
            let raw: serde_json::Value = serde_json::from_str(ctx.raw()).unwrap();
            let email = raw["view"]["state"]["values"]["email_block"]["email"]["value"]
                .as_str()
                .unwrap_or("");
            if email.contains('@') {
                Ok(Reply::Payload(json!({"response_action": "clear"})))
            } else {
                Ok(Reply::Payload(json!({
                    "response_action": "errors",
                    "errors": {"email_block": "That does not look like an email address"},
                })))
            }
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack
        .send_interactive(json!({
            "type": "view_submission", "user": {"id": "U111"}, "team": {"id": "T111"},
            "view": {"id": "V1", "type": "modal", "callback_id": "signup",
                "state": {"values": {"email_block": {"email": {"type": "plain_text_input",
                    "value": "not-an-email"}}}}}
        }))
        .unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(
        ack.payload,
        Some(json!({
            "response_action": "errors",
            "errors": {"email_block": "That does not look like an email address"},
        }))
    );
    bot.shutdown().unwrap();
}

#[test]
fn slow_handler_gets_an_empty_ack_before_three_seconds() {
    let slack = FakeSlack::start().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let bot = builder(&slack)
        .on_command("/slow", move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(3500));
            Ok(Reply::Payload(json!({"text": "too late"})))
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let sent = Instant::now();
    let id = slack.send_slash_command("/slow", "").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    let took = ack.at.saturating_duration_since(sent);
    assert!(took < Duration::from_secs(3), "acked after {took:?}");
    assert_eq!(ack.retry_attempt, 0, "acked before Slack's redelivery");
    assert_eq!(ack.payload, None, "the empty ack carries no payload");
    // The late reply is dropped; nothing else is sent for this envelope.
    wait_until(SOON, "the handler to finish", || bot.stats().delivered >= 1);
    let report = bot.shutdown().unwrap();
    assert_eq!(report.workers_left_running, 0);
    let acks: Vec<_> = slack
        .acks()
        .into_iter()
        .filter(|a| a.first_envelope_id == id)
        .collect();
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn full_queue_leaves_envelopes_unacked_and_redelivery_succeeds() {
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_millis(800))
        .max_retries(3)
        .start()
        .unwrap();
    // The handler blocks until `held` is dropped (a closed channel wakes every receiver).
    let (held, gate) = crossbeam_channel::bounded::<()>(0);
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let (g, s) = (gate, seen.clone());
    let bot = builder(&slack)
        .workers(1)
        .queue_bound(1)
        .on_event("message", move |ctx| {
            let event_id = ctx.event().unwrap().event_id.clone().unwrap();
            *s.lock().unwrap().entry(event_id).or_default() += 1;
            // Blocks until the test opens the gate.
            let _ = g.recv();
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();

    // The first occupies the worker, the second waits in the queue, the rest find it full.
    let mut ids = vec![
        slack
            .send_event(common::message("C1", "m0", "3.0"))
            .unwrap(),
    ];
    wait_until(SOON, "the worker to be busy", || {
        seen.lock().unwrap().len() == 1
    });
    ids.extend((1..5).map(|i| {
        slack
            .send_event(common::message("C1", &format!("m{i}"), &format!("3.{i}")))
            .unwrap()
    }));
    wait_until(SOON, "the queue to overflow", || {
        bot.stats().queue_full >= 3
    });
    // Two were taken (and acked on receipt); the others are not acked.
    slack.wait_for_acks(2, SOON).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let acked: Vec<String> = slack
        .acks()
        .into_iter()
        .map(|a| a.first_envelope_id)
        .collect();
    assert_eq!(acked.len(), 2, "{acked:?}");
    assert!(
        acked.contains(&ids[0]) && acked.contains(&ids[1]),
        "{acked:?}"
    );

    // Let the handler go: the fake's redeliveries now get through.
    drop(held);
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    wait_until(SOON, "every message to be handled", || {
        seen.lock().unwrap().len() == ids.len()
    });
    let report = bot.shutdown().unwrap();
    assert!(report.unsent.is_empty());
    let seen = seen.lock().unwrap();
    assert!(
        seen.values().all(|&n| n == 1),
        "handled more than once: {seen:?}"
    );
}

/// A queue that is full only for a moment (a slow handler, a worker that did not get a core
/// for a few milliseconds) makes the loop wait before taking more frames rather than decline
/// them: nothing is left for a redelivery that Slack would send only much later.
#[test]
fn a_momentarily_full_queue_delays_frames_instead_of_declining_them() {
    let slack = FakeSlack::start().unwrap();
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let bot = builder(&slack)
        .workers(1)
        .queue_bound(2)
        .on_event("message", move |ctx| {
            let event_id = ctx.event().unwrap().event_id.clone().unwrap();
            *s.lock().unwrap().entry(event_id).or_default() += 1;
            std::thread::sleep(Duration::from_millis(4));
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let ids: Vec<String> = (0..40)
        .map(|i| {
            slack
                .send_event(common::message("C1", &format!("m{i}"), &format!("4.{i}")))
                .unwrap()
        })
        .collect();
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    wait_until(SOON, "every message to be handled", || {
        seen.lock().unwrap().len() == ids.len()
    });
    let stats = bot.stats();
    assert_eq!(stats.queue_full, 0, "{stats:?}");
    // Each acked once, on its first delivery.
    let acks = slack.acks();
    assert_eq!(acks.len(), ids.len(), "{acks:?}");
    bot.shutdown().unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
}

#[test]
fn shutdown_waits_for_a_handler_answering_in_the_ack() {
    let slack = FakeSlack::start().unwrap();
    let (entered_tx, entered) = crossbeam_channel::bounded::<()>(1);
    let bot = builder(&slack)
        .on_command("/work", move |_| {
            let _ = entered_tx.send(());
            std::thread::sleep(Duration::from_millis(400));
            Ok(Reply::Payload(json!({"text": "done"})))
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack.send_slash_command("/work", "").unwrap();
    entered.recv_timeout(SOON).unwrap();
    // Shut down while the handler runs: its answer still goes out in the ack.
    let report = bot.shutdown().unwrap();
    assert_eq!(report.workers_left_running, 0);
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, Some(json!({"text": "done"})));
}

#[test]
fn slow_handler_gets_its_empty_ack_under_a_flood_of_events() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_command("/slow", |_| {
            std::thread::sleep(Duration::from_millis(4000));
            Ok(Reply::Payload(json!({"text": "too late"})))
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let sent = Instant::now();
    let id = slack.send_slash_command("/slow", "").unwrap();
    // Keep the event loop busy past the ack deadline: its timers must still fire.
    let mut n = 0;
    while sent.elapsed() < Duration::from_millis(3200) {
        slack
            .send_event(common::message("C1", "flood", &format!("15.{n}")))
            .unwrap();
        n += 1;
    }
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    let took = ack.at.saturating_duration_since(sent);
    println!("{n} events sent; slow command acked after {took:?}");
    // Under a flood on 2 shared cores the ack frame queues behind thousands of event acks, so
    // a wall-clock bound here would only measure the machine (the 3 s bound is checked in the
    // test without a flood). What must hold: the core's ack deadline fired while the loop was
    // busy, so the empty ack went out before the handler's reply (due at 4 s) and before
    // Slack's redelivery.
    assert_eq!(
        ack.payload, None,
        "the late handler reply won: timers starved"
    );
    assert_eq!(ack.retry_attempt, 0);
    bot.shutdown().unwrap();
}
