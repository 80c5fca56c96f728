//! A `log` wrapper that keeps secrets out of any logger.
//!
//! Three dependencies of the workspace log secrets when their records are let through at the
//! most detailed levels: `tungstenite` logs the WebSocket handshake request (the socket URL's
//! single-use ticket) and every received frame (Slack's payloads carry a verification
//! `token`) at trace level; `ureq_proto` hex-dumps whole requests (the `Authorization` header
//! with a token) at trace level and prints requests at debug level; `ureq` logs the URLs it
//! calls at debug level (a `response_url` is a credential). No library can stop that: the
//! application's logger decides what it keeps.
//!
//! [`SecretFilter`] wraps any [`log::Log`] and drops those crates' records (their submodules
//! included) above a safe level ([`cap`]), whatever the wrapped logger's own filter says, so
//! that no spelling of a filter (`RUST_LOG=trace`, `tungstenite`, `ureq_proto::util=trace`…)
//! can let them through. Everything else is passed on untouched.
//!
//! ```
//! struct Stderr;
//! impl log::Log for Stderr {
//!     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
//!     fn log(&self, r: &log::Record<'_>) { let _ = (r.target(), r.args()); }
//!     fn flush(&self) {}
//! }
//! // One line: trace for everything except the secret-carrying targets.
//! let _ = slack_envelope::logging::install(Stderr, log::LevelFilter::Trace);
//! ```

use log::{LevelFilter, Log, Metadata, Record, SetLoggerError};

/// The crates whose records are capped, and the most detailed level let through for each.
///
/// * `tungstenite`: info; its trace records hold the socket ticket (the handshake request)
///   and every frame's text, and `tungstenite::client::connect` logs the URL it contacts at
///   debug level.
/// * `ureq`: info; its debug records hold the URL of each request.
/// * `ureq_proto`: info; its debug and trace records hold request heads and raw bytes.
pub const CAPPED_TARGETS: [(&str, LevelFilter); 3] = [
    ("tungstenite", LevelFilter::Info),
    ("ureq", LevelFilter::Info),
    ("ureq_proto", LevelFilter::Info),
];

/// The most detailed level let through for records of `target`: the cap of
/// [`CAPPED_TARGETS`] when `target` is one of those crates or one of their modules
/// (`tungstenite::protocol`), else [`LevelFilter::Trace`].
pub fn cap(target: &str) -> LevelFilter {
    CAPPED_TARGETS
        .iter()
        .find(|(name, _)| {
            target
                .strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
        .map_or(LevelFilter::Trace, |(_, level)| *level)
}

/// Whether a record of this target and level may be logged at all.
fn allowed(metadata: &Metadata<'_>) -> bool {
    metadata.level() <= cap(metadata.target())
}

/// Wraps a logger and drops the records of [`CAPPED_TARGETS`] above their cap.
#[derive(Debug)]
pub struct SecretFilter<L> {
    inner: L,
}

impl<L: Log> SecretFilter<L> {
    /// Wraps `inner`.
    pub fn new(inner: L) -> Self {
        SecretFilter { inner }
    }

    /// The wrapped logger.
    pub fn inner(&self) -> &L {
        &self.inner
    }
}

impl<L: Log> Log for SecretFilter<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        allowed(metadata) && self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if allowed(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs `logger`, wrapped in a [`SecretFilter`], as the process's logger, and sets the
/// most detailed level records are created at (`log::set_max_level`) to `max_level`.
///
/// # Errors
///
/// When a logger was installed already.
pub fn install<L: Log + 'static>(logger: L, max_level: LevelFilter) -> Result<(), SetLoggerError> {
    // `set_logger` rather than `set_boxed_logger`: the latter needs `log`'s `std` feature.
    // A process has one logger, kept for its whole life; leaking it is what both do.
    log::set_logger(Box::leak(Box::new(SecretFilter::new(logger))))?;
    log::set_max_level(max_level);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Level;

    #[test]
    fn caps_the_crates_and_their_modules_only() {
        for (target, level, let_through) in [
            ("tungstenite", Level::Trace, false),
            ("tungstenite::protocol", Level::Trace, false),
            ("tungstenite::handshake::client", Level::Trace, false),
            ("tungstenite::client", Level::Debug, false),
            ("tungstenite::protocol", Level::Info, true),
            ("ureq", Level::Debug, false),
            ("ureq::run", Level::Debug, false),
            ("ureq::run", Level::Info, true),
            ("ureq_proto", Level::Debug, false),
            ("ureq_proto::util", Level::Trace, false),
            ("ureq_proto::client", Level::Warn, true),
            ("ureqx", Level::Trace, true),
            ("tungstenitex", Level::Trace, true),
            ("slack_bot", Level::Trace, true),
            ("my_app::tungstenite", Level::Trace, true),
        ] {
            let m = Metadata::builder().target(target).level(level).build();
            assert_eq!(allowed(&m), let_through, "{target} at {level}");
        }
    }

    struct All;
    impl Log for All {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, _: &Record<'_>) {}
        fn flush(&self) {}
    }

    #[test]
    fn the_wrapper_asks_the_inner_logger_too() {
        struct None_;
        impl Log for None_ {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                false
            }
            fn log(&self, _: &Record<'_>) {}
            fn flush(&self) {}
        }
        let m = Metadata::builder().target("a").level(Level::Info).build();
        assert!(SecretFilter::new(All).enabled(&m));
        assert!(!SecretFilter::new(None_).enabled(&m));
        let t = Metadata::builder()
            .target("ureq_proto::util")
            .level(Level::Trace)
            .build();
        assert!(!SecretFilter::new(All).enabled(&t));
    }
}
