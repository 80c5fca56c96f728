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

use serde_json::{Value, json};
use slack_bot::{BotBuilder, Context, HandlerResult, Reply, RunningBot};
use slack_testkit::FakeSlack;

mod support;
use support::{Res, WAIT, check};

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

fn main() -> Res {
    support::main("feedback bot", feedback_bot, scripted)
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

/// A scripted exchange with the fake Slack on 127.0.0.1, checking what the bot did.
fn scripted(slack: &FakeSlack, bot: RunningBot) -> Res {
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
    let id = submission(slack, "meh")?;
    let ack = slack.wait_for_ack(&id, WAIT)?;
    let payload = ack.payload.ok_or("the ack carries no payload")?;
    println!("submit \"meh\" -> {payload}");
    check(payload["response_action"] == "errors", "validation error")?;
    check(
        payload["errors"][BLOCK].is_string(),
        "error under the field",
    )?;

    // 3. A good answer: the modal closes and the user is thanked.
    let id = submission(slack, "More examples, please!")?;
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
    Ok(())
}
