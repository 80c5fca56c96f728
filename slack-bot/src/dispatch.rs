//! The bot's ack policy, sans-I/O: which requests are taken, when each is acked, and when the
//! pool grows, the handlers are checked and the connections are closed at shutdown.
//!
//! Fed with `handle_*(now, …)`; answers with verdicts (returned) and [`Action`]s
//! ([`Dispatcher::poll_action`]); [`Dispatcher::poll_timeout`] says when to call
//! [`Dispatcher::handle_timeout`] next. It starts no thread, reads no clock and sends
//! nothing: the event loop (`event_loop.rs`) carries out what it says, on the supervisor
//! (acks, declines, shutdown), the job queue and the worker pool.
//!
//! The rules, each tested below with a fake clock:
//! * A request is taken only if the worker queue has room for it (count and bytes, looked at
//!   once per wake-up of the loop); it is then acked at once (ack on receipt), or, if it
//!   accepts a payload, when its handler answers.
//! * While the queue is full, frames wait on their links; once it has been full for
//!   [`MAX_PAUSE`], requests are taken off the links and declined (left un-acked for Slack to
//!   redeliver). A request larger than the whole byte budget is always declined.
//! * While shutting down, every new request is declined.
//! * A handler that has not answered by the core's ack deadline (`Event::AckOverdue`) gets an
//!   empty ack; its reply, if it comes, is a *late reply* the bot deals with off the loop.
//! * A payload the core refuses (too large, not accepted, not an object) becomes a plain ack.
//! * At shutdown, replies are awaited for the drain timeout; those still missing then get a
//!   plain ack, and the connections are closed.
//! * The pool grows by one worker when the oldest queued request has waited [`GROW_AFTER`]
//!   (and at most one every [`GROW_AFTER`]).
//! * While requests are queued or running, the handlers are checked against their time
//!   budget (a stuck handler's worker is replaced by the pool).
//! * With shared claims (a fleet of replicas, feature `fleet`), a request that would be taken
//!   is first *held* ([`Verdict::Claim`]) while the claimer asks the fleet who takes it: one
//!   recorded in the fleet's stream is acked only (a stream worker of any replica runs it); a
//!   duplicate (claimed before, here or elsewhere) is acked and counted, not queued; one
//!   claimed but not recorded (its ack waits for a reply), or one the fleet could not judge
//!   (Redis away), is judged like any request here, against the room then (local fallback).
//!   A claimer silent past its bound ([`DispatchConfig::claim_bound`]) gets the same local
//!   fallback; at shutdown, held requests are waited for like awaited replies, and declined
//!   at the drain deadline.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use slack_envelope::Envelope;

use crate::handler::Reply;

/// How long requests may wait with every worker busy before another worker is started.
pub(crate) const GROW_AFTER: Duration = Duration::from_millis(5);

/// How long frames wait on the links while the worker queue is full, at most, before they
/// are taken anyway and their requests declined (left un-acked for Slack to redeliver).
/// Short next to Slack's 3 s ack deadline and the core's 5 s before a ping; long enough for a
/// worker that lost its core for a few scheduler slices.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How often the queue is looked at again while frames wait on the links.
pub(crate) const PAUSE_RECHECK: Duration = Duration::from_millis(1);

/// How many envelopes acked empty at their deadline are remembered, to tell their late
/// replies apart from unknown ones (a handler that never answers must not grow this).
const LATE_MEMORY: usize = 4096;

/// The policy's settings.
#[derive(Debug, Clone)]
pub(crate) struct DispatchConfig {
    /// Requests queued for the workers at most.
    pub(crate) queue_bound: usize,
    /// Bytes of requests (their frames' text) queued for the workers at most.
    pub(crate) queue_bytes: usize,
    /// Worker threads at most.
    pub(crate) workers: usize,
    /// How long shutdown waits for handlers' replies before acking plainly.
    pub(crate) drain_timeout: Duration,
    /// How long one handler may run before it is reported and its worker replaced.
    pub(crate) handler_budget: Duration,
    /// Ack requests that take no payload when they are queued (else after their handler).
    pub(crate) ack_on_receipt: bool,
    /// With shared claims (a fleet): how long a request is held for the claimer's verdict at
    /// most before it is judged here alone. `None`: no shared claims.
    pub(crate) claim_bound: Option<Duration>,
}

/// The worker queue as the loop saw it at the start of a wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueView {
    /// More requests that fit.
    pub(crate) room: usize,
    /// More bytes that fit.
    pub(crate) room_bytes: usize,
    /// When the request waiting longest was queued.
    pub(crate) oldest_queued: Option<Instant>,
    /// Workers running (not counting replaced ones).
    pub(crate) workers: usize,
}

/// Whether the loop reads frames from the links in this wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intake {
    /// Take up to this many envelopes (other frames do not count).
    Take(usize),
    /// Leave frames waiting on the links (the queue is full).
    Wait,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Ack it now and queue it.
    AckAndQueue,
    /// Queue it; its ack waits for the handler's reply.
    QueueAwaitingReply,
    /// Leave it un-acked (`Supervisor::decline`) for Slack to redeliver.
    Decline(DeclineReason),
    /// Held: hand it to the claimer, and feed its verdict to [`Dispatcher::handle_claims`].
    Claim,
    /// Ack it now and queue it: the fleet's stream holds it (this entry, pending for this
    /// replica), so if this replica dies before its handler finishes, another one runs it.
    AckRecorded {
        /// The stream entry, acknowledged in the stream when the handler is done.
        entry: String,
    },
    /// Ack it now, and do not queue it: the fleet claimed this event before (a redelivery).
    AckDuplicate,
}

/// The claimer's answer for one held request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "fleet"), allow(dead_code))]
pub(crate) enum Claim {
    /// Claimed and recorded in the fleet's stream, as this entry (pending for this replica).
    Recorded(String),
    /// Claimed, not recorded (its ack waits for a reply): taken here as usual.
    ClaimedLocal,
    /// Claimed earlier by this or another replica.
    Duplicate,
    /// The fleet could not judge it (Redis away): taken here as usual (the local duplicate
    /// window applies).
    Local,
}

