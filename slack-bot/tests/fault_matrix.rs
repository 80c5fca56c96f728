//! The fault matrix: every fault the bot must survive, injected with `slack-testkit`, each with
//! the same four promises checked at the end of its test:
//!
//! 1. every envelope the fake sent was acked, or, when it was lost with its link, redelivered
//!    and then acked (and the fake never gave up on one);
//! 2. the handlers saw each `event_id` exactly once;
//! 3. the replacement link was ready within the row's bound (or, for a fault with no recovery,
//!    the retries were paced: `apps.connections.open` calls are counted, so a hot loop fails);
//! 4. no thread leaked: after the bot and the fake are shut down, every thread started during
//!    the test (by the bot, its sockets, its workers, the fake) is gone.
//!
//! Each test also runs with a `log` logger capturing every record at trace level and fails if
//! a token (app, bot, or the payloads' verification `token`) shows up in a log line or in the
//! `Debug` output of what the bot hands out (lifecycle events, stats, errors, the run report).
//!
//! | Fault | How it is injected | Expectation | Test |
//! |---|---|---|---|
//! | Peer drops TCP mid-stream | `Fault::DropTcp` on the only link while 60 events stream | new link ready ≤ 10 s; envelopes lost with the link are redelivered and acked; 2 `apps.connections.open` calls | `row_drop_tcp_mid_stream` |
//! | Half-open link | `Fault::Silent` mid-stream (TCP open, nothing read or written) | silence detected (1.5 s here, 8 s by default), replacement ready ≤ 10 s, make-before-break; envelopes that vanished are redelivered and acked | `row_half_open_link` |
//! | Garbage frames mixed into a stream | every `Garbage` kind (invalid JSON, binary, unknown envelope type, missing fields, not an object) between 40 events | link kept (1 open call, no reconnect); the unknown-type envelope acked; every event acked and handled once | `row_garbage_frames_mixed_into_a_stream` |
//! | Oversized frame | `Fault::Oversized` of 1 MiB (tolerated), then of 9 MiB (over the 8 MiB message limit) | 1 MiB: link kept; 9 MiB: link dropped by the bot and replaced ≤ 10 s, nothing lost | `row_oversized_frame` |
//! | WebSocket closed, TCP left open | `Fault::CloseKeepTcp` | close handshake bounded by `close_timeout`, replacement ready ≤ 10 s | `row_websocket_closed_tcp_left_open` |
//! | `apps.connections.open` fails N times | 3 failures (`internal_error`, HTTP 503, `internal_error`) at start, events queued meanwhile | exactly 4 calls, each ≥ 200 ms after the previous (backoff floor 250 ms), connected ≤ 30 s, no call after success | `row_connections_open_fails_then_succeeds` |
//! | 429 + `Retry-After` on connection open | link dropped while the next open answers 429 `Retry-After: 2` | next call ≥ 1.9 s after the 429, link ready ≤ 15 s, 3 calls in all | `row_connections_open_429_retry_after` |
//! | `too_many_websockets` | fake allows 1 socket; `refresh_requested` makes the bot open a second one, refused | retry waits ≥ 4.5 s (5 s floor), then succeeds once the old link is gone; ≤ 4 open calls; nothing lost | `row_too_many_websockets` |
//! | `too_many_websockets`, steady | bot wants 2 links, fake allows 1 | the first link serves every event; the second is refused again at most every ~5 s (each refusal ≥ 4.5 s after the last, ≤ 3 in 6 s) | `row_too_many_websockets_steady` |
//! | `warning` then `refresh_requested` under load | 300 events; `warning` at 50, `refresh_requested` (on the link then in use) at 120 | make-before-break, new link ready ≤ 10 s, old ones drained (still acking) and then closed; no envelope needs a redelivery | `row_warning_then_refresh_under_load` |
//! | `link_disabled` | `disconnect(link_disabled)` after 30 events were acked | bot stops with `Stopped(LinkDisabled)` ≤ 10 s, never reconnects (1 open call); later envelopes are not taken | `row_link_disabled` |
//! | Connection refused at start | API URL on a closed port of 127.0.0.1; the fake started on that port later | retries paced (≥ 200 ms apart, failures counted up), bot not connected; ready ≤ 20 s after the fake appears | `row_connection_refused_at_start` |
//! | DNS failure at start | API URL `http://nonexistent.invalid/` | retries paced: ≤ 5 attempts in 4 s, growing failure count; clean shutdown | `row_dns_failure_at_start` |
//! | Socket connection refused | `apps.connections.open` answers twice with a `ws://` URL on a closed port | retries paced (≥ 200 ms apart), third attempt ready ≤ 15 s; events queued meanwhile acked | `row_socket_connection_refused` |
//! | TLS certificate from another CA | fake on https/wss; the bot trusts only another fake's CA | no request reaches the fake, no socket; a configuration error: the bot stops ≤ 10 s with `Stopped(Fatal)` naming the certificate, after 1 attempt | `row_tls_certificate_from_another_ca` |
//! | TLS certificate for another name | fake on https/wss with a certificate for `other.example` (its CA trusted) | as above | `row_tls_certificate_for_another_name` |
//! | Socket URL with an untrusted certificate | Web API trusted; `apps.connections.open` answers twice with the `wss://` URL of a server whose CA is not trusted | no socket reaches that server; the third attempt gets a good URL and is ready ≤ 15 s | `row_socket_url_with_untrusted_certificate` |
//!
//! The tests run one at a time (a process-wide lock) so that the thread count and the captured
//! log lines belong to one scenario. Waits are bounded and generous (the machine may be loaded);
//! no assertion is about speed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use common::{SOON, fast_session, message, wait_until};
use slack_bot::slack_envelope::{Lifecycle, StopReason};
use slack_bot::{Bot, BotBuilder, BotEvent, Error, Reply, RunningBot};
use slack_testkit::{ConnId, Event, FakeSlack, FakeSlackBuilder, Fault, Garbage, OpenError};

