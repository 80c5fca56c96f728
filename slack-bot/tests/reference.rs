//! The reference bot's behaviours, end to end against the fake Slack.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::time::Duration;

use common::{SOON, builder, message};
use serde_json::json;
#[path = "../src/reference.rs"]
#[allow(dead_code)]
mod reference;
use slack_testkit::FakeSlack;

fn start() -> (FakeSlack, slack_bot::RunningBot) {
    let slack = FakeSlack::start().unwrap();
    let bot = reference::install(builder(&slack).bot_user_id(slack.bot_user_id()))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    (slack, bot)
}

#[test]
fn plain_message_gets_eyes_reaction() {
    let (slack, bot) = start();
    let id = slack
        .send_event(message("C1", "hello", "1700000000.000100"))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("reactions.add", SOON).unwrap();
    assert_eq!(call.arg("name"), Some("eyes"));
    assert_eq!(call.arg("channel"), Some("C1"));
    assert_eq!(call.arg("timestamp"), Some("1700000000.000100"));
    bot.shutdown().unwrap();
}

#[test]
fn mention_gets_reply() {
    let (slack, bot) = start();
    let me = slack.bot_user_id();
    let id = slack
        .send_event(
            json!({"type": "app_mention", "channel": "C2", "user": "U111",
            "text": format!("<@{me}> hi"), "ts": "1700000000.000200"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("chat.postMessage", SOON).unwrap();
    assert_eq!(call.arg("text"), Some(reference::MENTION_REPLY));
    assert_eq!(call.arg("channel"), Some("C2"));
    bot.shutdown().unwrap();
}

#[test]
fn shortcut_opens_modal_and_submission_clears_it() {
    let (slack, bot) = start();
    let id = slack
        .send_interactive(json!({
            "type": "shortcut", "callback_id": reference::SHORTCUT_CALLBACK_ID,
            "trigger_id": "1234.5678.abcdef", "user": {"id": "U111"}, "team": {"id": "T111"}
        }))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("views.open", SOON).unwrap();
    assert_eq!(call.arg("trigger_id"), Some("1234.5678.abcdef"));
    assert_eq!(call.body["view"]["title"]["text"], "Greetings!");
    assert_eq!(
        call.body["view"]["callback_id"],
        reference::MODAL_CALLBACK_ID
    );

    let id = slack
        .send_interactive(json!({
            "type": "view_submission", "user": {"id": "U111"}, "team": {"id": "T111"},
            "trigger_id": "1234.5678.fedcba",
            "view": {"id": "V1", "type": "modal", "callback_id": reference::MODAL_CALLBACK_ID,
                "state": {"values": {}}}
        }))
        .unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, Some(json!({"response_action": "clear"})));
    bot.shutdown().unwrap();
}

#[test]
fn member_joined_gets_welcome_with_button() {
    let (slack, bot) = start();
    let id = slack
        .send_event(
            json!({"type": "member_joined_channel", "user": "U222", "channel": "C3",
            "channel_type": "C", "team": "T111"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("chat.postMessage", SOON).unwrap();
    assert_eq!(call.arg("channel"), Some("C3"));
    assert!(call.arg("text").unwrap().contains("<@U222>"));
    let blocks = call.body["blocks"].to_string();
    assert!(blocks.contains("Get Help"), "{blocks}");
    assert!(blocks.contains("get_help"), "{blocks}");

    // Pressing the button answers on the response URL.
    let id = slack
        .send_interactive(json!({
            "type": "block_actions", "user": {"id": "U222"}, "team": {"id": "T111"},
            "trigger_id": "1.2.3", "channel": {"id": "C3"},
            "actions": [{"type": "button", "action_id": "get_help", "value": "help",
                "block_id": "b1", "action_ts": "1700000000.1"}]
        }))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    slack.wait_for_call("response_url", SOON).unwrap();
    bot.shutdown().unwrap();
}

#[test]
fn file_shared_is_announced() {
    let (slack, bot) = start();
    slack.stub(
        "files.info",
        json!({"ok": true, "file": {"id": "F1", "name": "report.pdf", "title": "report.pdf"}}),
    );
    // The real shape: ids only; the name comes from files.info.
    let id = slack
        .send_event(
            json!({"type": "file_shared", "channel_id": "C4", "file_id": "F1",
            "user_id": "U111", "file": {"id": "F1"},
            "event_ts": "1700000000.000300"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("chat.postMessage", SOON).unwrap();
    assert_eq!(call.arg("channel"), Some("C4"));
    assert_eq!(call.arg("text"), Some("File received: report.pdf"));
    bot.shutdown().unwrap();
}

#[test]
fn bots_and_edits_are_ignored() {
    let (slack, bot) = start();
    let me = slack.bot_user_id();
    let ids = [
        slack
            .send_event(json!({"type": "message", "channel": "C1", "bot_id": "B9",
                "text": "beep", "ts": "1.1"}))
            .unwrap(),
        slack
            .send_event(
                json!({"type": "message", "subtype": "bot_message", "channel": "C1",
                "text": "beep", "ts": "1.2"}),
            )
            .unwrap(),
        slack
            .send_event(json!({"type": "message", "channel": "C1", "user": me,
                "text": "my own", "ts": "1.3"}))
            .unwrap(),
        slack
            .send_event(json!({"type": "message", "subtype": "message_changed",
                "channel": "C1", "ts": "1.4", "message": {"text": "edited"}}))
            .unwrap(),
        slack
            .send_event(
                json!({"type": "app_mention", "channel": "C1", "bot_id": "B9",
                "text": format!("<@{me}> beep"), "ts": "1.5"}),
            )
            .unwrap(),
    ];
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    // Then a person's message: its reaction is the only call the bot makes.
    let id = slack.send_event(message("C1", "hi", "1.6")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let call = slack.wait_for_call("reactions.add", SOON).unwrap();
    assert_eq!(call.arg("timestamp"), Some("1.6"));
    let report = bot.shutdown().unwrap();
    assert!(report.unsent.is_empty());
    let calls: Vec<String> = slack
        .calls()
        .into_iter()
        .map(|c| c.method)
        .filter(|m| m != "apps.connections.open" && m != "auth.test")
        .collect();
    assert_eq!(calls, vec!["reactions.add".to_owned()]);
}

#[test]
fn unknown_envelopes_and_garbage_do_not_break_the_bot() {
    let (slack, bot) = start();
    let conn = slack.open_connections()[0];
    for g in [
        slack_testkit::Garbage::InvalidJson,
        slack_testkit::Garbage::Binary,
        slack_testkit::Garbage::UnknownEnvelopeType,
        slack_testkit::Garbage::MissingFields,
        slack_testkit::Garbage::NotAnObject,
    ] {
        slack.fault(conn, slack_testkit::Fault::Garbage(g)).unwrap();
    }
    let id = slack
        .send_event(message("C1", "still there?", "2.1"))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    slack.wait_for_call("reactions.add", SOON).unwrap();
    assert_eq!(slack.open_connections(), vec![conn]);
    std::thread::sleep(Duration::from_millis(50));
    bot.shutdown().unwrap();
}

#[test]
fn a_file_files_info_does_not_know_is_named_by_its_id() {
    let (slack, bot) = start();
    let id = slack
        .send_event(
            json!({"type": "file_shared", "channel_id": "C4", "file_id": "F404",
            "user_id": "U111", "file": {"id": "F404"}, "event_ts": "1700000000.000300"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let info = slack.wait_for_call("files.info", SOON).unwrap();
    assert_eq!(info.arg("file"), Some("F404"));
    let call = slack.wait_for_call("chat.postMessage", SOON).unwrap();
    assert_eq!(call.arg("text"), Some("File received: F404"));
    bot.shutdown().unwrap();
}

#[test]
fn behaviours_switched_off_do_nothing() {
    let slack = FakeSlack::start().unwrap();
    let off = reference::Behaviours {
        eyes: false,
        file_received: false,
        ..reference::Behaviours::default()
    };
    let bot = reference::install_with(builder(&slack).bot_user_id(slack.bot_user_id()), off)
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    slack.stub(
        "files.info",
        json!({"ok": true, "file": {"id": "F1", "name": "report.pdf", "title": "report.pdf"}}),
    );
    let ids = [
        slack
            .send_event(message("C1", "hello", "1700000000.000100"))
            .unwrap(),
        slack
            .send_event(
                json!({"type": "file_shared", "channel_id": "C4", "file_id": "F1",
                "user_id": "U111", "file": {"id": "F1"}, "event_ts": "1700000000.000300"}),
            )
            .unwrap(),
    ];
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    // The mention reply is still on: its answer comes after anything the two above did.
    let me = slack.bot_user_id();
    let id = slack
        .send_event(
            json!({"type": "app_mention", "channel": "C2", "user": "U111",
            "text": format!("<@{me}> hi"), "ts": "1700000000.000200"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    slack.wait_for_call("chat.postMessage", SOON).unwrap();
    bot.shutdown().unwrap();
    let methods: Vec<String> = slack.calls().into_iter().map(|c| c.method).collect();
    assert!(
        !methods
            .iter()
            .any(|m| m == "reactions.add" || m == "files.info"),
        "{methods:?}"
    );
    assert_eq!(
        methods.iter().filter(|m| *m == "chat.postMessage").count(),
        1,
        "{methods:?}"
    );
}
