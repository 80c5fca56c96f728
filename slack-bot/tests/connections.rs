//! Connection handling end to end: refresh under load, half-open and dropped links, fatal
//! disconnects and auth errors, several connections at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SOON, builder, message, wait_until};
use slack_bot::slack_envelope::StopReason;
use slack_bot::{Error, Reply, RunningBot};
use slack_testkit::{ConnId, FakeSlack, Fault, OpenError};

type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// A bot that counts how many times each `event_id` reaches its handler.
fn counting_bot(slack: &FakeSlack, connections: usize) -> (RunningBot, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let bot = builder(slack)
        .connections(connections)
        .on_any_event(move |ctx| {
            let event_id = ctx.event().unwrap().event_id.clone().unwrap();
            *s.lock().unwrap().entry(event_id).or_default() += 1;
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    (bot, seen)
}

fn assert_each_once(seen: &Seen, expected: usize) {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), expected, "distinct event ids handled");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
}

fn apps_connections_open_calls(slack: &FakeSlack) -> usize {
    slack
        .calls()
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .count()
}

#[test]
fn refresh_under_a_steady_stream_loses_nothing_and_duplicates_nothing() {
    let slack = FakeSlack::builder()
        .refresh_grace(Duration::from_millis(500))
        .ack_timeout(Duration::from_secs(1))
        .start()
        .unwrap();
    let (bot, seen) = counting_bot(&slack, 1);
    slack.wait_for_connections(1, SOON).unwrap();
    let first = slack.open_connections()[0];

    let mut ids = Vec::new();
    for i in 0..200 {
        if i == 60 {
            slack.disconnect(first, "refresh_requested").unwrap();
        }
        ids.push(
            slack
                .send_event(message("C1", &format!("n{i}"), &format!("4.{i}")))
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    wait_until(SOON, "every event to be handled", || {
        seen.lock().unwrap().len() >= ids.len()
    });
    // The old link was replaced (make-before-break) and closed.
    slack.wait_for_close(first, SOON).unwrap();
    let conns = slack.connections();
    assert!(conns.len() >= 2, "{conns:?}");
    assert!(slack.open_connections().iter().all(|c| *c != first));
    // The fake closed it at the end of its refresh grace; the bot notices on its next turn.
    wait_until(SOON, "the bot to hold one connection", || {
        bot.stats().connections == 1
    });
    // Zero gap: nothing had to wait for Slack's redelivery.
    let late: Vec<_> = slack
        .acks()
        .into_iter()
        .filter(|a| a.retry_attempt > 0)
        .collect();
    assert!(late.is_empty(), "redelivered during the refresh: {late:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_each_once(&seen, ids.len());
    bot.shutdown().unwrap();
}

#[test]
fn half_open_link_is_detected_and_replaced() {
    let slack = FakeSlack::start().unwrap();
    let (bot, seen) = counting_bot(&slack, 1);
    slack.wait_for_connections(1, SOON).unwrap();
    let first = slack.open_connections()[0];
    let id = slack.send_event(message("C1", "before", "5.1")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();

    let faulted = Instant::now();
    slack.fault(first, Fault::Silent).unwrap();
    // Detection takes `dead_after_silence` (1.5 s here, 8 s by default); the replacement
    // is made before the silent link is dropped.
    wait_until(SOON, "a replacement connection", || {
        slack
            .connections()
            .iter()
            .any(|c| c.id != first && c.open && c.hello_sent)
    });
    let took = faulted.elapsed();
    assert!(took < Duration::from_secs(6), "replaced after {took:?}");
    wait_until(SOON, "the silent link to be dropped", || {
        bot.stats().connections == 1 && bot.is_connected()
    });
    assert!(bot.stats().reconnects >= 1);

    // Events flow on the new link (the fake may still deliver to the silent one, where they
    // vanish and are redelivered after its ack timeout: nothing is lost either way).
    let id = slack.send_event(message("C1", "after", "5.2")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    wait_until(SOON, "both events handled", || {
        seen.lock().unwrap().len() == 2
    });
    assert_each_once(&seen, 2);
    bot.shutdown().unwrap();
}

#[test]
fn dropped_link_reconnects() {
    let slack = FakeSlack::start().unwrap();
    let (bot, seen) = counting_bot(&slack, 1);
    slack.wait_for_connections(1, SOON).unwrap();
    let first = slack.open_connections()[0];
    slack.fault(first, Fault::DropTcp).unwrap();
    wait_until(SOON, "a new connection", || {
        slack.open_connections().iter().any(|c| *c != first)
    });
    slack.wait_for_connections(1, SOON).unwrap();
    let id = slack
        .send_event(message("C1", "after the drop", "6.1"))
        .unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();
    wait_until(SOON, "the event handled", || {
        seen.lock().unwrap().len() == 1
    });
    wait_until(SOON, "connected again", || bot.is_connected());
    assert!(bot.stats().reconnects >= 1);
    assert_eq!(apps_connections_open_calls(&slack), 2);
    bot.shutdown().unwrap();
}

#[test]
fn link_disabled_stops_with_a_clear_reason() {
    let slack = FakeSlack::start().unwrap();
    let (bot, _) = counting_bot(&slack, 1);
    slack.wait_for_connections(1, SOON).unwrap();
    let events = bot.events();
    let conn = slack.open_connections()[0];
    slack.disconnect(conn, "link_disabled").unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(bot.wait());
    });
    let result = rx.recv_timeout(SOON).expect("wait() returns promptly");
    waiter.join().unwrap();
    match result {
        Err(Error::Stopped(StopReason::LinkDisabled)) => {}
        other => panic!("expected Stopped(LinkDisabled), got {other:?}"),
    }
    let stopped = events
        .try_iter()
        .any(|e| e == slack_bot::BotEvent::Stopped(StopReason::LinkDisabled));
    assert!(stopped, "a Stopped(LinkDisabled) lifecycle event");
    // No reconnect after a fatal disconnect.
    assert_eq!(apps_connections_open_calls(&slack), 1);
}

#[test]
fn link_disabled_then_shutdown_reports_it() {
    let slack = FakeSlack::start().unwrap();
    let (bot, _) = counting_bot(&slack, 1);
    slack.wait_for_connections(1, SOON).unwrap();
    let conn = slack.open_connections()[0];
    slack.disconnect(conn, "link_disabled").unwrap();
    wait_until(SOON, "the bot to stop", || {
        bot.events()
            .try_iter()
            .any(|e| matches!(e, slack_bot::BotEvent::Stopped(_)))
    });
    match bot.shutdown() {
        Err(Error::Stopped(StopReason::LinkDisabled)) => {}
        other => panic!("expected Stopped(LinkDisabled), got {other:?}"),
    }
}

#[test]
fn invalid_auth_at_start_fails_fast_without_retrying() {
    let slack = FakeSlack::start().unwrap();
    slack.fail_connections_open(5, OpenError::InvalidAuth);
    let started = Instant::now();
    let result = builder(&slack).run();
    let took = started.elapsed();
    match result {
        Err(Error::Stopped(StopReason::Fatal(msg))) => {
            assert!(msg.contains("invalid_auth"), "{msg}");
        }
        other => panic!("expected a fatal stop, got {other:?}"),
    }
    assert!(took < SOON, "took {took:?}");
    assert_eq!(apps_connections_open_calls(&slack), 1);
    assert!(slack.connections().is_empty());
}

#[test]
fn transient_open_errors_are_retried() {
    let slack = FakeSlack::start().unwrap();
    slack.fail_connections_open(1, OpenError::InternalError);
    let (bot, _) = counting_bot(&slack, 1);
    slack.wait_for_connections(1, SOON).unwrap();
    assert_eq!(apps_connections_open_calls(&slack), 2);
    bot.shutdown().unwrap();
}

#[test]
fn several_connections_at_once() {
    let slack = FakeSlack::start().unwrap();
    let (bot, seen) = counting_bot(&slack, 3);
    slack.wait_for_connections(3, SOON).unwrap();
    wait_until(SOON, "three ready connections", || {
        bot.stats().connections == 3
    });
    let ids: Vec<String> = (0..30)
        .map(|i| {
            slack
                .send_event(message("C1", &format!("m{i}"), &format!("7.{i}")))
                .unwrap()
        })
        .collect();
    for id in &ids {
        slack.wait_for_ack(id, SOON).unwrap();
    }
    wait_until(SOON, "all handled", || {
        seen.lock().unwrap().len() == ids.len()
    });
    assert_each_once(&seen, ids.len());
    // The fake delivers round robin: every connection carried some.
    let used: std::collections::HashSet<ConnId> =
        slack.acks().iter().map(|a| a.connection).collect();
    assert_eq!(used.len(), 3, "{used:?}");
    assert_eq!(slack.open_connections().len(), 3);
    bot.shutdown().unwrap();
    assert!(slack.open_connections().is_empty());
}
