//! Tokens never show up in logs (at any level) nor in `Debug` output; `wss://` and `https://`
//! only, unless plain text is allowed explicitly.
//!
//! Alone in its test binary: it installs a process-wide `log` logger. The fault matrix
//! (`tests/fault_matrix.rs`) runs every fault with the same kind of trace-level capture; token
//! files (private, missing ones named) are covered in `tests/binary_cli.rs`.
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
use slack_bot::{Bot, Reply};

#[path = "../src/reference.rs"]
#[allow(dead_code)]
mod reference;
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
static LOGGER: std::sync::Once = std::sync::Once::new();

/// Installs the capturing logger once for the whole test binary, the way a library user
/// would: a plain logger that keeps everything, down to trace, set up through
/// `slack_bot::logging::install` (which caps the dependencies that log secrets).
fn capture_logs() {
    LOGGER.call_once(|| {
        slack_bot::logging::install(Capture, log::LevelFilter::Trace).unwrap();
    });
}

fn captured_lines() -> Vec<String> {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Captures every record it is given, at every level, from every target.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
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
    capture_logs();

    let slack = FakeSlack::builder()
        .app_token(APP_TOKEN)
        .bot_token(BOT_TOKEN)
        .refresh_grace(Duration::from_millis(300))
        .ping_interval(Duration::from_millis(200))
        .start()
        .unwrap();
    let debugs: Arc<Mutex<Vec<String>>> = Arc::default();
    let response_urls: Arc<Mutex<Vec<String>>> = Arc::default();
    let d = debugs.clone();
    let r = response_urls.clone();
    let b = reference::install(builder(&slack).bot_user_id(slack.bot_user_id()))
        .on_command("/secret", move |ctx| {
            let mut d = d.lock().unwrap();
            d.push(format!("{ctx:?}"));
            d.push(format!("{:?}", ctx.command()));
            d.push(format!("{:?}", ctx.envelope()));
            d.push(format!("{:?}", ctx.web()));
            // A response_url is a credential: ureq logs the URLs it calls at debug level.
            if let Some(url) = ctx.command().ok().and_then(|c| c.response_url.clone()) {
                ctx.web()
                    .post_response_url_json(&url, &json!({"text": "later"}))?;
                r.lock().unwrap().push(url);
            }
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
    let conns = slack.connections();
    slack.shutdown();

    let debugs = debugs.lock().unwrap();
    assert!(debugs.len() >= 6, "{debugs:?}");
    for d in debugs.iter() {
        assert_clean("a handler's Debug output", d);
    }
    let lines = captured_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("TRACE")),
        "trace records were captured"
    );
    // The socket tickets and response URLs handed out by the fake, and the path of each
    // response URL alone (its last segment is the secret).
    let mut more: Vec<String> = conns
        .iter()
        .filter_map(|c| c.target.split_once("ticket=").map(|(_, t)| t.to_owned()))
        .map(|t| t.split('&').next().unwrap_or_default().to_owned())
        .collect();
    assert!(more.len() >= 3, "{more:?}");
    let response_urls = response_urls.lock().unwrap();
    assert_eq!(
        response_urls.len(),
        1,
        "the handler posted to its response_url"
    );
    for url in response_urls.iter() {
        more.push(url.clone());
        more.push(url.rsplit('/').next().unwrap().to_owned());
    }
    for l in lines.iter() {
        assert_clean("a log line", l);
        for s in &more {
            assert!(!l.contains(s.as_str()), "a log line contains {s:?}: {l}");
        }
    }
    println!("{} log lines checked", lines.len());
}

/// `slack-bot demo` at `RUST_LOG=trace`: nothing it prints, on stdout or stderr, holds a token.
#[test]
fn demo_at_trace_level_prints_no_token() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slack-bot"))
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "trace")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.lines().filter(|l| l.contains("TRACE")).count() > 10,
        "trace logging was on: {stderr}"
    );
    let secrets = [
        slack_testkit::DEFAULT_APP_TOKEN,
        slack_testkit::DEFAULT_BOT_TOKEN,
        VERIFICATION_TOKEN,
    ];
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        for line in text.lines() {
            for s in secrets {
                assert!(
                    !line.contains(s),
                    "demo {name} holds the secret {s:?}: {line}"
                );
            }
        }
    }
    println!(
        "demo: {} stdout and {} stderr lines checked",
        stdout.lines().count(),
        stderr.lines().count()
    );
}

/// A `ws://` URL from `apps.connections.open` is refused (no socket is opened) unless plain
/// text is allowed explicitly, and the bot stops with a clear reason instead of asking for
/// URLs forever; a plain `http://` Web API URL is refused too.
#[test]
fn plain_text_urls_are_refused_unless_allowed() {
    capture_logs();
    let slack = FakeSlack::builder()
        .tls(true)
        .app_token(APP_TOKEN)
        .bot_token(BOT_TOKEN)
        .start()
        .unwrap();
    let plain = FakeSlack::builder()
        .app_token(APP_TOKEN)
        .bot_token(BOT_TOKEN)
        .start()
        .unwrap();
    // A ws:// URL (of a fake that would accept it), then good wss:// URLs.
    slack.serve_socket_urls(&plain.ws_url(), 1);
    let bot = Bot::builder(APP_TOKEN, BOT_TOKEN)
        .unwrap()
        .api_url(slack.api_url())
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .no_proxy()
        .session(common::fast_session())
        .start()
        .unwrap();
    let events = bot.events();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let stopped = loop {
        match events.recv_deadline(deadline) {
            Ok(slack_bot::BotEvent::Stopped(reason)) => break reason,
            Ok(_) => {}
            Err(e) => panic!("the bot did not stop after a refused ws:// URL: {e}"),
        }
    };
    let reason = format!("{stopped:?}");
    assert!(reason.contains("ws://"), "{reason}");
    assert!(
        plain.connections().is_empty(),
        "a ws:// socket was opened: {:?}",
        plain.connections()
    );
    assert!(slack.connections().is_empty(), "{:?}", slack.connections());
    let opens = slack
        .calls()
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .count();
    assert_eq!(opens, 1, "no second attempt after a refused ws:// URL");
    let report = bot.wait();
    assert!(format!("{report:?}").contains("ws://"), "{report:?}");

    // The same ws:// URL is fine once insecure transport is allowed explicitly.
    slack.serve_socket_urls(&plain.ws_url(), 1);
    let bot = Bot::builder(APP_TOKEN, BOT_TOKEN)
        .unwrap()
        .api_url(slack.api_url())
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .allow_insecure(true)
        .no_proxy()
        .session(common::fast_session())
        .start()
        .unwrap();
    plain.wait_for_connections(1, SOON).unwrap();
    bot.shutdown().unwrap();

    // A plain http:// Web API URL: refused before any request, with a clear reason.
    let result = Bot::builder(APP_TOKEN, BOT_TOKEN)
        .unwrap()
        .api_url(plain.api_url())
        .no_proxy()
        .start()
        .and_then(|bot| bot.wait());
    let message = match &result {
        Err(e) => e.to_string(),
        Ok(r) => panic!("a plain http:// API URL was accepted: {r:?}"),
    };
    assert!(message.contains("http://"), "{message}");
    assert_clean("the error", &format!("{result:?}"));
    assert!(plain.calls().is_empty(), "{:?}", plain.calls());

    for l in captured_lines() {
        assert_clean("a log line", &l);
    }
}
