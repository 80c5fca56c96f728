//! Integration tests against `slack-testkit` on 127.0.0.1. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use serde_json::json;
use slack_testkit::{FakeSlack, Fault, Proxy};
use slack_transport::{
    ClosedBy, Config, Connection, Error, Incoming, IoThreads, Outgoing, ProxyConfig, connect,
    connect_decoded,
};

const WAIT: Duration = Duration::from_secs(10);

fn config_for(slack: &FakeSlack) -> Config {
    let _ = env_logger::builder().is_test(true).try_init();
    let config = Config::default()
        .proxy(ProxyConfig::None)
        .allow_insecure_ws(true)
        .close_timeout(Duration::from_millis(500));
    match slack.ca_pem() {
        Some(pem) => config.add_root_certs_pem(pem),
        None => config,
    }
}

/// The next event other than a ping.
fn next<T>(conn: &Connection<T>) -> Incoming<T> {
    loop {
        match conn.receiver.recv_timeout(WAIT) {
            Ok(Incoming::Ping { .. }) => continue,
            Ok(event) => return event,
            Err(e) => panic!("no event within {WAIT:?}: {e}"),
        }
    }
}

fn next_text<T: std::fmt::Debug>(conn: &Connection<T>) -> T {
    match next(conn) {
        Incoming::Text(t) => t,
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Waits for `Closed` (skipping frames), then checks that the channel disconnects.
fn wait_closed<T>(conn: &Connection<T>) -> (Option<u16>, String, ClosedBy) {
    loop {
        match conn.receiver.recv_timeout(WAIT) {
            Ok(Incoming::Closed { code, reason, by }) => {
                assert!(matches!(
                    conn.receiver.recv_timeout(WAIT),
                    Err(RecvTimeoutError::Disconnected)
                ));
                return (code, reason, by);
            }
            Ok(_) => continue,
            Err(e) => panic!("no Closed within {WAIT:?}: {e}"),
        }
    }
}

/// `IoThreads::join`, bounded.
fn join_within(threads: IoThreads, limit: Duration) -> Result<(), Error> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(threads.join());
    });
    rx.recv_timeout(limit)
        .expect("io threads did not end in time")
}

fn expect_hello(conn: &Connection) {
    let hello = next_text(conn);
    assert!(hello.contains(r#""type":"hello""#), "{hello}");
}

fn round_trip(slack: &FakeSlack, conn: &Connection) {
    expect_hello(conn);
    let id = slack
        .send_event(json!({"type": "app_mention", "text": "hi", "channel": "C1"}))
        .unwrap();
    let envelope = next_text(conn);
    assert!(envelope.contains(&id), "{envelope}");
    conn.sender
        .send(Outgoing::Text(json!({ "envelope_id": id }).to_string()))
        .unwrap();
    let ack = slack.wait_for_ack(&id, WAIT).unwrap();
    assert!(ack.known);
}

fn close_cleanly<T>(conn: Connection<T>, threads: IoThreads) {
    conn.sender
        .send(Outgoing::Close {
            code: 1000,
            reason: "bye".into(),
        })
        .unwrap();
    let (code, _, by) = wait_closed(&conn);
    assert_eq!(by, ClosedBy::Local);
    assert_eq!(code, Some(1000));
    drop(conn);
    join_within(threads, WAIT).unwrap();
}

#[test]
fn text_round_trip_over_ws() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads) = connect(&slack.ws_url(), &config_for(&slack)).unwrap();
    round_trip(&slack, &conn);
    close_cleanly(conn, threads);
}

