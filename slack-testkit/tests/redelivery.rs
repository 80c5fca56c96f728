//! Slack may redeliver an un-acked envelope on another of the app's connections; the fake
//! does so whenever the app holds more than one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use slack_testkit::FakeSlack;

#[test]
fn a_redelivery_goes_to_another_connection() {
    let slack = FakeSlack::builder()
        .ack_timeout(Duration::from_millis(150))
        .start()
        .unwrap();
    let (mut a, _) = ws_connect(&slack.ws_url());
    let (mut b, _) = ws_connect(&slack.ws_url());
    slack.wait_for_connections(2, T).unwrap();
    let x = slack.send_event(json!({"type": "reaction_added"})).unwrap();
    let y = slack
        .send_event(json!({"type": "reaction_removed"}))
        .unwrap();
    // Round robin: x on the first connection, y on the second (acked at once).
    assert_eq!(read_json(&mut a)["envelope_id"], x.as_str());
    assert_eq!(read_json(&mut b)["envelope_id"], y.as_str());
    ack(&mut b, &y);
    // x was not acked on `a`: its redelivery avoids `a` (plain round robin would pick `a`
    // again here), and the next one avoids `b`.
    let r1 = read_json(&mut b);
    assert_eq!(r1["retry_attempt"], 1);
    assert_eq!(r1["payload"]["event"]["type"], "reaction_added");
    let r2 = read_json(&mut a);
    assert_eq!(r2["retry_attempt"], 2);
    ack(&mut a, r2["envelope_id"].as_str().unwrap());
    assert_eq!(slack.wait_for_ack(&x, T).unwrap().retry_attempt, 2);
}
