//! The event loop: one thread that owns the envelope supervisor and carries out what it asks.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TrySendError, unbounded};
use slack_envelope::Frame;
use slack_envelope::{
    ConnId, ConnectFailure, Envelope, Event, Lifecycle, OutFrame, StopReason, Supervisor,
};
use slack_transport::{DirectWriter, IoThreads, Outgoing};
use slack_web::{AppToken, Outbox, Unsent, WebClient};

use crate::handler::{Context, Reply, Router};
use crate::jobs::JobQueue;
use crate::{BotEvent, Shared};

/// A text frame as the transport hands it over: already parsed, on the connection's I/O
/// thread (`slack_transport::connect_decoded`), so the loop's thread only runs the state
/// machine while the next frame is parsed.
type Parsed = Result<Frame, slack_envelope::Error>;
type Incoming = slack_transport::Incoming<Parsed>;
type Connection = slack_transport::Connection<Parsed>;

/// Messages to the loop from the connect threads, the workers and the handle.
pub(crate) enum LoopMsg {
    Authenticated(ConnId),
    Connected(ConnId, Connection, IoThreads),
    ConnectFailed(ConnId, ConnectFailure),
    /// A handler finished a request that accepts a payload.
    Done {
        envelope_id: String,
        reply: Reply,
    },
    Shutdown,
    // fleet: the claimer's verdicts on envelopes handed over by `fleet_flush`.
    #[cfg(feature = "fleet")]
    FleetVerdicts(crate::fleet::Verdicts),
}

/// Frames taken from one link per wake-up of the loop, at most (the timers and the other
/// links are looked at in between).
const INCOMING_BATCH: usize = 32;

/// A job for the worker pool.
struct Job {
    envelope: Envelope,
    /// Whether the loop waits for the handler's reply to ack.
    wants_reply: bool,
    /// When the loop queued it (the pool grows when jobs wait too long).
    queued: Instant,
}

/// Everything the loop needs, moved into its thread.
pub(crate) struct LoopParts {
    pub(crate) supervisor: Supervisor,
    pub(crate) app_token: AppToken,
    /// The client handlers use (retries 429s and idempotent failures).
    pub(crate) web: WebClient,
    /// The client for `apps.connections.open`: no retries of its own, since the core's
    /// backoff paces connection attempts.
    pub(crate) connect_web: WebClient,
    pub(crate) outbox: Option<Arc<Outbox>>,
    pub(crate) transport: slack_transport::Config,
    pub(crate) debug_reconnects: bool,
    pub(crate) router: Router,
    pub(crate) workers: usize,
    pub(crate) queue_bound: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) bot_user_id: Option<Arc<str>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) inbox: Receiver<LoopMsg>,
    pub(crate) inbox_tx: Sender<LoopMsg>,
    pub(crate) events: Sender<BotEvent>,
    /// The same channel's receiving end, to drop the oldest event when nobody reads.
    pub(crate) events_rx: Receiver<BotEvent>,
}

/// What a finished run reports.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunReport {
    /// Why it stopped.
    pub reason: StopReason,
    /// Outbox messages that could not be sent before the deadline.
    pub unsent: Vec<Unsent>,
    /// Workers still busy at the deadline (their threads were left to finish on their own).
    pub workers_left_running: usize,
}

struct Link {
    sender: Sender<Outgoing>,
    /// Writes on the loop's thread (acks leave without waking the transport's writer).
    direct: DirectWriter,
    receiver: Receiver<Incoming>,
    threads: IoThreads,
}

impl Link {
    fn new(connection: Connection, threads: IoThreads) -> Link {
        Link {
            sender: connection.sender,
            direct: threads.writer(),
            receiver: connection.receiver,
            threads,
        }
    }
}

/// How long requests may wait with every worker busy before another worker is started.
const GROW_AFTER: Duration = Duration::from_millis(5);

/// How long the loop leaves frames waiting on the links while the worker queue is full, at
/// most, before it takes them anyway and declines the requests among them (left un-acked for
/// Slack to redeliver). Short next to Slack's 3 s ack deadline and the core's 5 s before a
/// ping; long enough for a worker that lost its core for a few scheduler slices.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How often the loop looks at the worker queue again while it leaves frames waiting.
const PAUSE_RECHECK: Duration = Duration::from_millis(1);

