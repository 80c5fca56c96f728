//! Scenario tests of the supervisor with a fake clock: a script of inputs at given times, and
//! the outputs each step must produce (timers due before a step fire first, and their outputs
//! belong to that step). Outputs are rendered as short lines; an expected line matches an
//! actual one when the actual line starts with it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use slack_envelope::{
    Backoff, Cause, Config, ConnId, ConnectFailure, Error, Event, Lifecycle, OutFrame,
    SessionConfig, Supervisor,
};

/// One input at a time (milliseconds from the start).
#[derive(Debug, Clone)]
enum In {
    Start,
    Authenticated(u64),
    Connected(u64),
    Failed(u64, ConnectFailure),
    Text(u64, String),
    Ping(u64),
    Pong(u64, Vec<u8>),
    Closed(u64, Option<u16>),
    Ack(&'static str),
    AckPayload(&'static str, serde_json::Value),
    Shutdown,
    /// Only let time pass (timers fire).
    Tick,
}

struct Harness {
    sup: Supervisor,
    t0: Instant,
    now: Instant,
    /// Results of acks, in order.
    ack_results: Vec<Result<(), Error>>,
    log: Vec<String>,
}

fn hello() -> String {
    r#"{"type":"hello","num_connections":1,"debug_info":{"host":"h","approximate_connection_time":18060}}"#.to_owned()
}

fn disconnect(reason: &str) -> String {
    format!(r#"{{"type":"disconnect","reason":"{reason}","debug_info":{{"host":"h"}}}}"#)
}

fn event(envelope_id: &str, event_id: &str) -> String {
    format!(
        r#"{{"envelope_id":"{envelope_id}","type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":"","payload":{{"token":"tok","type":"event_callback","event_id":"{event_id}","event":{{"type":"message","text":"hi","channel":"C1","user":"U1","ts":"1.2"}}}}}}"#
    )
}

fn slash(envelope_id: &str) -> String {
    format!(
        r#"{{"envelope_id":"{envelope_id}","type":"slash_commands","accepts_response_payload":true,"payload":{{"command":"/x","text":"","user_id":"U1"}}}}"#
    )
}

fn cause(c: &Cause) -> String {
    match c {
        Cause::Slack(r) => format!("slack:{r}"),
        Cause::Unresponsive(_) => "unresponsive".into(),
        Cause::HelloTimeout => "hello_timeout".into(),
        Cause::Replaced => "replaced".into(),
        Cause::Closed { code, .. } => format!("closed:{}", code.unwrap_or(0)),
        Cause::CloseTimedOut => "close_timed_out".into(),
        Cause::ConnectFailed(e) => format!("connect_failed:{e}"),
        Cause::ConnectTimedOut => "connect_timed_out".into(),
        Cause::Shutdown => "shutdown".into(),
        Cause::Stopping => "stopping".into(),
        other => format!("{other:?}"),
    }
}

fn render_event(e: &Event) -> String {
    match e {
        Event::Connect { conn } => format!("connect {conn}"),
        Event::Abort { conn } => format!("abort {conn}"),
        Event::Request { conn, envelope } => {
            format!("request {conn} {}", envelope.envelope_id())
        }
        Event::Duplicate {
            conn,
            envelope_id,
            key,
        } => format!("duplicate {conn} {envelope_id} {key}"),
        Event::AckOverdue {
            conn, envelope_id, ..
        } => format!("overdue {conn} {envelope_id}"),
        Event::Stopped(r) => format!("stopped {r:?}"),
        Event::Lifecycle(l) => match l {
            Lifecycle::Connecting { conn, attempt } => {
                format!("connecting {conn} attempt={attempt}")
            }
            Lifecycle::Authenticated { conn } => format!("authenticated {conn}"),
            Lifecycle::Connected { conn } => format!("connected {conn}"),
            Lifecycle::Ready {
                conn,
                ready_connections,
                ..
            } => format!("ready {conn} n={ready_connections}"),
            Lifecycle::Disconnecting { conn, cause: c } => {
                format!("disconnecting {conn} {}", cause(c))
            }
            Lifecycle::Reconnecting {
                replacing,
                cause: c,
                failures,
                delay,
            } => format!(
                "reconnecting {} {} failures={failures} delay={}",
                replacing.map_or("-".to_owned(), |r| r.to_string()),
                cause(c),
                delay.as_millis()
            ),
            Lifecycle::Disconnected { conn, cause: c } => {
                format!("disconnected {conn} {}", cause(c))
            }
            Lifecycle::Error { conn, .. } => {
                format!("error {}", conn.map_or("-".to_owned(), |c| c.to_string()))
            }
            Lifecycle::UnableToStart { reason } => format!("unable_to_start {reason:?}"),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

impl Harness {
    fn new(cfg: Config) -> Self {
        let t0 = Instant::now();
        Harness {
            sup: Supervisor::new(cfg).unwrap(),
            t0,
            now: t0,
            ack_results: Vec::new(),
            log: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(e) = self.sup.poll_event() {
            out.push(render_event(&e));
        }
        while let Some(t) = self.sup.poll_transmit() {
            out.push(match t.frame {
                OutFrame::Text(s) => format!("tx {} {s}", t.conn),
                OutFrame::Ping(_) => format!("tx {} ping", t.conn),
                OutFrame::Close { code, .. } => format!("tx {} close {code}", t.conn),
            });
        }
        out
    }

    /// Fires every timer due up to `ms`, in order, then applies `input` at `ms`.
    fn step(&mut self, ms: u64, input: In) -> Vec<String> {
        let target = self.at(ms);
        assert!(target >= self.now, "steps must go forward in time");
        let mut out = Vec::new();
        while let Some(t) = self.sup.poll_timeout() {
            if t > target {
                break;
            }
            let t = t.max(self.now);
            self.now = t;
            self.sup.handle_timeout(t);
            out.extend(self.drain());
            // Never due again at once: a caller's select would return at once, forever.
            if let Some(next) = self.sup.poll_timeout() {
                assert!(
                    next > t,
                    "due again right after handle_timeout at {:?} (a hot loop)\n history:\n{}",
                    t - self.t0,
                    self.log.join("\n")
                );
            }
        }
        self.now = target;
        let now = target;
        let c = |n: u64| ConnId(n);
        match input {
            In::Start => self.sup.start(now),
            In::Authenticated(n) => self.sup.handle_authenticated(now, c(n)).unwrap(),
            In::Connected(n) => self.sup.handle_connected(now, c(n)).unwrap(),
            In::Failed(n, f) => self.sup.handle_connect_failed(now, c(n), f),
            In::Text(n, s) => self.sup.handle_text(now, c(n), s).unwrap(),
            In::Ping(n) => self.sup.handle_ping(now, c(n)).unwrap(),
            In::Pong(n, p) => self.sup.handle_pong(now, c(n), &p).unwrap(),
            In::Closed(n, code) => self.sup.handle_closed(now, c(n), code, "").unwrap(),
            In::Ack(id) => {
                let r = self.sup.ack(now, id);
                self.ack_results.push(r);
            }
            In::AckPayload(id, p) => {
                let r = self.sup.ack_with_payload(now, id, &p);
                self.ack_results.push(r);
            }
            In::Shutdown => self.sup.shutdown(now),
            In::Tick => {}
        }
        out.extend(self.drain());
        for line in &out {
            self.log.push(format!("{ms:>7} {line}"));
        }
        out
    }

    /// Runs a script: each step's outputs must match `expected` (prefix match, same order,
    /// same count).
    fn run(&mut self, script: Script) {
        for (ms, input, expected) in script {
            let what = format!("{input:?}");
            let got = self.step(ms, input);
            let ok = got.len() == expected.len()
                && got.iter().zip(&expected).all(|(g, e)| g.starts_with(e));
            assert!(
                ok,
                "at {ms} ms, input {what}:\n expected {expected:#?}\n got {got:#?}\n history:\n{}",
                self.log.join("\n")
            );
        }
    }
}

/// A script: at this many milliseconds, this input, these outputs.
type Script = Vec<(u64, In, Vec<&'static str>)>;

fn ready_one() -> (Harness, Script) {
    ready_one_with(Config::default())
}

fn ready_one_with(cfg: Config) -> (Harness, Script) {
    let h = Harness::new(cfg);
    let script = vec![
        (0, In::Start, vec!["connect #1", "connecting #1 attempt=1"]),
        (10, In::Authenticated(1), vec!["authenticated #1"]),
        (20, In::Connected(1), vec!["connected #1"]),
        (30, In::Text(1, hello()), vec!["ready #1 n=1"]),
    ];
    (h, script)
}

#[test]
fn start_hello_event_ack() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (40, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]),
        (41, In::Ack("e1"), vec![r#"tx #1 {"envelope_id":"e1"}"#]),
    ]);
    h.run(s);
    assert!(h.sup.is_connected());
    assert_eq!(h.sup.stats().delivered, 1);
    assert_eq!(h.sup.stats().acked, 1);
}

#[test]
fn hello_deadline_closes_and_backs_off() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (100, In::Connected(1), vec!["connected #1"]),
        // No hello within 10 s of the socket opening.
        (
            10_100,
            In::Tick,
            vec![
                "disconnecting #1 hello_timeout",
                "reconnecting - hello_timeout failures=1",
                "tx #1 close 1002",
            ],
        ),
        (
            10_200,
            In::Closed(1, Some(1002)),
            vec!["disconnected #1 hello_timeout"],
        ),
    ]);
    // The retry waits for its backoff (at least the 250 ms floor, at most the 1 s ceiling).
    let next = h.sup.poll_timeout().unwrap();
    assert!(next >= h.at(10_100 + 250) && next <= h.at(10_100 + 1000));
}

#[test]
fn zero_gap_refresh_with_envelopes_on_both_connections() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        // Slack warns: the replacement is opened at once, the old link stays.
        (
            1_000,
            In::Text(1, disconnect("warning")),
            vec![
                "reconnecting #1 slack:warning failures=0 delay=0",
                "connect #2",
                "connecting #2 attempt=1",
            ],
        ),
        // Envelopes still arrive on the old one and are acked there.
        (
            1_100,
            In::Text(1, event("e1", "Ev1")),
            vec!["request #1 e1"],
        ),
        (1_101, In::Ack("e1"), vec![r#"tx #1 {"envelope_id":"e1"}"#]),
        (1_150, In::Text(1, disconnect("refresh_requested")), vec![]),
        (1_200, In::Connected(2), vec!["connected #2"]),
        (
            1_250,
            In::Text(1, event("e2", "Ev2")),
            vec!["request #1 e2"],
        ),
        (1_251, In::Ack("e2"), vec![r#"tx #1 {"envelope_id":"e2"}"#]),
        // The replacement says hello. The old link drains: Slack may still deliver on it, and
        // nothing can be acked after our close frame.
        (1_300, In::Text(2, hello()), vec!["ready #2 n=2"]),
        // An envelope still arrives on the old link: handed over and acked there.
        (
            1_305,
            In::Text(1, event("e4", "Ev4")),
            vec!["request #1 e4"],
        ),
        (1_306, In::Ack("e4"), vec![r#"tx #1 {"envelope_id":"e4"}"#]),
        // Slack redelivers e2's event on the new link (say the ack was lost): acked, not handed over again.
        (
            1_310,
            In::Text(2, event("e2-retry", "Ev2")),
            vec![
                "duplicate #2 e2-retry Ev2",
                r#"tx #2 {"envelope_id":"e2-retry"}"#,
            ],
        ),
        (
            1_320,
            In::Text(2, event("e3", "Ev3")),
            vec!["request #2 e3"],
        ),
        (1_321, In::Ack("e3"), vec![r#"tx #2 {"envelope_id":"e3"}"#]),
        // Quiet for `drain_quiet` (1 s) with nothing left to ack: only now is it closed.
        (2_304, In::Tick, vec![]),
        (
            2_305,
            In::Tick,
            vec!["disconnecting #1 replaced", "tx #1 close 1000"],
        ),
        (
            2_400,
            In::Closed(1, Some(1000)),
            vec!["disconnected #1 replaced"],
        ),
    ]);
    h.run(s);
    assert!(h.sup.is_connected());
    assert_eq!(h.sup.connections(), vec![ConnId(2)]);
    assert_eq!(h.sup.stats().delivered, 4);
    assert_eq!(h.sup.stats().duplicates, 1);
    // There was never a moment without a ready connection: #1 was ready until #2 was.
}

#[test]
fn refresh_when_slack_closes_the_old_link_first() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (
            1_000,
            In::Text(1, disconnect("refresh_requested")),
            vec![
                "reconnecting #1 slack:refresh_requested",
                "connect #2",
                "connecting #2",
            ],
        ),
        // Slack closes the old one before the replacement is up: no failure is counted.
        (
            1_100,
            In::Closed(1, Some(1000)),
            vec!["disconnected #1 closed:1000"],
        ),
        (1_200, In::Connected(2), vec!["connected #2"]),
        (1_300, In::Text(2, hello()), vec!["ready #2 n=1"]),
    ]);
    h.run(s);
}

#[test]
fn link_disabled_stops_everything() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (
            500,
            In::Text(1, disconnect("link_disabled")),
            vec!["disconnecting #1 stopping", "tx #1 close 1000"],
        ),
        (
            600,
            In::Closed(1, Some(1000)),
            vec!["disconnected #1 stopping", "stopped LinkDisabled"],
        ),
        // Nothing more happens, ever.
        (600_000, In::Tick, vec![]),
    ]);
    h.run(s);
    assert!(h.sup.is_stopped());
    assert_eq!(h.sup.poll_timeout(), None);
}

#[test]
fn link_disabled_on_first_connection_is_unable_to_start() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (10, In::Connected(1), vec!["connected #1"]),
        (
            20,
            In::Text(1, disconnect("link_disabled")),
            vec![
                "unable_to_start LinkDisabled",
                "disconnecting #1 stopping",
                "tx #1 close 1000",
            ],
        ),
        // The peer never completes the close: the socket is dropped after 2 s.
        (
            2_020,
            In::Tick,
            vec![
                "abort #1",
                "disconnected #1 stopping",
                "stopped LinkDisabled",
            ],
        ),
    ]);
}

