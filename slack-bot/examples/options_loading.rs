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

use std::error::Error;
use std::time::Duration;

use serde_json::{Value, json};
use slack_bot::{Bot, BotBuilder, Options, Reply};
use slack_testkit::FakeSlack;

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

fn main() -> Result<(), Box<dyn Error>> {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    match (
        std::env::var("SLACK_APP_TOKEN"),
        std::env::var("SLACK_BOT_TOKEN"),
    ) {
        (Ok(app), Ok(bot)) if !against_testkit => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
            let bot = ticket_bot(Bot::builder(&app, &bot)?).start()?;
            let stopper = bot.stopper();
            ctrlc::set_handler(move || stopper.stop())?;
            println!("/ticket bot running; Ctrl-C to stop");
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
    let bot = ticket_bot(
        Bot::builder(&slack.app_token(), &slack.bot_token())?
            .api_url(slack.api_url())
            .allow_insecure(true)
            .no_proxy(),
    )
    .start()?;
    slack.wait_for_connections(1, WAIT)?;

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
