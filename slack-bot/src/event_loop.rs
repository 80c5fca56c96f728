//! The event loop: one thread that waits on the links, its inbox and the next deadline, feeds
//! what comes to the envelope supervisor (the protocol) and the dispatcher (the ack policy),
//! and carries out what they say.
//!
//! One envelope's path, in the order of this file: `Loop::turn` waits (`links.rs`) and gets a
//! parsed frame; `on_frames` feeds it to the supervisor; `on_request` asks the dispatcher
//! (`dispatch.rs`) whether to take it; the ack is written in `pump` (`Links::write_transmits`),
//! then the job is queued (`jobs.rs`) for a worker (`workers.rs`), which runs the handler; a
//! reply the ack waits for comes back as `LoopMsg::Done` (`on_reply`) and is acked.
//!
//! In a fleet (feature `fleet`), the dispatcher holds a request for its fleet-wide claim
//! (`Verdict::Claim`): `pump` hands the wake-up's held envelopes to the claimer thread
//! (`fleet/runtime.rs`), its verdicts come back as `LoopMsg::FleetVerdicts` and go to the
//! dispatcher, and what it judged (`Dispatcher::poll_judged`) is carried out like any verdict.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use slack_envelope::{ConnId, ConnectFailure, Envelope, Event, Lifecycle, StopReason, Supervisor};
use slack_transport::IoThreads;
use slack_web::Unsent;

use crate::BotEvent;
use crate::dispatch::{
    Action, DeclineReason, DispatchConfig, Dispatcher, Fallback, Intake, Overdue, ReplyVerdict,
    Verdict,
};
use crate::handler::Reply;
use crate::jobs::{Job, JobQueue, Work};
use crate::links::{Connection, Incoming, Link, Links, Opener, Wake};
use crate::spool::{self, SpoolConfig};
use crate::workers::{Pool, WorkerCtx};

/// Messages to the loop from the connect threads, the workers and the handle.
pub(crate) enum LoopMsg {
    Authenticated(ConnId),
    Connected(ConnId, Connection, IoThreads),
    ConnectFailed(ConnId, ConnectFailure),
    /// A handler finished a request whose ack waits for its reply.
    Done {
        envelope: Envelope,
        reply: Reply,
    },
    Shutdown,
    /// The claimer's verdicts on envelopes the dispatcher holds.
    #[cfg(feature = "fleet")]
    FleetVerdicts(crate::fleet::Verdicts),
    /// Recorded events the fleet's keeper took over (a stopped replica's): (entry, envelope).
    #[cfg(feature = "fleet")]
    FleetTaken(Vec<(String, Envelope)>),
    /// The fleet's budget now grants this many connections (0: a standby).
    #[cfg(feature = "fleet")]
    FleetConnections(usize),
}

/// Frames taken from one link per wake-up of the loop, at most (the timers and the other
/// links are looked at in between).
const INCOMING_BATCH: usize = 32;

/// Everything the loop needs, moved into its thread.
pub(crate) struct LoopParts {
    pub(crate) supervisor: Supervisor,
    pub(crate) dispatch: DispatchConfig,
    pub(crate) opener: Opener,
    /// What the workers get; the loop uses its inbox sender, outbox and shared counters too.
    pub(crate) worker: WorkerCtx,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) spool: Option<SpoolConfig>,
    pub(crate) inbox: Receiver<LoopMsg>,
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
    /// Workers still busy at the deadline, stuck ones included (their threads were left to
    /// finish on their own).
    pub workers_left_running: usize,
    /// Requests acked but not handled by the shutdown deadline, written to the spool
    /// (`BotBuilder::spool_dir`) for the next start to run.
    pub spooled: usize,
    /// Requests acked but not handled by the shutdown deadline and not spooled (no spool
    /// directory, or over its bounds, or it could not be written): lost, since Slack does not
    /// redeliver an acked request. The binary exits with an error when this is not 0.
    pub dropped: usize,
}

