//! Options loaded as the user types: `/ticket` opens a modal with an external select; Slack
//! asks for options (`block_suggestion`) with what was typed, and the bot answers in the ack
//! with the matching ones, grouped.
//!
//! Against Slack: slash command `/ticket`; under **Interactivity & Shortcuts** the "Select
//! Menus" options load URL is not needed with Socket Mode; bot scope `commands`.
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example options_loading
//! ```
//!
//! Against the built-in fake Slack (scripted, then it exits):
//!
//! ```text
//! cargo run -p slack-bot --example options_loading -- --against-testkit
//! ```
// `value["key"]` on a serde_json::Value yields Null for a missing key; it never panics.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::indexing_slicing)]

use serde_json::{Value, json};
use slack_bot::{BotBuilder, Options, Reply, RunningBot};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

const TEAMS: [(&str, &[&str]); 2] = [
    ("Platform", &["database", "deploys", "dns"]),
    ("Product", &["design", "docs", "billing"]),
];

fn ticket_modal() -> Value {
    json!({
        "type": "modal", "callback_id": "ticket",
        "title": {"type": "plain_text", "text": "New ticket"},
        "submit": {"type": "plain_text", "text": "File"},
        "blocks": [{
            "type": "input", "block_id": "component",
            "label": {"type": "plain_text", "text": "Component"},
            "element": {"type": "external_select", "action_id": "component", "min_query_length": 1}
        }]
    })
}

fn ticket_bot(builder: BotBuilder) -> BotBuilder {
    builder
        .on_command("/ticket", |ctx| {
            ctx.open_modal(&ticket_modal())?;
            Ok(Reply::Ack)
        })
        .on_options("component", |_ctx, suggestion| {
            let typed = suggestion.value.to_lowercase();
            let mut options = Options::new();
            for (team, components) in TEAMS {
                let hits: Vec<(&str, &str)> = components
                    .iter()
                    .filter(|c| c.starts_with(&typed))
                    .map(|c| (*c, *c))
                    .collect();
                if !hits.is_empty() {
                    options = options.group(team, hits);
                }
            }
            Ok(options)
        })
}

fn main() -> Res {
    support::main("/ticket bot", ticket_bot, scripted)
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
    slack.send_slash_command("/ticket", "")?;
    let open = slack.wait_for_call("views.open", WAIT)?;
    println!(
        "/ticket -> views.open \"{}\"",
        open.body["view"]["title"]["text"].as_str().unwrap_or("")
    );
    let view = open.response["view"].clone();

    let id = slack.send_interactive(json!({
        "type": "block_suggestion", "action_id": "component", "block_id": "component",
        "value": "d", "user": {"id": "U1"}, "view": view,
    }))?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no options")?;
    println!("typed \"d\" -> {payload}");
    let groups = payload["option_groups"].as_array().ok_or("no groups")?;
    check(
        groups.len() == 2,
        "two teams have components starting with d",
    )?;
    check(
        groups[0]["options"].as_array().map(Vec::len) == Some(3),
        "database, deploys, dns",
    )?;
    check(groups[1]["options"][0]["value"] == "design", "design first")?;
    bot.shutdown()?;
    println!("ok: options loaded in the ack");
    Ok(())
}
