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
//! use slack_bot::{Bot, Reply, regex};
//! use slack_testkit::FakeSlack;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slack = FakeSlack::start()?; // a fake Slack on 127.0.0.1
//! let bot = Bot::builder(&slack.app_token(), &slack.bot_token())?
//!     .api_url(slack.api_url())
//!     .allow_insecure(true) // the fake speaks plain http/ws
//!     .on_app_mention(|ctx, _mention| {
//!         ctx.reply_in_thread("Hello! How can I help?")?;
//!         Ok(Reply::Ack)
//!     })
//!     .on_message(regex(r"^deploy (\w+)$"), |ctx, _message| {
//!         let env = ctx.matches().and_then(|m| m.get(1)).unwrap_or("?");
//!         ctx.say(format!("Deploying to {env}"))?;
//!         Ok(Reply::Ack)
//!     })
//!     .on_command("/hello", |_ctx| Ok(Reply::text("Hello!")))
//!     .start()?; // asks auth.test who the bot is; connects in the background
//!
//! slack.wait_for_connections(1, Duration::from_secs(10))?;
//! let id = slack.send_event(serde_json::json!({"type": "app_mention", "channel": "C1",
//!     "user": "U1", "text": "<@U0BOT> hi", "ts": "1700000000.000100"}))?;
//! slack.wait_for_ack(&id, Duration::from_secs(5))?;
//! let call = slack.wait_for_call("chat.postMessage", Duration::from_secs(5))?;
//! assert_eq!(call.arg("text"), Some("Hello! How can I help?"));
//! assert_eq!(call.arg("thread_ts"), Some("1700000000.000100"));
//!
//! let report = bot.shutdown()?;
//! assert!(report.unsent.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # Listeners and their context
//!
//! Each listener gets a [`Context`]: the request, decoded once and shared by routing, the
//! middleware and every listener ([`Context::event`], [`Context::command`],
//! [`Context::interaction`] return the decode error rather than `None`), and helpers that
//! know where it came from: [`Context::say`] (in the event's channel, and thread when it was
//! in one), [`Context::reply_in_thread`], [`Context::respond`] (the `response_url`),
//! [`Context::ephemeral`], [`Context::react`], [`Context::open_modal`],
//! [`Context::push_view`], [`Context::update_view`], [`Context::publish_home`].
//!
//! The bot knows who it is ([`BotBuilder::auth_test`], [`Context::bot`]), and its own events
//! never reach a listener ([`BotBuilder::ignore_self_events`]).
//!
//! # Which listeners run
//!
//! * **Events** (`events_api`): *every* matching listener runs, in registration order
//!   ([`BotBuilder::on_message`], [`BotBuilder::on_app_mention`], [`BotBuilder::on`],
//!   [`BotBuilder::on_event`] alike): a mention can be seen by a logger and a responder
//!   (Bolt for JavaScript does the same). Only when none matches do the
//!   [`BotBuilder::on_any_event`] listeners run, and only when there is none of those does
//!   the [`BotBuilder::fallback`].
//! * **Slash commands and interactions**: exactly *one* listener runs, since only one can
//!   answer in the ack (as in Bolt for Python). A command goes to its
//!   [`BotBuilder::on_command`] listener, else to [`BotBuilder::on_any_command`]; an
//!   interaction goes to the first matching listener whose ids are exact, else to the first
//!   matching one with a regular expression, in registration order; else the fallback.
//! * Registering the same command, callback id or action id twice, or a regular expression
//!   that does not compile, makes [`BotBuilder::start`] fail with every such problem
//!   ([`Error::Listeners`]); nothing is silently shadowed.
//! * When several listeners ran and more than one answered with a payload, the first answer
//!   is sent and the others are logged.
//!
//! # Middleware and errors
//!
//! Global middleware ([`BotBuilder::middleware`]) runs first, once per request, in
//! registration order, before the listeners are looked up; then, for each listener that
//! runs, its own middleware ([`BotBuilder::with`]), in registration order; then the listener.
//! Any middleware stops the chain by returning without calling [`Next::run`] (an allow-list
//! of users or channels); it can also time or count what follows.
//!
//! A listener's error or panic is caught, counted ([`Stats::handler_errors`]), logged and
//! handed to [`BotBuilder::on_error`] (a panic as a [`ListenerPanic`]); the envelope is
//! still acked and the other listeners still run.
//!
//! # Testing handlers
//!
//! [`testing::TestBot`] runs one request (from JSON) through your listeners, without sockets,
//! and returns the ack payload and the Web API calls they made; `slack-testkit` is the
//! end-to-end way (a whole fake Slack).
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
//! With [`BotBuilder::ack_on_receipt`]`(false)` every envelope waits for its handler like a
//! slash command does, and a handler may return [`Reply::Decline`] to leave it un-acked for
//! Slack to redeliver (the relay, `slack_bot::relay` with the `relay` feature, works this way).
//!
//! A handler that answers after its envelope was acked empty is not lost silently: a slash
//! command's payload is posted to its `response_url`, anything else is logged. A handler
//! running past [`BotBuilder::handler_timeout`] is reported and its worker replaced. At
//! shutdown, requests acked but not handled by the deadline go to the spool
//! ([`BotBuilder::spool_dir`]) for the next start, or are counted in [`RunReport::dropped`].
//!
//! # Logging without secrets
//!
//! At trace level, `tungstenite` logs the socket ticket and every payload's verification
//! token, and `ureq` logs tokens and `response_url`s; a plain trace logger would keep them.
//! Install your logger through [`logging::install`] (or wrap it in
//! [`logging::SecretFilter`]): those crates' records are capped at a safe level, everything
//! else passes. `env_logger` is not needed:
//! `slack_bot::logging::install(my_logger, log::LevelFilter::Trace)`.
//!
//! # Examples
//!
//! In the repository, each runnable with `--against-testkit`: `examples/echo_bot.rs`,
//! `examples/message_matcher.rs` (patterns, captures, middleware), `examples/slash_command.rs`
//! (answered in the ack), `examples/late_command.rs` (answered later through the
//! `response_url`), `examples/modal_flow.rs` (shortcut, modal, validation errors),
//! `examples/options_loading.rs` (an external select), `examples/app_home.rs` (the App Home
//! tab); and `tests/example_user_bot.rs`, how to test your own bot.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod context;
mod dispatch;
mod event_loop;
// fleet: shared state for several replicas (cargo feature `fleet`).
#[cfg(feature = "fleet")]
pub mod fleet;
mod handler;
mod jobs;
mod links;
#[cfg(feature = "relay")]
pub mod relay;
mod router;
mod spool;
pub mod testing;
mod workers;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use context::Services;
pub use context::{BotInfo, Context, IntoResponse, Matches};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
pub use event_loop::RunReport;
pub use handler::{
    ErrorHandler, Handler, HandlerError, HandlerResult, ListenerPanic, Middleware, Next, Options,
    Reply,
};
pub use router::{Pattern, regex};
use router::{Router, Spec};
pub use slack_envelope;
use slack_envelope::events::SlackEvent as TypedEvent;
pub use slack_envelope::logging;
use slack_envelope::payload::{AppMentionEvent, BlockSuggestion, MessageEvent};
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
    /// `auth.test` refused the bot token at start (revoked, wrong workspace, …).
    Auth(slack_web::Error),
    /// Listeners were registered wrongly (each problem, in registration order): the same
    /// command, callback or action twice, a regular expression that does not compile.
    Listeners(Vec<String>),
    /// A request's payload could not be read as the typed view asked for.
    Payload(slack_envelope::Error),
    /// A typed view was asked of a request of another kind (an event of a slash command, …).
    WrongKind {
        /// What was asked for.
        wanted: &'static str,
        /// The request's kind (`events_api`, `slash_commands`, `interactive`, …).
        kind: String,
    },
    /// A context helper needs something this request does not carry (a `trigger_id` to open
    /// a modal, a `response_url` to respond, a channel to say something).
    Missing {
        /// What is missing.
        field: &'static str,
        /// The helper that needs it.
        needed_for: &'static str,
    },
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
            Error::Auth(e) => write!(f, "the bot token (xoxb-…) was refused by auth.test: {e}"),
            Error::Listeners(list) => write!(f, "invalid listeners: {}", list.join("; ")),
            Error::Payload(e) => write!(f, "request payload: {e}"),
            Error::WrongKind { wanted, kind } => {
                write!(f, "this request is `{kind}`, it has no {wanted}")
            }
            Error::Missing { field, needed_for } => {
                write!(f, "{needed_for} needs a {field}, and this request has none")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Token(e) => Some(e),
            Error::Web(e) => Some(e),
            Error::Thread(e) => Some(e),
            Error::Auth(e) => Some(e),
            Error::Payload(e) => Some(e),
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
    /// Requests a handler declined ([`Reply::Decline`]), left un-acked for Slack to redeliver.
    pub declined: u64,
    /// Requests left un-acked because each alone is larger than the worker queue's byte
    /// budget ([`BotBuilder::queue_bytes`]).
    pub too_large: u64,
    /// Handlers found running longer than [`BotBuilder::handler_timeout`].
    pub handlers_stuck: u64,
    /// Worker threads replaced while stuck in a handler and still running.
    pub workers_abandoned: u64,
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
    pub(crate) declined: AtomicU64,
    pub(crate) handled: AtomicU64,
    pub(crate) too_large: AtomicU64,
    pub(crate) handlers_stuck: AtomicU64,
    pub(crate) workers_abandoned: AtomicU64,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            started: Instant::now(),
            connected: AtomicBool::new(false),
            core: Mutex::new(CoreStats::default()),
            queue_full: AtomicU64::new(0),
            handler_errors: AtomicU64::new(0),
            declined: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            too_large: AtomicU64::new(0),
            handlers_stuck: AtomicU64::new(0),
            workers_abandoned: AtomicU64::new(0),
        }
    }
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
    ack_on_receipt: bool,
    api_url: Option<String>,
    allow_insecure: bool,
    extra_roots_pem: Vec<Vec<u8>>,
    proxy: Option<String>,
    no_proxy: bool,
    workers: usize,
    queue_bound: usize,
    queue_bytes: usize,
    handler_timeout: Duration,
    spool_dir: Option<std::path::PathBuf>,
    shutdown_timeout: Duration,
    outbox: bool,
    bot_user_id: Option<String>,
    auth_test: bool,
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
            .field("listeners", &self.router)
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

    /// Allows plain `http://` and `ws://` to a loopback host (`127.0.0.0/8`, `::1`,
    /// `localhost`: tests, a local fake or relay). Off by default, so tokens and events never
    /// travel in clear text by mistake; plain text to any other host is refused even when on.
    /// A `ws://` socket URL that is refused stops the bot ([`BotEvent::Stopped`]) instead of
    /// being retried.
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

    /// Bytes of requests (their frames' text) waiting for a worker at most (default 64 MiB).
    /// A request larger than this alone is left un-acked, logged once and counted
    /// ([`Stats::too_large`]); otherwise a full queue is handled as in
    /// [`BotBuilder::queue_bound`].
    pub fn queue_bytes(mut self, n: usize) -> Self {
        self.queue_bytes = n;
        self
    }

    /// How long one handler may run (default 60 s). A handler running longer is reported
    /// with its route and age, counted ([`Stats::handlers_stuck`]), and its worker thread is
    /// replaced, so the bot keeps handling (at most [`BotBuilder::workers`] threads are left
    /// to their stuck handlers; [`Stats::workers_abandoned`]).
    pub fn handler_timeout(mut self, d: Duration) -> Self {
        self.handler_timeout = d;
        self
    }

    /// Where requests acked but not handled by the shutdown deadline are written (JSON
    /// lines, fsync'd, at most [`BotBuilder::queue_bound`] requests and
    /// [`BotBuilder::queue_bytes`] bytes per shutdown), to be run by the next start before it
    /// takes new work. Without it they are lost and counted in [`RunReport::dropped`]. Spooled
    /// requests hold Slack's payloads: keep the directory private.
    pub fn spool_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
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

    /// The bot's own user id, when `auth.test` is off or to override what it says.
    pub fn bot_user_id(mut self, id: impl Into<String>) -> Self {
        self.bot_user_id = Some(id.into());
        self
    }

    /// Whether requests that take no payload (events, most interactions) are acked as soon as
    /// the worker queue takes them (default `true`). With `false` every request is acked after
    /// its handler returned (or empty at the ack deadline, like slash commands), so a handler can
    /// return [`Reply::Decline`] to leave it for Slack to redeliver; the relay does this.
    pub fn ack_on_receipt(mut self, on: bool) -> Self {
        self.ack_on_receipt = on;
        self
    }

    /// Whether [`start`](Self::start) asks `auth.test` who the bot is (default on): the bot
    /// user id, bot id, team and enterprise then reach [`RunningBot::bot`] and every
    /// [`Context::bot`], and a refused bot token fails `start` ([`Error::Auth`]). A network
    /// failure of `auth.test` is only logged (the connection's own retries take over).
    pub fn auth_test(mut self, on: bool) -> Self {
        self.auth_test = on;
        self
    }

    /// Whether the bot's own events (its messages, its reactions, …: `user` is the bot user
    /// or `bot_id` is the bot's) are skipped before any middleware or listener (default on;
    /// needs the bot's identity, from `auth.test` or [`bot_user_id`](Self::bot_user_id)).
    /// `member_joined_channel`/`member_left_channel` of the bot itself are not skipped.
    pub fn ignore_self_events(mut self, on: bool) -> Self {
        self.router.set_ignore_self(on);
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
        spec: Spec,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.router.add(spec, Arc::new(h));
        self
    }

    /// Adds global middleware: it runs for every request (the bot's own events excepted),
    /// before the listeners are looked up, in registration order, and stops the chain by
    /// returning without calling [`Next::run`]:
    ///
    /// ```
    /// # let builder = slack_bot::testing::builder();
    /// let builder = builder.middleware(|ctx, next| {
    ///     let started = std::time::Instant::now();
    ///     let answer = next.run(ctx);
    ///     log::debug!("handled in {:?}", started.elapsed());
    ///     answer
    /// });
    /// ```
    pub fn middleware(
        mut self,
        m: impl Fn(&Context, Next<'_>) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.router.add_middleware(Arc::new(m));
        self
    }

    /// Adds middleware to the listener registered just before (it runs after the global
    /// middleware, only when that listener is picked):
    ///
    /// ```
    /// # use slack_bot::Reply;
    /// # let builder = slack_bot::testing::builder();
    /// let admins = ["U_ADMIN"];
    /// let builder = builder
    ///     .on_command("/deploy", |ctx| ctx.respond("deploying").map(|_| Reply::Ack).map_err(Into::into))
    ///     .with(move |ctx, next| match ctx.user_id() {
    ///         Some(u) if admins.contains(&u) => next.run(ctx),
    ///         _ => Ok(Reply::payload(serde_json::json!({"text": "Not allowed."}))),
    ///     });
    /// ```
    ///
    /// Calling it before any listener is an error of [`start`](Self::start).
    pub fn with(
        mut self,
        m: impl Fn(&Context, Next<'_>) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.router.with_last(Arc::new(m));
        self
    }

    /// Called with every listener's (or middleware's) error or panic and its request, after
    /// it is logged and counted ([`Stats::handler_errors`]); the envelope is still acked and
    /// the other listeners still run. A panic arrives as a [`ListenerPanic`].
    pub fn on_error(mut self, h: impl Fn(&HandlerError, &Context) + Send + Sync + 'static) -> Self {
        self.router.set_on_error(Arc::new(h));
        self
    }

    /// Handles events of this type (`message`, `app_mention`, `reaction_added`, …). Every
    /// matching event listener runs (see [which listeners run](crate#which-listeners-run)).
    pub fn on_event(
        self,
        event_type: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::Event(event_type.to_owned()), h)
    }

    /// Handles events of the typed kind `T` (`on::<ReactionAddedEvent>(|ctx, ev| …)`), decoded
    /// once for the listener; a payload that does not fit `T` is an error for
    /// [`on_error`](Self::on_error).
    pub fn on<T: TypedEvent + 'static>(
        self,
        h: impl Fn(&Context, &T) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::Event(T::TYPE.to_owned()), move |ctx| {
            let ev = ctx.event_as::<T>()?;
            h(ctx, &ev)
        })
    }

    /// Handles new messages (plain, from bots, file shares, thread broadcasts; not edits or
    /// deletions) whose text matches `pattern`: a substring (`"hello"`) or a regular
    /// expression ([`regex`]`(r"^deploy (\w+)$")`), whose captures are in
    /// [`Context::matches`].
    pub fn on_message(
        self,
        pattern: impl Into<Pattern>,
        h: impl Fn(&Context, &MessageEvent) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::Message(Some(pattern.into())), move |ctx| {
            let m = ctx.event_as::<MessageEvent>()?;
            h(ctx, &m)
        })
    }

    /// Handles every new message (as [`on_message`](Self::on_message) without a pattern).
    pub fn on_any_message(
        self,
        h: impl Fn(&Context, &MessageEvent) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::Message(None), move |ctx| {
            let m = ctx.event_as::<MessageEvent>()?;
            h(ctx, &m)
        })
    }

    /// Handles mentions of the bot (`app_mention`).
    pub fn on_app_mention(
        self,
        h: impl Fn(&Context, &AppMentionEvent) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.on::<AppMentionEvent>(h)
    }

    /// Handles any event no other event listener took.
    pub fn on_any_event(
        self,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::AnyEvent, h)
    }

    /// Handles this slash command (with its slash: `/deploy`). Return [`Reply::Payload`] to
    /// answer in the ack, or answer later with [`Context::respond`].
    pub fn on_command(
        self,
        command: &str,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::Command(command.to_owned()), h)
    }

    /// Handles any slash command no `on_command` took.
    pub fn on_any_command(
        self,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(Spec::AnyCommand, h)
    }

    /// Handles interactions of `kind` (`shortcut`, `message_action`, `view_submission`,
    /// `view_closed`, `block_actions`, `block_suggestion`, or `None` for any), optionally only
    /// with this `callback_id` and/or `action_id`. The named methods
    /// ([`on_action`](Self::on_action), [`on_shortcut`](Self::on_shortcut), …) read better.
    pub fn on_interactive(
        self,
        kind: Option<&str>,
        callback_id: Option<&str>,
        action_id: Option<&str>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.route(
            Spec::Interactive {
                kinds: kind.map(str::to_owned).into_iter().collect(),
                callback: callback_id.map(Pattern::from),
                action: action_id.map(Pattern::from),
            },
            h,
        )
    }

    fn interactive(
        self,
        kinds: &[&str],
        callback: Option<Pattern>,
        action: Option<Pattern>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        let kinds = kinds.iter().map(|k| (*k).to_owned()).collect();
        self.route(
            Spec::Interactive {
                kinds,
                callback,
                action,
            },
            h,
        )
    }

    /// Handles the global or message shortcut whose `callback_id` matches (exactly, or a
    /// [`regex`]). [`Context::open_modal`] uses its `trigger_id`.
    pub fn on_shortcut(
        self,
        callback_id: impl Into<Pattern>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        let p = Some(callback_id.into());
        self.interactive(&["shortcut", "message_action"], p, None, h)
    }

    /// Handles submissions of the view whose `callback_id` matches. Answer with
    /// [`Reply::view_errors`], [`Reply::update_view`], [`Reply::clear_views`] or a plain
    /// ack (closes the modal).
    pub fn on_view_submission(
        self,
        callback_id: impl Into<Pattern>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        let p = Some(callback_id.into());
        self.interactive(&["view_submission"], p, None, h)
    }

    /// Handles the closing of the view whose `callback_id` matches (only for views opened
    /// with `"notify_on_close": true`).
    pub fn on_view_closed(
        self,
        callback_id: impl Into<Pattern>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        let p = Some(callback_id.into());
        self.interactive(&["view_closed"], p, None, h)
    }

    /// Handles block actions (buttons, menus, …) whose `action_id` matches (exactly, or a
    /// [`regex`]). [`Context::respond`] answers through the action's `response_url`.
    pub fn on_action(
        self,
        action_id: impl Into<Pattern>,
        h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        let p = Some(action_id.into());
        self.interactive(&["block_actions"], None, p, h)
    }

    /// Loads the options of an external select (`block_suggestion`) whose `action_id`
    /// matches; the handler gets what the user typed (`suggestion.value`) and answers with
    /// [`Options`].
    pub fn on_options(
        self,
        action_id: impl Into<Pattern>,
        h: impl Fn(&Context, &BlockSuggestion) -> Result<Options, HandlerError> + Send + Sync + 'static,
    ) -> Self {
        let p = Some(action_id.into());
        self.interactive(&["block_suggestion"], None, p, move |ctx| {
            match ctx.interaction()? {
                slack_envelope::payload::Interaction::BlockSuggestion(s) => {
                    h(ctx, s).map(Reply::from)
                }
                _ => Ok(Reply::Ack),
            }
        })
    }

    /// Handles whatever no other handler took.
    pub fn fallback(self, h: impl Fn(&Context) -> HandlerResult + Send + Sync + 'static) -> Self {
        self.route(Spec::Fallback, h)
    }

    /// Who the bot is: `auth.test` (unless turned off), with [`bot_user_id`] on top. A
    /// refused token is an error; any other failure is logged and leaves what is known.
    ///
    /// [`bot_user_id`]: Self::bot_user_id
    fn identify(&self, web: &WebClient) -> Result<Option<BotInfo>, Error> {
        let mut info = None;
        if self.auth_test {
            match web.auth_test() {
                Ok(a) => {
                    let b = BotInfo::from_auth_test(a);
                    log::info!(
                        "auth.test: bot user {} (bot {}) in team {}",
                        b.user_id,
                        b.bot_id.as_deref().unwrap_or("-"),
                        b.team_id.as_deref().unwrap_or("-")
                    );
                    info = Some(b);
                }
                Err(e) if e.is_fatal_auth() => return Err(Error::Auth(e)),
                Err(e) => log::warn!(
                    "auth.test failed ({e}); the bot does not know its own user id, so its own events are not skipped"
                ),
            }
        }
        if let Some(id) = &self.bot_user_id {
            let mut b = info.unwrap_or_default();
            b.user_id = id.clone();
            info = Some(b);
        }
        Ok(info)
    }

    fn web_client(&self, retry: RetryPolicy) -> Result<WebClient, Error> {
        let mut b = WebClient::builder(self.bot_token.clone())
            .allow_insecure_http(self.allow_insecure)
            .retry_policy(retry);
        if let Some(url) = &self.api_url {
            b = b.base_url(url.clone());
        }
        for pem in &self.extra_roots_pem {
            b = b.add_root_certs_pem(pem);
        }
        if let Some(p) = &self.proxy {
            b = b.proxy(slack_web::ProxyConfig::Explicit(p.clone()));
        } else if self.no_proxy {
            b = b.proxy(slack_web::ProxyConfig::None);
        }
        b.build().map_err(Error::Web)
    }

    /// Starts the bot on its own threads and returns once it knows who it is
    /// ([`auth_test`](Self::auth_test)); the connections open in the background.
    ///
    /// Fails on every listener registration error at once ([`Error::Listeners`]), and on a
    /// bot token that `auth.test` refuses ([`Error::Auth`]).
    pub fn start(self) -> Result<RunningBot, Error> {
        self.router.check()?;
        if self.workers == 0 || self.queue_bound == 0 || self.queue_bytes == 0 {
            return Err(Error::Config(
                "workers, queue_bound and queue_bytes must be at least 1".to_owned(),
            ));
        }
        if self.handler_timeout.is_zero() {
            return Err(Error::Config(
                "handler_timeout must be more than 0".to_owned(),
            ));
        }
        let cfg = slack_envelope::Config::default()
            .connections(self.connections)
            .session(self.session.clone())
            .jitter_seed(self.jitter_seed.unwrap_or_else(default_seed));
        #[allow(unused_mut)]
        let mut supervisor = Supervisor::new(cfg).map_err(|e| Error::Config(e.to_string()))?;
        // fleet: connections come from the fleet's budget. Asked once here without waiting
        // (a standby starts with none); the heartbeat asks again at every beat and the loop
        // opens or retires links when the grant changes.
        #[cfg(feature = "fleet")]
        let fleet = match &self.fleet {
            Some(fc) => {
                let f = fleet::Fleet::new(fc.clone()).map_err(|e| Error::Config(e.to_string()))?;
                let n = f.first_lease(self.connections);
                if n != self.connections {
                    supervisor.set_connections(Instant::now(), n);
                }
                Some(f)
            }
            None => None,
        };
        let web = self.web_client(RetryPolicy::default())?;
        // Opening connections is paced by the core's backoff; no retries of its own. The same
        // agent (one copy of the roots, one TLS configuration), another retry policy.
        let connect_web = web.with_retry_policy(RetryPolicy::none());
        let bot = self.identify(&connect_web)?.map(Arc::new);
        let outbox = if self.outbox {
            // In a fleet, `say_later`'s messages keep the fleet's shared pace too.
            #[cfg(feature = "fleet")]
            let started = match &fleet {
                Some(f) => Outbox::start_paced(&web, OutboxConfig::default(), Arc::new(f.clone())),
                None => Outbox::start(&web, OutboxConfig::default()),
            };
            #[cfg(not(feature = "fleet"))]
            let started = Outbox::start(&web, OutboxConfig::default());
            Some(Arc::new(started.map_err(Error::Web)?))
        } else {
            None
        };
        let mut transport = slack_transport::Config::default()
            .allow_insecure_ws(self.allow_insecure)
            .close_timeout(self.session.get_close_timeout());
        for pem in &self.extra_roots_pem {
            transport = transport.add_root_certs_pem(pem);
        }
        if let Some(p) = &self.proxy {
            transport = transport.proxy(slack_transport::ProxyConfig::Explicit(p.clone()));
        } else if self.no_proxy {
            transport = transport.proxy(slack_transport::ProxyConfig::None);
        }
        let shared = Arc::new(Shared::new());
        let services = Arc::new(Services {
            web: web.clone(),
            outbox: outbox.clone(),
            bot: bot.clone(),
            shared: shared.clone(),
            response_url_redirect: None,
            #[cfg(feature = "fleet")]
            fleet: fleet.clone(),
        });
        let (inbox_tx, inbox) = unbounded();
        let (events_tx, events) = bounded(1024);
        let parts = event_loop::LoopParts {
            supervisor,
            dispatch: dispatch::DispatchConfig {
                queue_bound: self.queue_bound,
                queue_bytes: self.queue_bytes,
                workers: self.workers,
                drain_timeout: self.shutdown_timeout / 2,
                handler_budget: self.handler_timeout,
                ack_on_receipt: self.ack_on_receipt,
                #[cfg(feature = "fleet")]
                claim_bound: self.fleet.as_ref().map(fleet::claim_bound),
                #[cfg(not(feature = "fleet"))]
                claim_bound: None,
            },
            opener: links::Opener {
                web: connect_web,
                app_token: self.app_token.clone(),
                transport,
                debug_reconnects: self.debug_reconnects,
            },
            worker: workers::WorkerCtx {
                router: Arc::new(self.router.clone()),
                services,
                inbox: inbox_tx.clone(),
            },
            shutdown_timeout: self.shutdown_timeout,
            spool: self.spool_dir.clone().map(|dir| spool::SpoolConfig {
                dir,
                max_count: self.queue_bound,
                max_bytes: self.queue_bytes,
            }),
            inbox,
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
            bot,
            #[cfg(feature = "fleet")]
            fleet,
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
            ack_on_receipt: true,
            api_url: None,
            allow_insecure: false,
            extra_roots_pem: Vec::new(),
            proxy: None,
            no_proxy: false,
            workers: 10,
            queue_bound: 1000,
            queue_bytes: 64 << 20,
            handler_timeout: Duration::from_secs(60),
            spool_dir: None,
            shutdown_timeout: Duration::from_secs(5),
            outbox: true,
            bot_user_id: None,
            auth_test: true,
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
    bot: Option<Arc<BotInfo>>,
    // fleet: the replica's handle, when `BotBuilder::redis` was given.
    #[cfg(feature = "fleet")]
    fleet: Option<fleet::Fleet>,
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

    /// Who the bot is (from `auth.test` at start, or [`BotBuilder::bot_user_id`]), if known.
    pub fn bot(&self) -> Option<&BotInfo> {
        self.bot.as_deref()
    }

    // fleet: the replica's handle, for its counters.
    /// This replica's handle on the fleet, when started with [`BotBuilder::redis`].
    #[cfg(feature = "fleet")]
    pub fn fleet(&self) -> Option<&fleet::Fleet> {
        self.fleet.as_ref()
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
            declined: self.shared.declined.load(Ordering::Relaxed),
            too_large: self.shared.too_large.load(Ordering::Relaxed),
            handlers_stuck: self.shared.handlers_stuck.load(Ordering::Relaxed),
            workers_abandoned: self.shared.workers_abandoned.load(Ordering::Relaxed),
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
