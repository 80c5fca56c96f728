//! `Reply::Decline` and `BotBuilder::ack_on_receipt`, without the relay: what the relay is
//! built on, usable by any bot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{SOON, builder};
use serde_json::json;
use slack_bot::Reply;
use slack_testkit::FakeSlack;

fn fake() -> FakeSlack {
    FakeSlack::builder()
        .ack_timeout(Duration::from_millis(700))
        .max_retries(3)
        .start()
        .unwrap()
}

/// Declines the first `n` calls, then acks.
fn decline_first(n: u32) -> (Arc<AtomicU32>, impl Fn() -> Reply + Send + Sync + 'static) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    (calls, move || {
        if c.fetch_add(1, Ordering::SeqCst) < n {
            Reply::Decline
        } else {
            Reply::Ack
        }
    })
}

#[test]
fn a_declined_event_is_redelivered_when_acks_wait_for_handlers() {
    let slack = fake();
    let (calls, reply) = decline_first(1);
    let bot = builder(&slack)
        .ack_on_receipt(false)
        .on_event("message", move |_ctx| Ok(reply()))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack
        .send_event(json!({"type": "message", "channel": "C1", "text": "hi", "ts": "1.1"}))
        .unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.retry_attempt, 1, "{ack:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(bot.stats().declined, 1);
    bot.shutdown().unwrap();
}

#[test]
fn a_declined_slash_command_is_redelivered_even_with_acks_on_receipt() {
    // Slash commands always wait for their handler.
    let slack = fake();
    let (calls, reply) = decline_first(1);
    let bot = builder(&slack)
        .on_command("/deploy", move |_ctx| Ok(reply()))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack.send_slash_command("/deploy", "now").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.retry_attempt, 1, "{ack:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(bot.stats().declined, 1);
    bot.shutdown().unwrap();
}

#[test]
fn with_acks_on_receipt_an_event_is_acked_before_its_handler_can_decline() {
    let slack = fake();
    let (calls, reply) = decline_first(u32::MAX);
    let bot = builder(&slack)
        .on_event("message", move |_ctx| Ok(reply()))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack
        .send_event(json!({"type": "message", "channel": "C1", "text": "hi", "ts": "1.1"}))
        .unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.retry_attempt, 0);
    common::wait_until(SOON, "the handler", || calls.load(Ordering::SeqCst) == 1);
    bot.shutdown().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not redelivered");
}