/// A held request, judged ([`Dispatcher::poll_judged`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judged {
    pub(crate) envelope: Envelope,
    pub(crate) verdict: Verdict,
    /// Whether it was judged here alone because the claimer was silent past its bound.
    pub(crate) timed_out: bool,
}

/// Counters of the claim rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClaimStats {
    /// Redeliveries acked because the fleet had claimed their event.
    pub(crate) duplicates: u64,
    /// Held requests judged here alone because the claimer was silent past its bound.
    pub(crate) timed_out: u64,
    /// Verdicts that came after their request was judged without them (ignored).
    pub(crate) late: u64,
}

/// Why a request is declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeclineReason {
    /// The worker queue is full (count or bytes) and has been for [`MAX_PAUSE`].
    QueueFull,
    /// The request alone is over the queue's byte budget.
    TooLarge,
    /// The bot is shutting down.
    Draining,
    /// Its handler asked for it ([`Reply::Decline`]).
    Handler,
}

/// What to do with a handler's reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplyVerdict {
    /// Ack with this payload (or plainly).
    Ack(Option<Value>),
    /// Decline the envelope (the handler returned [`Reply::Decline`] in time).
    Decline,
    /// The envelope was acked empty at its deadline: the bot deals with the reply elsewhere
    /// (a slash command's payload goes to its `response_url`).
    Late(Reply),
    /// Nothing awaits this reply (ignored, logged).
    Unknown,
}

/// What to do when the core reports an envelope still un-acked at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overdue {
    /// Its handler has not answered: ack it empty now.
    AckEmpty,
    /// Not one that waits for a handler (only logged).
    NotAwaited,
}

/// What to do after the core refused an ack's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Send a plain ack instead.
    PlainAck,
    /// Nothing (the envelope is gone or the connection closing): only log.
    GiveUp,
}

/// Something for the loop to carry out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Ack this envelope plainly (its handler did not answer by the shutdown drain's end).
    PlainAck { envelope_id: String },
    /// Close every connection (`Supervisor::shutdown`): the shutdown drain is over.
    CloseConnections,
    /// Start one more worker.
    GrowPool,
    /// Check the running handlers against their budget, then call
    /// [`Dispatcher::handle_handlers_checked`].
    CheckHandlers,
}

/// The ack policy. See the module's documentation.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    cfg: DispatchConfig,
    /// Room left for this wake-up's requests (only the loop queues jobs, so the room seen
    /// once only grows until the jobs are handed over).
    room: usize,
    room_bytes: usize,
    /// Since when the queue has been full.
    paused_since: Option<Instant>,
    /// Whether frames are left waiting on the links now ([`Intake::Wait`]).
    waiting: bool,
    /// When the pool may grow next (`None`: it may not).
    grow_at: Option<Instant>,
    last_grow: Option<Instant>,
    /// When to check the handlers against their budget next.
    check_at: Option<Instant>,
    /// Envelopes whose ack waits for their handler's reply.
    awaiting_reply: HashSet<String>,
    /// Envelopes acked empty at their deadline, oldest first (bounded by `LATE_MEMORY`).
    acked_empty: VecDeque<String>,
    draining: bool,
    drain_deadline: Option<Instant>,
    closed: bool,
    actions: VecDeque<Action>,
    /// Requests held for the claimer's verdict, by envelope id, with their deadline.
    /// Shared with the claimer's batch, so holding copies no frame; back to one owner by the
    /// time the verdict comes.
    held: HashMap<String, (Arc<Envelope>, Instant)>,
    /// Held requests judged, for the loop to carry out.
    judged: VecDeque<Judged>,
    claim_stats: ClaimStats,
}

impl Dispatcher {
    pub(crate) fn new(cfg: DispatchConfig) -> Dispatcher {
        Dispatcher {
            cfg,
            room: 0,
            room_bytes: 0,
            paused_since: None,
            waiting: false,
            grow_at: None,
            last_grow: None,
            check_at: None,
            awaiting_reply: HashSet::new(),
            acked_empty: VecDeque::new(),
            draining: false,
            drain_deadline: None,
            closed: false,
            actions: VecDeque::new(),
            held: HashMap::new(),
            judged: VecDeque::new(),
            claim_stats: ClaimStats::default(),
        }
    }

    /// The queue at the start of a wake-up: how many frames the loop may take now.
    pub(crate) fn handle_queue(&mut self, now: Instant, q: QueueView) -> Intake {
        let intake = self.intake(now, q);
        self.waiting = intake == Intake::Wait;
        intake
    }

    fn intake(&mut self, now: Instant, q: QueueView) -> Intake {
        self.room = q.room;
        self.room_bytes = q.room_bytes;
        self.handle_backlog(q.oldest_queued, q.workers);
        if self.draining {
            // Requests are declined anyway; the links' close handshakes must be seen.
            self.paused_since = None;
            return Intake::Take(usize::MAX);
        }
        // "Full" means no room for even a small request: by count, or by bytes once less
        // than a typical envelope's worth is left.
        if q.room > 0 && q.room_bytes > 0 {
            self.paused_since = None;
            return Intake::Take(q.room);
        }
        let since = *self.paused_since.get_or_insert_with(|| {
            log::debug!("worker queue full: frames wait on their links");
            now
        });
        if now.saturating_duration_since(since) < MAX_PAUSE {
            Intake::Wait
        } else {
            Intake::Take(usize::MAX)
        }
    }

    /// The queue's backlog as it is now (looked at again before the timers are handled, so
    /// that a request taken by a worker meanwhile does not make the pool grow).
    pub(crate) fn handle_backlog(&mut self, oldest_queued: Option<Instant>, workers: usize) {
        self.grow_at = match oldest_queued {
            Some(oldest) if workers < self.cfg.workers => {
                Some(self.last_grow.map_or(oldest, |t| t.max(oldest)) + GROW_AFTER)
            }
            _ => None,
        };
    }

