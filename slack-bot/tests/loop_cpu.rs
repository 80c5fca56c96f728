//! The event loop sleeps while it has nothing to do, even when a replacement link keeps
//! failing: a warned link that still carries traffic, its replacement gone and
//! `apps.connections.open` failing, must not make the loop spin.
//!
//! One test in this file: the loop thread is found by name, so no other bot may run in this
//! process meanwhile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{SOON, builder, message, wait_until};
use slack_bot::Reply;
use slack_testkit::{FakeSlack, Fault, OpenError};

/// Clock ticks per second of `/proc/<pid>/task/<tid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) of this process's thread whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> Duration {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap();
        // Fields after the name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        found.push(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND));
    }
    assert_eq!(found.len(), 1, "one thread named {prefix}*");
    found[0]
}

#[test]
fn the_loop_does_not_spin_while_a_warned_link_outlives_its_failing_replacement() {
    let slack = FakeSlack::start().unwrap();
    let bot = builder(&slack)
        .on_event("message", |_| Ok(Reply::Ack))
        .start()
        .unwrap();
    slack.wait_for_connections(1, SOON).unwrap();
    let a = slack.open_connections()[0];
    // A is warned; its replacement B opens and is ready, so A starts draining.
    slack.disconnect(a, "warning").unwrap();
    wait_until(SOON, "the replacement to open", || {
        slack.connections().iter().filter(|c| c.hello_sent).count() >= 2
    });
    let b = *slack.open_connections().iter().find(|c| **c != a).unwrap();
    // Then B drops and every new attempt fails, while A stays open and delivers.
    slack.fail_connections_open(10_000, OpenError::ServiceUnavailable);
    slack.fault(b, Fault::DropTcp).unwrap();
    wait_until(SOON, "the replacement to be gone", || {
        slack.open_connections() == [a]
    });
    let id = slack.send_event(message("C1", "on A", "1.1")).unwrap();
    slack.wait_for_ack(&id, SOON).unwrap();

    // The thread's name is cut to 15 bytes by the kernel.
    let name = "slack-event-loo";
    let cpu0 = thread_cpu(name);
    let wall0 = Instant::now();
    // A few seconds past A's drain deadline (1 s of quiet), with a little traffic on A.
    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(1500));
        let id = slack
            .send_event(message("C1", &format!("still on A {i}"), "1.2"))
            .unwrap();
        slack.wait_for_ack(&id, SOON).unwrap();
    }
    let cpu = thread_cpu(name) - cpu0;
    let wall = wall0.elapsed();
    assert!(
        cpu < wall / 5,
        "the event loop used {cpu:?} of CPU in {wall:?}: it spins"
    );
    assert_eq!(slack.open_connections(), [a], "A still carries the traffic");
    drop(bot.shutdown());
}
