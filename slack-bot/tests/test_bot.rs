//! `slack_bot::testing::TestBot`: handlers run from JSON, without sockets or a fake Slack.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use slack_bot::slack_web::ResponseMessage;
use slack_bot::testing::{self, TestBot};
use slack_bot::{Error, Reply};

#[test]
fn a_raw_envelope_runs_and_its_calls_are_recorded() {
    let bot = TestBot::new(testing::builder().on_command("/deploy", |ctx| {
        let env = ctx.command()?.text.clone();
        ctx.respond(ResponseMessage::in_channel(format!("deploying {env}")))?;
        ctx.say(format!("<@{}> deploys {env}", ctx.user_id().unwrap_or("?")))?;
        Ok(Reply::text("queued"))
    }))
    .unwrap();
    let frame = r#"{"envelope_id":"e-1","type":"slash_commands","accepts_response_payload":true,
        "payload":{"command":"/deploy","text":"prod","user_id":"U9","channel_id":"C9",
        "response_url":"https://hooks.slack.com/commands/T1/2/abc"}}"#;
    let out = bot.run(frame).unwrap();
    assert_eq!(out.ack, Some(json!({"text": "queued"})));
    assert_eq!(out.errors, 0);
    let methods: Vec<&str> = out.calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["response_url", "chat.postMessage"]);
    assert_eq!(
        out.calls[0].url.as_deref(),
        Some("https://hooks.slack.com/commands/T1/2/abc")
    );
    assert_eq!(out.calls[0].body["response_type"], "in_channel");
    assert_eq!(out.calls[1].body["channel"], "C9");
    assert_eq!(out.calls[1].body["text"], "<@U9> deploys prod");
    // The next request starts with no calls.
    let out = bot.command("/other", "").unwrap();
    assert!(out.calls.is_empty() && out.ack.is_none());
}

#[test]
fn it_knows_the_bot_and_skips_its_own_events() {
    let bot = TestBot::new(testing::builder().on_any_message(|ctx, _| {
        ctx.react("eyes")?;
        Ok(Reply::Ack)
    }))
    .unwrap();
    let me = bot.bot().unwrap();
    assert_eq!(me.user_id, testing::BOT_USER_ID);
    assert_eq!(me.bot_id.as_deref(), Some(testing::BOT_ID));
    let out = bot
        .event(json!({"type": "message", "channel": "C1", "user": testing::BOT_USER_ID, "text": "mine", "ts": "1.1"}))
        .unwrap();
    assert!(out.calls.is_empty());
    let out = bot
        .event(json!({"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.2"}))
        .unwrap();
    assert_eq!(out.calls_of("reactions.add").len(), 1);
    assert_eq!(out.calls[0].body["timestamp"], "1.2");

    let other = TestBot::new(testing::builder().bot_user_id("U_OTHER")).unwrap();
    assert_eq!(other.bot().unwrap().user_id, "U_OTHER");
}

#[test]
fn errors_and_panics_are_counted_and_the_request_still_acked() {
    let bot = TestBot::new(
        testing::builder()
            .on_view_submission("form", |_| Err("invalid state".into()))
            .on_event("message", |_| -> slack_bot::HandlerResult { panic!("bug") }),
    )
    .unwrap();
    let out = bot
        .interactive(json!({"type": "view_submission", "view": {"callback_id": "form"}}))
        .unwrap();
    assert_eq!((out.errors, out.ack), (1, None));
    let out = bot
        .event(json!({"type": "message", "user": "U1", "text": "x"}))
        .unwrap();
    assert_eq!(out.errors, 1);
}

#[test]
fn listener_errors_fail_it_as_start_would() {
    let err = TestBot::new(
        testing::builder()
            .on_action("a", |_| Ok(Reply::Ack))
            .on_action("a", |_| Ok(Reply::Ack)),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Listeners(_)), "{err}");
    let err = TestBot::new(testing::builder())
        .unwrap()
        .run("{\"type\":\"hello\"}");
    assert!(err.is_err());
    assert!(
        TestBot::new(testing::builder())
            .unwrap()
            .run("not json")
            .is_err()
    );
}

#[test]
fn a_typed_event_that_does_not_fit_goes_to_on_error() {
    use slack_bot::slack_envelope::payload::ReactionAddedEvent;
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let bot = TestBot::new(
        testing::builder()
            .on::<ReactionAddedEvent>(|ctx, ev| {
                ctx.react(ev.reaction.as_deref().unwrap_or("x"))?;
                Ok(Reply::Ack)
            })
            .on_error(move |err, _ctx| s.lock().unwrap().push(err.to_string())),
    )
    .unwrap();
    // `item` must be an object.
    let out = bot
        .event(json!({"type": "reaction_added", "user": "U1", "reaction": "tada", "item": "C1"}))
        .unwrap();
    assert_eq!(out.errors, 1);
    assert!(out.calls.is_empty());
    let errors = seen.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("reaction_added"), "{errors:?}");
    // A good one goes through.
    let out = bot
        .event(
            json!({"type": "reaction_added", "user": "U1", "reaction": "tada",
                      "item": {"type": "message", "channel": "C1", "ts": "1.1"}}),
        )
        .unwrap();
    assert_eq!(out.errors, 0);
    assert_eq!(out.calls[0].body["name"], "tada");
}

/// A handler function called directly with a context built from JSON.
#[test]
fn a_handler_function_is_called_directly() {
    fn greet(ctx: &slack_bot::Context) -> slack_bot::HandlerResult {
        let name = ctx.command()?.text.trim().to_owned();
        ctx.respond(format!("Hello, {name}!"))?;
        Ok(Reply::Ack)
    }
    let bot = TestBot::new(testing::builder()).unwrap();
    let ctx = bot
        .context(
            r#"{"envelope_id":"e","type":"slash_commands","accepts_response_payload":true,
                "payload":{"command":"/greet","text":" Ada ","response_url":"https://hooks.slack.com/x"}}"#,
        )
        .unwrap();
    assert_eq!(greet(&ctx).unwrap(), Reply::Ack);
    let calls = bot.take_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body["text"], "Hello, Ada!");
    assert_eq!(calls[0].url.as_deref(), Some("https://hooks.slack.com/x"));
}
