//! The supervisor: policy over up to 10 connections. Pure logic, no I/O.
//!
//! It asks the caller to open connections ([`Event::Connect`]) and to drop them
//! ([`Event::Abort`]), routes frames to each connection's [`Session`], replaces connections
//! make-before-break (refresh, suspected death), backs off on failures, suppresses duplicate
//! deliveries across connections and stops for good on fatal reasons.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::backoff::{Backoff, Jitter, TokenBucket};
use crate::dedup::DedupWindow;
use crate::frame::{DisconnectReason, Envelope, Frame, Hello};
use crate::session::{Session, SessionConfig, SessionEnd, SessionEvent, SessionState};
use crate::text::{MAX_TEXT, clip};
use crate::{Error, OutFrame};

/// The most the first reconnect after a working link dropped waits (jitter only).
const FIRST_RECONNECT_JITTER: Duration = Duration::from_millis(100);

/// Slack's limit on connections per app.
pub const MAX_CONNECTIONS: usize = 10;

/// Identifies one connection (one socket) for the lifetime of a [`Supervisor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A frame to send on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Which connection.
    pub conn: ConnId,
    /// What to send.
    pub frame: OutFrame,
}

/// Settings of the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How many connections to hold (1 to 10).
    pub(crate) connections: usize,
    /// Per-connection timing.
    pub(crate) session: SessionConfig,
    /// Reconnect backoff.
    pub(crate) backoff: Backoff,
    /// Seed of the jitter (give each process a different one, e.g. from the clock or the pid).
    pub(crate) jitter_seed: u64,
    /// A connection that stayed ready this long resets the backoff when it ends.
    pub(crate) healthy_after: Duration,
    /// How long the caller may take to fetch a URL and open a socket before the attempt is abandoned.
    pub(crate) connect_timeout: Duration,
    /// The least wait after `too_many_websockets`.
    pub(crate) too_many_websockets_delay: Duration,
    /// At most this many `apps.connections.open` calls ([`Event::Connect`]) at once, then one
    /// per `connect_interval`.
    pub(crate) connect_burst: u32,
    /// The pace of `apps.connections.open` calls once the burst is spent.
    pub(crate) connect_interval: Duration,
    /// The longest `Retry-After` honoured (5 minutes by default): a longer one (a broken or
    /// hostile server's `Retry-After: 99999999999`) is cut to this, with a warning that says
    /// when the next attempt is, rather than leaving the app offline for a day.
    pub(crate) max_retry_after: Duration,
    /// How long a delivered `event_id` is remembered (Slack retries for about 5 minutes).
    pub(crate) dedup_window: Duration,
    /// At most this many ids are remembered.
    pub(crate) dedup_capacity: usize,
    /// Once a replacement is ready, the connection it replaces (after Slack's `warning` or
    /// `refresh_requested`, after a silence that made it suspect, or a surplus one) is kept
    /// open, still receiving and acking, until it has carried no envelope for this long and
    /// has no envelope awaiting its ack. Slack keeps delivering on such a link (a suspect link
    /// may only have lost its pongs), and nothing can be acked after our close frame: closing
    /// at once would leave the envelopes in flight to Slack's redelivery.
    pub(crate) drain_quiet: Duration,
    /// The longest an old connection is kept open that way (zero: close it as soon as the
    /// replacement is ready).
    pub(crate) drain_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connections: 1,
            session: SessionConfig::default(),
            backoff: Backoff::default(),
            jitter_seed: 0x5EED,
            healthy_after: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            too_many_websockets_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(5 * 60),
            connect_burst: MAX_CONNECTIONS as u32,
            connect_interval: Duration::from_millis(1200),
            dedup_window: Duration::from_secs(10 * 60),
            dedup_capacity: 100_000,
            drain_quiet: Duration::from_secs(1),
            drain_max: Duration::from_secs(10),
        }
    }
}

/// Chainable setters (checked together by `validate`), and the getters other crates need.
impl Config {
    /// How many connections to hold (1 to 10).
    pub fn connections(mut self, connections: usize) -> Self {
        self.connections = connections;
        self
    }

    /// Per-connection timing.
    pub fn session(mut self, session: SessionConfig) -> Self {
        self.session = session;
        self
    }

    /// Reconnect backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Seed of the jitter (give each process a different one, e.g. from the clock or the pid).
    pub fn jitter_seed(mut self, jitter_seed: u64) -> Self {
        self.jitter_seed = jitter_seed;
        self
    }

    /// At most this many connection attempts ([`Event::Connect`], each an
    /// `apps.connections.open` call) at once (10 by default, so starting every link is never
    /// slowed; zero: no pacing), then one per [`Config::connect_interval`], whatever the
    /// fault pattern: Slack rate limits that method (Tier 3, about 50 a minute).
    pub fn connect_burst(mut self, connect_burst: u32) -> Self {
        self.connect_burst = connect_burst;
        self
    }

    /// The pace of connection attempts once the burst is spent (1.2 s by default: 50 a minute).
    pub fn connect_interval(mut self, connect_interval: Duration) -> Self {
        self.connect_interval = connect_interval;
        self
    }

    /// A connection that stayed ready this long resets the backoff when it ends.
    pub fn healthy_after(mut self, healthy_after: Duration) -> Self {
        self.healthy_after = healthy_after;
        self
    }

    /// How long the caller may take to fetch a URL and open a socket before the attempt is abandoned.
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// The least wait after `too_many_websockets`.
    pub fn too_many_websockets_delay(mut self, too_many_websockets_delay: Duration) -> Self {
        self.too_many_websockets_delay = too_many_websockets_delay;
        self
    }

