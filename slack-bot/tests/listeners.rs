//! The handler API end to end against the fake Slack: every context helper and listener kind,
//! middleware, errors and panics, the bot's identity and its own events.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{SOON, builder, wait_until};
use serde_json::{Value, json};
use slack_bot::slack_envelope::payload::{MemberJoinedChannelEvent, ReactionAddedEvent};
use slack_bot::slack_web::{Message, ResponseMessage};
use slack_bot::{BotBuilder, Error, ListenerPanic, Options, Reply, RunningBot, regex};
use slack_testkit::{FakeSlack, WebCall};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) {
    log.lock().unwrap().push(s.into());
}

fn logged(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn start(slack: &FakeSlack, f: impl FnOnce(BotBuilder) -> BotBuilder) -> RunningBot {
    let bot = f(builder(slack)).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    bot
}

fn calls_of(slack: &FakeSlack, method: &str) -> Vec<WebCall> {
    slack
        .calls()
        .into_iter()
        .filter(|c| c.method == method)
        .collect()
}

fn modal(callback_id: &str) -> Value {
    json!({"type": "modal", "callback_id": callback_id,
           "title": {"type": "plain_text", "text": "T"}, "blocks": []})
}

#[test]
fn start_asks_auth_test_and_knows_the_bot_everywhere() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let s = seen.clone();
    let bot = start(&slack, |b| {
        b.on_event("app_mention", move |ctx| {
            let me = ctx.bot().unwrap();
            push(
                &s,
                format!("{} {:?} {:?}", me.user_id, me.bot_id, me.team_id),
            );
            Ok(Reply::Ack)
        })
    });
    let me = bot.bot().expect("auth.test ran at start").clone();
    assert_eq!(me.user_id, slack.bot_user_id());
    assert_eq!(me.bot_id.as_deref(), Some("B0BOT"));
    assert!(me.team_id.is_some());
    let id = slack
        .send_event(json!({"type": "app_mention", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.1"}))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    wait_until(SOON, "the listener", || !logged(&seen).is_empty());
    assert_eq!(
        logged(&seen),
        [format!(
            "{} Some(\"B0BOT\") {:?}",
            me.user_id,
            me.team_id.as_deref()
        )]
    );
    bot.shutdown().unwrap();
}

#[test]
fn a_refused_bot_token_fails_start_naming_the_token() {
    let slack = FakeSlack::start().unwrap();
    let wrong = "xoxb-0000-wrong-secret";
    let result = slack_bot::Bot::builder(&slack.app_token(), wrong)
        .unwrap()
        .api_url(slack.api_url())
        .allow_insecure(true)
        .no_proxy()
        .start();
    let err = match result {
        Err(e) => e,
        Ok(_) => panic!("a refused token started a bot"),
    };
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("bot token") && text.contains("invalid_auth"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret") && !format!("{err:?}").contains("wrong-secret"));
    assert!(slack.connections().is_empty(), "no socket was opened");
}

#[test]
fn the_bots_own_events_are_skipped_unless_asked() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let s = seen.clone();
    let bot = start(&slack, |b| {
        b.on_any_event(move |ctx| {
            push(
                &s,
                ctx.json()["event"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
            Ok(Reply::Ack)
        })
    });
    let me = slack.bot_user_id();
    let ids = [
        slack.send_event(json!({"type": "message", "channel": "C1", "user": me, "text": "mine", "ts": "1.1"})),
        slack.send_event(json!({"type": "message", "subtype": "bot_message", "bot_id": "B0BOT", "channel": "C1", "text": "mine too", "ts": "1.2"})),
        slack.send_event(json!({"type": "message", "channel": "C1", "user": "U1", "text": "theirs", "ts": "1.3"})),
    ];
    for id in ids {
        slack.wait_for_ack(&id.unwrap(), SOON).unwrap();
    }
    bot.shutdown().unwrap();
    assert_eq!(logged(&seen), ["theirs"]);

    // Opted out: the bot sees its own messages.
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let s = seen.clone();
    let bot = start(&slack, |b| {
        b.ignore_self_events(false).on_any_event(move |_| {
            push(&s, "seen");
            Ok(Reply::Ack)
        })
    });
    let id = slack
        .send_event(json!({"type": "message", "channel": "C1", "user": slack.bot_user_id(), "text": "mine", "ts": "1.1"}))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    bot.shutdown().unwrap();
    assert_eq!(logged(&seen), ["seen"]);
}

#[test]
fn say_follows_the_thread_and_reply_in_thread_starts_one() {
    let slack = FakeSlack::start().unwrap();
    let bot = start(&slack, |b| {
        b.on_message("in thread", |ctx, _m| {
            ctx.say("threaded")?;
            Ok(Reply::Ack)
        })
        .on_message("top level", |ctx, _m| {
            ctx.say(Message::text("flat").mrkdwn(false))?;
            Ok(Reply::Ack)
        })
        .on_app_mention(|ctx, _m| {
            ctx.reply_in_thread("under the mention")?;
            Ok(Reply::Ack)
        })
    });
    slack
        .send_event(json!({"type": "message", "channel": "C1", "user": "U1",
            "text": "said in thread", "ts": "2.2", "thread_ts": "2.0"}))
        .unwrap();
    slack
        .send_event(json!({"type": "message", "channel": "C2", "user": "U1",
            "text": "said top level", "ts": "3.3"}))
        .unwrap();
    slack
        .send_event(json!({"type": "app_mention", "channel": "C3", "user": "U1",
            "text": "<@U0BOT> hey", "ts": "4.4"}))
        .unwrap();
    let posts = slack.wait_for_calls("chat.postMessage", 3, SOON).unwrap();
    let by_text = |t: &str| {
        posts
            .iter()
            .find(|c| c.arg("text") == Some(t))
            .unwrap()
            .clone()
    };
    let threaded = by_text("threaded");
    assert_eq!(threaded.arg("channel"), Some("C1"));
    assert_eq!(threaded.arg("thread_ts"), Some("2.0"));
    let flat = by_text("flat");
    assert_eq!(flat.arg("channel"), Some("C2"));
    assert_eq!(flat.body.get("thread_ts"), None);
    let mention = by_text("under the mention");
    assert_eq!(mention.arg("channel"), Some("C3"));
    assert_eq!(mention.arg("thread_ts"), Some("4.4"));
    bot.shutdown().unwrap();
}

#[test]
fn message_patterns_capture_and_every_matching_event_listener_runs() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let bot = start(&slack, |b| {
        b.on_message(regex(r"^deploy (?P<env>\w+)( now)?$"), move |ctx, m| {
            let caps = ctx.matches().unwrap();
            push(
                &s1,
                format!("deploy {} {:?}", caps.name("env").unwrap(), caps.get(2)),
            );
            ctx.say(format!("deploying {}", caps.name("env").unwrap()))?;
            assert_eq!(m.user.as_deref(), Some("U1"));
            Ok(Reply::Ack)
        })
        .on_any_message(move |_ctx, m| {
            push(&s2, format!("any {}", m.text.as_deref().unwrap_or("")));
            Ok(Reply::Ack)
        })
    });
    slack
        .send_event(json!({"type": "message", "channel": "C1", "user": "U1", "text": "deploy prod now", "ts": "1.1"}))
        .unwrap();
    let call = slack.wait_for_call("chat.postMessage", SOON).unwrap();
    assert_eq!(call.arg("text"), Some("deploying prod"));
    let id = slack
        .send_event(
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "hello", "ts": "1.2"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    bot.shutdown().unwrap();
    let mut got = logged(&seen);
    got.sort();
    assert_eq!(
        got,
        [
            "any deploy prod now",
            "any hello",
            "deploy prod Some(\" now\")"
        ]
    );
}

#[test]
fn typed_event_listeners_get_their_event() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let bot = start(&slack, |b| {
        b.on::<ReactionAddedEvent>(move |ctx, ev| {
            push(
                &s1,
                format!("reaction {}", ev.reaction.as_deref().unwrap_or("")),
            );
            ctx.react("thumbsup")?; // on the reacted message
            Ok(Reply::Ack)
        })
        .on::<MemberJoinedChannelEvent>(move |ctx, ev| {
            push(&s2, format!("joined {}", ev.user.as_deref().unwrap_or("")));
            ctx.ephemeral(ev.user.as_deref().unwrap_or(""), "Welcome!")?;
            Ok(Reply::Ack)
        })
    });
    slack
        .send_event(
            json!({"type": "reaction_added", "user": "U1", "reaction": "tada",
            "item": {"type": "message", "channel": "C7", "ts": "7.7"}, "event_ts": "7.8"}),
        )
        .unwrap();
    slack
        .send_event(json!({"type": "member_joined_channel", "user": "U2", "channel": "C8"}))
        .unwrap();
    let react = slack.wait_for_call("reactions.add", SOON).unwrap();
    assert_eq!(react.arg("channel"), Some("C7"));
    assert_eq!(react.arg("timestamp"), Some("7.7"));
    assert_eq!(react.arg("name"), Some("thumbsup"));
    let eph = slack.wait_for_call("chat.postEphemeral", SOON).unwrap();
    assert_eq!(eph.arg("channel"), Some("C8"));
    assert_eq!(eph.arg("user"), Some("U2"));
    assert_eq!(eph.arg("text"), Some("Welcome!"));
    bot.shutdown().unwrap();
    let mut got = logged(&seen);
    got.sort();
    assert_eq!(got, ["joined U2", "reaction tada"]);
}

#[test]
fn respond_posts_to_the_response_url() {
    let slack = FakeSlack::start().unwrap();
    let bot = start(&slack, |b| {
        b.on_command("/later", |ctx| {
            ctx.respond(ResponseMessage::in_channel(format!(
                "done: {}",
                ctx.command()?.text
            )))?;
            Ok(Reply::Ack)
        })
        .on_action("approve", |ctx| {
            ctx.respond(ResponseMessage::ephemeral("Approved").replace_original(true))?;
            Ok(Reply::Ack)
        })
        .on_action("dismiss", |ctx| {
            ctx.delete_original()?;
            Ok(Reply::Ack)
        })
    });
    let id = slack.send_slash_command("/later", "build").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, None);
    let first = slack.wait_for_call("response_url", SOON).unwrap();
    assert_eq!(first.body["text"], "done: build");
    assert_eq!(first.body["response_type"], "in_channel");
    assert_eq!(first.token, None, "a response_url post carries no token");

    slack
        .send_interactive(json!({"type": "block_actions", "user": {"id": "U1"},
            "channel": {"id": "C1"}, "actions": [{"action_id": "approve", "type": "button"}]}))
        .unwrap();
    let calls = slack.wait_for_calls("response_url", 2, SOON).unwrap();
    assert_eq!(calls[1].body["replace_original"], true);
    assert_eq!(calls[1].body["text"], "Approved");
    slack
        .send_interactive(json!({"type": "block_actions", "user": {"id": "U1"},
            "actions": [{"action_id": "dismiss", "type": "button"}]}))
        .unwrap();
    let calls = slack.wait_for_calls("response_url", 3, SOON).unwrap();
    assert_eq!(calls[2].body["delete_original"], true);
    bot.shutdown().unwrap();
}

#[test]
fn modals_open_push_update_validate_and_close() {
    let slack = FakeSlack::start().unwrap();
    let closed: Log = Arc::default();
    let c = closed.clone();
    let bot = start(&slack, |b| {
        b.on_shortcut("new-ticket", |ctx| {
            ctx.open_modal(&modal("ticket"))?;
            Ok(Reply::Ack)
        })
        .on_action("more", |ctx| {
            ctx.push_view(&modal("details"))?;
            Ok(Reply::Ack)
        })
        .on_action("refresh", |ctx| {
            ctx.update_view(&modal("ticket"))?;
            Ok(Reply::Ack)
        })
        .on_view_submission("ticket", |ctx| {
            let title = ctx
                .view()
                .and_then(|v| v.input_value("title", "t"))
                .unwrap_or("");
            if title.len() < 3 {
                return Ok(Reply::view_errors([("title", "Too short")]));
            }
            Ok(Reply::clear_views())
        })
        .on_view_closed("ticket", move |_ctx| {
            push(&c, "closed");
            Ok(Reply::Ack)
        })
    });
    slack
        .send_interactive(json!({"type": "shortcut", "callback_id": "new-ticket",
            "trigger_id": "T-1", "user": {"id": "U1"}}))
        .unwrap();
    let open = slack.wait_for_call("views.open", SOON).unwrap();
    assert_eq!(open.arg("trigger_id"), Some("T-1"));
    assert_eq!(open.body["view"]["callback_id"], "ticket");
    let view = open.response["view"].clone();

    slack
        .send_interactive(
            json!({"type": "block_actions", "trigger_id": "T-2", "user": {"id": "U1"},
            "view": view, "actions": [{"action_id": "more"}]}),
        )
        .unwrap();
    let push_call = slack.wait_for_call("views.push", SOON).unwrap();
    assert_eq!(push_call.arg("trigger_id"), Some("T-2"));
    slack
        .send_interactive(json!({"type": "block_actions", "user": {"id": "U1"},
            "view": view, "actions": [{"action_id": "refresh"}]}))
        .unwrap();
    let update = slack.wait_for_call("views.update", SOON).unwrap();
    assert_eq!(update.arg("view_id"), view["id"].as_str());
    assert_eq!(update.arg("hash"), view["hash"].as_str());

    let submit = |title: &str| {
        json!({"type": "view_submission", "user": {"id": "U1"}, "view": {"id": view["id"],
            "callback_id": "ticket", "state": {"values": {"title": {"t": {"type": "plain_text_input", "value": title}}}}}})
    };
    let id = slack.send_interactive(submit("ab")).unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(
        ack.payload,
        Some(json!({"response_action": "errors", "errors": {"title": "Too short"}}))
    );
    let id = slack.send_interactive(submit("a real title")).unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, Some(json!({"response_action": "clear"})));

    let id = slack
        .send_interactive(json!({"type": "view_closed", "user": {"id": "U1"},
            "view": {"id": view["id"], "callback_id": "ticket"}, "is_cleared": false}))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    wait_until(SOON, "view_closed listener", || !logged(&closed).is_empty());
    bot.shutdown().unwrap();
}

#[test]
fn options_load_and_app_home_is_published() {
    let slack = FakeSlack::start().unwrap();
    let bot = start(&slack, |b| {
        b.on_options("pick_city", |_ctx, suggestion| {
            let mut o = Options::new();
            for city in ["Paris", "Lima", "Pune"] {
                if city
                    .to_lowercase()
                    .starts_with(&suggestion.value.to_lowercase())
                {
                    o = o.option(city, city.to_lowercase());
                }
            }
            Ok(o)
        })
        .on_event("app_home_opened", |ctx| {
            let user = ctx.user_id().unwrap_or_default().to_owned();
            ctx.publish_home(&user, &json!({"type": "home", "blocks": []}))?;
            Ok(Reply::Ack)
        })
    });
    let id = slack
        .send_interactive(json!({"type": "block_suggestion", "action_id": "pick_city",
            "block_id": "b", "value": "p", "user": {"id": "U1"}}))
        .unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    let payload = ack.payload.unwrap();
    let values: Vec<&str> = payload["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["paris", "pune"]);

    slack
        .send_event(
            json!({"type": "app_home_opened", "user": "U5", "channel": "D5", "tab": "home"}),
        )
        .unwrap();
    let publish = slack.wait_for_call("views.publish", SOON).unwrap();
    assert_eq!(publish.arg("user_id"), Some("U5"));
    bot.shutdown().unwrap();
}

#[test]
fn middleware_runs_in_order_and_can_stop_the_chain() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let (g, l, d, h1, h2) = (
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
    );
    let bot = start(&slack, |b| {
        b.middleware(move |ctx, next| {
            push(&g, "global");
            // An allow-list of channels: anything else stops here (acked, no listener).
            if ctx.channel_id() != Some("C_OK") {
                push(&g, "blocked");
                return Ok(Reply::Ack);
            }
            next.run(ctx)
        })
        .on_command("/admin", move |_| {
            push(&h1, "admin ran");
            Ok(Reply::payload(json!({"text": "welcome, admin"})))
        })
        .with(move |ctx, next| {
            push(&l, "listener middleware");
            if ctx.user_id() == Some("U_ADMIN") {
                next.run(ctx)
            } else {
                Ok(Reply::payload(json!({"text": "not allowed"})))
            }
        })
        .on_command("/open", move |_| {
            push(&h2, "open ran");
            Ok(Reply::Ack)
        })
        .with(move |ctx, next| {
            let answer = next.run(ctx);
            push(&d, "after open");
            answer
        })
    });
    // The testkit's slash commands come from U111 in C111: blocked by the global allow-list.
    let id = slack.send_slash_command("/open", "").unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let frame = |cmd: &str, user: &str| {
        json!({"type": "slash_commands", "accepts_response_payload": true, "payload": {
            "command": cmd, "text": "", "user_id": user, "channel_id": "C_OK",
            "response_url": slack.response_url()}})
    };
    let id = slack.send_envelope(frame("/admin", "U_NOBODY")).unwrap();
    let denied = slack.wait_for_ack(&id, SOON).unwrap();
    let id = slack.send_envelope(frame("/admin", "U_ADMIN")).unwrap();
    let allowed = slack.wait_for_ack(&id, SOON).unwrap();
    let id = slack.send_envelope(frame("/open", "U_NOBODY")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    bot.shutdown().unwrap();
    assert_eq!(denied.payload, Some(json!({"text": "not allowed"})));
    assert_eq!(allowed.payload, Some(json!({"text": "welcome, admin"})));
    assert_eq!(
        logged(&seen),
        [
            "global",
            "blocked",
            "global",
            "listener middleware",
            "global",
            "listener middleware",
            "admin ran",
            "global",
            "open ran",
            "after open"
        ]
    );
}

#[test]
fn duplicate_registrations_and_bad_patterns_refuse_to_start() {
    let slack = FakeSlack::start().unwrap();
    let ok = |_: &slack_bot::Context| Ok(Reply::Ack);
    let result = builder(&slack)
        .on_command("/deploy", ok)
        .on_command("/deploy", ok)
        .on_shortcut("s", ok)
        .on_shortcut("s", ok)
        .on_action("a", ok)
        .on_action("a", ok)
        .on_view_submission("v", ok)
        .on_view_submission("v", ok)
        .on_options("o", |_, _| Ok(Options::new()))
        .on_options("o", |_, _| Ok(Options::new()))
        .on_message(regex("deploy ("), |_, _| Ok(Reply::Ack))
        .start();
    let Err(Error::Listeners(errors)) = result else {
        panic!("duplicates were accepted");
    };
    println!("{errors:#?}");
    assert_eq!(errors.len(), 6, "{errors:?}");
    for (e, what) in errors.iter().zip(["/deploy", "s", "a", "v", "o"]) {
        assert!(e.contains(what) && e.contains("twice"), "{e}");
    }
    assert!(errors[5].contains("deploy ("), "{}", errors[5]);
    assert!(slack.connections().is_empty(), "nothing connected");
}

#[test]
fn a_panicking_listener_is_caught_counted_reported_and_the_others_run() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let (e, o) = (seen.clone(), seen.clone());
    let bot = start(&slack, |b| {
        b.on_event("message", |_| -> slack_bot::HandlerResult {
            panic!("listener bug")
        })
        .on_event("message", move |_| {
            push(&o, "other listener ran");
            Ok(Reply::Ack)
        })
        .on_command("/fail", |_| Err("the database is down".into()))
        .on_error(move |err, ctx| {
            let kind = if err.downcast_ref::<ListenerPanic>().is_some() {
                "panic"
            } else {
                "error"
            };
            push(&e, format!("{kind}: {err} ({})", ctx.envelope().kind()));
            // A failed command still gets an answer.
            if ctx.response_url().is_some() {
                let _ = ctx.respond("Sorry, that failed.");
            }
        })
    });
    let id = slack
        .send_event(
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1.1"}),
        )
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    let id = slack.send_slash_command("/fail", "").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.payload, None);
    let sorry = slack.wait_for_call("response_url", SOON).unwrap();
    assert_eq!(sorry.body["text"], "Sorry, that failed.");
    wait_until(SOON, "three notes", || logged(&seen).len() == 3);
    assert_eq!(bot.stats().handler_errors, 2);
    bot.shutdown().unwrap();
    let mut got = logged(&seen);
    got.sort();
    assert_eq!(
        got,
        [
            "error: the database is down (slash_commands)",
            "other listener ran",
            "panic: a listener panicked: listener bug (events_api)"
        ]
    );
}

#[test]
fn helpers_without_what_they_need_fail_clearly() {
    let slack = FakeSlack::start().unwrap();
    let seen: Log = Arc::default();
    let s = seen.clone();
    let bot = start(&slack, |b| {
        b.on_event("message", |ctx| {
            ctx.open_modal(&modal("m"))?;
            Ok(Reply::Ack)
        })
        .on_error(move |err, _| push(&s, err.to_string()))
    });
    slack
        .send_event(
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1.1"}),
        )
        .unwrap();
    wait_until(SOON, "the error", || !logged(&seen).is_empty());
    bot.shutdown().unwrap();
    assert_eq!(
        logged(&seen),
        ["open_modal needs a trigger_id, and this request has none"]
    );
    assert!(calls_of(&slack, "views.open").is_empty());
    let _ = Duration::ZERO;
}