struct Loop {
    p: LoopParts,
    dispatch: Dispatcher,
    links: Links,
    jobs: Arc<JobQueue<Job>>,
    pool: Pool,
    /// Requests of this wake-up, acked (unless they wait for a reply) and handed to the
    /// workers together once their acks are written (`flush_jobs`).
    pending_jobs: Vec<Job>,
    connect_threads: Vec<JoinHandle<()>>,
    stopped: Option<StopReason>,
    /// Whether a request over the byte budget was logged already.
    too_large_logged: bool,
    /// The fleet's threads (claimer, keeper, heartbeat), when running in a fleet.
    #[cfg(feature = "fleet")]
    fleet: Option<crate::fleet::runtime::Runtime>,
}

pub(crate) fn run(mut p: LoopParts) -> RunReport {
    #[cfg(feature = "fleet")]
    let fleet = start_fleet(&p);
    #[cfg(feature = "fleet")]
    if fleet.is_none() {
        p.dispatch.claim_bound = None;
    }
    #[cfg(not(feature = "fleet"))]
    {
        p.dispatch.claim_bound = None;
    }
    let jobs = Arc::new(JobQueue::new(
        p.dispatch.queue_bound,
        p.dispatch.queue_bytes,
    ));
    // Stuck workers replaced at most: as many as the pool holds.
    let pool = Pool::new(
        Arc::clone(&jobs),
        p.worker.clone(),
        p.dispatch.workers,
        p.dispatch.workers,
    );
    let mut l = Loop {
        dispatch: Dispatcher::new(p.dispatch.clone()),
        p,
        links: Links::default(),
        jobs,
        pool,
        pending_jobs: Vec::new(),
        connect_threads: Vec::new(),
        stopped: None,
        too_large_logged: false,
        #[cfg(feature = "fleet")]
        fleet,
    };
    // One worker now; the dispatcher says when to add more, so an idle bot holds one handler
    // thread rather than `workers` of them.
    l.pool.grow();
    l.restore_spool();
    l.main();
    l.finish()
}

/// Starts the fleet's threads when the bot runs in a fleet; `None` without one, or if they
/// could not start (then every request is judged here alone).
#[cfg(feature = "fleet")]
fn start_fleet(p: &LoopParts) -> Option<crate::fleet::runtime::Runtime> {
    let fleet = p.worker.services.fleet.as_ref()?;
    let shared = Arc::clone(&p.worker.services.shared);
    let ready = Arc::new(move || shared.core.lock().map(|c| c.ready).unwrap_or(0));
    let inbox = p.worker.inbox.clone();
    let verdicts = move |v| {
        let _ = inbox.send(LoopMsg::FleetVerdicts(v));
    };
    let inbox = p.worker.inbox.clone();
    let taken = move |t| {
        let _ = inbox.send(LoopMsg::FleetTaken(t));
    };
    let inbox = p.worker.inbox.clone();
    let granted = move |n| {
        let _ = inbox.send(LoopMsg::FleetConnections(n));
    };
    match crate::fleet::runtime::Runtime::start(fleet, ready, verdicts, taken, granted) {
        Ok(r) => Some(r),
        Err(e) => {
            log::error!("fleet: {e}; events are handled locally only");
            None
        }
    }
}

impl Loop {
    fn main(&mut self) {
        let now = Instant::now();
        self.p.supervisor.start(now);
        self.pump(now);
        while self.stopped.is_none() {
            self.turn();
            self.pump(Instant::now());
            self.publish();
        }
    }

    /// One wake-up: wait for one input, feed it in, then the timers that are due.
    fn turn(&mut self) {
        let now = Instant::now();
        let queue = self.jobs.view(self.pool.len());
        let intake = self.dispatch.handle_queue(now, queue);
        let deadline = [
            self.p.supervisor.poll_timeout(),
            self.dispatch.poll_timeout(now),
        ]
        .into_iter()
        .flatten()
        .min();
        // While the queue is full, only the inbox and closing links are listened to.
        let read_links = intake != Intake::Wait;
        match self.links.wait(&self.p.inbox, read_links, deadline) {
            Wake::Inbox(msg) => self.on_msg(msg),
            Wake::InboxClosed => self.dispatch.handle_shutdown(Instant::now()),
            Wake::Frame(conn, msg) => self.on_frames(conn, msg, intake),
            Wake::Closing | Wake::Timeout => {}
        }
        // `select_deadline` picks a ready operation even when the deadline has passed, so a
        // steady stream of frames would otherwise starve the timers (the ack deadline's empty
        // ack, liveness).
        let now = Instant::now();
        if self.p.supervisor.poll_timeout().is_some_and(|d| now >= d) {
            self.p.supervisor.handle_timeout(now);
        }
        if self.dispatch.poll_timeout(now).is_some_and(|d| now >= d) {
            let q = self.jobs.view(self.pool.len());
            self.dispatch.handle_backlog(q.oldest_queued, q.workers);
            self.dispatch.handle_timeout(now);
        }
    }