struct Loop {
    p: LoopParts,
    links: HashMap<ConnId, Link>,
    /// Links the supervisor has let go of, still being closed.
    closing: Vec<Link>,
    connect_threads: Vec<JoinHandle<()>>,
    jobs: Arc<JobQueue<Job>>,
    /// Requests of this wake-up, acked (unless they wait for a reply) and handed to the
    /// workers together once their acks are written (`flush_jobs`).
    pending_jobs: Vec<Job>,
    /// Room left in `jobs` for this wake-up's requests (`None`: not looked at yet). Only this
    /// thread queues jobs, so the room seen once only grows until `flush_jobs`.
    room: Option<usize>,
    /// What each worker gets (cloned per worker).
    worker_ctx: WorkerCtx,
    /// When the last worker was started (the next one waits `GROW_AFTER` more).
    last_grow: Option<Instant>,
    /// Since when the worker queue has been full, leaving frames waiting on the links.
    paused_since: Option<Instant>,
    worker_threads: Vec<JoinHandle<()>>,
    /// Envelopes whose ack waits for the handler's reply.
    awaiting_reply: HashSet<String>,
    draining: bool,
    drain_deadline: Option<Instant>,
    stopped: Option<StopReason>,
    // fleet: envelopes of this wake-up waiting for their fleet-wide claim (`fleet_flush`), and
    // the stream's workers and heartbeat.
    #[cfg(feature = "fleet")]
    fleet_pending: Vec<(ConnId, Envelope)>,
    #[cfg(feature = "fleet")]
    fleet_threads: Option<(crate::fleet::StreamWorkers, JoinHandle<()>)>,
    #[cfg(feature = "fleet")]
    fleet_claimer: Option<crate::fleet::Claimer>,
    /// Envelopes with the claimer, not acked yet.
    #[cfg(feature = "fleet")]
    fleet_in_flight: usize,
}

pub(crate) fn run(p: LoopParts) -> RunReport {
    let jobs = Arc::new(JobQueue::new(p.queue_bound));
    let worker_ctx = WorkerCtx {
        router: p.router.clone(),
        web: p.web.clone(),
        outbox: p.outbox.clone(),
        bot_user_id: p.bot_user_id.clone(),
        inbox: p.inbox_tx.clone(),
        shared: p.shared.clone(),
    };
    let mut l = Loop {
        p,
        links: HashMap::new(),
        closing: Vec::new(),
        connect_threads: Vec::new(),
        jobs,
        pending_jobs: Vec::new(),
        room: None,
        worker_ctx,
        last_grow: None,
        paused_since: None,
        worker_threads: Vec::new(),
        awaiting_reply: HashSet::new(),
        draining: false,
        drain_deadline: None,
        stopped: None,
        #[cfg(feature = "fleet")]
        fleet_pending: Vec::new(),
        #[cfg(feature = "fleet")]
        fleet_threads: None,
        #[cfg(feature = "fleet")]
        fleet_claimer: None,
        #[cfg(feature = "fleet")]
        fleet_in_flight: 0,
    };
    // fleet: the stream's workers run the same handlers as the local workers.
    #[cfg(feature = "fleet")]
    l.fleet_start();
    // One worker now; more are started as work arrives (see `grow_workers`), so an idle bot
    // holds one handler thread rather than `workers` of them.
    l.grow_workers();
    l.main();
    l.finish()
}

impl Loop {
    fn main(&mut self) {
        let now = Instant::now();
        self.p.supervisor.start(now);
        self.pump(now);
        while self.stopped.is_none() {
            self.wait_once();
            let now = Instant::now();
            // `select_deadline` picks a ready operation even when the deadline has passed, so
            // a steady stream of frames would otherwise starve the core's timers (the ack
            // deadline's empty ack, liveness).
            if self.p.supervisor.poll_timeout().is_some_and(|d| now >= d) {
                self.p.supervisor.handle_timeout(now);
            }
            self.check_drain(now);
            self.maybe_grow_workers(now);
            self.pump(now);
            self.publish();
        }
    }

    /// Room for requests in the worker queue for the frames of this wake-up: `Some(n)` to take
    /// frames up to `n` envelopes, `None` to leave them waiting (full for less than
    /// `MAX_PAUSE`), `Some(usize::MAX)` once it has been full that long (requests are then
    /// declined, see `dispatch`).
    fn frame_budget(&mut self, now: Instant) -> Option<usize> {
        if self.draining {
            // Requests are declined anyway; the links' close handshakes must be seen.
            self.paused_since = None;
            return Some(usize::MAX);
        }
        let room = self.jobs.room();
        if room > 0 {
            self.paused_since = None;
            return Some(room);
        }
        let since = *self.paused_since.get_or_insert_with(|| {
            log::debug!("worker queue full: frames wait on their links");
            now
        });
        if now.saturating_duration_since(since) < MAX_PAUSE {
            None
        } else {
            Some(usize::MAX)
        }
    }

