//! The README's "Coming from Bolt" tasks, as written there, checked with `TestBot` (no
//! sockets): reply in the thread of a mention; a slash command answered only to the user; a
//! button that opens a modal.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use serde_json::json;
use slack_bot::testing::{self, TestBot};
use slack_bot::{BotBuilder, Reply};

/// The listeners of the README's example, verbatim.
fn install(builder: BotBuilder) -> BotBuilder {
    builder
        .on_app_mention(|ctx, _mention| {
            ctx.reply_in_thread("On it!")?;
            Ok(Reply::Ack)
        })
        .on_command("/todo", |ctx| {
            Ok(Reply::text(format!("Added: {}", ctx.command()?.text)))
        })
        .on_action("open_form", |ctx| {
            ctx.open_modal(&form())?;
            Ok(Reply::Ack)
        })
}

fn form() -> serde_json::Value {
    serde_json::json!({"type": "modal", "callback_id": "form", "title": {"type": "plain_text", "text": "Form"}, "blocks": []})
}

#[test]
fn mention_is_answered_in_its_thread() {
    let bot = TestBot::new(install(testing::builder())).unwrap();
    // A mention at the top level: a new thread under it.
    let out = bot
        .event(json!({"type": "app_mention", "channel": "C1", "user": "U1",
                      "text": "<@U0BOT> help", "ts": "10.1"}))
        .unwrap();
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].method, "chat.postMessage");
    assert_eq!(out.calls[0].body["channel"], "C1");
    assert_eq!(out.calls[0].body["thread_ts"], "10.1");
    // A mention inside a thread: the same thread.
    let out = bot
        .event(json!({"type": "app_mention", "channel": "C1", "user": "U1",
                      "text": "<@U0BOT> again", "ts": "10.5", "thread_ts": "10.1"}))
        .unwrap();
    assert_eq!(out.calls[0].body["thread_ts"], "10.1");
}

#[test]
fn slash_command_is_answered_ephemerally_in_the_ack() {
    let bot = TestBot::new(install(testing::builder())).unwrap();
    let out = bot.command("/todo", "buy milk").unwrap();
    assert_eq!(out.ack, Some(json!({"text": "Added: buy milk"})));
    assert!(out.calls.is_empty());
}

#[test]
fn button_opens_a_modal() {
    let bot = TestBot::new(install(testing::builder())).unwrap();
    let out = bot
        .interactive(json!({"type": "block_actions", "trigger_id": "trig-1",
            "user": {"id": "U1"}, "actions": [{"action_id": "open_form", "type": "button"}]}))
        .unwrap();
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].method, "views.open");
    assert_eq!(out.calls[0].body["trigger_id"], "trig-1");
    assert_eq!(out.calls[0].body["view"]["callback_id"], "form");
}
