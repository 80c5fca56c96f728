//! `apps.connections.open` is never called more often than the core's pacing allows, whatever
//! the fault pattern: for about 10 s every connection attempt fails fast (or every link is
//! taken away at once), and the calls the fake answered must stay within the token bucket of
//! `slack_envelope::Config` (its burst, then one per interval), read from the core's defaults,
//! which the bot uses.
//!
//! The bound is exact, not a timing claim: every call is answered after the bot took a token
//! and before the count is taken, and the bot took no token before it started, so
//! `calls <= burst + (count time - start) / interval` holds on any machine, however slow.
//!
//! What this does not show: that the core's token bucket is what keeps the bot within the
//! bound. End to end, other rules slow these patterns down as much (the backoff after a link
//! that failed or dropped young; at most 10 links, old ones draining for a second after a
//! refresh), and these tests also pass with the bucket taken out (checked 2026-12-05: 6 calls
//! per pattern, 16 for the refresh storm, against 18 allowed). The bucket itself is shown by
//! `slack-envelope`'s scenario `apps_connections_open_is_never_called_faster_than_its_rate_limit`
//! (links ready at once, so nothing but the bucket paces them), which fails without it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::builder;
use slack_bot::{BotBuilder, Reply};
use slack_testkit::{Event, FakeSlack, Fault, OpenError};

/// How long each fault pattern lasts.
const WINDOW: Duration = Duration::from_secs(10);

/// The most calls the core's token bucket allows within `elapsed` of its first use.
fn allowed(elapsed: Duration) -> usize {
    let cfg = slack_bot::slack_envelope::Config::default();
    let burst = cfg.get_connect_burst();
    let interval = cfg.get_connect_interval();
    assert!(
        burst > 0 && !interval.is_zero(),
        "the defaults pace connection attempts"
    );
    let earned = elapsed.as_nanos() / interval.as_nanos();
    burst as usize + usize::try_from(earned).unwrap()
}

/// Runs a bot from `bot` against `slack` for `WINDOW` while `during` keeps the fault going
/// (called every 5 ms); asserts the pace and returns how many calls were made.
fn paced(slack: &FakeSlack, bot: BotBuilder, mut during: impl FnMut(&FakeSlack)) -> usize {
    let start = Instant::now();
    let bot = bot.on_event("message", |_| Ok(Reply::Ack)).start().unwrap();
    while start.elapsed() < WINDOW {
        during(slack);
        std::thread::sleep(Duration::from_millis(5));
    }
    let counted_at = Instant::now();
    let calls = slack
        .calls()
        .iter()
        .filter(|c| c.method == "apps.connections.open" && c.at <= counted_at)
        .count();
    let limit = allowed(counted_at.duration_since(start));
    bot.shutdown().unwrap();
    assert!(
        calls <= limit,
        "{calls} calls of apps.connections.open in {:.1}s; the pace allows {limit}",
        counted_at.duration_since(start).as_secs_f64()
    );
    // The pattern did hit the bot: it kept trying.
    assert!(
        calls >= 2,
        "only {calls} call(s): the fault pattern did not run"
    );
    calls
}

#[test]
fn open_answering_5xx_is_paced() {
    let slack = FakeSlack::start().unwrap();
    slack.fail_connections_open(100_000, OpenError::ServiceUnavailable);
    paced(&slack, builder(&slack), |_| {});
}

#[test]
fn sockets_closed_at_once_are_paced() {
    // apps.connections.open works, but every socket URL leads to a port that accepts and
    // closes the TCP connection at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        })
    };
    let slack = FakeSlack::start().unwrap();
    slack.serve_socket_urls(&format!("ws://{addr}/link/?ticket=closes-at-once"), 100_000);
    paced(&slack, builder(&slack), |_| {});
    stop.store(true, Ordering::Relaxed);
    let _ = std::net::TcpStream::connect(addr);
    acceptor.join().unwrap();
}

#[test]
fn links_dropped_right_after_hello_are_paced() {
    // Every link works (hello) and is dropped at once: the path of "a working link dropped,
    // reconnect at once".
    let slack = FakeSlack::start().unwrap();
    let events = slack.subscribe();
    paced(&slack, builder(&slack), |slack| {
        while let Ok(ev) = events.try_recv() {
            if let Event::HelloSent { id } = ev {
                let _ = slack.fault(id, Fault::DropTcp);
            }
        }
    });
}

#[test]
fn refresh_after_every_hello_is_paced() {
    // Slack asks every link to refresh right after `hello`: a planned replacement, no failure,
    // so no backoff. Only the pace stands between this and a storm of calls.
    // The fake takes any number of links, so that `too_many_websockets` and its wait do not
    // slow the storm down.
    let slack = FakeSlack::builder()
        .max_connections(1000)
        .debug_reconnect_after(Duration::from_millis(1))
        .refresh_grace(Duration::from_millis(200))
        .start()
        .unwrap();
    paced(&slack, builder(&slack).debug_reconnects(true), |_| {});
}