    /// Feeds `first` and the frames already waiting behind it on the same link (no more
    /// envelopes than the worker queue has room for; the rest wait on the link). Each frame's
    /// requests are judged before the next frame is fed, so a redelivery in the same batch as
    /// its declined original finds it forgotten. `pump` then writes all their acks at once
    /// (one lock, one write) and hands their jobs to the workers at once (one wake-up).
    fn on_frames(&mut self, conn: ConnId, first: Option<Incoming>, intake: Intake) {
        let now = Instant::now();
        let mut budget = match intake {
            Intake::Take(n) => n,
            Intake::Wait => usize::MAX,
        };
        let mut msg = first;
        for i in 0..INCOMING_BATCH {
            if i > 0 {
                if budget == 0 {
                    break;
                }
                match self.links.try_recv(conn) {
                    Some(m) => msg = Some(m),
                    None => break,
                }
            }
            let is_envelope = matches!(
                msg,
                Some(Incoming::Text(Ok(slack_envelope::Frame::Envelope(_))))
            );
            budget = budget.saturating_sub(usize::from(is_envelope));
            let ended = self.feed(now, conn, msg.take());
            self.take_requests(now);
            if ended {
                break;
            }
        }
    }

    /// One frame to the supervisor. Whether the link ended.
    fn feed(&mut self, now: Instant, conn: ConnId, msg: Option<Incoming>) -> bool {
        let sup = &mut self.p.supervisor;
        match msg {
            Some(Incoming::Text(parsed)) => {
                let _ = sup.handle_frame(now, conn, parsed);
            }
            Some(Incoming::Binary(b)) => {
                let _ = sup.handle_binary(now, conn, b.len());
            }
            Some(Incoming::Ping { at }) => {
                let _ = sup.handle_ping(at.max(now), conn);
            }
            Some(Incoming::Pong { at, payload }) => {
                let _ = sup.handle_pong(at.max(now), conn, &payload);
            }
            Some(Incoming::Error(e)) => log::warn!("connection {conn}: {e}"),
            Some(Incoming::Closed { code, reason, by }) => {
                log::debug!("connection {conn} closed by {by:?}: {code:?} {reason}");
                let _ = sup.handle_closed(now, conn, code, &reason);
                self.links.ended(conn);
                return true;
            }
            None => {
                let _ = sup.handle_closed(now, conn, None, "transport ended");
                self.links.ended(conn);
                return true;
            }
        }
        false
    }

    /// Carries out the supervisor's events after one frame of a batch, leaving its frames (the
    /// acks) queued for `pump` to write together at the end of the batch. Before any event
    /// other than a request, the frames queued so far are written first, as `pump` would.
    fn take_requests(&mut self, now: Instant) {
        while let Some(ev) = self.p.supervisor.poll_event() {
            if !matches!(ev, Event::Request { .. } | Event::Duplicate { .. }) {
                self.links.write_transmits(&mut self.p.supervisor);
            }
            self.on_event(now, ev);
        }
    }

    /// A new request: taken (acked now, or when its handler answers), declined, or held for
    /// its fleet-wide claim.
    fn on_request(&mut self, now: Instant, envelope: Envelope) {
        let verdict = self.dispatch.handle_request(now, &envelope);
        self.carry_out(now, envelope, verdict);
    }