    /// Waits for one input (a frame, a message, or the next deadline) and feeds it in.
    fn wait_once(&mut self) {
        let budget = self.frame_budget(Instant::now());
        let mut deadline = self.p.supervisor.poll_timeout();
        let recheck = budget.is_none().then(|| Instant::now() + PAUSE_RECHECK);
        for d in [self.drain_deadline, self.grow_deadline(), recheck]
            .into_iter()
            .flatten()
        {
            deadline = Some(deadline.map_or(d, |x| x.min(d)));
        }
        // While the queue is full, only the inbox and closing links are listened to.
        let ids: Vec<ConnId> = match budget {
            Some(_) => self.links.keys().copied().collect(),
            None => Vec::new(),
        };
        let mut sel = Select::new();
        let inbox_idx = sel.recv(&self.p.inbox);
        for id in &ids {
            if let Some(link) = self.links.get(id) {
                sel.recv(&link.receiver);
            }
        }
        let closing_base = ids.len() + 1;
        for link in &self.closing {
            sel.recv(&link.receiver);
        }
        let oper = match deadline {
            Some(d) => match sel.select_deadline(d) {
                Ok(op) => op,
                Err(_) => {
                    self.p.supervisor.handle_timeout(Instant::now());
                    return;
                }
            },
            None => sel.select(),
        };
        let idx = oper.index();
        if idx == inbox_idx {
            match oper.recv(&self.p.inbox) {
                Ok(msg) => self.on_msg(msg),
                Err(_) => self.stop_now(),
            }
        } else if idx < closing_base {
            let Some(conn) = ids.get(idx - 1).copied() else {
                return;
            };
            let Some(link) = self.links.get(&conn) else {
                return;
            };
            let msg = oper.recv(&link.receiver);
            let now = Instant::now();
            let mut budget = budget.unwrap_or(usize::MAX);
            budget = budget.saturating_sub(usize::from(is_envelope(msg.as_ref().ok())));
            self.on_incoming(now, conn, msg.ok());
            self.take_requests(now);
            // Frames already waiting on this link are taken without another select and fed in
            // together; `main` then writes all their acks at once (one lock, one write) and
            // hands their requests to the workers at once (one lock, one wake-up). No more
            // envelopes than the worker queue has room for: the rest wait on the link.
            for _ in 1..INCOMING_BATCH {
                if budget == 0 {
                    break;
                }
                let Some(link) = self.links.get(&conn) else {
                    break;
                };
                let Ok(msg) = link.receiver.try_recv() else {
                    break;
                };
                budget = budget.saturating_sub(usize::from(is_envelope(Some(&msg))));
                self.on_incoming(now, conn, Some(msg));
                self.take_requests(now);
            }
        } else {
            let i = idx - closing_base;
            let Some(link) = self.closing.get(i) else {
                return;
            };
            match oper.recv(&link.receiver) {
                Ok(Incoming::Closed { .. }) | Err(_) => {
                    let link = self.closing.swap_remove(i);
                    join_link(link);
                }
                Ok(_) => {}
            }
        }
    }

    fn on_msg(&mut self, msg: LoopMsg) {
        let now = Instant::now();
        match msg {
            LoopMsg::Authenticated(conn) => {
                let _ = self.p.supervisor.handle_authenticated(now, conn);
            }
            LoopMsg::Connected(conn, connection, threads) => {
                let link = Link::new(connection, threads);
                if self.p.supervisor.handle_connected(now, conn).is_ok() {
                    self.links.insert(conn, link);
                } else {
                    // The attempt was abandoned meanwhile: close this socket.
                    let _ = link.sender.send(Outgoing::Close {
                        code: 1000,
                        reason: String::new(),
                    });
                    self.closing.push(link);
                }
            }
            LoopMsg::ConnectFailed(conn, failure) => {
                self.p.supervisor.handle_connect_failed(now, conn, failure);
            }
            LoopMsg::Done { envelope_id, reply } => {
                if self.awaiting_reply.remove(&envelope_id) {
                    self.ack_reply(now, &envelope_id, reply);
                } else {
                    log::warn!(
                        "handler for envelope {envelope_id} answered after its ack was sent; its reply is dropped"
                    );
                }
            }
            LoopMsg::Shutdown => self.begin_shutdown(now),
            #[cfg(feature = "fleet")]
            LoopMsg::FleetVerdicts(v) => self.fleet_verdicts(now, v),
        }
    }

    fn ack_reply(&mut self, now: Instant, envelope_id: &str, reply: Reply) {
        let result = match &reply {
            Reply::Ack => self.p.supervisor.ack(now, envelope_id),
            Reply::Payload(v) => self.p.supervisor.ack_with_payload(now, envelope_id, v),
        };
        if let Err(e) = result {
            match e {
                slack_envelope::Error::PayloadTooLarge { .. }
                | slack_envelope::Error::PayloadNotAccepted { .. }
                | slack_envelope::Error::InvalidAckPayload { .. } => {
                    log::warn!("{e}; sending a plain ack instead");
                    if let Err(e) = self.p.supervisor.ack(now, envelope_id) {
                        log::warn!("ack of {envelope_id} failed: {e}");
                    }
                }
                other => log::warn!("ack of {envelope_id} failed: {other}"),
            }
        }
    }

