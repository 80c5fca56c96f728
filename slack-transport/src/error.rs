//! The one error type of the crate.

use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can go wrong while connecting or while a connection runs.
///
/// Messages are lowercase and never contain a URL's query string (the Socket Mode `ticket`
/// is a secret) nor a proxy password.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed (the reason says why; the URL itself is not repeated).
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// A `ws://` URL was given while [`Config::allow_insecure_ws`](crate::Config::allow_insecure_ws)
    /// is off, or for a host that is not a loopback address.
    InsecureUrlRefused,
    /// The proxy URL (from the config or the environment) could not be used.
    InvalidProxy {
        /// What is wrong with it.
        reason: String,
    },
    /// An extra root certificate could not be parsed or added.
    InvalidRootCertificate {
        /// What is wrong with it.
        reason: String,
    },
    /// The host name could not be resolved.
    Dns {
        /// The host that was looked up.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The server (or proxy) actively refused the TCP connection.
    ConnectionRefused {
        /// The address that refused.
        addr: String,
    },
    /// No TCP connection could be made within the connect timeout.
    ConnectTimeout {
        /// The address that did not answer.
        addr: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The server's certificate is not trusted (unknown issuer, expired, malformed...).
    CertificateUntrusted {
        /// rustls's reason.
        reason: String,
    },
    /// The server's certificate is valid but not for the host that was asked for.
    HostnameMismatch {
        /// The host that was asked for.
        host: String,
        /// rustls's reason.
        reason: String,
    },
    /// Any other TLS failure (protocol version, alert from the peer, ...).
    Tls {
        /// rustls's reason.
        reason: String,
    },
    /// The proxy, TLS and WebSocket handshakes did not finish within the handshake timeout.
    HandshakeTimeout {
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The server answered the WebSocket upgrade with an HTTP status other than 101.
    Handshake {
        /// The HTTP status code.
        status: u16,
        /// The reason phrase, if any.
        reason: String,
    },
    /// The WebSocket upgrade failed for another reason (bad response, protocol error).
    HandshakeFailed {
        /// What went wrong.
        reason: String,
    },
    /// The proxy refused to open a tunnel (HTTP CONNECT answered with a non-2xx status).
    ProxyRefused {
        /// The HTTP status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The proxy asks for credentials (407) that were missing or wrong.
    ProxyAuthRequired {
        /// Whether credentials were sent.
        credentials_sent: bool,
    },
    /// A frame or message from the peer exceeded `max_frame_size` or `max_message_size`.
    MessageTooLarge {
        /// The announced or accumulated size in bytes.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// Outgoing frames piled up beyond the write buffer limit (the peer stopped reading).
    WriteBufferFull,
    /// The peer broke the WebSocket protocol (bad frame, invalid UTF-8, ...).
    Protocol {
        /// What the peer did wrong.
        reason: String,
    },
    /// An I/O error on the socket.
    Io(io::Error),
    /// One of the connection's threads panicked.
    ThreadPanicked {
        /// The name of the thread.
        thread: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { reason } => write!(f, "invalid websocket url: {reason}"),
            Error::InsecureUrlRefused => f.write_str(
                "refusing an unencrypted ws:// url (use wss://; ws:// is allowed only to a loopback host, with allow_insecure_ws)",
            ),
            Error::InvalidProxy { reason } => write!(f, "invalid proxy: {reason}"),
            Error::InvalidRootCertificate { reason } => {
                write!(f, "invalid extra root certificate: {reason}")
            }
            Error::Dns { host, reason } => write!(f, "cannot resolve host {host}: {reason}"),
            Error::ConnectionRefused { addr } => write!(f, "connection refused by {addr}"),
            Error::ConnectTimeout { addr, timeout } => {
                write!(f, "tcp connect to {addr} timed out after {timeout:?}")
            }
            Error::CertificateUntrusted { reason } => {
                write!(f, "server certificate not trusted: {reason}")
            }
            Error::HostnameMismatch { host, reason } => {
                write!(f, "server certificate is not valid for {host}: {reason}")
            }
            Error::Tls { reason } => write!(f, "tls error: {reason}"),
            Error::HandshakeTimeout { timeout } => {
                write!(f, "handshake did not finish within {timeout:?}")
            }
            Error::Handshake { status, reason } => {
                write!(
                    f,
                    "websocket upgrade refused with http status {status} {reason}"
                )
            }
            Error::HandshakeFailed { reason } => {
                write!(f, "websocket handshake failed: {reason}")
            }
            Error::ProxyRefused { status, reason } => {
                write!(f, "proxy refused the tunnel: {status} {reason}")
            }
            Error::ProxyAuthRequired { credentials_sent } => {
                if *credentials_sent {
                    f.write_str("proxy rejected the credentials (407)")
                } else {
                    f.write_str("proxy requires authentication (407) and none was given")
                }
            }
            Error::MessageTooLarge { size, max } => {
                write!(
                    f,
                    "incoming message of {size} bytes exceeds the limit of {max}"
                )
            }
            Error::WriteBufferFull => f.write_str("write buffer full: the peer stopped reading"),
            Error::Protocol { reason } => write!(f, "websocket protocol error: {reason}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::ThreadPanicked { thread } => write!(f, "thread {thread} panicked"),
        }
    }
}

impl Error {
    /// Whether trying again with the same configuration cannot help: a `ws://` URL that is
    /// not allowed, or an extra root certificate that does not parse.
    pub fn is_fatal_config(&self) -> bool {
        matches!(
            self,
            Error::InsecureUrlRefused | Error::InvalidRootCertificate { .. }
        )
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

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Maps a rustls error (carried inside an `io::Error` by the TLS stream) to our variants.
pub(crate) fn from_rustls(err: &rustls::Error, host: &str) -> Error {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => Error::HostnameMismatch {
            host: host.to_owned(),
            reason: err.to_string(),
        },
        rustls::Error::InvalidCertificate(_) => Error::CertificateUntrusted {
            reason: err.to_string(),
        },
        _ => Error::Tls {
            reason: err.to_string(),
        },
    }
}

/// If `e` wraps a rustls error, returns it.
pub(crate) fn rustls_inner(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
