//! An echo bot: answers every new message in a channel it is in with "You said: …", in a
//! thread, and ignores bots (itself included, without a line of code).
//!
//! Against Slack (bot scope `chat:write`; bot events `message.channels` and `message.im`):
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example echo_bot
//! ```
//!
//! Against the built-in fake Slack (a scripted exchange, then it exits; `cargo xtask examples`
//! runs it this way):
//!
//! ```text
//! cargo run -p slack-bot --example echo_bot -- --against-testkit
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde_json::json;
use slack_bot::{BotBuilder, Reply, RunningBot};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

/// The whole bot: one listener. The bot's own messages never reach it (they are skipped
/// before any listener, since `start` asked `auth.test` who the bot is).
fn echo_bot(builder: BotBuilder) -> BotBuilder {
    builder.on_any_message(|ctx, m| {
        // Other bots' messages too: two echo bots would answer each other forever.
        if m.is_from_bot() {
            return Ok(Reply::Ack);
        }
        if let Some(text) = &m.text {
            ctx.reply_in_thread(format!("You said: {text}"))?;
        }
        Ok(Reply::Ack)
    })
}

fn main() -> Res {
    support::main("echo bot", echo_bot, scripted)
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
    let id = slack.send_event(json!({
        "type": "message", "channel": "C111", "user": "U111",
        "text": "hello there", "ts": "1700000000.000100"
    }))?;
    slack.wait_for_ack(&id, WAIT)?;
    let call = slack.wait_for_call("chat.postMessage", WAIT)?;
    println!(
        "user: hello there -> bot: {} (thread {})",
        call.arg("text").unwrap_or("?"),
        call.arg("thread_ts").unwrap_or("-")
    );
    check(
        call.arg("text") == Some("You said: hello there"),
        "echo text",
    )?;
    check(
        call.arg("thread_ts") == Some("1700000000.000100"),
        "echo in the thread",
    )?;

    // Our own echo, as Slack sends it back (from the bot user), is acked and skipped; so is
    // another bot's message.
    let id = slack.send_event(json!({
        "type": "message", "user": slack.bot_user_id(), "channel": "C111",
        "text": "You said: hello there", "ts": "1700000000.000200"
    }))?;
    slack.wait_for_ack(&id, WAIT)?;
    let id = slack.send_event(json!({
        "type": "message", "subtype": "bot_message", "bot_id": "B111", "channel": "C111",
        "text": "beep", "ts": "1700000000.000300"
    }))?;
    slack.wait_for_ack(&id, WAIT)?;

    let report = bot.shutdown()?; // handlers finished, acks sent, socket closed, threads joined
    let posts = slack
        .calls()
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .count();
    check(posts == 1, "bot messages are not echoed")?;
    check(report.unsent.is_empty(), "nothing left unsent")?;
    println!("ok: 3 events acked, 1 echo posted, bot messages ignored");
    Ok(())
}