    fn on_incoming(&mut self, now: Instant, conn: ConnId, msg: Option<Incoming>) {
        let sup = &mut self.p.supervisor;
        let closed = match msg {
            Some(Incoming::Text(parsed)) => {
                let _ = sup.handle_frame(now, conn, parsed);
                false
            }
            Some(Incoming::Binary(b)) => {
                let _ = sup.handle_binary(now, conn, b.len());
                false
            }
            Some(Incoming::Ping { at }) => {
                let _ = sup.handle_ping(at.max(now), conn);
                false
            }
            Some(Incoming::Pong { at, payload }) => {
                let _ = sup.handle_pong(at.max(now), conn, &payload);
                false
            }
            Some(Incoming::Error(e)) => {
                log::warn!("connection {conn}: {e}");
                false
            }
            Some(Incoming::Closed { code, reason, by }) => {
                log::debug!("connection {conn} closed by {by:?}: {code:?} {reason}");
                let _ = sup.handle_closed(now, conn, code, &reason);
                true
            }
            None => {
                let _ = sup.handle_closed(now, conn, None, "transport ended");
                true
            }
        };
        if closed {
            if let Some(link) = self.links.remove(&conn) {
                join_link(link);
            }
        }
    }

    /// Carries out the supervisor's events after one frame of a batch, leaving its frames (the
    /// acks) queued for `pump` to write together at the end of the batch. A request is taken
    /// or declined before the next frame is fed: a redelivery of a declined envelope in the
    /// same batch must find it forgotten, not be acked as its duplicate. Before any other
    /// event, the frames queued so far are written first, as `pump` would.
    fn take_requests(&mut self, now: Instant) {
        while let Some(ev) = self.p.supervisor.poll_event() {
            if !matches!(ev, Event::Request { .. } | Event::Duplicate { .. }) {
                self.send_transmits();
            }
            self.on_event(now, ev);
        }
    }

    /// Carries out everything the supervisor asked for.
    fn pump(&mut self, now: Instant) {
        // fleet: claim this wake-up's envelopes (one bounded round trip) before acks are written.
        #[cfg(feature = "fleet")]
        self.fleet_flush(now);
        loop {
            let mut progressed = self.send_transmits();
            while let Some(ev) = self.p.supervisor.poll_event() {
                progressed = true;
                self.on_event(now, ev);
            }
            if !progressed {
                break;
            }
        }
        // The acks of these requests are written (above); now the workers may have them.
        self.flush_jobs();
        self.connect_threads.retain(|h| !h.is_finished());
    }

    /// Hands the supervisor's frames to the transports. Whether there were any.
    /// Frames for one link go in one write (one lock, one flush), on this thread.
    fn send_transmits(&mut self) -> bool {
        let mut any = false;
        let mut batch: Option<(ConnId, Vec<Outgoing>)> = None;
        while let Some(t) = self.p.supervisor.poll_transmit() {
            any = true;
            let out = match t.frame {
                OutFrame::Text(s) => Outgoing::Text(s),
                OutFrame::Ping(p) => Outgoing::Ping(p),
                OutFrame::Close { code, reason } => Outgoing::Close { code, reason },
            };
            match &mut batch {
                Some((conn, frames)) if *conn == t.conn => frames.push(out),
                _ => {
                    if let Some((conn, frames)) = batch.take() {
                        self.write_frames(conn, frames);
                    }
                    batch = Some((t.conn, vec![out]));
                }
            }
        }
        if let Some((conn, frames)) = batch {
            self.write_frames(conn, frames);
        }
        any
    }

