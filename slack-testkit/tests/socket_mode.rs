//! Socket Mode behaviour of the fake, driven by raw tungstenite and raw HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use slack_testkit::{FakeSlack, Fault, Garbage, OpenError};
use tungstenite::Message;

#[test]
fn hello_then_event_then_ack() {
    let slack = FakeSlack::start().unwrap();
    let (mut ws, hello) = ws_connect(&slack.ws_url());
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"]["app_id"], "A111");
    assert!(hello["debug_info"]["approximate_connection_time"].is_u64());
    slack.wait_for_connections(1, T).unwrap();

    let id = slack
        .send_event(json!({"type":"message","text":"hi","channel":"C1"}))
        .unwrap();
    let env = read_json(&mut ws);
    assert_eq!(env["envelope_id"], id.as_str());
    assert_eq!(env["type"], "events_api");
    assert_eq!(env["retry_attempt"], 0);
    assert_eq!(env["payload"]["type"], "event_callback");
    assert!(
        env["payload"]["event_id"]
            .as_str()
            .unwrap()
            .starts_with("Ev")
    );
    assert_eq!(env["payload"]["event"]["text"], "hi");
    ws.send(Message::text(
        json!({"envelope_id": id, "payload": {"x": 1}}).to_string(),
    ))
    .unwrap();
    let ack = slack.wait_for_ack(&id, T).unwrap();
    assert!(ack.known);
    assert_eq!(ack.payload, Some(json!({"x": 1})));
    assert_eq!(ack.connection, slack.connections()[0].id);
    assert_eq!(slack.acks().len(), 1);
}

#[test]
fn tickets_are_checked_and_single_use() {
    let slack = FakeSlack::start().unwrap();
    let url = slack.ws_url();
    let (_ws, _) = ws_connect(&url);
    assert!(
        tungstenite::connect(url.as_str()).is_err(),
        "a ticket works once"
    );
    let bad = format!("ws://{}/link/?ticket=nope", slack.addr());
    assert!(tungstenite::connect(bad.as_str()).is_err());
}

#[test]
fn slash_command_and_interactive_helpers() {
    let slack = FakeSlack::start().unwrap();
    let (mut ws, _) = ws_connect(&slack.ws_url());
    let id = slack.send_slash_command("/deploy", "now").unwrap();
    let env = read_json(&mut ws);
    assert_eq!(env["type"], "slash_commands");
    assert_eq!(env["accepts_response_payload"], true);
    assert_eq!(env["payload"]["command"], "/deploy");
    let response_url = env["payload"]["response_url"].as_str().unwrap().to_string();
    ws.send(Message::text(
        json!({"envelope_id": id, "payload": {"text": "deploying"}}).to_string(),
    ))
    .unwrap();
    assert_eq!(
        slack.wait_for_ack(&id, T).unwrap().payload.unwrap()["text"],
        "deploying"
    );

    // response_url accepts 5 posts.
    let path = format!("/{}", response_url.splitn(4, '/').nth(3).unwrap());
    for _ in 0..5 {
        let r = request(
            &slack.api_url(),
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            r#"{"text":"later"}"#,
        );
        assert_eq!(r.status, 200);
    }
    let r = request(
        &slack.api_url(),
        "POST",
        &path,
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "used_url");
    let calls = slack.wait_for_calls("response_url", 6, T).unwrap();
    assert_eq!(calls[0].body["text"], "later");

    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/interactive_view_submission.json"))
            .unwrap_or_else(|_| json!({"type": "view_submission", "view": {"id": "V1"}}));
    let id = slack.send_interactive(fixture).unwrap();
    let env = read_json(&mut ws);
    assert_eq!(env["type"], "interactive");
    assert_eq!(env["accepts_response_payload"], true);
    ack(&mut ws, &id);
    slack.wait_for_ack(&id, T).unwrap();
}

#[test]
fn unacked_envelopes_are_redelivered_with_the_same_event_id() {
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_millis(100))
        .start()
        .unwrap();
    let (mut ws, _) = ws_connect(&slack.ws_url());
    let id = slack.send_event(json!({"type":"reaction_added"})).unwrap();
    let first = read_json(&mut ws);
    let event_id = first["payload"]["event_id"].clone();
    let mut seen = vec![first];
    for attempt in 1..=3 {
        let env = read_json(&mut ws);
        assert_eq!(env["retry_attempt"], attempt);
        assert_eq!(env["retry_reason"], "timeout");
        assert_eq!(env["payload"]["event_id"], event_id);
        assert_ne!(env["envelope_id"], id.as_str());
        seen.push(env);
    }
    // Ack the last redelivery: it counts for the original id.
    let last_id = seen[3]["envelope_id"].as_str().unwrap().to_string();
    ack(&mut ws, &last_id);
    let a = slack.wait_for_ack(&id, T).unwrap();
    assert_eq!(a.retry_attempt, 3);
    assert_eq!(a.first_envelope_id, id);
}

