//! `slack-testkit`: a fake Slack on loopback for offline tests of Slack apps.
//!
//! [`FakeSlack`] serves the Web API over HTTP (or HTTPS with a throwaway CA) and Socket Mode over
//! WebSocket (ws or wss) on `127.0.0.1`. Tests push envelopes, wait (always with a timeout) for
//! acks and Web API calls, inspect connections, inject faults and shut it down. [`Proxy`] is an
//! HTTP CONNECT proxy for proxy tests. Everything is blocking std threads; no async runtime.
//!
//! ```
//! use std::time::Duration;
//! use std::io::{Read, Write};
//! use serde_json::json;
//! use slack_testkit::FakeSlack;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slack = FakeSlack::start()?;
//!
//! // A Web API call, as any HTTP client would make it.
//! let addr = slack.api_url().trim_start_matches("http://").split('/').next().unwrap_or("").to_string();
//! let mut tcp = std::net::TcpStream::connect(&addr)?;
//! let body = r#"{"channel":"C1","text":"hi"}"#;
//! write!(tcp, "POST /api/chat.postMessage HTTP/1.1\r\nHost: {addr}\r\n\
//!     Authorization: Bearer {}\r\nContent-Type: application/json; charset=utf-8\r\n\
//!     Content-Length: {}\r\nConnection: close\r\n\r\n{body}", slack.bot_token(), body.len())?;
//! let mut answer = String::new();
//! tcp.read_to_string(&mut answer)?;
//! assert!(answer.contains(r#""ok":true"#));
//! let call = slack.wait_for_call("chat.postMessage", Duration::from_secs(5))?;
//! assert_eq!(call.arg("text"), Some("hi"));
//!
//! // A Socket Mode client: connect, read hello, receive an event, ack it.
//! let (mut ws, _) = tungstenite::connect(slack.ws_url())?;
//! let hello = ws.read()?;
//! assert!(hello.to_text()?.contains(r#""type":"hello""#));
//! let id = slack.send_event(json!({"type": "app_mention", "text": "<@U0BOT> hi", "channel": "C1"}))?;
//! let envelope: serde_json::Value = serde_json::from_str(ws.read()?.to_text()?)?;
//! assert_eq!(envelope["envelope_id"], id.as_str());
//! ws.send(tungstenite::Message::text(json!({"envelope_id": id}).to_string()))?;
//! let ack = slack.wait_for_ack(&id, Duration::from_secs(5))?;
//! assert_eq!(ack.envelope_id, id);
//! slack.shutdown();
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Module map. Each module uses only the modules after its arrow, so the module graph has no
// cycles; `lib.rs` (`FakeSlack` and its builder) sits on top and uses them all.
//
//   accept  -> web, ws, server, http, util          accept loop, each connection's HTTP phase
//   web     -> server, methods, http, types, util   Web API routes, tokens, rate limits
//   ws      -> server, stream, http, types, util    one Socket Mode WebSocket connection
//   server  -> config, methods, stream, types, util shared state, delivery, redelivery timer
//   methods -> config, util                         the fake workspace, stubs
//   stream  -> types                                the benchmark stream generator
//   proxy   -> error, http, util                    the HTTP CONNECT proxy
//   tls     -> error                                throwaway CA and server certificate
//   error   -> types
//   config, http, types, util                       leaves: no imports from this crate

mod accept;
mod config;
mod error;
mod http;
mod methods;
mod proxy;
mod server;
mod stream;
mod tls;
mod types;
mod util;
mod web;
mod ws;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use error::Error;
pub use proxy::{Proxy, Tunnel};
pub use types::{
    Ack, ConnId, ConnectionInfo, Event, Fault, Garbage, OpenError, StreamReport, StreamSpec,
    WebCall,
};

use config::Config;
use server::{Cmd, Shared, State};
use util::lock;

