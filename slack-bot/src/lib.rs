//! `slack-bot`: a Slack Socket Mode bot on blocking threads, composed of
//! [`slack_envelope`] (the protocol core), [`slack_transport`] (the WebSocket) and
//! [`slack_web`] (the Web API).
//!
//! One event-loop thread owns the envelope supervisor: it waits on the sockets, on handler
//! results and on the core's next deadline, feeds everything in and carries out what the core
//! asks (fetch a URL, open or close a socket, send a frame). Handlers run on a bounded worker
//! pool and never block it.
//!
//! ```
//! use std::time::Duration;
//! use slack_bot::{Bot, Reply};
//! use slack_testkit::FakeSlack;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slack = FakeSlack::start()?; // a fake Slack on 127.0.0.1
//! let bot = Bot::builder(&slack.app_token(), &slack.bot_token())?
//!     .api_url(slack.api_url())
//!     .allow_insecure(true) // the fake speaks plain http/ws
//!     .on_event("app_mention", |ctx| {
//!         let channel = ctx.event().and_then(|e| match e.event {
//!             slack_envelope::payload::SlackEvent::AppMention(m) => m.channel,
//!             _ => None,
//!         });
//!         if let Some(channel) = channel {
//!             ctx.say(&channel, "Hello! How can I help?")?;
//!         }
//!         Ok(Reply::Ack)
//!     })
//!     .start()?;
//!
//! slack.wait_for_connections(1, Duration::from_secs(10))?;
//! let id = slack.send_event(serde_json::json!({"type": "app_mention", "channel": "C1", "text": "<@U0> hi"}))?;
//! slack.wait_for_ack(&id, Duration::from_secs(5))?;
//! let call = slack.wait_for_call("chat.postMessage", Duration::from_secs(5))?;
//! assert_eq!(call.arg("text"), Some("Hello! How can I help?"));
//!
//! let report = bot.shutdown()?;
//! assert!(report.unsent.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # Acks
//!
//! An envelope is acked as soon as the bounded worker queue takes it. Slash commands,
//! `view_submission` and `block_suggestion` accept a payload: they are acked with the
//! handler's [`Reply::Payload`], or empty (with a warning) if the handler has not answered by
//! [`slack_envelope::SessionConfig::ack_warning_after`] (2.5 s), before Slack's 3 s deadline.
//! When the queue is full the envelope is left un-acked, logged and counted, so Slack
//! redelivers it; the reader never blocks. Redeliveries of an `event_id` already handled are
//! acked and not handed over again.
//!
//! # Examples
//!
//! In the repository: `examples/echo_bot.rs`, `examples/slash_command.rs` (answered in the
//! ack), `examples/modal_flow.rs` (shortcut, `views.open`, validation errors), each runnable
//! with `--against-testkit`; and `tests/example_user_bot.rs`, how to test your own bot with
//! `slack-testkit`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod event_loop;
// fleet: shared state for several replicas (cargo feature `fleet`).
#[cfg(feature = "fleet")]
pub mod fleet;
mod handler;
mod jobs;
pub mod reference;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
pub use event_loop::RunReport;
pub use handler::{Context, Handler, HandlerError, HandlerResult, Reply};
use handler::{Route, Router};
pub use slack_envelope;
use slack_envelope::{Lifecycle, SessionConfig, StopReason, Supervisor};
pub use slack_transport;
pub use slack_web;
use slack_web::{AppToken, BotToken, Outbox, OutboxConfig, RetryPolicy, WebClient};

/// Everything that can go wrong starting or running a bot.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A token is missing, empty or has the wrong prefix.
    Token(slack_web::TokenError),
    /// A setting is out of range or inconsistent.
    Config(String),
    /// The Web API client could not be built.
    Web(slack_web::Error),
    /// A thread could not be started.
    Thread(std::io::Error),
    /// The bot stopped for a reason it cannot recover from (`link_disabled`, a revoked token, …).
    Stopped(StopReason),
    /// The event loop thread panicked.
    Panicked,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Token(e) => write!(f, "{e}"),
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::Web(e) => write!(f, "web api client: {e}"),
            Error::Thread(e) => write!(f, "could not start a thread: {e}"),
            Error::Stopped(r) => write!(f, "stopped: {r}"),
            Error::Panicked => write!(f, "the event loop thread panicked"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Token(e) => Some(e),
            Error::Web(e) => Some(e),
            Error::Thread(e) => Some(e),
            _ => None,
        }
    }
}

