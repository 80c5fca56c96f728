//! A modal flow: the global shortcut `send-feedback` opens a modal with `views.open`; its
//! submission is validated, and a too-short answer is sent back as a field error in the ack
//! (`response_action: errors`), so the modal stays open with the message under the field. A
//! valid answer closes the modal (`response_action: clear`) and the bot thanks the user in a DM.
//!
//! Against Slack: under **Interactivity & Shortcuts** create a global shortcut with callback ID
//! `send-feedback`; bot scope `chat:write` (and `commands`, added with the shortcut).
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-bot --example modal_flow
//! ```
//!
//! Against the built-in fake Slack (scripted, then it exits):
//!
//! ```text
//! cargo run -p slack-bot --example modal_flow -- --against-testkit
//! ```
// `value["key"]` on a serde_json::Value yields Null for a missing key; it never panics.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::indexing_slicing)]

use std::error::Error;
use std::time::Duration;

use serde_json::{Value, json};
use slack_bot::{Bot, BotBuilder, Context, HandlerResult, Reply};
use slack_testkit::FakeSlack;

const SHORTCUT: &str = "send-feedback";
const MODAL: &str = "feedback-modal";
/// The input's `block_id` and `action_id`: the submission's values are keyed by them.
const BLOCK: &str = "feedback";
const INPUT: &str = "text";
const MIN_LEN: usize = 10;

fn feedback_bot(builder: BotBuilder) -> BotBuilder {
    builder
        .on_shortcut(SHORTCUT, open_modal)
        .on_view_submission(MODAL, submit)
}

fn modal() -> Value {
    json!({
        "type": "modal",
        "callback_id": MODAL,
        "title": {"type": "plain_text", "text": "Feedback"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{
            "type": "input",
            "block_id": BLOCK,
            "label": {"type": "plain_text", "text": "What should we improve?"},
            "element": {"type": "plain_text_input", "action_id": INPUT, "multiline": true}
        }]
    })
}

/// The shortcut: the trigger id is single-use and expires in seconds, so open the modal now.
fn open_modal(ctx: &Context) -> HandlerResult {
    ctx.open_modal(&modal())?;
    Ok(Reply::Ack)
}

/// The submission: errors keep the modal open; `clear` closes it.
fn submit(ctx: &Context) -> HandlerResult {
    let Some(view) = ctx.view() else {
        return Ok(Reply::Ack);
    };
    let text = view.input_value(BLOCK, INPUT).unwrap_or("").trim();
    if text.chars().count() < MIN_LEN {
        return Ok(Reply::view_errors([(
            BLOCK,
            format!("Please write at least {MIN_LEN} characters."),
        )]));
    }
    if let Some(user) = ctx.user_id() {
        // Posting to a user id lands in the app's DM with them. Queued on the outbox, so the
        // ack (with its payload) is not held up by the Web API call.
        ctx.say_later(user, "Thanks for your feedback!")?;
    }
    Ok(Reply::clear_views())
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
            let bot = feedback_bot(Bot::builder(&app, &bot)?).start()?;
            let stopper = bot.stopper();
            ctrlc::set_handler(move || stopper.stop())?;
            println!("feedback bot running; Ctrl-C to stop");
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

fn submission(slack: &FakeSlack, text: &str) -> Result<String, slack_testkit::Error> {
    slack.send_interactive(json!({
        "type": "view_submission",
        "user": {"id": "U111", "username": "tester"},
        "trigger_id": "1111.2222.abcd",
        "view": {
            "id": "V111",
            "type": "modal",
            "callback_id": MODAL,
            "state": {"values": {BLOCK: {INPUT: {"type": "plain_text_input", "value": text}}}}
        }
    }))
}

fn run_against_testkit() -> Result<(), Box<dyn Error>> {
    const WAIT: Duration = Duration::from_secs(10);
    let slack = FakeSlack::start()?;
    let bot = feedback_bot(
        Bot::builder(&slack.app_token(), &slack.bot_token())?
            .api_url(slack.api_url())
            .allow_insecure(true)
            .no_proxy(),
    )
    .start()?;
    slack.wait_for_connections(1, WAIT)?;

    // 1. The user runs the shortcut; the bot opens the modal with its trigger id.
    let id = slack.send_interactive(json!({
        "type": "shortcut", "callback_id": SHORTCUT, "trigger_id": "1111.2222.abcd",
        "user": {"id": "U111"}, "action_ts": "1700000000.000100"
    }))?;
    slack.wait_for_ack(&id, WAIT)?;
    let open = slack.wait_for_call("views.open", WAIT)?;
    println!("shortcut {SHORTCUT} -> views.open");
    check(
        open.arg("trigger_id") == Some("1111.2222.abcd"),
        "the shortcut's trigger id",
    )?;
    check(
        open.body["view"]["callback_id"] == MODAL,
        "the feedback modal",
    )?;

    // 2. A too-short answer: the ack carries the field error, the modal stays open.
    let id = submission(&slack, "meh")?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no payload")?;
    println!("submit \"meh\" -> {payload}");
    check(payload["response_action"] == "errors", "validation error")?;
    check(
        payload["errors"][BLOCK].is_string(),
        "error under the field",
    )?;

    // 3. A good answer: the modal closes and the user is thanked.
    let id = submission(&slack, "More examples, please!")?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no payload")?;
    println!("submit \"More examples, please!\" -> {payload}");
    check(payload["response_action"] == "clear", "modal closed")?;
    let thanks = slack.wait_for_call("chat.postMessage", WAIT)?;
    println!(
        "-> chat.postMessage to {}",
        thanks.arg("channel").unwrap_or("?")
    );
    check(thanks.arg("channel") == Some("U111"), "thanks in a DM")?;

    let report = bot.shutdown()?;
    check(report.unsent.is_empty(), "nothing left unsent")?;
    println!("ok: modal opened, invalid input rejected in the ack, valid input accepted");
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
