//! Transport vs raw tungstenite on loopback (plain ws, so TLS cost is left out of both).
//!
//! `cargo bench -p slack-transport` prints:
//! * throughput: the server sends N text frames as fast as it can; the client counts them;
//! * round trip with one frame in flight: client sends a text frame, the server echoes it,
//!   the client waits for the echo (p50 / p99);
//! * round trip with 64 frames in flight (pipelined echo);
//! * both round trips again with the frames written by `IoThreads::writer` (on the calling
//!   thread) instead of the `sender` channel.
//!
//! The raw client is a blocking tungstenite `WebSocket<TcpStream>` on the calling thread: the
//! floor any threaded transport is measured against. Numbers vary with the machine; nothing
//! here asserts on speed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use slack_transport::{Config, Connection, Incoming, IoThreads, Outgoing, ProxyConfig};
use tungstenite::{Message, WebSocket};

const FRAMES: usize = 200_000;
const FRAME_SIZE: usize = 1_200;
const ROUND_TRIPS: usize = 20_000;
const IN_FLIGHT: usize = 64;

/// The server: the first text frame chooses the mode (`blast N SIZE` or `echo`).
fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        std::thread::spawn(move || {
            stream.set_nodelay(true).unwrap();
            let Ok(mut ws) = tungstenite::accept(stream) else {
                return;
            };
            let Ok(Message::Text(first)) = ws.read() else {
                return;
            };
            let words: Vec<&str> = first.split(' ').collect();
            if words[0] == "blast" {
                let n: usize = words[1].parse().unwrap();
                let size: usize = words[2].parse().unwrap();
                let payload = tungstenite::Utf8Bytes::from("x".repeat(size));
                for _ in 0..n {
                    if ws.write(Message::Text(payload.clone())).is_err() {
                        return;
                    }
                }
                let _ = ws.flush();
            }
            // Echo (and, after a blast, wait for the close).
            loop {
                match ws.read() {
                    Ok(Message::Text(t)) => {
                        if ws.send(Message::Text(t)).is_err() {
                            return;
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => {
                        let _ = ws.flush();
                        return;
                    }
                    Ok(_) => {}
                }
            }
        });
    }
}

fn raw_client(url: &str) -> WebSocket<TcpStream> {
    let addr = url.trim_start_matches("ws://");
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    tungstenite::client(url, tcp).unwrap().0
}

fn transport_client(url: &str) -> (Connection, IoThreads) {
    let config = Config::default()
        .allow_insecure_ws(true)
        .proxy(ProxyConfig::None);
    slack_transport::connect(url, &config).unwrap()
}