    /// On this thread, in one write: the transport's reader holds the connection's lock for
    /// one message at a time, so the wait is short, and the transport's writer thread is never
    /// woken (a wake-up and a lock hand-over per batch of acks cost more than the write).
    fn write_frames(&self, conn: ConnId, frames: Vec<Outgoing>) {
        if let Some(link) = self.links.get(&conn) {
            if let Err(frames) = link.direct.send_all(frames) {
                // The connection is over; the transport drops them (and says so in its log).
                for f in frames {
                    let _ = link.sender.send(f);
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::Connect { conn } => self.spawn_connect(conn),
            Event::Abort { conn } => {
                if let Some(link) = self.links.remove(&conn) {
                    // Dropping our sender makes the transport close and end its threads.
                    let Link {
                        sender,
                        direct,
                        receiver,
                        threads,
                    } = link;
                    drop(sender);
                    let (dead_tx, _) = unbounded();
                    self.closing.push(Link {
                        sender: dead_tx,
                        direct,
                        receiver,
                        threads,
                    });
                }
            }
            Event::Request { conn, envelope } => self.dispatch(now, conn, envelope),
            Event::Duplicate { conn, key, .. } => {
                log::debug!("connection {conn}: redelivery of {key} suppressed");
            }
            Event::AckOverdue {
                conn,
                envelope_id,
                age,
            } => {
                if self.awaiting_reply.remove(&envelope_id) {
                    log::warn!(
                        "handler for envelope {envelope_id} has not answered after {:.1}s; sending an empty ack before Slack's 3 s deadline",
                        age.as_secs_f64()
                    );
                    if let Err(e) = self.p.supervisor.ack(now, &envelope_id) {
                        log::warn!("ack of {envelope_id} failed: {e}");
                    }
                } else {
                    log::warn!(
                        "connection {conn}: envelope {envelope_id} still un-acked after {:.1}s",
                        age.as_secs_f64()
                    );
                }
            }
            Event::Lifecycle(l) => self.on_lifecycle(l),
            Event::Stopped(reason) => {
                log::info!("socket mode stopped: {reason}");
                self.send_event(BotEvent::Stopped(reason.clone()));
                self.stopped = Some(reason);
            }
            other => log::debug!("unhandled supervisor event {other:?}"),
        }
    }

    fn on_lifecycle(&mut self, l: Lifecycle) {
        match &l {
            Lifecycle::Ready {
                conn,
                ready_connections,
                hello,
            } => log::info!(
                "connection {conn} ready ({ready_connections} ready; slack refreshes it in about {}s)",
                hello.approximate_connection_time().unwrap_or(0)
            ),
            Lifecycle::Disconnected { conn, cause } => {
                log::info!("connection {conn} disconnected: {cause}")
            }
            Lifecycle::Reconnecting {
                cause,
                failures,
                delay,
                ..
            } => log::info!(
                "reconnecting ({cause}; {failures} failures in a row; next attempt in {:.1}s)",
                delay.as_secs_f64()
            ),
            Lifecycle::UnableToStart { reason } => log::error!("unable to start: {reason}"),
            Lifecycle::Error { conn, message } => match conn {
                Some(c) => log::warn!("connection {c}: {message}"),
                None => log::warn!("{message}"),
            },
            other => log::debug!("{other:?}"),
        }
        self.send_event(BotEvent::Lifecycle(l));
    }

    fn send_event(&self, e: BotEvent) {
        // Bounded: when nobody reads, the oldest event makes room, so the latest ones (the
        // final `Stopped` above all) are always there to read.
        let mut e = e;
        while let Err(TrySendError::Full(back)) = self.p.events.try_send(e) {
            log::debug!("lifecycle channel full (nobody reads it?); oldest event dropped");
            let _ = self.p.events_rx.try_recv();
            e = back;
        }
    }

    fn dispatch(&mut self, now: Instant, conn: ConnId, envelope: Envelope) {
        if self.draining {
            // Not taken: left un-acked so Slack redelivers it (to us after a restart, or to
            // another instance).
            self.p.supervisor.decline(&envelope);
            return;
        }
        // Checked before the ack, so a request that finds no room is declined (redelivered by
        // Slack) rather than acked and lost.
        let room = match self.room {
            Some(room) => room,
            None => self.jobs.room(),
        };
        let Some(room) = room.checked_sub(1) else {
            self.room = Some(0);
            self.queue_full(&envelope);
            return;
        };
        self.room = Some(room);
        // fleet: claimed fleet-wide first; acked (or handled locally) in `fleet_flush`.
        #[cfg(feature = "fleet")]
        if self.p.shared.fleet.is_some() {
            self.fleet_pending.push((conn, envelope));
            return;
        }
        self.take_request(now, conn, envelope);
    }

    /// Acks a request taken by this replica (unless it waits for a reply) and queues its job.
    fn take_request(&mut self, now: Instant, conn: ConnId, envelope: Envelope) {
        let wants_reply = envelope.accepts_response_payload();
        if wants_reply {
            self.awaiting_reply
                .insert(envelope.envelope_id().to_owned());
        } else if let Err(e) = self.p.supervisor.ack(now, envelope.envelope_id()) {
            log::warn!(
                "connection {conn}: ack of {} failed: {e}",
                envelope.envelope_id()
            );
        }
        self.pending_jobs.push(Job {
            envelope,
            wants_reply,
            queued: now,
        });
    }

    /// Hands this wake-up's requests to the workers (after their acks were written).
    fn flush_jobs(&mut self) {
        self.room = None;
        for job in self.jobs.push_all(&mut self.pending_jobs) {
            // Only after `finish` closed the queue, which no dispatch follows.
            if job.wants_reply {
                self.awaiting_reply.remove(job.envelope.envelope_id());
                self.queue_full(&job.envelope);
            } else {
                log::error!(
                    "worker queue refused envelope {} after its ack was sent; its handler does not run",
                    job.envelope.envelope_id()
                );
            }
        }
    }

    /// Starts another worker when the oldest queued request has waited `GROW_AFTER` (and as
    /// long since the last worker was started): a busy
    /// worker that keeps up (the common case: handlers that return quickly) is not joined by
    /// others competing for the same cores, while a slow handler gets company within a few
    /// milliseconds. The pool grows to what the load needs and then stays.
    fn maybe_grow_workers(&mut self, now: Instant) {
        if self.grow_deadline().is_some_and(|deadline| now >= deadline) {
            self.grow_workers();
            self.last_grow = Some(now);
        }
    }

    /// When `maybe_grow_workers` must look again, if the pool can still grow.
    fn grow_deadline(&self) -> Option<Instant> {
        if self.worker_threads.len() >= self.p.workers {
            return None;
        }
        let oldest = self.jobs.oldest(|job| job.queued)?;
        Some(self.last_grow.map_or(oldest, |t| t.max(oldest)) + GROW_AFTER)
    }

    /// Starts one more worker, up to the configured number.
    fn grow_workers(&mut self) {
        let i = self.worker_threads.len();
        if i >= self.p.workers {
            return;
        }
        let jobs = Arc::clone(&self.jobs);
        let ctx = self.worker_ctx.clone();
        match std::thread::Builder::new()
            .name(format!("slack-worker-{i}"))
            .spawn(move || worker(&jobs, &ctx))
        {
            Ok(h) => self.worker_threads.push(h),
            Err(e) => log::error!("could not start worker thread {i}: {e}"),
        }
    }

    fn queue_full(&mut self, envelope: &Envelope) {
        self.p.shared.queue_full.fetch_add(1, Ordering::Relaxed);
        log::warn!(
            "worker queue full ({} waiting): envelope {} left un-acked for Slack to redeliver",
            self.p.queue_bound,
            envelope.envelope_id()
        );
        self.p.supervisor.decline(envelope);
    }

    fn spawn_connect(&mut self, conn: ConnId) {
        let web = self.p.connect_web.clone();
        let app_token = self.p.app_token.clone();
        let transport = self.p.transport.clone();
        let debug = self.p.debug_reconnects;
        let inbox = self.p.inbox_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("slack-connect-{}", conn.0))
            .spawn(move || {
                let msg = connect(conn, &web, &app_token, &transport, debug, &inbox);
                let _ = inbox.send(msg);
            });
        match spawned {
            Ok(h) => self.connect_threads.push(h),
            Err(e) => {
                self.p.supervisor.handle_connect_failed(
                    Instant::now(),
                    conn,
                    ConnectFailure::Transient {
                        error: format!("could not start a thread: {e}"),
                    },
                );
            }
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.draining {
            return;
        }
        log::info!("shutting down: taking no new requests");
        self.draining = true;
        self.drain_deadline = Some(now + self.p.shutdown_timeout / 2);
        self.check_drain(now);
    }

    /// Once in-flight handler replies are in (or the drain deadline passed), closes the
    /// connections.
    fn check_drain(&mut self, now: Instant) {
        if !self.draining {
            return;
        }
        let deadline_passed = self.drain_deadline.is_some_and(|d| now >= d);
        // fleet: envelopes with the claimer are acked before the connections close.
        #[cfg(feature = "fleet")]
        let waiting = !self.awaiting_reply.is_empty() || self.fleet_in_flight > 0;
        #[cfg(not(feature = "fleet"))]
        let waiting = !self.awaiting_reply.is_empty();
        if !waiting || deadline_passed {
            for id in std::mem::take(&mut self.awaiting_reply) {
                log::warn!("shutdown: handler for {id} did not answer in time; plain ack");
                let _ = self.p.supervisor.ack(now, &id);
            }
            self.pump(now);
            self.drain_deadline = None;
            self.p.supervisor.shutdown(now);
        }
    }

    fn stop_now(&mut self) {
        let now = Instant::now();
        self.begin_shutdown(now);
    }

    fn publish(&self) {
        let sup = &self.p.supervisor;
        self.p
            .shared
            .connected
            .store(sup.is_connected(), Ordering::Relaxed);
        if let Ok(mut s) = self.p.shared.core.lock() {
            s.stats = sup.stats().clone();
            s.ready = sup.ready_connections();
        }
    }

    fn finish(mut self) -> RunReport {
        self.publish();
        // fleet: stop reading the stream, let its handlers finish, give back the leases.
        #[cfg(feature = "fleet")]
        self.fleet_stop(Instant::now() + self.p.shutdown_timeout);
        let reason = self.stopped.clone().unwrap_or(StopReason::Shutdown);
        let deadline = Instant::now() + self.p.shutdown_timeout;
        // Workers: no new jobs; let the running ones finish until the deadline.
        self.jobs.close();
        let mut left = 0;
        for h in std::mem::take(&mut self.worker_threads) {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                left += 1;
            }
        }
        if left > 0 {
            log::warn!("{left} handler(s) still running at the shutdown deadline; not waiting");
        }
        let unsent = match &self.p.outbox {
            Some(outbox) => outbox.shutdown(deadline.max(Instant::now() + Duration::from_secs(1))),
            None => Vec::new(),
        };
        if !unsent.is_empty() {
            log::warn!(
                "{} queued message(s) could not be sent before shutdown",
                unsent.len()
            );
        }
        for (_, link) in self.links.drain() {
            drop(link.sender);
            let _ = link.threads.join();
        }
        for link in self.closing.drain(..) {
            join_link(link);
        }
        // Connect attempts are bounded by the web and transport timeouts (DNS included); wait
        // for them until the shutdown deadline, not longer.
        let mut connects_left = 0;
        for h in self.connect_threads.drain(..) {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                connects_left += 1;
            }
        }
        if connects_left > 0 {
            log::warn!(
                "{connects_left} connection attempt(s) still running at the shutdown deadline; not waiting"
            );
        }
        // A socket that opened after the loop stopped listening: close it and join its threads
        // rather than leave them to the channel's drop.
        for msg in self.p.inbox.try_iter() {
            if let LoopMsg::Connected(_, connection, threads) = msg {
                join_link(Link::new(connection, threads));
            }
        }
        self.p.shared.connected.store(false, Ordering::Relaxed);
        RunReport {
            reason,
            unsent,
            workers_left_running: left,
        }
    }
}

