//! The fleet's shared state against a real `redis-server` (its own, on a free port): claims
//! across bots, connection leases, shared pacing and pauses, and bounded calls when Redis hangs.
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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleet_support::{RedisServer, eventually};
use serde_json::json;
use slack_bot::fleet::{Fleet, FleetConfig};
use slack_bot::{Bot, Reply, RunningBot};
use slack_testkit::FakeSlack;

type Seen = Arc<Mutex<HashMap<String, Vec<usize>>>>;

fn bot(slack: &FakeSlack, redis: &RedisServer, n: usize, seen: &Seen) -> RunningBot {
    replica(
        slack,
        FleetConfig::new(redis.url()).key_prefix("claims"),
        n,
        seen,
    )
}

/// Replica `n` (`bot-N`) of the fleet `cfg` describes, noting in `seen` each event it handles.
fn replica(slack: &FakeSlack, cfg: FleetConfig, n: usize, seen: &Seen) -> RunningBot {
    let seen = seen.clone();
    Bot::builder(&slack.app_token(), &slack.bot_token())
        .unwrap()
        .api_url(slack.api_url())
        .allow_insecure(true)
        .redis(cfg.replica_id(format!("bot-{n}")))
        .on_any_event(move |ctx| {
            let key = ctx.envelope().dedup_key().to_owned();
            seen.lock().unwrap().entry(key).or_default().push(n);
            Ok(Reply::Ack)
        })
        .start()
        .unwrap()
}

/// Sends `n` messages (texts `m{from}`…) and waits for each one's ack.
fn send_acked(slack: &FakeSlack, from: usize, n: usize) {
    for i in from..from + n {
        let id = slack
            .send_event(json!({"type": "message", "channel": "C1", "text": format!("m{i}"), "ts": format!("{i}.0")}))
            .unwrap();
        slack.wait_for_ack(&id, Duration::from_secs(20)).unwrap();
    }
}

/// `CONFIG SET name value` on the test's server.
fn config_set(redis: &RedisServer, name: &str, value: &str) {
    let ok: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(&mut redis.conn())
        .unwrap();
    assert_eq!(ok, "OK");
}

#[test]
fn two_bots_handle_each_event_once_and_ack_redeliveries_on_either() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let seen: Seen = Arc::default();
    let a = bot(&slack, &redis, 0, &seen);
    let b = bot(&slack, &redis, 1, &seen);
    slack
        .wait_for_connections(2, Duration::from_secs(20))
        .unwrap();

    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            slack
                .send_event(json!({"type": "message", "channel": "C1", "text": format!("m{i}"), "ts": format!("{i}.0")}))
                .unwrap(),
        );
    }
    // The same event delivered again (a new envelope, the same event_id), as a retry would be,
    // round robin over both bots' connections.
    let payload =
        slack.event_callback(json!({"type": "message", "channel": "C1", "text": "again"}));
    let mut dup_ids = Vec::new();
    for attempt in 0..4 {
        dup_ids.push(
            slack
                .send_envelope(
                    json!({"type": "events_api", "payload": payload, "retry_attempt": attempt}),
                )
                .unwrap(),
        );
    }
    for id in ids.iter().chain(&dup_ids) {
        slack.wait_for_ack(id, Duration::from_secs(20)).unwrap();
    }
    eventually(
        Duration::from_secs(20),
        "41 distinct events handled",
        || seen.lock().unwrap().len() == 41,
    );
    std::thread::sleep(Duration::from_millis(300));
    let seen = seen.lock().unwrap().clone();
    for (key, by) in &seen {
        assert_eq!(by.len(), 1, "{key} handled by {by:?}");
    }
    let (sa, sb) = (a.fleet().unwrap().stats(), b.fleet().unwrap().stats());
    assert_eq!(sa.claimed + sb.claimed, 41, "{sa:?} {sb:?}");
    assert_eq!(sa.stream_handled + sb.stream_handled, 41, "{sa:?} {sb:?}");
    // Three of the four deliveries of the repeated event were duplicates, whichever bot (or
    // the core's own window) saw them.
    let core_dups = a.stats().duplicates + b.stats().duplicates;
    assert_eq!(
        sa.duplicates + sb.duplicates + core_dups,
        3,
        "{sa:?} {sb:?}"
    );
    assert_eq!(sa.local_fallbacks + sb.local_fallbacks, 0);
    // Everything acknowledged in the stream, nothing left pending.
    let pending: redis::Value = redis::cmd("XPENDING")
        .arg("claims:events")
        .arg("workers")
        .query(&mut redis.conn())
        .unwrap();
    let redis::Value::Array(v) = pending else {
        panic!("{pending:?}")
    };
    assert_eq!(v[0], redis::Value::Int(0));
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}