    /// A request from the core (`Event::Request`). Requests are judged in the order they
    /// were fed, each before the next frame is fed to the core, so a redelivery in the same
    /// batch as its declined original finds it forgotten.
    ///
    /// With shared claims, a request that would be taken is held instead
    /// ([`Verdict::Claim`]): the loop hands it to [`Dispatcher::hold`] and to the claimer.
    pub(crate) fn handle_request(&mut self, now: Instant, envelope: &Envelope) -> Verdict {
        let check_at = self.check_at;
        let verdict = self.judge(now, envelope);
        match self.cfg.claim_bound {
            Some(_) if matches!(verdict, Verdict::AckAndQueue | Verdict::QueueAwaitingReply) => {
                // Not taken yet: the claimer says whether it is ours to queue.
                self.awaiting_reply.remove(envelope.envelope_id());
                // Nothing runs here for it yet: no handler check on its account.
                self.check_at = check_at;
                Verdict::Claim
            }
            _ => verdict,
        }
    }

    /// Holds a request judged [`Verdict::Claim`] until the claimer's verdict, or the claim
    /// bound, whichever comes first.
    pub(crate) fn hold(&mut self, now: Instant, envelope: Arc<Envelope>) {
        let bound = self.cfg.claim_bound.unwrap_or_default();
        self.held
            .insert(envelope.envelope_id().to_owned(), (envelope, now + bound));
    }

    /// The claimer's verdicts on held requests (by envelope id). Each becomes a [`Judged`]
    /// ([`Dispatcher::poll_judged`]); a verdict for a request no longer held (judged at its
    /// deadline already) is counted as late and ignored.
    #[cfg_attr(not(feature = "fleet"), allow(dead_code))]
    pub(crate) fn handle_claims(
        &mut self,
        now: Instant,
        verdicts: impl IntoIterator<Item = (String, Claim)>,
    ) {
        for (envelope_id, claim) in verdicts {
            let Some((envelope, _)) = self.held.remove(&envelope_id) else {
                self.claim_stats.late += 1;
                continue;
            };
            let envelope = Arc::unwrap_or_clone(envelope);
            let verdict = match claim {
                Claim::Recorded(entry) => {
                    // Its room was taken when it was held; its handler runs here now.
                    self.check_at.get_or_insert(now + self.cfg.handler_budget);
                    Verdict::AckRecorded { entry }
                }
                Claim::Duplicate => {
                    self.claim_stats.duplicates += 1;
                    Verdict::AckDuplicate
                }
                Claim::ClaimedLocal | Claim::Local => self.judge(now, &envelope),
            };
            self.judged.push_back(Judged {
                envelope,
                verdict,
                timed_out: false,
            });
        }
        self.after_reply();
    }

    /// The next held request judged, to carry out like a [`Dispatcher::handle_request`]
    /// verdict.
    pub(crate) fn poll_judged(&mut self) -> Option<Judged> {
        self.judged.pop_front()
    }

    /// How many requests are held for the claimer.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// The claim rules' counters.
    #[cfg(test)]
    pub(crate) fn claim_stats(&self) -> ClaimStats {
        self.claim_stats
    }

    /// A request judged here alone: taken if the queue has room (as seen at the start of
    /// this wake-up), else declined.
    fn judge(&mut self, now: Instant, envelope: &Envelope) -> Verdict {
        if self.draining {
            return Verdict::Decline(DeclineReason::Draining);
        }
        let bytes = envelope.frame_text().len();
        if bytes > self.cfg.queue_bytes {
            return Verdict::Decline(DeclineReason::TooLarge);
        }
        if self.room == 0 || self.room_bytes < bytes {
            // Nothing smaller slips past a larger one declined in this wake-up.
            self.room = 0;
            return Verdict::Decline(DeclineReason::QueueFull);
        }
        self.room -= 1;
        self.room_bytes -= bytes;
        self.check_at.get_or_insert(now + self.cfg.handler_budget);
        if envelope.accepts_response_payload() || !self.cfg.ack_on_receipt {
            self.awaiting_reply
                .insert(envelope.envelope_id().to_owned());
            Verdict::QueueAwaitingReply
        } else {
            Verdict::AckAndQueue
        }
    }

    /// A request was queued by the loop outside `handle_request` (one restored from the
    /// spool, or a late reply): its handler is watched like any other.
    pub(crate) fn handle_queued(&mut self, now: Instant) {
        self.check_at.get_or_insert(now + self.cfg.handler_budget);
    }

    /// The queue refused a request judged [`Verdict::QueueAwaitingReply`] (only after the
    /// queue was closed): nothing awaits its reply any more; the loop declines it.
    pub(crate) fn handle_refused(&mut self, envelope_id: &str) {
        self.awaiting_reply.remove(envelope_id);
        self.after_reply();
    }

    /// A handler's reply to a request queued with [`Verdict::QueueAwaitingReply`].
    pub(crate) fn handle_reply(
        &mut self,
        _now: Instant,
        envelope_id: &str,
        reply: Reply,
    ) -> ReplyVerdict {
        if self.awaiting_reply.remove(envelope_id) {
            self.after_reply();
            return match reply {
                Reply::Ack => ReplyVerdict::Ack(None),
                Reply::Payload(v) => ReplyVerdict::Ack(Some(v)),
                Reply::Decline => ReplyVerdict::Decline,
            };
        }
        if let Some(i) = self.acked_empty.iter().position(|id| id == envelope_id) {
            self.acked_empty.remove(i);
            return ReplyVerdict::Late(reply);
        }
        ReplyVerdict::Unknown
    }

    /// The core's ack deadline passed for `envelope_id` (`Event::AckOverdue`).
    pub(crate) fn handle_ack_overdue(&mut self, _now: Instant, envelope_id: &str) -> Overdue {
        if !self.awaiting_reply.remove(envelope_id) {
            return Overdue::NotAwaited;
        }
        if self.acked_empty.len() >= LATE_MEMORY {
            self.acked_empty.pop_front();
        }
        self.acked_empty.push_back(envelope_id.to_owned());
        self.after_reply();
        Overdue::AckEmpty
    }