fn join_link(link: Link) {
    drop(link.sender);
    drop(link.receiver);
    if let Err(e) = link.threads.join() {
        log::debug!("transport threads ended with: {e}");
    }
}

/// Fetches a URL and opens the socket (on a short-lived thread).
fn connect(
    conn: ConnId,
    web: &WebClient,
    app_token: &AppToken,
    transport: &slack_transport::Config,
    debug_reconnects: bool,
    inbox: &Sender<LoopMsg>,
) -> LoopMsg {
    let url = match web.apps_connections_open(app_token) {
        Ok(url) => url,
        Err(e) => {
            let failure = if e.is_fatal_config() || e.is_fatal_auth() {
                ConnectFailure::Fatal {
                    error: e.to_string(),
                }
            } else if let Some(retry_after) = e.retry_after() {
                ConnectFailure::RateLimited {
                    retry_after,
                    error: e.to_string(),
                }
            } else {
                ConnectFailure::Transient {
                    error: e.to_string(),
                }
            };
            return LoopMsg::ConnectFailed(conn, failure);
        }
    };
    let _ = inbox.send(LoopMsg::Authenticated(conn));
    let url = if debug_reconnects {
        format!("{url}&debug_reconnects=true")
    } else {
        url
    };
    match slack_transport::connect_decoded(&url, transport, Frame::parse) {
        Ok((connection, threads)) => LoopMsg::Connected(conn, connection, threads),
        Err(e) => LoopMsg::ConnectFailed(
            conn,
            ConnectFailure::Transient {
                error: e.to_string(),
            },
        ),
    }
}

