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

use std::error::Error;
use std::time::Duration;

use serde_json::json;
use slack_bot::{Bot, BotBuilder, Reply};
use slack_testkit::FakeSlack;

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

fn main() -> Result<(), Box<dyn Error>> {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    match (
        std::env::var("SLACK_APP_TOKEN"),
        std::env::var("SLACK_BOT_TOKEN"),
    ) {
        (Ok(app), Ok(bot)) if !against_testkit => run_against_slack(&app, &bot),
        _ => {
            if !against_testkit {
                println!("SLACK_APP_TOKEN/SLACK_BOT_TOKEN not set: running against the fake Slack");
            }
            run_against_testkit()
        }
    }
}

/// Runs until Ctrl-C.
fn run_against_slack(app_token: &str, bot_token: &str) -> Result<(), Box<dyn Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let bot = echo_bot(Bot::builder(app_token, bot_token)?).start()?;
    let stopper = bot.stopper();
    ctrlc::set_handler(move || stopper.stop())?;
    println!("echo bot running; Ctrl-C to stop");
    bot.wait()?;
    Ok(())
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn run_against_testkit() -> Result<(), Box<dyn Error>> {
    const WAIT: Duration = Duration::from_secs(10);
    let slack = FakeSlack::start()?;
    let bot = echo_bot(
        Bot::builder(&slack.app_token(), &slack.bot_token())?
            .api_url(slack.api_url())
            .allow_insecure(true) // the fake speaks plain http:// and ws://
            .no_proxy(),
    )
    .start()?;
    slack.wait_for_connections(1, WAIT)?;

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
    slack.shutdown();
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}
