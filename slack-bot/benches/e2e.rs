//! The end-to-end benchmark behind `cargo xtask bench` (which builds it in release mode, runs it
//! and writes `BENCHMARKS.md`); `cargo xtask bench --smoke` runs a tiny version.
//!
//! Everything runs against `slack-testkit` on loopback (plain ws), side by side:
//! 1. throughput with 64 envelopes in flight: the `slack-bot` library with an ack-only handler
//!    vs a baseline that only finds `envelope_id` in the text and sends the ack over raw
//!    tungstenite; the fake streams the envelopes itself (`FakeSlack::stream_envelopes`), so it
//!    is not limited by one test-API call per envelope, and its own CPU use is reported;
//! 2. ack round trip with 1 in flight (p50, p99, max);
//! 3. the core alone (`slack-envelope`: parse + dedup + ack through the supervisor) and
//!    `Frame::parse` of each Socket Mode fixture;
//! 4. footprint of the `slack-bot` binary connected to the fake and idle: RSS, thread wake-ups,
//!    file size; CPU per 100 000 envelopes from the runs of 1.;
//! 5. reconnect on `disconnect` (`refresh_requested`): time to the replacement's `hello`, and
//!    the gap with no connection able to receive;
//! 6. with the `fleet` feature and a `redis-server` on the PATH: the bot as one replica of a
//!    fleet on a local Redis against the same bot alone: throughput with 64 in flight (the
//!    target row), the ack round trip with 1 in flight, and throughput with
//!    1024 envelopes in flight, where round trips no longer bound it and
//!    what is measured is how much the claim path can carry.
//!
//! Results go to stdout as `RESULT <key> <value>` lines (xtask parses them); progress and
//! details go to stderr. Every figure is the median of `--reps` runs. Exits non-zero when
//! something is broken (an envelope not acked, a connection not made), never on slowness.
//!
//! Options: `--smoke`, `--reps N`, `--n N` (envelopes per throughput run), `--rtt-n N`,
//! `--core-n N`, `--idle-secs N`, `--bot-bin PATH` (default: the `slack-bot` binary built with
//! this bench), `--only SECTION` (`e2e`, `rtt`, `core`, `footprint`, `reconnect`, `fleet`),
//! `--timeout-secs N` (how long a stream may wait for its acks; 600 by default).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slack_bot::slack_envelope::{Config, Event, Frame, Supervisor};
use slack_bot::{Bot, Reply, RunningBot};
use slack_testkit::{ConnId, FakeSlack, StreamSpec};
use tungstenite::Message;

type Res<T> = Result<T, String>;

/// One part of the benchmark.
type Section = fn(&Opts) -> Res<()>;

/// Envelopes in flight for the throughput runs.
const WINDOW: usize = 64;

#[derive(Debug, Clone)]
struct Opts {
    smoke: bool,
    reps: usize,
    n: u64,
    rtt_n: u64,
    core_n: u64,
    idle: Duration,
    bot_bin: PathBuf,
    only: Option<String>,
    /// Bound on each stream (a client that stops acking fails the run after this).
    timeout: Duration,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut o = if smoke {
        Opts {
            smoke,
            reps: 1,
            n: 300,
            rtt_n: 100,
            core_n: 2_000,
            idle: Duration::from_secs(1),
            bot_bin: PathBuf::new(),
            only: None,
            timeout: Duration::from_secs(60),
        }
    } else {
        Opts {
            smoke,
            reps: 5,
            n: 200_000,
            rtt_n: 10_000,
            core_n: 500_000,
            idle: Duration::from_secs(10),
            bot_bin: PathBuf::new(),
            only: None,
            timeout: Duration::from_secs(600),
        }
    };
    o.bot_bin = std::env::var_os("SLACK_BOT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_slack-bot")));
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| -> String {
            args.get(i + 1)
                .cloned()
                .unwrap_or_else(|| panic!("{} needs a value", args[i]))
        };
        match args[i].as_str() {
            "--reps" => o.reps = value(i).parse().expect("--reps N"),
            "--n" => o.n = value(i).parse().expect("--n N"),
            "--rtt-n" => o.rtt_n = value(i).parse().expect("--rtt-n N"),
            "--core-n" => o.core_n = value(i).parse().expect("--core-n N"),
            "--idle-secs" => o.idle = Duration::from_secs(value(i).parse().expect("--idle-secs N")),
            "--bot-bin" => o.bot_bin = PathBuf::from(value(i)),
            "--timeout-secs" => {
                o.timeout = Duration::from_secs(value(i).parse().expect("--timeout-secs N"))
            }
            "--only" => o.only = Some(value(i)),
            // `--bench` is what `cargo bench` passes; `--smoke` is read above.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o.reps = o.reps.max(1);
    o
}

