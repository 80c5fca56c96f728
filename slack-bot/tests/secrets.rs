//! Tokens never show up in logs (at any level) nor in `Debug` output.
//!
//! Alone in its test binary: it installs a process-wide `log` logger.
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

use common::{SOON, builder, message, wait_until};
use serde_json::json;
use slack_bot::{Bot, Reply, reference};
use slack_testkit::FakeSlack;

const APP_TOKEN: &str = "xapp-1-A111-222-appsecretAPPSECRET";
const BOT_TOKEN: &str = "xoxb-111-222-botsecretBOTSECRET";
/// The verification token the fake puts in every payload's `token` field.
const VERIFICATION_TOKEN: &str = "verification-token";
const SECRETS: [&str; 5] = [
    APP_TOKEN,
    BOT_TOKEN,
    "appsecretAPPSECRET",
    "botsecretBOTSECRET",
    VERIFICATION_TOKEN,
];

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Captures every record at every level.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        // Two dependencies log raw traffic at trace level, which no library can stop (the
        // application's logger decides), so this logger leaves them out, as an application
        // must (the `slack-bot` binary caps them too):
        // * ureq's lower layer (`ureq_proto`) hex-dumps whole requests, the `Authorization`
        //   header (bot or app token) included;
        // * tungstenite logs the handshake request (the socket URL's ticket) under
        //   `tungstenite::handshake` and every received frame under `tungstenite::protocol`
        //   ("Received message {...}": the whole envelope, the payload's verification
        //   `token` included).
        // Everything else is captured, down to trace.
        let target = record.target();
        if target.starts_with("ureq_proto")
            || (target.starts_with("tungstenite") && record.level() == log::Level::Trace)
        {
            return;
        }
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        LINES.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "{what} contains the secret {s:?}: {text}"
        );
    }
}

#[test]
fn tokens_never_appear_in_logs_or_debug_output() {
    log::set_boxed_logger(Box::new(Capture)).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let slack = FakeSlack::builder()
        .app_token(APP_TOKEN)
        .bot_token(BOT_TOKEN)
        .refresh_grace(Duration::from_millis(300))
        .ping_interval(Duration::from_millis(200))
        .start()
        .unwrap();
    let debugs: Arc<Mutex<Vec<String>>> = Arc::default();
    let d = debugs.clone();
    let b = reference::install(builder(&slack).bot_user_id(slack.bot_user_id()))
        .on_command("/secret", move |ctx| {
            let mut d = d.lock().unwrap();
            d.push(format!("{ctx:?}"));
            d.push(format!("{:?}", ctx.command()));
            d.push(format!("{:?}", ctx.envelope()));
            d.push(format!("{:?}", ctx.web()));
            Ok(Reply::Payload(json!({"text": "ok"})))
        })
        .on_any_event({
            let d = debugs.clone();
            move |ctx| {
                let mut d = d.lock().unwrap();
                d.push(format!("{ctx:?}"));
                d.push(format!("{:?}", ctx.event()));
                Ok(Reply::Ack)
            }
        })
        .on_interactive(Some("block_actions"), None, None, {
            let d = debugs.clone();
            move |ctx| {
                d.lock().unwrap().push(format!("{:?}", ctx.interaction()));
                Ok(Reply::Ack)
            }
        });
    assert_clean("the builder's Debug", &format!("{b:?}"));
    assert_clean(
        "a token error",
        &format!(
            "{:?}",
            Bot::builder("xoxb-wrong-appsecretAPPSECRET", BOT_TOKEN).unwrap_err()
        ),
    );
    let bot = b.start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    assert_clean("the bot's Debug", &format!("{bot:?}"));

    // Exercise events, a command, an interaction, a 429, a refresh and a dropped link.
    let me = slack.bot_user_id();
    slack.rate_limit("chat.postMessage", 1, 1);
    let mut ids = vec![
        slack.send_event(message("C1", "hello", "10.1")).unwrap(),
        slack
            .send_event(json!({"type": "app_mention", "channel": "C1", "user": "U1",
                "text": format!("<@{me}> hi"), "ts": "10.2"}))
            .unwrap(),
        slack
            .send_event(
                json!({"type": "reaction_added", "user": "U1", "reaction": "tada",
                "item": {"type": "message", "channel": "C1", "ts": "10.1"}}),
            )
            .unwrap(),
        slack.send_slash_command("/secret", "psst").unwrap(),
        slack
            .send_interactive(json!({"type": "block_actions", "user": {"id": "U1"},
                "token": VERIFICATION_TOKEN, "trigger_id": "1.2.3",
                "actions": [{"type": "button", "action_id": "other", "value": "v"}]}))
            .unwrap(),
    ];
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    slack.wait_for_calls("chat.postMessage", 2, SOON).unwrap();
    let first = slack.open_connections()[0];
    slack.disconnect(first, "refresh_requested").unwrap();
    slack.wait_for_close(first, SOON).unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let second = slack.open_connections()[0];
    slack.fault(second, slack_testkit::Fault::DropTcp).unwrap();
    wait_until(SOON, "a third connection", || {
        slack.connections().len() >= 3
    });
    ids.push(slack.send_event(message("C1", "again", "10.3")).unwrap());
    slack.wait_for_ack(ids.last().unwrap(), SOON).unwrap();

    let events: Vec<_> = bot.events().try_iter().collect();
    assert!(!events.is_empty());
    assert_clean("lifecycle events", &format!("{events:?}"));
    assert_clean("stats", &format!("{:?}", bot.stats()));
    assert_clean("the stopper", &format!("{:?}", bot.stopper()));
    let report = bot.shutdown().unwrap();
    assert_clean("the run report", &format!("{report:?}"));
    slack.shutdown();

    let debugs = debugs.lock().unwrap();
    assert!(debugs.len() >= 6, "{debugs:?}");
    for d in debugs.iter() {
        assert_clean("a handler's Debug output", d);
    }
    let lines = LINES.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("TRACE")),
        "trace records were captured"
    );
    for l in lines.iter() {
        assert_clean("a log line", l);
    }
    println!("{} log lines checked", lines.len());
}
