//! Measures the core alone: parse + dedup + ack of a ~1.2 KB `events_api` message envelope,
//! through the supervisor, on one core. Run with `cargo run --release -p slack-envelope --example core_throughput [N]`.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use slack_envelope::{Config, ConnId, Event, Supervisor};

fn envelope(i: u64) -> String {
    // A realistic message event, padded to about 1.2 KB like the benchmark's.
    let text = "x".repeat(420);
    format!(
        r#"{{"envelope_id":"{i:08x}-72a5-4744-aba3-4d66eb52682b","payload":{{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{{"client_msg_id":"f0582a78-72db-4feb-b2f3-1e47d66365c8","type":"message","text":"{text}","user":"U222","ts":"1610241741.000200","team":"T111","blocks":[{{"type":"rich_text","block_id":"Sesm","elements":[{{"type":"rich_text_section","elements":[{{"type":"text","text":"hello"}}]}}]}}],"channel":"C111","event_ts":"1610241741.000200","channel_type":"channel"}},"type":"event_callback","event_id":"Ev{i:010}","event_time":1610241741,"authorizations":[{{"enterprise_id":null,"team_id":"T111","user_id":"U222","is_bot":true,"is_enterprise_install":false}}],"is_ext_shared_channel":false,"event_context":"1-message-T111-C111"}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}}"#
    )
}

/// The measured loop, kept out of line so that `valgrind --tool=callgrind
/// --toggle-collect='*core_throughput::run*'` counts exactly the work per envelope (frame text
/// handed over, parsed, deduplicated, acked, ack frame taken and dropped).
#[inline(never)]
fn run(sup: &mut Supervisor, conn: ConnId, t0: Instant, frames: Vec<String>) -> u64 {
    let mut acked = 0u64;
    for (i, f) in frames.into_iter().enumerate() {
        // Fake clock: 10 µs per envelope.
        let now = t0 + Duration::from_micros(i as u64 * 10);
        sup.handle_text(now, conn, f).unwrap();
        while let Some(ev) = sup.poll_event() {
            if let Event::Request { envelope, .. } = ev {
                sup.ack(now, envelope.envelope_id()).unwrap();
            }
        }
        while sup.poll_transmit().is_some() {
            acked += 1;
        }
    }
    acked
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let frames: Vec<String> = (0..n).map(envelope).collect();
    let size = frames.first().map_or(0, String::len);
    let t0 = Instant::now();
    let mut sup = Supervisor::new(Config::default()).expect("config");
    sup.start(t0);
    let Some(Event::Connect { conn }) = sup.poll_event() else {
        panic!("no connect")
    };
    sup.handle_connected(t0, conn).unwrap();
    sup.handle_text(t0, conn, r#"{"type":"hello"}"#.to_owned())
        .unwrap();
    while sup.poll_event().is_some() {}
    let start = Instant::now();
    let acked = run(&mut sup, conn, t0, frames);
    let took = start.elapsed();
    println!(
        "core: {n} envelopes of {size} bytes, {acked} acks in {:.3}s = {:.0} envelopes/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
}
