//! The recovery bench (`cargo xtask bench` runs it next to `e2e` and `relay`): how long events
//! stop flowing when a link fails while traffic flows, slack-bot beside a raw tungstenite
//! baseline client.
//!
//! Two faults, each on a fresh fake and a fresh client, with `events_api` envelopes sent at a
//! steady 100 per second (`FakeSlack::send_event`, delivered round robin to the ready links):
//!
//! 1. **silent**: the link goes half-open (`Fault::Silent`: the fake stops reading, writing and
//!    answering pings, and keeps the TCP connection open). Measured: from the fault to the first
//!    ack the fake reads on another link, that is until events flow again over a replacement.
//! 2. **drop**: the fake drops the TCP connection of a healthy link (`Fault::DropTcp`).
//!    Measured the same way: from the drop to the first ack over the new link.
//!
//! The clients:
//!
//! * slack-bot: the library with default settings (a busy link is suspected after 3 s of
//!   silence, an idle one after 8 s; the first reconnect after a working link drops waits at
//!   most 100 ms of jitter) and an ack-only handler.
//! * baseline: what a raw tungstenite client does. One thread: `apps.connections.open` (a
//!   plain HTTP/1.1 request), connect (`TCP_NODELAY`), then read; each envelope is acked at
//!   once. Its only liveness check is a **5 s read timeout** on the socket: after 5 s without a
//!   frame it drops the socket and reconnects. A read error or a close (a dropped link)
//!   reconnects **at once**, with no backoff; a failed attempt is retried after 1 s.
//!
//! Each link carries traffic for a warm-up (1.5 s) before the fault, so it counts as busy and,
//! for the drop, as a link that was working. Every figure is over `--reps` runs (median and
//! max); the two clients alternate which goes first.
//!
//! Results go to stdout as `RESULT <key> <value>` lines; progress to stderr. Exits non-zero
//! when something is broken (no connection, events never flow again within 60 s), never on
//! slowness. Options: `--smoke` (one repetition), `--reps N`, `--only recovery` (another
//! `--only` skips this bench); other arguments (meant for `e2e`) are ignored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slack_bot::{Bot, Reply, RunningBot};
use slack_testkit::{Event, FakeSlack, Fault};
use tungstenite::Message;

type Res<T> = Result<T, String>;