#[test]
fn too_many_websockets_backs_off_with_a_floor() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![(
        500,
        In::Text(1, disconnect("too_many_websockets")),
        vec![
            "disconnecting #1 slack:too_many_websockets",
            "reconnecting #1 slack:too_many_websockets failures=1 delay=5000",
            "tx #1 close 1000",
        ],
    )]);
    h.run(s);
    h.run(vec![
        (600, In::Closed(1, Some(1000)), vec!["disconnected #1"]),
        // Not before the 5 s floor.
        (5_499, In::Tick, vec![]),
        (
            5_500,
            In::Tick,
            vec!["connect #2", "connecting #2 attempt=2"],
        ),
    ]);
}

#[test]
fn unknown_disconnect_reason_is_treated_as_a_refresh() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![(
        500,
        In::Text(1, disconnect("something_new")),
        vec![
            "reconnecting #1 slack:something_new failures=0",
            "connect #2",
            "connecting #2",
        ],
    )]);
    h.run(s);
}

#[test]
fn half_open_link_is_detected_within_8s_and_replaced_first() {
    let (mut h, mut s) = ready_one();
    // Last frame at 30 ms (hello). Quiet: ping at 5.03 s. No pong: suspected at 8.03 s.
    s.extend(vec![
        (5_030, In::Tick, vec!["tx #1 ping"]),
        (
            8_030,
            In::Tick,
            vec![
                "reconnecting #1 unresponsive failures=0 delay=0",
                "connect #2",
                "connecting #2",
            ],
        ),
        (8_100, In::Connected(2), vec!["connected #2"]),
        // Replacement ready: the suspect link drains (Slack may still deliver on it) and,
        // quiet for `drain_quiet`, is closed.
        (8_200, In::Text(2, hello()), vec!["ready #2 n=1"]),
        (
            9_200,
            In::Tick,
            vec!["disconnecting #1 replaced", "tx #1 close 1000"],
        ),
        // The dead link never answers the close: dropped after the close timeout.
        (
            11_200,
            In::Tick,
            vec!["abort #1", "disconnected #1 replaced"],
        ),
    ]);
    h.run(s);
    assert!(h.sup.is_connected());
}