#[test]
fn envelopes_wait_for_a_connection_and_spread_over_connections() {
    let slack = FakeSlack::start().unwrap();
    let id = slack.send_event(json!({"type":"message"})).unwrap();
    let (mut a, _) = ws_connect(&slack.ws_url());
    assert_eq!(read_json(&mut a)["envelope_id"], id.as_str());
    let (mut b, hello) = ws_connect(&slack.ws_url());
    assert_eq!(hello["num_connections"], 2);
    let ids: Vec<String> = (0..4)
        .map(|_| slack.send_event(json!({"type":"message"})).unwrap())
        .collect();
    let got_a = [read_json(&mut a), read_json(&mut a)];
    let got_b = [read_json(&mut b), read_json(&mut b)];
    for e in got_a.iter().chain(got_b.iter()) {
        assert!(ids.contains(&e["envelope_id"].as_str().unwrap().to_string()));
    }
}

#[test]
fn eleventh_connection_gets_too_many_websockets() {
    let slack = FakeSlack::builder().max_connections(2).start().unwrap();
    let _a = ws_connect(&slack.ws_url());
    let _b = ws_connect(&slack.ws_url());
    let (mut c, _) = tungstenite::connect(slack.ws_url()).unwrap();
    let msg = read_json(&mut c);
    assert_eq!(msg["type"], "disconnect");
    assert_eq!(msg["reason"], "too_many_websockets");
    loop {
        match c.read() {
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert!(slack.connections().iter().any(|c| c.refused && !c.open));
    assert_eq!(slack.open_connections().len(), 2);
}

#[test]
fn refresh_requested_keeps_the_old_link_briefly_then_closes_it() {
    let slack = FakeSlack::builder()
        .refresh_grace(Duration::from_millis(300))
        .start()
        .unwrap();
    let (mut old, _) = ws_connect(&slack.ws_url());
    let conn = slack.open_connections()[0];
    slack.disconnect(conn, "refresh_requested").unwrap();
    let d = read_json(&mut old);
    assert_eq!(d["type"], "disconnect");
    assert_eq!(d["reason"], "refresh_requested");
    // New envelopes go to the new link only, and the old one still takes acks.
    let (mut new, _) = ws_connect(&slack.ws_url());
    let id = slack.send_event(json!({"type":"message"})).unwrap();
    assert_eq!(read_json(&mut new)["envelope_id"], id.as_str());
    loop {
        match old.read() {
            Ok(Message::Close(f)) => {
                assert_eq!(
                    f.unwrap().code,
                    tungstenite::protocol::frame::coding::CloseCode::Normal
                );
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    }
    let info = slack.wait_for_close(conn, T).unwrap();
    assert!(!info.open);
    assert_eq!(info.disconnect_sent.as_deref(), Some("refresh_requested"));
}

#[test]
fn pings_are_answered_until_told_otherwise() {
    let slack = FakeSlack::start().unwrap();
    let (mut ws, _) = ws_connect(&slack.ws_url());
    ws.send(Message::Ping(b"p1".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"p1".to_vec().into()));
    let conn = slack.open_connections()[0];
    slack.fault(conn, Fault::WithholdPongs).unwrap();
    ws.send(Message::Ping(b"p2".to_vec().into())).unwrap();
    // Something else still arrives, but no pong first.
    let id = slack.send_event(json!({"type":"message"})).unwrap();
    match ws.read().unwrap() {
        Message::Text(t) => assert!(t.contains(&id)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn delayed_pongs_arrive_late() {
    let slack = FakeSlack::start().unwrap();
    let (mut ws, _) = ws_connect(&slack.ws_url());
    let conn = slack.open_connections()[0];
    slack
        .fault(conn, Fault::DelayPongs(Duration::from_millis(200)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    ws.send(Message::Ping(b"late".to_vec().into())).unwrap();
    let id = slack.send_event(json!({"type":"message"})).unwrap();
    match ws.read().unwrap() {
        Message::Text(t) => assert!(t.contains(&id)),
        other => panic!("expected the envelope before the pong, got {other:?}"),
    }
    assert_eq!(ws.read().unwrap(), Message::Pong(b"late".to_vec().into()));
}

#[test]
fn drop_tcp_and_silent_faults() {
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let (mut a, _) = ws_connect(&slack.ws_url());
    let conn_a = slack.open_connections()[0];
    slack.fault(conn_a, Fault::DropTcp).unwrap();
    match a.read() {
        Err(_) => {}
        Ok(m) => panic!("expected a dropped connection, got {m:?}"),
    }
    let info = slack.wait_for_close(conn_a, T).unwrap();
    assert_eq!(info.close_reason.as_deref(), Some("fault: drop_tcp"));

    // Silent: nothing arrives (read times out), and the envelope is redelivered elsewhere.
    let (mut b, _) = ws_connect(&slack.ws_url());
    let conn_b = slack.open_connections()[0];
    slack.fault(conn_b, Fault::Silent).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let id = slack.send_event(json!({"type":"message"})).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = b.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    b.send(Message::Ping(b"x".to_vec().into())).unwrap();
    assert!(
        b.read().is_err(),
        "a silent link sends nothing, not even pongs"
    );
    let (mut c, _) = ws_connect(&slack.ws_url());
    // Redeliveries may still pick the silent link (Slack cannot tell either); one reaches `c`.
    let env = read_json(&mut c);
    let attempt = env["retry_attempt"].as_u64().unwrap();
    assert!(attempt >= 1);
    ack(&mut c, env["envelope_id"].as_str().unwrap());
    assert_eq!(
        u64::from(slack.wait_for_ack(&id, T).unwrap().retry_attempt),
        attempt
    );
}

#[test]
fn garbage_frames() {
    let slack = FakeSlack::start().unwrap();
    let (mut ws, _) = ws_connect(&slack.ws_url());
    let conn = slack.open_connections()[0];
    slack
        .fault(conn, Fault::Garbage(Garbage::InvalidJson))
        .unwrap();
    assert!(ws.read().unwrap().to_text().unwrap().starts_with("{this"));
    slack.fault(conn, Fault::Garbage(Garbage::Binary)).unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Binary(_)));
    slack
        .fault(conn, Fault::Garbage(Garbage::UnknownEnvelopeType))
        .unwrap();
    let v = read_json(&mut ws);
    assert_eq!(v["type"], "testkit_unknown_type");
    ack(&mut ws, v["envelope_id"].as_str().unwrap());
    let a = slack
        .wait_for_ack(v["envelope_id"].as_str().unwrap(), T)
        .unwrap();
    assert!(!a.known);
    slack
        .fault(conn, Fault::Garbage(Garbage::MissingFields))
        .unwrap();
    assert_eq!(read_json(&mut ws), json!({"type":"events_api"}));
    slack.fault(conn, Fault::Oversized(100_000)).unwrap();
    let big = ws.read().unwrap();
    assert!(big.len() >= 99_000);
}

#[test]
fn close_keep_tcp_closes_the_websocket_only() {
    let slack = FakeSlack::start().unwrap();
    let (mut ws, _) = ws_connect(&slack.ws_url());
    let conn = slack.open_connections()[0];
    slack.fault(conn, Fault::CloseKeepTcp).unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    // tungstenite replies to the close and then waits for the server to drop TCP: it does not.
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    match ws.read() {
        Err(tungstenite::Error::Io(e)) => assert!(matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        other => panic!("expected the tcp connection to stay open, got {other:?}"),
    }
    assert!(!slack.wait_for_close(conn, T).unwrap().open);
}

#[test]
fn hostile_client_bytes_do_not_hurt_the_fake() {
    use std::io::Write;
    let slack = FakeSlack::start().unwrap();
    // Raw garbage instead of HTTP.
    let mut s = std::net::TcpStream::connect(slack.addr()).unwrap();
    s.write_all(b"\x16\x03\x01garbage\r\n\r\n").unwrap();
    // An upgrade, then unmasked and malformed frames.
    let (ws, _) = ws_connect(&slack.ws_url());
    let mut raw = match ws.into_inner() {
        tungstenite::stream::MaybeTlsStream::Plain(s) => s,
        _ => unreachable!(),
    };
    raw.write_all(&[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'])
        .unwrap();
    raw.write_all(&[0xff; 64]).unwrap();
    let conn = slack.connections()[0].id;
    slack.wait_for_close(conn, T).unwrap();
    // Still serving.
    let (_ws2, hello) = ws_connect(&slack.ws_url());
    assert_eq!(hello["type"], "hello");
}

#[test]
fn connections_open_failures_and_tokens() {
    let slack = FakeSlack::start().unwrap();
    let api = slack.api_url();
    let r = api_json(
        &api,
        "apps.connections.open",
        &slack.app_token(),
        &json!({}),
    );
    assert_eq!(r.status, 200);
    let url = r.json()["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("ws://127.0.0.1:"));
    let (_ws, hello) = ws_connect(&url);
    assert_eq!(hello["type"], "hello");
    assert_eq!(
        api_json(
            &api,
            "apps.connections.open",
            &slack.bot_token(),
            &json!({})
        )
        .json()["error"],
        "not_allowed_token_type"
    );
    assert_eq!(
        api_json(&api, "apps.connections.open", "xapp-wrong", &json!({})).json()["error"],
        "invalid_auth"
    );
    let r = request(&api, "POST", "/api/apps.connections.open", &[], "");
    assert_eq!(r.json()["error"], "not_authed");

    slack.fail_connections_open(
        1,
        OpenError::Ratelimited {
            retry_after_secs: 7,
        },
    );
    slack.fail_connections_open(1, OpenError::InternalError);
    let r = api_json(
        &api,
        "apps.connections.open",
        &slack.app_token(),
        &json!({}),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after").as_deref(), Some("7"));
    assert_eq!(r.json()["error"], "ratelimited");
    let r = api_json(
        &api,
        "apps.connections.open",
        &slack.app_token(),
        &json!({}),
    );
    assert_eq!(r.json()["error"], "internal_error");
    let r = api_json(
        &api,
        "apps.connections.open",
        &slack.app_token(),
        &json!({}),
    );
    assert_eq!(r.json()["ok"], true);
    let calls = slack.calls();
    assert!(calls.iter().all(|c| c.method == "apps.connections.open"));
    assert_eq!(calls[0].token.as_deref(), Some(slack.app_token().as_str()));
}
