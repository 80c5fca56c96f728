//! A blocking, threaded WebSocket transport for Slack Socket Mode.
//!
//! [`connect`] opens a WebSocket (TCP, optional HTTP CONNECT proxy, rustls TLS with the
//! Mozilla roots plus optional extra roots, tungstenite) and hands back a [`Connection`]: a
//! crossbeam sender of [`Outgoing`] frames and a receiver of [`Incoming`] events, moved by
//! two named threads ([`IoThreads`]); a caller that answers on a thread of its own can
//! write without waking either with [`IoThreads::writer`]. The transport moves frames and
//! decides nothing: it
//! does not parse JSON, ack envelopes, ping on a schedule or reconnect (that is
//! `slack-envelope`'s job). It answers the peer's pings and bounds the close handshake.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use slack_transport::{Config, Incoming, Outgoing};
//!
//! // A fake Slack on loopback, with its own certificate authority.
//! let slack = slack_testkit::FakeSlack::builder().tls(true).start()?;
//! let ca = slack.ca_pem().ok_or("the fake has no CA")?;
//! let config = Config::default()
//!     .add_root_certs_pem(ca)
//!     .proxy(slack_transport::ProxyConfig::None);
//! let (conn, threads) = slack_transport::connect(&slack.ws_url(), &config)?;
//!
//! // Slack says hello first.
//! if let Incoming::Text(hello) = conn.receiver.recv_timeout(Duration::from_secs(5))? {
//!     assert!(hello.contains("\"hello\""));
//! }
//! conn.sender.send(Outgoing::Close { code: 1000, reason: String::new() })?;
//! while let Ok(event) = conn.receiver.recv_timeout(Duration::from_secs(5)) {
//!     if let Incoming::Closed { by, .. } = event {
//!         assert_eq!(by, slack_transport::ClosedBy::Local);
//!         break;
//!     }
//! }
//! drop(conn);
//! threads.join()?;
//! # Ok(())
//! # }
//! ```
//!
//! URLs are secrets (the `ticket` query parameter): they appear in logs and errors with
//! their query replaced by `?<redacted>`, and proxy passwords never appear at all.
//!
//! # Logging without secrets
//!
//! At trace level, `tungstenite` (used here) logs the socket URL with its ticket and
//! every received frame (Slack's payloads carry a verification token). Install your logger with
//! `slack_transport::logging::install(my_logger, log::LevelFilter::Trace)` (or wrap it in
//! [`logging::SecretFilter`]): those records are capped at a safe level, everything else
//! passes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod io;
mod proxy;
mod stream;
mod url;

use std::time::Instant;

pub use config::{Config, ProxyConfig, ProxyVars};
pub use error::Error;
pub use io::{ClosedBy, Connection, DirectWriter, Incoming, IoThreads, Outgoing};
pub use slack_envelope::logging;

use std::sync::Arc;

use crossbeam_channel::Sender;

use stream::{Stream, Tcp};
use url::WsUrl;

/// How much tungstenite reads from the socket at a time. Its default (128 KiB) costs a
/// memset of up to that much before every read, the one that returns `WouldBlock` included:
/// with one small frame per wake-up, as Slack sends them, that memset was 95% of the
/// instructions of a round trip. Frames larger than this still arrive whole (tungstenite
/// reserves room for the full frame), in more reads.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// Opens a WebSocket to `url` (`wss://`, or `ws://` when allowed) and starts its threads.
///
/// Blocks for DNS, the TCP connect (each address bounded by
/// [`Config::connect_timeout`]) and the proxy + TLS + WebSocket handshakes (together bounded
/// by [`Config::handshake_timeout`]). The proxy comes from [`Config::proxy`] (by default the
/// `HTTPS_PROXY` / `NO_PROXY` family of environment variables).
pub fn connect(url: &str, config: &Config) -> Result<(Connection, IoThreads), Error> {
    connect_decoded(url, config, |text| text)
}