/// The default accepted app-level token.
pub const DEFAULT_APP_TOKEN: &str = "xapp-1-A111-111-testkit";
/// The default accepted bot token.
pub const DEFAULT_BOT_TOKEN: &str = "xoxb-111-222-testkit";

/// A fake Slack on `127.0.0.1`: Web API + Socket Mode, optional TLS, faults on demand.
///
/// It shuts down (threads joined, ports closed) on [`FakeSlack::shutdown`] and on drop.
pub struct FakeSlack {
    shared: Arc<Shared>,
    ca_pem: Option<String>,
    acceptor: Option<JoinHandle<()>>,
    timer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeSlack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSlack")
            .field("addr", &self.shared.addr)
            .field("tls", &self.shared.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Configures and starts a [`FakeSlack`].
#[derive(Debug, Clone)]
pub struct FakeSlackBuilder {
    cfg: Config,
}

impl Default for FakeSlackBuilder {
    fn default() -> Self {
        FakeSlackBuilder {
            cfg: Config {
                tls: false,
                cert_names: vec!["localhost".into(), "127.0.0.1".into()],
                port: 0,
                ack_timeout: Duration::from_secs(3),
                max_retries: 3,
                max_connections: 10,
                app_token: DEFAULT_APP_TOKEN.into(),
                bot_token: DEFAULT_BOT_TOKEN.into(),
                hello_delay: Duration::ZERO,
                send_hello: true,
                refresh_grace: Duration::from_secs(2),
                debug_reconnect_after: Duration::from_secs(360),
                close_timeout: Duration::from_secs(1),
                ping_interval: None,
                single_use_tickets: true,
                approximate_connection_time: 18060,
                app_id: "A111".into(),
                team_id: "T111".into(),
                team_name: "testkit".into(),
                bot_user_id: "U0BOT".into(),
                bot_id: "B0BOT".into(),
            },
        }
    }
}

impl FakeSlackBuilder {
    /// Serve HTTPS and wss with a freshly generated CA (see [`FakeSlack::ca_pem`]). Default off.
    pub fn tls(mut self, on: bool) -> Self {
        self.cfg.tls = on;
        self
    }

    /// The names (DNS names or IP addresses) on the server certificate. Default
    /// `["localhost", "127.0.0.1"]`; give other names to test a certificate for the wrong host.
    pub fn cert_names(mut self, names: Vec<String>) -> Self {
        self.cfg.cert_names = names;
        self
    }

    /// Listen on this port (0, the default, picks an ephemeral one).
    pub fn port(mut self, port: u16) -> Self {
        self.cfg.port = port;
        self
    }

    /// How long an envelope may stay un-acked before it is redelivered. Default 3 s, like Slack.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.cfg.ack_timeout = d;
        self
    }

    /// How many times an un-acked envelope is redelivered. Default 3, like Slack.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.cfg.max_retries = n;
        self
    }

