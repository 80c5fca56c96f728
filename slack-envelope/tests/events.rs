//! Typed events against real payloads (see tests/fixtures/events/SOURCES.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};
use slack_envelope::Error;
use slack_envelope::events::{self, *};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Decodes the fixture, checks that an unknown field is kept and that re-serializing and
/// decoding again gives the same value.
fn check<E: SlackEvent + serde::Serialize + PartialEq + std::fmt::Debug>(name: &str) -> E {
    let raw = fixture(name);
    assert_eq!(events::event_type(&raw), Some(E::TYPE), "{name}");
    let typed: E = events::decode(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: E = events::decode(&serde_json::to_value(&typed).unwrap()).unwrap();
    assert_eq!(again, typed, "{name}: re-serialization changed it");
    // Forward compatibility: unknown fields never fail and are kept.
    let mut future = raw.clone();
    future["x_future_field"] = json!({"nested": [1, 2, 3]});
    let typed2: E = events::decode(&future).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_value(&typed2).unwrap();
    assert_eq!(
        back["x_future_field"],
        json!({"nested": [1, 2, 3]}),
        "{name}"
    );
    typed
}

#[test]
fn messages_and_subtypes() {
    let m: Message = check("message");
    assert_eq!(m.kind(), MessageKind::Plain);
    assert_eq!(m.channel.as_deref(), Some("C111"));
    assert_eq!(m.blocks.len(), 1);
    assert!(m.extra.contains_key("type"));

    let m: Message = check("message_bot_message");
    assert_eq!(
        m.kind(),
        MessageKind::BotMessage {
            bot_id: Some("B888"),
            username: Some("classic-bot")
        }
    );
    assert!(m.is_from_bot());

    let m: Message = check("message_file_share");
    let MessageKind::FileShare { files } = m.kind() else {
        panic!("{:?}", m.kind())
    };
    assert!(!files.is_empty() && files[0].id.is_some());

    let m: Message = check("message_changed");
    let MessageKind::Changed { message, previous } = m.kind() else {
        panic!("{:?}", m.kind())
    };
    assert_eq!(message.text.as_deref(), Some("updated message"));
    assert_eq!(
        message.edited.as_ref().and_then(|e| e.user.as_deref()),
        Some("U111")
    );
    assert_eq!(message.blocks.len(), 1);
    let previous = previous.unwrap();
    assert_eq!(previous.text.as_deref(), Some("original message"));
    assert_eq!(previous.user.as_deref(), Some("U222"));
    assert_eq!(m.hidden, Some(true));

    let m: Message = check("message_deleted");
    let MessageKind::Deleted {
        deleted_ts,
        previous,
    } = m.kind()
    else {
        panic!("{:?}", m.kind())
    };
    assert_eq!(deleted_ts, Some("1665368619.804829"));
    assert_eq!(
        previous.and_then(|p| p.text.as_deref()),
        Some("Delete this message")
    );

    let m: Message = check("message_thread_broadcast");
    let MessageKind::ThreadBroadcast { root } = m.kind() else {
        panic!("{:?}", m.kind())
    };
    let root = root.unwrap();
    assert_eq!(root.ts.as_deref(), Some("1633663824.000500"));
    assert_eq!(root.extra["reply_count"], 17);
    assert_eq!(m.thread_ts.as_deref(), Some("1633663824.000500"));

    let m: Message = check("message_channel_join");
    assert!(matches!(m.kind(), MessageKind::ChannelJoin { .. }));
    let m: Message = check("message_me_message");
    assert_eq!(m.kind(), MessageKind::MeMessage);

    // The older view decodes the same payloads.
    let old: slack_envelope::payload::MessageEvent =
        events::decode(&fixture("message_changed")).unwrap();
    assert_eq!(old.subtype.as_deref(), Some("message_changed"));
}

#[test]
fn every_other_event_type() {
    let e: AppMention = check("app_mention");
    assert_eq!(e.user.as_deref(), Some("U222"));
    assert!(e.text.as_deref().unwrap().contains("<@U111>"));

    let e: AppHomeOpened = check("app_home_opened");
    assert!(e.view.is_some() && e.tab.is_some());

    let e: ReactionAdded = check("reaction_added");
    assert_eq!(e.reaction.as_deref(), Some("heart_eyes"));
    let item = e.item.unwrap();
    assert_eq!(
        (item.item_type.as_deref(), item.ts.as_deref()),
        (Some("message"), Some("1599529504.000400"))
    );
    let e: ReactionRemoved = check("reaction_removed");
    assert_eq!(e.item.unwrap().ts.as_deref(), Some("0000000000.000000"));

    let e: MemberJoinedChannel = check("member_joined_channel");
    assert_eq!(
        (e.user.as_deref(), e.inviter.as_deref()),
        (Some("U999"), Some("U222"))
    );
    let e: MemberLeftChannel = check("member_left_channel");
    assert_eq!(e.channel.as_deref(), Some("C0698JE0H"));

    let e: ChannelCreated = check("channel_created");
    assert_eq!(e.channel.name.as_deref(), Some("fun"));
    assert_eq!(e.channel.created, Some(1360782804));
    let e: ChannelRename = check("channel_rename");
    assert_eq!(e.channel.name.as_deref(), Some("new_name"));
    let e: ChannelArchive = check("channel_archive");
    assert_eq!(e.user.as_deref(), Some("U024BE7LH"));
    let e: ChannelUnarchive = check("channel_unarchive");
    assert_eq!(e.channel.as_deref(), Some("C024BE91L"));
    let e: ChannelDeleted = check("channel_deleted");
    assert_eq!(e.channel.as_deref(), Some("C024BE91L"));

    let e: TeamJoin = check("team_join");
    assert_eq!(e.user.id, None);
    let e: UserChange = check("user_change");
    assert_eq!(e.user, User::default());

    let e: PinAdded = check("pin_added");
    assert_eq!(e.channel_id.as_deref(), Some("C02ELGNBH"));
    let e: PinRemoved = check("pin_removed");
    assert_eq!(e.has_pins, Some(false));

    let e: LinkShared = check("link_shared");
    assert_eq!(e.links[0].url.as_deref(), Some("https://www.example.com/"));

    let e: FileShared = check("file_shared");
    assert_eq!(e.file_id.as_deref(), Some("F2147483862"));
    assert_eq!(e.file.unwrap().id.as_deref(), Some("F2147483862"));
    let e: FileCreated = check("file_created");
    assert_eq!(e.file_id.as_deref(), Some("F2147483862"));
    let e: FileDeleted = check("file_deleted");
    assert_eq!(e.event_ts.as_deref(), Some("1361482916.000004"));

    let e: FileChange = check("file_change");
    assert_eq!(e.file.unwrap().id.as_deref(), Some("F2147483862"));
    let e: FilePublic = check("file_public");
    assert_eq!(e.file_id.as_deref(), Some("F2147483862"));
    let e: FileUnshared = check("file_unshared");
    assert_eq!(e.file_id.as_deref(), Some("F2147483862"));
    let e: ChannelLeft = check("channel_left");
    assert_eq!(e.channel.as_deref(), Some("C024BE91L"));
    let e: ImCreated = check("im_created");
    assert_eq!(e.user.as_deref(), Some("U024BE7LH"));

    let _: AppUninstalled = check("app_uninstalled");
    let e: TokensRevoked = check("tokens_revoked");
    assert_eq!(
        (e.tokens.oauth, e.tokens.bot),
        (vec!["W111".to_string()], vec!["W222".to_string()])
    );
    let e: EmojiChanged = check("emoji_changed");
    assert_eq!(e.subtype.as_deref(), Some(""));

    let e: FunctionExecuted = check("function_executed");
    assert_eq!(e.function.callback_id.as_deref(), Some("reverse"));
    assert_eq!(e.inputs["stringToReverse"], "hello");
    assert_eq!(e.function_execution_id.as_deref(), Some("Fx111"));

    let e: AssistantThreadStarted = check("assistant_thread_started");
    assert_eq!(e.assistant_thread.channel_id.as_deref(), Some("D111"));
    assert_eq!(
        e.assistant_thread.context.channel_id.as_deref(),
        Some("C222")
    );
    let e: AssistantThreadContextChanged = check("assistant_thread_context_changed");
    assert_eq!(
        e.assistant_thread.context.channel_id.as_deref(),
        Some("C333")
    );

    // The older views implement the trait too.
    let _: slack_envelope::payload::AppMentionEvent =
        events::decode(&fixture("app_mention")).unwrap();
    let _: slack_envelope::payload::ReactionAddedEvent =
        events::decode(&fixture("reaction_added")).unwrap();
    let _: slack_envelope::payload::MemberJoinedChannelEvent =
        events::decode(&fixture("member_joined_channel")).unwrap();
    let _: slack_envelope::payload::FileSharedEvent =
        events::decode(&fixture("file_shared")).unwrap();
    assert!(events::TYPED_EVENTS.len() >= 31);
}

#[test]
fn every_fixture_is_covered_by_a_typed_event() {
    let dir = format!("{}/tests/fixtures/events", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let t = events::event_type(&raw).unwrap();
        assert!(events::TYPED_EVENTS.contains(&t), "{}", path.display());
        n += 1;
    }
    assert!(n >= 38, "{n}");
}

#[test]
fn a_bad_shape_names_the_event_type_and_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "reaction_added", "reaction": 5}),
            "`reaction`",
        ),
        (
            json!({"type": "reaction_added", "reaction": "x", "item": {"type": "message", "ts": 1.5}}),
            "`item.ts`",
        ),
        (
            json!({"type": "message", "subtype": "message_changed",
                "message": {"type": "message", "text": ["not", "text"]}}),
            "`message.text`",
        ),
        (
            json!({"type": "channel_created", "channel": "C1"}),
            "`channel`",
        ),
        (
            json!({"type": "tokens_revoked", "tokens": {"oauth": "W1"}}),
            "`tokens.oauth`",
        ),
    ];
    for (raw, field) in cases {
        let t = raw["type"].as_str().unwrap().to_owned();
        let err = match t.as_str() {
            "reaction_added" => events::decode::<ReactionAdded>(&raw).unwrap_err(),
            "message" => events::decode::<Message>(&raw).unwrap_err(),
            "channel_created" => events::decode::<ChannelCreated>(&raw).unwrap_err(),
            _ => events::decode::<TokensRevoked>(&raw).unwrap_err(),
        };
        let text = err.to_string();
        assert!(text.contains(&t) && text.contains(field), "{text}");
        assert!(matches!(err, Error::InvalidPayload { .. }));
        // The raw JSON is untouched and still there.
        assert_eq!(raw["type"], t.as_str());
    }
    // From a whole callback.
    let cb = json!({"type": "event_callback", "event_id": "Ev1",
        "event": {"type": "app_mention", "text": "hi", "user": "U1"}});
    let m: AppMention = events::decode_callback(&cb).unwrap();
    assert_eq!(m.text.as_deref(), Some("hi"));
    assert!(events::decode_callback::<AppMention>(&json!({"type": "x"})).is_err());
    // Wrong type, not an object, invalid JSON text.
    let e = events::decode::<AppMention>(&json!({"type": "message"})).unwrap_err();
    assert!(e.to_string().contains("app_mention"), "{e}");
    assert!(events::decode::<AppMention>(&json!([1])).is_err());
    assert!(events::decode_str::<AppMention>("{not json").is_err());
}