/// Redis forgets its scripts on `SCRIPT FLUSH`, a restart or a failover to a replica that never
/// ran them: the claim is then answered `NOSCRIPT`, and the claimer loads the script and sends
/// the batch again on the same call, so nothing falls back to local claims and no outage is
/// counted.
#[test]
fn a_script_flushed_from_redis_is_loaded_again_within_the_call() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let seen: Seen = Arc::default();
    let a = bot(&slack, &redis, 0, &seen);
    slack
        .wait_for_connections(1, Duration::from_secs(20))
        .unwrap();
    let send = |from: usize| send_acked(&slack, from, 10);
    send(0);
    let flushed: String = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut redis.conn())
        .unwrap();
    assert_eq!(flushed, "OK");
    send(10);
    eventually(Duration::from_secs(20), "20 events handled", || {
        seen.lock().unwrap().len() == 20
    });
    let stats = a.fleet().unwrap().stats();
    assert_eq!(stats.claimed, 20, "{stats:?}");
    assert_eq!(stats.local_fallbacks, 0, "{stats:?}");
    assert_eq!(stats.outages, 0, "{stats:?}");
    assert_eq!(stats.failed_calls, 0, "{stats:?}");
    eventually(Duration::from_secs(20), "all 20 through the stream", || {
        a.fleet().unwrap().stats().stream_handled == 20
    });
    a.shutdown().unwrap();
}

#[test]
fn a_claim_lasts_one_to_two_claim_periods() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let seen: Seen = Arc::default();
    // One replica at a time on the fake, so each delivery reaches the one named; a new
    // replica each time, so its own duplicate window knows nothing yet.
    let replica = |n: usize| {
        let cfg = FleetConfig::new(redis.url())
            .key_prefix("periods")
            .claim_ttl(Duration::from_secs(2));
        let bot = replica(&slack, cfg, n, &seen);
        slack
            .wait_for_connections(1, Duration::from_secs(20))
            .unwrap();
        bot
    };
    let payload = slack.event_callback(json!({"type": "message", "channel": "C1", "text": "x"}));
    let event_id = payload["event_id"].as_str().unwrap().to_owned();
    let deliver = |attempt: u32| {
        let id = slack
            .send_envelope(
                json!({"type": "events_api", "payload": payload, "retry_attempt": attempt}),
            )
            .unwrap();
        slack.wait_for_ack(&id, Duration::from_secs(20)).unwrap();
    };
    let handled = || {
        seen.lock()
            .unwrap()
            .get(&event_id)
            .cloned()
            .unwrap_or_default()
    };

    let a = replica(0);
    deliver(0);
    let claimed = Instant::now();
    eventually(
        Duration::from_secs(20),
        "handled by the first replica",
        || handled() == [0],
    );
    a.shutdown().unwrap();

    // Within the claim time: another replica acks the redelivery as a duplicate.
    let b = replica(1);
    deliver(1);
    assert!(
        claimed.elapsed() < Duration::from_secs(2),
        "the machine was too slow for this test's 2 s claim time"
    );
    eventually(Duration::from_secs(20), "counted as a duplicate", || {
        b.fleet().unwrap().stats().duplicates == 1
    });
    b.shutdown().unwrap();

    // Two periods later the claim is gone: a redelivery now is claimed (and handled) again.
    std::thread::sleep(Duration::from_millis(4100).saturating_sub(claimed.elapsed()));
    let c = replica(2);
    deliver(2);
    eventually(
        Duration::from_secs(20),
        "claimed again after two periods",
        || handled() == [0, 2],
    );
    assert_eq!(c.fleet().unwrap().stats().duplicates, 0);
    c.shutdown().unwrap();
}