    /// The longest `Retry-After` honoured (5 minutes by default): a longer one (a broken or
    /// hostile server's `Retry-After: 99999999999`) is cut to this, with a warning that says
    /// when the next attempt is, rather than leaving the app offline for a day.
    pub fn max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// How long a delivered `event_id` is remembered (Slack retries for about 5 minutes).
    pub fn dedup_window(mut self, dedup_window: Duration) -> Self {
        self.dedup_window = dedup_window;
        self
    }

    /// At most this many ids are remembered.
    pub fn dedup_capacity(mut self, dedup_capacity: usize) -> Self {
        self.dedup_capacity = dedup_capacity;
        self
    }

    /// Once a replacement is ready, the connection it replaces (after Slack's `warning` or
    /// `refresh_requested`, after a silence that made it suspect, or a surplus one) is kept
    /// open, still receiving and acking, until it has carried no envelope for this long and
    /// has no envelope awaiting its ack. Slack keeps delivering on such a link (a suspect link
    /// may only have lost its pongs), and nothing can be acked after our close frame: closing
    /// at once would leave the envelopes in flight to Slack's redelivery.
    pub fn drain_quiet(mut self, drain_quiet: Duration) -> Self {
        self.drain_quiet = drain_quiet;
        self
    }

    /// The longest an old connection is kept open that way (zero: close it as soon as the
    /// replacement is ready).
    pub fn drain_max(mut self, drain_max: Duration) -> Self {
        self.drain_max = drain_max;
        self
    }

    /// The value set with [`Config::connections`].
    pub fn get_connections(&self) -> usize {
        self.connections
    }

    /// The value set with [`Config::connect_burst`] (tests of the pacing read it).
    pub fn get_connect_burst(&self) -> u32 {
        self.connect_burst
    }

    /// The value set with [`Config::connect_interval`] (tests of the pacing read it).
    pub fn get_connect_interval(&self) -> Duration {
        self.connect_interval
    }
}

impl Config {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), Error> {
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return Err(Error::InvalidConfig {
                detail: format!(
                    "connections must be between 1 and {MAX_CONNECTIONS}, not {}",
                    self.connections
                ),
            });
        }
        if self.dedup_window < Duration::from_secs(6 * 60) {
            return Err(Error::InvalidConfig {
                detail: "dedup_window must cover Slack's retries (at least 6 minutes)".to_owned(),
            });
        }
        if self.backoff.cap < self.backoff.min || self.backoff.base.is_zero() {
            return Err(Error::InvalidConfig {
                detail: "backoff needs base > 0 and cap >= min".to_owned(),
            });
        }
        self.session.validate()
    }
}

/// How a failed connection attempt failed, as the caller saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// A configuration error that retrying cannot fix (`invalid_auth`, `not_allowed_token_type`,
    /// `token_revoked`, …): stop.
    Fatal {
        /// Slack's error code or a description.
        error: String,
    },
    /// Slack asked us to wait (HTTP 429).
    RateLimited {
        /// Slack's `Retry-After`.
        retry_after: Duration,
        /// A description.
        error: String,
    },
    /// Anything else (network, 5xx, handshake failure): retry with backoff.
    Transient {
        /// A description.
        error: String,
    },
}

/// Why a connection ended or is being replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// Slack sent `disconnect` with this reason.
    Slack(DisconnectReason),
    /// Nothing was heard for this long.
    Unresponsive(Duration),
    /// No `hello` in time.
    HelloTimeout,
    /// The connection was replaced by a newer one.
    Replaced,
    /// The socket was closed by the peer or the network.
    Closed {
        /// Close code.
        code: Option<u16>,
        /// Close reason.
        reason: String,
    },
    /// The close handshake did not finish in time.
    CloseTimedOut,
    /// Opening the connection failed.
    ConnectFailed(String),
    /// The caller did not report the attempt's outcome within `connect_timeout`.
    ConnectTimedOut,
    /// [`Supervisor::shutdown`] was called.
    Shutdown,
    /// The supervisor stopped for a fatal reason.
    Stopping,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Slack(r) => write!(f, "slack sent disconnect ({r})"),
            Cause::Unresponsive(d) => write!(f, "no traffic for {:.1}s", d.as_secs_f64()),
            Cause::HelloTimeout => write!(f, "no hello in time"),
            Cause::Replaced => write!(f, "replaced by a newer connection"),
            Cause::Closed { code, reason } => match code {
                Some(c) => write!(f, "closed with code {c} ({})", clip(reason, MAX_TEXT)),
                None => write!(f, "closed ({})", clip(reason, MAX_TEXT)),
            },
            Cause::CloseTimedOut => write!(f, "close handshake timed out"),
            Cause::ConnectFailed(e) => write!(f, "connect failed: {}", clip(e, MAX_TEXT)),
            Cause::ConnectTimedOut => write!(f, "connect attempt timed out"),
            Cause::Shutdown => write!(f, "shutdown"),
            Cause::Stopping => write!(f, "stopping"),
        }
    }
}

/// Why the supervisor stopped for good.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// Socket Mode was turned off for the app (`link_disabled`).
    LinkDisabled,
    /// A configuration error (bad or revoked token, wrong token type, …).
    Fatal(String),
    /// [`Supervisor::shutdown`] was called.
    Shutdown,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::LinkDisabled => {
                write!(f, "socket mode was disabled for this app (link_disabled)")
            }
            StopReason::Fatal(e) => write!(f, "fatal error: {}", clip(e, MAX_TEXT)),
            StopReason::Shutdown => write!(f, "shut down"),
        }
    }
}