/// Text frames are decoded on the connection's I/O thread, in order; every other event,
/// the final `Closed` included, comes through unchanged.
#[test]
fn text_frames_are_decoded_on_the_io_thread() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads) = connect_decoded(&slack.ws_url(), &config_for(&slack), |text| {
        let thread = std::thread::current().name().map(str::to_owned);
        (text, thread)
    })
    .unwrap();
    let (hello, thread) = next_text(&conn);
    assert!(hello.contains(r#""type":"hello""#), "{hello}");
    assert_eq!(thread.as_deref(), Some("slack-ws-io"));
    let ids: Vec<String> = (0..20)
        .map(|i| {
            slack
                .send_event(
                    json!({"type": "app_mention", "text": format!("n{i}"), "channel": "C1"}),
                )
                .unwrap()
        })
        .collect();
    for id in &ids {
        let (text, thread) = next_text(&conn);
        assert!(text.contains(id.as_str()), "out of order: {text}");
        assert_eq!(thread.as_deref(), Some("slack-ws-io"));
    }
    close_cleanly(conn, threads);
}

/// A decoder that panics closes the connection; the caller still gets `Closed` and the
/// channel still disconnects (nothing waits forever), and the threads end.
#[test]
fn a_panicking_decoder_closes_the_connection() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads) = connect_decoded(&slack.ws_url(), &config_for(&slack), |text| {
        assert!(!text.contains("boom"), "decoder refuses the frame");
        text
    })
    .unwrap();
    let hello = next_text(&conn);
    assert!(hello.contains(r#""type":"hello""#), "{hello}");
    slack
        .send_event(json!({"type": "app_mention", "text": "boom", "channel": "C1"}))
        .unwrap();
    let (code, _, by) = wait_closed(&conn);
    assert_eq!((code, by), (Some(1000), ClosedBy::Local));
    drop(conn);
    join_within(threads, WAIT).unwrap();
}

#[test]
fn text_round_trip_over_wss_with_extra_ca() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let url = slack.ws_url();
    assert!(url.starts_with("wss://"));
    let (conn, threads) = connect(&url, &config_for(&slack)).unwrap();
    round_trip(&slack, &conn);
    close_cleanly(conn, threads);
}

#[test]
fn untrusted_certificate_is_refused() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let config = Config::default().proxy(ProxyConfig::None);
    match connect(&slack.ws_url(), &config) {
        Err(Error::CertificateUntrusted { reason }) => {
            assert!(reason.contains("UnknownIssuer"), "{reason}");
        }
        other => panic!("expected CertificateUntrusted, got {other:?}"),
    }
}

#[test]
fn wrong_hostname_is_refused() {
    let slack = FakeSlack::builder()
        .tls(true)
        .cert_names(vec!["not-this-host.example".into()])
        .start()
        .unwrap();
    match connect(&slack.ws_url(), &config_for(&slack)) {
        Err(Error::HostnameMismatch { host, .. }) => assert_eq!(host, "127.0.0.1"),
        other => panic!("expected HostnameMismatch, got {other:?}"),
    }
}

#[test]
fn plain_ws_is_refused_unless_allowed() {
    let slack = FakeSlack::start().unwrap();
    let strict = Config::default().proxy(ProxyConfig::None);
    assert!(matches!(
        connect(&slack.ws_url(), &strict),
        Err(Error::InsecureUrlRefused)
    ));
    // Nothing reached the server.
    assert!(slack.connections().is_empty());
    let (conn, threads) = connect(&slack.ws_url(), &strict.allow_insecure_ws(true)).unwrap();
    expect_hello(&conn);
    close_cleanly(conn, threads);
}

#[test]
fn invalid_ticket_gives_the_http_status() {
    let slack = FakeSlack::start().unwrap();
    let url = slack.ws_url();
    let (conn, threads) = connect(&url, &config_for(&slack)).unwrap();
    // Tickets are single use: the same URL again is refused with 401.
    match connect(&url, &config_for(&slack)) {
        Err(Error::Handshake { status, .. }) => assert_eq!(status, 401),
        other => panic!("expected Handshake(401), got {other:?}"),
    }
    close_cleanly(conn, threads);
}

