//! The fake's configuration, as the builder sets it.

use std::time::Duration;

/// The fake's configuration (set by the builder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub tls: bool,
    pub cert_names: Vec<String>,
    pub port: u16,
    pub ack_timeout: Duration,
    pub max_retries: u32,
    pub max_connections: usize,
    pub app_token: String,
    pub bot_token: String,
    pub hello_delay: Duration,
    pub send_hello: bool,
    pub refresh_grace: Duration,
    /// When a link opened with `debug_reconnects=true` gets `refresh_requested`.
    pub debug_reconnect_after: Duration,
    pub close_timeout: Duration,
    pub ping_interval: Option<Duration>,
    pub single_use_tickets: bool,
    pub approximate_connection_time: u64,
    pub app_id: String,
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: String,
    pub bot_id: String,
}