/// Events per second while the fault hits.
const RATE: u64 = 100;
/// Traffic before the fault.
const WARM: Duration = Duration::from_millis(1500);
/// The baseline's read timeout: its only way to notice a silent link.
const BASELINE_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a run may wait for events to flow again before it counts as broken.
const GIVE_UP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Bot,
    Baseline,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Bot => "slack-bot",
            Client::Baseline => "baseline",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Client::Bot => "bot",
            Client::Baseline => "base",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Silent,
    Drop,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Silent => "silent half-open link",
            Scenario::Drop => "dropped healthy link",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Scenario::Silent => "silent",
            Scenario::Drop => "drop",
        }
    }

    fn fault(self) -> Fault {
        match self {
            Scenario::Silent => Fault::Silent,
            Scenario::Drop => Fault::DropTcp,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The baseline client

/// `apps.connections.open` as a raw client does it: one HTTP/1.1 request, `Connection: close`.
fn open_url(api_url: &str, app_token: &str) -> Res<String> {
    let rest = api_url
        .strip_prefix("http://")
        .ok_or("the baseline speaks plain http only")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut tcp = TcpStream::connect(host).map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        tcp,
        "POST /{path}apps.connections.open HTTP/1.1\r\nHost: {host}\r\n\
         Authorization: Bearer {app_token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .ok_or("no http body")?;
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    v.get("url")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "apps.connections.open gave no url".to_owned())
}

/// The `envelope_id` value by a plain scan, as the e2e bench's baseline does.
fn find_envelope_id(text: &str) -> Option<&str> {
    let at = text.find("\"envelope_id\"")? + "\"envelope_id\"".len();
    let rest = text[at..].trim_start_matches(|c: char| c == ':' || c.is_ascii_whitespace());
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// One link of the baseline: connect (an `Err` when that fails), then read and ack until the
/// link fails (an error, a close, or `BASELINE_READ_TIMEOUT` without a frame: `Ok` with why)
/// or `stop` is set.
fn baseline_link(url: &str, stop: &AtomicBool) -> Res<&'static str> {
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(BASELINE_READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let (mut ws, _) = tungstenite::client(url, tcp).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::Relaxed) {
        match ws.read() {
            Ok(Message::Text(t)) => {
                if let Some(id) = find_envelope_id(t.as_str()) {
                    let ack = Message::text(format!(r#"{{"envelope_id":"{id}"}}"#));
                    if ws.send(ack).is_err() {
                        return Ok("write failed");
                    }
                }
            }
            Ok(Message::Close(_)) => return Ok("closed"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok("read timed out");
            }
            Err(_) => return Ok("read failed"),
        }
    }
    Ok("stopped")
}

/// The baseline: a link at a time, replaced at once when it fails.
fn baseline(api_url: String, app_token: String, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("baseline".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let attempt =
                    open_url(&api_url, &app_token).and_then(|url| baseline_link(&url, &stop));
                // A link that worked and failed is replaced at once; a failed attempt waits.
                if attempt.is_err() && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1000));
                }
            }
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// One run

enum Running {
    Bot(RunningBot),
    Baseline(Arc<AtomicBool>, JoinHandle<()>),
}

fn start(client: Client, slack: &FakeSlack) -> Res<Running> {
    Ok(match client {
        Client::Bot => Running::Bot(
            Bot::builder(&slack.app_token(), &slack.bot_token())
                .map_err(|e| e.to_string())?
                .api_url(slack.api_url())
                .allow_insecure(true)
                .no_proxy()
                .outbox(false)
                .on_any_event(|_| Ok(Reply::Ack))
                .start()
                .map_err(|e| format!("the bot did not start: {e}"))?,
        ),
        Client::Baseline => {
            let stop = Arc::new(AtomicBool::new(false));
            let h = baseline(slack.api_url(), slack.app_token(), stop.clone());
            Running::Baseline(stop, h)
        }
    })
}

fn stop(running: Running, slack: FakeSlack) -> Res<()> {
    match running {
        Running::Bot(b) => {
            b.shutdown().map_err(|e| format!("bot shutdown: {e}"))?;
            slack.shutdown();
        }
        Running::Baseline(stop, h) => {
            stop.store(true, Ordering::Relaxed);
            // The fake's close frame (or its closed port) ends the baseline's read.
            slack.shutdown();
            h.join().map_err(|_| "the baseline panicked")?;
        }
    }
    Ok(())
}

/// The time from the fault to the first ack over another link.
fn run(client: Client, scenario: Scenario, rep: usize) -> Res<Duration> {
    let slack = FakeSlack::builder()
        // Envelopes lost in the silent link come back late: not what is measured.
        .ack_timeout(Duration::from_secs(30))
        .start()
        .map_err(|e| e.to_string())?;
    let events = slack.subscribe();
    let running = start(client, &slack)?;
    let what = |e: &dyn std::fmt::Display| format!("{} {}: {e}", client.name(), scenario.key());
    slack
        .wait_for_connections(1, Duration::from_secs(30))
        .map_err(|e| what(&e))?;
    let old = *slack
        .open_connections()
        .first()
        .ok_or_else(|| what(&"no open connection"))?;
    let sending = AtomicBool::new(true);
    let took = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let t0 = Instant::now();
            let mut n: u64 = 0;
            while sending.load(Ordering::Relaxed) {
                let due = (t0.elapsed().as_secs_f64() * RATE as f64) as u64;
                while n < due {
                    let ts = format!("1700000000.{rep:02}{n:04}");
                    let _ = slack.send_event(json!({"type": "message", "channel": "C111",
                        "user": "U111", "text": format!("recovery {n}"), "ts": ts}));
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let measured = (|| {
            std::thread::sleep(WARM);
            // The link works: acks came over it.
            let acked_before = slack.acks().iter().filter(|a| a.connection == old).count();
            if acked_before == 0 {
                return Err(what(&"no ack over the first link during the warm-up"));
            }
            while events.try_recv().is_ok() {}
            let t0 = Instant::now();
            slack.fault(old, scenario.fault()).map_err(|e| what(&e))?;
            let deadline = t0 + GIVE_UP;
            let mut hello = None;
            loop {
                let ev = events
                    .recv_deadline(deadline)
                    .map_err(|_| what(&"events did not flow again within 60 s"))?;
                match ev {
                    Event::HelloSent { id } if id != old && hello.is_none() => {
                        hello = Some(Instant::now());
                    }
                    Event::Ack(a) if a.connection != old && a.at >= t0 => {
                        let took = a.at.duration_since(t0);
                        eprintln!(
                            "[recovery]   {} {}: events flow again after {:.0} ms (replacement's hello after {})",
                            client.name(),
                            scenario.key(),
                            took.as_secs_f64() * 1e3,
                            hello.map_or_else(
                                || "?".to_owned(),
                                |h| format!("{:.0} ms", h.duration_since(t0).as_secs_f64() * 1e3)
                            ),
                        );
                        return Ok(took);
                    }
                    _ => {}
                }
            }
        })();
        sending.store(false, Ordering::Relaxed);
        let _ = sender.join();
        measured
    });
    stop(running, slack)?;
    took
}

// ---------------------------------------------------------------------------------------------

fn median_ms(v: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let m = ms.len() / 2;
    match ms.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ms[m],
        _ => (ms[m - 1] + ms[m]) / 2.0,
    }
}

fn max_ms(v: &[Duration]) -> f64 {
    v.iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .fold(f64::NAN, f64::max)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if value("--only").is_some_and(|s| s != "recovery") {
        eprintln!("[recovery] skipped (--only)");
        return;
    }
    let reps: usize = value("--reps")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 1 } else { 5 })
        .clamp(1, if smoke { 1 } else { usize::MAX });
    println!("RESULT recovery_reps {reps}");
    println!("RESULT recovery_rate {RATE}");
    let mut failed = false;
    for scenario in [Scenario::Silent, Scenario::Drop] {
        eprintln!(
            "[recovery] {}: {RATE} events/s, {reps} run(s) per client",
            scenario.name()
        );
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for rep in 0..reps {
            let order = if rep % 2 == 0 {
                [Client::Bot, Client::Baseline]
            } else {
                [Client::Baseline, Client::Bot]
            };
            for client in order {
                match run(client, scenario, rep) {
                    Ok(t) => times[usize::from(client == Client::Baseline)].push(t),
                    Err(e) => {
                        eprintln!("[recovery] FAILED: {e}");
                        failed = true;
                    }
                }
            }
        }
        for client in [Client::Bot, Client::Baseline] {
            let t = &times[usize::from(client == Client::Baseline)];
            if t.is_empty() {
                continue;
            }
            let (p50, max) = (median_ms(t), max_ms(t));
            eprintln!(
                "[recovery] {} {}: median {p50:.0} ms, max {max:.0} ms",
                scenario.name(),
                client.name()
            );
            println!(
                "RESULT recovery_{}_{}_p50_ms {p50:.0}",
                scenario.key(),
                client.key()
            );
            println!(
                "RESULT recovery_{}_{}_max_ms {max:.0}",
                scenario.key(),
                client.key()
            );
        }
    }
    if failed {
        std::process::exit(1);
    }
}