/// Lifecycle transitions, for logs and observers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// A connection attempt starts (the caller should fetch a URL and connect).
    Connecting {
        /// The new connection.
        conn: ConnId,
        /// 1 for the first attempt after a success or at start, then counting failures.
        attempt: u32,
    },
    /// The caller reported that the URL was obtained.
    Authenticated {
        /// The connection.
        conn: ConnId,
    },
    /// The socket is open; waiting for `hello`.
    Connected {
        /// The connection.
        conn: ConnId,
    },
    /// `hello` arrived.
    Ready {
        /// The connection.
        conn: ConnId,
        /// What Slack said.
        hello: Hello,
        /// How many connections are ready now.
        ready_connections: usize,
    },
    /// A connection is being closed by us.
    Disconnecting {
        /// The connection.
        conn: ConnId,
        /// Why.
        cause: Cause,
    },
    /// A replacement or retry is scheduled.
    Reconnecting {
        /// The connection being replaced, if any.
        replacing: Option<ConnId>,
        /// Why.
        cause: Cause,
        /// How many failures in a row so far (0 for a routine replacement).
        failures: u32,
        /// How long until the attempt.
        delay: Duration,
    },
    /// A connection is gone.
    Disconnected {
        /// The connection.
        conn: ConnId,
        /// Why.
        cause: Cause,
    },
    /// Something went wrong that does not end anything (an unreadable frame, a late ack, …).
    Error {
        /// The connection, if it concerns one.
        conn: Option<ConnId>,
        /// What happened.
        message: String,
    },
    /// The supervisor stopped before any connection became ready.
    UnableToStart {
        /// Why.
        reason: StopReason,
    },
}

/// What the supervisor asks of the caller or reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Open a connection: fetch a fresh URL (`apps.connections.open`) and connect the socket,
    /// then report with [`Supervisor::handle_connected`] or [`Supervisor::handle_connect_failed`].
    Connect {
        /// The id to use for it.
        conn: ConnId,
    },
    /// Drop this connection's socket now (no more frames; its close handshake, if any, is over).
    Abort {
        /// The connection.
        conn: ConnId,
    },
    /// A request for the application. Ack it ([`Supervisor::ack`]) or, if it cannot be taken,
    /// [`Supervisor::decline`] it so that Slack's redelivery gets through.
    Request {
        /// The connection it came on.
        conn: ConnId,
        /// The envelope.
        envelope: Envelope,
    },
    /// A redelivery of something already handed over: it was acked automatically and is not
    /// handed over again.
    Duplicate {
        /// The connection it came on.
        conn: ConnId,
        /// Its envelope id.
        envelope_id: String,
        /// The `event_id` (or envelope id) that matched.
        key: String,
    },
    /// An envelope is close to Slack's 3 s deadline and still un-acked.
    AckOverdue {
        /// The connection.
        conn: ConnId,
        /// The envelope.
        envelope_id: String,
        /// Its age.
        age: Duration,
    },
    /// A lifecycle transition.
    Lifecycle(Lifecycle),
    /// The supervisor has stopped; every connection is gone. Nothing else follows.
    Stopped(StopReason),
}

/// Counters, for stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Envelopes received (duplicates included).
    pub received: u64,
    /// Envelopes handed to the application.
    pub delivered: u64,
    /// Acks sent (duplicates' automatic acks included).
    pub acked: u64,
    /// Redeliveries suppressed.
    pub duplicates: u64,
    /// Requests declined by the application (left un-acked for redelivery).
    pub declined: u64,
    /// Envelopes that neared the ack deadline un-acked.
    pub ack_overdue: u64,
    /// Frames that could not be read.
    pub invalid_frames: u64,
    /// Connections that became ready.
    pub connections_opened: u64,
    /// Connections opened to replace or retry another (all but the first `connections`).
    pub reconnects: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// The last ping round trip on any connection.
    pub last_rtt: Option<Duration>,
}

/// One connection.
#[derive(Debug)]
enum Slot {
    /// The caller is fetching a URL and opening the socket.
    Connecting { deadline: Instant },
    /// The socket is open.
    Live { session: Box<Session>, state: Link },
}

/// What the supervisor wants of an open connection.
#[derive(Debug, Clone, PartialEq)]
enum Link {
    /// Wanted: it counts towards the connections to hold.
    Active,
    /// To be replaced (Slack's `disconnect`, a suspect silence, a surplus link). It still
    /// receives and acks, until enough newer or active links can receive.
    Retiring(Cause),
    /// Replaced since `since`: kept open, receiving and acking, until it is quiet (see
    /// [`Config::drain_quiet`]), then closed.
    Draining { cause: Cause, since: Instant },
    /// We are closing it (our close frame is out, or the session closes itself after no
    /// `hello`): only its end is awaited.
    Closing(Cause),
}

impl Slot {
    fn session(&self) -> Option<&Session> {
        match self {
            Slot::Live { session, .. } => Some(session),
            Slot::Connecting { .. } => None,
        }
    }

    fn session_mut(&mut self) -> Option<&mut Session> {
        match self {
            Slot::Live { session, .. } => Some(session),
            Slot::Connecting { .. } => None,
        }
    }

    fn link(&self) -> Option<&Link> {
        match self {
            Slot::Live { state, .. } => Some(state),
            Slot::Connecting { .. } => None,
        }
    }

    /// Retiring or draining: replaced, or to be.
    fn is_retiring(&self) -> bool {
        matches!(self.link(), Some(Link::Retiring(_) | Link::Draining { .. }))
    }

    /// Counts towards the connections to hold: connecting, or open and wanted.
    fn is_active(&self) -> bool {
        matches!(self, Slot::Connecting { .. }) || self.link() == Some(&Link::Active)
    }

    /// Can receive: open, `hello` received, not suspected dead, not closing.
    fn is_ready(&self) -> bool {
        match self {
            Slot::Live { session, state } => {
                !matches!(state, Link::Closing(_))
                    && session.state() == SessionState::Open
                    && !session.is_suspected()
            }
            Slot::Connecting { .. } => false,
        }
    }
}

