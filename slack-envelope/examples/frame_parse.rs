//! Times `Frame::parse` of the ~1.2 KB `events_api` envelope of `core_throughput` (the best of
//! several rounds, in ns per parse). Run with `cargo run --release -p slack-envelope --example frame_parse [N]`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use slack_envelope::Frame;

fn envelope(i: u64) -> String {
    let text = "x".repeat(420);
    format!(
        r#"{{"envelope_id":"{i:08x}-72a5-4744-aba3-4d66eb52682b","payload":{{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{{"client_msg_id":"f0582a78-72db-4feb-b2f3-1e47d66365c8","type":"message","text":"{text}","user":"U222","ts":"1610241741.000200","team":"T111","blocks":[{{"type":"rich_text","block_id":"Sesm","elements":[{{"type":"rich_text_section","elements":[{{"type":"text","text":"hello"}}]}}]}}],"channel":"C111","event_ts":"1610241741.000200","channel_type":"channel"}},"type":"event_callback","event_id":"Ev{i:010}","event_time":1610241741,"authorizations":[{{"enterprise_id":null,"team_id":"T111","user_id":"U222","is_bot":true,"is_enterprise_install":false}}],"is_ext_shared_channel":false,"event_context":"1-message-T111-C111"}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}}"#
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let frames: Vec<String> = (0..1000).map(envelope).collect();
    let mut best = f64::MAX;
    for _round in 0..7 {
        // The frames are cloned outside the timed part (parse takes the String).
        let batch: Vec<String> = frames.iter().cycle().take(n).cloned().collect();
        let start = Instant::now();
        for f in batch {
            black_box(Frame::parse(black_box(f)).unwrap());
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        best = best.min(ns);
    }
    println!(
        "Frame::parse of {} bytes: {best:.0} ns (best of 7 rounds of {n})",
        frames.first().map_or(0, String::len)
    );
}
