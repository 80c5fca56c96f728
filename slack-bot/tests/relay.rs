//! The relay end to end: fake Slack → bot with the relay → a small HTTP app on loopback that
//! checks the signature the way Slack's SDKs do. (`cargo xtask relay-check` does the same with
//! Bolt for Python.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{SOON, builder};
use serde_json::{Value, json};
use slack_bot::relay::{Relay, SigningSecret};
use slack_testkit::FakeSlack;

const SECRET: &str = "relay-test-secret-8f742231b10e";

/// One request the app received.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// What the app answers: status, content type, body.
type Answer = (u16, &'static str, String);

/// A one-thread HTTP/1.1 app on 127.0.0.1: records each request and answers with `answer`.
struct App {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl App {
    fn start(answer: impl Fn(&Received) -> Answer + Send + 'static) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/slack/events", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut headers = HashMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let r = Received {
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let (status, ct, text) = answer(&r);
                rec.lock().unwrap().push(r);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        App { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Checks the request the way Bolt does: timestamp within 5 minutes, `v0=` HMAC-SHA256.
fn verified(r: &Received) -> bool {
    let Some(ts) = r.headers.get("x-slack-request-timestamp") else {
        return false;
    };
    let Ok(ts) = ts.parse::<u64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(ts) > 300 {
        return false;
    }
    let want = SigningSecret::new(SECRET)
        .unwrap()
        .sign(ts, r.body.as_bytes());
    r.headers.get("x-slack-signature") == Some(&want)
}

/// Slack's redelivery after `ack_timeout` (3 s in real Slack) is shortened where a test waits
/// for one.
fn start(
    ack_timeout: Duration,
    answer: impl Fn(&Received) -> Answer + Send + 'static,
) -> (FakeSlack, App, slack_bot::RunningBot) {
    let slack = FakeSlack::builder()
        .ack_timeout(ack_timeout)
        .max_retries(3)
        .start()
        .unwrap();
    let app = App::start(answer);
    let relay = Relay::new(app.url.clone(), SigningSecret::new(SECRET).unwrap())
        .unwrap()
        .timeout(Duration::from_secs(5));
    let bot = relay.install(builder(&slack)).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    (slack, app, bot)
}

fn ok(body: &str, ct: &'static str) -> Answer {
    (200, ct, body.to_owned())
}

#[test]
fn events_commands_and_interactions_arrive_signed_and_answers_become_acks() {
    let (slack, app, bot) = start(Duration::from_secs(3), |r| {
        if !verified(r) {
            return (401, "text/plain", "invalid signature".to_owned());
        }
        let ct = r.headers.get("content-type").cloned().unwrap_or_default();
        if ct.starts_with("application/json") {
            ok("", "text/plain")
        } else if r.body.contains("command=%2Fhello") {
            ok("Hi from the app", "text/plain")
        } else if r.body.starts_with("payload=") {
            ok(
                r#"{"response_action":"errors","errors":{"b1":"too short"}}"#,
                "application/json",
            )
        } else {
            (400, "text/plain", String::new())
        }
    });
    let ev = slack
        .send_event(json!({"type": "app_mention", "channel": "C1", "text": "<@U0> hi"}))
        .unwrap();
    let a = slack.wait_for_ack(&ev, SOON).unwrap();
    assert_eq!(a.payload, None);
    let cmd = slack.send_slash_command("/hello", "a b&c").unwrap();
    let a = slack.wait_for_ack(&cmd, SOON).unwrap();
    assert_eq!(a.payload, Some(json!({"text": "Hi from the app"})));
    let view = slack
        .send_interactive(
            json!({"type": "view_submission", "view": {"id": "V1", "callback_id": "m"}}),
        )
        .unwrap();
    let a = slack.wait_for_ack(&view, SOON).unwrap();
    assert_eq!(
        a.payload,
        Some(json!({"response_action": "errors", "errors": {"b1": "too short"}}))
    );
    let got = app.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(verified), "{got:?}");
    // The event's JSON body is the Socket Mode payload, unchanged.
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "event_callback");
    assert_eq!(body["event"]["text"], "<@U0> hi");
    assert_eq!(
        got[1].headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    assert!(got[1].body.contains("text=a+b%26c"), "{}", got[1].body);
    assert!(!got[0].headers.contains_key("x-slack-retry-num"));
    assert_eq!(bot.stats().declined, 0);
    bot.shutdown().unwrap();
}

#[test]
fn a_failing_app_leaves_the_envelope_for_slack_to_redeliver() {
    // 500 for the first delivery, 200 for the redelivery.
    let (slack, app, bot) = start(Duration::from_millis(800), |r| {
        if r.headers.contains_key("x-slack-retry-num") {
            ok("", "text/plain")
        } else {
            (500, "text/plain", "boom".to_owned())
        }
    });
    let ev = slack
        .send_event(json!({"type": "message", "channel": "C1", "text": "hi", "ts": "1.1"}))
        .unwrap();
    let a = slack.wait_for_ack(&ev, SOON).unwrap();
    assert_eq!(a.retry_attempt, 1, "only the redelivery is acked: {a:?}");
    let got = app.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[1].headers.get("x-slack-retry-num").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        got[1]
            .headers
            .get("x-slack-retry-reason")
            .map(String::as_str),
        Some("timeout")
    );
    // The same event both times (Bolt and others dedupe on event_id themselves).
    assert_eq!(got[0].body, got[1].body);
    assert!(
        slack
            .acks()
            .iter()
            .all(|a| a.first_envelope_id != ev || a.retry_attempt == 1),
        "the first delivery was never acked"
    );
    assert_eq!(bot.stats().declined, 1);
    bot.shutdown().unwrap();
}

#[test]
fn an_unreachable_app_acks_nothing() {
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_millis(500))
        .max_retries(1)
        .start()
        .unwrap();
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = Relay::new(
        format!("http://127.0.0.1:{port}/slack/events"),
        SigningSecret::new(SECRET).unwrap(),
    )
    .unwrap();
    let bot = relay.install(builder(&slack)).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let ev = slack
        .send_event(json!({"type": "message", "text": "x"}))
        .unwrap();
    common::wait_until(SOON, "two declines", || bot.stats().declined >= 2);
    assert!(
        slack.wait_for_ack(&ev, Duration::from_millis(300)).is_err(),
        "{:?}",
        slack.acks()
    );
    bot.shutdown().unwrap();
}

#[test]
fn a_late_slash_command_answer_goes_to_the_response_url() {
    let (slack, _app, bot) = start(Duration::from_secs(3), |r| {
        if r.body.contains("command=%2Fslow") {
            std::thread::sleep(Duration::from_millis(3000));
            ok("done, slowly", "text/plain")
        } else {
            ok("", "text/plain")
        }
    });
    let cmd = slack.send_slash_command("/slow", "").unwrap();
    // The ack goes out empty before Slack's deadline...
    let a = slack.wait_for_ack(&cmd, SOON).unwrap();
    assert_eq!(a.payload, None);
    // ...and the answer follows on the response_url.
    let call = slack.wait_for_call("response_url", SOON).unwrap();
    assert_eq!(call.arg("text"), Some("done, slowly"));
    bot.shutdown().unwrap();
}