/// A link suspected for its missing pongs may still be delivering: an envelope that arrives on
/// it after the replacement is ready is acked there (not left to Slack's redelivery), and the
/// link is closed only once it has been quiet for `drain_quiet`.
#[test]
fn a_suspect_link_still_delivering_is_drained_before_it_is_closed() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (5_030, In::Tick, vec!["tx #1 ping"]),
        (
            8_030,
            In::Tick,
            vec![
                "reconnecting #1 unresponsive",
                "connect #2",
                "connecting #2",
            ],
        ),
        (8_100, In::Connected(2), vec!["connected #2"]),
        (8_200, In::Text(2, hello()), vec!["ready #2 n=1"]),
        (
            8_300,
            In::Text(1, event("e1", "Ev1")),
            vec!["request #1 e1"],
        ),
        (8_301, In::Ack("e1"), vec!["tx #1"]),
        // Quiet since 8.3 s: closed at 9.3 s.
        (9_299, In::Tick, vec![]),
        (
            9_300,
            In::Tick,
            vec!["disconnecting #1 replaced", "tx #1 close 1000"],
        ),
        (
            9_400,
            In::Closed(1, Some(1000)),
            vec!["disconnected #1 replaced"],
        ),
    ]);
    h.run(s);
    assert!(h.sup.is_connected());
    assert!(
        h.ack_results.iter().all(Result::is_ok),
        "{:?}",
        h.ack_results
    );
}

#[test]
fn any_inbound_frame_counts_as_life() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        // Slack's pings keep it alive: we never need to ping.
        (4_000, In::Ping(1), vec![]),
        (8_000, In::Ping(1), vec![]),
        (
            12_000,
            In::Text(1, event("e1", "Ev1")),
            vec!["request #1 e1"],
        ),
        (12_001, In::Ack("e1"), vec!["tx #1"]),
        // Quiet for 5 s: one ping; a pong (even slow) keeps it alive.
        // (Our ack is outbound: the quiet interval runs from the last inbound frame, at 12 s.)
        (17_001, In::Tick, vec!["tx #1 ping"]),
        (19_000, In::Pong(1, 1u64.to_be_bytes().to_vec()), vec![]),
    ]);
    h.run(s);
    assert_eq!(h.sup.stats().last_rtt, Some(Duration::from_millis(2_000)));
    assert!(h.sup.is_connected());
}

#[test]
fn false_alarm_costs_nothing() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (5_030, In::Tick, vec!["tx #1 ping"]),
        (
            8_030,
            In::Tick,
            vec![
                "reconnecting #1 unresponsive",
                "connect #2",
                "connecting #2",
            ],
        ),
        // The slow pong arrives after all: #1 is fine again.
        (8_500, In::Pong(1, 1u64.to_be_bytes().to_vec()), vec![]),
        (8_600, In::Connected(2), vec!["connected #2"]),
        // Two healthy links for a goal of one: the older drains, then is closed; the newer
        // is kept.
        (8_700, In::Text(2, hello()), vec!["ready #2 n=2"]),
        (
            9_700,
            In::Tick,
            vec!["disconnecting #1 replaced", "tx #1 close 1000"],
        ),
        (
            9_800,
            In::Closed(1, Some(1000)),
            vec!["disconnected #1 replaced"],
        ),
    ]);
    h.run(s);
    assert!(h.sup.is_connected());
}

