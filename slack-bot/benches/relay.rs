//! The relay bench (`cargo xtask bench` runs it next to `e2e`): envelopes through the relay to
//! a local HTTP app that answers at once.
//!
//! 1. throughput: `events_api` envelopes, 64 in flight, through a bot with the relay (each one
//!    acked only after the app's `200`);
//! 2. ack round trip with one in flight, p50, for a direct bot (acks on receipt, no handler)
//!    and for the relay: the difference is what the relay adds (an HTTP request on loopback,
//!    signing, and the hand-over to a worker and back).
//!
//! Results go to stdout as `RESULT <key> <value>` lines; progress to stderr. Options:
//! `--smoke`, `--n N`, `--rtt-n N`, `--only relay` (another `--only` skips this bench); other
//! arguments (meant for `e2e`) are ignored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use slack_bot::relay::{Relay, SigningSecret};
use slack_bot::{Bot, RunningBot};
use slack_testkit::{FakeSlack, StreamSpec};

const WINDOW: usize = 64;

/// An `events_api` envelope of about 1.2 KB; `tag` keeps `event_id`s of different runs apart
/// (the duplicate window would swallow a repeat).
fn template(tag: &str) -> String {
    let seq = StreamSpec::SEQ;
    let text = "The deploy of build 4.2.1 to production finished: 312 checks passed, none failed. "
        .repeat(4);
    let text = text.trim_end();
    format!(
        r#"{{"envelope_id":"{seq}-{tag}-4744-aba3-4d66eb52682b","payload":{{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{{"type":"message","text":"{text}","user":"U222","ts":"1610241741.000200","team":"T111","channel":"C111","event_ts":"1610241741.000200","channel_type":"channel"}},"type":"event_callback","event_id":"Ev{tag}{seq}","event_time":1610241741,"is_ext_shared_channel":false}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}}"#
    )
}

/// A keep-alive HTTP/1.1 app on 127.0.0.1 answering every request `200` with no body at once.
fn start_app() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slack/events", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || serve(stream));
        }
    });
    url
}

fn serve(stream: std::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut len = 0usize;
        let mut first = true;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn bot(slack: &FakeSlack, relay_to: Option<&str>) -> RunningBot {
    let b = Bot::builder(&slack.app_token(), &slack.bot_token())
        .unwrap()
        .api_url(slack.api_url())
        .allow_insecure(true)
        .no_proxy()
        .outbox(false);
    let b = match relay_to {
        Some(url) => Relay::new(url, SigningSecret::new("bench-secret").unwrap())
            .unwrap()
            .install(b),
        None => b,
    };
    let running = b.start().unwrap();
    slack
        .wait_for_connections(1, Duration::from_secs(20))
        .unwrap();
    running
}

/// Streams `n` envelopes with `window` in flight; returns (envelopes/s, round trips).
fn stream(
    slack: &FakeSlack,
    tag: &str,
    n: u64,
    window: usize,
    rt: bool,
) -> Result<(f64, Vec<Duration>), String> {
    let conn = *slack
        .open_connections()
        .first()
        .ok_or("no open connection")?;
    let r = slack
        .stream_envelopes(
            conn,
            StreamSpec {
                template: template(tag),
                count: n,
                in_flight: window,
                round_trips: rt,
                timeout: Duration::from_secs(600),
            },
        )
        .map_err(|e| e.to_string())?;
    if let Some(why) = r.aborted {
        return Err(format!("stream aborted after {} acks: {why}", r.acked));
    }
    if r.acked != n {
        return Err(format!("{} of {n} envelopes acked", r.acked));
    }
    Ok((n as f64 / r.elapsed.as_secs_f64().max(1e-9), r.round_trips))
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
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
    if value("--only").is_some_and(|s| s != "relay") {
        eprintln!("[relay] skipped (--only)");
        return;
    }
    let n: u64 = value("--n")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 300 } else { 20_000 })
        .min(if smoke { 300 } else { u64::MAX });
    let rtt_n: u64 = value("--rtt-n")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 50 } else { 2_000 })
        .min(if smoke { 50 } else { u64::MAX });
    let app = start_app();
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_secs(60))
        .start()
        .unwrap();

    eprintln!("[relay] throughput: {n} envelopes, {WINDOW} in flight, to an app at {app}");
    let relay = bot(&slack, Some(&app));
    let result = stream(&slack, "warm", (n / 10).clamp(10, 2_000), WINDOW, false)
        .and_then(|_| stream(&slack, "tput", n, WINDOW, false));
    let (per_sec, _) = result.unwrap_or_else(|e| {
        eprintln!("[relay] FAILED: throughput: {e}");
        std::process::exit(1)
    });
    eprintln!("[relay] ack round trip, 1 in flight, {rtt_n} envelopes: relay");
    let (_, relay_rt) = stream(&slack, "rtt", rtt_n, 1, true).unwrap_or_else(|e| {
        eprintln!("[relay] FAILED: relay round trip: {e}");
        std::process::exit(1)
    });
    if relay.stats().declined > 0 {
        eprintln!("[relay] FAILED: the app declined envelopes");
        std::process::exit(1);
    }
    relay.shutdown().unwrap();
    slack.shutdown();

    eprintln!("[relay] ack round trip, 1 in flight, {rtt_n} envelopes: direct bot");
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_secs(60))
        .start()
        .unwrap();
    let direct = bot(&slack, None);
    let (_, direct_rt) = stream(&slack, "dwarm", (rtt_n / 10).max(5), 1, true)
        .and_then(|_| stream(&slack, "drtt", rtt_n, 1, true))
        .unwrap_or_else(|e| {
            eprintln!("[relay] FAILED: direct round trip: {e}");
            std::process::exit(1)
        });
    direct.shutdown().unwrap();
    slack.shutdown();

    let relay_p50 = p50(relay_rt);
    let direct_p50 = p50(direct_rt);
    let added = relay_p50.saturating_sub(direct_p50);
    println!("RESULT relay_n {n}");
    println!("RESULT relay_per_sec {per_sec:.0}");
    println!("RESULT relay_rtt_n {rtt_n}");
    println!("RESULT relay_p50_us {}", relay_p50.as_micros());
    println!("RESULT relay_direct_p50_us {}", direct_p50.as_micros());
    println!("RESULT relay_added_p50_us {}", added.as_micros());
}
