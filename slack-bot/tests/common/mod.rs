//! Helpers shared by the end-to-end tests: a bot pointed at a `FakeSlack` with short timings.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use slack_bot::slack_envelope::SessionConfig;
use slack_bot::{Bot, BotBuilder};
use slack_testkit::FakeSlack;

/// A generous bound for anything that should happen "soon" on loopback.
pub(crate) const SOON: Duration = Duration::from_secs(10);

/// Liveness timings shortened so that the tests run fast (defaults: 5 s / 8 s / 16 s).
pub(crate) fn fast_session() -> SessionConfig {
    SessionConfig::default()
        .hello_timeout(Duration::from_secs(3))
        .ping_after_quiet(Duration::from_millis(500))
        .dead_after_silence(Duration::from_millis(1500))
        .abort_after_silence(Duration::from_secs(4))
        .close_timeout(Duration::from_millis(500))
}

/// A builder for a bot talking to `slack` over plain loopback http/ws, with short timings.
pub(crate) fn builder(slack: &FakeSlack) -> BotBuilder {
    Bot::builder(&slack.app_token(), &slack.bot_token())
        .expect("the testkit's tokens are valid")
        .api_url(slack.api_url())
        .allow_insecure(true)
        .no_proxy()
        .session(fast_session())
        .shutdown_timeout(Duration::from_secs(3))
        .jitter_seed(7)
}

/// Polls `check` every 10 ms until it holds or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A plain message event from a person.
pub(crate) fn message(channel: &str, text: &str, ts: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "message", "channel": channel, "user": "U111", "text": text, "ts": ts,
        "channel_type": "channel"
    })
}