#[test]
fn dead_link_without_replacement_is_dropped_after_the_abort_bound() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (5_030, In::Tick, vec!["tx #1 ping"]),
        (
            8_030,
            In::Tick,
            vec![
                "reconnecting #1 unresponsive",
                "connect #2",
                "connecting #2",
            ],
        ),
        // The replacement cannot connect (network down).
        (
            9_000,
            In::Failed(
                2,
                ConnectFailure::Transient {
                    error: "connection refused".into(),
                },
            ),
            vec![
                "disconnected #2 connect_failed",
                "reconnecting - connect_failed",
            ],
        ),
    ]);
    h.run(s);
    // The suspect is dropped 16 s after its last frame even though nothing replaced it.
    let out = h.step(16_030, In::Tick);
    assert!(
        out.iter().any(|l| l == "abort #1"),
        "{out:#?}\n{}",
        h.log.join("\n")
    );
    assert!(!h.sup.is_connected());
}

#[test]
fn backoff_doubles_caps_at_30s_and_resets_after_a_healthy_link() {
    let mut cfg = Config::default();
    cfg = cfg.backoff(
        Backoff::default()
            .base(Duration::from_secs(1))
            .cap(Duration::from_secs(30))
            .min(Duration::from_millis(250)),
    );
    let mut h = Harness::new(cfg);
    h.step(0, In::Start);
    let mut now = 0u64;
    let mut delays = Vec::new();
    for attempt in 1..=8u64 {
        let out = h.step(
            now + 10,
            In::Failed(
                attempt,
                ConnectFailure::Transient {
                    error: "refused".into(),
                },
            ),
        );
        let line = out
            .iter()
            .find(|l| l.starts_with("reconnecting"))
            .unwrap()
            .clone();
        let delay: u64 = line.rsplit("delay=").next().unwrap().parse().unwrap();
        delays.push(delay);
        let ceiling =
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000][attempt as usize - 1];
        assert!(
            (250..=ceiling).contains(&delay),
            "attempt {attempt}: delay {delay} outside [250, {ceiling}]"
        );
        // Nothing happens before the delay is over (no hot loop)...
        let before = h.step(now + 10 + delay - 1, In::Tick);
        assert!(before.is_empty(), "{before:?}");
        // ...and the next attempt starts right when it is.
        now = now + 10 + delay;
        let out = h.step(now, In::Tick);
        assert_eq!(
            out,
            vec![
                format!("connect #{}", attempt + 1),
                format!("connecting #{} attempt={}", attempt + 1, attempt + 1)
            ]
        );
    }
    assert_eq!(h.sup.stats().connect_failures, 8);
    // Now it works and stays up 30 s: healthy.
    h.step(now + 10, In::Connected(9));
    h.step(now + 20, In::Text(9, hello()));
    // Keep it alive with Slack pings.
    for i in 1..=9 {
        h.step(now + 20 + i * 4_000, In::Ping(9));
    }
    let out = h.step(now + 40_000, In::Closed(9, Some(1006)));
    assert_eq!(
        out,
        vec![
            "disconnected #9 closed:1006".to_owned(),
            "reconnecting #9 closed:1006 failures=0 delay=0".to_owned(),
            "connect #10".to_owned(),
            "connecting #10 attempt=1".to_owned(),
        ]
    );
}

#[test]
fn a_link_that_dies_young_counts_as_a_failure() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![(
        1_000,
        In::Closed(1, Some(1006)),
        vec![
            "disconnected #1 closed:1006",
            "reconnecting #1 closed:1006 failures=1",
        ],
    )]);
    h.run(s);
}

#[test]
fn retry_after_is_respected() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (
            50,
            In::Failed(
                1,
                ConnectFailure::RateLimited {
                    retry_after: Duration::from_secs(20),
                    error: "ratelimited".into(),
                },
            ),
            vec![
                "disconnected #1 connect_failed:ratelimited",
                "reconnecting - connect_failed:ratelimited failures=1 delay=20000",
            ],
        ),
        (20_049, In::Tick, vec![]),
        (
            20_050,
            In::Tick,
            vec!["connect #2", "connecting #2 attempt=2"],
        ),
    ]);
}

#[test]
fn a_retry_after_of_days_is_capped_at_five_minutes() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (
            50,
            In::Failed(
                1,
                ConnectFailure::RateLimited {
                    retry_after: Duration::from_secs(99_999_999_999),
                    error: "ratelimited".into(),
                },
            ),
            vec![
                "disconnected #1 connect_failed:ratelimited",
                // The event says when the next attempt is: in five minutes, not in 3000 years.
                "reconnecting - connect_failed:ratelimited failures=1 delay=300000",
            ],
        ),
        (300_049, In::Tick, vec![]),
        (
            300_050,
            In::Tick,
            vec!["connect #2", "connecting #2 attempt=2"],
        ),
    ]);
    let mut cfg = Config::default();
    cfg = cfg.max_retry_after(Duration::from_secs(60));
    let mut h = Harness::new(cfg);
    h.step(0, In::Start);
    let out = h.step(
        10,
        In::Failed(
            1,
            ConnectFailure::RateLimited {
                retry_after: Duration::from_secs(86_400),
                error: "ratelimited".into(),
            },
        ),
    );
    assert!(out[1].ends_with("delay=60000"), "{out:?}");
}

#[test]
fn fatal_auth_error_stops_without_retrying() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (
            50,
            In::Failed(
                1,
                ConnectFailure::Fatal {
                    error: "invalid_auth".into(),
                },
            ),
            vec![
                "disconnected #1 connect_failed:invalid_auth",
                "unable_to_start Fatal(\"invalid_auth\")",
                "stopped Fatal(\"invalid_auth\")",
            ],
        ),
        (3_600_000, In::Tick, vec![]),
    ]);
    assert_eq!(h.sup.poll_timeout(), None);
}

#[test]
fn connect_attempt_that_never_reports_is_abandoned() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (
            30_000,
            In::Tick,
            vec![
                "abort #1",
                "disconnected #1 connect_timed_out",
                "reconnecting - connect_timed_out failures=1",
            ],
        ),
    ]);
    // A late report for the abandoned attempt is refused (the caller drops that socket).
    assert!(h.sup.handle_connected(h.at(30_001), ConnId(1)).is_err());
}