    /// How many WebSockets may be open at once; the next one gets `too_many_websockets`. Default 10.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.cfg.max_connections = n;
        self
    }

    /// The accepted app-level token (`xapp-…`).
    pub fn app_token(mut self, token: impl Into<String>) -> Self {
        self.cfg.app_token = token.into();
        self
    }

    /// The accepted bot token (`xoxb-…`).
    pub fn bot_token(mut self, token: impl Into<String>) -> Self {
        self.cfg.bot_token = token.into();
        self
    }

    /// How long after the upgrade a connection whose URL has `debug_reconnects=true` gets
    /// `refresh_requested` (followed through like [`FakeSlack::disconnect`]), as Slack does
    /// after about 360 s. Default 360 s; tests shorten it to exercise refreshes.
    pub fn debug_reconnect_after(mut self, d: Duration) -> Self {
        self.cfg.debug_reconnect_after = d;
        self
    }

    /// Wait this long after the upgrade before sending `hello`. Default 0.
    pub fn hello_delay(mut self, d: Duration) -> Self {
        self.cfg.hello_delay = d;
        self
    }

    /// Never send `hello` (envelopes are then delivered right after the upgrade).
    pub fn no_hello(mut self) -> Self {
        self.cfg.send_hello = false;
        self
    }

    /// After `disconnect` with `refresh_requested` (or any reason but `warning`, `link_disabled`
    /// and `too_many_websockets`), keep the old link this long, then close it. Default 2 s.
    pub fn refresh_grace(mut self, d: Duration) -> Self {
        self.cfg.refresh_grace = d;
        self
    }

    /// How long the fake waits for the client's close frame after sending its own. Default 1 s.
    pub fn close_timeout(mut self, d: Duration) -> Self {
        self.cfg.close_timeout = d;
        self
    }

    /// Send a WebSocket ping on every connection at this interval, as Slack does. Default none.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.cfg.ping_interval = Some(d);
        self
    }

    /// Whether a Socket Mode URL works only once (default true, like Slack's tickets).
    pub fn single_use_tickets(mut self, on: bool) -> Self {
        self.cfg.single_use_tickets = on;
        self
    }

    /// The `approximate_connection_time` announced in `hello` (seconds). Default 18060.
    pub fn approximate_connection_time(mut self, secs: u64) -> Self {
        self.cfg.approximate_connection_time = secs;
        self
    }

    /// The bot's user id returned by `auth.test`. Default `U0BOT`.
    pub fn bot_user_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.bot_user_id = id.into();
        self
    }

    /// The app id (`connection_info.app_id`, `api_app_id`). Default `A111`.
    pub fn app_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.app_id = id.into();
        self
    }

    /// The team id. Default `T111`.
    pub fn team_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.team_id = id.into();
        self
    }

    /// Starts the fake.
    pub fn start(self) -> Result<FakeSlack, Error> {
        let cfg = self.cfg;
        let (tls, ca_pem) = if cfg.tls {
            let material = tls::generate(&cfg.cert_names)?;
            (Some(material.config), Some(material.ca_pem))
        } else {
            (None, None)
        };
        let listener = TcpListener::bind(("127.0.0.1", cfg.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg,
            addr,
            tls,
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            shutdown: AtomicBool::new(false),
            sockets: Mutex::new(Default::default()),
            threads: Mutex::new(Vec::new()),
            subscribers: Mutex::new(Vec::new()),
            socket_ids: AtomicU64::new(1),
        });
        let sh = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("fake-slack-accept".into())
            .spawn(move || accept::accept_loop(sh, listener))?;
        let sh = shared.clone();
        let timer = std::thread::Builder::new()
            .name("fake-slack-timer".into())
            .spawn(move || server::timer_loop(sh))?;
        log::debug!("fake slack listening on {addr}");
        Ok(FakeSlack {
            shared,
            ca_pem,
            acceptor: Some(acceptor),
            timer: Some(timer),
        })
    }
}

impl FakeSlack {
    /// Starts a fake with the defaults: plain HTTP and ws on an ephemeral `127.0.0.1` port.
    pub fn start() -> Result<FakeSlack, Error> {
        FakeSlackBuilder::default().start()
    }

    /// A builder for other settings.
    pub fn builder() -> FakeSlackBuilder {
        FakeSlackBuilder::default()
    }

