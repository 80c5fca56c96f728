//! Edge cases of the lifecycle: stopping at awkward moments, peers that misbehave, handlers
//! that fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::time::{Duration, Instant};

use common::{SOON, builder, message, wait_until};
use serde_json::json;
use slack_bot::{Bot, Reply};
use slack_testkit::{FakeSlack, Fault, OpenError};

/// Runs `f` on a thread and fails the test if it takes longer than `bound`.
fn bounded<T: Send + 'static>(bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let v = rx.recv_timeout(bound).expect("finished in time");
    h.join().unwrap();
    v
}

#[test]
fn shutdown_right_after_start() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack).start().unwrap();
    let report = bounded(SOON, move || bot.shutdown()).unwrap();
    assert!(report.unsent.is_empty());
}

#[test]
fn shutdown_while_slack_is_unreachable() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bot = Bot::builder(
        slack_testkit::DEFAULT_APP_TOKEN,
        slack_testkit::DEFAULT_BOT_TOKEN,
    )
    .unwrap()
    .api_url(format!("http://127.0.0.1:{port}/api/"))
    .allow_insecure(true)
    .no_proxy()
    .session(common::fast_session())
    .shutdown_timeout(Duration::from_secs(2))
    .start()
    .unwrap();
    let events = bot.events();
    // Wait for at least one failed attempt, then stop during the backoff.
    let deadline = Instant::now() + SOON;
    loop {
        assert!(Instant::now() < deadline, "no reconnect was scheduled");
        if let Ok(slack_bot::BotEvent::Lifecycle(
            slack_bot::slack_envelope::Lifecycle::Reconnecting { .. },
        )) = events.recv_timeout(Duration::from_millis(100))
        {
            break;
        }
    }
    assert!(!bot.is_connected());
    bounded(SOON, move || bot.shutdown()).unwrap();
}

#[test]
fn stopper_stops_from_another_thread_and_drop_joins() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let stopper = bot.stopper();
    std::thread::spawn(move || stopper.stop()).join().unwrap();
    bounded(SOON, move || bot.wait()).unwrap();
    wait_until(SOON, "the socket to close", || {
        slack.open_connections().is_empty()
    });

    // Dropping a running bot shuts it down too.
    let bot = builder(&slack).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    bounded(SOON, move || drop(bot));
    wait_until(SOON, "the socket to close", || {
        slack.open_connections().is_empty()
    });
}

#[test]
fn failing_and_panicking_handlers_still_ack() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_event("message", |_| Err("boom".into()))
        .on_event("app_mention", |_| {
            panic!("handler panic (expected by the test)")
        })
        .on_command("/fails", |_| Err("nope".into()))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let a = slack.send_event(message("C1", "x", "11.1")).unwrap();
    let b = slack
        .send_event(json!({"type": "app_mention", "channel": "C1", "text": "hi", "ts": "11.2"}))
        .unwrap();
    let c = slack.send_slash_command("/fails", "").unwrap();
    for id in [&a, &b, &c] {
        let ack = slack.wait_for_ack(id, SOON).unwrap();
        assert_eq!(ack.retry_attempt, 0);
        assert_eq!(ack.payload, None);
    }
    wait_until(SOON, "the errors to be counted", || {
        bot.stats().handler_errors == 3
    });
    // The bot is still fine.
    let d = slack.send_event(message("C1", "y", "11.3")).unwrap();
    slack.wait_for_ack(&d, SOON).unwrap();
    bot.shutdown().unwrap();
}