/// [`connect`], with every text frame turned into a `T` by `decode` on the connection's I/O
/// thread, before it reaches [`Connection::receiver`].
///
/// The transport still does not look inside frames; this only moves the caller's own
/// decoding (say, JSON parsing) off the caller's thread, so that it runs while the caller
/// works on the frame before (and, with several connections, on each connection's own
/// thread). `decode` runs outside the connection's lock and must not block. If it panics,
/// the connection is closed (code 1000) and ends with [`Incoming::Closed`] as usual.
///
/// ```no_run
/// # fn main() -> Result<(), slack_transport::Error> {
/// use slack_transport::{Config, Incoming};
///
/// let (conn, _threads) =
///     slack_transport::connect_decoded("wss://example.com/link", &Config::default(), |text| {
///         text.len()
///     })?;
/// if let Ok(Incoming::Text(len)) = conn.receiver.recv() {
///     println!("a text frame of {len} bytes");
/// }
/// # Ok(())
/// # }
/// ```
pub fn connect_decoded<T, F>(
    url: &str,
    config: &Config,
    decode: F,
) -> Result<(Connection<T>, IoThreads), Error>
where
    T: Send + 'static,
    F: Fn(String) -> T + Send + Sync + 'static,
{
    connect_with_env(url, config, &|name| std::env::var(name).ok(), decode)
}

/// [`connect_decoded`] with the environment read through `lookup` (tests inject their own).
pub(crate) fn connect_with_env<T, F>(
    url: &str,
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
    decode: F,
) -> Result<(Connection<T>, IoThreads), Error>
where
    T: Send + 'static,
    F: Fn(String) -> T + Send + Sync + 'static,
{
    let (tx, receiver) = crossbeam_channel::unbounded();
    let sink = Arc::new(io::Decoding { tx, decode });
    let (sender, threads) = open(url, config, lookup, sink)?;
    Ok((Connection { sender, receiver }, threads))
}

/// Opens the WebSocket and starts its threads, which deliver events to `sink` (not generic:
/// one copy of the handshake code whatever the callers decode to).
fn open(
    url: &str,
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
    sink: Arc<dyn io::Sink>,
) -> Result<(Sender<Outgoing>, IoThreads), Error> {
    let target = WsUrl::parse(url)?;
    let plain_allowed =
        config.allow_insecure_ws && slack_envelope::proxy::is_loopback_host(&target.host);
    if !target.secure && !plain_allowed {
        return Err(Error::InsecureUrlRefused);
    }
    // Configuration errors before any network traffic.
    let tls = if target.secure {
        Some(stream::client_config(config)?)
    } else {
        None
    };
    let proxy = proxy::choose(&config.proxy, &target, lookup)?;
    let label = target.redacted();
    match &proxy {
        Some(p) => log::debug!("connecting to {label} through proxy {p:?}"),
        None => log::debug!("connecting to {label}"),
    }

    let (dial_host, dial_port) = match &proxy {
        Some(p) => (p.host(), p.port()),
        None => (target.host.as_str(), target.port),
    };
    let tcp = stream::tcp_connect(dial_host, dial_port, config)?;
    let timeout = config.handshake_timeout;
    let mut tcp = Tcp::Blocking {
        stream: tcp,
        deadline: Instant::now() + timeout,
    };
    if let Some(p) = &proxy {
        proxy::tunnel(&mut tcp, &target.authority(), p).map_err(|e| match e {
            Error::Io(io) => stream::map_handshake_io(io, &target.host, timeout),
            other => other,
        })?;
        log::debug!("proxy tunnel to {} open", target.authority());
    }
    let stream = match tls {
        Some(tls) => Stream::Tls(Box::new(stream::tls_handshake(
            tls,
            &target.host,
            tcp,
            timeout,
        )?)),
        None => Stream::Plain(tcp),
    };

    let ws_config = tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_frame_size(Some(config.max_frame_size))
        .max_message_size(Some(config.max_message_size))
        .max_write_buffer_size(config.max_write_buffer_size.max(256 * 1024));
    let (mut ws, _response) =
        tungstenite::client::client_with_config(target.full(), stream, Some(ws_config))
            .map_err(|e| handshake_error(e, &target.host, timeout))?;
    ws.get_mut().tcp_mut().make_polled()?;
    io::spawn(ws, config.close_timeout, label, sink)
}