    /// The socket address the fake listens on (HTTP and WebSocket share it).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The Web API base URL, with a trailing slash: `http://127.0.0.1:PORT/api/`
    /// (`https://` with TLS).
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.shared.base())
    }

    /// A fresh, valid Socket Mode URL (`ws://127.0.0.1:PORT/link/?ticket=…&app_id=…`, `wss://` with
    /// TLS), the same kind `apps.connections.open` hands out. Tickets are single-use by default.
    pub fn ws_url(&self) -> String {
        let mut st = lock(&self.shared.state);
        self.shared.new_ws_url(&mut st)
    }

    /// A fresh response URL (`…/response/T111/ID`), valid for 5 posts, as slash commands carry.
    pub fn response_url(&self) -> String {
        let mut st = lock(&self.shared.state);
        self.shared.new_response_url(&mut st)
    }

    /// The throwaway CA certificate (PEM) when TLS is on.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The accepted app-level token.
    pub fn app_token(&self) -> String {
        self.shared.cfg.app_token.clone()
    }

    /// The accepted bot token.
    pub fn bot_token(&self) -> String {
        self.shared.cfg.bot_token.clone()
    }

    /// The bot's user id (as `auth.test` reports it).
    pub fn bot_user_id(&self) -> String {
        self.shared.cfg.bot_user_id.clone()
    }

    /// Delivers a whole envelope to one ready connection (round robin), or queues it until a
    /// connection is ready. `envelope_id` is added when missing, and `retry_attempt`,
    /// `retry_reason` and `accepts_response_payload` get defaults. Returns the `envelope_id`.
    pub fn send_envelope(&self, frame: Value) -> Result<String, Error> {
        let mut frame = frame;
        let obj = frame
            .as_object_mut()
            .ok_or_else(|| Error::InvalidInput("an envelope must be a json object".into()))?;
        let id = match obj.get("envelope_id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => util::uuid_like(),
        };
        obj.insert("envelope_id".into(), Value::String(id.clone()));
        obj.entry("accepts_response_payload")
            .or_insert(Value::Bool(false));
        obj.entry("retry_attempt").or_insert(json!(0));
        obj.entry("retry_reason").or_insert(json!(""));
        if self.shared.is_shutdown() {
            return Err(Error::Shutdown);
        }
        let mut st = lock(&self.shared.state);
        self.shared.deliver(&mut st, frame, id.clone(), 0);
        drop(st);
        self.shared.cond.notify_all();
        Ok(id)
    }

    /// Wraps an inner event (`{"type":"message",…}`) in an `event_callback` payload with a fresh
    /// `event_id` and an `events_api` envelope, and delivers it. Returns the `envelope_id`.
    pub fn send_event(&self, event: Value) -> Result<String, Error> {
        let payload = self.event_callback(event);
        self.send_envelope(json!({
            "type": "events_api",
            "accepts_response_payload": false,
            "payload": payload,
        }))
    }

    /// The `event_callback` payload `send_event` would build around `event`.
    pub fn event_callback(&self, event: Value) -> Value {
        let cfg = &self.shared.cfg;
        let now = util::unix_now() as u64;
        json!({
            "token": "verification-token",
            "team_id": cfg.team_id,
            "api_app_id": cfg.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": util::slack_id("Ev"),
            "event_time": now,
            "authorizations": [{
                "enterprise_id": null,
                "team_id": cfg.team_id,
                "user_id": cfg.bot_user_id,
                "is_bot": true,
                "is_enterprise_install": false,
            }],
            "is_ext_shared_channel": false,
            "event_context": format!("4-{}", util::slack_id("")),
        })
    }

    /// Delivers a `slash_commands` envelope for `command` (`"/deploy"`) with `text`, carrying a
    /// fresh `response_url` and `trigger_id`. Returns the `envelope_id`.
    pub fn send_slash_command(&self, command: &str, text: &str) -> Result<String, Error> {
        let cfg = &self.shared.cfg;
        let response_url = self.response_url();
        self.send_envelope(json!({
            "type": "slash_commands",
            "accepts_response_payload": true,
            "payload": {
                "token": "verification-token",
                "team_id": cfg.team_id,
                "team_domain": cfg.team_name,
                "channel_id": "C111",
                "channel_name": "general",
                "user_id": "U111",
                "user_name": "tester",
                "command": command,
                "text": text,
                "api_app_id": cfg.app_id,
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": format!("{}.{}.{}", util::rand_u64() % 1_000_000, util::rand_u64() % 1_000_000, util::slack_id("")),
            },
        }))
    }

    /// Delivers an `interactive` envelope with this payload (`block_actions`, `shortcut`,
    /// `view_submission`, …). `accepts_response_payload` is true for `view_submission` and
    /// `block_suggestion`; `block_actions` and `message_action` payloads get a `response_url`
    /// when they have none. Returns the `envelope_id`.
    pub fn send_interactive(&self, payload: Value) -> Result<String, Error> {
        let mut payload = payload;
        let kind = payload
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if matches!(kind.as_str(), "block_actions" | "message_action") {
            if let Some(obj) = payload.as_object_mut() {
                if !obj.contains_key("response_url") {
                    obj.insert("response_url".into(), Value::String(self.response_url()));
                }
            }
        }
        let accepts = matches!(kind.as_str(), "view_submission" | "block_suggestion");
        self.send_envelope(json!({
            "type": "interactive",
            "accepts_response_payload": accepts,
            "payload": payload,
        }))
    }

    fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(v) = check(&st) {
                return Ok(v);
            }
            if self.shared.is_shutdown() {
                return Err(Error::Shutdown);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout(what.to_string()));
            }
            st = self
                .shared
                .cond
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits until at least `n` WebSockets are open and have been sent `hello`.
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> Result<(), Error> {
        let need_hello = self.shared.cfg.send_hello;
        self.wait_until(timeout, &format!("{n} open connection(s)"), |st| {
            let count = st
                .conns
                .values()
                .filter(|c| c.info.open && !c.info.refused && (!need_hello || c.info.hello_sent))
                .count();
            (count >= n).then_some(())
        })
    }

    /// Waits until the connection's WebSocket is closed.
    pub fn wait_for_close(&self, conn: ConnId, timeout: Duration) -> Result<ConnectionInfo, Error> {
        self.wait_until(timeout, &format!("connection {conn} to close"), |st| {
            st.conns
                .get(&conn.0)
                .filter(|c| !c.info.open)
                .map(|c| c.info.clone())
        })
    }

    /// Waits for the ack of this envelope (or of any redelivery of it) and returns the first one.
    pub fn wait_for_ack(&self, envelope_id: &str, timeout: Duration) -> Result<Ack, Error> {
        self.wait_until(
            timeout,
            &format!("the ack of envelope {envelope_id}"),
            |st| {
                st.acks
                    .iter()
                    .find(|a| a.envelope_id == envelope_id || a.first_envelope_id == envelope_id)
                    .cloned()
            },
        )
    }

    /// Waits until at least `n` acks in total have arrived; returns them all.
    pub fn wait_for_acks(&self, n: usize, timeout: Duration) -> Result<Vec<Ack>, Error> {
        self.wait_until(timeout, &format!("{n} ack(s)"), |st| {
            (st.acks.len() >= n).then(|| st.acks.clone())
        })
    }

    /// Every ack received so far, in order.
    pub fn acks(&self) -> Vec<Ack> {
        lock(&self.shared.state).acks.clone()
    }

    /// Waits for the first recorded call of `method` (calls already recorded count) and returns it.
    /// Use `"response_url"` for posts to response URLs.
    pub fn wait_for_call(&self, method: &str, timeout: Duration) -> Result<WebCall, Error> {
        self.wait_until(timeout, &format!("a call of {method}"), |st| {
            st.calls.iter().find(|c| c.method == method).cloned()
        })
    }

    /// Waits until `method` has been called at least `n` times; returns those calls in order.
    pub fn wait_for_calls(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<WebCall>, Error> {
        self.wait_until(timeout, &format!("{n} call(s) of {method}"), |st| {
            let calls: Vec<WebCall> = st
                .calls
                .iter()
                .filter(|c| c.method == method)
                .cloned()
                .collect();
            (calls.len() >= n).then_some(calls)
        })
    }

    /// Every Web API call answered so far, in order.
    pub fn calls(&self) -> Vec<WebCall> {
        lock(&self.shared.state).calls.clone()
    }

    /// Every WebSocket connection so far (open and closed), by id.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let st = lock(&self.shared.state);
        let mut v: Vec<ConnectionInfo> = st.conns.values().map(|c| c.info.clone()).collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// The ids of the open (not refused) connections.
    pub fn open_connections(&self) -> Vec<ConnId> {
        self.connections()
            .into_iter()
            .filter(|c| c.open && !c.refused)
            .map(|c| c.id)
            .collect()
    }

    fn command(&self, conn: ConnId, cmd: Cmd) -> Result<(), Error> {
        let st = lock(&self.shared.state);
        match st.conns.get(&conn.0) {
            Some(c) if c.info.open && c.send(cmd) => Ok(()),
            _ => Err(Error::NoSuchConnection(conn)),
        }
    }

    /// Sends `{"type":"disconnect","reason":…}` and follows through like Slack: `warning` only
    /// warns; `link_disabled` and `too_many_websockets` close right away; any other reason
    /// (`refresh_requested`) stops new deliveries to that link, keeps it open for the refresh
    /// grace (acks still count), then closes it.
    pub fn disconnect(&self, conn: ConnId, reason: &str) -> Result<(), Error> {
        self.command(conn, Cmd::Disconnect(reason.to_string()))
    }

    /// Injects a fault on one connection.
    pub fn fault(&self, conn: ConnId, fault: Fault) -> Result<(), Error> {
        self.command(conn, Cmd::Fault(fault))
    }

    /// Streams copies of an envelope to one connection for benchmarks: the connection's thread
    /// writes them keeping `spec.in_flight` un-acked and returns when all `spec.count` are acked
    /// (see [`StreamSpec`]), so the measurement is not limited by one call per envelope. The
    /// report has `aborted` set when the connection closed first. Fails with
    /// [`Error::Timeout`] (and stops the stream) after `spec.timeout`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use slack_testkit::{FakeSlack, StreamSpec};
    ///
    /// let slack = FakeSlack::start()?;
    /// let (mut ws, _) = tungstenite::connect(slack.ws_url())?;
    /// ws.read()?; // hello
    /// let conn = slack.open_connections()[0];
    /// let client = std::thread::spawn(move || {
    ///     for _ in 0..10 {
    ///         let text = ws.read().unwrap().into_text().unwrap();
    ///         let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    ///         let ack = serde_json::json!({"envelope_id": v["envelope_id"]}).to_string();
    ///         ws.send(tungstenite::Message::text(ack)).unwrap();
    ///     }
    ///     ws
    /// });
    /// let report = slack.stream_envelopes(conn, StreamSpec {
    ///     template: r#"{"envelope_id":"b-{{seq}}","type":"events_api","payload":{}}"#.into(),
    ///     count: 10,
    ///     in_flight: 2,
    ///     round_trips: true,
    ///     timeout: Duration::from_secs(10),
    /// })?;
    /// assert_eq!(report.acked, 10);
    /// assert_eq!(report.round_trips.len(), 10);
    /// drop(client.join());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_envelopes(&self, conn: ConnId, spec: StreamSpec) -> Result<StreamReport, Error> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job = stream::StreamJob::new(&spec, tx).ok_or_else(|| {
            Error::InvalidInput(format!(
                "the stream template needs \"envelope_id\":\"…{}…\"",
                StreamSpec::SEQ
            ))
        })?;
        self.command(conn, Cmd::Stream(Box::new(job)))?;
        match rx.recv_timeout(spec.timeout) {
            Ok(report) => Ok(report),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                let _ = self.command(conn, Cmd::StopStream);
                Err(Error::Timeout(format!(
                    "a stream of {} envelope(s) to be acked",
                    spec.count
                )))
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Error::Shutdown),
        }
    }

    /// Makes the next `times` calls of `apps.connections.open` fail with `error`.
    pub fn fail_connections_open(&self, times: usize, error: OpenError) {
        let mut st = lock(&self.shared.state);
        for _ in 0..times {
            st.open_failures.push_back(error.clone());
        }
    }

    /// Makes the next `times` successful calls of `apps.connections.open` answer with `url`
    /// instead of a fresh ticket for this fake: a `ws://` URL for a client that must insist on
    /// `wss://`, another server (one with an untrusted certificate, a closed port), and so on.
    pub fn serve_socket_urls(&self, url: &str, times: usize) {
        let mut st = lock(&self.shared.state);
        for _ in 0..times {
            st.open_urls.push_back(url.to_string());
        }
    }

    /// Answers the next `times` calls of `method` (or `"response_url"`) with HTTP 429,
    /// `Retry-After: retry_after_secs` and `{"ok":false,"error":"ratelimited"}`.
    pub fn rate_limit(&self, method: &str, retry_after_secs: u64, times: usize) {
        lock(&self.shared.state)
            .rate_limits
            .insert(method.to_string(), (retry_after_secs, times));
    }

    /// Answers every later call of Web API `method` `delay` after it arrives (a slow Slack,
    /// or a handler caught in the middle of its call); `Duration::ZERO` removes the delay.
    pub fn delay_method(&self, method: &str, delay: Duration) {
        let mut st = lock(&self.shared.state);
        if delay.is_zero() {
            st.delays.remove(method);
        } else {
            st.delays.insert(method.to_string(), delay);
        }
    }

    /// Answers every later call of Web API `method` with `response` (a JSON object; add
    /// `"ok": true` yourself, it is sent as given), after the token check. Replaces an
    /// earlier stub of the same method. For users' tests of methods the fake does not model,
    /// or to force an edge case.
    pub fn stub(&self, method: &str, response: Value) {
        lock(&self.shared.state)
            .web
            .stubs
            .insert(method.to_string(), response);
    }

    /// Answers every later call of `method` with `{"ok":false,"error":ERROR}` (HTTP 429 for
    /// `ratelimited`, 200 otherwise).
    pub fn stub_error(&self, method: &str, error: &str) {
        self.stub(method, json!({"ok": false, "error": error}));
    }

    /// Removes the stub of `method`: the fake answers it again.
    pub fn unstub(&self, method: &str) {
        lock(&self.shared.state).web.stubs.remove(method);
    }

    /// Adds `n` public channels (`channel-4`, `channel-5`, …) to the fake workspace, which
    /// starts with `#general`, `#random` and `#testkit`, three users and the bot. Useful to
    /// exercise `conversations.list` pagination.
    pub fn add_channels(&self, n: usize) {
        let mut st = lock(&self.shared.state);
        st.web.add_channels(&self.shared.cfg, n);
    }

    /// A stream of everything that happens from now on (connections, envelopes, acks, calls).
    pub fn subscribe(&self) -> crossbeam_channel::Receiver<Event> {
        let (tx, rx) = crossbeam_channel::unbounded();
        lock(&self.shared.subscribers).push(tx);
        rx
    }

    /// Shuts the fake down: WebSockets get a close frame (1001), sockets are closed, threads joined.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.shared.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        log::debug!("fake slack on {} shutting down", self.shared.addr);
        {
            let st = lock(&self.shared.state);
            for c in st.conns.values() {
                let _ = c.send(Cmd::Shutdown);
            }
        }
        self.shared.cond.notify_all();
        // Wake the acceptor.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        if let Some(h) = self.timer.take() {
            let _ = h.join();
        }
        for s in lock(&self.shared.sockets).values() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        loop {
            let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
            if threads.is_empty() {
                break;
            }
            for h in threads {
                let _ = h.join();
            }
        }
        lock(&self.shared.subscribers).clear();
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.stop();
    }
}
