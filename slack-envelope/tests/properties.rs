//! Property tests: no input, however malformed, and no sequence of inputs makes the core panic,
//! and its invariants hold throughout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use slack_envelope::{
    Config, ConnId, ConnectFailure, Event, Frame, MAX_CONNECTIONS, Session, SessionConfig,
    Supervisor,
};

fn frame_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(r#"{"type":"hello","num_connections":1}"#.to_owned()),
        Just(r#"{"type":"disconnect","reason":"warning"}"#.to_owned()),
        Just(r#"{"type":"disconnect","reason":"refresh_requested"}"#.to_owned()),
        Just(r#"{"type":"disconnect","reason":"too_many_websockets"}"#.to_owned()),
        Just(r#"{"type":"disconnect","reason":"link_disabled"}"#.to_owned()),
        Just(r#"{"type":"disconnect"}"#.to_owned()),
        Just(r#"{"type":null,"envelope_id":7}"#.to_owned()),
        (0u8..20, 0u8..20, any::<bool>()).prop_map(|(e, ev, accepts)| format!(
            r#"{{"envelope_id":"e{e}","type":"events_api","accepts_response_payload":{accepts},"payload":{{"event_id":"Ev{ev}","event":{{"type":"message"}}}}}}"#
        )),
        (0u8..20).prop_map(|e| format!(
            r#"{{"envelope_id":"s{e}","type":"slash_commands","accepts_response_payload":true,"payload":{{"command":"/x"}}}}"#
        )),
        "[{}\\[\\]\":,a-z0-9 ]{0,64}",
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u32),
    Connected(u64),
    Failed(u64, u8, u16),
    Text(u64, String),
    Binary(u64, usize),
    Ping(u64),
    Pong(u64, Vec<u8>),
    Closed(u64, Option<u16>),
    Ack(String, bool),
    Decline(String),
    Shutdown,
    TimeoutNow,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let conn = 0u64..14;
    prop_oneof![
        4 => (0u32..40_000).prop_map(Op::Advance),
        3 => conn.clone().prop_map(Op::Connected),
        1 => (conn.clone(), 0u8..3, 0u16..120).prop_map(|(c, k, s)| Op::Failed(c, k, s)),
        6 => (conn.clone(), frame_strategy()).prop_map(|(c, f)| Op::Text(c, f)),
        1 => (conn.clone(), 0usize..100).prop_map(|(c, n)| Op::Binary(c, n)),
        1 => conn.clone().prop_map(Op::Ping),
        1 => (conn.clone(), proptest::collection::vec(any::<u8>(), 0..10)).prop_map(|(c, p)| Op::Pong(c, p)),
        1 => (conn, proptest::option::of(any::<u16>())).prop_map(|(c, code)| Op::Closed(c, code)),
        3 => ("[es][0-9]{1,2}", any::<bool>()).prop_map(|(id, p)| Op::Ack(id, p)),
        1 => "e[0-9]{1,2}".prop_map(Op::Decline),
        1 => Just(Op::Shutdown),
        2 => Just(Op::TimeoutNow),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics(text in any::<String>()) {
        let _ = Frame::parse(text);
    }

    #[test]
    fn parsing_json_like_input_never_panics(text in frame_strategy()) {
        if let Ok(Frame::Envelope(e)) = Frame::parse(text) {
            // Accessors on whatever parsed never panic either.
            let _ = (e.payload_json(), e.events_api(), e.slash_command(), e.interactive(), e.dedup_key());
        }
    }

    #[test]
    fn a_session_survives_any_input(ops in proptest::collection::vec(op_strategy(), 0..200)) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = Session::new(now, SessionConfig::default());
        for op in ops {
            match op {
                Op::Advance(ms) => now += Duration::from_millis(u64::from(ms)),
                Op::Text(_, f) => s.handle_text(now, f),
                Op::Binary(_, n) => s.handle_binary(now, n),
                Op::Ping(_) => s.handle_ping(now),
                Op::Pong(_, p) => s.handle_pong(now, &p),
                Op::Closed(_, c) => s.handle_closed(now, c, "x"),
                Op::Ack(id, false) => { let _ = s.ack(now, &id); }
                Op::Ack(id, true) => { let _ = s.ack_with_payload(now, &id, &serde_json::json!({"text": "t"})); }
                Op::Shutdown => s.close(now, 1000, ""),
                _ => s.handle_timeout(now),
            }
            while s.poll_transmit().is_some() {}
            while s.poll_event().is_some() {}
            if let Some(t) = s.poll_timeout() {
                prop_assert!(t >= t0);
            }
        }
    }

    /// Parsing elsewhere (`Frame::parse`, then `handle_frame`) is the same as `handle_text`:
    /// two supervisors fed the same sequence both ways say and send exactly the same.
    #[test]
    fn handle_frame_is_handle_text_parsed_elsewhere(
        ops in proptest::collection::vec(op_strategy(), 0..200),
    ) {
        let mut cfg = Config::default();
        cfg = cfg.connections(2);
        let mut now = Instant::now();
        let mut by_text = Supervisor::new(cfg.clone()).unwrap();
        let mut by_frame = Supervisor::new(cfg).unwrap();
        by_text.start(now);
        by_frame.start(now);
        for op in ops {
            let c = |n: u64| ConnId(n);
            match op {
                Op::Advance(ms) => now += Duration::from_millis(u64::from(ms)),
                Op::Connected(n) => {
                    prop_assert_eq!(by_text.handle_connected(now, c(n)), by_frame.handle_connected(now, c(n)));
                }
                Op::Text(n, f) => {
                    let a = by_text.handle_text(now, c(n), f.clone());
                    let b = by_frame.handle_frame(now, c(n), Frame::parse(f));
                    prop_assert_eq!(a, b);
                }
                Op::Ack(id, _) => {
                    prop_assert_eq!(by_text.ack(now, &id), by_frame.ack(now, &id));
                }
                _ => {
                    by_text.handle_timeout(now);
                    by_frame.handle_timeout(now);
                }
            }
            loop {
                let (a, b) = (by_text.poll_transmit(), by_frame.poll_transmit());
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
                if a.is_none() { break; }
            }
            loop {
                let (a, b) = (by_text.poll_event(), by_frame.poll_event());
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
                if a.is_none() { break; }
            }
            prop_assert_eq!(by_text.poll_timeout(), by_frame.poll_timeout());
        }
    }

    #[test]
    fn the_supervisor_survives_any_sequence(
        connections in 1usize..=10,
        ops in proptest::collection::vec(op_strategy(), 0..300),
    ) {
        let mut cfg = Config::default();
        cfg = cfg.connections(connections);
        let t0 = Instant::now();
        let mut now = t0;
        let mut sup = Supervisor::new(cfg).unwrap();
        sup.start(now);
        let mut delivered = 0u64;
        for op in ops {
            let c = |n: u64| ConnId(n);
            match op {
                Op::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                }
                Op::TimeoutNow => {
                    if let Some(t) = sup.poll_timeout() {
                        now = now.max(t);
                    }
                    sup.handle_timeout(now);
                }
                Op::Connected(n) => { let _ = sup.handle_connected(now, c(n)); }
                Op::Failed(n, kind, secs) => {
                    let f = match kind {
                        0 => ConnectFailure::Transient { error: "x".into() },
                        1 => ConnectFailure::RateLimited { retry_after: Duration::from_secs(u64::from(secs)), error: "ratelimited".into() },
                        _ => ConnectFailure::Fatal { error: "invalid_auth".into() },
                    };
                    sup.handle_connect_failed(now, c(n), f);
                }
                Op::Text(n, f) => { let _ = sup.handle_text(now, c(n), f); }
                Op::Binary(n, len) => { let _ = sup.handle_binary(now, c(n), len); }
                Op::Ping(n) => { let _ = sup.handle_ping(now, c(n)); }
                Op::Pong(n, p) => { let _ = sup.handle_pong(now, c(n), &p); }
                Op::Closed(n, code) => { let _ = sup.handle_closed(now, c(n), code, "bye"); }
                Op::Ack(id, false) => { let _ = sup.ack(now, &id); }
                Op::Ack(id, true) => { let _ = sup.ack_with_payload(now, &id, &serde_json::json!({"text": "t"})); }
                Op::Decline(id) => {
                    let frame = format!(r#"{{"envelope_id":"{id}","type":"events_api","payload":{{"event_id":"Ev{id}"}}}}"#);
                    if let Ok(Frame::Envelope(e)) = Frame::parse(frame) {
                        sup.decline(&e);
                    }
                }
                Op::Shutdown => sup.shutdown(now),
            }
            while sup.poll_transmit().is_some() {}
            while let Some(e) = sup.poll_event() {
                if matches!(e, Event::Request { .. }) {
                    delivered += 1;
                }
            }
            // Invariants.
            prop_assert!(sup.connections().len() <= MAX_CONNECTIONS);
            let st = sup.stats();
            prop_assert_eq!(st.delivered, delivered);
            prop_assert!(st.delivered + st.duplicates <= st.received);
            if sup.is_stopped() {
                prop_assert!(sup.connections().is_empty());
                prop_assert_eq!(sup.poll_timeout(), None);
            }
            if let Some(t) = sup.poll_timeout() {
                // Deadlines are never absurdly far: at most the connect timeout or a backoff cap away.
                prop_assert!(t <= now + Duration::from_secs(3600));
            }
        }
    }
}

// ----- The fuzz targets' invariants (slack-envelope/fuzz), as property tests for test-all. -----

/// What the `frame` fuzz target checks on whatever parses.
fn check_frame(text: String) {
    use slack_envelope::payload::{EventCallback, Interaction, SlashCommand};
    use slack_envelope::{DisconnectReason, ack_frame};
    let _ = serde_json::from_str::<EventCallback>(&text);
    let _ = serde_json::from_str::<SlashCommand>(&text);
    if let Ok(i) = serde_json::from_str::<Interaction>(&text) {
        let _ = (
            i.interaction_type(),
            i.callback_id(),
            i.action_ids(),
            i.trigger_id(),
        );
    }
    match Frame::parse(text) {
        Ok(Frame::Envelope(e)) => {
            let id = e.envelope_id();
            let ack: serde_json::Value = serde_json::from_str(&ack_frame(id, None)).unwrap();
            assert_eq!(ack["envelope_id"].as_str(), Some(id));
            let with: serde_json::Value =
                serde_json::from_str(&ack_frame(id, Some(r#"{"text":"t"}"#))).unwrap();
            assert_eq!(with["payload"]["text"], "t");
            assert!(serde_json::from_str::<serde_json::Value>(e.payload_json()).is_ok());
            assert_eq!(e.dedup_key(), e.event_id().unwrap_or(id));
            let _ = (e.events_api(), e.slash_command(), e.payload_value());
            if let Ok(i) = e.interactive() {
                let _ = (i.callback_id(), i.action_ids(), i.trigger_id());
            }
        }
        Ok(Frame::Disconnect(d)) => {
            assert_eq!(DisconnectReason::from_text(d.reason.as_str()), d.reason);
        }
        _ => {}
    }
}

/// Envelopes whose ids need JSON escaping, and payloads of every kind.
fn envelope_strategy() -> impl Strategy<Value = String> {
    (
        any::<String>(),
        prop_oneof![
            Just("events_api"),
            Just("slash_commands"),
            Just("interactive"),
            Just("x")
        ],
        prop_oneof![
            Just(r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}"#),
            Just(r#"{"type":"block_actions","actions":[{"action_id":"a"}],"trigger_id":"t"}"#),
            Just(r#"{"type":"view_submission","view":{"callback_id":"c","state":{"values":{}}}}"#),
            Just(r#"{"command":"/x","text":"y"}"#),
            Just("null"),
            Just("[]"),
            Just("7"),
        ],
    )
        .prop_map(|(id, kind, payload)| {
            format!(
                r#"{{"envelope_id":{},"type":"{kind}","payload":{payload}}}"#,
                serde_json::Value::String(id)
            )
        })
}

/// The `supervisor` fuzz target's checker: the supervisor's promises after every step.
struct Checker {
    now: Instant,
    delivered: u64,
    handed_out: std::collections::HashMap<String, Instant>,
    connect_ids: std::collections::HashSet<u64>,
    stopped_seen: bool,
    max_retry_after: Duration,
    window: Duration,
}

impl Checker {
    fn drain(&mut self, sup: &mut Supervisor) {
        while sup.poll_transmit().is_some() {}
        while let Some(e) = sup.poll_event() {
            assert!(!self.stopped_seen, "an event after Stopped: {e:?}");
            match e {
                Event::Connect { conn } => {
                    assert!(self.connect_ids.insert(conn.0), "connection id reused");
                }
                Event::Request { envelope, .. } => {
                    self.delivered += 1;
                    let key = envelope.dedup_key().to_owned();
                    if let Some(at) = self.handed_out.get(&key) {
                        assert!(
                            self.now.saturating_duration_since(*at) >= self.window,
                            "{key} handed out twice within the dedup window"
                        );
                    }
                    self.handed_out.insert(key, self.now);
                }
                Event::Stopped(_) => self.stopped_seen = true,
                _ => {}
            }
        }
    }

    fn check(&self, sup: &Supervisor, after_timeout: bool) {
        assert!(sup.connections().len() <= MAX_CONNECTIONS);
        let st = sup.stats();
        assert_eq!(st.delivered, self.delivered);
        assert!(st.delivered + st.duplicates <= st.received);
        if sup.is_stopped() {
            assert!(sup.connections().is_empty());
            assert_eq!(sup.poll_timeout(), None);
        }
        if let Some(t) = sup.poll_timeout() {
            assert!(t <= self.now + Duration::from_secs(3600) + self.max_retry_after);
            if after_timeout {
                assert!(
                    t > self.now,
                    "due again right after handle_timeout (a hot loop)"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn frame_invariants_hold_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_frame(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn frame_invariants_hold_on_json_like_text(text in frame_strategy()) {
        check_frame(text);
    }

    #[test]
    fn frame_invariants_hold_on_envelopes(text in envelope_strategy()) {
        check_frame(text);
    }

    #[test]
    fn a_session_keeps_its_invariants(ops in proptest::collection::vec(op_strategy(), 0..200)) {
        let mut now = Instant::now();
        let mut s = Session::new(now, SessionConfig::default());
        let mut last_ping: Option<Vec<u8>> = None;
        for op in ops {
            let was_closed = s.state() == slack_envelope::SessionState::Closed;
            let mut after_timeout = false;
            match op {
                Op::Advance(ms) => now += Duration::from_millis(u64::from(ms)),
                Op::Text(_, f) => s.handle_text(now, f),
                Op::Binary(_, n) => s.handle_binary(now, n),
                Op::Ping(_) => s.handle_ping(now),
                // An empty payload stands for "the right answer to our last ping".
                Op::Pong(_, p) if p.is_empty() => s.handle_pong(now, &last_ping.clone().unwrap_or_default()),
                Op::Pong(_, p) => s.handle_pong(now, &p),
                Op::Closed(_, c) => s.handle_closed(now, c, "x"),
                Op::Ack(id, false) => { let _ = s.ack(now, &id); }
                Op::Ack(id, true) => { let _ = s.ack_with_payload(now, &id, &serde_json::json!({"text": "t"})); }
                Op::Shutdown => s.close(now, 1000, ""),
                Op::TimeoutNow => {
                    if let Some(t) = s.poll_timeout() {
                        now = now.max(t);
                    }
                    s.handle_timeout(now);
                    after_timeout = true;
                }
                _ => {
                    s.handle_timeout(now);
                    after_timeout = true;
                }
            }
            while let Some(f) = s.poll_transmit() {
                if let slack_envelope::OutFrame::Ping(p) = f {
                    last_ping = Some(p);
                }
            }
            while s.poll_event().is_some() {}
            if was_closed {
                prop_assert_eq!(s.state(), slack_envelope::SessionState::Closed);
            }
            match s.poll_timeout() {
                None => prop_assert_eq!(s.state(), slack_envelope::SessionState::Closed),
                Some(t) => {
                    prop_assert_ne!(s.state(), slack_envelope::SessionState::Closed);
                    if after_timeout && !s.should_abort(now) {
                        prop_assert!(t > now, "session due again right after handle_timeout");
                    }
                }
            }
        }
    }

    #[test]
    fn the_supervisor_keeps_its_promises(
        connections in 1usize..=10,
        ops in proptest::collection::vec(op_strategy(), 0..300),
    ) {
        let mut cfg = Config::default();
        cfg = cfg.connections(connections);
        let window = Duration::from_secs(10 * 60);
        let mut now = Instant::now();
        let mut sup = Supervisor::new(cfg).unwrap();
        sup.start(now);
        let mut ck = Checker {
            now,
            delivered: 0,
            handed_out: Default::default(),
            connect_ids: Default::default(),
            stopped_seen: false,
            max_retry_after: Duration::ZERO,
            window,
        };
        ck.drain(&mut sup);
        for op in ops {
            // Connection numbers pick among the live ones first, so frames reach real sessions.
            let pick = |sup: &Supervisor, n: u64| {
                let mut ids = sup.connections();
                ids.sort();
                ids.get(n as usize).copied().unwrap_or(ConnId(n))
            };
            let mut after_timeout = false;
            match op {
                Op::Advance(ms) => now += Duration::from_millis(u64::from(ms)) * 20,
                Op::TimeoutNow => {
                    if let Some(t) = sup.poll_timeout() {
                        now = now.max(t);
                    }
                    sup.handle_timeout(now);
                    after_timeout = true;
                }
                Op::Connected(n) => { let c = pick(&sup, n); let _ = sup.handle_connected(now, c); }
                Op::Failed(n, kind, secs) => {
                    let c = pick(&sup, n);
                    let f = match kind {
                        0 => ConnectFailure::Transient { error: "x".into() },
                        1 => {
                            let retry_after = Duration::from_secs(u64::from(secs) * 600);
                            ck.max_retry_after = ck.max_retry_after.max(retry_after);
                            ConnectFailure::RateLimited { retry_after, error: "ratelimited".into() }
                        }
                        _ => ConnectFailure::Fatal { error: "invalid_auth".into() },
                    };
                    sup.handle_connect_failed(now, c, f);
                }
                Op::Text(n, f) => { let c = pick(&sup, n); let _ = sup.handle_text(now, c, f); }
                Op::Binary(n, len) => { let c = pick(&sup, n); let _ = sup.handle_binary(now, c, len); }
                Op::Ping(n) => { let c = pick(&sup, n); let _ = sup.handle_ping(now, c); }
                Op::Pong(n, p) => { let c = pick(&sup, n); let _ = sup.handle_pong(now, c, &p); }
                Op::Closed(n, code) => { let c = pick(&sup, n); let _ = sup.handle_closed(now, c, code, "bye"); }
                Op::Ack(id, false) => { let _ = sup.ack(now, &id); }
                Op::Ack(id, true) => { let _ = sup.ack_with_payload(now, &id, &serde_json::json!({"text": "t"})); }
                Op::Decline(id) => {
                    let frame = format!(r#"{{"envelope_id":"{id}","type":"events_api","payload":{{"event_id":"Ev{id}"}}}}"#);
                    if let Ok(Frame::Envelope(e)) = Frame::parse(frame) {
                        sup.decline(&e);
                        ck.handed_out.remove(e.dedup_key());
                    }
                }
                Op::Shutdown => sup.shutdown(now),
            }
            ck.now = now;
            ck.drain(&mut sup);
            ck.check(&sup, after_timeout);
        }
    }
}

// ----- Fault sequences: links that open, refresh, fail, fall silent and drop, in any order. -----

/// One step of a fault sequence. Connection numbers pick among the supervisor's connections
/// (sorted), so every step reaches a real one.
#[derive(Debug, Clone)]
enum Fault {
    /// Let this many milliseconds pass, firing timers on the way.
    Wait(u32),
    /// The pending attempt opens its socket.
    Open,
    /// The pending attempt fails (0: transient, 1: rate limited for this many seconds).
    Fail(u8, u16),
    /// `hello` on a connection.
    Hello(usize),
    /// `disconnect` with a reason (0: warning, 1: refresh_requested, 2: too_many_websockets).
    Disconnect(usize, u8),
    /// An envelope on a connection, acked at once or not.
    Traffic(usize, bool),
    /// Slack pings on a connection.
    Ping(usize),
    /// The socket closes.
    Drop(usize),
}

fn fault_strategy() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => (1u32..20_000).prop_map(Fault::Wait),
        3 => Just(Fault::Open),
        2 => (0u8..2, 0u16..400).prop_map(|(k, s)| Fault::Fail(k, s)),
        3 => (0usize..10).prop_map(Fault::Hello),
        2 => (0usize..10, 0u8..3).prop_map(|(c, r)| Fault::Disconnect(c, r)),
        5 => (0usize..10, any::<bool>()).prop_map(|(c, a)| Fault::Traffic(c, a)),
        1 => (0usize..10).prop_map(Fault::Ping),
        2 => (0usize..10).prop_map(Fault::Drop),
    ]
}

/// Fires every timer due up to `until`; after each `handle_timeout(now)` the next deadline
/// must be later than `now`, or a caller's select would return at once, forever.
fn fire_timers(
    sup: &mut Supervisor,
    now: &mut Instant,
    until: Instant,
    connects: &mut u64,
) -> Result<(), TestCaseError> {
    for _ in 0..10_000 {
        match sup.poll_timeout() {
            Some(t) if t <= until => {
                *now = t.max(*now);
                sup.handle_timeout(*now);
                while sup.poll_transmit().is_some() {}
                while let Some(e) = sup.poll_event() {
                    if matches!(e, Event::Connect { .. }) {
                        *connects += 1;
                    }
                }
                if let Some(next) = sup.poll_timeout() {
                    prop_assert!(
                        next > *now,
                        "due again right after handle_timeout (a hot loop)"
                    );
                }
            }
            _ => break,
        }
    }
    *now = until.max(*now);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// No fault sequence makes the supervisor spin, nor ask for `apps.connections.open`
    /// faster than its rate limit allows.
    #[test]
    fn no_fault_sequence_makes_the_supervisor_spin(
        connections in 1usize..=3,
        faults in proptest::collection::vec(fault_strategy(), 0..120),
    ) {
        let mut cfg = Config::default();
        cfg = cfg.connections(connections);
        let mut now = Instant::now();
        let t0 = now;
        let mut sup = Supervisor::new(cfg).unwrap();
        sup.start(now);
        // Counted as they are drained (the first, asked for by `start`, too).
        let mut connects = 0u64;
        let mut n = 0u32;
        for fault in faults {
            let conns = sup.connections();
            let pending = conns.iter().copied().find(|c| sup.session(*c).is_none());
            let live: Vec<ConnId> = conns.iter().copied().filter(|c| sup.session(*c).is_some()).collect();
            let pick = |i: usize| live.get(i % live.len().max(1)).copied();
            n += 1;
            match fault {
                Fault::Wait(ms) => {
                    let until = now + Duration::from_millis(u64::from(ms));
                    fire_timers(&mut sup, &mut now, until, &mut connects)?;
                }
                Fault::Open => if let Some(c) = pending { let _ = sup.handle_connected(now, c); },
                Fault::Fail(kind, secs) => if let Some(c) = pending {
                    let f = if kind == 0 {
                        ConnectFailure::Transient { error: "http 500".into() }
                    } else {
                        ConnectFailure::RateLimited { retry_after: Duration::from_secs(u64::from(secs)), error: "ratelimited".into() }
                    };
                    sup.handle_connect_failed(now, c, f);
                },
                Fault::Hello(i) => if let Some(c) = pick(i) {
                    let _ = sup.handle_text(now, c, r#"{"type":"hello","num_connections":1}"#.to_owned());
                },
                Fault::Disconnect(i, r) => if let Some(c) = pick(i) {
                    let reason = ["warning", "refresh_requested", "too_many_websockets"][usize::from(r) % 3];
                    let _ = sup.handle_text(now, c, format!(r#"{{"type":"disconnect","reason":"{reason}"}}"#));
                },
                Fault::Traffic(i, ack) => if let Some(c) = pick(i) {
                    let frame = format!(r#"{{"envelope_id":"e{n}","type":"events_api","payload":{{"event_id":"Ev{n}"}}}}"#);
                    let _ = sup.handle_text(now, c, frame);
                    if ack {
                        let _ = sup.ack(now, &format!("e{n}"));
                    }
                },
                Fault::Ping(i) => if let Some(c) = pick(i) { let _ = sup.handle_ping(now, c); },
                Fault::Drop(i) => if let Some(c) = pick(i) { let _ = sup.handle_closed(now, c, Some(1006), ""); },
            }
            while sup.poll_transmit().is_some() {}
            while let Some(e) = sup.poll_event() {
                if matches!(e, Event::Connect { .. }) {
                    connects += 1;
                }
            }
            // Whatever just happened, a timer already due fires now, and then is not due again.
            let until = now;
            fire_timers(&mut sup, &mut now, until, &mut connects)?;
            // apps.connections.open is never asked for faster than its rate limit allows.
            let elapsed = now.saturating_duration_since(t0);
            prop_assert!(
                connects <= 10 + (elapsed.as_millis() / 1200) as u64,
                "{} attempts in {:?}", connects, elapsed
            );
        }
    }
}