/// What the bot reports on its lifecycle channel.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BotEvent {
    /// A connection changed state (connecting, authenticated, connected, ready,
    /// disconnecting, reconnecting, disconnected, error, unable to start).
    Lifecycle(Lifecycle),
    /// The bot stopped; nothing follows.
    Stopped(StopReason),
}

/// Counters and gauges, from [`RunningBot::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections ready now.
    pub connections: usize,
    /// Connections opened to replace or retry others.
    pub reconnects: u64,
    /// The last ping round trip.
    pub last_ping_rtt: Option<Duration>,
    /// Time since the bot started.
    pub uptime: Duration,
    /// Envelopes received (duplicates included).
    pub received: u64,
    /// Acks sent.
    pub acked: u64,
    /// Requests handed to handlers.
    pub delivered: u64,
    /// Redeliveries suppressed.
    pub duplicates: u64,
    /// Requests left un-acked because the worker queue was full.
    pub queue_full: u64,
    /// Handlers that returned an error or panicked.
    pub handler_errors: u64,
    /// Messages posted (`chat.postMessage`, by handlers and the outbox).
    pub messages_sent: u64,
    /// Times a Web API call waited for a rate limit.
    pub rate_limit_waits: u64,
}

/// State shared between the loop, the workers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) started: Instant,
    pub(crate) connected: AtomicBool,
    pub(crate) core: Mutex<CoreStats>,
    pub(crate) queue_full: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) handled: AtomicU64,
    // fleet: the replica's handle on the fleet, when `BotBuilder::redis` was given.
    #[cfg(feature = "fleet")]
    pub(crate) fleet: Option<fleet::Fleet>,
}

/// The supervisor's counters as last published by the loop.
#[derive(Debug, Clone, Default)]
pub(crate) struct CoreStats {
    pub(crate) stats: slack_envelope::Stats,
    pub(crate) ready: usize,
}

/// Builds a [`Bot`]. Every setting has a sensible default; only the tokens are required.
pub struct BotBuilder {
    app_token: AppToken,
    bot_token: BotToken,
    connections: usize,
    session: SessionConfig,
    debug_reconnects: bool,
    api_url: Option<String>,
    allow_insecure: bool,
    extra_roots_pem: Vec<Vec<u8>>,
    proxy: Option<String>,
    no_proxy: bool,
    workers: usize,
    queue_bound: usize,
    shutdown_timeout: Duration,
    outbox: bool,
    bot_user_id: Option<String>,
    jitter_seed: Option<u64>,
    router: Router,
    // fleet: see `BotBuilder::redis`.
    #[cfg(feature = "fleet")]
    fleet: Option<fleet::FleetConfig>,
}

impl fmt::Debug for BotBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BotBuilder")
            .field("app_token", &self.app_token)
            .field("bot_token", &self.bot_token)
            .field("connections", &self.connections)
            .field("api_url", &self.api_url)
            .field("workers", &self.workers)
            .field("routes", &self.router)
            .finish_non_exhaustive()
    }
}