#[test]
fn leases_keep_the_fleet_within_its_budget_and_lapse_with_their_replica() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fleet = |id: &str| {
        Fleet::new(
            FleetConfig::new(redis.url())
                .key_prefix("leases")
                .replica_id(id)
                .lease_ttl(Duration::from_millis(1500)),
        )
        .unwrap()
    };
    let replicas: Vec<Fleet> = (0..4).map(|i| fleet(&format!("r{i}"))).collect();
    let got: Vec<usize> = replicas
        .iter()
        .map(|f| f.lease_connections(3).unwrap())
        .collect();
    assert_eq!(got, vec![3, 3, 3, 1]);
    let standby = fleet("r4");
    assert_eq!(standby.lease_connections(3), Some(0), "a standby");
    // Renewing keeps what one holds.
    assert_eq!(replicas[0].lease_connections(3), Some(3));
    // r1 dies (stops renewing); the others renew; after its lease time the standby gets its share.
    let start = Instant::now();
    let mut taken = 0;
    while start.elapsed() < Duration::from_secs(10) {
        for i in [0, 2, 3] {
            replicas[i].lease_connections(replicas[i].stats().leased_connections);
        }
        taken = standby.lease_connections(3).unwrap();
        if taken > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(taken, 3, "the dead replica's share went to the standby");
    let total: usize = [0, 2, 3]
        .iter()
        .map(|&i| replicas[i].stats().leased_connections)
        .sum::<usize>()
        + taken;
    assert_eq!(total, 10);
    let held: usize = redis::cmd("ZCARD")
        .arg("leases:conns")
        .query(&mut redis.conn())
        .unwrap();
    assert_eq!(held, 10);
}

#[test]
fn two_replicas_share_one_channel_bucket_and_429_pauses() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = Fleet::new(
        FleetConfig::new(redis.url())
            .key_prefix("pace")
            .replica_id("a"),
    )
    .unwrap();
    let b = Fleet::new(
        FleetConfig::new(redis.url())
            .key_prefix("pace")
            .replica_id("b"),
    )
    .unwrap();
    let mut waits = Vec::new();
    for i in 0..8 {
        let f = if i % 2 == 0 { &a } else { &b };
        waits.push(f.pace_post_message("C1").unwrap());
    }
    // Burst 5 at once, then one a second for the fleet as a whole (each reservation waits for
    // its own slot).
    for w in &waits[..5] {
        assert_eq!(*w, Duration::ZERO, "{waits:?}");
    }
    for (k, w) in waits[5..].iter().enumerate() {
        let slot = 1000 * (k as u64 + 1);
        assert!(
            w.as_millis() as u64 >= slot - 150 && w.as_millis() as u64 <= slot,
            "{waits:?}"
        );
    }
    // Another channel has its own bucket.
    assert_eq!(b.pace_post_message("C2"), Some(Duration::ZERO));
    // A 429 seen by one pauses the method for both.
    assert_eq!(b.method_pause("chat.postMessage"), Some(Duration::ZERO));
    assert!(a.pause_method("chat.postMessage", Duration::from_secs(30)));
    let p = b.method_pause("chat.postMessage").unwrap();
    assert!(
        p > Duration::from_secs(25) && p <= Duration::from_secs(30),
        "{p:?}"
    );
}

#[test]
fn a_hung_or_absent_redis_costs_each_call_its_bound_and_one_warning() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let f = Fleet::new(
        FleetConfig::new(redis.url())
            .key_prefix("hung")
            .call_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    assert_eq!(f.lease_connections(2), Some(2));
    assert!(!f.is_degraded());
    redis.freeze(true);
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(
            f.pace_post_message("C1"),
            None,
            "falls back to the local limiter"
        );
        // The bound is 50 ms; far below what an unbounded call (forever) would take, with
        // room for a loaded machine.
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    assert!(f.is_degraded());
    let s = f.stats();
    assert_eq!(s.outages, 1, "one outage, however many calls failed: {s:?}");
    assert!(s.failed_calls >= 5, "{s:?}");
    redis.freeze(false);
    redis.stop();
    let t = Instant::now();
    assert_eq!(f.method_pause("x"), None);
    assert!(t.elapsed() < Duration::from_secs(2));
    redis.restart();
    eventually(Duration::from_secs(20), "reconnected after backoff", || {
        f.pace_post_message("C9").is_some()
    });
    assert!(!f.is_degraded());
}

/// An `events_api` envelope frame as Slack sends it.
fn frame(slack: &FakeSlack, envelope_id: &str, text: &str) -> String {
    json!({
        "envelope_id": envelope_id,
        "type": "events_api",
        "payload": slack.event_callback(json!({"type": "message", "channel": "C1", "text": text})),
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
    })
    .to_string()
}

