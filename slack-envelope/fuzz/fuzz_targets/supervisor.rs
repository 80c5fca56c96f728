//! `cargo fuzz run supervisor`: arbitrary sequences of inputs, with arbitrary time steps, into a
//! `Supervisor` and, alongside, a lone `Session`; their invariants are checked after every step.
//!
//! Supervisor: never more than `MAX_CONNECTIONS` slots; `delivered` counts exactly the requests
//! handed out, and `delivered + duplicates <= received`; a request's dedup key is never handed
//! out twice within the dedup window unless it was declined; connection ids are never reused;
//! nothing follows `Stopped` and a stopped supervisor holds no connection and no deadline; after
//! `handle_timeout(now)` the next deadline lies after `now` (no hot loop) and never absurdly far (an hour, or the
//! longest `Retry-After` given).
//! Session: `Closed` is final and is the only state without a deadline; after
//! `handle_timeout(now)` the next deadline lies after `now` unless the link should be aborted;
//! an envelope is acked at most once.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use slack_envelope::{
    Config, ConnId, ConnectFailure, Event, Frame, MAX_CONNECTIONS, OutFrame, Session,
    SessionConfig, SessionState, Supervisor,
};

#[derive(Arbitrary, Debug)]
struct Input {
    connections: u8,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Milliseconds.
    Advance(u16),
    /// Tens of seconds (reaches dedup windows and backoff caps).
    AdvanceLong(u8),
    /// Jump to the next deadline and fire it.
    TimeoutNow,
    /// Fire deadlines at the current time, whatever they are.
    Timeout,
    Authenticated(u8),
    Connected(u8),
    Failed(u8, u8, u16),
    Text(u8, Text),
    Binary(u8, u16),
    Ping(u8),
    Pong(u8, Option<Vec<u8>>),
    Closed(u8, Option<u16>),
    Ack(Target, bool),
    Decline(Target),
    Shutdown,
    SessionClose(u16),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Raw(String),
    Hello,
    Envelope {
        id: u8,
        event: Option<u8>,
        accepts: bool,
        kind: u8,
        retry: u8,
    },
    Disconnect(u8),
}

#[derive(Arbitrary, Debug)]
enum Target {
    /// One of the requests handed out so far.
    Known(u8),
    Raw(String),
}

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Raw(s) => s.clone(),
            Text::Hello => r#"{"type":"hello","num_connections":1,"debug_info":{"approximate_connection_time":18060}}"#.to_owned(),
            Text::Envelope { id, event, accepts, kind, retry } => {
                let kind = ["events_api", "slash_commands", "interactive", "future_kind"][usize::from(kind % 4)];
                let payload = match event {
                    Some(ev) => format!(r#"{{"type":"event_callback","event_id":"Ev{ev}","event":{{"type":"message","text":"x"}}}}"#),
                    None => r#"{"command":"/x","type":"shortcut","callback_id":"c"}"#.to_owned(),
                };
                format!(
                    r#"{{"envelope_id":"e{id}","type":"{kind}","accepts_response_payload":{accepts},"retry_attempt":{retry},"retry_reason":"timeout","payload":{payload}}}"#
                )
            }
            Text::Disconnect(r) => {
                let reason = ["warning", "refresh_requested", "too_many_websockets", "link_disabled", "other"][usize::from(r % 5)];
                format!(r#"{{"type":"disconnect","reason":"{reason}","debug_info":{{"host":"h"}}}}"#)
            }
        }
    }
}

struct Check {
    t0: Instant,
    now: Instant,
    sup: Supervisor,
    delivered: u64,
    /// Dedup key -> when it was last handed out.
    handed_out: HashMap<String, Instant>,
    /// Envelope ids of requests handed out, in order (targets for acks and declines).
    requests: Vec<(String, String)>,
    connect_ids: HashSet<u64>,
    stopped_seen: bool,
    last_ping: HashMap<u64, Vec<u8>>,
    window: Duration,
    /// The longest `Retry-After` given: a rate limit may push the next attempt that far.
    max_retry_after: Duration,
}

impl Check {
    fn conn(&self, pick: u8) -> ConnId {
        let mut ids = self.sup.connections();
        ids.sort();
        match ids.get(usize::from(pick)) {
            Some(id) => *id,
            None => ConnId(u64::from(pick)),
        }
    }

    fn target(&self, t: &Target) -> Option<(String, String)> {
        match t {
            Target::Known(i) => {
                if self.requests.is_empty() {
                    None
                } else {
                    self.requests.get(usize::from(*i) % self.requests.len()).cloned()
                }
            }
            Target::Raw(s) => Some((s.clone(), s.clone())),
        }
    }