/// The policy over all connections. See the crate docs for the loop that drives it.
#[derive(Debug)]
pub struct Supervisor {
    cfg: Config,
    slots: BTreeMap<ConnId, Slot>,
    next_id: u64,
    failures: u32,
    next_attempt_at: Option<Instant>,
    /// Paces connection attempts.
    bucket: TokenBucket,
    jitter: Jitter,
    dedup: DedupWindow,
    stopping: Option<StopReason>,
    stopped: bool,
    ever_ready: bool,
    stats: Stats,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    started: bool,
    /// Set when something happened that may change the set of connections.
    dirty: bool,
}

impl Supervisor {
    /// A supervisor with `cfg`. Nothing happens until [`Supervisor::start`].
    pub fn new(cfg: Config) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(Supervisor {
            jitter: Jitter::new(cfg.jitter_seed),
            bucket: TokenBucket::new(cfg.connect_burst, cfg.connect_interval),
            dedup: DedupWindow::new(cfg.dedup_window, cfg.dedup_capacity),
            cfg,
            slots: BTreeMap::new(),
            next_id: 1,
            failures: 0,
            next_attempt_at: None,
            stopping: None,
            stopped: false,
            ever_ready: false,
            stats: Stats::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            started: false,
            dirty: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Starts: asks for the first connection.
    pub fn start(&mut self, now: Instant) {
        if !self.started {
            self.started = true;
            self.reconcile(now);
        }
    }

    /// Changes how many connections to hold (at most [`MAX_CONNECTIONS`]; 0 holds none: a
    /// standby that keeps its state and can be given connections again). More are opened
    /// as the connect pacing allows; fewer retire the oldest ready links, each drained like
    /// a refreshed one, so no envelope in flight is lost. Before [`Supervisor::start`] it
    /// only sets the goal.
    pub fn set_connections(&mut self, now: Instant, connections: usize) {
        let n = connections.min(MAX_CONNECTIONS);
        if n == self.cfg.connections {
            return;
        }
        self.cfg.connections = n;
        self.reconcile(now);
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether at least one connection is ready and not suspected dead.
    pub fn is_connected(&self) -> bool {
        self.slots.values().any(|s| {
            s.session()
                .is_some_and(|sess| sess.state() == SessionState::Open && !sess.is_suspected())
        })
    }

    /// Number of connections ready (hello received, not closing).
    pub fn ready_connections(&self) -> usize {
        self.slots.values().filter(|s| s.is_ready()).count()
    }

    /// Ids of every connection that exists (connecting, open or closing).
    pub fn connections(&self) -> Vec<ConnId> {
        self.slots.keys().copied().collect()
    }

    /// Whether the supervisor has stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The session of a live connection, for inspection.
    pub fn session(&self, conn: ConnId) -> Option<&Session> {
        self.slots.get(&conn).and_then(Slot::session)
    }

    // ----- inputs -------------------------------------------------------------------------

    /// The caller obtained a URL for `conn` (optional; only for the lifecycle).
    pub fn handle_authenticated(&mut self, _now: Instant, conn: ConnId) -> Result<(), Error> {
        match self.slots.get(&conn) {
            Some(Slot::Connecting { .. }) => {
                self.lifecycle(Lifecycle::Authenticated { conn });
                Ok(())
            }
            _ => Err(Error::UnknownConnection { conn }),
        }
    }

    /// The socket of `conn` is open. An error means the attempt was abandoned meanwhile:
    /// drop the socket.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) -> Result<(), Error> {
        let session_cfg = self.cfg.session.clone();
        let Some(slot @ Slot::Connecting { .. }) = self.slots.get_mut(&conn) else {
            return Err(Error::UnknownConnection { conn });
        };
        *slot = Slot::Live {
            session: Box::new(Session::new(now, session_cfg)),
            state: Link::Active,
        };
        self.lifecycle(Lifecycle::Connected { conn });
        self.reconcile(now);
        Ok(())
    }

    /// The attempt for `conn` failed before the socket opened.
    pub fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, failure: ConnectFailure) {
        let Some(Slot::Connecting { .. }) = self.slots.get(&conn) else {
            return;
        };
        self.slots.remove(&conn);
        self.stats.connect_failures += 1;
        // The caller's description may quote a server's answer: keep it short.
        let failure = match failure {
            ConnectFailure::Fatal { error } => ConnectFailure::Fatal {
                error: crate::text::clipped(&error),
            },
            ConnectFailure::RateLimited { retry_after, error } => ConnectFailure::RateLimited {
                retry_after,
                error: crate::text::clipped(&error),
            },
            ConnectFailure::Transient { error } => ConnectFailure::Transient {
                error: crate::text::clipped(&error),
            },
        };
        match failure {
            ConnectFailure::Fatal { error } => {
                self.lifecycle(Lifecycle::Disconnected {
                    conn,
                    cause: Cause::ConnectFailed(error.clone()),
                });
                self.stop(now, StopReason::Fatal(error));
            }
            ConnectFailure::RateLimited { retry_after, error } => {
                self.lifecycle(Lifecycle::Disconnected {
                    conn,
                    cause: Cause::ConnectFailed(error.clone()),
                });
                let wait = retry_after.min(self.cfg.max_retry_after);
                if wait < retry_after {
                    log::warn!(
                        "socket mode: apps.connections.open asked to wait {}s (Retry-After); \
                         waiting {}s instead, the longest honoured",
                        retry_after.as_secs(),
                        wait.as_secs()
                    );
                }
                let delay = self.fail(now, None, Cause::ConnectFailed(error), wait);
                log::warn!(
                    "socket mode: rate limited by apps.connections.open; next attempt in {:.1}s",
                    delay.as_secs_f64()
                );
            }
            ConnectFailure::Transient { error } => {
                self.lifecycle(Lifecycle::Disconnected {
                    conn,
                    cause: Cause::ConnectFailed(error.clone()),
                });
                self.fail(now, None, Cause::ConnectFailed(error), Duration::ZERO);
            }
        }
        self.reconcile(now);
    }

    /// A text frame arrived on `conn`.
    pub fn handle_text(&mut self, now: Instant, conn: ConnId, text: String) -> Result<(), Error> {
        self.with_session(now, conn, |s| s.handle_text(now, text))
    }

    /// A text frame arrived on `conn` and was already parsed with [`Frame::parse`]: the same
    /// as [`Supervisor::handle_text`] with the frame's text. Lets the parsing run on another
    /// thread (the transport's reader, say) while this one works on the frame before.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        conn: ConnId,
        parsed: Result<Frame, Error>,
    ) -> Result<(), Error> {
        self.with_session(now, conn, |s| s.handle_frame(now, parsed))
    }