const APP_TOKEN: &str = "xapp-1-A111-333-matrixAPPSECRET";
const BOT_TOKEN: &str = "xoxb-111-333-matrixBOTSECRET";
/// The verification token the fake puts in every payload's `token` field.
const VERIFICATION_TOKEN: &str = "verification-token";
const SECRETS: [&str; 5] = [
    APP_TOKEN,
    BOT_TOKEN,
    "matrixAPPSECRET",
    "matrixBOTSECRET",
    VERIFICATION_TOKEN,
];

// ---------------------------------------------------------------------------------------------
// Log capture
// ---------------------------------------------------------------------------------------------

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static LOGGER: Once = Once::new();

/// Captures every record at every level, like an application's logger set to trace.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        // As in tests/secrets.rs (and as the `slack-bot` binary does): ureq's protocol layer
        // hex-dumps raw requests (the bearer token) and tungstenite logs every received frame
        // at trace level; no library can silence a dependency's records, the application's
        // logger must leave them out.
        let target = record.target();
        if target.starts_with("ureq_proto")
            || (target.starts_with("tungstenite") && record.level() == log::Level::Trace)
        {
            return;
        }
        let line = format!("{} {}: {}", record.level(), target, record.args());
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

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

/// Every thread of the process: id → name.
fn threads() -> HashMap<u64, String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let tid: u64 = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            Some((tid, comm.trim().to_owned()))
        })
        .collect()
}