#[test]
fn a_dead_replicas_accepted_events_are_taken_over_by_the_living() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    // A replica that accepted three events (recorded, read by its consumer) and died before
    // acknowledging them in the stream.
    let mut c = redis.conn();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "dead:events", "workers", "0", "MKSTREAM"][..])
        .query(&mut c)
        .unwrap();
    // As the claim script writes them: the frames in the frames hash, one entry naming the
    // batch's envelopes (field `ids`: each id's length, `:` and the id).
    let mut ids = String::new();
    for i in 0..3 {
        let id = format!("env-{i}");
        let _: () = redis::cmd("HSET")
            .arg("dead:frames")
            .arg(&id)
            .arg(frame(&slack, &id, &format!("t{i}")))
            .query(&mut c)
            .unwrap();
        ids.push_str(&format!("{}:{id}", id.len()));
    }
    let _: String = redis::cmd("XADD")
        .arg(&["dead:events", "*", "ids", &ids][..])
        .query(&mut c)
        .unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(
            &[
                "GROUP",
                "workers",
                "the-dead-one",
                "COUNT",
                "10",
                "STREAMS",
                "dead:events",
                ">",
            ][..],
        )
        .query(&mut c)
        .unwrap();
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    let bot = Bot::builder(&slack.app_token(), &slack.bot_token())
        .unwrap()
        .api_url(slack.api_url())
        .allow_insecure(true)
        .redis(
            FleetConfig::new(redis.url())
                .key_prefix("dead")
                .replica_id("survivor")
                .reclaim_idle(Duration::from_millis(500)),
        )
        .on_any_event(move |ctx| {
            let key = ctx.envelope().envelope_id().to_owned();
            seen2.lock().unwrap().entry(key).or_default().push(0);
            Ok(Reply::Ack)
        })
        .start()
        .unwrap();
    eventually(Duration::from_secs(20), "the three taken over", || {
        seen.lock().unwrap().len() == 3
    });
    std::thread::sleep(Duration::from_millis(1200));
    assert!(seen.lock().unwrap().values().all(|v| v.len() == 1));
    assert_eq!(bot.fleet().unwrap().stats().reclaimed, 3);
    // Handled: the entries and their frames are gone from Redis.
    eventually(Duration::from_secs(5), "entries and frames deleted", || {
        let len: usize = redis::cmd("XLEN").arg("dead:events").query(&mut c).unwrap();
        let frames: usize = redis::cmd("HLEN").arg("dead:frames").query(&mut c).unwrap();
        len == 0 && frames == 0
    });
    bot.shutdown().unwrap();
}

#[test]
fn a_slow_handler_on_a_live_replica_is_not_taken_over() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let seen: Seen = Arc::default();
    let mk = |n: usize| {
        let seen = seen.clone();
        Bot::builder(&slack.app_token(), &slack.bot_token())
            .unwrap()
            .api_url(slack.api_url())
            .allow_insecure(true)
            .redis(
                FleetConfig::new(redis.url())
                    .key_prefix("slow")
                    .replica_id(format!("s{n}"))
                    .reclaim_idle(Duration::from_millis(400)),
            )
            .on_any_event(move |ctx| {
                let key = ctx.envelope().dedup_key().to_owned();
                seen.lock().unwrap().entry(key).or_default().push(n);
                // Several reclaim periods long.
                std::thread::sleep(Duration::from_millis(2500));
                Ok(Reply::Ack)
            })
            .start()
            .unwrap()
    };
    let a = mk(0);
    let b = mk(1);
    slack
        .wait_for_connections(2, Duration::from_secs(20))
        .unwrap();
    for i in 0..4 {
        let id = slack
            .send_event(json!({"type": "message", "channel": "C1", "text": format!("slow {i}")}))
            .unwrap();
        slack.wait_for_ack(&id, Duration::from_secs(10)).unwrap();
    }
    eventually(Duration::from_secs(20), "all four started", || {
        seen.lock().unwrap().len() == 4
    });
    std::thread::sleep(Duration::from_secs(4));
    let seen = seen.lock().unwrap().clone();
    for (k, by) in &seen {
        assert_eq!(by.len(), 1, "{k} run by {by:?}");
    }
    let reclaimed = a.fleet().unwrap().stats().reclaimed + b.fleet().unwrap().stats().reclaimed;
    assert_eq!(reclaimed, 0);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}