    /// A binary frame arrived on `conn`.
    pub fn handle_binary(&mut self, now: Instant, conn: ConnId, len: usize) -> Result<(), Error> {
        self.with_session(now, conn, |s| s.handle_binary(now, len))
    }

    /// A ping arrived on `conn`.
    pub fn handle_ping(&mut self, now: Instant, conn: ConnId) -> Result<(), Error> {
        self.with_session(now, conn, |s| s.handle_ping(now))
    }

    /// A pong arrived on `conn`.
    pub fn handle_pong(&mut self, now: Instant, conn: ConnId, payload: &[u8]) -> Result<(), Error> {
        self.with_session(now, conn, |s| s.handle_pong(now, payload))
    }

    /// The socket of `conn` closed (close frame, network error, or end of the transport).
    pub fn handle_closed(
        &mut self,
        now: Instant,
        conn: ConnId,
        code: Option<u16>,
        reason: &str,
    ) -> Result<(), Error> {
        let connecting = matches!(self.slots.get(&conn), Some(Slot::Connecting { .. }));
        if connecting {
            self.handle_connect_failed(
                now,
                conn,
                ConnectFailure::Transient {
                    error: reason.to_owned(),
                },
            );
            return Ok(());
        }
        self.with_session(now, conn, |s| s.handle_closed(now, code, reason))
    }

