//! Inputs found by fuzzing (`slack-envelope/fuzz`), kept as tests. Each one names the file
//! under `slack-envelope/fuzz/regressions/` that holds the raw fuzzer input, what it decodes
//! to, and what went wrong.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use slack_envelope::{Config, ConnectFailure, Event, Supervisor};

/// `regressions/supervisor/retry-after-beyond-an-hour`:
/// `Input { connections: 239, ops: [Failed(0, 49, 46353), Pong(175, Some([]))] }`.
///
/// A connection attempt rate limited with `Retry-After: 46353` (almost 13 hours). The fuzz
/// target's "no deadline more than an hour away" check failed; since then a `Retry-After` is
/// honoured up to `Config::max_retry_after` (5 minutes). Kept: a huge `Retry-After` is cut to
/// the cap, nothing panics, and the next attempt comes when the cap expires.
#[test]
fn a_retry_after_of_many_hours_is_capped() {
    let t0 = Instant::now();
    let mut cfg = Config::default();
    cfg = cfg.connections(10);
    let mut sup = Supervisor::new(cfg).unwrap();
    sup.start(t0);
    let mut first = Vec::new();
    while let Some(e) = sup.poll_event() {
        if let Event::Connect { conn } = e {
            first.push(conn);
        }
    }
    assert!(!first.is_empty());
    let retry_after = Duration::from_secs(46353);
    let honoured = Duration::from_secs(5 * 60);
    sup.handle_connect_failed(
        t0,
        first[0],
        ConnectFailure::RateLimited {
            retry_after,
            error: "ratelimited".into(),
        },
    );
    // A pong on a connection that does not exist is refused, not a panic.
    assert!(
        sup.handle_pong(t0, slack_envelope::ConnId(175), &[])
            .is_err()
    );
    while sup.poll_event().is_some() {}
    // Other attempts are still pending (their connect timeout comes first); once they are
    // settled, the next attempt waits for the Retry-After.
    let mut connects_before_expiry = 0;
    while let Some(t) = sup.poll_timeout() {
        if t >= t0 + honoured {
            break;
        }
        sup.handle_timeout(t);
        while let Some(e) = sup.poll_event() {
            if matches!(e, Event::Connect { .. }) {
                connects_before_expiry += 1;
            }
        }
        assert!(t < t0 + Duration::from_secs(3600), "no progress");
    }
    assert_eq!(
        connects_before_expiry, 0,
        "no attempt before the capped Retry-After is over"
    );
    let next = sup.poll_timeout().expect("an attempt is scheduled");
    assert!(
        next >= t0 + honoured,
        "the Retry-After is honoured up to the cap"
    );
    assert!(next < t0 + retry_after, "but not beyond it");
    sup.handle_timeout(next);
    let mut connects = 0;
    while let Some(e) = sup.poll_event() {
        if matches!(e, Event::Connect { .. }) {
            connects += 1;
        }
    }
    assert!(connects >= 1, "a new attempt once the Retry-After is over");
}