#[test]
fn oversized_ack_payload_falls_back_to_a_plain_ack() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_command("/big", |_| {
            Ok(Reply::Payload(json!({"text": "x".repeat(64 * 1024)})))
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack.send_slash_command("/big", "").unwrap();
    let ack = slack.wait_for_ack(&id, SOON).unwrap();
    assert_eq!(ack.retry_attempt, 0);
    assert_eq!(ack.payload, None);
    bot.shutdown().unwrap();
}

#[test]
fn close_without_tcp_close_is_bounded_and_reconnects() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let first = slack.open_connections()[0];
    slack.fault(first, Fault::CloseKeepTcp).unwrap();
    wait_until(SOON, "a new connection", || {
        slack
            .connections()
            .iter()
            .any(|c| c.id != first && c.open && c.hello_sent)
    });
    wait_until(SOON, "connected again", || bot.is_connected());
    let id = slack.send_event(message("C1", "x", "12.1")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    bot.shutdown().unwrap();
}

#[test]
fn withheld_pongs_cost_nothing() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack).start().unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let first = slack.open_connections()[0];
    slack.fault(first, Fault::WithholdPongs).unwrap();
    // The link goes quiet, is suspected and replaced make-before-break.
    wait_until(SOON, "a replacement", || {
        slack
            .connections()
            .iter()
            .any(|c| c.id != first && c.open && c.hello_sent)
    });
    // Envelopes keep being acked throughout.
    for i in 0..20 {
        let id = slack
            .send_event(message("C1", "x", &format!("13.{i}")))
            .unwrap();
        let ack = slack.wait_for_ack(&id, SOON).unwrap();
        assert_eq!(ack.retry_attempt, 0);
        std::thread::sleep(Duration::from_millis(20));
    }
    bot.shutdown().unwrap();
}

#[test]
fn warning_then_refresh_and_events_queued_while_disconnected() {
    let slack = FakeSlack::builder()
        .refresh_grace(Duration::from_millis(200))
        .start()
        .unwrap();
    slack.fail_connections_open(
        1,
        OpenError::Ratelimited {
            retry_after_secs: 1,
        },
    );
    let bot = builder(&slack).start().unwrap();
    // Sent before any connection is ready: the fake queues it.
    let early = slack.send_event(message("C1", "early", "14.1")).unwrap();
    slack.wait_for_ack(&early, SOON).unwrap();
    let calls = slack.calls();
    let opens: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .collect();
    assert_eq!(opens.len(), 2);
    let gap = opens[1].at.saturating_duration_since(opens[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After respected: {gap:?}"
    );

    let first = slack.open_connections()[0];
    slack.disconnect(first, "warning").unwrap();
    slack.disconnect(first, "refresh_requested").unwrap();
    slack.wait_for_close(first, SOON).unwrap();
    let id = slack.send_event(message("C1", "late", "14.2")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    bot.shutdown().unwrap();
}

/// `debug_reconnects(true)` puts `debug_reconnects=true` in the socket URL; Slack (and the fake)
/// then sends `refresh_requested` after a while. Each refresh is followed with no event lost,
/// none redelivered and none handled twice.
#[test]
fn debug_reconnects_refreshes_are_followed_without_losing_events() {
    let slack = FakeSlack::builder()
        .debug_reconnect_after(Duration::from_millis(400))
        .refresh_grace(Duration::from_millis(300))
        .start()
        .unwrap();
    let handled = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = handled.clone();
    let bot = builder(&slack)
        .debug_reconnects(true)
        .on_event("message", move |ctx| {
            h.lock()
                .unwrap()
                .push(ctx.event().unwrap().event_id.clone().unwrap());
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let mut ids = Vec::new();
    let started = Instant::now();
    // Events keep coming while the links are refreshed, until three links have been opened.
    while slack.connections().len() < 3 {
        assert!(started.elapsed() < SOON, "no refresh within {SOON:?}");
        ids.push(
            slack
                .send_event(message("C1", "x", &format!("14.{}", ids.len())))
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for id in &ids {
        let ack = slack.wait_for_ack(id, SOON).unwrap();
        assert_eq!(ack.retry_attempt, 0, "envelope {id} was redelivered");
    }
    let conns = slack.connections();
    assert!(
        conns
            .iter()
            .all(|c| c.target.contains("debug_reconnects=true")),
        "{conns:?}"
    );
    assert!(
        conns
            .iter()
            .filter(|c| c.disconnect_sent.as_deref() == Some("refresh_requested"))
            .count()
            >= 2,
        "{conns:?}"
    );
    wait_until(SOON, "every event to be handled", || {
        handled.lock().unwrap().len() >= ids.len()
    });
    bot.shutdown().unwrap();
    let mut handled = handled.lock().unwrap().clone();
    assert_eq!(handled.len(), ids.len(), "handled twice: {handled:?}");
    handled.sort();
    handled.dedup();
    assert_eq!(handled.len(), ids.len());
}