#[test]
fn error_messages_never_contain_the_ticket() {
    let slack = FakeSlack::start().unwrap();
    let url = slack.ws_url();
    let ticket = url
        .split("ticket=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let (conn, threads) = connect(&url, &config_for(&slack)).unwrap();
    let err = connect(&url, &config_for(&slack)).unwrap_err();
    assert!(!err.to_string().contains(ticket));
    assert!(!format!("{err:?}").contains(ticket));
    close_cleanly(conn, threads);
}

#[test]
fn proxy_without_auth() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let proxy = Proxy::start(None).unwrap();
    let config = config_for(&slack).proxy(ProxyConfig::Explicit(proxy.url()));
    let (conn, threads) = connect(&slack.ws_url(), &config).unwrap();
    round_trip(&slack, &conn);
    let tunnels = proxy.tunnels();
    assert_eq!(tunnels.len(), 1);
    assert_eq!(tunnels[0].method, "CONNECT");
    assert_eq!(
        tunnels[0].target,
        format!("127.0.0.1:{}", slack.addr().port())
    );
    assert_eq!(tunnels[0].status, 200);
    close_cleanly(conn, threads);
}

#[test]
fn proxy_with_basic_auth() {
    let slack = FakeSlack::start().unwrap();
    let proxy = Proxy::start(Some(("alice", "s3cret:@/%"))).unwrap();
    let config = config_for(&slack).proxy(ProxyConfig::Explicit(proxy.url()));
    let (conn, threads) = connect(&slack.ws_url(), &config).unwrap();
    round_trip(&slack, &conn);
    assert!(proxy.tunnels().iter().all(|t| t.had_credentials));
    close_cleanly(conn, threads);

    // Without the credentials: 407.
    let config = config_for(&slack).proxy(ProxyConfig::Explicit(proxy.url_without_credentials()));
    assert!(matches!(
        connect(&slack.ws_url(), &config),
        Err(Error::ProxyAuthRequired {
            credentials_sent: false
        })
    ));
    // With wrong credentials: 407 too, and the password is not in the message.
    let wrong = format!("http://alice:wrong@127.0.0.1:{}", proxy.addr().port());
    let err = connect(
        &slack.ws_url(),
        &config_for(&slack).proxy(ProxyConfig::Explicit(wrong)),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::ProxyAuthRequired {
            credentials_sent: true
        }
    ));
    assert!(!format!("{err} {err:?}").contains("wrong"));
}

#[test]
fn refused_tunnel_reports_status_and_reason() {
    let slack = FakeSlack::start().unwrap();
    let proxy = Proxy::start(None).unwrap();
    proxy.refuse_tunnels(Some(403));
    let config = config_for(&slack).proxy(ProxyConfig::Explicit(proxy.url()));
    match connect(&slack.ws_url(), &config) {
        Err(Error::ProxyRefused { status, reason }) => {
            assert_eq!(status, 403);
            assert!(!reason.is_empty());
        }
        other => panic!("expected ProxyRefused, got {other:?}"),
    }
}

fn open(slack: &FakeSlack, config: &Config) -> (Connection, IoThreads, slack_testkit::ConnId) {
    let (conn, threads) = connect(&slack.ws_url(), config).unwrap();
    expect_hello(&conn);
    slack.wait_for_connections(1, WAIT).unwrap();
    let id = *slack.open_connections().last().unwrap();
    (conn, threads, id)
}

#[test]
fn peer_dropping_tcp_is_a_network_close() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    slack.fault(id, Fault::DropTcp).unwrap();
    let (code, _, by) = wait_closed(&conn);
    assert_eq!(by, ClosedBy::Network);
    assert_eq!(code, None);
    assert!(matches!(join_within(threads, WAIT), Err(Error::Io(_))));
}

#[test]
fn half_open_peer_is_reported_by_nobody() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    slack.fault(id, Fault::Silent).unwrap();
    // By design the transport says nothing: liveness is the envelope core's decision.
    match conn.receiver.recv_timeout(Duration::from_millis(700)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("expected silence, got {other:?}"),
    }
    // Writing still "works" (the kernel buffers it).
    conn.sender
        .send(Outgoing::Ping(b"anyone?".to_vec()))
        .unwrap();
    match conn.receiver.recv_timeout(Duration::from_millis(300)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("expected silence, got {other:?}"),
    }
    drop(conn);
    // Dropping it still ends within the close timeout (+ margin).
    join_within(threads, Duration::from_secs(5)).unwrap();
}

