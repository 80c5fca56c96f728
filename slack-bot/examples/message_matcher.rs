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

use std::error::Error;
use std::time::{Duration, Instant};

use serde_json::json;
use slack_bot::{Bot, BotBuilder, Reply, regex};
use slack_testkit::FakeSlack;

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

fn main() -> Result<(), Box<dyn Error>> {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    match (
        std::env::var("SLACK_APP_TOKEN"),
        std::env::var("SLACK_BOT_TOKEN"),
    ) {
        (Ok(app), Ok(bot)) if !against_testkit => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
            let bot = matcher_bot(Bot::builder(&app, &bot)?).start()?;
            let stopper = bot.stopper();
            ctrlc::set_handler(move || stopper.stop())?;
            println!("message matcher running; Ctrl-C to stop");
            bot.wait()?;
            Ok(())
        }
        _ => {
            if !against_testkit {
                println!("SLACK_APP_TOKEN/SLACK_BOT_TOKEN not set: running against the fake Slack");
            }
            run_against_testkit()
        }
    }
}

fn run_against_testkit() -> Result<(), Box<dyn Error>> {
    const WAIT: Duration = Duration::from_secs(10);
    let slack = FakeSlack::start()?;
    let bot = matcher_bot(
        Bot::builder(&slack.app_token(), &slack.bot_token())?
            .api_url(slack.api_url())
            .allow_insecure(true)
            .no_proxy(),
    )
    .start()?;
    slack.wait_for_connections(1, WAIT)?;
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