/// Prints one machine-readable result.
fn result(key: &str, value: impl std::fmt::Display) {
    println!("RESULT {key} {value}");
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------------
// The envelope

/// A ~1.2 KB `events_api` message envelope shaped like Slack's (see
/// slack-envelope/tests/fixtures/socket_mode_events_api_message_retry.json), with the stream's
/// per-envelope number in `envelope_id` and `event_id`.
fn template() -> String {
    let seq = StreamSpec::SEQ;
    let text = "The deploy of build 4.2.1 to production finished: 312 checks passed, none failed. "
        .repeat(4);
    let text = text.trim_end();
    format!(
        r#"{{"envelope_id":"{seq}-72a5-4744-aba3-4d66eb52682b","payload":{{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{{"client_msg_id":"f0582a78-72db-4feb-b2f3-1e47d66365c8","type":"message","text":"{text}","user":"U222","ts":"1610241741.000200","team":"T111","blocks":[{{"type":"rich_text","block_id":"Sesm","elements":[{{"type":"rich_text_section","elements":[{{"type":"text","text":"The deploy finished"}}]}}]}}],"channel":"C111","event_ts":"1610241741.000200","channel_type":"channel"}},"type":"event_callback","event_id":"Ev{seq}","event_time":1610241741,"authorizations":[{{"enterprise_id":null,"team_id":"T111","user_id":"U222","is_bot":true,"is_enterprise_install":false}}],"is_ext_shared_channel":false,"event_context":"4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMTExIiwiYWlkIjoiQTExMSIsImNpZCI6IkMxMTEifQ"}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}}"#
    )
}

/// The envelope as the fake sends it (the placeholder replaced by a 14-digit number).
fn envelope(seq: u64) -> String {
    static PARTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let parts = PARTS.get_or_init(|| {
        template()
            .split(StreamSpec::SEQ)
            .map(str::to_owned)
            .collect()
    });
    let num = format!("{seq:014}");
    let mut out = String::with_capacity(parts.iter().map(String::len).sum::<usize>() + 32);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(&num);
        }
        out.push_str(p);
    }
    out
}

/// What the baseline does: the `envelope_id` value by a plain scan.
fn find_envelope_id(text: &str) -> Option<&str> {
    let at = text.find("\"envelope_id\"")? + "\"envelope_id\"".len();
    let rest = text[at..].trim_start_matches(|c: char| c == ':' || c.is_ascii_whitespace());
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

// ---------------------------------------------------------------------------------------------
// CPU time per thread

/// CPU time of each thread of this process, by thread id, with its name.
fn thread_cpu() -> HashMap<u64, (String, Duration)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        // After the name: state, ppid, … utime is field 14 and stime 15 of the whole line.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // Nanoseconds from schedstat where the kernel has it; else ticks (USER_HZ is 100 on
        // every Linux target Rust supports).
        let cpu = std::fs::read_to_string(entry.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .map_or_else(
                || Duration::from_millis((ticks(11) + ticks(12)) * 10),
                Duration::from_nanos,
            );
        out.insert(tid, (name, cpu));
    }
    out
}

/// CPU used between two snapshots by the fake's threads and by everything else (the client
/// under test), leaving out the main thread (it only waits).
/// Also returns the client's CPU by thread name (numbers stripped: `slack-worker-`).
fn cpu_split(
    before: &HashMap<u64, (String, Duration)>,
    after: &HashMap<u64, (String, Duration)>,
) -> (Duration, Duration, Vec<(String, Duration)>) {
    let main = u64::from(std::process::id());
    let mut fake = Duration::ZERO;
    let mut client = Duration::ZERO;
    let mut by_name: HashMap<String, Duration> = HashMap::new();
    for (tid, (name, cpu)) in after {
        if *tid == main {
            continue;
        }
        let was = before.get(tid).map_or(Duration::ZERO, |(_, c)| *c);
        let d = cpu.saturating_sub(was);
        if name.starts_with("fake-slack") {
            fake += d;
        } else {
            client += d;
            *by_name
                .entry(
                    name.trim_end_matches(|c: char| c.is_ascii_digit())
                        .to_owned(),
                )
                .or_default() += d;
        }
    }
    let mut by_name: Vec<_> = by_name.into_iter().filter(|(_, d)| !d.is_zero()).collect();
    by_name.sort_by_key(|b| std::cmp::Reverse(b.1));
    (fake, client, by_name)
}

// ---------------------------------------------------------------------------------------------
// The two clients

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Baseline,
    /// The baseline flushing each ack on its own (`send`), as the simplest client does.
    BaselineFlushEach,
    Bot,
    /// The same bot as one replica of a fleet on a local Redis (feature `fleet`).
    #[cfg(feature = "fleet")]
    BotFleet,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Baseline => "baseline",
            Client::BaselineFlushEach => "baseline-flush-each",
            Client::Bot => "slack-bot",
            #[cfg(feature = "fleet")]
            Client::BotFleet => "slack-bot+redis",
        }
    }
}

enum Running {
    Baseline(JoinHandle<u64>),
    Bot(RunningBot),
}