/// A throwaway CA and a certificate for 127.0.0.1, as PEM files in `dir`: (ca, cert, key).
fn tls_files(
    dir: &std::path::Path,
) -> (
    String,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_cert.pem(), ca_path, cert_path, key_path)
}

#[test]
fn rediss_with_a_password_and_a_private_ca() {
    if !fleet_support::redis_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("slack-fleet-tls-{}", std::process::id()));
    let (ca_pem, ca, cert, key) = tls_files(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&ca)
        .args(["--requirepass", "s3cret-pw"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(20), "redis-server with tls", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = format!("rediss://127.0.0.1:{port}/0");
    let cfg = FleetConfig::new(url.clone())
        .key_prefix("tls")
        .call_timeout(Duration::from_secs(2));
    // The private CA and the password: works.
    let f = Fleet::new(
        cfg.clone()
            .password("s3cret-pw")
            .tls_root_certs_pem(&ca_pem),
    )
    .unwrap();
    assert_eq!(f.lease_connections(2), Some(2));
    // Without the CA the server's certificate is not trusted; without the password, refused.
    let untrusted = Fleet::new(cfg.clone().password("s3cret-pw")).unwrap();
    assert_eq!(untrusted.lease_connections(2), None);
    let no_password = Fleet::new(cfg.tls_root_certs_pem(&ca_pem)).unwrap();
    assert_eq!(no_password.lease_connections(2), None);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_replicas_saying_later_to_one_channel_keep_burst_5_then_1_per_second_together() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let mk = |n: usize| {
        Bot::builder(&slack.app_token(), &slack.bot_token())
            .unwrap()
            .api_url(slack.api_url())
            .allow_insecure(true)
            .redis(
                FleetConfig::new(redis.url())
                    .key_prefix("later")
                    .replica_id(format!("l{n}")),
            )
            .on_event("message", |ctx| {
                ctx.say_later("C1", "queued")?;
                Ok(Reply::Ack)
            })
            .start()
            .unwrap()
    };
    let bots = [mk(0), mk(1)];
    slack
        .wait_for_connections(2, Duration::from_secs(20))
        .unwrap();
    let n = 9;
    for i in 0..n {
        slack
            .send_event(json!({"type": "message", "channel": "C9", "user": "U1", "text": format!("m{i}"), "ts": format!("{}.000100", 2000 + i)}))
            .unwrap();
    }
    let posts = || -> Vec<Instant> {
        let mut at: Vec<Instant> = slack
            .calls()
            .into_iter()
            .filter(|c| c.method == "chat.postMessage" && c.arg("channel") == Some("C1"))
            .map(|c| c.at)
            .collect();
        at.sort();
        at
    };
    eventually(Duration::from_secs(30), "every message posted", || {
        posts().len() == n
    });
    // Both replicas posted (the events went round robin), and together they kept the bucket:
    // the k-th post after the burst of five comes at least k seconds after the first (less a
    // margin for the two clocks involved: the fake's and Redis's).
    let at = posts();
    for (k, t) in at.iter().enumerate().skip(5) {
        let gap = t.duration_since(at[0]);
        let floor =
            Duration::from_millis(1000 * (k as u64 - 4)).saturating_sub(Duration::from_millis(150));
        assert!(
            gap >= floor,
            "post {k} came {gap:?} after the first: {at:?}"
        );
    }
    let handled: u64 = bots
        .iter()
        .map(|b| b.fleet().unwrap().stats().stream_handled)
        .sum();
    assert_eq!(handled, n as u64);
    assert!(
        bots.iter()
            .all(|b| b.fleet().unwrap().stats().stream_handled > 0)
    );
    for b in bots {
        b.shutdown().unwrap();
    }
}

/// A server that answers like a Redis of version `version`: `INFO` with that version, anything
/// else with `+OK`; it records the commands it got (their names).
fn old_redis(version: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut out) = conn else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut input = BufReader::new(out.try_clone().unwrap());
                let mut line = String::new();
                // One command: `*N`, then N bulk strings.
                while input.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let n: usize = line.trim()[1..].parse().unwrap_or(0);
                    let mut args = Vec::new();
                    for _ in 0..n {
                        line.clear();
                        input.read_line(&mut line).unwrap();
                        let len: usize = line.trim()[1..].parse().unwrap();
                        let mut arg = vec![0; len + 2];
                        input.read_exact(&mut arg).unwrap();
                        args.push(String::from_utf8_lossy(&arg[..len]).into_owned());
                    }
                    line.clear();
                    let name = args.first().cloned().unwrap_or_default().to_uppercase();
                    log.lock().unwrap().push(name.clone());
                    let reply = if name == "INFO" {
                        let info = format!("# Server\r\nredis_version:{version}\r\n");
                        format!("${}\r\n{info}\r\n", info.len())
                    } else {
                        "+OK\r\n".to_owned()
                    };
                    if out.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn a_redis_too_old_for_the_fleet_is_an_outage_not_a_broken_fleet() {
    // Redis 5 has neither XAUTOCLAIM nor SMISMEMBER: every call would fail one by one, or
    // worse, half work. The link sees the version as it connects, and the replica runs on its
    // local state (as in any outage), with the reason in its warning.
    let (port, seen) = old_redis("5.0.7");
    let fleet =
        Fleet::new(FleetConfig::new(format!("redis://127.0.0.1:{port}/0")).replica_id("old"))
            .unwrap();
    assert_eq!(fleet.lease_connections(2), None);
    assert!(fleet.is_degraded());
    assert!(fleet.stats().failed_calls >= 1, "{:?}", fleet.stats());
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&"INFO".to_owned()), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|c| c.starts_with("EVAL") || c.starts_with("Z")),
        "nothing but the version check reached the old server: {seen:?}"
    );

    // A recent enough one is used.
    let (port, seen) = old_redis("6.2.14");
    let fleet =
        Fleet::new(FleetConfig::new(format!("redis://127.0.0.1:{port}/0")).replica_id("new"))
            .unwrap();
    // The fake answers the lease script with +OK, which is no number: a failed call, but one
    // that reached the server.
    let _ = fleet.lease_connections(2);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|c| c.starts_with("EVAL")),
        "the script reached the server: {seen:?}"
    );
}

