//! A slow slash command: `/report` acks at once with "Working on it…" (only the user sees it)
//! and hands the slow work to a thread, which posts the result to the command's
//! `response_url` when it is ready (up to 30 minutes later, up to 5 times).
//!
//! An ack payload must reach Slack within 3 s; a listener that has not answered by 2.5 s is
//! acked empty. Anything slower belongs on the `response_url`, as here.
//!
//! Against Slack (slash command `/report`; bot scope `commands`):
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example late_command
//! ```
//!
//! Against the built-in fake Slack (scripted, then it exits):
//!
//! ```text
//! cargo run -p slack-bot --example late_command -- --against-testkit
//! ```
// `value["key"]` on a serde_json::Value yields Null for a missing key; it never panics.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::indexing_slicing)]

use std::time::Duration;

use slack_bot::slack_web::ResponseMessage;
use slack_bot::{BotBuilder, Reply, RunningBot};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

/// Stands for a slow query.
fn build_report(topic: &str) -> String {
    std::thread::sleep(Duration::from_millis(300));
    format!("Report on {topic}: all green.")
}

fn report_bot(builder: BotBuilder) -> BotBuilder {
    builder.on_command("/report", |ctx| {
        let topic = ctx.command()?.text.trim().to_owned();
        // The context is cheap to clone and can move to another thread.
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let report = build_report(&topic);
            if let Err(e) = ctx.respond(ResponseMessage::in_channel(report)) {
                log::warn!("could not post the report: {e}");
            }
        });
        Ok(Reply::text("Working on it…"))
    })
}

fn main() -> Res {
    support::main("/report bot", report_bot, scripted)
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
    let id = slack.send_slash_command("/report", "billing")?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no payload")?;
    println!("/report billing -> ack {payload}");
    check(payload["text"] == "Working on it…", "acked at once")?;
    let late = slack.wait_for_call("response_url", WAIT)?;
    println!("later, on the response_url -> {}", late.body);
    check(
        late.body["text"] == "Report on billing: all green.",
        "the report",
    )?;
    check(
        late.body["response_type"] == "in_channel",
        "for the channel",
    )?;
    bot.shutdown()?;
    println!("ok: acked in time, answered later through the response_url");
    Ok(())
}
