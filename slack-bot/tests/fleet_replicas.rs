//! End to end: replicas of the `slack-bot` binary as separate processes, sharing one Redis
//! (`--redis-url`), against one fake Slack. Each message gets the reference bot's `eyes`
//! reaction, so the fake's `reactions.add` calls tell how many times each event was handled.
#![cfg(feature = "fleet")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod fleet_support;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use fleet_support::{RedisServer, Replica, eventually};
use serde_json::json;
use slack_testkit::FakeSlack;

const LONG: Duration = Duration::from_secs(60);

fn replica(slack: &FakeSlack, redis: &RedisServer, id: &str, conns: usize) -> Replica {
    Replica::start(
        &slack.api_url(),
        &slack.app_token(),
        &slack.bot_token(),
        &redis.url(),
        id,
        conns,
        &[
            ("SLACK_FLEET_RECLAIM_MS", "2000"),
            ("SLACK_FLEET_LEASE_MS", "2000"),
            ("SLACK_FLEET_HEARTBEAT_MS", "300"),
        ],
    )
}

fn message(i: usize) -> serde_json::Value {
    json!({"type": "message", "channel": "C1", "user": "U1", "text": format!("m{i}"), "ts": format!("{}.000100", 1000 + i)})
}

/// How many times each message (by its ts) got its reaction.
fn reactions(slack: &FakeSlack) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for c in slack.calls() {
        if c.method == "reactions.add" {
            if let Some(ts) = c.arg("timestamp") {
                *m.entry(ts.to_owned()).or_default() += 1;
            }
        }
    }
    m
}

fn ts(i: usize) -> String {
    format!("{}.000100", 1000 + i)
}

fn alive(r: &mut Replica) -> bool {
    matches!(r.child.try_wait(), Ok(None))
}

