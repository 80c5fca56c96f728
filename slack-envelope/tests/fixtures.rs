//! Every real Slack payload in `tests/fixtures/` (copied from `../shared/fixtures`, see
//! `SOURCES.md` there) parses, as a frame or as the typed view it belongs to.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use slack_envelope::payload::{EventCallback, Interaction, SlackEvent};
use slack_envelope::{DisconnectReason, EnvelopeKind, Frame, ack_frame};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn envelope(name: &str) -> slack_envelope::Envelope {
    match Frame::parse(read(name)) {
        Ok(Frame::Envelope(e)) => e,
        other => panic!("{name}: not an envelope: {other:?}"),
    }
}

#[test]
fn every_fixture_is_covered_by_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let covered = [
        "ack_block_suggestion_options.json",
        "ack_slash_commands_with_blocks.json",
        "ack_view_submission_update.json",
        "event_file_shared_inner.json",
        "event_member_joined_channel.json",
        "event_message_bot_message.json",
        "event_message_file_share.json",
        "event_reaction_added.json",
        "interactive_block_actions.json",
        "interactive_view_submission.json",
        "socket_mode_disconnect_link_disabled.json",
        "socket_mode_disconnect_refresh_requested.json",
        "socket_mode_disconnect_too_many_websockets.json",
        "socket_mode_disconnect_warning.json",
        "socket_mode_events_api_app_mention.json",
        "socket_mode_events_api_message_retry.json",
        "socket_mode_hello.json",
        "socket_mode_interactive_shortcut.json",
        "socket_mode_slash_commands.json",
        "web_chat_postMessage_ok.json",
        "web_error_ratelimited_429.json",
        "web_warning_missing_charset.json",
    ];
    assert_eq!(
        names, covered,
        "a fixture was added or removed: cover it here"
    );
}