    /// The core refused an ack's payload with `error`.
    pub(crate) fn handle_ack_refused(&mut self, error: &slack_envelope::Error) -> Fallback {
        match error {
            slack_envelope::Error::PayloadTooLarge { .. }
            | slack_envelope::Error::PayloadNotAccepted { .. }
            | slack_envelope::Error::InvalidAckPayload { .. } => Fallback::PlainAck,
            _ => Fallback::GiveUp,
        }
    }

    /// Stop taking requests: replies still awaited get until `now + drain_timeout`, then the
    /// connections are closed ([`Action::CloseConnections`]).
    pub(crate) fn handle_shutdown(&mut self, now: Instant) {
        if self.draining {
            return;
        }
        self.draining = true;
        self.paused_since = None;
        self.drain_deadline = Some(now + self.cfg.drain_timeout);
        self.after_reply();
    }

    /// Whether the bot is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining
    }

    /// The pool grew by one worker (after [`Action::GrowPool`]).
    pub(crate) fn handle_grown(&mut self, now: Instant) {
        self.last_grow = Some(now);
        self.grow_at = None;
    }

    /// The handlers were checked (after [`Action::CheckHandlers`]): `oldest_running` is when
    /// the longest-running handler not yet reported started, `queued` whether requests wait.
    pub(crate) fn handle_handlers_checked(
        &mut self,
        now: Instant,
        oldest_running: Option<Instant>,
        queued: bool,
    ) {
        let budget = self.cfg.handler_budget;
        let running = oldest_running.map(|t| (t + budget).max(now + budget / 64));
        let waiting = queued.then_some(now + budget);
        self.check_at = match (running, waiting) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Deadlines that passed become actions.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.held.values().any(|(_, d)| now >= *d) {
            let mut due: Vec<String> = self
                .held
                .iter()
                .filter(|(_, (_, d))| now >= *d)
                .map(|(id, _)| id.clone())
                .collect();
            due.sort_unstable();
            for id in due {
                if let Some((envelope, _)) = self.held.remove(&id) {
                    let envelope = Arc::unwrap_or_clone(envelope);
                    self.claim_stats.timed_out += 1;
                    let verdict = self.judge(now, &envelope);
                    self.judged.push_back(Judged {
                        envelope,
                        verdict,
                        timed_out: true,
                    });
                }
            }
            self.after_reply();
        }
        if self.drain_deadline.is_some_and(|d| now >= d) {
            self.drain_deadline = None;
            // Still held: declined (un-acked, Slack redelivers; if the claimer did record it,
            // the redelivery finds its claim and is acked as a duplicate).
            let mut held: Vec<(String, (Arc<Envelope>, Instant))> = self.held.drain().collect();
            held.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (_, (envelope, _)) in held {
                self.claim_stats.timed_out += 1;
                self.judged.push_back(Judged {
                    envelope: Arc::unwrap_or_clone(envelope),
                    verdict: Verdict::Decline(DeclineReason::Draining),
                    timed_out: true,
                });
            }
            let mut ids: Vec<String> = self.awaiting_reply.drain().collect();
            ids.sort_unstable();
            for envelope_id in ids {
                self.actions.push_back(Action::PlainAck { envelope_id });
            }
            self.close();
        }
        if self.grow_at.is_some_and(|t| now >= t) {
            self.grow_at = None;
            self.actions.push_back(Action::GrowPool);
        }
        if self.check_at.is_some_and(|t| now >= t) {
            // Set again by `handle_handlers_checked`.
            self.check_at = None;
            self.actions.push_back(Action::CheckHandlers);
        }
    }

    /// The next thing to carry out.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`Dispatcher::handle_timeout`] next, or to look at the queue again
    /// (while frames wait on the links).
    pub(crate) fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let recheck = self.waiting.then(|| now + PAUSE_RECHECK);
        let held = self.held.values().map(|(_, d)| *d).min();
        [
            self.drain_deadline,
            self.grow_at,
            self.check_at,
            recheck,
            held,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Once draining and no reply (nor claim) is awaited, the connections may close.
    fn after_reply(&mut self) {
        if self.draining && self.awaiting_reply.is_empty() && self.held.is_empty() {
            self.drain_deadline = None;
            self.close();
        }
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.actions.push_back(Action::CloseConnections);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_envelope::{ConnId, Event, Frame, Supervisor};

    fn cfg() -> DispatchConfig {
        DispatchConfig {
            queue_bound: 2,
            queue_bytes: 10_000,
            workers: 3,
            drain_timeout: Duration::from_secs(2),
            handler_budget: Duration::from_secs(60),
            ack_on_receipt: true,
            claim_bound: None,
        }
    }

    const BOUND: Duration = Duration::from_millis(500);

    /// A request judged `Claim`, held as the loop does.
    fn claim(d: &mut Dispatcher, now: Instant, e: Envelope) {
        assert_eq!(d.handle_request(now, &e), Verdict::Claim);
        d.hold(now, std::sync::Arc::new(e));
    }

    fn fleet_cfg() -> DispatchConfig {
        DispatchConfig {
            claim_bound: Some(BOUND),
            ..cfg()
        }
    }

    fn judged(d: &mut Dispatcher) -> Vec<(String, Verdict, bool)> {
        std::iter::from_fn(|| d.poll_judged())
            .map(|j| (j.envelope.envelope_id().to_owned(), j.verdict, j.timed_out))
            .collect()
    }

    fn envelope(id: &str, kind: &str, payload_accepted: bool) -> Envelope {
        padded(id, kind, payload_accepted, "")
    }

    /// An envelope whose event carries `text` (to make it as large as a test needs).
    fn padded(id: &str, kind: &str, payload_accepted: bool, text: &str) -> Envelope {
        let text = serde_json::json!({
            "envelope_id": id,
            "type": kind,
            "accepts_response_payload": payload_accepted,
            "payload": {"event_id": format!("Ev{id}"), "event": {"type": "message", "text": text}},
        })
        .to_string();
        match Frame::parse(text) {
            Ok(Frame::Envelope(e)) => e,
            other => panic!("not an envelope: {other:?}"),
        }
    }

    fn event(id: &str) -> Envelope {
        envelope(id, "events_api", false)
    }

    fn command(id: &str) -> Envelope {
        envelope(id, "slash_commands", true)
    }

    fn view(room: usize, workers: usize, oldest: Option<Instant>) -> QueueView {
        QueueView {
            room,
            room_bytes: 10_000,
            oldest_queued: oldest,
            workers,
        }
    }

    fn actions(d: &mut Dispatcher) -> Vec<Action> {
        std::iter::from_fn(|| d.poll_action()).collect()
    }

    #[test]
    fn requests_are_acked_on_receipt_while_there_is_room() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        assert_eq!(d.handle_queue(t0, view(2, 1, None)), Intake::Take(2));
        assert_eq!(d.handle_request(t0, &event("a")), Verdict::AckAndQueue);
        assert_eq!(d.handle_request(t0, &event("b")), Verdict::AckAndQueue);
        // The room seen at the start of the wake-up is used up: overflow is declined.
        assert_eq!(
            d.handle_request(t0, &event("c")),
            Verdict::Decline(DeclineReason::QueueFull)
        );
    }

    #[test]
    fn a_full_queue_pauses_the_links_then_declines_after_max_pause() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        assert_eq!(d.handle_queue(t0, view(0, 1, Some(t0))), Intake::Wait);
        assert_eq!(d.poll_timeout(t0), Some(t0 + PAUSE_RECHECK));
        let t1 = t0 + MAX_PAUSE - Duration::from_millis(1);
        assert_eq!(d.handle_queue(t1, view(0, 1, Some(t0))), Intake::Wait);
        let t2 = t0 + MAX_PAUSE;
        // (All workers started, so no growth timer either.)
        assert_eq!(
            d.handle_queue(t2, view(0, 3, Some(t0))),
            Intake::Take(usize::MAX)
        );
        assert_eq!(
            d.poll_timeout(t2),
            None,
            "no rechecks once the links are read"
        );
        assert_eq!(
            d.handle_request(t2, &event("a")),
            Verdict::Decline(DeclineReason::QueueFull)
        );
        // Room again: the pause is over, and starts afresh next time.
        assert_eq!(d.handle_queue(t2, view(1, 1, None)), Intake::Take(1));
        assert_eq!(d.handle_request(t2, &event("b")), Verdict::AckAndQueue);
        assert_eq!(d.handle_queue(t2, view(0, 1, Some(t2))), Intake::Wait);
    }

    #[test]
    fn the_byte_budget_declines_what_does_not_fit_and_what_never_fits() {
        let t0 = Instant::now();
        let small = event("a");
        let len = small.frame_text().len();
        let mut d = Dispatcher::new(DispatchConfig {
            queue_bound: 100,
            queue_bytes: len * 2,
            ..cfg()
        });
        let q = QueueView {
            room: 100,
            room_bytes: len + len / 2,
            oldest_queued: None,
            workers: 1,
        };
        assert_eq!(d.handle_queue(t0, q), Intake::Take(100));
        assert_eq!(d.handle_request(t0, &small), Verdict::AckAndQueue);
        assert_eq!(
            d.handle_request(t0, &event("b")),
            Verdict::Decline(DeclineReason::QueueFull)
        );
        // Over the whole budget: declined whatever the room.
        let big = padded("big", "events_api", false, &"x".repeat(len * 2));
        assert_eq!(d.handle_queue(t0, view(100, 1, None)), Intake::Take(100));
        assert_eq!(
            d.handle_request(t0, &big),
            Verdict::Decline(DeclineReason::TooLarge)
        );
        // No bytes left counts as full.
        let q = QueueView { room_bytes: 0, ..q };
        assert_eq!(d.handle_queue(t0, q), Intake::Wait);
    }

    /// A supervisor with one ready connection, at `t0`.
    fn ready_supervisor(t0: Instant) -> (Supervisor, ConnId) {
        let mut sup = Supervisor::new(slack_envelope::Config::default()).unwrap();
        sup.start(t0);
        let conn = std::iter::from_fn(|| sup.poll_event())
            .find_map(|e| match e {
                Event::Connect { conn } => Some(conn),
                _ => None,
            })
            .unwrap();
        sup.handle_authenticated(t0, conn).unwrap();
        sup.handle_connected(t0, conn).unwrap();
        let hello = r#"{"type":"hello","num_connections":1,"debug_info":{"host":"h"}}"#;
        sup.handle_text(t0, conn, hello.to_owned()).unwrap();
        while sup.poll_event().is_some() {}
        while sup.poll_transmit().is_some() {}
        (sup, conn)
    }

    fn event_frame(envelope_id: &str, event_id: &str) -> String {
        serde_json::json!({
            "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
            "payload": {"type": "event_callback", "event_id": event_id, "event": {"type": "message"}},
        })
        .to_string()
    }

    /// What the loop does with one frame's events (`Loop::take_requests`): each request is
    /// judged, and acked or declined, before the next frame is fed. Returns what happened to
    /// each request or duplicate, by envelope id.
    fn judge(sup: &mut Supervisor, d: &mut Dispatcher, now: Instant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some(ev) = sup.poll_event() {
            match ev {
                Event::Request { envelope, .. } => {
                    let id = envelope.envelope_id().to_owned();
                    match d.handle_request(now, &envelope) {
                        Verdict::AckAndQueue => {
                            sup.ack(now, &id).unwrap();
                            out.push((id, "taken".into()));
                        }
                        Verdict::QueueAwaitingReply => out.push((id, "awaiting".into())),
                        Verdict::Decline(_) => {
                            sup.decline(&envelope);
                            out.push((id, "declined".into()));
                        }
                        other => panic!("no shared claims here: {other:?}"),
                    }
                }
                Event::Duplicate { envelope_id, .. } => {
                    out.push((envelope_id, "duplicate".into()));
                }
                _ => {}
            }
        }
        out
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn a_redelivery_in_the_same_batch_as_its_declined_original_is_not_lost() {
        // One batch: "a" takes the last room, "b" (event Ev2) is declined, and "b2", Slack's
        // redelivery of Ev2, arrives in the same batch. Judged frame by frame, "b2" finds Ev2
        // forgotten and is judged as a new request (declined too: no room), so Slack tries
        // again later; it must not be suppressed as a duplicate of an envelope never handled.
        let t0 = Instant::now();
        let (mut sup, conn) = ready_supervisor(t0);
        let mut d = Dispatcher::new(cfg());
        assert_eq!(d.handle_queue(t0, view(1, 1, None)), Intake::Take(1));
        let mut seen = Vec::new();
        for (id, ev) in [("a", "Ev1"), ("b", "Ev2"), ("b2", "Ev2")] {
            sup.handle_text(t0, conn, event_frame(id, ev)).unwrap();
            seen.extend(judge(&mut sup, &mut d, t0));
        }
        assert_eq!(
            seen,
            pairs(&[("a", "taken"), ("b", "declined"), ("b2", "declined")])
        );
        // Next wake-up, with room: the next redelivery is taken.
        assert_eq!(d.handle_queue(t0, view(1, 1, None)), Intake::Take(1));
        sup.handle_text(t0, conn, event_frame("b3", "Ev2")).unwrap();
        assert_eq!(judge(&mut sup, &mut d, t0), pairs(&[("b3", "taken")]));

        // The rule matters: fed all at once and judged afterwards, the redelivery is
        // suppressed as a duplicate (and acked) while its original is declined: lost.
        let (mut sup, conn) = ready_supervisor(t0);
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(1, 1, None));
        for (id, ev) in [("a", "Ev1"), ("b", "Ev2"), ("b2", "Ev2")] {
            sup.handle_text(t0, conn, event_frame(id, ev)).unwrap();
        }
        assert_eq!(
            judge(&mut sup, &mut d, t0),
            pairs(&[("a", "taken"), ("b", "declined"), ("b2", "duplicate")])
        );
    }

    #[test]
    fn a_payload_request_waits_for_its_reply_and_is_acked_with_it() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(2, 1, None));
        assert_eq!(
            d.handle_request(t0, &command("c")),
            Verdict::QueueAwaitingReply
        );
        let v = serde_json::json!({"text": "hi"});
        assert_eq!(
            d.handle_reply(t0, "c", Reply::Payload(v.clone())),
            ReplyVerdict::Ack(Some(v))
        );
        // A second reply for it is unknown.
        assert_eq!(d.handle_reply(t0, "c", Reply::Ack), ReplyVerdict::Unknown);
    }

    #[test]
    fn without_ack_on_receipt_every_request_waits_and_may_be_declined() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(DispatchConfig {
            ack_on_receipt: false,
            ..cfg()
        });
        d.handle_queue(t0, view(2, 1, None));
        assert_eq!(
            d.handle_request(t0, &event("e")),
            Verdict::QueueAwaitingReply
        );
        assert_eq!(
            d.handle_reply(t0, "e", Reply::Decline),
            ReplyVerdict::Decline
        );
    }

    #[test]
    fn an_overdue_reply_is_acked_empty_and_its_late_reply_reported() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(2, 1, None));
        d.handle_request(t0, &command("c"));
        let t1 = t0 + Duration::from_millis(2500);
        assert_eq!(d.handle_ack_overdue(t1, "c"), Overdue::AckEmpty);
        // The core's warning for an envelope nobody waits for is only logged.
        assert_eq!(d.handle_ack_overdue(t1, "c"), Overdue::NotAwaited);
        let v = serde_json::json!({"text": "late"});
        assert_eq!(
            d.handle_reply(t1, "c", Reply::Payload(v.clone())),
            ReplyVerdict::Late(Reply::Payload(v))
        );
        assert_eq!(d.handle_reply(t1, "c", Reply::Ack), ReplyVerdict::Unknown);
    }

    #[test]
    fn the_memory_of_envelopes_acked_empty_is_bounded() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(DispatchConfig {
            queue_bound: LATE_MEMORY + 1,
            queue_bytes: usize::MAX,
            ..cfg()
        });
        let q = QueueView {
            room_bytes: usize::MAX,
            ..view(LATE_MEMORY + 1, 1, None)
        };
        d.handle_queue(t0, q);
        for i in 0..=LATE_MEMORY {
            let id = format!("c{i}");
            d.handle_request(t0, &command(&id));
            d.handle_ack_overdue(t0, &id);
        }
        assert_eq!(d.acked_empty.len(), LATE_MEMORY);
        assert_eq!(d.handle_reply(t0, "c0", Reply::Ack), ReplyVerdict::Unknown);
        assert_eq!(
            d.handle_reply(t0, "c1", Reply::Ack),
            ReplyVerdict::Late(Reply::Ack)
        );
    }

    #[test]
    fn a_refused_payload_falls_back_to_a_plain_ack() {
        let mut d = Dispatcher::new(cfg());
        let refused = slack_envelope::Error::PayloadTooLarge {
            envelope_id: "x".into(),
            size: 30_000,
            limit: 20_000,
        };
        assert_eq!(d.handle_ack_refused(&refused), Fallback::PlainAck);
        let gone = slack_envelope::Error::UnknownEnvelope {
            envelope_id: "x".into(),
        };
        assert_eq!(d.handle_ack_refused(&gone), Fallback::GiveUp);
    }

    #[test]
    fn shutdown_declines_new_requests_and_closes_once_replies_are_in() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(2, 1, None));
        assert_eq!(
            d.handle_request(t0, &command("c")),
            Verdict::QueueAwaitingReply
        );
        d.handle_shutdown(t0);
        assert!(d.is_draining());
        assert_eq!(
            d.handle_queue(t0, view(0, 1, None)),
            Intake::Take(usize::MAX),
            "the links are read (close handshakes) even with the queue full"
        );
        assert_eq!(
            d.handle_request(t0, &event("new")),
            Verdict::Decline(DeclineReason::Draining)
        );
        assert_eq!(actions(&mut d), vec![], "a reply is still awaited");
        assert_eq!(d.poll_timeout(t0), Some(t0 + Duration::from_secs(2)));
        d.handle_reply(t0, "c", Reply::Ack);
        assert_eq!(actions(&mut d), vec![Action::CloseConnections]);
        // Only once.
        d.handle_shutdown(t0);
        d.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(actions(&mut d), vec![]);
    }

    #[test]
    fn shutdown_acks_plainly_what_is_unanswered_at_the_drain_deadline() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(2, 1, None));
        d.handle_request(t0, &command("b"));
        d.handle_request(t0, &command("a"));
        d.handle_shutdown(t0);
        d.handle_timeout(t0 + Duration::from_millis(1999));
        assert_eq!(actions(&mut d), vec![]);
        d.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(
            actions(&mut d),
            vec![
                Action::PlainAck {
                    envelope_id: "a".into()
                },
                Action::PlainAck {
                    envelope_id: "b".into()
                },
                Action::CloseConnections
            ]
        );
        // A reply after that is unknown: its envelope was acked.
        assert_eq!(d.handle_reply(t0, "a", Reply::Ack), ReplyVerdict::Unknown);
    }

    #[test]
    fn shutdown_with_nothing_awaited_closes_at_once() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        d.handle_shutdown(t0);
        assert_eq!(actions(&mut d), vec![Action::CloseConnections]);
        assert_eq!(d.poll_timeout(t0), None);
    }

    #[test]
    fn the_pool_grows_one_worker_per_grow_after_while_requests_wait() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(cfg());
        assert_eq!(d.handle_queue(t0, view(2, 1, None)), Intake::Take(2));
        assert_eq!(d.poll_timeout(t0), None, "nothing waits: no growth");
        d.handle_queue(t0, view(1, 1, Some(t0)));
        assert_eq!(d.poll_timeout(t0), Some(t0 + GROW_AFTER));
        d.handle_timeout(t0 + GROW_AFTER - Duration::from_micros(1));
        assert_eq!(actions(&mut d), vec![]);
        let t1 = t0 + GROW_AFTER;
        d.handle_timeout(t1);
        assert_eq!(actions(&mut d), vec![Action::GrowPool]);
        d.handle_grown(t1);
        // Still waiting since t0: the next worker comes GROW_AFTER after the last one.
        d.handle_queue(t1, view(1, 2, Some(t0)));
        assert_eq!(d.poll_timeout(t1), Some(t1 + GROW_AFTER));
        // At the maximum: no more.
        d.handle_queue(t1, view(1, 3, Some(t0)));
        assert_eq!(d.poll_timeout(t1), None);
        // A request taken by a worker while the loop waited: no growth when the timer fires.
        d.handle_queue(t1, view(1, 2, Some(t1)));
        d.handle_backlog(None, 2);
        d.handle_timeout(t1 + GROW_AFTER);
        assert_eq!(actions(&mut d), vec![]);
    }

    #[test]
    fn handlers_are_checked_against_their_budget_while_work_is_in_flight() {
        let t0 = Instant::now();
        let budget = Duration::from_secs(60);
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(2, 1, None));
        assert_eq!(d.poll_timeout(t0), None, "an idle bot has no timer");
        d.handle_request(t0, &event("a"));
        let t1 = t0 + Duration::from_secs(1);
        d.handle_request(t1, &event("b"));
        assert_eq!(d.poll_timeout(t1), Some(t0 + budget));
        d.handle_timeout(t0 + budget);
        assert_eq!(actions(&mut d), vec![Action::CheckHandlers]);
        assert_eq!(d.poll_timeout(t0 + budget), None);
        // One handler still running since t1 and nothing queued: look when its budget ends.
        d.handle_handlers_checked(t0 + budget, Some(t1), false);
        assert_eq!(d.poll_timeout(t0 + budget), Some(t1 + budget));
        // Nothing running, nothing queued: no timer.
        d.handle_timeout(t1 + budget);
        assert_eq!(actions(&mut d), vec![Action::CheckHandlers]);
        d.handle_handlers_checked(t1 + budget, None, false);
        assert_eq!(d.poll_timeout(t1 + budget), None);
        // Queued work not started yet: it starts no earlier than now.
        d.handle_queued(t1 + budget);
        assert_eq!(d.poll_timeout(t1 + budget), Some(t1 + budget * 2));
    }

    #[test]
    fn a_check_never_schedules_the_next_one_in_the_past() {
        // A handler reported as over budget is excluded from `oldest_running` by the pool;
        // even if one is passed in, the next check is not due at once (no spinning loop).
        let t0 = Instant::now();
        let budget = Duration::from_secs(60);
        let mut d = Dispatcher::new(cfg());
        let now = t0 + budget * 3;
        d.handle_handlers_checked(now, Some(t0), false);
        let next = d.poll_timeout(now).unwrap_or(now);
        assert!(next > now, "{:?}", next - now);
    }

    #[test]
    fn with_shared_claims_a_request_is_held_until_the_claimer_answers() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(fleet_cfg());
        d.handle_queue(t0, view(2, 1, None));
        claim(&mut d, t0, event("a"));
        claim(&mut d, t0, command("c"));
        assert_eq!(d.held(), 2);
        // Nothing to carry out yet, and not acked: the claimer's bound is the next deadline.
        assert_eq!(judged(&mut d), vec![]);
        assert_eq!(d.poll_timeout(t0), Some(t0 + BOUND));
        // Held requests are not awaited replies: the handler's reply to "c" is unknown.
        assert_eq!(d.handle_reply(t0, "c", Reply::Ack), ReplyVerdict::Unknown);
        let t1 = t0 + Duration::from_millis(3);
        d.handle_queue(t1, view(2, 1, None));
        d.handle_claims(
            t1,
            [
                ("a".into(), Claim::Recorded("1-0".into())),
                ("c".into(), Claim::ClaimedLocal),
            ],
        );
        assert_eq!(
            judged(&mut d),
            vec![
                (
                    "a".into(),
                    Verdict::AckRecorded {
                        entry: "1-0".into()
                    },
                    false
                ),
                ("c".into(), Verdict::QueueAwaitingReply, false),
            ]
        );
        assert_eq!(d.held(), 0);
        // "c" is now taken here: its reply is awaited.
        assert_eq!(d.handle_reply(t1, "c", Reply::Ack), ReplyVerdict::Ack(None));
        // Without shared claims nothing is held.
        let mut d = Dispatcher::new(cfg());
        d.handle_queue(t0, view(2, 1, None));
        assert_eq!(d.handle_request(t0, &event("a")), Verdict::AckAndQueue);
    }

    #[test]
    fn a_duplicate_claim_is_acked_and_counted_not_queued() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(fleet_cfg());
        d.handle_queue(t0, view(1, 1, None));
        claim(&mut d, t0, event("redelivered"));
        // Even with no room left now: a duplicate takes none.
        d.handle_queue(t0, view(0, 3, Some(t0)));
        d.handle_claims(t0, [("redelivered".into(), Claim::Duplicate)]);
        assert_eq!(
            judged(&mut d),
            vec![("redelivered".into(), Verdict::AckDuplicate, false)]
        );
        assert_eq!(d.claim_stats().duplicates, 1);
        // A verdict for something not held is late and ignored.
        d.handle_claims(t0, [("redelivered".into(), Claim::Recorded("1-0".into()))]);
        assert_eq!(judged(&mut d), vec![]);
        assert_eq!(d.claim_stats().late, 1);
    }

    #[test]
    fn a_local_verdict_is_judged_against_the_room_then() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(fleet_cfg());
        d.handle_queue(t0, view(2, 1, None));
        claim(&mut d, t0, event("a"));
        claim(&mut d, t0, event("b"));
        // Redis away: taken here, but the queue filled meanwhile: one fits.
        d.handle_queue(t0, view(1, 1, None));
        d.handle_claims(t0, [("a".into(), Claim::Local), ("b".into(), Claim::Local)]);
        assert_eq!(
            judged(&mut d),
            vec![
                ("a".into(), Verdict::AckAndQueue, false),
                (
                    "b".into(),
                    Verdict::Decline(DeclineReason::QueueFull),
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_claimer_silent_past_its_bound_gets_a_local_fallback() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(fleet_cfg());
        d.handle_queue(t0, view(2, 1, None));
        claim(&mut d, t0, event("a"));
        let t1 = t0 + Duration::from_millis(100);
        claim(&mut d, t1, command("c"));
        d.handle_timeout(t0 + BOUND - Duration::from_micros(1));
        assert_eq!(judged(&mut d), vec![]);
        let t2 = t0 + BOUND;
        d.handle_queue(t2, view(2, 1, None));
        d.handle_timeout(t2);
        assert_eq!(
            judged(&mut d),
            vec![("a".into(), Verdict::AckAndQueue, true)]
        );
        assert_eq!(d.poll_timeout(t2), Some(t1 + BOUND), "c's bound is next");
        d.handle_timeout(t1 + BOUND);
        assert_eq!(
            judged(&mut d),
            vec![("c".into(), Verdict::QueueAwaitingReply, true)]
        );
        assert_eq!(d.claim_stats().timed_out, 2);
        // Its verdict, when it comes, is late and ignored (the request is taken already).
        d.handle_claims(t1 + BOUND, [("a".into(), Claim::Recorded("1-0".into()))]);
        assert_eq!(judged(&mut d), vec![]);
        assert_eq!(d.claim_stats().late, 1);
    }

    #[test]
    fn shutdown_waits_for_held_claims_then_closes() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(DispatchConfig {
            claim_bound: Some(Duration::from_secs(10)),
            ..cfg()
        });
        d.handle_queue(t0, view(2, 1, None));
        claim(&mut d, t0, event("a"));
        claim(&mut d, t0, event("b"));
        d.handle_shutdown(t0);
        assert_eq!(actions(&mut d), vec![], "claims are still held");
        assert_eq!(
            d.handle_request(t0, &event("new")),
            Verdict::Decline(DeclineReason::Draining),
            "nothing new is held while draining"
        );
        // A recorded one is acked (the stream has it); a local one is declined (draining).
        d.handle_claims(t0, [("a".into(), Claim::Recorded("1-0".into()))]);
        assert_eq!(actions(&mut d), vec![], "b is still held");
        d.handle_claims(t0, [("b".into(), Claim::Local)]);
        assert_eq!(
            judged(&mut d),
            vec![
                (
                    "a".into(),
                    Verdict::AckRecorded {
                        entry: "1-0".into()
                    },
                    false
                ),
                ("b".into(), Verdict::Decline(DeclineReason::Draining), false),
            ]
        );
        assert_eq!(actions(&mut d), vec![Action::CloseConnections]);
    }

    #[test]
    fn shutdown_declines_claims_still_held_at_the_drain_deadline() {
        let t0 = Instant::now();
        let mut d = Dispatcher::new(DispatchConfig {
            claim_bound: Some(Duration::from_secs(10)),
            ..cfg()
        });
        d.handle_queue(t0, view(2, 1, None));
        claim(&mut d, t0, event("a"));
        d.handle_shutdown(t0);
        // The drain deadline (2 s) comes before the claimer's bound (10 s).
        assert_eq!(d.poll_timeout(t0), Some(t0 + Duration::from_secs(2)));
        d.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(
            judged(&mut d),
            vec![("a".into(), Verdict::Decline(DeclineReason::Draining), true)]
        );
        assert_eq!(actions(&mut d), vec![Action::CloseConnections]);
        assert_eq!(d.poll_timeout(t0 + Duration::from_secs(2)), None);
    }
}