#[test]
fn duplicates_are_suppressed_across_connections() {
    let mut cfg = Config::default();
    cfg = cfg.connections(2);
    // Minutes pass in this script with no traffic: keep the links from being judged dead.
    cfg = cfg.session(
        SessionConfig::default()
            .ping_after_quiet(Duration::from_secs(600))
            .dead_after_silence(Duration::from_secs(601))
            .abort_after_silence(Duration::from_secs(602)),
    );
    let mut h = Harness::new(cfg);
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (
            10,
            In::Connected(1),
            vec!["connected #1", "connect #2", "connecting #2"],
        ),
        (20, In::Connected(2), vec!["connected #2"]),
        (30, In::Text(1, hello()), vec!["ready #1 n=1"]),
        (40, In::Text(2, hello()), vec!["ready #2 n=2"]),
        (100, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]),
        // Slack retries on the other connection before our ack (retry_attempt 1).
        (
            150,
            In::Text(2, event("e1b", "Ev1")),
            vec!["duplicate #2 e1b Ev1", r#"tx #2 {"envelope_id":"e1b"}"#],
        ),
        (160, In::Ack("e1"), vec![r#"tx #1 {"envelope_id":"e1"}"#]),
        // And again five minutes later: still suppressed.
        (
            300_160,
            In::Text(1, event("e1c", "Ev1")),
            vec!["duplicate #1 e1c Ev1", r#"tx #1 {"envelope_id":"e1c"}"#],
        ),
    ]);
    assert_eq!(h.sup.stats().delivered, 1);
    assert_eq!(h.sup.stats().duplicates, 2);
}

#[test]
fn a_warned_link_under_steady_traffic_drains_until_drain_max() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (
            1_000,
            In::Text(1, disconnect("warning")),
            vec![
                "reconnecting #1 slack:warning",
                "connect #2",
                "connecting #2",
            ],
        ),
        (1_010, In::Connected(2), vec!["connected #2"]),
        (1_020, In::Text(2, hello()), vec!["ready #2 n=2"]),
    ]);
    // Slack keeps delivering on the warned link every 500 ms: it never goes quiet, so it stays
    // open (acks still sent on it) until `drain_max` (10 s after the replacement was ready).
    let mut t = 1_100;
    let mut n = 0;
    while t < 11_000 {
        let id: &'static str = Box::leak(format!("w{n}").into_boxed_str());
        s.push((
            t,
            In::Text(1, event(id, &format!("Evw{n}"))),
            vec!["request #1"],
        ));
        s.push((t + 1, In::Ack(id), vec!["tx #1"]));
        // The replacement carries traffic too (so its liveness timers stay quiet).
        let id2: &'static str = Box::leak(format!("n{n}").into_boxed_str());
        s.push((
            t + 250,
            In::Text(2, event(id2, &format!("Evn{n}"))),
            vec!["request #2"],
        ));
        s.push((t + 251, In::Ack(id2), vec!["tx #2"]));
        t += 500;
        n += 1;
    }
    s.push((
        11_020,
        In::Tick,
        vec!["disconnecting #1 replaced", "tx #1 close 1000"],
    ));
    h.run(s);
    assert_eq!(h.sup.connections(), vec![ConnId(1), ConnId(2)]);
}

#[test]
fn a_draining_link_waits_for_its_unacked_envelopes() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (40, In::Text(1, slash("s1")), vec!["request #1 s1"]),
        (
            100,
            In::Text(1, disconnect("refresh_requested")),
            vec![
                "reconnecting #1 slack:refresh_requested",
                "connect #2",
                "connecting #2",
            ],
        ),
        (110, In::Connected(2), vec!["connected #2"]),
        (120, In::Text(2, hello()), vec!["ready #2 n=2"]),
        // Quiet for more than 1 s, but s1 still awaits its payload ack: not closed.
        (1_500, In::Tick, vec![]),
        (
            1_600,
            In::AckPayload("s1", serde_json::json!({"text": "done"})),
            vec![r#"tx #1 {"envelope_id":"s1","payload":{"text":"done"}}"#],
        ),
        // Acked, and quiet since 40 ms: closed at the next timer.
        (
            1_601,
            In::Tick,
            vec!["disconnecting #1 replaced", "tx #1 close 1000"],
        ),
    ]);
    h.run(s);
}

#[test]
fn with_drain_max_zero_the_old_link_closes_when_the_replacement_is_ready() {
    let mut cfg = Config::default();
    cfg = cfg.drain_max(Duration::ZERO);
    let (mut h, mut s) = ready_one_with(cfg);
    s.extend(vec![
        (
            100,
            In::Text(1, disconnect("refresh_requested")),
            vec![
                "reconnecting #1 slack:refresh_requested",
                "connect #2",
                "connecting #2",
            ],
        ),
        (110, In::Connected(2), vec!["connected #2"]),
        (
            120,
            In::Text(2, hello()),
            vec![
                "ready #2 n=2",
                "disconnecting #1 replaced",
                "tx #1 close 1000",
            ],
        ),
    ]);
    h.run(s);
}

#[test]
fn declined_request_gets_through_on_redelivery() {
    let (mut h, mut s) = ready_one();
    s.push((40, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]));
    h.run(s);
    // The application's queue is full: it declines instead of acking.
    let frame = match slack_envelope::Frame::parse(event("e1", "Ev1")).unwrap() {
        slack_envelope::Frame::Envelope(e) => e,
        _ => unreachable!(),
    };
    h.sup.decline(&frame);
    h.run(vec![
        // Declined: no ack deadline fires for it (the application said it will not ack).
        (2_540, In::Tick, vec![]),
        // Slack redelivers: handed over again, since the first was never taken.
        (
            3_100,
            In::Text(1, event("e1-r", "Ev1")),
            vec!["request #1 e1-r"],
        ),
        (
            3_101,
            In::Ack("e1-r"),
            vec![r#"tx #1 {"envelope_id":"e1-r"}"#],
        ),
    ]);
    assert_eq!(h.sup.stats().declined, 1);
}

#[test]
fn ack_misuse_is_refused_with_typed_errors() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (40, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]),
        (41, In::Text(1, slash("s1")), vec!["request #1 s1"]),
        // A payload for an envelope that does not accept one.
        (
            42,
            In::AckPayload("e1", serde_json::json!({"text": "no"})),
            vec![],
        ),
        (43, In::Ack("e1"), vec!["tx #1"]),
        // A second ack.
        (44, In::Ack("e1"), vec![]),
        // An unknown envelope.
        (45, In::Ack("nope"), vec![]),
        // A payload over 20 KB.
        (
            46,
            In::AckPayload("s1", serde_json::json!({"text": "x".repeat(21_000)})),
            vec![],
        ),
        // A fine payload.
        (
            47,
            In::AckPayload("s1", serde_json::json!({"text": "ok"})),
            vec![r#"tx #1 {"envelope_id":"s1","payload":{"text":"ok"}}"#],
        ),
    ]);
    h.run(s);
    let r = &h.ack_results;
    assert!(matches!(&r[0], Err(Error::PayloadNotAccepted { envelope_id }) if envelope_id == "e1"));
    assert!(r[1].is_ok());
    assert!(matches!(&r[2], Err(Error::AlreadyAcked { envelope_id }) if envelope_id == "e1"));
    assert!(matches!(&r[3], Err(Error::UnknownEnvelope { envelope_id }) if envelope_id == "nope"));
    assert!(matches!(
        &r[4],
        Err(Error::PayloadTooLarge { limit: 20_480, .. })
    ));
    assert!(r[5].is_ok());
    // After the ack bookkeeping was cleaned up, a second ack is still recognised.
    h.step(9_000, In::Tick);
    assert!(matches!(
        h.sup.ack(h.at(9_001), "e1"),
        Err(Error::AlreadyAcked { .. })
    ));
}