/// Whether a frame from a link is an envelope (which may become a request for the workers).
fn is_envelope(msg: Option<&Incoming>) -> bool {
    matches!(msg, Some(Incoming::Text(Ok(Frame::Envelope(_)))))
}

#[derive(Clone)]
struct WorkerCtx {
    router: Router,
    web: WebClient,
    outbox: Option<Arc<Outbox>>,
    bot_user_id: Option<Arc<str>>,
    inbox: Sender<LoopMsg>,
    shared: Arc<Shared>,
}

fn worker(jobs: &JobQueue<Job>, w: &WorkerCtx) {
    while let Some(job) = jobs.pop() {
        run_job(w, job);
    }
}

// fleet: one job's handling, split out of `worker` so the fleet's stream workers run the same code.
fn run_job(w: &WorkerCtx, job: Job) {
    let handler = w.router.find(&job.envelope);
    let ctx = Context {
        envelope: job.envelope,
        web: w.web.clone(),
        outbox: w.outbox.clone(),
        bot_user_id: w.bot_user_id.clone(),
        #[cfg(feature = "fleet")]
        fleet: w.shared.fleet.clone(),
    };
    let envelope_id = ctx.envelope.envelope_id();
    let reply = match handler {
        None => Reply::Ack,
        Some(h) => match catch_unwind(AssertUnwindSafe(|| h(&ctx))) {
            Ok(Ok(reply)) => {
                w.shared.handled.fetch_add(1, Ordering::Relaxed);
                reply
            }
            Ok(Err(e)) => {
                w.shared.handler_errors.fetch_add(1, Ordering::Relaxed);
                log::warn!("handler for envelope {envelope_id} failed: {e}");
                Reply::Ack
            }
            Err(_) => {
                w.shared.handler_errors.fetch_add(1, Ordering::Relaxed);
                log::error!("handler for envelope {envelope_id} panicked");
                Reply::Ack
            }
        },
    };
    if job.wants_reply {
        let _ = w.inbox.send(LoopMsg::Done {
            envelope_id: envelope_id.to_owned(),
            reply,
        });
    } else if matches!(reply, Reply::Payload(_)) {
        log::warn!(
            "handler returned a payload for envelope {envelope_id}, which does not accept one; ignored"
        );
    }
}