impl BotBuilder {
    /// How many connections to hold (1 to 10; default 1).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n;
        self
    }

    /// Liveness, hello, close and ack-deadline timing (see [`SessionConfig`]). Requests that
    /// accept a payload are acked empty when the handler has not answered by
    /// `ack_warning_after` (2.5 s by default, below Slack's 3 s).
    pub fn session(mut self, session: SessionConfig) -> Self {
        self.session = session;
        self
    }

    /// Asks Slack to refresh connections every ~6 minutes (for testing refresh handling).
    pub fn debug_reconnects(mut self, on: bool) -> Self {
        self.debug_reconnects = on;
        self
    }

    /// The Web API base URL (default `https://slack.com/api/`), e.g. a local fake Slack or a relay.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Allows plain `http://` and `ws://` (tests, a local fake). Off by default, so tokens and
    /// events never travel in clear text by mistake.
    pub fn allow_insecure(mut self, on: bool) -> Self {
        self.allow_insecure = on;
        self
    }

    /// Trusts these PEM root certificates too, for both the socket and the Web API
    /// (corporate TLS inspection, a test CA).
    pub fn add_root_certs_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_roots_pem.push(pem.as_ref().to_vec());
        self
    }

    /// Uses this HTTP CONNECT proxy (`http://[user:pass@]host:port`) for the socket and the
    /// Web API. Without it, `HTTPS_PROXY`/`NO_PROXY` from the environment apply.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self.no_proxy = false;
        self
    }

    /// Never uses a proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = None;
        self.no_proxy = true;
        self
    }

    /// Worker threads for handlers at most (default 10). One is started with the bot; another
    /// is started whenever requests have waited 5 ms with every worker busy, up to this number
    /// (handlers that return quickly are served by one thread, without others competing for
    /// the cores; slow handlers get company within milliseconds).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Requests waiting for a worker at most (default 1000). While the queue is full, frames
    /// wait on their connections (not read, not acked) for up to 1 s; if it is still full
    /// then, requests are left un-acked for Slack to redeliver, logged and counted
    /// ([`Stats::queue_full`]).
    pub fn queue_bound(mut self, n: usize) -> Self {
        self.queue_bound = n;
        self
    }

    /// How long shutdown waits for handlers, the outbox and the close handshakes (default 5 s).
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.shutdown_timeout = d;
        self
    }

    /// Whether handlers get an outbox for [`Context::say_later`] (default on).
    pub fn outbox(mut self, on: bool) -> Self {
        self.outbox = on;
        self
    }

    /// The bot's own user id (else handlers see `None`; the binary asks `auth.test`).
    pub fn bot_user_id(mut self, id: impl Into<String>) -> Self {
        self.bot_user_id = Some(id.into());
        self
    }

    /// Seed for reconnect jitter (default: from the clock and the process id).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    // fleet: the switch.
    /// Runs this bot as one replica of a fleet sharing its state on Redis (feature `fleet`):
    /// events claimed fleet-wide, accepted events recorded in a Redis stream before their ack
    /// and handled by any live replica, connections leased from the fleet's budget of 10, and
    /// shared pacing (see [`fleet`]). With it, [`BotBuilder::start`] waits while the fleet's
    /// connections are all taken (a standby). Without it, nothing changes.
    #[cfg(feature = "fleet")]
    pub fn redis(mut self, cfg: fleet::FleetConfig) -> Self {
        self.fleet = Some(cfg);
        self
    }

    fn route(
        mut self,
        route: Route,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.router.add(route, Arc::new(h));
        self
    }

    /// Handles events of this type (`message`, `app_mention`, `reaction_added`, …).
    pub fn on_event(
        self,
        event_type: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Route::Event(event_type.to_owned()), h)
    }

    /// Handles any event no `on_event` took.
    pub fn on_any_event(
        self,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Route::AnyEvent, h)
    }

    /// Handles this slash command (with its slash: `/deploy`). Return [`Reply::Payload`] to
    /// answer in the ack.
    pub fn on_command(
        self,
        command: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Route::Command(command.to_owned()), h)
    }

    /// Handles any slash command no `on_command` took.
    pub fn on_any_command(
        self,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Route::AnyCommand, h)
    }

    /// Handles interactions of `kind` (`shortcut`, `message_action`, `view_submission`,
    /// `view_closed`, `block_actions`, `block_suggestion`, or `None` for any), optionally only
    /// with this `callback_id` and/or `action_id`.
    pub fn on_interactive(
        self,
        kind: Option<&str>,
        callback_id: Option<&str>,
        action_id: Option<&str>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(
            Route::Interactive {
                kind: kind.map(str::to_owned),
                callback_id: callback_id.map(str::to_owned),
                action_id: action_id.map(str::to_owned),
            },
            h,
        )
    }

    /// Handles the global or message shortcut with this `callback_id`.
    pub fn on_shortcut(
        self,
        callback_id: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.on_interactive(None, Some(callback_id), None, h)
    }

    /// Handles submissions of the view with this `callback_id`.
    pub fn on_view_submission(
        self,
        callback_id: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.on_interactive(Some("view_submission"), Some(callback_id), None, h)
    }

    /// Handles block actions with this `action_id`.
    pub fn on_action(
        self,
        action_id: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.on_interactive(Some("block_actions"), None, Some(action_id), h)
    }

    /// Handles whatever no other handler took.
    pub fn fallback(self, h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static) -> Self {
        self.route(Route::Fallback, h)
    }

    fn web_client(&self, retry: RetryPolicy) -> Result<WebClient, Error> {
        let mut b = WebClient::builder(self.bot_token.clone())
            .allow_insecure_http(self.allow_insecure)
            .retry_policy(retry);
        if let Some(url) = &self.api_url {
            b = b.base_url(url.clone());
        }
        for pem in &self.extra_roots_pem {
            b = b.add_root_certificates_pem(pem);
        }
        if let Some(p) = &self.proxy {
            b = b.proxy(slack_web::ProxyConfig::url(p.clone()));
        } else if self.no_proxy {
            b = b.proxy(slack_web::ProxyConfig::None);
        }
        b.build().map_err(Error::Web)
    }

    /// Starts the bot on its own threads and returns at once.
    pub fn start(self) -> Result<RunningBot, Error> {
        if self.workers == 0 || self.queue_bound == 0 {
            return Err(Error::Config(
                "workers and queue_bound must be at least 1".to_owned(),
            ));
        }
        let mut cfg = slack_envelope::Config::default();
        cfg.connections = self.connections;
        // fleet: connections come from the fleet's budget (waits as a standby while none is free).
        #[cfg(feature = "fleet")]
        let fleet = match &self.fleet {
            Some(fc) => {
                let f = fleet::Fleet::new(fc.clone()).map_err(|e| Error::Config(e.to_string()))?;
                if (1..=10).contains(&self.connections) {
                    cfg.connections = f.wait_for_connections(self.connections);
                }
                Some(f)
            }
            None => None,
        };
        cfg.session = self.session.clone();
        cfg.jitter_seed = self.jitter_seed.unwrap_or_else(default_seed);
        let supervisor = Supervisor::new(cfg).map_err(|e| Error::Config(e.to_string()))?;
        let web = self.web_client(RetryPolicy::default())?;
        // Opening connections is paced by the core's backoff; no retries of its own.
        let connect_web = self.web_client(RetryPolicy::none())?;
        let outbox = if self.outbox {
            Some(Arc::new(
                Outbox::start(&web, OutboxConfig::default()).map_err(Error::Web)?,
            ))
        } else {
            None
        };
        let mut transport = slack_transport::Config::default()
            .allow_insecure_ws(self.allow_insecure)
            .close_timeout(self.session.close_timeout);
        for pem in &self.extra_roots_pem {
            transport = transport.add_root_certs_pem(pem);
        }
        if let Some(p) = &self.proxy {
            transport = transport.proxy(slack_transport::ProxyConfig::Explicit(p.clone()));
        } else if self.no_proxy {
            transport = transport.proxy(slack_transport::ProxyConfig::None);
        }
        let shared = Arc::new(Shared {
            started: Instant::now(),
            connected: AtomicBool::new(false),
            core: Mutex::new(CoreStats::default()),
            queue_full: AtomicU64::new(0),
            handler_errors: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            #[cfg(feature = "fleet")]
            fleet,
        });
        let (inbox_tx, inbox) = unbounded();
        let (events_tx, events) = bounded(1024);
        let parts = event_loop::LoopParts {
            supervisor,
            app_token: self.app_token.clone(),
            web: web.clone(),
            connect_web,
            outbox: outbox.clone(),
            transport,
            debug_reconnects: self.debug_reconnects,
            router: self.router.clone(),
            workers: self.workers,
            queue_bound: self.queue_bound,
            shutdown_timeout: self.shutdown_timeout,
            bot_user_id: self.bot_user_id.clone().map(Arc::from),
            shared: shared.clone(),
            inbox,
            inbox_tx: inbox_tx.clone(),
            events: events_tx,
            events_rx: events.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("slack-event-loop".to_owned())
            .spawn(move || event_loop::run(parts))
            .map_err(Error::Thread)?;
        Ok(RunningBot {
            thread: Some(thread),
            inbox: inbox_tx,
            events,
            shared,
            web,
            outbox,
        })
    }

    /// Starts the bot and blocks until it stops (see [`RunningBot::wait`]).
    pub fn run(self) -> Result<RunReport, Error> {
        self.start()?.wait()
    }
}