    /// Does what the dispatcher said with a request.
    fn carry_out(&mut self, now: Instant, envelope: Envelope, verdict: Verdict) {
        let wants_reply = match verdict {
            Verdict::AckAndQueue => {
                self.ack(now, envelope.envelope_id(), None);
                false
            }
            Verdict::QueueAwaitingReply => true,
            Verdict::Decline(reason) => return self.decline(&envelope, reason),
            Verdict::Claim => return self.hold(now, envelope),
            Verdict::AckRecorded { entry } => {
                self.ack(now, envelope.envelope_id(), None);
                self.pending_jobs.push(Job {
                    envelope,
                    work: Work::Recorded { entry },
                    queued: now,
                });
                return;
            }
            Verdict::AckDuplicate => {
                log::debug!(
                    "{} was claimed by the fleet before; acked only",
                    envelope.dedup_key()
                );
                return self.ack(now, envelope.envelope_id(), None);
            }
        };
        self.pending_jobs.push(Job {
            envelope,
            work: Work::Handle { wants_reply },
            queued: now,
        });
    }

    /// A request held for its fleet-wide claim: to the claimer at the end of this wake-up.
    fn hold(&mut self, now: Instant, envelope: Envelope) {
        // One envelope, shared: the dispatcher keeps it to carry out the verdict, the claimer
        // sends its frame.
        let envelope = std::sync::Arc::new(envelope);
        self.dispatch.hold(now, envelope.clone());
        #[cfg(feature = "fleet")]
        if let Some(fleet) = &mut self.fleet {
            return fleet.hold(envelope);
        }
        // Only with a claimer (`claim_bound` is cleared without one).
        log::error!(
            "envelope {} held for a claim without a claimer; it is judged at its deadline",
            envelope.envelope_id()
        );
    }

    /// Hands the held envelopes of this wake-up to the claimer; those it cannot take are
    /// judged here alone.
    #[cfg(feature = "fleet")]
    fn flush_claims(&mut self, now: Instant) {
        let refused = match &mut self.fleet {
            Some(fleet) => fleet.flush(),
            None => return,
        };
        if !refused.is_empty() {
            self.dispatch.handle_claims(
                now,
                refused
                    .into_iter()
                    .map(|id| (id, crate::dispatch::Claim::Local)),
            );
        }
    }

    /// Carries out what the dispatcher judged for held requests.
    fn take_judged(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        let mut fallbacks = 0;
        while let Some(j) = self.dispatch.poll_judged() {
            progressed = true;
            if j.timed_out {
                fallbacks += 1;
            }
            self.carry_out(now, j.envelope, j.verdict);
        }
        if fallbacks > 0 {
            log::warn!(
                "fleet: no claim verdict in time for {fallbacks} request(s); judged by this replica alone"
            );
            #[cfg(feature = "fleet")]
            if let Some(fleet) = &self.fleet {
                fleet.count_local_fallbacks(fallbacks);
            }
        }
        progressed
    }

    /// A recorded event not run here after all: handed back to the fleet.
    fn release(&self, entry: String) {
        #[cfg(feature = "fleet")]
        if let Some(fleet) = &self.fleet {
            return fleet.release(entry);
        }
        log::error!("stream entry {entry} not run and no fleet to hand it back to");
    }