    fn drain(&mut self) {
        while let Some(t) = self.sup.poll_transmit() {
            if let OutFrame::Ping(p) = t.frame {
                self.last_ping.insert(t.conn.0, p);
            }
        }
        while let Some(e) = self.sup.poll_event() {
            assert!(!self.stopped_seen, "an event after Stopped: {e:?}");
            match e {
                Event::Connect { conn } => {
                    assert!(self.connect_ids.insert(conn.0), "connection id {conn:?} reused");
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
                    self.handed_out.insert(key.clone(), self.now);
                    self.requests.push((envelope.envelope_id().to_owned(), key));
                }
                Event::Stopped(_) => self.stopped_seen = true,
                _ => {}
            }
        }
    }

    fn invariants(&self, after_timeout: bool) {
        let sup = &self.sup;
        assert!(sup.connections().len() <= MAX_CONNECTIONS);
        let st = sup.stats();
        assert_eq!(st.delivered, self.delivered);
        assert!(st.delivered + st.duplicates <= st.received);
        if sup.is_stopped() {
            assert!(sup.connections().is_empty());
            assert_eq!(sup.poll_timeout(), None);
        }
        if let Some(t) = sup.poll_timeout() {
            let bound = self.now + Duration::from_secs(3600) + self.max_retry_after;
            assert!(t <= bound, "deadline too far");
            if after_timeout {
                assert!(t > self.now, "due again right after handle_timeout: a hot loop");
            }
        }
        let _ = self.t0;
    }
}

struct Lone {
    now: Instant,
    s: Session,
    acked: HashSet<String>,
    envelopes: Vec<String>,
    last_ping: Option<Vec<u8>>,
}

impl Lone {
    fn drain(&mut self) {
        while let Some(f) = self.s.poll_transmit() {
            if let OutFrame::Ping(p) = f {
                self.last_ping = Some(p);
            }
        }
        while let Some(e) = self.s.poll_event() {
            if let slack_envelope::SessionEvent::Envelope(env) = e {
                self.envelopes.push(env.envelope_id().to_owned());
            }
        }
    }

    fn ack(&mut self, id: &str, payload: bool) {
        let r = if payload {
            self.s.ack_with_payload(self.now, id, &serde_json::json!({"text": "t"}))
        } else {
            self.s.ack(self.now, id)
        };
        if r.is_ok() {
            assert!(self.acked.insert(id.to_owned()) || self.envelopes.iter().filter(|e| *e == id).count() > 1,
                "{id} acked twice");
        }
    }