fn default_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32)
}

/// The entry point: `Bot::builder(app_token, bot_token)`.
#[derive(Debug)]
pub struct Bot;

impl Bot {
    /// A builder with the app-level token (`xapp-…`) and the bot token (`xoxb-…`), both
    /// checked by prefix before anything touches the network.
    pub fn builder(app_token: &str, bot_token: &str) -> Result<BotBuilder, Error> {
        let app_token = AppToken::new(app_token).map_err(Error::Token)?;
        let bot_token = BotToken::new(bot_token).map_err(Error::Token)?;
        Ok(BotBuilder {
            app_token,
            bot_token,
            connections: 1,
            session: SessionConfig::default(),
            debug_reconnects: false,
            api_url: None,
            allow_insecure: false,
            extra_roots_pem: Vec::new(),
            proxy: None,
            no_proxy: false,
            workers: 10,
            queue_bound: 1000,
            shutdown_timeout: Duration::from_secs(5),
            outbox: true,
            bot_user_id: None,
            jitter_seed: None,
            router: Router::default(),
            #[cfg(feature = "fleet")]
            fleet: None,
        })
    }
}

/// A running bot: observe it, and stop it.
#[derive(Debug)]
pub struct RunningBot {
    thread: Option<JoinHandle<RunReport>>,
    inbox: Sender<event_loop::LoopMsg>,
    events: Receiver<BotEvent>,
    shared: Arc<Shared>,
    web: WebClient,
    outbox: Option<Arc<Outbox>>,
}

