//! Connection settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use slack_envelope::proxy::{ProxyConfig, ProxyVars};

/// Settings for [`connect`](crate::connect). Build with [`Config::default`] and the
/// builder-style setters.
///
/// ```
/// use std::time::Duration;
/// let config = slack_transport::Config::default()
///     .connect_timeout(Duration::from_secs(5))
///     .proxy(slack_transport::ProxyConfig::None);
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) allow_insecure_ws: bool,
    pub(crate) extra_root_certs_pem: Vec<Arc<[u8]>>,
    pub(crate) proxy: ProxyConfig,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_write_buffer_size: usize,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) tls_config: Option<Arc<rustls::ClientConfig>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow_insecure_ws: false,
            extra_root_certs_pem: Vec::new(),
            proxy: ProxyConfig::FromEnv,
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(3),
            max_frame_size: 4 << 20,
            max_message_size: 8 << 20,
            max_write_buffer_size: 16 << 20,
            tcp_keepalive: Some(Duration::from_secs(30)),
            tls_config: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("allow_insecure_ws", &self.allow_insecure_ws)
            .field("extra_root_certs_pem", &self.extra_root_certs_pem.len())
            .field("proxy", &self.proxy)
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("max_frame_size", &self.max_frame_size)
            .field("max_message_size", &self.max_message_size)
            .field("max_write_buffer_size", &self.max_write_buffer_size)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("custom_tls_config", &self.tls_config.is_some())
            .finish()
    }
}

impl Config {
    /// Allows plain `ws://` URLs to a loopback host (`127.0.0.0/8`, `::1`, `localhost`;
    /// default `false`: only `wss://`). For tests and benchmarks; a Slack URL is always
    /// `wss://`, and a `ws://` URL to any other host is refused even when this is on.
    #[must_use]
    pub fn allow_insecure_ws(mut self, allow: bool) -> Self {
        self.allow_insecure_ws = allow;
        self
    }

    /// Trusts the certificates in this PEM bundle in addition to the Mozilla roots from
    /// `webpki-roots` (corporate TLS inspection, a test CA). May be called several times.
    #[must_use]
    pub fn add_root_certs_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_root_certs_pem.push(Arc::from(pem.as_ref()));
        self
    }

    /// Where the proxy comes from (default [`ProxyConfig::FromEnv`]).
    #[must_use]
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = proxy;
        self
    }

    /// Timeout of each TCP connect attempt, one per resolved address (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bound on the proxy CONNECT, TLS and WebSocket handshakes together (default 10 s).
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long to wait for the peer's close frame after ours (or for our close reply to be
    /// written) before dropping the socket (default 3 s).
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Largest accepted incoming frame in bytes (default 4 MiB).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Largest accepted incoming message (all its fragments) in bytes (default 8 MiB).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Largest amount of outgoing data buffered while the peer does not read (default
    /// 16 MiB). Past it the connection fails with [`Error::WriteBufferFull`](crate::Error).
    #[must_use]
    pub fn max_write_buffer_size(mut self, bytes: usize) -> Self {
        self.max_write_buffer_size = bytes;
        self
    }

    /// TCP keepalive idle time, or `None` to leave keepalive off (default 30 s).
    #[must_use]
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.tcp_keepalive = idle;
        self
    }

    /// Uses this rustls configuration instead of building one from `webpki-roots` and
    /// [`add_root_certs_pem`](Self::add_root_certs_pem). The transport sets no ALPN.
    #[must_use]
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls_config = Some(config);
        self
    }
}