#[test]
fn never_panics_on_mutated_fixtures() {
    let junk = [
        json!(null),
        json!(1),
        json!(-1.5),
        json!("s"),
        json!([]),
        json!([null, {}]),
        json!({}),
        json!({"type": 5}),
        json!(true),
    ];
    let dir = format!("{}/tests/fixtures/events", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let keys: Vec<String> = raw.as_object().unwrap().keys().cloned().collect();
        for k in keys.iter().filter(|k| *k != "type") {
            for j in &junk {
                let mut m = raw.clone();
                m[k.as_str()] = j.clone();
                let _ = events::decode::<Message>(&m);
                let _ = events::decode::<AppMention>(&m);
                let _ = events::decode::<ReactionAdded>(&m);
                let _ = events::decode::<FunctionExecuted>(&m);
                let _ = events::decode::<AssistantThreadStarted>(&m);
                let _ = events::decode::<ChannelCreated>(&m);
                let _ = events::decode::<TeamJoin>(&m);
            }
        }
    }
}

#[test]
fn the_function_token_is_redacted() {
    let mut raw = fixture("function_executed");
    raw["bot_access_token"] = json!("xwfp-secret-123");
    let e: FunctionExecuted = events::decode(&raw).unwrap();
    assert_eq!(
        e.bot_access_token.as_ref().map(|t| t.expose_secret()),
        Some("xwfp-secret-123")
    );
    let dbg = format!("{e:?}");
    assert!(!dbg.contains("xwfp-secret"), "{dbg}");
}
