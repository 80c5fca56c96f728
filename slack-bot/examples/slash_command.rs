//! A slash command answered through the ack: `/deploy <environment>` replies in the ack payload
//! itself (no extra Web API call, no `response_url`), visible to the channel when the command is
//! valid and only to the user when it is not.
//!
//! Against Slack (create the slash command `/deploy` under **Slash Commands**; with Socket Mode on
//! it needs no request URL; bot scope `commands`):
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example slash_command
//! ```
//!
//! Against the built-in fake Slack (scripted, then it exits):
//!
//! ```text
//! cargo run -p slack-bot --example slash_command -- --against-testkit
//! ```
//!
//! The payload must reach Slack within 3 s: the bot acks empty (and logs a warning) if the
//! handler has not answered by 2.5 s, so keep slow work out of command handlers.
// `value["key"]` on a serde_json::Value yields Null for a missing key; it never panics.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::indexing_slicing)]

use serde_json::json;
use slack_bot::{BotBuilder, Context, HandlerResult, Reply, RunningBot};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];

fn deploy_bot(builder: BotBuilder) -> BotBuilder {
    builder.on_command("/deploy", deploy)
}

fn deploy(ctx: &Context) -> HandlerResult {
    let cmd = ctx.command()?;
    let env = cmd.text.trim();
    if !ENVIRONMENTS.contains(&env) {
        // Only the user sees this.
        return Ok(Reply::payload(json!({
            "response_type": "ephemeral",
            "text": format!("Usage: `/deploy {}`", ENVIRONMENTS.join("|")),
        })));
    }
    let who = cmd.user_id.as_deref().unwrap_or("someone");
    Ok(Reply::payload(json!({
        "response_type": "in_channel",
        "text": format!("<@{who}> is deploying to {env}"),
        "blocks": [{
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!(":rocket: <@{who}> is deploying to *{env}*")}
        }]
    })))
}

fn main() -> Res {
    support::main("/deploy bot", deploy_bot, scripted)
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
    let id = slack.send_slash_command("/deploy", "staging")?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no payload")?;
    println!("/deploy staging -> ack payload {payload}");
    check(
        payload["response_type"] == "in_channel",
        "visible to the channel",
    )?;
    check(
        payload["text"]
            .as_str()
            .is_some_and(|t| t.contains("staging")),
        "names the environment",
    )?;

    let id = slack.send_slash_command("/deploy", "mars")?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no payload")?;
    println!("/deploy mars    -> ack payload {payload}");
    check(
        payload["response_type"] == "ephemeral",
        "only the user sees it",
    )?;

    bot.shutdown()?;
    // Answered in the ack: no Web API call was needed.
    let posts = slack
        .calls()
        .iter()
        .filter(|c| !matches!(c.method.as_str(), "apps.connections.open" | "auth.test"))
        .count();
    check(posts == 0, "no Web API call besides start-up's")?;
    println!("ok: both commands answered in their acks");
    Ok(())
}