// fleet: the loop's side of the fleet (to move into the dispatch module).
#[cfg(feature = "fleet")]
impl Loop {
    fn fleet_start(&mut self) {
        let Some(fleet) = self.p.shared.fleet.clone() else {
            return;
        };
        let ctx = self.worker_ctx.clone();
        let handle: crate::fleet::stream::HandleFn = Arc::new(move |envelope| {
            run_job(
                &ctx,
                Job {
                    envelope,
                    wants_reply: false,
                    queued: Instant::now(),
                },
            );
        });
        let shared = self.p.shared.clone();
        let ready = Arc::new(move || shared.core.lock().map(|c| c.ready).unwrap_or(0));
        let inbox = self.p.inbox_tx.clone();
        let deliver = move |v| {
            let _ = inbox.send(LoopMsg::FleetVerdicts(v));
        };
        match crate::fleet::StreamWorkers::start(&fleet, self.p.workers, handle)
            .and_then(|w| Ok((w, fleet.start_heartbeat(ready)?)))
            .and_then(|t| Ok((t, crate::fleet::Claimer::start(&fleet, deliver)?)))
        {
            Ok((t, c)) => {
                self.fleet_threads = Some(t);
                self.fleet_claimer = Some(c);
            }
            Err(e) => log::error!("fleet: {e}; events are handled locally only"),
        }
    }

    /// Hands this wake-up's envelopes to the claimer (one bounded round trip off this thread,
    /// merged with whatever else is waiting); their verdicts come back on the inbox
    /// (`fleet_verdicts`). Without a claimer they are handled here as without a fleet.
    fn fleet_flush(&mut self, now: Instant) {
        if self.fleet_pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.fleet_pending);
        let n = pending.len();
        let refused = match &self.fleet_claimer {
            Some(c) => c.claim(pending).err(),
            None => Some(pending),
        };
        match refused {
            None => self.fleet_in_flight += n,
            Some(batch) => {
                for (conn, envelope) in batch {
                    self.take_request(now, conn, envelope);
                }
            }
        }
    }

    /// Acks what the fleet recorded or had seen, and handles here what it could not claim in
    /// time (Redis away) or what waits for a reply.
    fn fleet_verdicts(&mut self, now: Instant, verdicts: crate::fleet::Verdicts) {
        use crate::fleet::Verdict;
        self.fleet_in_flight = self.fleet_in_flight.saturating_sub(verdicts.len());
        for (conn, envelope, verdict) in verdicts {
            match verdict {
                Verdict::Recorded | Verdict::Duplicate => {
                    if verdict == Verdict::Duplicate {
                        log::debug!(
                            "connection {conn}: {} was claimed by the fleet before; acked only",
                            envelope.dedup_key()
                        );
                    }
                    if let Err(e) = self.p.supervisor.ack(now, envelope.envelope_id()) {
                        log::warn!(
                            "connection {conn}: ack of {} failed: {e}",
                            envelope.envelope_id()
                        );
                    }
                }
                Verdict::ClaimedLocal | Verdict::Local => {
                    // Room in the local queue was looked at on receipt, in an earlier wake-up:
                    // look again.
                    let room = self.room.unwrap_or_else(|| self.jobs.room());
                    match room.checked_sub(1) {
                        _ if self.draining => self.p.supervisor.decline(&envelope),
                        Some(left) => {
                            self.room = Some(left);
                            self.take_request(now, conn, envelope);
                        }
                        None => self.queue_full(&envelope),
                    }
                }
            }
        }
    }

    fn fleet_stop(&mut self, deadline: Instant) {
        let Some(fleet) = self.p.shared.fleet.clone() else {
            return;
        };
        if let Some(mut c) = self.fleet_claimer.take() {
            c.stop();
        }
        fleet.stop();
        if let Some((workers, heartbeat)) = self.fleet_threads.take() {
            let left = workers.join(deadline);
            if left > 0 {
                log::warn!("fleet: {left} stream worker(s) still busy at the shutdown deadline");
            }
            let _ = heartbeat.join();
        }
    }
}
