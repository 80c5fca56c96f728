//! Soak: a library bot under a steady stream of events while faults are injected at random.
//!
//! Run it through `cargo xtask soak [--seconds N] [--seed S]`, or directly with
//! `cargo bench -p slack-bot --bench soak -- --seconds 15 --seed 42`.
//!
//! A [`FakeSlack`] on loopback sends events (each with a fresh `event_id`) at a steady rate to a
//! running bot whose handler records every `event_id` it sees. Meanwhile, from a seeded RNG, the
//! fake picks an open connection now and then and injects one of: `refresh_requested`,
//! `warning`, a server close, a TCP drop, a half-open link (silent), withheld pongs, or a
//! WebSocket close that leaves TCP open. Envelopes lost on a dead link are redelivered by the
//! fake (with a fresh `envelope_id` and the same `event_id`, as Slack does; it never gives up
//! here), so the bot's promise is checked exactly: every `event_id` sent reaches the handler
//! once, and every envelope sent is acked.
//!
//! At the end, injection stops, the run waits (bounded) until everything sent is acked and
//! delivered, lets the connections settle, and reports. The process exits with status 1 when an
//! event was lost or delivered twice, an envelope was never acked, or threads leaked.
//!
//! False alarms of the liveness check are counted too: a link the bot closed although no
//! fault was injected on it and Slack never asked it to go (no `disconnect`) is a healthy link
//! replaced for nothing: suspected dead while it was alive (the suspect, or the replacement
//! closed as surplus once the suspect spoke again). More than [`FALSE_ALARM_ALLOWANCE`] in a
//! run fails it. The bot's own count of liveness replacements (`Reconnecting` with the cause
//! "no traffic") is printed next to the silence faults injected.
//!
//! Options: `--seconds N` (default 120), `--seed S` (default: from the clock), `--rate R`
//! (events per second, default 200), `--connections C` (default 2), `--drain-seconds D` (the
//! bound on the final wait, default 180).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slack_bot::slack_envelope::{Cause, Lifecycle, SessionConfig};
use slack_bot::{Bot, BotEvent, Reply};
use slack_testkit::{ConnId, FakeSlack, Fault};

/// Thread growth tolerated between the start and the end of the run, with the same number of
/// connections up: the fake serves each pooled HTTP keep-alive connection on a thread of its
/// own, and those come and go. A leaked connection shows up elsewhere too (the fake counts
/// open sockets), and after shutdown the count must be back to exactly the baseline.
const THREAD_SLACK: usize = 4;

/// Healthy links the bot may close in a run before it fails (see the module docs): a machine
/// loaded by other work can stall the bot past the busy-link window now and then; more than
/// this is a liveness check that cries wolf.
const FALSE_ALARM_ALLOWANCE: usize = 2;

struct Args {
    seconds: u64,
    seed: u64,
    rate: u64,
    connections: usize,
    drain: Duration,
}

fn parse_args() -> Args {
    let mut args = Args {
        seconds: 120,
        seed: clock_seed(),
        rate: 200,
        connections: 2,
        drain: Duration::from_secs(180),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> u64 {
            let v = it.next().unwrap_or_default();
            v.parse()
                .unwrap_or_else(|_| fail_usage(&format!("{name} needs a number, got `{v}`")))
        };
        match a.as_str() {
            "--seconds" => args.seconds = num("--seconds"),
            "--seed" => args.seed = num("--seed"),
            "--rate" => args.rate = num("--rate").max(1),
            "--connections" => args.connections = num("--connections").clamp(1, 10) as usize,
            "--drain-seconds" => args.drain = Duration::from_secs(num("--drain-seconds")),
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            other => fail_usage(&format!("unknown argument `{other}`")),
        }
    }
    args
}

fn fail_usage(msg: &str) -> ! {
    eprintln!("soak: {msg}");
    eprintln!(
        "usage: soak [--seconds N] [--seed S] [--rate EVENTS_PER_S] [--connections C] [--drain-seconds D]"
    );
    std::process::exit(2)
}

fn clock_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

/// splitmix64: small, seeded, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next() % (hi - lo)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Refresh,
    Warning,
    ServerClose,
    DropTcp,
    Silent,
    WithholdPongs,
    CloseKeepTcp,
}