#[test]
fn unanswered_close_handshake_is_bounded() {
    let slack = FakeSlack::start().unwrap();
    let close_timeout = Duration::from_millis(400);
    let (conn, threads, id) = open(&slack, &config_for(&slack).close_timeout(close_timeout));
    slack.fault(id, Fault::Silent).unwrap();
    let started = Instant::now();
    conn.sender
        .send(Outgoing::Close {
            code: 1000,
            reason: String::new(),
        })
        .unwrap();
    let (code, reason, by) = wait_closed(&conn);
    assert!(started.elapsed() >= close_timeout);
    assert_eq!(by, ClosedBy::Local);
    assert_eq!(code, None);
    assert!(reason.contains("timed out"), "{reason}");
    join_within(threads, WAIT).unwrap();
}

#[test]
fn peer_close_that_keeps_tcp_open_ends_promptly() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    slack.fault(id, Fault::CloseKeepTcp).unwrap();
    let (code, _, by) = wait_closed(&conn);
    assert_eq!(by, ClosedBy::Peer);
    assert!(code.is_some());
    join_within(threads, WAIT).unwrap();
}

#[test]
fn peer_close_code_is_reported() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    slack.fault(id, Fault::Close(4001)).unwrap();
    let (code, _, by) = wait_closed(&conn);
    assert_eq!((code, by), (Some(4001), ClosedBy::Peer));
    join_within(threads, WAIT).unwrap();
}

#[test]
fn oversized_frame_is_an_error_event_not_a_crash() {
    let slack = FakeSlack::start().unwrap();
    let config = config_for(&slack)
        .max_frame_size(64 * 1024)
        .max_message_size(64 * 1024);
    let (conn, threads, id) = open(&slack, &config);
    slack.fault(id, Fault::Oversized(1 << 20)).unwrap();
    match next(&conn) {
        Incoming::Error(Error::MessageTooLarge { size, max }) => {
            assert!(size > max);
            assert_eq!(max, 64 * 1024);
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    let (code, _, by) = wait_closed(&conn);
    assert_eq!((code, by), (Some(1009), ClosedBy::Local));
    join_within(threads, WAIT).unwrap();
}

#[test]
fn pings_both_ways() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    slack.fault(id, Fault::Ping(b"slack".to_vec())).unwrap();
    match conn.receiver.recv_timeout(WAIT).unwrap() {
        Incoming::Ping { at } => assert!(at <= Instant::now()),
        other => panic!("expected Ping, got {other:?}"),
    }
    conn.sender.send(Outgoing::Ping(b"p1".to_vec())).unwrap();
    match next(&conn) {
        Incoming::Pong { payload, .. } => assert_eq!(payload, b"p1"),
        other => panic!("expected Pong, got {other:?}"),
    }
    // The pong to Slack's ping went out: the fake counts pings it received from us, and
    // keeps serving the link.
    round_trip_after_hello(&slack, &conn);
    close_cleanly(conn, threads);
}

fn round_trip_after_hello(slack: &FakeSlack, conn: &Connection) {
    let id = slack
        .send_event(json!({"type": "message", "text": "x"}))
        .unwrap();
    assert!(next_text(conn).contains(&id));
}

/// The peer sends `n` envelopes while we send `n` acks of our own, at the same time.
fn many_frames_both_ways(slack: &FakeSlack, n: usize) {
    let (conn, threads, _id) = open(slack, &config_for(slack));
    std::thread::scope(|s| {
        // Our frames, from another thread, as fast as the channel takes them.
        let sender = conn.sender.clone();
        s.spawn(move || {
            for i in 0..n {
                sender
                    .send(Outgoing::Text(format!(r#"{{"envelope_id":"c-{i}"}}"#)))
                    .unwrap();
            }
        });
        // The peer's frames.
        s.spawn(|| {
            for i in 0..n {
                slack
                    .send_envelope(json!({"type": "events_api", "payload": {"n": i}}))
                    .unwrap();
            }
        });
        for expected in 0..n as u64 {
            let text = next_text(&conn);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                v["payload"]["n"].as_u64(),
                Some(expected),
                "incoming frame lost or reordered"
            );
        }
    });
    let acks = slack.wait_for_acks(n, WAIT).unwrap();
    assert_eq!(acks.len(), n);
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(
            ack.envelope_id,
            format!("c-{i}"),
            "outgoing frame lost or reordered"
        );
    }
    close_cleanly(conn, threads);
}

#[test]
fn many_frames_both_ways_over_ws_none_lost_or_reordered() {
    let slack = FakeSlack::start().unwrap();
    many_frames_both_ways(&slack, 5_000);
}

#[test]
fn many_frames_both_ways_over_wss_none_lost_or_reordered() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    many_frames_both_ways(&slack, 5_000);
}

#[test]
fn large_frames_both_ways_over_wss() {
    // Frames far larger than the socket buffers: partial writes and WouldBlock on both sides.
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    let pad = "x".repeat(3 << 20);
    for i in 0..3 {
        conn.sender
            .send(Outgoing::Text(
                json!({"envelope_id": format!("big-{i}"), "pad": pad}).to_string(),
            ))
            .unwrap();
    }
    slack.fault(id, Fault::Oversized(2 << 20)).unwrap();
    let big = next_text(&conn);
    assert!(big.len() >= 2 << 20, "{}", big.len());
    let acks = slack.wait_for_acks(3, WAIT).unwrap();
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(ack.envelope_id, format!("big-{i}"));
        assert_eq!(ack.frame["pad"].as_str().map(str::len), Some(3 << 20));
    }
    close_cleanly(conn, threads);
}