fn recv_text(conn: &Connection) -> String {
    match conn.receiver.recv_timeout(Duration::from_secs(30)).unwrap() {
        Incoming::Text(t) => t,
        other => panic!("unexpected {other:?}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Row {
    name: String,
    raw: f64,
    transport: f64,
    unit: &'static str,
    higher_is_better: bool,
}

fn throughput_raw(url: &str) -> f64 {
    let mut ws = raw_client(url);
    ws.send(Message::text(format!("blast {FRAMES} {FRAME_SIZE}")))
        .unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < FRAMES {
        if let Message::Text(t) = ws.read().unwrap() {
            assert_eq!(t.len(), FRAME_SIZE);
            n += 1;
        }
    }
    let rate = FRAMES as f64 / start.elapsed().as_secs_f64();
    let _ = ws.close(None);
    rate
}

fn throughput_transport(url: &str) -> f64 {
    let (conn, threads) = transport_client(url);
    conn.sender
        .send(Outgoing::Text(format!("blast {FRAMES} {FRAME_SIZE}")))
        .unwrap();
    let start = Instant::now();
    for _ in 0..FRAMES {
        assert_eq!(recv_text(&conn).len(), FRAME_SIZE);
    }
    let rate = FRAMES as f64 / start.elapsed().as_secs_f64();
    drop(conn);
    threads.join().unwrap();
    rate
}

fn rtt_raw(url: &str, in_flight: usize) -> Vec<Duration> {
    let mut ws = raw_client(url);
    ws.send(Message::text("echo")).unwrap();
    let frame = "y".repeat(64);
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS / in_flight {
        let start = Instant::now();
        for _ in 0..in_flight {
            ws.write(Message::text(frame.clone())).unwrap();
        }
        ws.flush().unwrap();
        for _ in 0..in_flight {
            while !matches!(ws.read().unwrap(), Message::Text(_)) {}
        }
        samples.push(start.elapsed());
    }
    let _ = ws.close(None);
    samples
}

fn rtt_transport(url: &str, in_flight: usize) -> Vec<Duration> {
    rtt_transport_with(url, in_flight, false)
}

/// The same, writing with `IoThreads::writer` (on this thread, no writer-thread wake-up).
fn rtt_transport_direct(url: &str, in_flight: usize) -> Vec<Duration> {
    rtt_transport_with(url, in_flight, true)
}

fn rtt_transport_with(url: &str, in_flight: usize, direct: bool) -> Vec<Duration> {
    let (conn, threads) = transport_client(url);
    let writer = threads.writer();
    conn.sender.send(Outgoing::Text("echo".into())).unwrap();
    let frame = "y".repeat(64);
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS / in_flight {
        let start = Instant::now();
        if direct {
            writer
                .send_all(vec![Outgoing::Text(frame.clone()); in_flight])
                .unwrap();
        } else {
            for _ in 0..in_flight {
                conn.sender.send(Outgoing::Text(frame.clone())).unwrap();
            }
        }
        for _ in 0..in_flight {
            recv_text(&conn);
        }
        samples.push(start.elapsed());
    }
    drop(conn);
    threads.join().unwrap();
    samples
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || serve(listener));

    // `transport ONE` runs one measurement alone (for strace/perf): tp-raw, tp-transport,
    // rtt-raw, rtt-transport, rtt64-raw, rtt64-transport. Flags from `cargo bench` are ignored.
    if let Some(one) = std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        let (what, secs) = match one.as_str() {
            "tp-raw" => ("frames/s", throughput_raw(&url)),
            "tp-transport" => ("frames/s", throughput_transport(&url)),
            "rtt-raw" | "rtt-transport" | "rtt-direct" | "rtt64-raw" | "rtt64-transport"
            | "rtt64-direct" => {
                let in_flight = if one.starts_with("rtt64") {
                    IN_FLIGHT
                } else {
                    1
                };
                let mut v = if one.ends_with("raw") {
                    rtt_raw(&url, in_flight)
                } else if one.ends_with("direct") {
                    rtt_transport_direct(&url, in_flight)
                } else {
                    rtt_transport(&url, in_flight)
                };
                v.sort();
                ("p50 µs", percentile(&v, 0.5).as_secs_f64() * 1e6)
            }
            other => panic!("unknown measurement {other}"),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{one}: {secs:.1} {what}").unwrap();
        return;
    }

    let mut rows = Vec::new();
    // Warm up both paths once.
    let _ = rtt_raw(&url, 1);
    let _ = rtt_transport(&url, 1);

    rows.push(Row {
        name: "throughput, 1.2 KB text frames".to_owned(),
        raw: throughput_raw(&url),
        transport: throughput_transport(&url),
        unit: "frames/s",
        higher_is_better: true,
    });
    for in_flight in [1, IN_FLIGHT] {
        let mut raw = rtt_raw(&url, in_flight);
        let mut tr = rtt_transport(&url, in_flight);
        let mut direct = rtt_transport_direct(&url, in_flight);
        raw.sort();
        tr.sort();
        direct.sort();
        for (how, samples) in [("sender", &tr), ("DirectWriter", &direct)] {
            for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
                rows.push(Row {
                    name: format!("round trip, {in_flight} in flight, {how}, {label}"),
                    raw: percentile(&raw, p).as_secs_f64() * 1e6,
                    transport: percentile(samples, p).as_secs_f64() * 1e6,
                    unit: "µs",
                    higher_is_better: false,
                });
            }
        }
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "slack-transport vs raw tungstenite, loopback ws, {} cores",
        std::thread::available_parallelism().map_or(1, usize::from)
    )
    .unwrap();
    writeln!(
        out,
        "| measurement | raw tungstenite | slack-transport | transport / raw |"
    )
    .unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    for r in rows {
        let ratio = r.transport / r.raw;
        let better = if r.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        writeln!(
            out,
            "| {} ({}, {better}) | {:.0} | {:.0} | {:.2} |",
            r.name, r.unit, r.raw, r.transport, ratio
        )
        .unwrap();
    }
}