#[test]
fn ack_deadline_warning_before_3s() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (1_000, In::Text(1, slash("s1")), vec!["request #1 s1"]),
        (3_499, In::Tick, vec![]),
        (3_500, In::Tick, vec!["overdue #1 s1"]),
        // A late ack still goes out.
        (3_600, In::Ack("s1"), vec![r#"tx #1 {"envelope_id":"s1"}"#]),
    ]);
    h.run(s);
    assert_eq!(h.sup.stats().ack_overdue, 1);
}

#[test]
fn acked_envelopes_cause_no_wakeups() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (100, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]),
        (101, In::Ack("e1"), vec!["tx #1"]),
    ]);
    h.run(s);
    // The only deadline is the liveness timer (ping after 5 s of quiet), not the ack warning.
    assert_eq!(h.sup.poll_timeout(), Some(h.at(100 + 5_000)));
}

#[test]
fn invalid_frames_are_reported_and_the_link_goes_on() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (40, In::Text(1, "not json".into()), vec!["error #1"]),
        (
            41,
            In::Text(1, r#"{"type":"events_api","payload":{}}"#.into()),
            vec!["error #1"],
        ),
        (
            42,
            In::Text(1, r#"{"type":"brand_new_thing"}"#.into()),
            vec![],
        ),
        (43, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]),
    ]);
    h.run(s);
    assert_eq!(h.sup.stats().invalid_frames, 2);
    assert!(h.sup.is_connected());
}

#[test]
fn shutdown_closes_with_1000_and_takes_nothing_new() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (40, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]),
        (41, In::Ack("e1"), vec!["tx #1"]),
        (
            50,
            In::Shutdown,
            vec!["disconnecting #1 shutdown", "tx #1 close 1000"],
        ),
        // Arrives after our close: not handed over, not acked (Slack redelivers it elsewhere).
        (55, In::Text(1, event("e2", "Ev2")), vec![]),
        (
            60,
            In::Closed(1, Some(1000)),
            vec!["disconnected #1 shutdown", "stopped Shutdown"],
        ),
    ]);
    h.run(s);
    assert!(h.sup.is_stopped());
}

#[test]
fn shutdown_while_connecting_aborts_the_attempt() {
    let mut h = Harness::new(Config::default());
    h.run(vec![
        (0, In::Start, vec!["connect #1", "connecting #1"]),
        (
            5,
            In::Shutdown,
            vec!["abort #1", "disconnected #1 shutdown", "stopped Shutdown"],
        ),
    ]);
}

#[test]
fn ten_connections_at_most() {
    let mut cfg = Config::default();
    cfg = cfg.connections(10);
    let mut h = Harness::new(cfg.clone());
    h.step(0, In::Start);
    for n in 1..=10u64 {
        h.step(n * 10, In::Connected(n));
        h.step(n * 10 + 1, In::Text(n, hello()));
    }
    assert_eq!(h.sup.ready_connections(), 10);
    // A refresh cannot open an 11th: the replacement waits until the old one is gone.
    let out = h.step(500, In::Text(3, disconnect("refresh_requested")));
    assert!(!out.iter().any(|l| l.starts_with("connect ")), "{out:?}");
    let out = h.step(600, In::Closed(3, Some(1000)));
    // The ten first attempts spent the burst of apps.connections.open calls: the next one
    // waits for a token (one per 1.2 s).
    assert!(!out.iter().any(|l| l.starts_with("connect ")), "{out:?}");
    let out = h.step(1_200, In::Tick);
    assert!(out.iter().any(|l| l == "connect #11"), "{out:?}");

    cfg = cfg.connections(11);
    assert!(Supervisor::new(cfg.clone()).is_err());
    cfg = cfg.connections(0);
    assert!(Supervisor::new(cfg).is_err());
}

#[test]
fn config_is_validated() {
    let mut cfg = Config::default();
    cfg = cfg.session(SessionConfig::default().ping_after_quiet(Duration::from_secs(10)));
    assert!(matches!(
        Supervisor::new(cfg),
        Err(Error::InvalidConfig { .. })
    ));
    let mut cfg = Config::default();
    cfg = cfg.dedup_window(Duration::from_secs(60));
    assert!(Supervisor::new(cfg).is_err());
}

#[test]
fn unknown_connection_inputs_are_errors_not_panics() {
    let (mut h, s) = ready_one();
    h.run(s);
    let now = h.at(50);
    assert!(matches!(
        h.sup.handle_text(now, ConnId(99), hello()),
        Err(Error::UnknownConnection { conn: ConnId(99) })
    ));
    assert!(h.sup.handle_ping(now, ConnId(99)).is_err());
    assert!(h.sup.handle_closed(now, ConnId(99), None, "").is_err());
}

/// Fires every timer due up to `ms` and asserts that after each `handle_timeout(now)` the next
/// deadline is later than `now`.
fn tick_checked(h: &mut Harness, ms: u64) -> Vec<String> {
    let target = h.at(ms);
    let mut out = Vec::new();
    for _ in 0..1000 {
        let Some(t) = h.sup.poll_timeout() else { break };
        if t > target {
            break;
        }
        let t = t.max(h.now);
        h.now = t;
        h.sup.handle_timeout(t);
        out.extend(h.drain());
        if let Some(next) = h.sup.poll_timeout() {
            assert!(
                next > t,
                "at {:?}: poll_timeout offers {:?}, not after now (a hot loop)",
                t - h.t0,
                next.checked_duration_since(h.t0)
            );
        }
    }
    h.now = target;
    out
}

#[test]
fn a_warned_link_carrying_traffic_while_its_replacement_fails_does_not_spin() {
    let (mut h, mut s) = ready_one();
    s.extend(vec![
        (
            1_000,
            In::Text(1, disconnect("warning")),
            vec![
                "reconnecting #1 slack:warning",
                "connect #2",
                "connecting #2",
            ],
        ),
        (1_010, In::Connected(2), vec!["connected #2"]),
        (1_020, In::Text(2, hello()), vec!["ready #2 n=2"]),
    ]);
    h.run(s);
    // #1 drains, still carrying traffic; then the replacement drops, and every later attempt
    // fails (apps.connections.open answers 500).
    h.step(1_100, In::Text(1, event("a1", "Eva1")));
    h.step(1_101, In::Ack("a1"));
    h.step(1_200, In::Closed(2, Some(1006)));
    let mut t = 1_300;
    while t < 60_000 {
        // Traffic on #1 every 700 ms, and a failure whenever an attempt is asked for.
        let id = format!("b{t}");
        let frame = event(&id, &format!("Ev{id}"));
        let mut lines = tick_checked(&mut h, t);
        h.sup.handle_text(h.now, ConnId(1), frame).unwrap();
        h.sup.ack(h.now, &id).unwrap();
        lines.extend(h.drain());
        for line in lines {
            if let Some(n) = line.strip_prefix("connect #") {
                let n: u64 = n.parse().unwrap();
                h.sup.handle_connect_failed(
                    h.now,
                    ConnId(n),
                    ConnectFailure::Transient {
                        error: "http 500".into(),
                    },
                );
            }
        }
        h.drain();
        t += 700;
    }
    // The warned link is kept while it is the only one that can receive.
    assert!(h.sup.connections().contains(&ConnId(1)));
    // Then #1 falls quiet: still no replacement, still no hot loop.
    let _ = tick_checked(&mut h, 120_000);
}