fn handshake_error(
    e: tungstenite::HandshakeError<tungstenite::ClientHandshake<Stream>>,
    host: &str,
    timeout: std::time::Duration,
) -> Error {
    let e = match e {
        tungstenite::HandshakeError::Interrupted(_) => {
            return Error::HandshakeTimeout { timeout };
        }
        tungstenite::HandshakeError::Failure(e) => e,
    };
    match e {
        tungstenite::Error::Http(response) => Error::Handshake {
            status: response.status().as_u16(),
            reason: response
                .status()
                .canonical_reason()
                .unwrap_or("")
                .to_owned(),
        },
        tungstenite::Error::Io(io) => stream::map_handshake_io(io, host, timeout),
        tungstenite::Error::Url(u) => Error::InvalidUrl {
            reason: u.to_string(),
        },
        tungstenite::Error::HttpFormat(f) => Error::InvalidUrl {
            reason: f.to_string(),
        },
        other => Error::HandshakeFailed {
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The proxy comes from an injected environment (never the process's own).
    #[test]
    fn proxy_and_no_proxy_from_injected_environment() {
        let slack = slack_testkit::FakeSlack::builder()
            .tls(true)
            .start()
            .unwrap();
        let proxy = slack_testkit::Proxy::start(Some(("bob", "pw"))).unwrap();
        let config = Config::default()
            .add_root_certs_pem(slack.ca_pem().unwrap())
            .close_timeout(Duration::from_millis(300));
        let proxy_url = proxy.url();

        let env = |name: &str| (name == "https_proxy").then(|| proxy_url.clone());
        let (conn, threads) =
            connect_with_env(&slack.ws_url(), &config, &env, String::from).unwrap();
        assert!(matches!(
            conn.receiver.recv_timeout(Duration::from_secs(10)),
            Ok(Incoming::Text(_))
        ));
        assert_eq!(proxy.tunnels().len(), 1);
        drop(conn);
        threads.join().unwrap();

        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some(proxy_url.clone()),
            "NO_PROXY" => Some("example.com, 127.0.0.0/8".to_owned()),
            _ => None,
        };
        let (conn, threads) =
            connect_with_env(&slack.ws_url(), &config, &env, String::from).unwrap();
        assert!(matches!(
            conn.receiver.recv_timeout(Duration::from_secs(10)),
            Ok(Incoming::Text(_))
        ));
        assert_eq!(proxy.tunnels().len(), 1, "NO_PROXY must bypass the proxy");
        drop(conn);
        threads.join().unwrap();
    }

    #[test]
    fn configuration_errors_come_before_any_network_traffic() {
        let bad_pem = Config::default().add_root_certs_pem("not a pem");
        assert!(matches!(
            connect_with_env("wss://192.0.2.1/", &bad_pem, &|_| None, String::from),
            Err(Error::InvalidRootCertificate { .. })
        ));
        let bad_proxy = Config::default().proxy(ProxyConfig::Explicit("socks5://p:1".into()));
        assert!(matches!(
            connect_with_env("wss://192.0.2.1/", &bad_proxy, &|_| None, String::from),
            Err(Error::InvalidProxy { .. })
        ));
        assert!(matches!(
            connect_with_env(
                "https://192.0.2.1/",
                &Config::default(),
                &|_| None,
                String::from
            ),
            Err(Error::InvalidUrl { .. })
        ));
        // ws:// only to a loopback host, and only when allowed; never worth retrying.
        let insecure = Config::default().allow_insecure_ws(true);
        for url in [
            "ws://192.0.2.1/",
            "ws://localhost.example.com/",
            "ws://[2001:db8::1]/",
        ] {
            let e = connect_with_env(url, &insecure, &|_| None, String::from).unwrap_err();
            assert!(matches!(e, Error::InsecureUrlRefused), "{url}: {e}");
            assert!(e.is_fatal_config());
        }
        let e = connect_with_env(
            "ws://127.0.0.1:1/",
            &Config::default(),
            &|_| None,
            String::from,
        )
        .unwrap_err();
        assert!(matches!(e, Error::InsecureUrlRefused), "{e}");
    }
}
