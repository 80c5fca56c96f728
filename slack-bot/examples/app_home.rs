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
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use slack_bot::{Bot, BotBuilder, Reply};
use slack_testkit::FakeSlack;

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

fn main() -> Result<(), Box<dyn Error>> {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    match (
        std::env::var("SLACK_APP_TOKEN"),
        std::env::var("SLACK_BOT_TOKEN"),
    ) {
        (Ok(app), Ok(bot)) if !against_testkit => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
            let bot = home_bot(Bot::builder(&app, &bot)?).start()?;
            let stopper = bot.stopper();
            ctrlc::set_handler(move || stopper.stop())?;
            println!("app home bot running; Ctrl-C to stop");
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
    let bot = home_bot(
        Bot::builder(&slack.app_token(), &slack.bot_token())?
            .api_url(slack.api_url())
            .allow_insecure(true)
            .no_proxy(),
    )
    .start()?;
    slack.wait_for_connections(1, WAIT)?;

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
