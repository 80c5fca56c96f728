//! Web API calls from handlers: HTTP 429 with `Retry-After` is waited out, then succeeds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::time::Duration;

use common::{SOON, builder, wait_until};
use serde_json::json;
use slack_bot::Reply;

#[path = "../src/reference.rs"]
#[allow(dead_code)]
mod reference;
use slack_testkit::FakeSlack;

#[test]
fn rate_limited_post_message_waits_and_succeeds() {
    let slack = FakeSlack::start().unwrap();
    let bot = reference::install(builder(&slack).bot_user_id(slack.bot_user_id()))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    slack.rate_limit("chat.postMessage", 1, 1);
    let me = slack.bot_user_id();
    let id = slack
        .send_event(
            json!({"type": "app_mention", "channel": "C1", "user": "U111",
            "text": format!("<@{me}> hello"), "ts": "9.1"}),
        )
        .unwrap();
    // Acked on receipt, whatever the handler waits for.
    slack.wait_for_ack(&id, SOON).unwrap();
    let calls = slack.wait_for_calls("chat.postMessage", 2, SOON).unwrap();
    assert_eq!(calls[0].status, 429);
    assert_eq!(calls[1].status, 200);
    assert_eq!(calls[1].arg("text"), Some(reference::MENTION_REPLY));
    let waited = calls[1].at.saturating_duration_since(calls[0].at);
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );
    wait_until(SOON, "the handler to finish", || {
        bot.stats().messages_sent >= 1
    });
    let stats = bot.stats();
    assert!(stats.rate_limit_waits >= 1, "{stats:?}");
    assert_eq!(stats.handler_errors, 0);
    bot.shutdown().unwrap();
}

#[test]
fn rate_limited_outbox_message_waits_and_succeeds() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_event("message", |ctx| {
            ctx.say_later("C2", "later")?;
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    slack.rate_limit("chat.postMessage", 1, 1);
    let id = slack
        .send_event(common::message("C2", "hi", "9.2"))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let calls = slack.wait_for_calls("chat.postMessage", 2, SOON).unwrap();
    assert_eq!(calls[0].status, 429);
    assert_eq!(calls[1].status, 200);
    assert_eq!(calls[1].arg("text"), Some("later"));
    let report = bot.shutdown().unwrap();
    assert!(report.unsent.is_empty(), "{:?}", report.unsent);
}