/// Threads started since `before` that are not the test harness's own (libtest names its
/// threads after the tests, which all start with `row_`).
fn new_threads(before: &HashSet<u64>) -> Vec<String> {
    threads()
        .into_iter()
        .filter(|(tid, name)| !before.contains(tid) && !name.starts_with("row_"))
        .map(|(tid, name)| format!("{tid}:{name}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One row of the matrix
// ---------------------------------------------------------------------------------------------

static SERIAL: Mutex<()> = Mutex::new(());

type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// One scenario: the fake, what it streamed, what the handlers saw, and the checks.
struct Row {
    slack: Option<FakeSlack>,
    stream: crossbeam_channel::Receiver<Event>,
    history: Vec<Event>,
    sent: Vec<String>,
    seen: Seen,
    threads_before: HashSet<u64>,
    log_from: usize,
    _serial: MutexGuard<'static, ()>,
}

impl Row {
    /// Takes the lock, notes the threads, starts the fake (with this row's tokens).
    fn start(fake: FakeSlackBuilder) -> Row {
        let mut row = Row::begin();
        row.start_fake(fake);
        row
    }

    /// Takes the lock and notes the threads; the fake comes later ([`Row::start_fake`]).
    fn begin() -> Row {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        LOGGER.call_once(|| {
            log::set_boxed_logger(Box::new(Capture)).unwrap();
            log::set_max_level(log::LevelFilter::Trace);
        });
        let threads_before = threads().into_keys().collect();
        let log_from = LINES.lock().unwrap_or_else(|e| e.into_inner()).len();
        Row {
            slack: None,
            stream: crossbeam_channel::never(),
            history: Vec::new(),
            sent: Vec::new(),
            seen: Arc::default(),
            threads_before,
            log_from,
            _serial: serial,
        }
    }

    fn start_fake(&mut self, fake: FakeSlackBuilder) {
        let slack = fake
            .app_token(APP_TOKEN)
            .bot_token(BOT_TOKEN)
            .start()
            .unwrap();
        self.stream = slack.subscribe();
        self.slack = Some(slack);
    }

    fn slack(&self) -> &FakeSlack {
        self.slack.as_ref().unwrap()
    }

    /// A bot builder for this fake (plain loopback, short liveness timings) whose handler
    /// counts each `event_id`.
    fn builder(&self) -> BotBuilder {
        builder_for(&self.slack().api_url(), &self.seen)
    }

    fn bot(&self) -> RunningBot {
        self.builder().start().unwrap()
    }

    /// Sends a message event and remembers its envelope id.
    fn send(&mut self, tag: &str) -> String {
        let id = self
            .slack()
            .send_event(message("C1", tag, &format!("{}.1", self.sent.len() + 1)))
            .unwrap();
        self.sent.push(id.clone());
        id
    }

    fn open_calls(&self) -> Vec<slack_testkit::WebCall> {
        self.slack()
            .calls()
            .into_iter()
            .filter(|c| c.method == "apps.connections.open")
            .collect()
    }

    fn first_open(&self) -> ConnId {
        *self
            .slack()
            .open_connections()
            .first()
            .expect("an open link")
    }

    /// Waits for a link other than `old` to be open with `hello` sent; returns how long it took
    /// from `since`, failing past `bound`.
    fn wait_replacement(&self, old: ConnId, since: Instant, bound: Duration) -> Duration {
        wait_until(bound, "a replacement link to be ready", || {
            self.slack()
                .connections()
                .iter()
                .any(|c| c.id > old && c.open && !c.refused && c.hello_sent)
        });
        since.elapsed()
    }

    /// Promises 1 and 2: every envelope acked (or redelivered and acked), each event once.
    fn check_delivery(&mut self) {
        let slack = self.slack.as_ref().unwrap();
        for id in &self.sent {
            slack.wait_for_ack(id, Duration::from_secs(30)).unwrap();
        }
        let n = self.sent.len();
        let seen = self.seen.clone();
        wait_until(SOON, "every event to reach a handler", || {
            seen.lock().unwrap().len() >= n
        });
        // Give a duplicate the time to show up.
        std::thread::sleep(Duration::from_millis(300));
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), n, "distinct event ids handled");
            let twice: Vec<_> = seen.iter().filter(|(_, c)| **c != 1).collect();
            assert!(twice.is_empty(), "handled more than once: {twice:?}");
        }
        self.history.extend(self.stream.try_iter());
        let acked: HashSet<String> = slack.acks().into_iter().map(|a| a.envelope_id).collect();
        let conns: HashMap<ConnId, bool> = slack
            .connections()
            .into_iter()
            .map(|c| (c.id, c.open))
            .collect();
        for e in &self.history {
            match e {
                Event::GaveUp { envelope_id } => {
                    panic!("the fake gave up on envelope {envelope_id}")
                }
                Event::EnvelopeSent {
                    id, envelope_id, ..
                } if !acked.contains(envelope_id) => {
                    // Only a delivery lost with its link may stay un-acked (its redelivery
                    // was acked: checked above through `wait_for_ack`).
                    assert_eq!(
                        conns.get(id),
                        Some(&false),
                        "envelope {envelope_id} on the live link {id} was never acked"
                    );
                }
                _ => {}
            }
        }
    }

    /// Promise 4 and the secrets: shuts the fake down, waits for every new thread to end,
    /// checks the captured log lines.
    fn finish(mut self) {
        if let Some(slack) = self.slack.take() {
            slack.shutdown();
        }
        let before = self.threads_before.clone();
        let deadline = Instant::now() + SOON;
        loop {
            let left = new_threads(&before);
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "threads leaked: {left:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let lines = LINES.lock().unwrap_or_else(|e| e.into_inner());
        let mine = lines.get(self.log_from..).unwrap_or_default();
        assert!(
            mine.iter()
                .any(|l| l.starts_with("TRACE") || l.starts_with("DEBUG")),
            "log records were captured"
        );
        for l in mine {
            assert_clean("a log line", l);
        }
    }
}

fn builder_for(api_url: &str, seen: &Seen) -> BotBuilder {
    let s = seen.clone();
    Bot::builder(APP_TOKEN, BOT_TOKEN)
        .unwrap()
        .api_url(api_url)
        .allow_insecure(true)
        .no_proxy()
        .session(fast_session())
        .shutdown_timeout(Duration::from_secs(3))
        .jitter_seed(11)
        .on_any_event(move |ctx| {
            let event_id = ctx.event().unwrap().event_id.clone().unwrap();
            *s.lock().unwrap().entry(event_id).or_default() += 1;
            Ok(Reply::Ack)
        })
}

/// Shuts the bot down (bounded) and checks what it hands out for secrets.
fn shutdown(bot: RunningBot) {
    let events: Vec<BotEvent> = bot.events().try_iter().collect();
    assert_clean("lifecycle events", &format!("{events:?}"));
    assert_clean("stats", &format!("{:?}", bot.stats()));
    assert_clean("the bot", &format!("{bot:?}"));
    let report = bounded(SOON, move || bot.shutdown()).unwrap();
    assert_clean("the run report", &format!("{report:?}"));
    assert!(report.unsent.is_empty(), "{report:?}");
}

/// Runs `f` on a thread and fails the test if it takes longer than `bound`.
fn bounded<T: Send + 'static>(bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let h = std::thread::Builder::new()
        .name("row_bounded".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    let v = rx.recv_timeout(bound).expect("finished in time");
    h.join().unwrap();
    v
}

/// Lifecycle events until `done` says stop or `bound` passes (then fails).
fn collect_lifecycle(
    events: &crossbeam_channel::Receiver<BotEvent>,
    bound: Duration,
    mut done: impl FnMut(&[(Instant, Lifecycle)]) -> bool,
) -> Vec<(Instant, Lifecycle)> {
    let deadline = Instant::now() + bound;
    let mut got = Vec::new();
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; lifecycle so far: {got:?}");
        if let Ok(BotEvent::Lifecycle(l)) =
            events.recv_timeout(left.min(Duration::from_millis(100)))
        {
            got.push((Instant::now(), l));
        }
    }
    got
}