impl Kind {
    /// (kind, weight)
    const WEIGHTS: [(Kind, u64); 7] = [
        (Kind::Refresh, 25),
        (Kind::Warning, 10),
        (Kind::ServerClose, 15),
        (Kind::DropTcp, 20),
        (Kind::Silent, 15),
        (Kind::WithholdPongs, 10),
        (Kind::CloseKeepTcp, 5),
    ];

    fn pick(rng: &mut Rng) -> Kind {
        let total: u64 = Self::WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut r = rng.range(0, total);
        for (k, w) in Self::WEIGHTS {
            if r < w {
                return k;
            }
            r -= w;
        }
        Kind::Refresh
    }

    /// Whether the bot counts this as a failed connection (not a planned refresh).
    fn is_failure(self) -> bool {
        !matches!(self, Kind::Refresh | Kind::Warning | Kind::WithholdPongs)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Refresh => "refresh_requested",
            Kind::Warning => "warning",
            Kind::ServerClose => "server close 1001",
            Kind::DropTcp => "tcp drop",
            Kind::Silent => "half-open (silent)",
            Kind::WithholdPongs => "pongs withheld",
            Kind::CloseKeepTcp => "ws closed, tcp kept",
        }
    }

    fn inject(self, slack: &FakeSlack, conn: ConnId) -> bool {
        let r = match self {
            Kind::Refresh => slack.disconnect(conn, "refresh_requested"),
            Kind::Warning => slack.disconnect(conn, "warning"),
            Kind::ServerClose => slack.fault(conn, Fault::Close(1001)),
            Kind::DropTcp => slack.fault(conn, Fault::DropTcp),
            Kind::Silent => slack.fault(conn, Fault::Silent),
            Kind::WithholdPongs => slack.fault(conn, Fault::WithholdPongs),
            Kind::CloseKeepTcp => slack.fault(conn, Fault::CloseKeepTcp),
        };
        r.is_ok()
    }
}

/// Names of this process's threads (the fake's included).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Threads of this process, handler workers excepted: the pool grows on demand up to its
/// configured size and then stays, which is not a leak (checked by `workers()` instead).
fn threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| !n.starts_with("slack-worker"))
        .count()
}

/// Handler worker threads (at most the configured 10).
fn workers() -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with("slack-worker"))
        .count()
}

/// Every thread of this process.
fn all_threads() -> usize {
    thread_names().len()
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Liveness timings: a link carrying the stream is busy and suspected after the library's
/// default busy window (`busy_dead_after`, 3 s: the check whose false alarms are counted);
/// idle links (after injection stops) are pinged after 2 s and suspected after 5 s, shorter
/// than the defaults so that the run ends within seconds. A spurious trip only costs a
/// reconnect, but it is counted.
fn session() -> SessionConfig {
    SessionConfig::default()
        .hello_timeout(Duration::from_secs(5))
        .ping_after_quiet(Duration::from_secs(2))
        .dead_after_silence(Duration::from_secs(5))
        .abort_after_silence(Duration::from_secs(10))
        .close_timeout(Duration::from_secs(1))
}

/// What the bot reported about its links, from [`slack_bot::RunningBot::events`].
#[derive(Debug, Default)]
struct LinkEvents {
    /// Links it set out to replace because they fell silent ("no traffic for …").
    liveness_replacements: u64,
}

/// Reads the bot's lifecycle events until it stops (or `done` is set and none comes for a
/// while), counting what [`LinkEvents`] holds.
fn watch_events(rx: crossbeam_channel::Receiver<BotEvent>, done: &AtomicBool) -> LinkEvents {
    let mut out = LinkEvents::default();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(BotEvent::Lifecycle(Lifecycle::Reconnecting {
                replacing: Some(_),
                cause: Cause::Unresponsive(_),
                ..
            })) => out.liveness_replacements += 1,
            Ok(BotEvent::Stopped(_)) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return out;
            }
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if done.load(Ordering::Relaxed) {
                    return out;
                }
            }
        }
    }
}

fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the sender thread produced: (first envelope id, event id), in order.
type Sent = Mutex<Vec<(String, String)>>;

fn main() {
    let args = parse_args();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "error".to_owned());
    let _ = env_logger::Builder::new()
        .parse_filters(&filter)
        .is_test(false)
        .try_init();
    println!(
        "soak: seed {} ({}s, {} events/s, {} connections; replay with --seed {})",
        args.seed, args.seconds, args.rate, args.connections, args.seed
    );
    let ok = run(&args);
    println!(
        "soak: {} (seed {})",
        if ok { "PASSED" } else { "FAILED" },
        args.seed
    );
    if !ok {
        std::process::exit(1);
    }
}