#[test]
fn dropping_the_connection_closes_and_ends_the_threads() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    drop(conn);
    join_within(threads, WAIT).unwrap();
    let info = slack.wait_for_close(id, WAIT).unwrap();
    assert!(!info.open);
}

#[test]
fn threads_end_when_the_peer_goes_away_even_if_the_sender_is_kept() {
    let slack = FakeSlack::start().unwrap();
    let (conn, threads, id) = open(&slack, &config_for(&slack));
    slack.fault(id, Fault::Close(1001)).unwrap();
    wait_closed(&conn);
    // `conn.sender` is still alive: the write thread must end anyway.
    join_within(threads, WAIT).unwrap();
    assert!(conn.sender.send(Outgoing::Text("late".into())).is_err());
}

#[test]
fn connection_refused_is_distinct() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = Config::default()
        .proxy(ProxyConfig::None)
        .allow_insecure_ws(true);
    match connect(&format!("ws://127.0.0.1:{port}/"), &config) {
        Err(Error::ConnectionRefused { addr }) => assert!(addr.ends_with(&port.to_string())),
        other => panic!("expected ConnectionRefused, got {other:?}"),
    }
}

#[test]
fn dns_failure_is_distinct() {
    let config = Config::default().proxy(ProxyConfig::None);
    match connect("wss://no-such-host.invalid/link/?ticket=t", &config) {
        Err(Error::Dns { host, .. }) => assert_eq!(host, "no-such-host.invalid"),
        other => panic!("expected Dns, got {other:?}"),
    }
}

#[test]
fn silent_server_hits_the_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config::default()
        .proxy(ProxyConfig::None)
        .handshake_timeout(Duration::from_millis(300));
    let started = Instant::now();
    match connect(&format!("wss://127.0.0.1:{port}/"), &config) {
        Err(Error::HandshakeTimeout { timeout }) => {
            assert_eq!(timeout, Duration::from_millis(300));
        }
        other => panic!("expected HandshakeTimeout, got {other:?}"),
    }
    assert!(started.elapsed() < WAIT);
    drop(listener);
}

#[test]
fn non_101_answer_is_a_handshake_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });
    let config = Config::default()
        .proxy(ProxyConfig::None)
        .allow_insecure_ws(true);
    match connect(&format!("ws://127.0.0.1:{port}/link"), &config) {
        Err(Error::Handshake { status, reason }) => {
            assert_eq!(status, 503);
            assert_eq!(reason, "Service Unavailable");
        }
        other => panic!("expected Handshake, got {other:?}"),
    }
    server.join().unwrap();
}
