//! The App Home tab: published for each user when they open it (`app_home_opened`), with a
//! counter button; a click updates the home view in place (`views.publish` again).
//!
//! Against Slack: turn on **App Home** → Home Tab; bot event `app_home_opened`.
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example app_home
//! ```
//!
//! Against the built-in fake Slack (scripted, then it exits):
//!
//! ```text
//! cargo run -p slack-bot --example app_home -- --against-testkit
//! ```
// `value["key"]` on a serde_json::Value yields Null for a missing key; it never panics.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use slack_bot::{BotBuilder, Reply, RunningBot};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

fn home(clicks: u64) -> Value {
    json!({
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("You clicked *{clicks}* times.")}},
            {"type": "actions", "elements": [{
                "type": "button", "action_id": "home_click",
                "text": {"type": "plain_text", "text": "Click"}
            }]}
        ]
    })
}

fn home_bot(builder: BotBuilder) -> BotBuilder {
    let clicks: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let on_click = clicks.clone();
    builder
        .on_event("app_home_opened", move |ctx| {
            let Some(user) = ctx.user_id() else {
                return Ok(Reply::Ack);
            };
            let n = clicks
                .lock()
                .map(|m| m.get(user).copied().unwrap_or(0))
                .unwrap_or(0);
            ctx.publish_home(user, &home(n))?;
            Ok(Reply::Ack)
        })
        .on_action("home_click", move |ctx| {
            let Some(user) = ctx.user_id() else {
                return Ok(Reply::Ack);
            };
            let n = match on_click.lock() {
                Ok(mut m) => {
                    let n = m.entry(user.to_owned()).or_insert(0);
                    *n += 1;
                    *n
                }
                Err(_) => 0,
            };
            ctx.publish_home(user, &home(n))?;
            Ok(Reply::Ack)
        })
}

fn main() -> Res {
    support::main("app home bot", home_bot, scripted)
}

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
    slack.send_event(
        json!({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}),
    )?;
    let first = slack.wait_for_call("views.publish", WAIT)?;
    let text = |c: &slack_testkit::WebCall| c.body["view"]["blocks"][0]["text"]["text"].clone();
    println!("U1 opens the App Home -> {}", text(&first));
    check(first.arg("user_id") == Some("U1"), "published for U1")?;
    check(text(&first) == "You clicked *0* times.", "no clicks yet")?;

    slack.send_interactive(json!({"type": "block_actions", "user": {"id": "U1"},
        "view": first.response["view"], "actions": [{"action_id": "home_click", "type": "button"}]}))?;
    let calls = slack.wait_for_calls("views.publish", 2, WAIT)?;
    let second = calls.get(1).ok_or("no second publish")?;
    println!("U1 clicks -> {}", text(second));
    check(text(second) == "You clicked *1* times.", "one click")?;
    bot.shutdown()?;
    println!("ok: the home tab follows the clicks");
    Ok(())
}