#[test]
fn the_fleet_command_shows_replicas_whose_claim_times_differ() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let seen: Seen = Arc::default();
    let replica = |n: usize, ttl: u64| {
        let cfg = FleetConfig::new(redis.url())
            .key_prefix("ttls")
            .claim_ttl(Duration::from_secs(ttl));
        replica(&slack, cfg, n, &seen)
    };
    let cfg = FleetConfig::new(redis.url()).key_prefix("ttls");
    let status = || slack_bot::fleet::cli::status_text(&cfg).unwrap();
    let a = replica(0, 600);
    let b = replica(1, 600);
    eventually(Duration::from_secs(20), "both replicas seen", || {
        status().contains("2 live replica(s)")
    });
    assert!(!status().contains("different claim times"), "{}", status());
    let c = replica(2, 300);
    eventually(Duration::from_secs(20), "the mismatch shown", || {
        status().contains("different claim times (300000, 600000 ms)")
    });
    for bot in [a, b, c] {
        bot.shutdown().unwrap();
    }
}

#[test]
fn a_redis_that_may_evict_the_fleets_keys_is_reported() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let set_policy = |policy: &str| config_set(&redis, "maxmemory-policy", policy);
    let cfg = FleetConfig::new(redis.url()).key_prefix("evict");
    // The test's server starts with Redis's default, noeviction: nothing to say.
    let fleet = Fleet::new(cfg.clone().replica_id("a")).unwrap();
    assert_eq!(fleet.lease_connections(1), Some(1));
    assert_eq!(fleet.eviction_policy(), None);
    let text = slack_bot::fleet::cli::status_text(&cfg).unwrap();
    assert!(!text.contains("maxmemory-policy"), "{text}");

    // A Redis shared with a cache often runs allkeys-lru; volatile-* policies would evict the
    // claims sets, which expire.
    for policy in ["allkeys-lru", "volatile-ttl"] {
        set_policy(policy);
        let fleet = Fleet::new(cfg.clone().replica_id(policy)).unwrap();
        assert_eq!(fleet.lease_connections(1), Some(1));
        assert_eq!(fleet.eviction_policy().as_deref(), Some(policy));
        let text = slack_bot::fleet::cli::status_text(&cfg).unwrap();
        assert!(
            text.contains(&format!("maxmemory-policy {policy}"))
                && text.contains("set maxmemory-policy noeviction"),
            "{text}"
        );
    }
    set_policy("noeviction");
    let text = slack_bot::fleet::cli::status_text(&cfg).unwrap();
    assert!(!text.contains("maxmemory-policy"), "{text}");
}

