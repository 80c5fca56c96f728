//! Message listeners: a substring, a regular expression with named captures, and middleware
//! that times every request and keeps one channel out.
//!
//! Against Slack (bot scopes `chat:write`, `reactions:write`; bot events `message.channels`):
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example message_matcher
//! ```
//!
//! Against the built-in fake Slack (scripted, then it exits):
//!
//! ```text
//! cargo run -p slack-bot --example message_matcher -- --against-testkit
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use serde_json::json;
use slack_bot::{BotBuilder, Reply, RunningBot, regex};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

/// A channel the bot stays quiet in.
const QUIET: &str = "C_QUIET";

fn matcher_bot(builder: BotBuilder) -> BotBuilder {
    builder
        // Global middleware: runs first for every request, can stop the chain.
        .middleware(|ctx, next| {
            if ctx.channel_id() == Some(QUIET) {
                return Ok(Reply::Ack); // stop: no listener runs
            }
            let started = Instant::now();
            let answer = next.run(ctx);
            log::info!("handled in {:?}", started.elapsed());
            answer
        })
        // A substring anywhere in the text.
        .on_message("coffee", |ctx, _msg| {
            ctx.react("coffee")?;
            Ok(Reply::Ack)
        })
        // A regular expression; its captures are in the context.
        .on_message(
            regex(r"^remind me in (?P<minutes>\d+) ?min"),
            |ctx, _msg| {
                let minutes = ctx.matches().and_then(|m| m.name("minutes")).unwrap_or("?");
                ctx.reply_in_thread(format!("OK, in {minutes} minutes."))?;
                Ok(Reply::Ack)
            },
        )
}

fn main() -> Res {
    support::main("message matcher", matcher_bot, scripted)
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
    let message = |channel: &str, text: &str, ts: &str| json!({"type": "message", "channel": channel, "user": "U1", "text": text, "ts": ts});

    slack.send_event(message("C1", "anyone for coffee?", "1.1"))?;
    let react = slack.wait_for_call("reactions.add", WAIT)?;
    println!(
        "\"anyone for coffee?\" -> :{}:",
        react.arg("name").unwrap_or("?")
    );
    check(
        react.arg("timestamp") == Some("1.1"),
        "reacts to that message",
    )?;

    slack.send_event(message("C1", "remind me in 15 min", "2.2"))?;
    let reply = slack.wait_for_call("chat.postMessage", WAIT)?;
    println!(
        "\"remind me in 15 min\" -> {} (thread {})",
        reply.arg("text").unwrap_or("?"),
        reply.arg("thread_ts").unwrap_or("-")
    );
    check(
        reply.arg("text") == Some("OK, in 15 minutes."),
        "the capture",
    )?;
    check(
        reply.arg("thread_ts") == Some("2.2"),
        "in the message's thread",
    )?;

    // In the quiet channel the middleware stops the chain: acked, nothing said.
    let id = slack.send_event(message(QUIET, "coffee! remind me in 5 min", "3.3"))?;
    slack.wait_for_ack(&id, WAIT)?;
    bot.shutdown()?;
    let said = slack
        .calls()
        .iter()
        .filter(|c| matches!(c.method.as_str(), "chat.postMessage" | "reactions.add"))
        .count();
    check(said == 2, "nothing said in the quiet channel")?;
    println!("ok: substring and regex listeners answered; the quiet channel was left alone");
    Ok(())
}