/// The baseline: blocking tungstenite on one thread; finds `envelope_id`, sends the ack.
fn baseline(url: String, batch: bool) -> JoinHandle<u64> {
    std::thread::Builder::new()
        .name("baseline".into())
        .spawn(move || {
            let addr = url
                .trim_start_matches("ws://")
                .split('/')
                .next()
                .unwrap()
                .to_owned();
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut ws, _) = tungstenite::client(url.as_str(), tcp).unwrap();
            let mut acks = 0u64;
            // With `batch`, acks are queued as frames are read and flushed once no frame is
            // waiting (the socket is non-blocking while frames keep coming): the same batching
            // slack-bot does, so the baseline is the wire's practical limit, not one write
            // syscall (and one TCP segment for the fake to read) per ack.
            let mut blocking = true;
            loop {
                match ws.read() {
                    Ok(Message::Text(t)) => {
                        if let Some(id) = find_envelope_id(t.as_str()) {
                            let ack = Message::text(format!(r#"{{"envelope_id":"{id}"}}"#));
                            let sent = if batch { ws.write(ack) } else { ws.send(ack) };
                            match sent {
                                Ok(()) => {}
                                Err(tungstenite::Error::Io(e))
                                    if e.kind() == std::io::ErrorKind::WouldBlock => {}
                                Err(_) => break,
                            }
                            acks += 1;
                        }
                        if batch && blocking {
                            ws.get_mut().set_nonblocking(true).unwrap();
                            blocking = false;
                        }
                    }
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        ws.get_mut().set_nonblocking(false).unwrap();
                        blocking = true;
                        if ws.flush().is_err() {
                            break;
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            acks
        })
        .unwrap()
}

/// The library with an ack-only handler and otherwise default settings.
fn bot(slack: &FakeSlack) -> Res<RunningBot> {
    Bot::builder(&slack.app_token(), &slack.bot_token())
        .map_err(|e| e.to_string())?
        .api_url(slack.api_url())
        .allow_insecure(true)
        .no_proxy()
        .on_event("message", |_| Ok(Reply::Ack))
        .start()
        .map_err(|e| format!("the bot did not start: {e}"))
}

fn start_client(client: Client, slack: &FakeSlack, window: usize) -> Res<(Running, ConnId)> {
    let running = match client {
        Client::Baseline => Running::Baseline(baseline(slack.ws_url(), window > 1)),
        Client::BaselineFlushEach => Running::Baseline(baseline(slack.ws_url(), false)),
        Client::Bot => Running::Bot(bot(slack)?),
        #[cfg(feature = "fleet")]
        Client::BotFleet => Running::Bot(fleet_bench::bot(slack)?),
    };
    slack
        .wait_for_connections(1, Duration::from_secs(30))
        .map_err(|e| format!("{}: {e}", client.name()))?;
    let conn = *slack
        .open_connections()
        .first()
        .ok_or("no open connection")?;
    Ok((running, conn))
}

fn stop_client(running: Running, slack: FakeSlack) -> Res<()> {
    match running {
        Running::Baseline(h) => {
            slack.shutdown();
            h.join().map_err(|_| "the baseline panicked")?;
        }
        Running::Bot(b) => {
            b.shutdown().map_err(|e| format!("bot shutdown: {e}"))?;
            slack.shutdown();
        }
    }
    Ok(())
}

struct StreamRun {
    per_sec: f64,
    by_thread: Vec<(String, Duration)>,
    client_cpu: Duration,
    fake_cpu: Duration,
    wall: Duration,
    round_trips: Vec<Duration>,
}

/// One run: a fresh fake and client, a short warm-up, then `n` envelopes with `window` in flight.
fn stream_run(
    o: &Opts,
    client: Client,
    n: u64,
    window: usize,
    round_trips: bool,
) -> Res<StreamRun> {
    let slack = FakeSlack::start().map_err(|e| e.to_string())?;
    let (running, conn) = start_client(client, &slack, window)?;
    let spec = |count: u64, rt: bool| StreamSpec {
        template: template(),
        count,
        in_flight: window,
        round_trips: rt,
        timeout: o.timeout,
    };
    let warm = slack
        .stream_envelopes(conn, spec((n / 10).clamp(10, 2_000), false))
        .map_err(|e| format!("{} warm-up: {e}{}", client.name(), state(&running)))?;
    if let Some(why) = warm.aborted {
        return Err(format!("{} warm-up aborted: {why}", client.name()));
    }
    let before = thread_cpu();
    let t = Instant::now();
    let report = slack
        .stream_envelopes(conn, spec(n, round_trips))
        .map_err(|e| format!("{}: {e}{}", client.name(), state(&running)))?;
    let wall = t.elapsed();
    let after = thread_cpu();
    if let Some(why) = &report.aborted {
        return Err(format!(
            "{}: stream aborted after {} of {n} acks: {why}{}",
            client.name(),
            report.acked,
            state(&running)
        ));
    }
    if report.acked != n {
        return Err(format!(
            "{}: {} of {n} envelopes acked{}",
            client.name(),
            report.acked,
            state(&running)
        ));
    }
    let (fake_cpu, client_cpu, by_thread) = cpu_split(&before, &after);
    stop_client(running, slack)?;
    Ok(StreamRun {
        per_sec: n as f64 / report.elapsed.as_secs_f64().max(1e-9),
        by_thread,
        client_cpu,
        fake_cpu,
        wall,
        round_trips: report.round_trips,
    })
}

/// What the client says of itself, for a failed run (the bot's stats).
fn state(running: &Running) -> String {
    match running {
        Running::Baseline(_) => String::new(),
        Running::Bot(b) => format!(" (bot stats: {:?})", b.stats()),
    }
}

fn order(rep: usize) -> [Client; 2] {
    if rep % 2 == 0 {
        [Client::Baseline, Client::Bot]
    } else {
        [Client::Bot, Client::Baseline]
    }
}

fn throughput(o: &Opts) -> Res<()> {
    eprintln!(
        "[e2e] throughput: {} envelopes of {} bytes, {WINDOW} in flight, {} run(s) each",
        o.n,
        envelope(0).len(),
        o.reps
    );
    let mut eps: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut cpu: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut busy: HashMap<&str, Vec<f64>> = HashMap::new();
    for rep in 0..o.reps {
        for client in order(rep).into_iter().chain([Client::BaselineFlushEach]) {
            let r = stream_run(o, client, o.n, WINDOW, false)?;
            let cpu_per_100k = r.client_cpu.as_secs_f64() * 100_000.0 / o.n as f64;
            let fake_busy = r.fake_cpu.as_secs_f64() / r.wall.as_secs_f64();
            let threads: Vec<String> = r
                .by_thread
                .iter()
                .map(|(name, d)| format!("{name} {:.2}", d.as_secs_f64() * 100_000.0 / o.n as f64))
                .collect();
            eprintln!(
                "[e2e]   {:<9} {:>9.0} envelopes/s, client cpu {:.2}s/100k ({}), fake busy {:.0}%",
                client.name(),
                r.per_sec,
                cpu_per_100k,
                threads.join(", "),
                fake_busy * 100.0
            );
            eps.entry(client.name()).or_default().push(r.per_sec);
            cpu.entry(client.name()).or_default().push(cpu_per_100k);
            busy.entry(client.name()).or_default().push(fake_busy);
        }
    }
    let take = |m: &mut HashMap<&str, Vec<f64>>, c: Client| median(m.remove(c.name()).unwrap());
    let bot = take(&mut eps, Client::Bot);
    let base = take(&mut eps, Client::Baseline);
    result("e2e_bot_per_sec", format!("{bot:.0}"));
    result("e2e_base_per_sec", format!("{base:.0}"));
    result("e2e_ratio", format!("{:.3}", bot / base));
    let flush_each = take(&mut eps, Client::BaselineFlushEach);
    result("e2e_base_flush_each_per_sec", format!("{flush_each:.0}"));
    result("e2e_ratio_flush_each", format!("{:.3}", bot / flush_each));
    result(
        "cpu_bot_per_100k",
        format!("{:.3}", take(&mut cpu, Client::Bot)),
    );
    result(
        "cpu_base_per_100k",
        format!("{:.3}", take(&mut cpu, Client::Baseline)),
    );
    result(
        "fake_busy_bot",
        format!("{:.2}", take(&mut busy, Client::Bot)),
    );
    result(
        "fake_busy_base",
        format!("{:.2}", take(&mut busy, Client::Baseline)),
    );
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn round_trip(o: &Opts) -> Res<()> {
    eprintln!(
        "[e2e] ack round trip: {} envelopes, 1 in flight, {} run(s) each",
        o.rtt_n, o.reps
    );
    let mut figures: HashMap<(&str, &str), Vec<f64>> = HashMap::new();
    for rep in 0..o.reps {
        for client in order(rep) {
            let r = stream_run(o, client, o.rtt_n, 1, true)?;
            let mut rt = r.round_trips;
            rt.sort_unstable();
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let (p50, p99, max) = (
                us(percentile(&rt, 0.50)),
                us(percentile(&rt, 0.99)),
                us(*rt.last().unwrap_or(&Duration::ZERO)),
            );
            eprintln!(
                "[e2e]   {:<9} p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs",
                client.name()
            );
            for (k, v) in [("p50", p50), ("p99", p99), ("max", max)] {
                figures.entry((client.name(), k)).or_default().push(v);
            }
        }
    }
    let mut get = |c: Client, k: &'static str| median(figures.remove(&(c.name(), k)).unwrap());
    let (bp50, bp99, bmax) = (
        get(Client::Bot, "p50"),
        get(Client::Bot, "p99"),
        get(Client::Bot, "max"),
    );
    let (rp50, rp99, rmax) = (
        get(Client::Baseline, "p50"),
        get(Client::Baseline, "p99"),
        get(Client::Baseline, "max"),
    );
    result("rtt_bot_p50_us", format!("{bp50:.0}"));
    result("rtt_bot_p99_us", format!("{bp99:.0}"));
    result("rtt_bot_max_us", format!("{bmax:.0}"));
    result("rtt_base_p50_us", format!("{rp50:.0}"));
    result("rtt_base_p99_us", format!("{rp99:.0}"));
    result("rtt_base_max_us", format!("{rmax:.0}"));
    result("rtt_p50_ratio", format!("{:.3}", bp50 / rp50));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The core alone

/// CPU time this thread has used (ns from `/proc/thread-self/schedstat`, else 10 ms ticks).
fn this_thread_cpu() -> Duration {
    if let Some(ns) = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return Duration::from_nanos(ns);
    }
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse::<u64>().ok())
        .unwrap_or(0);
    thread_cpu().get(&tid).map_or(Duration::ZERO, |(_, c)| *c)
}

/// Parse + dedup + ack of `n` envelopes through the supervisor, on this thread (fake clock).
/// The frames are made in chunks outside the timed part, small enough to stay in the CPU's
/// cache as a frame just copied out of the socket's read buffer is (10 000 frames, 12 MB,
/// measured memory bandwidth: up to 2x slower on a 2-core VM); returns envelopes per second
/// of this thread's CPU time (so other load on the machine counts less) and per second of
/// wall time.
fn core_once(n: u64) -> Res<(f64, f64)> {
    const CHUNK: u64 = PARSE_CHUNK as u64;
    let t0 = Instant::now();
    let mut sup = Supervisor::new(Config::default()).map_err(|e| e.to_string())?;
    sup.start(t0);
    let conn = loop {
        match sup.poll_event() {
            Some(Event::Connect { conn }) => break conn,
            Some(_) => continue,
            None => return Err("the core asked for no connection".into()),
        }
    };
    sup.handle_connected(t0, conn).map_err(|e| e.to_string())?;
    sup.handle_text(t0, conn, r#"{"type":"hello"}"#.to_owned())
        .map_err(|e| e.to_string())?;
    while sup.poll_event().is_some() {}
    while sup.poll_transmit().is_some() {}
    let (mut cpu, mut wall) = (Duration::ZERO, Duration::ZERO);
    let mut acked = 0u64;
    let mut i = 0u64;
    while i < n {
        let frames: Vec<String> = (i..n.min(i + CHUNK)).map(envelope).collect();
        let (c0, w0) = (this_thread_cpu(), Instant::now());
        for f in frames {
            // Fake clock: 10 µs per envelope.
            let now = t0 + Duration::from_micros(i * 10);
            i += 1;
            sup.handle_text(now, conn, f).map_err(|e| e.to_string())?;
            while let Some(ev) = sup.poll_event() {
                if let Event::Request { envelope, .. } = ev {
                    sup.ack(now, envelope.envelope_id())
                        .map_err(|e| e.to_string())?;
                }
            }
            while sup.poll_transmit().is_some() {
                acked += 1;
            }
        }
        wall += w0.elapsed();
        cpu += this_thread_cpu().saturating_sub(c0);
    }
    if acked != n {
        return Err(format!("core: {acked} acks for {n} envelopes"));
    }
    let per = |d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    Ok((per(cpu), per(wall)))
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../slack-envelope/tests/fixtures")
}

/// Frames made per timed chunk in the core figures (see `core_once`).
const PARSE_CHUNK: usize = 1024;

/// `Frame::parse` of one fixture, in ns of CPU time per parse (the owned copies are made
/// beforehand, `PARSE_CHUNK` at a time, outside the timed part).
fn parse_ns(text: &str, iters: usize) -> Res<f64> {
    let mut cpu = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let copies: Vec<String> = (0..PARSE_CHUNK.min(iters - done))
            .map(|_| text.to_owned())
            .collect();
        done += copies.len();
        let start = this_thread_cpu();
        for c in copies {
            let f = Frame::parse(c).map_err(|e| e.to_string())?;
            std::hint::black_box(f);
        }
        cpu += this_thread_cpu().saturating_sub(start);
    }
    Ok(cpu.as_secs_f64() * 1e9 / iters as f64)
}

fn core(o: &Opts) -> Res<()> {
    eprintln!(
        "[e2e] core: {} envelopes of {} bytes through the supervisor, {} run(s)",
        o.core_n,
        envelope(0).len(),
        o.reps
    );
    let mut runs = Vec::new();
    let mut walls = Vec::new();
    for _ in 0..o.reps {
        let (cpu, wall) = core_once(o.core_n)?;
        eprintln!("[e2e]   {cpu:>9.0} envelopes per cpu-second ({wall:.0} per wall-clock second)");
        runs.push(cpu);
        walls.push(wall);
    }
    result("core_per_sec", format!("{:.0}", median(runs)));
    result("core_per_wall_sec", format!("{:.0}", median(walls)));

    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .map_err(|e| format!("fixtures: {e}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("socket_mode_") && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err("no socket_mode_*.json fixtures found".into());
    }
    // Enough parses for ~100 ms of CPU per figure: the CPU clock read from schedstat advances
    // in scheduler ticks (4 ms here) while a thread runs.
    let iters = if o.smoke { 100 } else { 200_000 };
    let mut parts = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .trim_start_matches("socket_mode_")
            .to_owned();
        let mut ns = Vec::new();
        for _ in 0..o.reps {
            ns.push(parse_ns(&text, iters)?);
        }
        let ns = median(ns);
        eprintln!(
            "[e2e]   parse {name:<36} {:>5} bytes {ns:>7.0} ns",
            text.len()
        );
        parts.push(format!("{name}:{ns:.0}"));
    }
    let own = envelope(0);
    let mut ns = Vec::new();
    for _ in 0..o.reps {
        ns.push(parse_ns(&own, iters)?);
    }
    result("parse_bench_envelope_ns", format!("{:.0}", median(ns)));
    result("parse_fixtures_ns", parts.join(","));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Footprint of the binary

/// Per-thread (name, voluntary, involuntary) context switches of a process.
fn ctx_switches(pid: u32) -> Vec<(u64, String, u64, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_owned())
        };
        let num = |k: &str| field(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out.push((
            tid,
            field("Name:").unwrap_or_default(),
            num("voluntary_ctxt_switches:"),
            num("nonvoluntary_ctxt_switches:"),
        ));
    }
    out
}

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn footprint(o: &Opts) -> Res<()> {
    let instances = o.reps.min(9);
    let bin = &o.bot_bin;
    let size = std::fs::metadata(bin)
        .map_err(|e| format!("the slack-bot binary {}: {e}", bin.display()))?
        .len();
    eprintln!(
        "[e2e] footprint: {instances} instance(s) of {} ({size} bytes) connected and idle {} s",
        bin.display(),
        o.idle.as_secs()
    );
    result("bin_bytes", size);
    let plain = idle_instances(o, instances, false)?;
    result("rss_kb", format!("{:.0}", median(plain.rss)));
    result("idle_secs", o.idle.as_secs());
    result("idle_wakeups", format!("{:.0}", median(plain.wake)));
    result("idle_wakeups_threads", plain.detail);
    result("bin_threads", format!("{:.0}", median(plain.threads)));
    // The same over TLS (https + wss, the fake's own CA), as a real Slack is reached: rustls's
    // code and state are resident too.
    let tls = idle_instances(o, instances, true)?;
    result("rss_tls_kb", format!("{:.0}", median(tls.rss)));
    result("idle_wakeups_tls", format!("{:.0}", median(tls.wake)));
    Ok(())
}

/// What `idle_instances` saw of each instance.
struct Idle {
    rss: Vec<f64>,
    wake: Vec<f64>,
    threads: Vec<f64>,
    /// Wake-ups per thread of the first instance.
    detail: String,
}

/// Runs `instances` copies of the binary against one fake (over TLS if `tls`), lets them idle,
/// reads their RSS and wake-ups, then checks that each still acks an event.
fn idle_instances(o: &Opts, instances: usize, tls: bool) -> Res<Idle> {
    let bin = &o.bot_bin;
    let slack = FakeSlack::builder()
        .tls(tls)
        .start()
        .map_err(|e| e.to_string())?;
    let ca_file = match slack.ca_pem() {
        Some(pem) => {
            let path =
                std::env::temp_dir().join(format!("e2e-bench-ca-{}.pem", std::process::id()));
            std::fs::write(&path, pem).map_err(|e| format!("writing the fake's CA: {e}"))?;
            Some(path)
        }
        None => None,
    };
    let mut kids = Kill(Vec::new());
    for _ in 0..instances {
        let mut command = Command::new(bin);
        match &ca_file {
            Some(ca) => command
                .env("SLACK_CA_FILE", ca)
                .env_remove("SLACK_ALLOW_INSECURE"),
            None => command
                .env("SLACK_ALLOW_INSECURE", "1")
                .env_remove("SLACK_CA_FILE"),
        };
        let child = command
            .env("SLACK_APP_TOKEN", slack.app_token())
            .env("SLACK_BOT_TOKEN", slack.bot_token())
            .env("SLACK_API_URL", slack.api_url())
            .env("RUST_LOG", "warn")
            .env_remove("SLACK_DEBUG")
            .env_remove("WEBSOCKET_DEBUG")
            .env_remove("SLACK_CONNECTIONS")
            .env_remove("BOT_USER_ID")
            // The host's extra roots (the binary trusts them too) would make the figure depend
            // on the host's store; a92c804 ignored these variables.
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        kids.0.push(child);
    }
    slack
        .wait_for_connections(instances, Duration::from_secs(30))
        .map_err(|e| format!("the slack-bot binary did not connect: {e}"))?;
    // Let start-up work (auth.test, the first frames) settle.
    std::thread::sleep(Duration::from_secs(1));
    let before: Vec<_> = kids.0.iter().map(|c| ctx_switches(c.id())).collect();
    std::thread::sleep(o.idle);
    let mut rss = Vec::new();
    let mut wake = Vec::new();
    let mut threads = Vec::new();
    let mut detail = String::new();
    for (child, before) in kids.0.iter_mut().zip(before) {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the slack-bot binary exited while idle: {status}"));
        }
        let pid = child.id();
        let after = ctx_switches(pid);
        let rss_kb = status_kb(pid, "VmRSS:").ok_or("no VmRSS")?;
        let mut total = 0;
        let mut per_thread: Vec<String> = Vec::new();
        for (tid, name, vol, _) in &after {
            let was = before
                .iter()
                .find(|(t, ..)| t == tid)
                .map_or(0, |(_, _, v, _)| *v);
            let d = vol.saturating_sub(was);
            total += d;
            if d > 0 {
                per_thread.push(format!("{name}:{d}"));
            }
        }
        per_thread.sort();
        eprintln!(
            "[e2e]   pid {pid}: rss {rss_kb} kB, {} threads, {total} voluntary switches in {} s ({})",
            after.len(),
            o.idle.as_secs(),
            per_thread.join(" ")
        );
        if detail.is_empty() {
            detail = per_thread.join(",");
        }
        rss.push(rss_kb as f64);
        wake.push(total as f64);
        threads.push(after.len() as f64);
    }
    // Still alive and acking: one event per instance, each on its own connection.
    for i in 0..instances {
        slack
            .send_event(serde_json::json!({
                "type": "message", "subtype": "bot_message", "bot_id": "B9", "channel": "C1",
                "text": format!("ping {i}"), "ts": format!("1700000000.{i:06}")
            }))
            .map_err(|e| e.to_string())?;
    }
    let acks = slack
        .wait_for_acks(instances, Duration::from_secs(30))
        .map_err(|e| format!("the slack-bot binary did not ack after idling: {e}"))?;
    let mut conns: Vec<_> = acks.iter().map(|a| a.connection).collect();
    conns.sort();
    conns.dedup();
    if conns.len() != instances {
        return Err(format!(
            "acks came from {} of {instances} connections",
            conns.len()
        ));
    }
    drop(kids);
    slack.shutdown();
    if let Some(ca) = ca_file {
        let _ = std::fs::remove_file(ca);
    }
    Ok(Idle {
        rss,
        wake,
        threads,
        detail,
    })
}

// ---------------------------------------------------------------------------------------------
// Reconnect

fn reconnect(o: &Opts) -> Res<()> {
    eprintln!(
        "[e2e] reconnect: disconnect(refresh_requested) -> replacement hello, {} run(s)",
        o.reps
    );
    let slack = FakeSlack::start().map_err(|e| e.to_string())?;
    let events = slack.subscribe();
    let running = bot(&slack)?;
    slack
        .wait_for_connections(1, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let mut gaps = Vec::new();
    for rep in 0..o.reps {
        let open = slack.open_connections();
        let [old] = open.as_slice() else {
            return Err(format!("expected one open connection, found {open:?}"));
        };
        let old = *old;
        while events.try_recv().is_ok() {}
        let t0 = Instant::now();
        slack
            .disconnect(old, "refresh_requested")
            .map_err(|e| e.to_string())?;
        let deadline = t0 + Duration::from_secs(30);
        let (mut hello, mut closed) = (None, None);
        while hello.is_none() || closed.is_none() {
            let ev = events
                .recv_deadline(deadline)
                .map_err(|_| format!("refresh {rep}: no replacement hello and close of {old}"))?;
            let at = Instant::now();
            match ev {
                slack_testkit::Event::HelloSent { id } if id != old => hello = Some(at),
                slack_testkit::Event::ConnectionClosed { id, .. } if id == old => closed = Some(at),
                _ => {}
            }
        }
        let (hello, closed) = (hello.unwrap(), closed.unwrap());
        let took = hello.duration_since(t0);
        // No connection could receive from the old link's close until the new link's hello.
        let gap = hello.saturating_duration_since(closed);
        eprintln!(
            "[e2e]   hello after {:.1} ms, old link closed {:+.1} ms after the hello, gap {:.1} ms",
            took.as_secs_f64() * 1e3,
            (closed.saturating_duration_since(hello).as_secs_f64()
                - hello.saturating_duration_since(closed).as_secs_f64())
                * 1e3,
            gap.as_secs_f64() * 1e3
        );
        times.push(took.as_secs_f64() * 1e3);
        gaps.push(gap.as_secs_f64() * 1e3);
        // The replacement works.
        let id = slack
            .send_event(
                serde_json::json!({"type": "message", "channel": "C1", "user": "U1",
                "text": "after refresh", "ts": format!("1700000001.{rep:06}")}),
            )
            .map_err(|e| e.to_string())?;
        slack
            .wait_for_ack(&id, Duration::from_secs(30))
            .map_err(|e| format!("no ack after the refresh: {e}"))?;
    }
    running
        .shutdown()
        .map_err(|e| format!("bot shutdown: {e}"))?;
    slack.shutdown();
    result("reconnect_ms", format!("{:.2}", median(times)));
    result("refresh_gap_ms", format!("{:.2}", median(gaps)));
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let o = opts();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "[e2e] {} run, {cores} core(s), {} repetition(s)",
        if o.smoke { "smoke" } else { "full" },
        o.reps
    );
    result("cores", cores);
    result("reps", o.reps);
    result("e2e_n", o.n);
    result("rtt_n", o.rtt_n);
    result("core_n", o.core_n);
    result("envelope_bytes", envelope(0).len());
    let sections: [(&str, Section); 6] = [
        ("e2e", throughput),
        ("rtt", round_trip),
        ("core", core),
        ("footprint", footprint),
        ("reconnect", reconnect),
        ("fleet", fleet_bench::run),
    ];
    let mut failed = false;
    for (name, f) in sections {
        if o.only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let t = Instant::now();
        if let Err(e) = f(&o) {
            eprintln!("[e2e] {name} FAILED: {e}");
            failed = true;
        }
        eprintln!("[e2e] {name}: {:.2} s", t.elapsed().as_secs_f64());
    }
    if failed {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Shared claims on (a local Redis) against off

#[cfg(not(feature = "fleet"))]
mod fleet_bench {
    pub(super) fn run(_: &super::Opts) -> super::Res<()> {
        eprintln!("[e2e] fleet: skipped (built without the `fleet` feature)");
        Ok(())
    }
}

#[cfg(feature = "fleet")]
mod fleet_bench {
    use std::process::{Child, Command, Stdio};
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::{Client, Opts, Res, WINDOW, median, percentile, result, stream_run};
    use slack_bot::fleet::FleetConfig;
    use slack_bot::{Bot, Reply, RunningBot};
    use slack_testkit::FakeSlack;

    static REDIS_URL: OnceLock<String> = OnceLock::new();

    /// Envelopes in flight for the saturated runs. With 64 in flight the fleet's throughput is
    /// bound by its round trip (a claim batch waits for Redis, and on a small VM each hop
    /// between threads and processes costs a wake-up; the CPUs were measured about 40 % idle);
    /// with this many, batches are full and the figure is what the claim path can carry.
    const SATURATED: usize = 1024;

    /// The bench's bot as one replica of a fleet (claims and the stream on).
    pub(super) fn bot(slack: &FakeSlack) -> Res<RunningBot> {
        let url = REDIS_URL.get().ok_or("no redis")?;
        Bot::builder(&slack.app_token(), &slack.bot_token())
            .map_err(|e| e.to_string())?
            .api_url(slack.api_url())
            .allow_insecure(true)
            .no_proxy()
            .redis(FleetConfig::new(url.clone()).key_prefix("bench"))
            .on_event("message", |_| Ok(Reply::Ack))
            .start()
            .map_err(|e| format!("the bot did not start: {e}"))
    }

    struct Redis(Child);

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn flush(url: &str) {
        if let Ok(mut c) = redis::Client::open(url)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        {
            let _ = redis::cmd("FLUSHALL").query::<()>(&mut c);
        }
    }

    /// Off and on, the order swapped from one repetition to the next (a drift in the
    /// machine's speed then weighs on both alike).
    fn order(rep: usize) -> [Client; 2] {
        if rep % 2 == 0 {
            [Client::Bot, Client::BotFleet]
        } else {
            [Client::BotFleet, Client::Bot]
        }
    }

    /// One client's figures over the repetitions.
    #[derive(Default)]
    struct Figures {
        per_sec: Vec<f64>,
        p50_us: Vec<f64>,
    }

    impl Figures {
        fn medians(self) -> [f64; 2] {
            [median(self.per_sec), median(self.p50_us)]
        }
    }

    /// `o.reps` throughput runs with `window` in flight, on and off alternating, each followed
    /// by a round-trip run with 1 in flight when `rtt`: the fleet's figures, then the bot's.
    fn runs(o: &Opts, url: &str, window: usize, rtt: bool) -> Res<(Figures, Figures)> {
        let (mut on, mut off) = (Figures::default(), Figures::default());
        for rep in 0..o.reps {
            for client in order(rep) {
                flush(url);
                let r = stream_run(o, client, o.n, window, false)?;
                let p50 = if rtt {
                    flush(url);
                    let mut rt = stream_run(o, client, o.rtt_n, 1, true)?.round_trips;
                    rt.sort_unstable();
                    Some(percentile(&rt, 0.5).as_secs_f64() * 1e6)
                } else {
                    None
                };
                eprintln!(
                    "[e2e]   {:<15} {:>9.0} events/s with {window} in flight{}",
                    client.name(),
                    r.per_sec,
                    p50.map(|p| format!(", p50 {p:.0} µs")).unwrap_or_default()
                );
                let f = if client == Client::Bot {
                    &mut off
                } else {
                    &mut on
                };
                f.per_sec.push(r.per_sec);
                f.p50_us.extend(p50);
            }
        }
        Ok((on, off))
    }

    pub(super) fn run(o: &Opts) -> Res<()> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = match Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("[e2e] fleet: skipped (redis-server could not be started: {e})");
                return Ok(());
            }
        };
        let _redis = Redis(child);
        let url = format!("redis://127.0.0.1:{port}/0");
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t.elapsed() > Duration::from_secs(20) {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = REDIS_URL.set(url.clone());
        eprintln!(
            "[e2e] fleet: shared claims on (local redis) against off: {} envelopes with {WINDOW} in flight, {} with 1, {} run(s) each",
            o.n, o.rtt_n, o.reps
        );
        let (on, off) = runs(o, &url, WINDOW, true)?;
        // The same, saturated (no round-trip runs: the throughput alone).
        let (sat_on, sat_off) = runs(o, &url, SATURATED, false)?;
        let ([sat_on, _], [sat_off, _]) = (sat_on.medians(), sat_off.medians());
        result("fleet_sat_window", SATURATED);
        result("fleet_sat_on_per_sec", format!("{sat_on:.0}"));
        result("fleet_sat_off_per_sec", format!("{sat_off:.0}"));
        result(
            "fleet_sat_ratio",
            format!("{:.3}", sat_on / sat_off.max(1e-9)),
        );
        let ([on, on_p50], [off, off_p50]) = (on.medians(), off.medians());
        result("fleet_on_per_sec", format!("{on:.0}"));
        result("fleet_off_per_sec", format!("{off:.0}"));
        result("fleet_ratio", format!("{:.3}", on / off.max(1e-9)));
        result("fleet_rtt_on_p50_us", format!("{on_p50:.0}"));
        result("fleet_rtt_off_p50_us", format!("{off_p50:.0}"));
        result("fleet_rtt_p50_delta_us", format!("{:.0}", on_p50 - off_p50));
        Ok(())
    }
}