#[test]
fn three_replicas_handle_a_steady_stream_exactly_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| replica(&slack, &redis, &format!("r{i}"), 2))
        .collect();
    slack.wait_for_connections(6, LONG).unwrap();
    // Few enough that the Web API client's own per-method limit (reactions.add, Tier 3)
    // does not refuse any.
    let n = 60;
    for i in 0..n {
        slack.send_event(message(i)).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    eventually(LONG, "every message handled", || {
        reactions(&slack).len() == n
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = reactions(&slack);
    let twice: Vec<_> = r.iter().filter(|&(_, &c)| c > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    for i in 0..n {
        assert_eq!(r.get(&ts(i)), Some(&1), "message {i}");
    }
    // Every replica took part (deliveries are round robin over their six connections).
    let status = Command::new(env!("CARGO_BIN_EXE_slack-bot"))
        .env_clear()
        .args(["fleet", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains("3 live replica(s), 6 of 10 connections leased"),
        "{text}"
    );
    for r in &mut replicas {
        assert!(alive(r), "replica {} died", r.id);
        assert!(text.contains(&format!("{}: 2 connected", r.id)), "{text}");
    }
    for r in &mut replicas {
        r.terminate();
    }
}

#[test]
fn a_replica_killed_mid_stream_loses_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| replica(&slack, &redis, &format!("k{i}"), 1))
        .collect();
    slack.wait_for_connections(3, LONG).unwrap();
    // Handlers take 400 ms (their `reactions.add` is answered late), so the replica killed
    // has accepted events running and waiting when it dies.
    slack.delay_method("reactions.add", Duration::from_millis(400));
    let n = 60;
    for i in 0..n {
        if i == n / 2 {
            replicas[1].kill();
        }
        slack.send_event(message(i)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    // At least once: the dead replica's accepted events are taken over from the stream after
    // their idle time, and its un-acked ones come back on another connection.
    eventually(LONG, "every message handled", || {
        reactions(&slack).len() == n
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = reactions(&slack);
    let twice = r.values().filter(|&&c| c > 1).count();
    // Twice only for those whose handler had started on the dead replica: at most its
    // workers (10) at the moment it died.
    assert!(twice <= 10, "{twice} handled twice: {r:?}");
    eprintln!("handled twice: {twice}");
    // The dead replica's accepted events came from the stream, not from Slack.
    assert!(
        [0, 2]
            .iter()
            .any(|&i| replicas[i].log().contains("took over")),
        "no survivor took over the dead replica's accepted events:\n{}\n{}",
        replicas[0].log(),
        replicas[2].log()
    );
    for i in [0, 2] {
        assert!(alive(&mut replicas[i]));
    }
    for i in [0, 2] {
        replicas[i].terminate();
    }
}

#[test]
fn redis_stopped_and_restarted_mid_stream_stops_no_replica() {
    let Some(mut redis) = RedisServer::start_with(true) else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let mut replicas: Vec<Replica> = (0..2)
        .map(|i| replica(&slack, &redis, &format!("o{i}"), 1))
        .collect();
    slack.wait_for_connections(2, LONG).unwrap();
    let n = 60;
    let mut acked_during_outage = 0;
    for i in 0..n {
        if i == 20 {
            redis.stop();
        }
        if i == 40 {
            redis.restart();
            // Let the replicas' links come back (their backoff is at most 5 s).
            std::thread::sleep(Duration::from_secs(6));
        }
        let id = slack.send_event(message(i)).unwrap();
        if (20..40).contains(&i) {
            // While Redis is down the bot keeps acking promptly, on local state.
            slack.wait_for_ack(&id, Duration::from_secs(10)).unwrap();
            acked_during_outage += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(acked_during_outage, 20);
    eventually(LONG, "every message handled", || {
        reactions(&slack).len() == n
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = reactions(&slack);
    for i in 40..n {
        assert_eq!(
            r.get(&ts(i)),
            Some(&1),
            "after the restart, exactly once: {i}"
        );
    }
    // The outage is in the replicas' counters: envelopes handled on local state.
    let mut fallbacks = 0;
    eventually(LONG, "the outage in the heartbeats", || {
        let out = Command::new(env!("CARGO_BIN_EXE_slack-bot"))
            .env_clear()
            .args(["fleet", "--redis-url", &redis.url()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        fallbacks = text
            .split("local fallbacks ")
            .skip(1)
            .filter_map(|t| t.split(',').next()?.trim().parse::<u64>().ok())
            .sum();
        text.contains("2 live replica(s)") && fallbacks > 0
    });
    eprintln!("local fallbacks during the outage: {fallbacks}");
    for rep in &mut replicas {
        assert!(alive(rep), "replica {} stopped", rep.id);
        let log = rep.log();
        assert_eq!(
            log.matches("redis unavailable").count(),
            1,
            "one warning per outage: {log}"
        );
        assert!(log.contains("redis is reachable again"), "{log}");
    }
    for rep in &mut replicas {
        rep.terminate();
    }
}

#[test]
fn the_fleet_holds_ten_connections_and_a_dead_replicas_share_moves() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let mut replicas = Vec::new();
    for (i, expect) in [3, 6, 9, 10].into_iter().enumerate() {
        replicas.push(replica(&slack, &redis, &format!("c{i}"), 3));
        slack.wait_for_connections(expect, LONG).unwrap();
    }
    // A fifth replica is a standby, and says so.
    replicas.push(replica(&slack, &redis, "c4", 3));
    eventually(LONG, "the standby says so", || {
        replicas[4].log().contains("standby")
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(slack.open_connections().len(), 10);
    // c0 dies; its three connections lapse with its lease and go to the standby (and to c3,
    // which got one of the three it asked for: whichever asks first).
    replicas[0].kill();
    eventually(LONG, "the standby took a share", || {
        replicas[4].log().contains("no longer a standby: holding")
    });
    eventually(LONG, "ten connections again", || {
        slack.open_connections().len() == 10
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(slack.open_connections().len() <= 10);
    // c1 dies too: c3 and c4 take what they lacked, up to the three each asked for (3 + 3 + 3
    // held by c2, c3, c4).
    replicas[1].kill();
    eventually(LONG, "nine connections", || {
        slack.open_connections().len() == 9
    });
    for r in &mut replicas[2..] {
        assert!(alive(r));
        r.terminate();
    }
}

#[test]
fn two_replicas_posting_to_one_channel_stay_within_burst_5_then_1_per_second() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let mut replicas: Vec<Replica> = (0..2)
        .map(|i| replica(&slack, &redis, &format!("p{i}"), 1))
        .collect();
    slack.wait_for_connections(2, LONG).unwrap();
    // Each mention gets "Hello! How can I help?" in the channel; twelve mentions, delivered
    // round robin over both replicas, all at once.
    let n = 12;
    for i in 0..n {
        slack
            .send_event(json!({"type": "app_mention", "channel": "C1", "user": "U1", "text": format!("<@UBOT> hi {i}"), "ts": format!("{}.5", 2000 + i)}))
            .unwrap();
    }
    // When each post reached the fake (polled every few ms).
    let start = std::time::Instant::now();
    let mut times: Vec<f64> = Vec::new();
    while times.len() < n && start.elapsed() < LONG {
        let posts = slack
            .calls()
            .iter()
            .filter(|c| c.method == "chat.postMessage")
            .count();
        while times.len() < posts {
            times.push(start.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(times.len(), n, "every mention answered");
    // Burst 5, then 1/s, fleet-wide: any k consecutive posts span at least k - 5 seconds
    // (less a margin for the polling and the scheduler).
    for i in 0..n {
        for j in i + 5..n {
            let span = times[j] - times[i];
            let allowed = (j - i + 1 - 5) as f64;
            assert!(
                span >= allowed - 0.3,
                "posts {i}..={j} within {span:.2}s (at least {allowed}s): {times:?}"
            );
        }
    }
    for r in &mut replicas {
        assert!(alive(r));
        r.terminate();
    }
}
