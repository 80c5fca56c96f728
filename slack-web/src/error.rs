//! The one error type of this crate.

use std::fmt;
use std::time::Duration;

use crate::token::TokenError;

/// Slack error codes that mean the token or the app is misconfigured: retrying cannot help.
pub(crate) const FATAL_AUTH_ERRORS: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "not_allowed_token_type",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "team_disabled",
    "forbidden_team",
];

/// Slack error codes that mean "try again later".
const RETRYABLE_SLACK_ERRORS: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// The host name could not be resolved.
    Dns,
    /// The TCP connection could not be made (refused, unreachable).
    Connect,
    /// The proxy refused or failed the CONNECT tunnel.
    Proxy,
    /// TLS failed (handshake, untrusted certificate, wrong host name).
    Tls,
    /// A configured timeout expired.
    Timeout,
    /// Any other I/O or HTTP protocol failure (reset connection, malformed answer).
    Io,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Dns => "dns lookup failed",
            TransportKind::Connect => "connection failed",
            TransportKind::Proxy => "proxy failed",
            TransportKind::Tls => "tls failed",
            TransportKind::Timeout => "timed out",
            TransportKind::Io => "i/o error",
        })
    }
}

/// Everything a Web API call can fail with.
///
/// Tokens never appear in these values or their messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Slack answered `{"ok":false,"error":…}`.
    Slack {
        /// The Web API method, e.g. `chat.postMessage`.
        method: String,
        /// Slack's error code, e.g. `channel_not_found`.
        error: String,
        /// Warnings from `warning` and `response_metadata.warnings`.
        warnings: Vec<String>,
        /// Human readable details from `response_metadata.messages`.
        messages: Vec<String>,
    },
    /// Slack answered HTTP 429 (or `error: ratelimited`), or this client paused the method
    /// after an earlier 429 and the wait would exceed the retry policy.
    RateLimited {
        /// The Web API method.
        method: String,
        /// How long to wait before trying again (`Retry-After`).
        retry_after: Duration,
    },
    /// The answer had an HTTP status that is not a success, and no Slack error in its body.
    HttpStatus {
        /// The Web API method (or `response_url`).
        method: String,
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` header, when there was one.
        retry_after: Option<Duration>,
        /// The start of the body (at most 200 characters), for diagnostics.
        body: String,
    },
    /// The request did not complete: DNS, connect, proxy, TLS, timeout or I/O failure.
    Transport {
        /// The Web API method (or `response_url`).
        method: String,
        /// Which step failed.
        kind: TransportKind,
        /// What the HTTP library said.
        detail: String,
    },
    /// The answer could not be decoded (not JSON, no `ok` field, or not the expected shape).
    Decode {
        /// The Web API method (or `response_url`).
        method: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The arguments could not be serialized to JSON.
    Encode {
        /// The Web API method.
        method: String,
        /// What serde said.
        detail: String,
    },
    /// A token had the wrong prefix or was empty.
    InvalidToken(TokenError),
    /// A plain `http://` URL was refused because it would send a token (or a response_url
    /// secret) in clear text; see `WebClientBuilder::allow_insecure_http`.
    InsecureUrl {
        /// Scheme and host of the refused URL (never its path or query).
        url: String,
    },
    /// Block Kit content breaks one of Slack's limits (checked before anything is sent;
    /// Slack would answer `invalid_blocks`). Nothing is ever truncated.
    BlockKit {
        /// Which block or element: `blocks[2] (section "b1").accessory (button)`.
        location: String,
        /// Which limit: `text is 3001 characters, the limit is 3000`.
        limit: String,
    },
    /// The client configuration is invalid (bad URL, bad proxy, bad certificate).
    Config {
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    /// True when the error means the token or app configuration is wrong, so retrying is
    /// pointless: `invalid_auth`, `not_authed`, `not_allowed_token_type`, `token_revoked`,
    /// `token_expired`, `account_inactive`, `team_disabled`, `forbidden_team`,
    /// `missing_args` from `apps.connections.open`, and a token
    /// refused by its prefix check.
    pub fn is_fatal_auth(&self) -> bool {
        match self {
            Error::Slack { method, error, .. } => {
                FATAL_AUTH_ERRORS.contains(&error.as_str())
                    || (error == "missing_args" && method == "apps.connections.open")
            }
            Error::InvalidToken(_) => true,
            _ => false,
        }
    }

    /// True when this is a configuration error of this program (fatal auth error, invalid
    /// token, insecure or invalid URL, bad TLS/proxy setup, TLS certificate refused):
    /// stop and say so rather than retry.
    pub fn is_fatal_config(&self) -> bool {
        self.is_fatal_auth()
            || matches!(
                self,
                Error::InsecureUrl { .. }
                    | Error::Config { .. }
                    | Error::Encode { .. }
                    | Error::Transport {
                        kind: TransportKind::Tls,
                        ..
                    }
            )
    }

    /// How long Slack asked us to wait, for rate limits (and any answer with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            Error::HttpStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when trying again later may succeed: rate limits, server errors (5xx, 408,
    /// `internal_error`, `fatal_error`, `service_unavailable`, `request_timeout`) and
    /// transport failures other than TLS. Whether retrying is *safe* also depends on the
    /// method: see [`RetryPolicy::transient_retries`](crate::RetryPolicy::transient_retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } => true,
            Error::Slack { error, .. } => RETRYABLE_SLACK_ERRORS.contains(&error.as_str()),
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 408,
            Error::Transport { kind, .. } => *kind != TransportKind::Tls,
            _ => false,
        }
    }

    /// True when the request certainly never reached Slack (DNS, connect or proxy failure),
    /// so it is safe to retry even a method that is not idempotent.
    pub fn never_sent(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                kind: TransportKind::Dns | TransportKind::Connect | TransportKind::Proxy,
                ..
            }
        )
    }

    /// Slack's error code, for [`Error::Slack`] (and `"ratelimited"` for rate limits).
    pub fn slack_error(&self) -> Option<&str> {
        match self {
            Error::Slack { error, .. } => Some(error),
            Error::RateLimited { .. } => Some("ratelimited"),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Slack {
                method,
                error,
                messages,
                ..
            } => {
                write!(f, "slack refused {method}: {error}")?;
                if !messages.is_empty() {
                    write!(f, " ({})", messages.join("; "))?;
                }
                Ok(())
            }
            Error::RateLimited {
                method,
                retry_after,
            } => write!(
                f,
                "{method} is rate limited; retry after {:.1}s",
                retry_after.as_secs_f64()
            ),
            Error::HttpStatus {
                method,
                status,
                body,
                ..
            } => {
                write!(f, "{method} answered http status {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            Error::Transport {
                method,
                kind,
                detail,
            } => write!(f, "{method}: {kind}: {detail}"),
            Error::Decode { method, detail } => {
                write!(f, "{method}: could not decode the answer: {detail}")
            }
            Error::Encode { method, detail } => {
                write!(f, "{method}: could not encode the arguments: {detail}")
            }
            Error::InvalidToken(e) => write!(f, "invalid token: {e}"),
            Error::InsecureUrl { url } => write!(
                f,
                "refusing plain http url {url}: it would send secrets in clear text \
                 (allow_insecure_http is off)"
            ),
            Error::BlockKit { location, limit } => write!(f, "block kit: {location}: {limit}"),
            Error::Config { detail } => write!(f, "invalid client configuration: {detail}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidToken(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        Error::InvalidToken(e)
    }
}

/// Maps a ureq error to ours, keeping DNS / connect / proxy / TLS / timeout apart.
pub(crate) fn from_ureq(method: &str, e: ureq::Error) -> Error {
    use std::io::ErrorKind as K;
    let kind = match &e {
        ureq::Error::HostNotFound => TransportKind::Dns,
        ureq::Error::Timeout(t) => match t {
            ureq::Timeout::Resolve => TransportKind::Dns,
            ureq::Timeout::Connect => TransportKind::Connect,
            _ => TransportKind::Timeout,
        },
        ureq::Error::ConnectionFailed => TransportKind::Connect,
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => TransportKind::Proxy,
        ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_) => TransportKind::Tls,
        ureq::Error::TlsRequired => TransportKind::Tls,
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::AddrNotAvailable
            | K::NetworkUnreachable
            | K::HostUnreachable => TransportKind::Connect,
            K::TimedOut | K::WouldBlock => TransportKind::Timeout,
            K::InvalidData if io.to_string().to_ascii_lowercase().contains("certificate") => {
                TransportKind::Tls
            }
            // std's resolver reports getaddrinfo failures as uncategorized I/O errors.
            _ if io.to_string().contains("failed to lookup address") => TransportKind::Dns,
            _ => TransportKind::Io,
        },
        ureq::Error::RequireHttpsOnly(_) => {
            return Error::InsecureUrl {
                url: "(request url)".to_owned(),
            };
        }
        ureq::Error::BadUri(u) => {
            return Error::Config {
                detail: format!("bad url: {u}"),
            };
        }
        ureq::Error::Json(j) => {
            return Error::Encode {
                method: method.to_owned(),
                detail: j.to_string(),
            };
        }
        _ => TransportKind::Io,
    };
    Error::Transport {
        method: method.to_owned(),
        kind,
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(method: &str, error: &str) -> Error {
        Error::Slack {
            method: method.into(),
            error: error.into(),
            warnings: vec![],
            messages: vec![],
        }
    }

    #[test]
    fn classification() {
        for code in [
            "invalid_auth",
            "not_authed",
            "not_allowed_token_type",
            "token_revoked",
            "token_expired",
            "account_inactive",
            "team_disabled",
            "forbidden_team",
        ] {
            let e = slack("apps.connections.open", code);
            assert!(e.is_fatal_auth(), "{code}");
            assert!(e.is_fatal_config());
            assert!(!e.is_retryable(), "{code}");
        }
        assert!(slack("apps.connections.open", "missing_args").is_fatal_auth());
        assert!(!slack("chat.postMessage", "missing_args").is_fatal_auth());
        for code in [
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
        ] {
            let e = slack("apps.connections.open", code);
            assert!(e.is_retryable() && !e.is_fatal_auth(), "{code}");
        }
        let rl = Error::RateLimited {
            method: "m".into(),
            retry_after: Duration::from_secs(3),
        };
        assert!(rl.is_retryable());
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(rl.to_string(), "m is rate limited; retry after 3.0s");
        let tls = Error::Transport {
            method: "m".into(),
            kind: TransportKind::Tls,
            detail: "x".into(),
        };
        assert!(!tls.is_retryable() && tls.is_fatal_config());
        let conn = Error::Transport {
            method: "m".into(),
            kind: TransportKind::Connect,
            detail: "refused".into(),
        };
        assert!(conn.is_retryable() && conn.never_sent());
        let status = |s| Error::HttpStatus {
            method: "m".into(),
            status: s,
            retry_after: None,
            body: String::new(),
        };
        assert!(status(503).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(
            slack("chat.postMessage", "channel_not_found").slack_error()
                == Some("channel_not_found")
        );
    }

    #[test]
    fn messages_are_lowercase() {
        let errors = [
            slack("chat.postMessage", "channel_not_found"),
            Error::Decode {
                method: "m".into(),
                detail: "x".into(),
            },
            Error::InsecureUrl {
                url: "http://x".into(),
            },
            Error::Config { detail: "x".into() },
        ];
        for e in errors {
            let s = e.to_string();
            let first = s.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{s}");
        }
    }
}