fn run(args: &Args) -> bool {
    let started = Instant::now();
    let baseline_threads = all_threads();
    let slack = FakeSlack::builder()
        .max_connections(10)
        // Never give up on an envelope: a loss must be the bot's, not the fake's.
        .max_retries(u32::MAX)
        .start()
        .expect("the fake starts");

    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen_h = seen.clone();
    let bot = Bot::builder(&slack.app_token(), &slack.bot_token())
        .expect("valid tokens")
        .api_url(slack.api_url())
        .allow_insecure(true)
        .no_proxy()
        .connections(args.connections)
        .session(session())
        .jitter_seed(args.seed)
        .outbox(false)
        .on_any_event(move |ctx| {
            let id = ctx.envelope().event_id().unwrap_or("").to_owned();
            // Now and then a slow handler, so drops also hit requests still being handled.
            let slow = id.bytes().last().is_some_and(|b| b % 16 == 0);
            *seen_h.lock().unwrap().entry(id).or_insert(0) += 1;
            if slow {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(Reply::Ack)
        })
        .start()
        .expect("the bot starts");

    let watch_done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let rx = bot.events();
        let done = watch_done.clone();
        std::thread::Builder::new()
            .name("soak-events".into())
            .spawn(move || watch_events(rx, &done))
            .expect("the event watcher starts")
    };

    let up = wait_until(Duration::from_secs(60), || {
        bot.stats().connections >= args.connections
    });
    if !up {
        println!("soak: the bot did not connect within 60 s");
        return false;
    }
    let threads_start = threads();
    let rss_start = status_mib("VmRSS");
    println!(
        "soak: up after {:.1}s; threads {threads_start} (baseline {baseline_threads}), rss {rss_start:.1} MiB",
        started.elapsed().as_secs_f64()
    );

    // The steady stream, and fault injection from the seeded RNG, until `run_for` has passed.
    let sent: Sent = Mutex::default();
    let stop = AtomicBool::new(false);
    let run_for = Duration::from_secs(args.seconds);
    let mut rng = Rng(args.seed);
    let mut injected: HashMap<Kind, u64> = HashMap::new();
    // The fake's links that got a fault or a `disconnect`.
    let mut faulted: HashSet<ConnId> = HashSet::new();
    let mut skipped = 0u64;
    let mut deferred = 0u64;
    let mut peak_threads = threads_start;
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        let sender = std::thread::Builder::new()
            .name("soak-sender".into())
            .spawn_scoped(scope, || {
                let t0 = Instant::now();
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let due = (t0.elapsed().as_secs_f64() * args.rate as f64) as u64;
                    while n < due && !stop.load(Ordering::Relaxed) {
                        let ids = send_one(&slack, n);
                        sent.lock().unwrap().push(ids);
                        n += 1;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .expect("the sender starts");
        let mut next_report = t0 + Duration::from_secs(10);
        while t0.elapsed() < run_for {
            let pause = Duration::from_millis(rng.range(500, 2500));
            let left = run_for.saturating_sub(t0.elapsed());
            std::thread::sleep(pause.min(left));
            if t0.elapsed() >= run_for {
                break;
            }
            peak_threads = peak_threads.max(threads());
            let open = slack.open_connections();
            let kind = Kind::pick(&mut rng);
            let pick = rng.range(0, open.len() as u64) as usize;
            // A fault that the bot counts as a failure escalates its reconnect backoff (up to
            // 30 s); inject those only while every connection is up, so the run spends its
            // time under load rather than waiting out backoffs. Refreshes go in any time.
            let healthy = bot.stats().connections >= args.connections;
            match open.get(pick) {
                Some(_) if kind.is_failure() && !healthy => deferred += 1,
                Some(conn) if kind.inject(&slack, *conn) => {
                    *injected.entry(kind).or_insert(0) += 1;
                    faulted.insert(*conn);
                }
                _ => skipped += 1,
            }
            if Instant::now() >= next_report {
                next_report += Duration::from_secs(10);
                let st = bot.stats();
                println!(
                    "soak: {:>4.0}s sent {:>6} delivered {:>6} duplicates {:>4} reconnects {:>3} ready {} threads {}",
                    t0.elapsed().as_secs_f64(),
                    sent.lock().unwrap().len(),
                    st.delivered,
                    st.duplicates,
                    st.reconnects,
                    st.connections,
                    threads()
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
        sender.join().expect("the sender thread");
    });
    let sent: Vec<(String, String)> = std::mem::take(&mut *sent.lock().unwrap());
    let sent_ids: HashSet<&str> = sent.iter().map(|(e, _)| e.as_str()).collect();
    println!(
        "soak: injection stopped after {:.1}s; waiting (at most {}s) for every envelope to be acked and delivered",
        t0.elapsed().as_secs_f64(),
        args.drain.as_secs()
    );

    // Drain: everything sent acked (the first delivery or a redelivery) and delivered.
    let drain_started = Instant::now();
    let all_acked_and_delivered = |acked: &HashSet<String>| {
        let seen = seen.lock().unwrap();
        sent.iter()
            .all(|(env, ev)| acked.contains(env) && seen.contains_key(ev))
    };
    let mut acked_first: HashSet<String> = HashSet::new();
    let drained = wait_until(args.drain, || {
        acked_first = slack
            .acks()
            .into_iter()
            .map(|a| a.first_envelope_id)
            .collect();
        all_acked_and_delivered(&acked_first)
    });
    let drain_took = drain_started.elapsed();

    // Settle: the configured connections up again, and no lingering threads.
    let settled = wait_until(Duration::from_secs(60), || {
        bot.stats().connections >= args.connections
            && slack.open_connections().len() <= args.connections
            && threads() <= threads_start + THREAD_SLACK
    });
    let threads_end = threads();
    let workers_end = workers();
    let rss_end = status_mib("VmRSS");
    let peak_rss = status_mib("VmHWM");
    peak_threads = peak_threads.max(threads_end);

    // Tally.
    let acks = slack.acks();
    let unknown_acks = acks.iter().filter(|a| !a.known).count();
    let fake_deliveries: u64 = slack.connections().iter().map(|c| c.envelopes_sent).sum();
    let redeliveries = acks.iter().filter(|a| a.retry_attempt > 0).count();
    let st = bot.stats();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let sent_events: HashSet<&str> = sent.iter().map(|(_, ev)| ev.as_str()).collect();
    let delivered_once = sent_events
        .iter()
        .filter(|ev| seen.get(**ev) == Some(&1))
        .count();
    let delivered_twice: Vec<(&String, &u32)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    let lost: Vec<&str> = sent_events
        .iter()
        .copied()
        .filter(|ev| !seen.contains_key(*ev))
        .collect();
    let unacked: Vec<&str> = sent_ids
        .iter()
        .copied()
        .filter(|e| !acked_first.contains(*e))
        .collect();
    let strangers = seen
        .keys()
        .filter(|k| !sent_events.contains(k.as_str()))
        .count();
    // Healthy links the bot closed (before its shutdown): no fault, no `disconnect` on them.
    let false_alarms: Vec<slack_testkit::ConnectionInfo> = slack
        .connections()
        .into_iter()
        .filter(|c| {
            !c.open
                && !c.refused
                && c.disconnect_sent.is_none()
                && !faulted.contains(&c.id)
                && c.close_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("client"))
        })
        .collect();

    let report = bot.shutdown();
    watch_done.store(true, Ordering::Relaxed);
    let link_events = watcher.join().expect("the event watcher");
    let fake_threads_before_shutdown = all_threads();
    slack.shutdown();
    let back_to_baseline = wait_until(Duration::from_secs(30), || {
        all_threads() <= baseline_threads
    });
    let threads_after = all_threads();

    let silences = injected.get(&Kind::Silent).copied().unwrap_or(0)
        + injected.get(&Kind::WithholdPongs).copied().unwrap_or(0);
    let mut faults: Vec<(Kind, u64)> = injected.into_iter().collect();
    faults.sort();
    let fault_list: Vec<String> = faults
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let fault_total: u64 = faults.iter().map(|(_, n)| n).sum();

    println!("soak: results");
    println!("  seed                      {}", args.seed);
    println!(
        "  duration                  {}s of injection, drain {:.1}s",
        args.seconds,
        drain_took.as_secs_f64()
    );
    println!(
        "  faults injected           {fault_total} ({}); skipped {skipped} (no open connection), deferred {deferred} (bot not fully connected)",
        fault_list.join(", ")
    );
    println!("  events sent               {}", sent.len());
    println!("  fake deliveries           {fake_deliveries} ({redeliveries} acked redeliveries)");
    println!(
        "  envelopes acked           {} of {}",
        sent.len() - unacked.len(),
        sent.len()
    );
    println!(
        "  bot: received {} acked {} delivered {} duplicates suppressed {} reconnects {}",
        st.received, st.acked, st.delivered, st.duplicates, st.reconnects
    );
    println!("  delivered once            {delivered_once}");
    println!("  delivered twice or more   {}", delivered_twice.len());
    println!("  lost                      {}", lost.len());
    println!("  unknown acks / events     {unknown_acks} / {strangers}");
    println!(
        "  handler errors            {}, queue full {}",
        st.handler_errors, st.queue_full
    );
    println!("  reconnects                {}", st.reconnects);
    println!(
        "  liveness replacements     {} (links suspected dead; silent or pong-less links injected: {silences})",
        link_events.liveness_replacements
    );
    println!(
        "  false alarms              {} (healthy links closed by the bot: no fault, no disconnect; allowance {FALSE_ALARM_ALLOWANCE})",
        false_alarms.len()
    );
    for c in &false_alarms {
        println!(
            "    link {}: open {:.1}s, {} envelopes sent on it, {}",
            c.id,
            c.closed_at
                .map_or(0.0, |t| t.duration_since(c.opened_at).as_secs_f64()),
            c.envelopes_sent,
            c.close_reason.as_deref().unwrap_or("?")
        );
    }
    println!(
        "  rss                       start {rss_start:.1} MiB, end {rss_end:.1} MiB, peak {peak_rss:.1} MiB (fake included)"
    );
    println!(
        "  threads                   start {threads_start}, end {threads_end}, peak {peak_threads} (handler workers excluded: {workers_end} at the end, started on demand); after shutdown {threads_after} (baseline {baseline_threads}; {fake_threads_before_shutdown} before the fake stopped)"
    );

    let mut ok = true;
    let mut problem = |what: String| {
        println!("  PROBLEM: {what}");
        ok = false;
    };
    if !drained {
        problem(format!(
            "not everything was acked and delivered within {}s",
            args.drain.as_secs()
        ));
    }
    if !lost.is_empty() {
        problem(format!(
            "{} event(s) lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        ));
    }
    if !delivered_twice.is_empty() {
        problem(format!(
            "{} event(s) delivered more than once, e.g. {:?}",
            delivered_twice.len(),
            &delivered_twice[..delivered_twice.len().min(5)]
        ));
    }
    if !unacked.is_empty() {
        problem(format!(
            "{} envelope(s) never acked, e.g. {:?}",
            unacked.len(),
            &unacked[..unacked.len().min(5)]
        ));
    }
    if strangers > 0 {
        problem(format!(
            "{strangers} event id(s) delivered that were never sent"
        ));
    }
    if !settled {
        problem(format!(
            "did not settle within 60 s: threads {threads_end} (start {threads_start}), ready {} of {}",
            st.connections, args.connections
        ));
    }
    if false_alarms.len() > FALSE_ALARM_ALLOWANCE {
        problem(format!(
            "{} healthy link(s) replaced for nothing (false alarms), more than the allowance of {FALSE_ALARM_ALLOWANCE}",
            false_alarms.len()
        ));
    }
    if workers_end > 10 {
        problem(format!(
            "{workers_end} handler workers, more than the configured 10"
        ));
    }
    if !back_to_baseline {
        problem(format!(
            "threads leaked: {threads_after} after shutdown, {baseline_threads} before start"
        ));
    }
    match report {
        Ok(r) if r.workers_left_running > 0 => problem(format!(
            "{} worker(s) still busy at shutdown",
            r.workers_left_running
        )),
        Ok(_) => {}
        Err(e) => problem(format!("the bot stopped with an error: {e}")),
    }
    ok
}

/// Sends event number `n` as an `events_api` envelope; returns (envelope id, event id).
fn send_one(slack: &FakeSlack, n: u64) -> (String, String) {
    let payload = slack.event_callback(json!({
        "type": "message", "channel": "C111", "user": "U111",
        "text": format!("soak {n}"), "ts": format!("{}.{:06}", 1_700_000_000 + n / 1_000_000, n % 1_000_000),
        "channel_type": "channel",
    }));
    let event_id = payload
        .get("event_id")
        .and_then(Value::as_str)
        .expect("event_callback sets an event_id")
        .to_owned();
    let envelope_id = slack
        .send_envelope(
            json!({"type": "events_api", "accepts_response_payload": false, "payload": payload}),
        )
        .expect("the fake takes the envelope");
    (envelope_id, event_id)
}
