//! What one `DedupWindow::insert` of a new event id costs when the window is full at a small
//! capacity and at the default 100 000 (a table of several MB: cache misses). Run with
//! `cargo run --release -p slack-envelope --example dedup_capacity [INSERTS]` (500 000 measured
//! inserts per capacity by default).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use slack_envelope::DedupWindow;

fn run(capacity: usize, inserts: usize) -> f64 {
    let t0 = Instant::now();
    let mut d = DedupWindow::new(Duration::from_secs(600), capacity);
    let ids: Vec<String> = (0..capacity + inserts)
        .map(|i| format!("Ev{i:010}"))
        .collect();
    let (fill, measured) = ids.split_at(capacity);
    for id in fill {
        d.insert(t0, id);
    }
    let mut best = f64::MAX;
    for chunk in measured.chunks(inserts / 5) {
        let start = Instant::now();
        for id in chunk {
            black_box(d.insert(t0, black_box(id)));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / chunk.len() as f64);
    }
    best
}

fn main() {
    let inserts: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000)
        .max(5);
    for capacity in [1_000, 10_000, 100_000] {
        let ns = run(capacity, inserts);
        println!("capacity {capacity:>7}: {ns:.0} ns per insert (full window, evicting)");
    }
}
