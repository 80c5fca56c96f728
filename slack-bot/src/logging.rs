//! The binary's logger: `env_logger` reading `RUST_LOG`, wrapped in
//! [`slack_bot::logging::SecretFilter`] so that no spelling of `RUST_LOG` lets the records
//! that carry secrets through (tokens, the socket ticket, `response_url`s; see
//! [`slack_bot::logging::CAPPED_TARGETS`]).

use log::LevelFilter;
use slack_bot::logging::SecretFilter;

/// The logger for the bot: `RUST_LOG` (else `default`), plus debug for the workspace's crates
/// when `SLACK_DEBUG=1` or `WEBSOCKET_DEBUG=1`, wrapped in the secret filter.
pub(crate) fn build(
    env: &dyn Fn(&str) -> Option<String>,
    default: &str,
) -> (SecretFilter<env_logger::Logger>, LevelFilter) {
    let debug = ["SLACK_DEBUG", "WEBSOCKET_DEBUG"]
        .iter()
        .any(|v| env(v).is_some_and(|x| x == "1" || x == "true"));
    let default = if debug { "debug" } else { default };
    let filter = env("RUST_LOG").unwrap_or_else(|| default.to_owned());
    let mut b = env_logger::Builder::new();
    b.parse_filters(&filter);
    if debug {
        for module in [
            "slack_bot",
            "slack_envelope",
            "slack_transport",
            "slack_web",
        ] {
            b.filter_module(module, LevelFilter::Debug);
        }
    }
    let logger = b.build();
    let max = logger.filter();
    (SecretFilter::new(logger), max)
}

/// Installs the logger for a run against Slack (`info` unless `RUST_LOG` says otherwise).
pub(crate) fn init() {
    install(build(&|k| std::env::var(k).ok(), "info"));
}

/// Installs the logger for the demo, which prints its own transcript (`warn` by default).
pub(crate) fn init_quiet() {
    install(build(&|k| std::env::var(k).ok(), "warn"));
}

fn install((logger, max): (SecretFilter<env_logger::Logger>, LevelFilter)) {
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::{Level, Log, Metadata};

    fn enabled(rust_log: &str, target: &str, level: Level) -> bool {
        let rust_log = rust_log.to_owned();
        let (logger, max) = build(
            &move |k| (k == "RUST_LOG").then(|| rust_log.clone()),
            "info",
        );
        let m = Metadata::builder().target(target).level(level).build();
        level <= max && logger.enabled(&m)
    }

    /// Every way of asking for the secret-carrying records is capped; the same spellings
    /// still turn on the other targets they name.
    #[test]
    fn no_rust_log_spelling_lets_secrets_through() {
        let spellings = [
            "trace",
            "TRACE",
            "5",
            "info,tungstenite",
            "tungstenite",
            "tungstenite=trace",
            "tungstenite=TRACE",
            "tungstenite=5",
            "tungstenite::protocol=trace",
            "tungstenite::handshake::client=trace",
            "warn,tungstenite::protocol",
            "ureq",
            "ureq=debug",
            "ureq::run=debug",
            "ureq=4",
            "ureq_proto",
            "info,ureq_proto::util=trace",
            "ureq_proto::client=Trace",
            "off,ureq_proto::util=5,tungstenite::protocol=5,ureq=5",
            "trace,ureq=trace,ureq_proto=trace,tungstenite=trace",
            "debug/secret",
            "=trace",
            "trace,",
            ",trace",
            " trace ",
        ];
        let secret_targets = [
            ("tungstenite", Level::Trace),
            ("tungstenite::protocol", Level::Trace),
            ("tungstenite::handshake::client", Level::Trace),
            ("tungstenite::client", Level::Debug),
            ("ureq", Level::Debug),
            ("ureq::run", Level::Debug),
            ("ureq::pool", Level::Trace),
            ("ureq_proto", Level::Debug),
            ("ureq_proto::util", Level::Trace),
            ("ureq_proto::client", Level::Debug),
        ];
        for spelling in spellings {
            for (target, level) in secret_targets {
                assert!(
                    !enabled(spelling, target, level),
                    "RUST_LOG={spelling:?} lets {target} at {level} through"
                );
            }
        }
        // The filter does not switch off what was asked for elsewhere.
        assert!(enabled("trace", "slack_bot", Level::Trace));
        assert!(enabled("TRACE", "slack_transport::io", Level::Trace));
        assert!(enabled("tungstenite", "tungstenite::protocol", Level::Info));
        assert!(enabled("ureq=trace", "ureq::run", Level::Info));
        assert!(enabled("info", "ureq_proto", Level::Warn));
        assert!(!enabled("info", "slack_bot", Level::Debug));
    }

    #[test]
    fn debug_switch_turns_on_the_workspace_crates_only() {
        let (logger, max) = build(&|k| (k == "SLACK_DEBUG").then(|| "1".to_owned()), "info");
        assert!(max >= LevelFilter::Debug);
        let m = |t: &'static str, l| Metadata::builder().target(t).level(l).build();
        assert!(logger.enabled(&m("slack_web::client", Level::Debug)));
        assert!(!logger.enabled(&m("ureq::run", Level::Debug)));
    }
}
