//! The crate's one error type.

use std::fmt;

use crate::types::ConnId;

/// Everything that can go wrong when driving the fake Slack or the proxy.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// A socket or file operation failed.
    Io(std::io::Error),
    /// Generating the throwaway certificates or configuring TLS failed.
    Tls(String),
    /// A bounded wait expired before the awaited thing happened.
    Timeout(String),
    /// The connection id is unknown, or that connection is already closed.
    NoSuchConnection(ConnId),
    /// The fake (or the proxy) has been shut down.
    Shutdown,
    /// An argument was not usable (for example an envelope that is not a JSON object).
    InvalidInput(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Tls(e) => write!(f, "tls setup failed: {e}"),
            Error::Timeout(what) => write!(f, "timed out waiting for {what}"),
            Error::NoSuchConnection(id) => write!(f, "no open connection with id {id}"),
            Error::Shutdown => write!(f, "the fake slack has been shut down"),
            Error::InvalidInput(e) => write!(f, "invalid input: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