#[test]
fn a_refresh_storm_after_every_hello_does_not_spin_or_pile_up_links() {
    let mut h = Harness::new(Config::default());
    h.step(0, In::Start);
    let mut t = 10;
    let mut next_conn = 1u64;
    for _ in 0..40 {
        let _ = tick_checked(&mut h, t);
        h.sup.handle_connected(h.now, ConnId(next_conn)).unwrap();
        h.sup
            .handle_text(h.now, ConnId(next_conn), hello())
            .unwrap();
        h.sup
            .handle_text(h.now, ConnId(next_conn), disconnect("refresh_requested"))
            .unwrap();
        let lines = h.drain();
        if let Some(n) = lines.iter().find_map(|l| l.strip_prefix("connect #")) {
            next_conn = n.parse().unwrap();
        } else {
            // No new attempt yet: let time pass until one is asked for.
            let mut waited = 0;
            loop {
                t += 100;
                waited += 1;
                let mut lines = tick_checked(&mut h, t);
                lines.extend(h.drain());
                if let Some(n) = lines.iter().find_map(|l| l.strip_prefix("connect #")) {
                    next_conn = n.parse().unwrap();
                    break;
                }
                // Slack closes links it asked to refresh, after a while: answer the close frames.
                for l in &lines {
                    if let Some(rest) = l.strip_prefix("tx #") {
                        if let Some(n) = rest.strip_suffix(" close 1000") {
                            h.sup
                                .handle_closed(h.now, ConnId(n.parse().unwrap()), Some(1000), "")
                                .unwrap();
                        }
                    }
                }
                assert!(waited < 1000, "no new attempt");
            }
        }
        t += 100;
    }
    let _ = tick_checked(&mut h, t + 30_000);
    // The old links were drained and closed as soon as a newer one could receive: a storm
    // does not hold every slot.
    assert!(
        h.sup.connections().len() <= 3,
        "links held: {:?}",
        h.sup.connections()
    );
}

#[test]
fn an_envelope_id_over_the_limit_is_refused_and_not_remembered() {
    let (mut h, s) = ready_one();
    h.run(s);
    let long_id = "i".repeat(slack_envelope::MAX_ID_LEN + 1);
    let out = h.step(40, In::Text(1, event(&long_id, "Ev1")));
    assert_eq!(out, vec!["error #1"], "refused: no request, no ack");
    assert_eq!(h.sup.stats().invalid_frames, 1);
    assert_eq!(h.sup.stats().received, 0);
    let sess = h.sup.session(ConnId(1)).unwrap();
    assert!(
        !sess.knows(&long_id),
        "not awaiting an ack, not in the recently acked list"
    );
    assert_eq!(sess.unacked(), 0);
    assert!(matches!(
        h.sup.ack(h.now, &long_id),
        Err(Error::UnknownEnvelope { .. })
    ));
    // An `event_id` over the limit likewise, and it is not remembered by duplicate suppression:
    // the same `event_id` is refused again rather than suppressed as a duplicate.
    let long_event = "v".repeat(slack_envelope::MAX_ID_LEN + 1);
    let out = h.step(50, In::Text(1, event("e2", &long_event)));
    assert_eq!(out, vec!["error #1"]);
    let out = h.step(60, In::Text(1, event("e3", &long_event)));
    assert_eq!(out, vec!["error #1"]);
    assert!(!h.sup.session(ConnId(1)).unwrap().knows("e2"));
    assert_eq!(h.sup.stats().duplicates, 0);
    // Exactly at the limit is fine.
    let id = "i".repeat(slack_envelope::MAX_ID_LEN);
    let out = h.step(
        70,
        In::Text(1, event(&id, &"v".repeat(slack_envelope::MAX_ID_LEN))),
    );
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("request #1 iiii"), "{out:?}");
    let err = slack_envelope::Frame::parse(event(&long_id, "Ev1")).unwrap_err();
    assert!(matches!(
        err,
        Error::IdTooLong {
            field: "envelope_id",
            ..
        }
    ));
    assert!(err.to_string().len() < 100);
}

#[test]
fn the_dedup_window_does_not_remember_keys_over_the_limit() {
    let t0 = Instant::now();
    let mut w = slack_envelope::DedupWindow::new(Duration::from_secs(600), 100);
    let long = "k".repeat(slack_envelope::MAX_ID_LEN + 1);
    assert!(w.insert(t0, &long));
    assert!(!w.contains(&long));
    assert!(w.insert(t0, &long));
    assert!(w.insert(t0, "short"));
    assert!(!w.insert(t0, "short"));
}

#[test]
fn an_ack_on_a_closing_connection_names_it() {
    let (mut h, mut s) = ready_one();
    s.push((40, In::Text(1, event("e1", "Ev1")), vec!["request #1 e1"]));
    h.run(s);
    h.step(50, In::Shutdown);
    assert_eq!(
        h.sup.ack(h.now, "e1"),
        Err(Error::ConnectionClosing { conn: ConnId(1) })
    );
    assert_eq!(
        Error::ConnectionClosing { conn: ConnId(1) }.to_string(),
        "connection #1 is closing and sends nothing more"
    );
}

/// Feeds envelopes on #1 every `gap_ms` from `from` to `to` (acked at once), firing timers;
/// returns every output line.
fn traffic(h: &mut Harness, from: u64, to: u64, gap_ms: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let id = format!("t{t}");
        out.extend(tick_checked(h, t));
        h.sup
            .handle_text(h.now, ConnId(1), event(&id, &format!("Ev{id}")))
            .unwrap();
        h.sup.ack(h.now, &id).unwrap();
        out.extend(h.drain());
        t += gap_ms;
    }
    out
}