fn connecting_times(events: &[(Instant, Lifecycle)]) -> Vec<Instant> {
    events
        .iter()
        .filter(|(_, l)| matches!(l, Lifecycle::Connecting { .. }))
        .map(|(t, _)| *t)
        .collect()
}

/// Consecutive gaps are at least `floor` (no hot loop).
fn assert_paced(times: &[Instant], floor: Duration, what: &str) {
    for w in times.windows(2) {
        let gap = w[1].saturating_duration_since(w[0]);
        assert!(
            gap >= floor,
            "{what}: attempts {gap:?} apart (floor {floor:?})"
        );
    }
}

fn call_times(calls: &[slack_testkit::WebCall]) -> Vec<Instant> {
    calls.iter().map(|c| c.at).collect()
}

// ---------------------------------------------------------------------------------------------
// The rows
// ---------------------------------------------------------------------------------------------

#[test]
fn row_drop_tcp_mid_stream() {
    let mut row = Row::start(FakeSlack::builder().ack_timeout(Duration::from_secs(1)));
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    let mut faulted = None;
    for i in 0..60 {
        if i == 20 {
            row.slack().fault(first, Fault::DropTcp).unwrap();
            faulted = Some(Instant::now());
        }
        row.send(&format!("drop {i}"));
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = row.wait_replacement(first, faulted.unwrap(), SOON);
    println!("drop_tcp: replacement ready after {took:?}");
    row.check_delivery();
    assert_eq!(row.open_calls().len(), 2);
    assert!(bot.stats().reconnects >= 1);
    // The leak check sees the bot's threads while it runs (names are cut to 15 bytes).
    let running = new_threads(&row.threads_before);
    for name in [
        "slack-event-loo",
        "slack-worker-0",
        "slack-ws-io",
        "fake-slack-acce",
    ] {
        assert!(
            running.iter().any(|t| t.ends_with(name)),
            "{name} in {running:?}"
        );
    }
    shutdown(bot);
    row.finish();
}

#[test]
fn row_half_open_link() {
    let mut row = Row::start(FakeSlack::builder().ack_timeout(Duration::from_secs(1)));
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    let mut faulted = None;
    for i in 0..40 {
        if i == 10 {
            row.slack().fault(first, Fault::Silent).unwrap();
            faulted = Some(Instant::now());
        }
        row.send(&format!("silent {i}"));
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = row.wait_replacement(first, faulted.unwrap(), SOON);
    println!("silent: replacement ready after {took:?}");
    // Not before the silence bound (1.5 s): no false alarm.
    assert!(
        took >= Duration::from_millis(1000),
        "replaced after {took:?}"
    );
    wait_until(SOON, "the silent link to be let go", || {
        bot.stats().connections == 1 && bot.is_connected()
    });
    row.send("after");
    row.check_delivery();
    shutdown(bot);
    row.finish();
}

#[test]
fn row_garbage_frames_mixed_into_a_stream() {
    let mut row = Row::start(FakeSlack::builder());
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    let garbage = [
        Garbage::InvalidJson,
        Garbage::Binary,
        Garbage::UnknownEnvelopeType,
        Garbage::MissingFields,
        Garbage::NotAnObject,
    ];
    for i in 0..40 {
        if i % 8 == 3 {
            row.slack()
                .fault(first, Fault::Garbage(garbage[i / 8]))
                .unwrap();
        }
        row.send(&format!("garbage {i}"));
    }
    row.check_delivery();
    // The unknown-type envelope (which has an envelope_id) was acked too.
    wait_until(SOON, "the unknown envelope to be acked", || {
        row.slack().acks().iter().any(|a| !a.known)
    });
    // The link was kept: no reconnect.
    assert_eq!(row.slack().open_connections(), vec![first]);
    assert_eq!(row.open_calls().len(), 1);
    assert_eq!(bot.stats().reconnects, 0);
    shutdown(bot);
    row.finish();
}

#[test]
fn row_oversized_frame() {
    let mut row = Row::start(FakeSlack::builder().ack_timeout(Duration::from_secs(1)));
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    row.send("before");
    // Big but under the 8 MiB message limit: tolerated (an unknown envelope type).
    row.slack().fault(first, Fault::Oversized(1 << 20)).unwrap();
    row.send("between");
    row.slack()
        .wait_for_ack(row.sent.last().unwrap(), SOON)
        .unwrap();
    assert_eq!(row.slack().open_connections(), vec![first]);
    // Over the limit: the bot drops the link rather than buffer without bound.
    let faulted = Instant::now();
    row.slack().fault(first, Fault::Oversized(9 << 20)).unwrap();
    for i in 0..10 {
        row.send(&format!("after {i}"));
    }
    let took = row.wait_replacement(first, faulted, SOON);
    println!("oversized: replacement ready after {took:?}");
    row.check_delivery();
    assert_eq!(row.open_calls().len(), 2);
    shutdown(bot);
    row.finish();
}

#[test]
fn row_websocket_closed_tcp_left_open() {
    let mut row = Row::start(FakeSlack::builder().ack_timeout(Duration::from_secs(1)));
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    row.send("before");
    let faulted = Instant::now();
    row.slack().fault(first, Fault::CloseKeepTcp).unwrap();
    for i in 0..10 {
        row.send(&format!("after {i}"));
    }
    let took = row.wait_replacement(first, faulted, SOON);
    println!("close_keep_tcp: replacement ready after {took:?}");
    row.slack().wait_for_close(first, SOON).unwrap();
    row.check_delivery();
    assert_eq!(row.open_calls().len(), 2);
    shutdown(bot);
    row.finish();
}

#[test]
fn row_connections_open_fails_then_succeeds() {
    let mut row = Row::start(FakeSlack::builder());
    row.slack()
        .fail_connections_open(1, OpenError::InternalError);
    row.slack()
        .fail_connections_open(1, OpenError::ServiceUnavailable);
    row.slack()
        .fail_connections_open(1, OpenError::InternalError);
    // Queued by the fake until a link is ready.
    for i in 0..5 {
        row.send(&format!("early {i}"));
    }
    let started = Instant::now();
    let bot = row.bot();
    row.slack()
        .wait_for_connections(1, Duration::from_secs(30))
        .unwrap();
    println!(
        "open failing 3 times: connected after {:?}",
        started.elapsed()
    );
    row.check_delivery();
    // No call after the success, whatever the time.
    std::thread::sleep(Duration::from_millis(500));
    let calls = row.open_calls();
    assert_eq!(calls.len(), 4, "{:?}", call_times(&calls));
    assert_paced(
        &call_times(&calls),
        Duration::from_millis(200),
        "apps.connections.open",
    );
    shutdown(bot);
    row.finish();
}

#[test]
fn row_connections_open_429_retry_after() {
    let mut row = Row::start(FakeSlack::builder().ack_timeout(Duration::from_secs(1)));
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    row.send("before");
    row.slack().fail_connections_open(
        1,
        OpenError::Ratelimited {
            retry_after_secs: 2,
        },
    );
    let faulted = Instant::now();
    row.slack().fault(first, Fault::DropTcp).unwrap();
    for i in 0..5 {
        row.send(&format!("after {i}"));
    }
    let took = row.wait_replacement(first, faulted, Duration::from_secs(15));
    println!("429: replacement ready after {took:?}");
    row.check_delivery();
    let calls = row.open_calls();
    assert_eq!(calls.len(), 3, "{:?}", call_times(&calls));
    assert_eq!(calls[1].status, 429);
    let gap = calls[2].at.saturating_duration_since(calls[1].at);
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After ignored: {gap:?}"
    );
    shutdown(bot);
    row.finish();
}

#[test]
fn row_too_many_websockets() {
    let mut row = Row::start(
        FakeSlack::builder()
            .max_connections(1)
            .refresh_grace(Duration::from_millis(1500))
            .ack_timeout(Duration::from_secs(1)),
    );
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    row.send("before");
    row.slack().wait_for_ack(&row.sent[0], SOON).unwrap();
    let faulted = Instant::now();
    // The replacement is refused while the old link is in its grace period.
    row.slack().disconnect(first, "refresh_requested").unwrap();
    for i in 0..10 {
        row.send(&format!("during {i}"));
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until(SOON, "a refused link", || {
        row.slack().connections().iter().any(|c| c.refused)
    });
    let took = row.wait_replacement(first, faulted, Duration::from_secs(30));
    println!("too_many_websockets: replacement ready after {took:?}");
    row.check_delivery();
    let calls = row.open_calls();
    let times = call_times(&calls);
    assert!(
        (3..=4).contains(&calls.len()),
        "open calls at {:?}",
        times
            .iter()
            .map(|t| t.saturating_duration_since(faulted))
            .collect::<Vec<_>>()
    );
    // The call after the refusal waited the too_many_websockets floor (5 s).
    let gap = times[2].saturating_duration_since(times[1]);
    assert!(gap >= Duration::from_millis(4500), "retried after {gap:?}");
    shutdown(bot);
    row.finish();
}

#[test]
fn row_warning_then_refresh_under_load() {
    let mut row = Row::start(
        FakeSlack::builder()
            .refresh_grace(Duration::from_millis(500))
            .ack_timeout(Duration::from_secs(2)),
    );
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    let first = row.first_open();
    let started = Instant::now();
    let mut current = first;
    let mut faulted = None;
    for i in 0..300 {
        if i == 50 {
            row.slack().disconnect(first, "warning").unwrap();
        }
        if i == 120 {
            // The bot may already have moved off the warned link (a warning is reason
            // enough to replace it): refresh whichever link carries the traffic now.
            current = *row.slack().open_connections().last().unwrap();
            row.slack()
                .disconnect(current, "refresh_requested")
                .unwrap();
            faulted = Some(Instant::now());
        }
        row.send(&format!("load {i}"));
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let took = row.wait_replacement(current, faulted.unwrap(), SOON);
    println!("refresh under load: replacement ready after {took:?}");
    row.slack().wait_for_close(first, SOON).unwrap();
    row.slack().wait_for_close(current, SOON).unwrap();
    row.check_delivery();
    // Zero gap: the bot drains a retired link (warned or refresh-requested) before closing it,
    // acking what still arrives there, so no envelope may need Slack's redelivery.
    let late: Vec<String> = row
        .slack()
        .acks()
        .into_iter()
        .filter(|a| a.retry_attempt > 0)
        .map(|a| a.first_envelope_id)
        .collect();
    let first_link: HashMap<String, ConnId> = row
        .history
        .iter()
        .filter_map(|e| match e {
            Event::EnvelopeSent {
                id,
                envelope_id,
                retry_attempt: 0,
                ..
            } => Some((envelope_id.clone(), *id)),
            _ => None,
        })
        .collect();
    let not_warned = late.clone();
    println!(
        "refresh under load: {} envelope(s) were redelivered",
        late.len()
    );
    if !not_warned.is_empty() {
        let links: Vec<String> = row
            .slack()
            .connections()
            .iter()
            .map(|c| {
                format!(
                    "{}: opened {:?} closed {:?} ({:?}), disconnect sent {:?}",
                    c.id,
                    c.opened_at.saturating_duration_since(started),
                    c.closed_at.map(|t| t.saturating_duration_since(started)),
                    c.close_reason,
                    c.disconnect_sent
                )
            })
            .collect();
        let on: Vec<String> = not_warned
            .iter()
            .map(|id| format!("{id} on {:?}", first_link.get(id)))
            .collect();
        panic!("redelivered during a refresh: {on:?}; links: {links:#?}");
    }
    let opens = row.open_calls().len();
    assert!((2..=3).contains(&opens), "{opens} open calls");
    wait_until(SOON, "one ready link", || bot.stats().connections == 1);
    shutdown(bot);
    row.finish();
}

#[test]
fn row_link_disabled() {
    let mut row = Row::start(FakeSlack::builder());
    let bot = row.bot();
    row.slack().wait_for_connections(1, SOON).unwrap();
    for i in 0..30 {
        row.send(&format!("before {i}"));
    }
    row.check_delivery();
    let events = bot.events();
    let conn = row.first_open();
    row.slack().disconnect(conn, "link_disabled").unwrap();
    let result = bounded(SOON, move || bot.wait());
    match &result {
        Err(Error::Stopped(StopReason::LinkDisabled)) => {}
        other => panic!("expected Stopped(LinkDisabled), got {other:?}"),
    }
    assert_clean("the error", &format!("{result:?}"));
    let all: Vec<BotEvent> = events.try_iter().collect();
    assert!(all.contains(&BotEvent::Stopped(StopReason::LinkDisabled)));
    // Nothing is taken after the stop, and there is no reconnect.
    let late = row
        .slack()
        .send_event(message("C1", "late", "99.1"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(row.slack().acks().iter().all(|a| a.envelope_id != late));
    assert_eq!(row.open_calls().len(), 1);
    row.finish();
}

#[test]
fn row_connection_refused_at_start() {
    // A port nothing listens on (bound, then released); the fake comes up there later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut row = Row::begin();
    let bot = builder_for(&format!("http://127.0.0.1:{port}/api/"), &row.seen)
        .start()
        .unwrap();
    let events = bot.events();
    let lifecycle = collect_lifecycle(&events, SOON, |got| connecting_times(got).len() >= 3);
    assert!(!bot.is_connected());
    assert_paced(
        &connecting_times(&lifecycle),
        Duration::from_millis(200),
        "connection attempts",
    );
    let failures: Vec<u32> = lifecycle
        .iter()
        .filter_map(|(_, l)| match l {
            Lifecycle::Reconnecting { failures, .. } => Some(*failures),
            _ => None,
        })
        .collect();
    assert!(
        failures.windows(2).all(|w| w[1] > w[0]) && !failures.is_empty(),
        "failures counted up: {failures:?}"
    );
    row.start_fake(FakeSlack::builder().port(port));
    let appeared = Instant::now();
    row.slack()
        .wait_for_connections(1, Duration::from_secs(20))
        .unwrap();
    println!(
        "refused at start: ready {:?} after the fake appeared",
        appeared.elapsed()
    );
    for i in 0..5 {
        row.send(&format!("after {i}"));
    }
    row.check_delivery();
    shutdown(bot);
    row.finish();
}

#[test]
fn row_dns_failure_at_start() {
    let row = Row::start(FakeSlack::builder());
    let seen: Seen = Arc::default();
    let bot = builder_for("https://nonexistent.invalid/api/", &seen)
        .start()
        .unwrap();
    let events = bot.events();
    let window = Instant::now();
    let lifecycle = collect_lifecycle(&events, SOON, |_| {
        window.elapsed() >= Duration::from_secs(4)
    });
    let attempts = connecting_times(&lifecycle);
    assert!(
        (1..=5).contains(&attempts.len()),
        "{} attempts in 4 s: {lifecycle:?}",
        attempts.len()
    );
    assert_paced(&attempts, Duration::from_millis(200), "connection attempts");
    let errors: Vec<String> = lifecycle
        .iter()
        .filter_map(|(_, l)| match l {
            Lifecycle::Reconnecting { cause, .. } => Some(format!("{cause}")),
            _ => None,
        })
        .collect();
    println!("dns failure: {errors:?}");
    assert!(!errors.is_empty());
    assert!(!bot.is_connected());
    shutdown(bot);
    row.finish();
}

/// A fake on https/wss and a bot that trusts `ca_pem`: no request may reach the fake, and the
/// bot stops at once with a message naming the certificate problem (a refused certificate on
/// the Web API is a configuration error: retrying cannot fix it).
fn refused_certificate(fake: FakeSlackBuilder, ca_pem: impl Fn(&FakeSlack) -> String) {
    let row = Row::start(fake.tls(true));
    let bot = Bot::builder(APP_TOKEN, BOT_TOKEN)
        .unwrap()
        .api_url(row.slack().api_url())
        .add_root_certs_pem(ca_pem(row.slack()))
        .no_proxy()
        .session(fast_session())
        .shutdown_timeout(Duration::from_secs(3))
        .start()
        .unwrap();
    let events = bot.events();
    let result = bounded(SOON, move || bot.wait());
    let lifecycle: Vec<BotEvent> = events.try_iter().collect();
    println!("refused certificate: {result:?}");
    match &result {
        Err(Error::Stopped(StopReason::Fatal(msg))) => {
            assert!(msg.contains("certificate"), "{msg}");
        }
        other => panic!("expected a fatal stop naming the certificate, got {other:?}"),
    }
    assert_clean("the error", &format!("{result:?}"));
    assert_clean("lifecycle events", &format!("{lifecycle:?}"));
    let attempts = lifecycle
        .iter()
        .filter(|e| matches!(e, BotEvent::Lifecycle(Lifecycle::Connecting { .. })))
        .count();
    assert_eq!(attempts, 1, "{lifecycle:?}");
    assert!(
        lifecycle
            .iter()
            .any(|e| matches!(e, BotEvent::Lifecycle(Lifecycle::UnableToStart { .. })))
    );
    assert!(row.slack().calls().is_empty(), "{:?}", row.slack().calls());
    assert!(row.slack().connections().is_empty());
    row.finish();
}

#[test]
fn row_tls_certificate_from_another_ca() {
    let other = FakeSlack::builder().tls(true).start().unwrap();
    let other_ca = other.ca_pem().unwrap();
    other.shutdown();
    refused_certificate(FakeSlack::builder(), move |_| other_ca.clone());
}

#[test]
fn row_tls_certificate_for_another_name() {
    refused_certificate(
        FakeSlack::builder().cert_names(vec!["other.example".into()]),
        |slack| slack.ca_pem().unwrap(),
    );
}

#[test]
fn row_socket_url_with_untrusted_certificate() {
    let mut row = Row::start(FakeSlack::builder().tls(true));
    let untrusted = FakeSlack::builder().tls(true).start().unwrap();
    row.slack().serve_socket_urls(&untrusted.ws_url(), 2);
    let seen = row.seen.clone();
    let s = seen.clone();
    let bot = Bot::builder(APP_TOKEN, BOT_TOKEN)
        .unwrap()
        .api_url(row.slack().api_url())
        .add_root_certs_pem(row.slack().ca_pem().unwrap())
        .no_proxy()
        .session(fast_session())
        .shutdown_timeout(Duration::from_secs(3))
        .on_any_event(move |ctx| {
            let event_id = ctx.event().unwrap().event_id.clone().unwrap();
            *s.lock().unwrap().entry(event_id).or_default() += 1;
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    let started = Instant::now();
    row.slack()
        .wait_for_connections(1, Duration::from_secs(15))
        .unwrap();
    println!(
        "untrusted socket certificate: ready after {:?}",
        started.elapsed()
    );
    assert!(
        untrusted.connections().is_empty(),
        "a socket reached the untrusted server"
    );
    let calls = row.open_calls();
    assert_eq!(calls.len(), 3);
    assert_paced(
        &call_times(&calls),
        Duration::from_millis(200),
        "apps.connections.open",
    );
    for i in 0..5 {
        row.send(&format!("tls {i}"));
    }
    row.check_delivery();
    shutdown(bot);
    untrusted.shutdown();
    row.finish();
}

#[test]
fn row_too_many_websockets_steady() {
    // The bot wants 2 links, the fake allows 1: the second is refused again and again, each
    // retry at least the too_many_websockets floor (5 s) after the last, while the first link
    // keeps serving.
    let mut row = Row::start(FakeSlack::builder().max_connections(1));
    let bot = row.builder().connections(2).start().unwrap();
    row.slack().wait_for_connections(1, SOON).unwrap();
    wait_until(SOON, "a refused link", || {
        row.slack().connections().iter().any(|c| c.refused)
    });
    let window = Instant::now();
    for i in 0..20 {
        row.send(&format!("steady {i}"));
        std::thread::sleep(Duration::from_millis(300));
    }
    // About 6 s of refusals.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(window.elapsed()));
    row.check_delivery();
    let calls = row.open_calls();
    let refused: Vec<Instant> = row
        .slack()
        .connections()
        .iter()
        .filter(|c| c.refused)
        .map(|c| c.opened_at)
        .collect();
    println!(
        "too_many_websockets steady: {} open calls, {} refusals",
        calls.len(),
        refused.len()
    );
    assert!((2..=3).contains(&refused.len()), "{refused:?}");
    assert_paced(&refused, Duration::from_millis(4500), "refused sockets");
    assert!(calls.len() <= refused.len() + 1, "{} calls", calls.len());
    assert_eq!(row.slack().open_connections().len(), 1);
    assert!(bot.is_connected());
    shutdown(bot);
    row.finish();
}

#[test]
fn row_socket_connection_refused() {
    // apps.connections.open works, but the socket URL's port is closed (twice).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut row = Row::start(FakeSlack::builder());
    row.slack()
        .serve_socket_urls(&format!("ws://127.0.0.1:{port}/link/?ticket=x"), 2);
    for i in 0..5 {
        row.send(&format!("queued {i}"));
    }
    let started = Instant::now();
    let bot = row.bot();
    row.slack()
        .wait_for_connections(1, Duration::from_secs(15))
        .unwrap();
    println!("socket refused twice: ready after {:?}", started.elapsed());
    row.check_delivery();
    let calls = row.open_calls();
    assert_eq!(calls.len(), 3);
    assert_paced(
        &call_times(&calls),
        Duration::from_millis(200),
        "apps.connections.open",
    );
    shutdown(bot);
    row.finish();
}
