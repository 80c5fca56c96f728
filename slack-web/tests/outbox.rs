//! The outbox against the fake Slack: order per channel, 429 handling, the shutdown report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use slack_testkit::FakeSlack;
use slack_web::{LimiterConfig, Message, Outbox, OutboxConfig, Rate};
use support::{T, builder};

fn texts(slack: &FakeSlack, channel: &str) -> Vec<String> {
    slack
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "chat.postMessage" && c.status == 200 && c.arg("channel") == Some(channel)
        })
        .map(|c| c.arg("text").unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn posts_in_order_per_channel() {
    let slack = FakeSlack::start().unwrap();
    let web = builder(&slack)
        .rate_limits(LimiterConfig::only_retry_after())
        .build()
        .unwrap();
    let outbox = Outbox::start(&web, OutboxConfig::default()).unwrap();
    for i in 0..15 {
        outbox
            .queue_message(format!("C{}", i % 3), Message::text(format!("m{i}")))
            .unwrap();
    }
    outbox.flush(Instant::now() + T).unwrap();
    assert_eq!(texts(&slack, "C0"), ["m0", "m3", "m6", "m9", "m12"]);
    assert_eq!(texts(&slack, "C1"), ["m1", "m4", "m7", "m10", "m13"]);
    assert_eq!(texts(&slack, "C2"), ["m2", "m5", "m8", "m11", "m14"]);
    let stats = outbox.stats();
    assert_eq!((stats.sent, stats.pending, stats.failed), (15, 0, 0));
    assert_eq!(web.stats().messages_sent, 15);
    assert!(outbox.shutdown(Instant::now() + T).is_empty());
    slack.shutdown();
}

#[test]
fn a_429_pauses_and_order_is_kept() {
    let slack = FakeSlack::start().unwrap();
    let web = builder(&slack)
        .rate_limits(LimiterConfig::only_retry_after())
        .build()
        .unwrap();
    let outbox = Outbox::start(&web, OutboxConfig::default()).unwrap();
    slack.rate_limit("chat.postMessage", 1, 1);
    for t in ["a", "b", "c"] {
        outbox.queue_message("C1", t).unwrap();
    }
    outbox.flush(Instant::now() + T).unwrap();
    assert_eq!(texts(&slack, "C1"), ["a", "b", "c"]);
    let calls = slack.wait_for_calls("chat.postMessage", 4, T).unwrap();
    assert_eq!(calls[0].status, 429);
    assert!(calls[1].at.duration_since(calls[0].at) >= Duration::from_millis(900));
    let stats = outbox.stats();
    assert_eq!(stats.rate_limited, 1);
    assert!(stats.rate_limit_waits >= 1 && web.stats().rate_limit_waits >= 1);
    assert!(outbox.shutdown(Instant::now() + T).is_empty());
    slack.shutdown();
}

#[test]
fn shutdown_reports_what_could_not_be_sent() {
    let slack = FakeSlack::start().unwrap();
    // Per channel: bursts of 2, then one every 10 s, so most messages cannot go in time.
    let web = builder(&slack)
        .rate_limits(LimiterConfig::slack_defaults().per_channel(Some(Rate::new(
            1,
            Duration::from_secs(10),
            2,
        ))))
        .build()
        .unwrap();
    let outbox = Outbox::start(&web, OutboxConfig::default()).unwrap();
    for i in 0..5 {
        outbox.queue_message("C1", format!("m{i}")).unwrap();
    }
    // A message to a channel Slack refuses: reported with its error.
    outbox.queue_message("", "nowhere").unwrap();
    let report = outbox
        .flush(Instant::now() + Duration::from_millis(300))
        .unwrap_err();
    assert_eq!((report.pending, report.failed), (3, 1));
    let unsent = outbox.shutdown(Instant::now() + Duration::from_millis(100));
    let summary: Vec<_> = unsent
        .iter()
        .map(|u| {
            (
                u.message.message.text.clone().unwrap(),
                u.error
                    .as_ref()
                    .and_then(|e| e.slack_error().map(str::to_owned)),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("m2".to_owned(), None),
            ("m3".to_owned(), None),
            ("m4".to_owned(), None),
            ("nowhere".to_owned(), Some("channel_not_found".to_owned())),
        ]
    );
    assert_eq!(texts(&slack, "C1"), ["m0", "m1"]);
    assert!(matches!(
        outbox.queue_message("C1", "late"),
        Err(slack_web::QueueError::Closed(_))
    ));
    slack.shutdown();
}