    /// Leaves `envelope` un-acked and forgotten by duplicate suppression, so that Slack's
    /// redelivery gets through (to us later, or to another instance).
    fn decline(&mut self, envelope: &Envelope, reason: DeclineReason) {
        let id = envelope.envelope_id();
        let shared = &self.p.worker.services.shared;
        match reason {
            DeclineReason::Draining => log::debug!("shutting down: envelope {id} declined"),
            DeclineReason::QueueFull => {
                shared.queue_full.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "worker queue full ({} requests or {} bytes): envelope {id} left un-acked for Slack to redeliver",
                    self.p.dispatch.queue_bound,
                    self.p.dispatch.queue_bytes
                );
            }
            DeclineReason::TooLarge => {
                shared.too_large.fetch_add(1, Ordering::Relaxed);
                let bytes = envelope.frame_text().len();
                let limit = self.p.dispatch.queue_bytes;
                if std::mem::replace(&mut self.too_large_logged, true) {
                    log::debug!("envelope {id} ({bytes} bytes) over the queue's byte budget");
                } else {
                    log::warn!(
                        "envelope {id} ({bytes} bytes) is larger than the worker queue's byte budget ({limit}); left un-acked (counted in Stats::too_large; logged once)"
                    );
                }
            }
            DeclineReason::Handler => {
                shared.declined.fetch_add(1, Ordering::Relaxed);
                log::warn!("handler declined envelope {id}: left un-acked for Slack to redeliver")
            }
        }
        self.p.supervisor.decline(envelope);
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
                    self.links.close_unwanted(link);
                }
            }
            LoopMsg::ConnectFailed(conn, failure) => {
                self.p.supervisor.handle_connect_failed(now, conn, failure);
            }
            LoopMsg::Done { envelope, reply } => self.on_reply(now, envelope, reply),
            #[cfg(feature = "fleet")]
            LoopMsg::FleetVerdicts(verdicts) => self.dispatch.handle_claims(now, verdicts),
            #[cfg(feature = "fleet")]
            LoopMsg::FleetConnections(n) => {
                if !self.dispatch.is_draining() {
                    self.p.supervisor.set_connections(now, n);
                }
            }
            #[cfg(feature = "fleet")]
            LoopMsg::FleetTaken(taken) => {
                for (entry, envelope) in taken {
                    self.pending_jobs.push(Job {
                        envelope,
                        work: Work::Recorded { entry },
                        queued: now,
                    });
                }
                self.dispatch.handle_queued(now);
            }
            LoopMsg::Shutdown => {
                if !self.dispatch.is_draining() {
                    log::info!("shutting down: taking no new requests");
                }
                self.dispatch.handle_shutdown(now);
            }
        }
    }

    /// A handler's reply to a request whose ack waits for it.
    fn on_reply(&mut self, now: Instant, envelope: Envelope, reply: Reply) {
        let id = envelope.envelope_id();
        match self.dispatch.handle_reply(now, id, reply) {
            ReplyVerdict::Ack(payload) => self.ack(now, id, payload),
            ReplyVerdict::Decline => self.decline(&envelope, DeclineReason::Handler),
            ReplyVerdict::Late(reply) => {
                // Off the loop: a worker posts it to the response_url, or logs what was lost.
                let mut late = vec![Job {
                    envelope,
                    work: Work::LateReply(reply),
                    queued: now,
                }];
                if !self.jobs.push_all_unbounded(&mut late).is_empty() {
                    log::warn!(
                        "a handler answered after its ack deadline, during shutdown; its reply is dropped"
                    );
                }
            }
            ReplyVerdict::Unknown => {
                log::warn!(
                    "handler for envelope {id} answered after its ack was sent; its reply is dropped"
                )
            }
        }
    }

    /// Acks with the handler's payload, or plainly if the core refuses it.
    fn ack(&mut self, now: Instant, envelope_id: &str, payload: Option<serde_json::Value>) {
        let sup = &mut self.p.supervisor;
        let result = match &payload {
            None => sup.ack(now, envelope_id),
            Some(v) => sup.ack_with_payload(now, envelope_id, v),
        };
        let Err(e) = result else {
            return;
        };
        match self.dispatch.handle_ack_refused(&e) {
            Fallback::PlainAck => {
                log::warn!("{e}; sending a plain ack instead");
                if let Err(e) = self.p.supervisor.ack(now, envelope_id) {
                    log::warn!("ack of {envelope_id} failed: {e}");
                }
            }
            Fallback::GiveUp => log::warn!("ack of {envelope_id} failed: {e}"),
        }
    }

    fn on_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::Connect { conn } => self.spawn_connect(conn),
            Event::Abort { conn } => self.links.abort(conn),
            Event::Request { envelope, .. } => self.on_request(now, envelope),
            Event::Duplicate { conn, key, .. } => {
                log::debug!("connection {conn}: redelivery of {key} suppressed");
            }
            Event::AckOverdue {
                conn,
                envelope_id,
                age,
            } => match self.dispatch.handle_ack_overdue(now, &envelope_id) {
                Overdue::AckEmpty => {
                    log::warn!(
                        "handler for envelope {envelope_id} has not answered after {:.1}s; sending an empty ack before Slack's deadline",
                        age.as_secs_f64()
                    );
                    if let Err(e) = self.p.supervisor.ack(now, &envelope_id) {
                        log::warn!("ack of {envelope_id} failed: {e}");
                    }
                }
                Overdue::NotAwaited => log::warn!(
                    "connection {conn}: envelope {envelope_id} still un-acked after {:.1}s",
                    age.as_secs_f64()
                ),
            },
            Event::Lifecycle(l) => self.on_lifecycle(l),
            Event::Stopped(reason) => {
                log::info!("socket mode stopped: {reason}");
                self.send_event(BotEvent::Stopped(reason.clone()));
                self.stopped = Some(reason);
            }
            other => log::debug!("unhandled supervisor event {other:?}"),
        }
    }

    fn on_action(&mut self, now: Instant, action: Action) {
        match action {
            Action::PlainAck { envelope_id } => {
                log::warn!("shutdown: handler for {envelope_id} did not answer in time; plain ack");
                let _ = self.p.supervisor.ack(now, &envelope_id);
            }
            Action::CloseConnections => self.p.supervisor.shutdown(now),
            Action::GrowPool => {
                self.pool.grow();
                self.dispatch.handle_grown(now);
            }
            Action::CheckHandlers => {
                let budget = self.p.dispatch.handler_budget;
                let (stuck, oldest) = self.pool.check(now, budget);
                for s in &stuck {
                    self.p
                        .worker
                        .services
                        .shared
                        .handlers_stuck
                        .fetch_add(1, Ordering::Relaxed);
                    let what = if s.replaced {
                        "its worker is replaced"
                    } else {
                        "too many workers are stuck already: not replaced"
                    };
                    log::error!(
                        "handler for {} (envelope {}) still running after {:.1}s; {what}",
                        s.route,
                        s.envelope_id,
                        s.age.as_secs_f64()
                    );
                }
                let abandoned = self.pool.abandoned();
                self.p
                    .worker
                    .services
                    .shared
                    .workers_abandoned
                    .store(abandoned as u64, Ordering::Relaxed);
                self.dispatch
                    .handle_handlers_checked(now, oldest, !self.jobs.is_empty());
            }
        }
    }

    /// Carries out everything the supervisor and the dispatcher asked for, then hands this
    /// wake-up's jobs to the workers (their acks are written by then).
    fn pump(&mut self, now: Instant) {
        loop {
            #[cfg(feature = "fleet")]
            self.flush_claims(now);
            let mut progressed = self.take_judged(now);
            progressed |= self.links.write_transmits(&mut self.p.supervisor);
            while let Some(ev) = self.p.supervisor.poll_event() {
                progressed = true;
                self.on_event(now, ev);
            }
            while let Some(action) = self.dispatch.poll_action() {
                progressed = true;
                self.on_action(now, action);
            }
            if !progressed {
                break;
            }
        }
        self.flush_jobs();
        self.connect_threads.retain(|h| !h.is_finished());
    }

    /// Hands this wake-up's requests to the workers (after their acks were written).
    fn flush_jobs(&mut self) {
        let refused = self.jobs.push_all(&mut self.pending_jobs);
        // Recorded in the fleet's stream and acked: the queue's bound does not apply (their
        // room was taken when they were held; those taken over come in small batches), so
        // none of a record's events is handed back while its others run here.
        let (mut recorded, refused): (Vec<Job>, Vec<Job>) = refused
            .into_iter()
            .partition(|j| matches!(j.work, Work::Recorded { .. }));
        let refused = refused
            .into_iter()
            .chain(self.jobs.push_all_unbounded(&mut recorded));
        for job in refused {
            // Only after `finish` closed the queue, which no request follows.
            let id = job.envelope.envelope_id();
            match job.work {
                Work::Handle { wants_reply: true } => {
                    self.dispatch.handle_refused(id);
                    self.decline(&job.envelope, DeclineReason::QueueFull);
                }
                Work::Recorded { entry } => self.release(entry),
                _ => log::error!(
                    "worker queue refused envelope {id} after its ack was sent; its handler does not run"
                ),
            }
        }
    }

    /// Requests spooled at the last shutdown run first, before any connection is opened.
    fn restore_spool(&mut self) {
        let envelopes = spool::restore(self.p.spool.as_ref());
        if envelopes.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut jobs: Vec<Job> = envelopes
            .into_iter()
            .map(|envelope| Job {
                envelope,
                work: Work::Restored,
                queued: now,
            })
            .collect();
        let _ = self.jobs.push_all_unbounded(&mut jobs);
        self.dispatch.handle_queued(now);
    }

    fn spawn_connect(&mut self, conn: ConnId) {
        let opener = self.p.opener.clone();
        let inbox = self.p.worker.inbox.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("slack-connect-{}", conn.0))
            .spawn(move || {
                let authenticated = || {
                    let _ = inbox.send(LoopMsg::Authenticated(conn));
                };
                let msg = match opener.open(authenticated) {
                    Ok((connection, threads)) => LoopMsg::Connected(conn, connection, threads),
                    Err(failure) => LoopMsg::ConnectFailed(conn, failure),
                };
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

    fn publish(&self) {
        let sup = &self.p.supervisor;
        self.p
            .worker
            .services
            .shared
            .connected
            .store(sup.is_connected(), Ordering::Relaxed);
        if let Ok(mut s) = self.p.worker.services.shared.core.lock() {
            s.stats = sup.stats().clone();
            s.ready = sup.ready_connections();
        }
    }

    /// After the last connection closed: workers get until the shutdown deadline; requests
    /// acked but not started by then go to the spool (or are counted as dropped); the outbox
    /// is flushed; every thread is joined.
    fn finish(mut self) -> RunReport {
        self.publish();
        let reason = self.stopped.clone().unwrap_or(StopReason::Shutdown);
        let deadline = Instant::now() + self.p.shutdown_timeout;
        // Workers: no new jobs; let them work through the queue until the deadline.
        self.jobs.close();
        let left = self.pool.join_until(deadline);
        if left > 0 {
            log::warn!("{left} handler(s) still running at the shutdown deadline; not waiting");
        }
        let (spooled, dropped) = self.spool_leftovers();
        // The fleet: no more claims; finished stream entries acknowledged, those not started
        // handed back to the fleet; the leases go back too.
        #[cfg(feature = "fleet")]
        if let Some(fleet) = self.fleet.take() {
            if !fleet.stop(deadline.max(Instant::now() + Duration::from_secs(1))) {
                log::warn!("fleet: the stream keeper was still busy at the shutdown deadline");
            }
        }
        let unsent = match &self.p.worker.services.outbox {
            Some(outbox) => outbox.shutdown(deadline.max(Instant::now() + Duration::from_secs(1))),
            None => Vec::new(),
        };
        if !unsent.is_empty() {
            log::warn!(
                "{} queued message(s) could not be sent before shutdown",
                unsent.len()
            );
        }
        self.links.join_all();
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
                Link::new(connection, threads).join();
            }
        }
        self.p
            .worker
            .services
            .shared
            .connected
            .store(false, Ordering::Relaxed);
        RunReport {
            reason,
            unsent,
            workers_left_running: left,
            spooled,
            dropped,
        }
    }

    /// Requests acked but not started by the shutdown deadline: to the spool if there is one.
    /// Returns how many were spooled and how many dropped.
    fn spool_leftovers(&mut self) -> (usize, usize) {
        let envelopes: Vec<Envelope> = self
            .jobs
            .take_all()
            .into_iter()
            .filter_map(|job| match job.work {
                Work::Handle { .. } | Work::Restored => Some(job.envelope),
                // In the fleet's stream: handed back, for a living replica to run.
                Work::Recorded { entry } => {
                    self.release(entry);
                    None
                }
                Work::LateReply(_) => {
                    log::warn!(
                        "a late reply for envelope {} was not delivered before the shutdown deadline",
                        job.envelope.envelope_id()
                    );
                    None
                }
            })
            .collect();
        spool::keep(self.p.spool.as_ref(), &envelopes)
    }
}