    /// Time passed: fire due deadlines. Call it at (or after) [`Supervisor::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<ConnId> = self.slots.keys().copied().collect();
        for conn in ids {
            let mut timed_out = false;
            let mut abort_suspect = false;
            match self.slots.get_mut(&conn) {
                Some(Slot::Connecting { deadline }) => timed_out = now >= *deadline,
                Some(Slot::Live { session, .. }) => {
                    session.handle_timeout(now);
                    abort_suspect = session.should_abort(now);
                }
                None => {}
            }
            if timed_out {
                self.slots.remove(&conn);
                self.stats.connect_failures += 1;
                self.push_event(Event::Abort { conn });
                self.lifecycle(Lifecycle::Disconnected {
                    conn,
                    cause: Cause::ConnectTimedOut,
                });
                self.fail(now, None, Cause::ConnectTimedOut, Duration::ZERO);
            } else if abort_suspect {
                if let Some(slot) = self.slots.remove(&conn) {
                    let silence = slot.session().map_or(Duration::ZERO, |s| {
                        now.saturating_duration_since(s.last_received())
                    });
                    self.push_event(Event::Abort { conn });
                    self.lifecycle(Lifecycle::Disconnected {
                        conn,
                        cause: Cause::Unresponsive(silence),
                    });
                }
            } else {
                self.drain_session(now, conn);
            }
        }
        self.reconcile(now);
    }

    /// Acks `envelope_id` without a payload, on the connection it came from.
    pub fn ack(&mut self, now: Instant, envelope_id: &str) -> Result<(), Error> {
        self.ack_json(now, envelope_id, None)
    }

    /// Acks with a payload (only for envelopes with `accepts_response_payload`).
    pub fn ack_with_payload<T: serde::Serialize + ?Sized>(
        &mut self,
        now: Instant,
        envelope_id: &str,
        payload: &T,
    ) -> Result<(), Error> {
        let json =
            crate::ack::payload_to_json(envelope_id, payload, self.cfg.session.max_ack_payload)?;
        self.ack_json(now, envelope_id, Some(&json))
    }

    /// Acks with an already serialized payload.
    pub fn ack_json(
        &mut self,
        now: Instant,
        envelope_id: &str,
        payload_json: Option<&str>,
    ) -> Result<(), Error> {
        let mut live = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.session().is_some());
        let found = match (live.next(), live.next()) {
            // One connection: its session tells an unknown or already acked envelope apart
            // itself (the same errors), so the envelope is looked up once, not twice.
            (Some((id, _)), None) => Some(*id),
            _ => self
                .slots
                .iter()
                .find_map(|(id, slot)| slot.session()?.knows(envelope_id).then_some(*id)),
        };
        let Some(conn) = found else {
            return Err(Error::UnknownEnvelope {
                envelope_id: crate::text::clipped(envelope_id),
            });
        };
        let Some(sess) = self.slots.get_mut(&conn).and_then(Slot::session_mut) else {
            return Err(Error::UnknownConnection { conn });
        };
        if !matches!(
            sess.state(),
            SessionState::Open | SessionState::AwaitingHello
        ) {
            // Checked here, so the error names the connection.
            return Err(Error::ConnectionClosing { conn });
        }
        sess.ack_json(now, envelope_id, payload_json)?;
        self.stats.acked += 1;
        self.drain_session(now, conn);
        Ok(())
    }

    /// The application cannot take this request now: it is left un-acked so that Slack
    /// redelivers it, and forgotten by duplicate suppression so the redelivery gets through.
    pub fn decline(&mut self, envelope: &Envelope) {
        self.dedup.forget(envelope.dedup_key());
        for sess in self.slots.values_mut().filter_map(Slot::session_mut) {
            sess.forget(envelope.envelope_id());
        }
        self.stats.declined += 1;
    }

    /// Stops taking new requests and closes every connection with code 1000. Acks still
    /// pending should be sent before this. [`Event::Stopped`] follows once all are closed.
    pub fn shutdown(&mut self, now: Instant) {
        if self.stopping.is_none() {
            self.stop(now, StopReason::Shutdown);
        }
    }

    // ----- outputs ------------------------------------------------------------------------

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Supervisor::handle_timeout`] next (`None`: nothing is scheduled).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for (&conn, slot) in &self.slots {
            match slot {
                Slot::Connecting { deadline } => consider(*deadline),
                Slot::Live { session, state } => {
                    if let Some(t) = session.poll_timeout() {
                        consider(t);
                    }
                    // Only a drain that ends in a close: a retiring link that is still among
                    // the best stays open, and its drain deadline must not be offered (it
                    // would be due again after every `handle_timeout`, a hot loop).
                    if let Link::Draining { since, .. } = state {
                        if self.replaced(conn) {
                            consider(drain_deadline(
                                session,
                                *since,
                                self.cfg.drain_quiet,
                                self.cfg.drain_max,
                            ));
                        }
                    }
                }
            }
        }
        if self.stopping.is_none() && self.started {
            if let Some(t) = self.next_attempt_at {
                if self.wants_connection() {
                    consider(t);
                }
            }
        }
        next
    }

    // ----- internals ----------------------------------------------------------------------

    fn push_event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    fn lifecycle(&mut self, l: Lifecycle) {
        self.dirty = true;
        log::debug!("socket mode: {l:?}");
        self.events.push_back(Event::Lifecycle(l));
    }

    fn with_session(
        &mut self,
        now: Instant,
        conn: ConnId,
        f: impl FnOnce(&mut Session),
    ) -> Result<(), Error> {
        match self.slots.get_mut(&conn).and_then(Slot::session_mut) {
            Some(sess) => f(sess),
            None => return Err(Error::UnknownConnection { conn }),
        }
        self.drain_session(now, conn);
        if self.dirty {
            self.reconcile(now);
        }
        Ok(())
    }

    /// Moves a session's transmits out and acts on its events.
    fn drain_session(&mut self, now: Instant, conn: ConnId) {
        loop {
            let Some(sess) = self.slots.get_mut(&conn).and_then(Slot::session_mut) else {
                return;
            };
            while let Some(frame) = sess.poll_transmit() {
                self.transmits.push_back(Transmit { conn, frame });
            }
            let Some(ev) = sess.poll_event() else {
                return;
            };
            self.on_session_event(now, conn, ev);
        }
    }

    fn on_session_event(&mut self, now: Instant, conn: ConnId, ev: SessionEvent) {
        match ev {
            SessionEvent::Ready(hello) => {
                self.ever_ready = true;
                self.stats.connections_opened += 1;
                if self.stats.connections_opened > self.cfg.connections as u64 {
                    self.stats.reconnects += 1;
                }
                let ready_connections = self.ready_connections();
                self.lifecycle(Lifecycle::Ready {
                    conn,
                    hello,
                    ready_connections,
                });
            }
            SessionEvent::Envelope(envelope) => self.on_envelope(now, conn, envelope),
            SessionEvent::Disconnect(d) => self.on_disconnect(now, conn, d.reason),
            SessionEvent::Unknown { frame_type } => {
                log::debug!(
                    "connection {conn}: ignoring frame of unknown type {:?}",
                    frame_type.as_deref().unwrap_or("(none)")
                );
            }
            SessionEvent::InvalidFrame(e) => {
                self.stats.invalid_frames += 1;
                self.lifecycle(Lifecycle::Error {
                    conn: Some(conn),
                    message: e.to_string(),
                });
            }
            SessionEvent::HelloTimeout => {
                self.mark_closing(conn, Cause::HelloTimeout);
                self.lifecycle(Lifecycle::Disconnecting {
                    conn,
                    cause: Cause::HelloTimeout,
                });
                // Count the failure now, so the retry waits for its backoff.
                self.fail(now, None, Cause::HelloTimeout, Duration::ZERO);
            }
            SessionEvent::Unresponsive { silence } => {
                // Fewer links can receive now: which links count as replaced may change.
                self.dirty = true;
                if self.stopping.is_none() {
                    self.retire(now, conn, Cause::Unresponsive(silence));
                }
            }
            SessionEvent::Responsive => {
                // A false alarm: the link is fine. If it was retiring only for being silent,
                // keep it; any surplus connection is closed by `reconcile`.
                self.dirty = true;
                if let Some(Slot::Live { state, .. }) = self.slots.get_mut(&conn) {
                    if let Link::Retiring(Cause::Unresponsive(_))
                    | Link::Draining {
                        cause: Cause::Unresponsive(_),
                        ..
                    } = state
                    {
                        *state = Link::Active;
                    }
                }
            }
            SessionEvent::AckOverdue { envelope_id, age } => {
                self.stats.ack_overdue += 1;
                self.push_event(Event::AckOverdue {
                    conn,
                    envelope_id,
                    age,
                });
            }
            SessionEvent::Rtt(rtt) => self.stats.last_rtt = Some(rtt),
            SessionEvent::Ended(end) => self.on_ended(now, conn, end),
        }
    }

    fn on_envelope(&mut self, now: Instant, conn: ConnId, envelope: Envelope) {
        self.stats.received += 1;
        if self.stopping.is_some() {
            // Not taken: left un-acked so Slack delivers it to a live connection later.
            return;
        }
        if !self.dedup.insert(now, envelope.dedup_key()) {
            self.stats.duplicates += 1;
            let envelope_id = envelope.envelope_id().to_owned();
            let key = envelope.dedup_key().to_owned();
            if let Some(sess) = self.slots.get_mut(&conn).and_then(Slot::session_mut) {
                if sess.ack(now, &envelope_id).is_ok() {
                    self.stats.acked += 1;
                }
            }
            log::debug!("connection {conn}: duplicate of {key} acked and suppressed");
            self.push_event(Event::Duplicate {
                conn,
                envelope_id,
                key,
            });
            return;
        }
        self.stats.delivered += 1;
        self.push_event(Event::Request { conn, envelope });
    }

    fn on_disconnect(&mut self, now: Instant, conn: ConnId, reason: DisconnectReason) {
        match reason {
            DisconnectReason::LinkDisabled => {
                self.stop(now, StopReason::LinkDisabled);
            }
            DisconnectReason::TooManyWebsockets => {
                let cause = Cause::Slack(DisconnectReason::TooManyWebsockets);
                self.close_conn(now, conn, cause.clone());
                let floor = self.cfg.too_many_websockets_delay;
                self.fail(now, Some(conn), cause, floor);
            }
            other => {
                if self.stopping.is_none() {
                    self.retire(now, conn, Cause::Slack(other));
                }
            }
        }
    }

    fn on_ended(&mut self, now: Instant, conn: ConnId, end: SessionEnd) {
        let Some(slot) = self.slots.remove(&conn) else {
            return;
        };
        let ready_for = slot
            .session()
            .and_then(Session::ready_at)
            .map(|r| now.saturating_duration_since(r));
        let closing_cause = match slot.link() {
            Some(Link::Closing(c)) => Some(c),
            _ => None,
        };
        let cause = match (closing_cause, end) {
            (Some(c), SessionEnd::CloseTimedOut) => {
                log::debug!("connection {conn}: close handshake timed out after {c}");
                self.push_event(Event::Abort { conn });
                c.clone()
            }
            (Some(c), SessionEnd::Closed { .. }) => c.clone(),
            (None, SessionEnd::CloseTimedOut) => {
                self.push_event(Event::Abort { conn });
                Cause::CloseTimedOut
            }
            (None, SessionEnd::Closed { code, reason }) => Cause::Closed { code, reason },
        };
        self.lifecycle(Lifecycle::Disconnected {
            conn,
            cause: cause.clone(),
        });
        if self.stopping.is_some() {
            return;
        }
        // We closed it on purpose, or it was already being replaced: no failure.
        let planned = slot.is_retiring()
            || matches!(
                closing_cause,
                Some(
                    Cause::Replaced
                        | Cause::Slack(DisconnectReason::TooManyWebsockets)
                        | Cause::HelloTimeout
                )
            );
        if planned {
            // The replacement is under way (or the failure was already counted).
        } else if ready_for.is_some() && self.failures == 0 {
            // A link that was working dropped: reconnect at once (a little jitter, so that
            // many processes do not all call at the same instant). A young one counts as a
            // failure, so that if it keeps happening the next ones back off as usual.
            if ready_for.is_some_and(|d| d < self.cfg.healthy_after) {
                self.failures = 1;
            }
            let at = now + self.jitter.up_to(FIRST_RECONNECT_JITTER);
            let at = self.next_attempt_at.map_or(at, |t| t.max(at));
            self.next_attempt_at = Some(at);
            let delay = at.saturating_duration_since(now);
            self.lifecycle(Lifecycle::Reconnecting {
                replacing: Some(conn),
                cause,
                failures: self.failures,
                delay,
            });
        } else if ready_for.is_some_and(|d| d >= self.cfg.healthy_after) {
            self.failures = 0;
            self.next_attempt_at = None;
            self.lifecycle(Lifecycle::Reconnecting {
                replacing: Some(conn),
                cause,
                failures: 0,
                delay: Duration::ZERO,
            });
        } else {
            self.fail(now, Some(conn), cause, Duration::ZERO);
        }
    }

    /// Counts a failure and schedules the next attempt with backoff (at least `floor`);
    /// returns how long until that attempt.
    fn fail(
        &mut self,
        now: Instant,
        replacing: Option<ConnId>,
        cause: Cause,
        floor: Duration,
    ) -> Duration {
        if self.stopping.is_some() {
            return Duration::ZERO;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = self
            .cfg
            .backoff
            .delay(self.failures, &mut self.jitter)
            .max(floor);
        let at = now + delay;
        let at = self.next_attempt_at.map_or(at, |t| t.max(at));
        self.next_attempt_at = Some(at);
        let delay = at.saturating_duration_since(now);
        self.lifecycle(Lifecycle::Reconnecting {
            replacing,
            cause,
            failures: self.failures,
            delay,
        });
        delay
    }

    /// Marks `conn` to be replaced; it is closed once enough replacements are ready.
    fn retire(&mut self, now: Instant, conn: ConnId, cause: Cause) {
        let Some(Slot::Live { state, .. }) = self.slots.get_mut(&conn) else {
            return;
        };
        if *state != Link::Active {
            return;
        }
        *state = Link::Retiring(cause.clone());
        let delay = self
            .next_attempt_at
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        self.lifecycle(Lifecycle::Reconnecting {
            replacing: Some(conn),
            cause,
            failures: self.failures,
            delay,
        });
    }

    fn mark_closing(&mut self, conn: ConnId, cause: Cause) {
        if let Some(Slot::Live { state, .. }) = self.slots.get_mut(&conn) {
            if !matches!(state, Link::Closing(_)) {
                *state = Link::Closing(cause);
            }
        }
    }

    /// Starts closing `conn` with code 1000.
    fn close_conn(&mut self, now: Instant, conn: ConnId, cause: Cause) {
        match self.slots.get_mut(&conn) {
            None
            | Some(Slot::Live {
                state: Link::Closing(_),
                ..
            }) => {}
            Some(Slot::Live { session, state }) => {
                *state = Link::Closing(cause.clone());
                session.close(now, 1000, "");
                self.lifecycle(Lifecycle::Disconnecting { conn, cause });
                self.drain_session(now, conn);
            }
            Some(Slot::Connecting { .. }) => {
                self.slots.remove(&conn);
                self.push_event(Event::Abort { conn });
                self.lifecycle(Lifecycle::Disconnected { conn, cause });
            }
        }
    }

    fn stop(&mut self, now: Instant, reason: StopReason) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("socket mode: stopping: {reason}");
        if !self.ever_ready && reason != StopReason::Shutdown {
            self.lifecycle(Lifecycle::UnableToStart {
                reason: reason.clone(),
            });
        }
        self.stopping = Some(reason.clone());
        let cause = if reason == StopReason::Shutdown {
            Cause::Shutdown
        } else {
            Cause::Stopping
        };
        let ids: Vec<ConnId> = self.slots.keys().copied().collect();
        for conn in ids {
            self.close_conn(now, conn, cause.clone());
        }
        self.reconcile(now);
    }

    fn active_count(&self) -> usize {
        self.slots.values().filter(|s| s.is_active()).count()
    }

    fn wants_connection(&self) -> bool {
        let connecting = self
            .slots
            .values()
            .any(|s| matches!(s, Slot::Connecting { .. }));
        !connecting
            && self.active_count() < self.cfg.connections
            && self.slots.len() < MAX_CONNECTIONS
    }

    /// Brings the set of connections in line with the goal.
    fn reconcile(&mut self, now: Instant) {
        self.dirty = false;
        if self.stopped {
            return;
        }
        if let Some(reason) = &self.stopping {
            if self.slots.is_empty() {
                self.stopped = true;
                let reason = reason.clone();
                self.push_event(Event::Stopped(reason));
            }
            return;
        }
        if !self.started {
            return;
        }
        // Close what has been replaced: retiring connections once enough others are ready,
        // then any surplus beyond the goal (oldest first).
        let mut ready_active: Vec<ConnId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.is_ready() && s.link() == Some(&Link::Active))
            .map(|(id, _)| *id)
            .collect();
        // Surplus links (a suspected link that answered after all, beside its replacement;
        // oldest first) are retired and drained like the others: Slack may be delivering on
        // them.
        let surplus = ready_active.len().saturating_sub(self.cfg.connections);
        for conn in ready_active.drain(..surplus) {
            if let Some(Slot::Live { state, .. }) = self.slots.get_mut(&conn) {
                *state = Link::Retiring(Cause::Replaced);
            }
        }
        // A retiring link is closed (after its drain) once enough links that can receive
        // are newer or not retiring; while it is among the best it keeps receiving, and its
        // drain, if one had started, starts again when it is replaced once more.
        let retiring: Vec<ConnId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.is_retiring())
            .map(|(id, _)| *id)
            .collect();
        for conn in retiring {
            if !self.replaced(conn) {
                if let Some(Slot::Live { state, .. }) = self.slots.get_mut(&conn) {
                    if let Link::Draining { cause, .. } = state {
                        *state = Link::Retiring(cause.clone());
                    }
                }
            } else if self.drained(now, conn) {
                self.close_conn(now, conn, Cause::Replaced);
            }
        }
        // Open one more if wanted and allowed.
        if self.wants_connection() && self.next_attempt_at.is_none_or(|t| now >= t) {
            if !self.bucket.try_take(now) {
                // Over the pace of apps.connections.open: wait for the next token.
                let at = self.bucket.next_token_at(now);
                log::debug!(
                    "socket mode: pacing connection attempts; next in {:.1}s",
                    at.saturating_duration_since(now).as_secs_f64()
                );
                self.next_attempt_at = Some(at);
                return;
            }
            self.next_attempt_at = None;
            let conn = ConnId(self.next_id);
            self.next_id += 1;
            self.slots.insert(
                conn,
                Slot::Connecting {
                    deadline: now + self.cfg.connect_timeout,
                },
            );
            self.push_event(Event::Connect { conn });
            self.lifecycle(Lifecycle::Connecting {
                conn,
                attempt: self.failures + 1,
            });
        }
    }
}

impl Supervisor {
    /// Whether a retiring connection whose replacement is ready may be closed now (see
    /// [`Config::drain_quiet`]); starts its drain if it had not started.
    fn drained(&mut self, now: Instant, conn: ConnId) -> bool {
        let (quiet, max) = (self.cfg.drain_quiet, self.cfg.drain_max);
        let Some(Slot::Live { session, state }) = self.slots.get_mut(&conn) else {
            return true;
        };
        let since = match state {
            Link::Draining { since, .. } => *since,
            Link::Retiring(cause) => {
                log::debug!("connection {conn}: replacement ready; draining before closing");
                *state = Link::Draining {
                    cause: cause.clone(),
                    since: now,
                };
                now
            }
            Link::Active | Link::Closing(_) => return true,
        };
        max.is_zero() || drain_deadline(session, since, quiet, max) <= now
    }
}

/// When a draining session may be closed: once quiet with nothing to ack, or at the limit.
fn drain_deadline(sess: &Session, since: Instant, quiet: Duration, max: Duration) -> Instant {
    let limit = since + max;
    if sess.state() != SessionState::Open || sess.unacked() > 0 {
        return limit;
    }
    let quiet_at = sess.last_envelope().unwrap_or(since) + quiet;
    quiet_at.min(limit)
}

impl Supervisor {
    /// Whether the retiring link `conn` has been replaced: at least `connections` other links
    /// that can receive are either not retiring or newer than it. Only then is it drained and
    /// closed; otherwise it is still among the best links there are.
    fn replaced(&self, conn: ConnId) -> bool {
        let better = self
            .slots
            .iter()
            .filter(|(id, s)| **id != conn && s.is_ready() && (!s.is_retiring() || **id > conn))
            .count();
        better >= self.cfg.connections
    }
}