#[test]
fn a_redis_cluster_node_is_an_outage_with_its_reason() {
    // A node of a Redis Cluster (here one with no slots, so it serves no key at all) cannot
    // run the fleet's scripts, whose keys a cluster spreads over slots. The replica sees it as
    // it connects and runs on local state, as in an outage, instead of failing call by call.
    let Some(redis) = RedisServer::start_args(false, &["--cluster-enabled", "yes"]) else {
        return;
    };
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query(&mut redis.conn())
        .unwrap();
    assert!(info.contains("cluster_enabled:1"), "{info}");
    let fleet = Fleet::new(FleetConfig::new(redis.url()).replica_id("c")).unwrap();
    assert_eq!(fleet.lease_connections(2), None);
    assert!(fleet.is_degraded());
    let stats = fleet.stats();
    assert!(stats.failed_calls >= 1 && stats.outages == 1, "{stats:?}");
    let e = slack_bot::fleet::cli::status_text(&FleetConfig::new(redis.url())).unwrap_err();
    assert!(
        e.to_string().contains("redis cluster is not supported"),
        "{e}"
    );
    // Nothing but the check reached the node.
    let calls: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis.conn())
        .unwrap();
    assert!(
        !calls.contains("cmdstat_eval") && !calls.contains("cmdstat_z"),
        "{calls}"
    );
}

#[test]
fn a_full_redis_refuses_writes_and_the_replica_runs_on_local_state() {
    // With noeviction (the policy the fleet asks for), a Redis at its maxmemory refuses
    // writes: the claims fail, the replica judges events alone (each handled, none lost), and
    // it goes back to Redis once memory is free again.
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let slack = FakeSlack::start().unwrap();
    let seen: Seen = Arc::default();
    let a = bot(&slack, &redis, 0, &seen);
    slack
        .wait_for_connections(1, Duration::from_secs(20))
        .unwrap();
    let send = |from: usize| send_acked(&slack, from, 5);
    let maxmemory = |bytes: &str| config_set(&redis, "maxmemory", bytes);
    send(0);
    eventually(Duration::from_secs(20), "5 handled", || {
        seen.lock().unwrap().len() == 5
    });
    assert_eq!(a.fleet().unwrap().stats().claimed, 5);

    maxmemory("1");
    send(5);
    eventually(Duration::from_secs(20), "10 handled", || {
        seen.lock().unwrap().len() == 10
    });
    let stats = a.fleet().unwrap().stats();
    assert_eq!(stats.claimed, 5, "{stats:?}");
    assert!(stats.local_fallbacks >= 5, "{stats:?}");
    assert!(stats.outages >= 1, "{stats:?}");

    maxmemory("0");
    eventually(
        Duration::from_secs(20),
        "claims through redis again",
        || {
            send(100);
            a.fleet().unwrap().stats().claimed > 5
        },
    );
    eventually(Duration::from_secs(20), "every event handled", || {
        seen.lock().unwrap().len() >= 15
    });
    for (key, by) in seen.lock().unwrap().iter() {
        assert_eq!(by.len(), 1, "{key} handled by {by:?}");
    }
    a.shutdown().unwrap();
}

#[test]
fn an_acl_user_without_info_still_runs_the_fleet() {
    // Managed Redis services often hand out ACL users that may not run INFO (or CONFIG). The
    // version and policy checks are then skipped, and the fleet works as usual.
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let ok: String = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("slackbot")
        .arg("on")
        .arg(">bot-pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-info")
        .query(&mut redis.conn())
        .unwrap();
    assert_eq!(ok, "OK");
    let url = format!("redis://slackbot:bot-pw@127.0.0.1:{}/0", redis.port);
    let mut c = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let refused = redis::cmd("INFO").query::<String>(&mut c).unwrap_err();
    assert!(refused.to_string().contains("no permissions"), "{refused}");

    let fleet = Fleet::new(FleetConfig::new(url.clone()).replica_id("acl")).unwrap();
    assert_eq!(fleet.lease_connections(2), Some(2));
    assert!(!fleet.is_degraded());
    assert_eq!(fleet.eviction_policy(), None);
    let text = slack_bot::fleet::cli::status_text(&FleetConfig::new(url)).unwrap();
    assert!(text.contains("2 of 10 connections leased"), "{text}");
}