#[test]
fn hello() {
    let Frame::Hello(h) = Frame::parse(read("socket_mode_hello.json")).unwrap() else {
        panic!("not hello")
    };
    assert_eq!(h.num_connections, Some(4));
    assert_eq!(h.approximate_connection_time(), Some(18060));
    let d = h.debug_info.unwrap();
    assert_eq!(d.host.as_deref(), Some("applink-7fc4fdbb64-4x5xq"));
    assert_eq!(d.build_number, Some(10));
    assert_eq!(
        h.connection_info.unwrap().app_id.as_deref(),
        Some("A01K58AR4RF")
    );
    // Optional fields are optional.
    assert!(matches!(
        Frame::parse(r#"{"type":"hello"}"#).unwrap(),
        Frame::Hello(_)
    ));
}

#[test]
fn disconnects() {
    for (name, reason) in [
        (
            "socket_mode_disconnect_warning.json",
            DisconnectReason::Warning,
        ),
        (
            "socket_mode_disconnect_refresh_requested.json",
            DisconnectReason::RefreshRequested,
        ),
        (
            "socket_mode_disconnect_link_disabled.json",
            DisconnectReason::LinkDisabled,
        ),
        (
            "socket_mode_disconnect_too_many_websockets.json",
            DisconnectReason::TooManyWebsockets,
        ),
    ] {
        let Frame::Disconnect(d) = Frame::parse(read(name)).unwrap() else {
            panic!("{name}: not a disconnect")
        };
        assert_eq!(d.reason, reason, "{name}");
        assert!(d.debug_info.unwrap().host.is_some(), "{name}");
    }
    let Frame::Disconnect(d) =
        Frame::parse(r#"{"type":"disconnect","reason":"something_new"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(d.reason, DisconnectReason::Other("something_new".into()));
}

#[test]
fn events_api_app_mention() {
    let env = envelope("socket_mode_events_api_app_mention.json");
    assert_eq!(env.envelope_id(), "cda4159a-72a5-4744-aba3-4d66eb52682b");
    assert_eq!(env.kind(), &EnvelopeKind::EventsApi);
    assert!(!env.accepts_response_payload());
    assert_eq!(env.retry_attempt(), 0);
    assert_eq!(env.retry_reason(), None);
    assert_eq!(env.event_id(), Some("Ev111"));
    let cb = env.events_api().unwrap();
    assert_eq!(cb.team_id.as_deref(), Some("T111"));
    assert_eq!(cb.authorizations.len(), 1);
    let SlackEvent::AppMention(m) = cb.event else {
        panic!("not app_mention")
    };
    assert_eq!(m.text.as_deref(), Some("<@U111>"));
    assert_eq!(m.channel.as_deref(), Some("C111"));
}

#[test]
fn events_api_retry_fields() {
    let env = envelope("socket_mode_events_api_message_retry.json");
    assert_eq!(env.retry_attempt(), 1);
    assert_eq!(env.retry_reason(), Some("timeout"));
    let SlackEvent::Message(m) = env.events_api().unwrap().event else {
        panic!("not message")
    };
    assert_eq!(m.subtype, None);
    assert!(!m.is_from_bot());
    assert_eq!(m.channel_type.as_deref(), Some("channel"));
}

#[test]
fn slash_command() {
    let env = envelope("socket_mode_slash_commands.json");
    assert_eq!(env.kind(), &EnvelopeKind::SlashCommands);
    assert!(env.accepts_response_payload());
    assert_eq!(env.event_id(), None);
    assert_eq!(env.dedup_key(), env.envelope_id());
    let cmd = env.slash_command().unwrap();
    assert_eq!(cmd.command, "/randorilke");
    assert_eq!(cmd.text, "");
    assert_eq!(cmd.user_name.as_deref(), Some("rainer"));
    assert!(cmd.response_url.unwrap().starts_with("https://"));
    // The verification token is not kept in the typed view.
    let dbg = format!("{:?}", env.slash_command().unwrap());
    assert!(!dbg.contains("bHKJ2n9AW6Ju3MjciOHfbA1b"));
    assert!(!format!("{env:?}").contains("bHKJ2n9AW6Ju3MjciOHfbA1b"));
}

#[test]
fn interactive_shortcut() {
    let env = envelope("socket_mode_interactive_shortcut.json");
    assert_eq!(env.kind(), &EnvelopeKind::Interactive);
    let i = env.interactive().unwrap();
    assert_eq!(i.interaction_type(), "shortcut");
    assert_eq!(i.callback_id(), Some("do-something"));
    assert_eq!(i.trigger_id(), Some("111.222.xxx"));
}

fn callback(name: &str) -> EventCallback {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn event_payloads() {
    let SlackEvent::ReactionAdded(r) = callback("event_reaction_added.json").event else {
        panic!()
    };
    assert_eq!(r.reaction.as_deref(), Some("heart_eyes"));
    assert_eq!(r.item.unwrap().ts.as_deref(), Some("1599529504.000400"));

    let SlackEvent::MemberJoinedChannel(j) = callback("event_member_joined_channel.json").event
    else {
        panic!()
    };
    assert_eq!(j.user.as_deref(), Some("U999"));
    assert_eq!(j.inviter.as_deref(), Some("U222"));

    let SlackEvent::Message(m) = callback("event_message_bot_message.json").event else {
        panic!()
    };
    assert_eq!(m.subtype.as_deref(), Some("bot_message"));
    assert!(m.is_from_bot());

    let SlackEvent::Message(m) = callback("event_message_file_share.json").event else {
        panic!()
    };
    assert_eq!(m.subtype.as_deref(), Some("file_share"));
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].name.as_deref(), Some("file.png"));

    let inner: SlackEvent = serde_json::from_str(&read("event_file_shared_inner.json")).unwrap();
    let SlackEvent::FileShared(f) = inner else {
        panic!()
    };
    assert_eq!(f.file_id.as_deref(), Some("F2147483862"));

    // Unknown event types are kept as JSON.
    let other: SlackEvent =
        serde_json::from_str(r#"{"type":"channel_rename","channel":{"id":"C1"}}"#).unwrap();
    assert_eq!(other.event_type(), "channel_rename");
}

#[test]
fn interactive_payloads() {
    let i: Interaction = serde_json::from_str(&read("interactive_block_actions.json")).unwrap();
    let Interaction::BlockActions(b) = &i else {
        panic!()
    };
    assert_eq!(i.action_ids(), vec!["a"]);
    assert_eq!(b.actions[0].value.as_deref(), Some("click_me_123"));
    assert_eq!(b.channel.as_ref().unwrap().id, "C111");
    assert!(!format!("{i:?}").contains("verification_token"));

    let i: Interaction = serde_json::from_str(&read("interactive_view_submission.json")).unwrap();
    let Interaction::ViewSubmission(v) = &i else {
        panic!()
    };
    assert_eq!(i.callback_id(), Some("view-id"));
    assert_eq!(v.view.input_value("hspI", "maBWU"), Some("test"));
    assert_eq!(v.view.private_metadata.as_deref(), Some("This is for you!"));
    assert!(!format!("{i:?}").contains("verification_token"));

    for (json, kind) in [
        (
            r#"{"type":"view_closed","view":{"id":"V1","callback_id":"c"},"is_cleared":true}"#,
            "view_closed",
        ),
        (
            r#"{"type":"block_suggestion","action_id":"a1","block_id":"b1","value":"que"}"#,
            "block_suggestion",
        ),
        (
            r#"{"type":"message_action","callback_id":"m1","message":{"text":"x"}}"#,
            "message_action",
        ),
        (
            r#"{"type":"interactive_message","callback_id":"legacy"}"#,
            "interactive_message",
        ),
    ] {
        let i: Interaction = serde_json::from_str(json).unwrap();
        assert_eq!(i.interaction_type(), kind);
    }
}

/// Our ack builder produces the same JSON as Slack's documented responses.
#[test]
fn acks_match_the_documented_frames() {
    for name in [
        "ack_block_suggestion_options.json",
        "ack_slash_commands_with_blocks.json",
        "ack_view_submission_update.json",
    ] {
        let doc: serde_json::Value = serde_json::from_str(&read(name)).unwrap();
        let id = doc["envelope_id"].as_str().unwrap();
        let payload = serde_json::to_string(&doc["payload"]).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&ack_frame(id, Some(&payload))).unwrap();
        assert_eq!(ours, doc, "{name}");
    }
    let options = slack_envelope::payload::response::options([
        ("Give me your hand", "AI-2323"),
        ("Beauty and terror", "SUPPORT-42"),
    ]);
    let doc: serde_json::Value =
        serde_json::from_str(&read("ack_block_suggestion_options.json")).unwrap();
    assert_eq!(options, doc["payload"]);
}

/// Web API answers are JSON objects with `ok` (the web crate reads them; here we only check
/// that the fixtures are what we think they are).
#[test]
fn web_fixtures_are_json() {
    for name in [
        "web_chat_postMessage_ok.json",
        "web_error_ratelimited_429.json",
        "web_warning_missing_charset.json",
    ] {
        let v: serde_json::Value = serde_json::from_str(&read(name)).unwrap();
        assert!(v["ok"].is_boolean(), "{name}");
    }
}
