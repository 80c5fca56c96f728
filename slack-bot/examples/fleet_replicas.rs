//! A bot run as several replicas sharing one Redis (feature `fleet`): each event is handled by
//! one replica, a redelivery that lands on another replica is acked and not handled again, and
//! the replicas share Slack's 10 connections and the per-channel posting pace.
//!
//! Against Slack: start the same program on each host, with the same Redis and key prefix
//! (bot scope `chat:write`; bot event `message.channels`):
//!
//! ```text
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… SLACK_REDIS_URL=redis://redis.internal:6379/0 \
//!     cargo run -p slack-bot --features fleet --example fleet_replicas
//! ```
//!
//! Against the built-in fake Slack and a private `redis-server` (it must be on the PATH; the
//! example starts it on a free loopback port without persistence and stops it), three replicas
//! in this one process, then it exits (`cargo xtask examples` runs it this way):
//!
//! ```text
//! cargo run -p slack-bot --features fleet --example fleet_replicas -- --against-testkit
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use slack_bot::fleet::FleetConfig;
use slack_bot::{Bot, BotBuilder, Reply};
use slack_testkit::FakeSlack;

#[allow(dead_code)] // `support::main` runs one bot; this example runs three.
mod support;
use support::{Res, WAIT, check};

/// The whole bot, the same in every replica: it says which replica handled a message.
fn replica(builder: BotBuilder, redis: FleetConfig, name: String) -> BotBuilder {
    builder
        .redis(redis.replica_id(name.clone()))
        .on_any_message(move |ctx, m| {
            if m.is_from_bot() {
                return Ok(Reply::Ack);
            }
            ctx.say(format!(
                "{name} handled: {}",
                m.text.as_deref().unwrap_or("")
            ))?;
            Ok(Reply::Ack)
        })
}

fn main() -> Res {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    let vars = ["SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_REDIS_URL"].map(std::env::var);
    match vars {
        [Ok(app), Ok(token), Ok(url)] if !against_testkit => {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned());
            let name = format!("{host}-{}", std::process::id());
            let builder = replica(Bot::builder(&app, &token)?, FleetConfig::new(url), name);
            // Stopped with Ctrl-C, it hands its accepted events back to the fleet.
            support::against_slack("replica", builder)
        }
        _ => {
            if !against_testkit {
                println!(
                    "SLACK_APP_TOKEN/SLACK_BOT_TOKEN/SLACK_REDIS_URL not set: running against the fake Slack"
                );
            }
            let Some(redis) = Redis::start()? else {
                return Ok(());
            };
            scripted(&redis.url())
        }
    }
}

/// Three replicas against the fake Slack, which delivers round robin over their connections.
fn scripted(url: &str) -> Res {
    let slack = FakeSlack::start()?;
    let fleet = FleetConfig::new(url).key_prefix("example");
    let mut replicas = Vec::new();
    for n in 1..=3 {
        let builder = Bot::builder(&slack.app_token(), &slack.bot_token())?
            .api_url(slack.api_url())
            .allow_insecure(true) // the fake speaks plain http:// and ws://
            .no_proxy();
        replicas.push(replica(builder, fleet.clone(), format!("replica-{n}")).start()?);
    }
    slack.wait_for_connections(3, WAIT)?;

    // Six messages, each in its own channel (the fleet paces posts per channel, burst 5).
    let mut acks = Vec::new();
    for i in 1..=6 {
        acks.push(slack.send_event(json!({
            "type": "message", "channel": format!("C{i}"), "user": "U111",
            "text": format!("message {i}"), "ts": format!("1700000000.00000{i}")
        }))?);
    }
    // Slack redelivers an event whose ack it did not see in time, maybe to another replica:
    // here a seventh message comes three times (the same event id each time).
    let payload = slack.event_callback(json!({
        "type": "message", "channel": "C7", "user": "U111",
        "text": "message 7", "ts": "1700000000.000007"
    }));
    for attempt in 0..3 {
        acks.push(slack.send_envelope(
            json!({"type": "events_api", "payload": payload, "retry_attempt": attempt}),
        )?);
    }
    for id in &acks {
        slack.wait_for_ack(id, WAIT)?;
    }
    slack.wait_for_calls("chat.postMessage", 7, WAIT)?;
    // Anything more would be an event handled twice.
    std::thread::sleep(Duration::from_millis(300));
    let posts: Vec<_> = slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage")
        .collect();
    let mut by_channel: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &posts {
        by_channel
            .entry(p.arg("channel").unwrap_or("?").to_owned())
            .or_default()
            .push(p.arg("text").unwrap_or("?").to_owned());
    }
    for (channel, texts) in &by_channel {
        println!("{channel}: {}", texts.join(" | "));
    }
    check(by_channel.len() == 7, "every message handled")?;
    check(
        by_channel.values().all(|t| t.len() == 1),
        "no message handled twice, the redelivered one included",
    )?;
    let mut handled_by: Vec<&str> = posts
        .iter()
        .filter_map(|p| p.arg("text")?.split(' ').next())
        .collect();
    handled_by.sort_unstable();
    handled_by.dedup();
    println!("replicas that handled messages: {}", handled_by.join(", "));
    check(handled_by.len() > 1, "the work spread over the replicas")?;
    // A redelivery is a duplicate for the fleet's claims, or for the replica's own window
    // when it lands where the original did.
    let mut duplicates = 0;
    for r in replicas {
        duplicates += r.stats().duplicates + r.fleet().map_or(0, |f| f.stats().duplicates);
        r.shutdown()?;
    }
    println!("redeliveries acked without being handled again: {duplicates}");
    check(duplicates == 2, "two redeliveries counted as duplicates")?;
    slack.shutdown();
    Ok(())
}

/// A private `redis-server` on a free loopback port, without persistence; stopped on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// `None` (said loudly) when `redis-server` is not installed, except under CI, where that
    /// is an error.
    fn start() -> Res<Option<Redis>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                return Err(format!("redis-server could not be started: {e}").into());
            }
            Err(e) => {
                eprintln!(
                    "*** SKIPPED: redis-server could not be started ({e}); install it (apt-get install redis-server) to run this example ***"
                );
                return Ok(None);
            }
        };
        let redis = Redis { child, port };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(redis))
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