    fn invariants(&self, was_closed: bool, after_timeout: bool) {
        let state = self.s.state();
        if was_closed {
            assert_eq!(state, SessionState::Closed, "Closed is final");
        }
        match self.s.poll_timeout() {
            None => assert_eq!(state, SessionState::Closed, "only Closed has no deadline"),
            Some(t) => {
                assert_ne!(state, SessionState::Closed);
                if after_timeout && !self.s.should_abort(self.now) {
                    assert!(t > self.now, "session due again right after handle_timeout");
                }
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let t0 = Instant::now();
    let cfg = Config::default()
        .connections(usize::from(input.connections % 10) + 1)
        .jitter_seed(u64::from(input.connections));
    let window = Duration::from_secs(10 * 60);
    let mut sup = Supervisor::new(cfg).expect("a valid config");
    sup.start(t0);
    let mut c = Check {
        t0,
        now: t0,
        sup,
        delivered: 0,
        handed_out: HashMap::new(),
        requests: Vec::new(),
        connect_ids: HashSet::new(),
        stopped_seen: false,
        last_ping: HashMap::new(),
        window,
        max_retry_after: Duration::ZERO,
    };
    let mut lone = Lone {
        now: t0,
        s: Session::new(t0, SessionConfig::default()),
        acked: HashSet::new(),
        envelopes: Vec::new(),
        last_ping: None,
    };
    c.drain();
    c.invariants(false);
    for op in input.ops.iter().take(400) {
        let was_closed = lone.s.state() == SessionState::Closed;
        let mut after_timeout = false;
        match op {
            Op::Advance(ms) => c.now += Duration::from_millis(u64::from(*ms)),
            Op::AdvanceLong(n) => c.now += Duration::from_secs(10 * u64::from(*n)),
            Op::TimeoutNow => {
                if let Some(t) = c.sup.poll_timeout() {
                    c.now = c.now.max(t);
                }
                if let Some(t) = lone.s.poll_timeout() {
                    // The lone session keeps its own pace but never goes back in time.
                    lone.now = lone.now.max(t).max(c.now);
                }
                c.sup.handle_timeout(c.now);
                lone.s.handle_timeout(lone.now.max(c.now));
                after_timeout = true;
            }
            Op::Timeout => {
                c.sup.handle_timeout(c.now);
                lone.s.handle_timeout(lone.now.max(c.now));
                after_timeout = true;
            }
            Op::Authenticated(n) => {
                let conn = c.conn(*n);
                let _ = c.sup.handle_authenticated(c.now, conn);
            }
            Op::Connected(n) => {
                let conn = c.conn(*n);
                let _ = c.sup.handle_connected(c.now, conn);
            }
            Op::Failed(n, kind, secs) => {
                let conn = c.conn(*n);
                if kind % 3 == 1 {
                    c.max_retry_after = c.max_retry_after.max(Duration::from_secs(u64::from(*secs)));
                }
                let f = match kind % 3 {
                    0 => ConnectFailure::Transient { error: "x".into() },
                    1 => ConnectFailure::RateLimited {
                        retry_after: Duration::from_secs(u64::from(*secs)),
                        error: "ratelimited".into(),
                    },
                    _ => ConnectFailure::Fatal { error: "invalid_auth".into() },
                };
                c.sup.handle_connect_failed(c.now, conn, f);
            }
            Op::Text(n, text) => {
                let conn = c.conn(*n);
                let text = text.render();
                let _ = c.sup.handle_text(c.now, conn, text.clone());
                lone.s.handle_text(lone.now.max(c.now), text);
            }
            Op::Binary(n, len) => {
                let conn = c.conn(*n);
                let _ = c.sup.handle_binary(c.now, conn, usize::from(*len));
                lone.s.handle_binary(lone.now.max(c.now), usize::from(*len));
            }
            Op::Ping(n) => {
                let conn = c.conn(*n);
                let _ = c.sup.handle_ping(c.now, conn);
                lone.s.handle_ping(lone.now.max(c.now));
            }
            Op::Pong(n, payload) => {
                let conn = c.conn(*n);
                let p = payload
                    .clone()
                    .or_else(|| c.last_ping.get(&conn.0).cloned())
                    .unwrap_or_default();
                let _ = c.sup.handle_pong(c.now, conn, &p);
                let lp = payload.clone().or_else(|| lone.last_ping.clone()).unwrap_or_default();
                lone.s.handle_pong(lone.now.max(c.now), &lp);
            }
            Op::Closed(n, code) => {
                let conn = c.conn(*n);
                let _ = c.sup.handle_closed(c.now, conn, *code, "bye");
                lone.s.handle_closed(lone.now.max(c.now), *code, "bye");
            }
            Op::Ack(t, payload) => {
                if let Some((id, _)) = c.target(t) {
                    let _ = if *payload {
                        c.sup.ack_with_payload(c.now, &id, &serde_json::json!({"text": "t"}))
                    } else {
                        c.sup.ack(c.now, &id)
                    };
                }
                let lone_id = match t {
                    Target::Known(i) if !lone.envelopes.is_empty() => {
                        lone.envelopes.get(usize::from(*i) % lone.envelopes.len()).cloned()
                    }
                    Target::Raw(s) => Some(s.clone()),
                    Target::Known(_) => None,
                };
                if let Some(id) = lone_id {
                    lone.now = lone.now.max(c.now);
                    lone.ack(&id, *payload);
                }
            }
            Op::Decline(t) => {
                if let Some((id, key)) = c.target(t) {
                    let frame = format!(
                        r#"{{"envelope_id":{},"type":"events_api","payload":{{"event_id":{}}}}}"#,
                        serde_json::Value::String(id),
                        serde_json::Value::String(key.clone())
                    );
                    if let Ok(Frame::Envelope(e)) = Frame::parse(frame) {
                        c.sup.decline(&e);
                        c.handed_out.remove(e.dedup_key());
                    }
                }
            }
            Op::Shutdown => c.sup.shutdown(c.now),
            Op::SessionClose(code) => lone.s.close(lone.now.max(c.now), *code, "x"),
        }
        lone.now = lone.now.max(c.now);
        c.drain();
        lone.drain();
        c.invariants(after_timeout);
        lone.invariants(was_closed, after_timeout);
    }
});