impl std::fmt::Debug for event_loop::LoopMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoopMsg")
    }
}

impl RunningBot {
    /// Lifecycle events (bounded: if nobody reads, old events are dropped, never the bot).
    pub fn events(&self) -> Receiver<BotEvent> {
        self.events.clone()
    }

    /// Whether at least one connection is ready and not suspected dead.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// The Web API client the handlers use.
    pub fn web(&self) -> &WebClient {
        &self.web
    }

    // fleet: the replica's handle, for its counters.
    /// This replica's handle on the fleet, when started with [`BotBuilder::redis`].
    #[cfg(feature = "fleet")]
    pub fn fleet(&self) -> Option<&fleet::Fleet> {
        self.shared.fleet.as_ref()
    }

    /// The outbox, if enabled.
    pub fn outbox(&self) -> Option<&Outbox> {
        self.outbox.as_deref()
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let core = self
            .shared
            .core
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let web = self.web.stats();
        Stats {
            connections: core.ready,
            reconnects: core.stats.reconnects,
            last_ping_rtt: core.stats.last_rtt,
            uptime: self.shared.started.elapsed(),
            received: core.stats.received,
            acked: core.stats.acked,
            delivered: core.stats.delivered,
            duplicates: core.stats.duplicates,
            queue_full: self.shared.queue_full.load(Ordering::Relaxed),
            handler_errors: self.shared.handler_errors.load(Ordering::Relaxed),
            messages_sent: web.messages_sent,
            rate_limit_waits: web.rate_limit_waits,
        }
    }

    /// A handle that can ask the bot to stop from another thread (a signal handler, say).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            inbox: self.inbox.clone(),
        }
    }

    /// Stops taking new requests, lets handlers finish (up to the shutdown timeout), sends
    /// pending acks, closes every connection with code 1000, flushes the outbox and joins
    /// every thread.
    pub fn shutdown(self) -> Result<RunReport, Error> {
        let _ = self.inbox.send(event_loop::LoopMsg::Shutdown);
        self.wait()
    }

    /// Blocks until the bot stops (by [`RunningBot::shutdown`], a [`Stopper`], or a fatal
    /// reason such as `link_disabled` or a revoked token, which is returned as an error).
    pub fn wait(mut self) -> Result<RunReport, Error> {
        let Some(thread) = self.thread.take() else {
            return Err(Error::Panicked);
        };
        let report = thread.join().map_err(|_| Error::Panicked)?;
        match &report.reason {
            StopReason::Shutdown => Ok(report),
            other => Err(Error::Stopped(other.clone())),
        }
    }
}

impl Drop for RunningBot {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.inbox.send(event_loop::LoopMsg::Shutdown);
            let _ = thread.join();
        }
    }
}

/// Asks a running bot to shut down gracefully. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Stopper {
    inbox: Sender<event_loop::LoopMsg>,
}

impl fmt::Debug for Stopper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stopper")
    }
}

impl Stopper {
    /// Starts the graceful shutdown (returns at once).
    pub fn stop(&self) {
        let _ = self.inbox.send(event_loop::LoopMsg::Shutdown);
    }
}
