//! `FakeSlack::stream_envelopes`: the benchmark stream (counts, window, round trips, aborts).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpStream;
use std::time::Duration;

use slack_testkit::{Error, FakeSlack, StreamSpec};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

const TEMPLATE: &str = r#"{"envelope_id":"e-{{seq}}-x","type":"events_api","payload":{"type":"event_callback","event_id":"Ev{{seq}}","event":{"type":"message","text":"hi"}},"accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}"#;

fn spec(count: u64, in_flight: usize) -> StreamSpec {
    StreamSpec {
        template: TEMPLATE.into(),
        count,
        in_flight,
        round_trips: true,
        timeout: Duration::from_secs(20),
    }
}

fn connect(slack: &FakeSlack) -> WebSocket<MaybeTlsStream<TcpStream>> {
    let (mut ws, _) = tungstenite::connect(slack.ws_url()).unwrap();
    let hello = ws.read().unwrap();
    assert!(hello.to_text().unwrap().contains("hello"));
    ws
}

#[test]
fn streams_with_the_window_and_unique_ids() {
    let slack = FakeSlack::start().unwrap();
    let mut ws = connect(&slack);
    let conn = slack.open_connections()[0];
    let client = std::thread::spawn(move || {
        let mut ids = Vec::new();
        let mut events = Vec::new();
        let mut unacked: Vec<String> = Vec::new();
        let mut max_unacked = 0;
        while ids.len() < 50 {
            let v: serde_json::Value =
                serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
            let id = v["envelope_id"].as_str().unwrap().to_owned();
            events.push(v["payload"]["event_id"].as_str().unwrap().to_owned());
            unacked.push(id.clone());
            ids.push(id);
            max_unacked = max_unacked.max(unacked.len());
            // Ack in pairs, so the window is exercised.
            if unacked.len() == 2 || ids.len() == 50 {
                for id in unacked.drain(..) {
                    let ack = format!(r#"{{"envelope_id": "{id}"}}"#);
                    ws.send(Message::text(ack)).unwrap();
                }
            }
        }
        (ids, events, max_unacked)
    });
    let report = slack.stream_envelopes(conn, spec(50, 4)).unwrap();
    let (mut ids, mut events, max_unacked) = client.join().unwrap();
    assert_eq!((report.sent, report.acked), (50, 50));
    assert!(report.aborted.is_none());
    assert_eq!(report.round_trips.len(), 50);
    assert!(max_unacked <= 4, "{max_unacked} un-acked at once");
    assert!(
        ids[0].starts_with("e-") && ids[0].ends_with("-x"),
        "{}",
        ids[0]
    );
    ids.sort();
    ids.dedup();
    events.sort();
    events.dedup();
    assert_eq!((ids.len(), events.len()), (50, 50));
    // Stream acks are not recorded as ordinary acks.
    assert!(slack.acks().is_empty());
}

#[test]
fn rejects_a_template_without_the_placeholder_in_envelope_id() {
    let slack = FakeSlack::start().unwrap();
    let _ws = connect(&slack);
    let conn = slack.open_connections()[0];
    let mut s = spec(1, 1);
    s.template = r#"{"envelope_id":"fixed","payload":{"event_id":"Ev{{seq}}"}}"#.into();
    assert!(matches!(
        slack.stream_envelopes(conn, s),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn reports_an_abort_when_the_client_goes_away() {
    let slack = FakeSlack::start().unwrap();
    let mut ws = connect(&slack);
    let conn = slack.open_connections()[0];
    let client = std::thread::spawn(move || {
        // Read one envelope, never ack, close.
        ws.read().unwrap();
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
    });
    let report = slack.stream_envelopes(conn, spec(10, 2)).unwrap();
    client.join().unwrap();
    assert_eq!(report.acked, 0);
    assert!(report.aborted.is_some());
}

#[test]
fn times_out_when_nothing_is_acked() {
    let slack = FakeSlack::start().unwrap();
    let _ws = connect(&slack);
    let conn = slack.open_connections()[0];
    let mut s = spec(10, 2);
    s.timeout = Duration::from_millis(300);
    assert!(matches!(
        slack.stream_envelopes(conn, s),
        Err(Error::Timeout(_))
    ));
}
