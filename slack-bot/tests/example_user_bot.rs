//! How to test your own bot offline with `slack-testkit`: copy this file into your crate's
//! `tests/` (with `slack-testkit` and `serde_json` as dev-dependencies) and replace `my_bot`
//! with `use your_crate::install;`.
//!
//! Each test starts a fake Slack on 127.0.0.1, points the bot at it, plays what Slack would
//! send, and checks what the bot answered: acks (with their payloads) and Web API calls. Every
//! wait has a timeout, so a broken bot fails the test instead of hanging it.
//!
//! For plain unit tests of the handlers alone (no sockets, no fake Slack), see
//! `slack_bot::testing::TestBot` and the last test here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use serde_json::json;
use slack_bot::{Bot, RunningBot};
use slack_testkit::FakeSlack;

/// The bot under test, as it would live in your crate: a function that adds its handlers.
mod my_bot {
    use serde_json::json;
    use slack_bot::{BotBuilder, Reply};

    pub(crate) fn install(builder: BotBuilder) -> BotBuilder {
        builder
            .on_app_mention(|ctx, _mention| {
                ctx.reply_in_thread("On it!")?;
                Ok(Reply::Ack)
            })
            .on_command("/todo", |ctx| {
                let text = &ctx.command()?.text;
                Ok(Reply::payload(json!({
                    "response_type": "ephemeral",
                    "text": format!("Added: {}", text.trim()),
                })))
            })
    }
}

const SOON: Duration = Duration::from_secs(10);

/// The bot, pointed at the fake (plain http/ws on loopback, no proxy from the environment).
fn start_bot(slack: &FakeSlack) -> RunningBot {
    let builder = Bot::builder(&slack.app_token(), &slack.bot_token())
        .unwrap()
        .api_url(slack.api_url())
        .allow_insecure(true)
        .no_proxy()
        .shutdown_timeout(Duration::from_secs(3));
    let bot = my_bot::install(builder).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    bot
}

fn mention(text: &str) -> serde_json::Value {
    json!({"type": "app_mention", "channel": "C111", "user": "U111", "text": text,
           "ts": "1700000000.000100"})
}

#[test]
fn answers_a_mention_in_its_thread() {
    let slack = FakeSlack::start().unwrap();
    let bot = start_bot(&slack);

    let id = slack.send_event(mention("<@U0BOT> deploy please")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("chat.postMessage", SOON).unwrap();
    assert_eq!(call.arg("channel"), Some("C111"));
    assert_eq!(call.arg("text"), Some("On it!"));
    assert_eq!(call.arg("thread_ts"), Some("1700000000.000100"));
    // The bot sent the bot token, as Slack requires.
    assert_eq!(call.token.as_deref(), Some(slack.bot_token().as_str()));

    bot.shutdown().unwrap();
}

#[test]
fn answers_a_slash_command_in_the_ack() {
    let slack = FakeSlack::start().unwrap();
    let bot = start_bot(&slack);

    let id = slack.send_slash_command("/todo", " buy milk ").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    let payload = ack.payload.expect("the answer travels in the ack");
    assert_eq!(payload["text"], "Added: buy milk");
    assert_eq!(payload["response_type"], "ephemeral");

    bot.shutdown().unwrap();
}

#[test]
fn a_redelivered_event_is_handled_once() {
    let slack = FakeSlack::start().unwrap();
    let bot = start_bot(&slack);

    // Slack redelivers with a new envelope id but the same event_id (a retry after a timeout).
    let payload = slack.event_callback(mention("<@U0BOT> hi"));
    let first = slack
        .send_envelope(json!({"type": "events_api", "payload": payload}))
        .unwrap();
    let retry = slack
        .send_envelope(json!({"type": "events_api", "payload": payload,
                              "retry_attempt": 1, "retry_reason": "timeout"}))
        .unwrap();
    slack.wait_for_ack(&first, SOON).unwrap();
    slack.wait_for_ack(&retry, SOON).unwrap(); // both acked...

    bot.shutdown().unwrap(); // ...and once every handler has finished:
    let replies = slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage")
        .count();
    assert_eq!(replies, 1, "answered once");
}

#[test]
fn keeps_answering_across_a_connection_refresh() {
    let slack = FakeSlack::start().unwrap();
    let bot = start_bot(&slack);
    let old = slack.open_connections()[0];

    // Slack's routine refresh: the bot opens a new connection, then closes the old one.
    slack.disconnect(old, "refresh_requested").unwrap();
    slack.wait_for_close(old, SOON).unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    assert_eq!(slack.open_connections().len(), 1);
    assert_ne!(slack.open_connections()[0], old);

    let id = slack.send_event(mention("<@U0BOT> still there?")).unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_ne!(ack.connection, old);
    slack.wait_for_call("chat.postMessage", SOON).unwrap();

    bot.shutdown().unwrap();
}

/// The same handlers without any fake Slack: one request in, the ack and the Web API calls out.
#[test]
fn unit_test_of_the_handlers() {
    use slack_bot::testing::{self, TestBot};
    let bot = TestBot::new(my_bot::install(testing::builder())).unwrap();

    let out = bot.event(mention("<@U0BOT> deploy please")).unwrap();
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].method, "chat.postMessage");
    assert_eq!(out.calls[0].body["thread_ts"], "1700000000.000100");

    let out = bot.command("/todo", " buy milk ").unwrap();
    assert_eq!(out.ack.unwrap()["text"], "Added: buy milk");
    assert!(out.calls.is_empty());
}