#[test]
fn a_busy_link_that_falls_silent_is_suspected_within_3s() {
    let (mut h, s) = ready_one();
    h.run(s);
    // 100 events a second for two seconds, then silence (a half-open link).
    let out = traffic(&mut h, 100, 2_100, 10);
    assert!(!out.iter().any(|l| l.contains("unresponsive")), "{out:?}");
    let last = 2_090;
    // Pinged after half the busy bound, suspected at the bound (3 s), replaced at once.
    let out = tick_checked(&mut h, last + 1_499);
    assert!(!out.iter().any(|l| l.contains("ping")), "{out:?}");
    let out = tick_checked(&mut h, last + 1_500);
    assert_eq!(out, vec!["tx #1 ping"]);
    let out = tick_checked(&mut h, last + 2_999);
    assert!(out.is_empty(), "{out:?}");
    let out = tick_checked(&mut h, last + 3_000);
    assert!(
        out.first()
            .is_some_and(|l| l.starts_with("reconnecting #1 unresponsive")),
        "{out:?}"
    );
    assert!(out.iter().any(|l| l == "connect #2"), "{out:?}");
}

#[test]
fn an_idle_link_keeps_the_8s_bound_and_normal_gaps_raise_no_alarm() {
    // Idle after hello: suspected at 8 s, as before.
    let (mut h, s) = ready_one();
    h.run(s);
    let out = tick_checked(&mut h, 30 + 7_999);
    assert!(!out.iter().any(|l| l.contains("unresponsive")), "{out:?}");
    let out = tick_checked(&mut h, 30 + 8_000);
    assert!(out.iter().any(|l| l.contains("unresponsive")), "{out:?}");

    // Traffic with gaps of 900 ms for a minute: busy, never suspected.
    let (mut h, s) = ready_one();
    h.run(s);
    let out = traffic(&mut h, 100, 60_100, 900);
    assert!(!out.iter().any(|l| l.contains("unresponsive")), "{out:?}");
    // Traffic with gaps of 2.5 s (longer than a busy link's): the 8 s bound applies, so a
    // 3 s or 7 s pause is no alarm.
    let (mut h, s) = ready_one();
    h.run(s);
    let out = traffic(&mut h, 100, 30_100, 2_500);
    assert!(!out.iter().any(|l| l.contains("unresponsive")), "{out:?}");
    let out = tick_checked(&mut h, 27_600 + 7_000);
    assert!(!out.iter().any(|l| l.contains("unresponsive")), "{out:?}");
    // A busy link whose traffic stops but that answers the ping is not suspected either.
    let (mut h, s) = ready_one();
    h.run(s);
    traffic(&mut h, 100, 2_100, 10);
    let out = tick_checked(&mut h, 2_090 + 1_500);
    assert_eq!(out, vec!["tx #1 ping"]);
    h.sup
        .handle_pong(
            h.now + Duration::from_millis(40),
            ConnId(1),
            &1u64.to_be_bytes(),
        )
        .unwrap();
    h.now += Duration::from_millis(40);
    let out = tick_checked(&mut h, 2_090 + 9_000);
    assert!(!out.iter().any(|l| l.contains("unresponsive")), "{out:?}");
}

#[test]
fn the_first_reconnect_after_a_working_link_drops_is_immediate() {
    for seed in 1..20u64 {
        let (mut h, s) = ready_one_with(Config::default().jitter_seed(seed));
        h.run(s);
        traffic(&mut h, 100, 5_000, 50);
        let out = h.step(5_000, In::Closed(1, Some(1006)));
        assert!(
            out.iter()
                .any(|l| l.starts_with("reconnecting #1 closed:1006")),
            "{out:?}"
        );
        // At once, or after at most 100 ms of jitter.
        let mut out = out;
        out.extend(tick_checked(&mut h, 5_100));
        assert!(out.iter().any(|l| l == "connect #2"), "{out:?}");
        // Later ones back off as before: the attempt fails, the next waits 250 ms to 2 s.
        let out = h.step(
            5_200,
            In::Failed(2, ConnectFailure::Transient { error: "x".into() }),
        );
        assert!(out.iter().any(|l| l.contains("failures=2")), "{out:?}");
        let next = h.sup.poll_timeout().unwrap();
        assert!(
            next >= h.at(5_450) && next <= h.at(7_200),
            "{:?}",
            next - h.t0
        );
    }
}

#[test]
fn apps_connections_open_is_never_called_faster_than_its_rate_limit() {
    // A storm of refresh_requested right after every hello, for ten minutes: each one asks
    // for a replacement at once (a planned replacement has no backoff), yet attempts never
    // exceed the burst plus one per 1.2 s.
    let mut h = Harness::new(Config::default());
    h.step(0, In::Start);
    let mut connects = 1u64;
    let mut pending = Some(1u64);
    let mut t = 0;
    while t < 600_000 {
        t += 50;
        let mut out = tick_checked(&mut h, t);
        if let Some(conn) = pending.take() {
            let c = ConnId(conn);
            h.sup.handle_connected(h.now, c).unwrap();
            h.sup.handle_text(h.now, c, hello()).unwrap();
            h.sup
                .handle_text(h.now, c, disconnect("refresh_requested"))
                .unwrap();
            out.extend(h.drain());
        }
        for l in &out {
            if let Some(n) = l.strip_prefix("connect #") {
                pending = Some(n.parse().unwrap());
                connects += 1;
            }
        }
        let allowed = 10 + t / 1_200;
        assert!(connects <= allowed, "{connects} attempts by {t} ms");
    }
    // The pace, not fewer: the storm is served as fast as allowed.
    assert!(connects >= 450, "{connects}");
    assert!(h.sup.connections().len() <= 4, "{:?}", h.sup.connections());
}

#[test]
fn the_number_of_connections_can_change_while_running() {
    let (mut h, s) = ready_one();
    h.run(s);
    // Up to two: a second link is opened.
    h.sup.set_connections(h.at(30), 2);
    let out = h.step(40, In::Tick);
    assert!(out.iter().any(|l| l.starts_with("connect #2")), "{out:?}");
    h.step(50, In::Authenticated(2));
    h.step(60, In::Connected(2));
    h.step(70, In::Text(2, hello()));
    assert_eq!(h.sup.ready_connections(), 2);
    // Down to none (a standby): both links are drained and closed, none is opened again.
    h.sup.set_connections(h.at(70), 0);
    let mut out = h.step(80, In::Tick);
    out.extend(h.step(20_000, In::Tick));
    assert!(
        out.iter().filter(|l| l.contains(" close ")).count() == 2,
        "{out:#?}"
    );
    assert!(!out.iter().any(|l| l.starts_with("connect #")), "{out:#?}");
    assert_eq!(h.sup.ready_connections(), 0);
    assert!(!h.sup.is_stopped());
    // Given one again: it connects.
    h.sup.set_connections(h.at(20_000), 1);
    let out = h.step(20_010, In::Tick);
    assert!(out.iter().any(|l| l.starts_with("connect #3")), "{out:#?}");
}
