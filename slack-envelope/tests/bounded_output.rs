//! Errors, events and log lines never hold payload text and stay short, whatever a peer sends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use slack_envelope::{Config, ConnId, ConnectFailure, Event, Frame, Supervisor};

/// The payload marker: a run of it in any output means payload text leaked.
const MARK: &str = "zq";
const LEAK: &str = "zqzqzqzq";
/// The longest line any output may be.
const LONGEST: usize = 1024;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES
            .lock()
            .unwrap()
            .push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

/// 1 MiB of payload text (or of an id): none of it may show.
fn big() -> String {
    MARK.repeat(512 * 1024)
}

/// 1 MiB of text in a frame's type, a reason, a host name: at most a short cut may show.
fn long_name() -> String {
    "yx".repeat(512 * 1024)
}

/// Frames a broken or hostile peer might send, each with 1 MiB of text in one place.
fn hostile_frames() -> Vec<String> {
    let b = big();
    let n = long_name();
    vec![
        // A string where a number belongs.
        format!(
            r#"{{"envelope_id":"e1","type":"events_api","retry_attempt":"{b}","payload":{{"event_id":"Ev1"}}}}"#
        ),
        // A string where a bool belongs.
        format!(
            r#"{{"envelope_id":"e2","type":"slash_commands","accepts_response_payload":"{b}","payload":{{}}}}"#
        ),
        // Invalid JSON after a long string.
        format!(r#"{{"envelope_id":"e3","type":"events_api","payload":{{"x":"{b}"}} trailing"#),
        // Unterminated.
        format!(r#"{{"type":"hello","x":"{b}"#),
        // A long envelope id, a long event id.
        format!(r#"{{"envelope_id":"{b}","type":"events_api","payload":{{"event_id":"Ev4"}}}}"#),
        format!(r#"{{"envelope_id":"e5","type":"events_api","payload":{{"event_id":"{b}"}}}}"#),
        // A long unknown type, with and without an envelope id.
        format!(r#"{{"type":"{n}","x":"{b}"}}"#),
        format!(r#"{{"type":"{n}","envelope_id":"e6","payload":{{"x":"{b}"}}}}"#),
        // A long hello and a long disconnect reason.
        format!(
            r#"{{"type":"hello","debug_info":{{"host":"{n}","started":"{n}"}},"connection_info":{{"app_id":"{n}"}}}}"#
        ),
        format!(r#"{{"type":"disconnect","reason":"{n}","debug_info":{{"host":"{n}"}}}}"#),
        // A wrongly typed field in a payload, read later by a typed view.
        format!(
            r#"{{"envelope_id":"e7","type":"events_api","payload":{{"type":"event_callback","event_id":"Ev7","event":{{"type":"message","ts":{{"{b}":1}},"text":7}}}}}}"#
        ),
        format!(
            r#"{{"envelope_id":"e8","type":"slash_commands","payload":{{"command":["{b}"]}}}}"#
        ),
        format!(
            r#"{{"envelope_id":"e9","type":"interactive","payload":{{"type":"block_actions","actions":"{b}"}}}}"#
        ),
    ]
}

fn check(what: &str, text: &str) {
    assert!(
        !text.contains(LEAK),
        "{what} holds payload text: {:.200}",
        text
    );
    assert!(
        text.len() <= LONGEST,
        "{what} is {} bytes: {:.200}",
        text.len(),
        text
    );
}

#[test]
fn nothing_a_peer_sends_is_echoed_in_errors_events_or_logs() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    // Parse errors and typed views, directly.
    for f in hostile_frames() {
        match Frame::parse(f) {
            Err(e) => check("a parse error", &e.to_string()),
            Ok(frame) => {
                check("a parsed frame's Debug", &format!("{frame:?}"));
                if let Frame::Envelope(env) = &frame {
                    for r in [
                        env.events_api().err(),
                        env.slash_command().err(),
                        env.interactive().err(),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        check("a typed view's error", &r.to_string());
                        check("a typed view's error's Debug", &format!("{r:?}"));
                    }
                }
            }
        }
    }

    // Through the supervisor: every event it reports.
    let t0 = Instant::now();
    let mut sup = Supervisor::new(Config::default()).unwrap();
    sup.start(t0);
    let mut events = Vec::new();
    let conn = ConnId(1);
    sup.handle_connected(t0, conn).unwrap();
    sup.handle_text(t0, conn, r#"{"type":"hello"}"#.to_owned())
        .unwrap();
    for f in hostile_frames() {
        let _ = sup.handle_text(t0, conn, f);
        while let Some(e) = sup.poll_event() {
            events.push(e);
        }
    }
    // Acks with long ids, a connect failure and a close reason that quote a server.
    for r in [
        sup.ack(t0, &long_name()),
        sup.ack_json(t0, "e2", Some("{}")),
    ] {
        if let Err(e) = r {
            check("an ack error", &e.to_string());
            check("an ack error's Debug", &format!("{e:?}"));
        }
    }
    sup.handle_closed(t0, conn, Some(1011), &long_name())
        .unwrap();
    let t1 = t0 + Duration::from_secs(60);
    sup.handle_timeout(t1);
    while let Some(e) = sup.poll_event() {
        if let Event::Connect { conn } = &e {
            sup.handle_connect_failed(t1, *conn, ConnectFailure::Transient { error: long_name() });
        }
        events.push(e);
    }
    while let Some(e) = sup.poll_event() {
        events.push(e);
    }
    assert!(events.len() > 10, "{events:?}");
    for e in &events {
        check("an event's Debug", &format!("{e:?}"));
        if let Event::Lifecycle(slack_envelope::Lifecycle::Error { message, .. }) = e {
            check("an error event's message", message);
        }
        if let Event::Lifecycle(slack_envelope::Lifecycle::Disconnected { cause, .. }) = e {
            check("a cause", &cause.to_string());
        }
    }
    let lines = LINES.lock().unwrap();
    assert!(!lines.is_empty());
    for l in lines.iter() {
        check("a log line", l);
    }
}
