//! The worker pool: threads that take jobs from the queue and run the user's handlers, off the
//! event loop. The loop grows the pool when the dispatcher says so and has it check its
//! handlers against their time budget (a stuck handler's worker is replaced).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use slack_envelope::payload::Interaction;
use slack_envelope::{Envelope, EnvelopeKind};

use crate::context::Services;
use crate::event_loop::LoopMsg;
use crate::handler::Reply;
use crate::jobs::{Job, JobQueue, Work};
use crate::router::Router;

/// What every worker gets.
#[derive(Clone)]
pub(crate) struct WorkerCtx {
    pub(crate) router: Arc<Router>,
    /// What the listeners get (Web API client, outbox, who the bot is, counters).
    pub(crate) services: Arc<Services>,
    pub(crate) inbox: Sender<LoopMsg>,
}

/// Runs the user's listeners for `envelope` and returns the reply (a plain ack when none
/// matches, or they fail or panic). Routing, middleware, `on_error` and the counters are the
/// router's (see `router.rs`).
pub(crate) fn run_handler(ctx: &WorkerCtx, envelope: Envelope) -> Reply {
    ctx.router.handle(envelope, &ctx.services).reply
}

/// One job, start to end.
fn run_job(ctx: &WorkerCtx, job: Job) {
    match job.work {
        Work::Handle { wants_reply: true } => {
            // The loop needs the envelope back to decline it or to deal with a late reply.
            let envelope = job.envelope.clone();
            let reply = run_handler(ctx, job.envelope);
            let _ = ctx.inbox.send(LoopMsg::Done { envelope, reply });
        }
        Work::Handle { wants_reply: false } => run_acked(ctx, job.envelope),
        Work::Restored => {
            let envelope = job
                .envelope
                .accepts_response_payload()
                .then(|| job.envelope.clone());
            let reply = run_handler(ctx, job.envelope);
            if let (Some(envelope), Reply::Payload(_)) = (envelope, &reply) {
                late_reply(ctx, &envelope, reply);
            }
        }
        Work::LateReply(reply) => late_reply(ctx, &job.envelope, reply),
        Work::Recorded { entry } => {
            #[cfg(feature = "fleet")]
            let envelope_id = job.envelope.envelope_id().to_owned();
            run_acked(ctx, job.envelope);
            #[cfg(feature = "fleet")]
            if let Some(fleet) = &ctx.services.fleet {
                fleet.entry_done(entry, &envelope_id);
            }
            #[cfg(not(feature = "fleet"))]
            let _ = entry;
        }
    }
}

/// Runs the handlers for a request acked already (on receipt, or, in a fleet, once the
/// fleet's stream held it): a payload or a decline cannot be acted on any more.
pub(crate) fn run_acked(ctx: &WorkerCtx, envelope: Envelope) {
    let envelope_id = envelope.envelope_id().to_owned();
    match run_handler(ctx, envelope) {
        Reply::Ack => {}
        Reply::Payload(_) => log::warn!(
            "handler returned a payload for envelope {envelope_id}, which does not accept one; ignored"
        ),
        Reply::Decline => log::warn!(
            "handler declined envelope {envelope_id}, which was acked on receipt; Slack will not redeliver it"
        ),
    }
}

/// A handler's reply that came after its envelope was acked empty at the deadline: a slash
/// command's payload is posted to its `response_url` (one warning); otherwise a warning says
/// what was lost.
pub(crate) fn late_reply(ctx: &WorkerCtx, envelope: &Envelope, reply: Reply) {
    let id = envelope.envelope_id();
    let payload = match reply {
        Reply::Payload(v) => v,
        Reply::Ack => {
            log::warn!("handler for envelope {id} answered after its empty ack was sent");
            return;
        }
        Reply::Decline => {
            log::warn!(
                "handler declined envelope {id} after its empty ack was sent; Slack will not redeliver it"
            );
            return;
        }
    };
    match envelope.kind() {
        EnvelopeKind::SlashCommands => {
            let url = envelope.slash_command().ok().and_then(|c| c.response_url);
            match url {
                Some(url) => match ctx.services.web.post_response_url_json(&url, &payload) {
                    Ok(()) => log::warn!(
                        "handler for slash command envelope {id} answered after the ack deadline; its reply was posted to the response_url instead"
                    ),
                    Err(e) => log::warn!(
                        "handler for slash command envelope {id} answered after the ack deadline; posting its reply to the response_url failed: {e}"
                    ),
                },
                None => log::warn!(
                    "handler for slash command envelope {id} answered after the ack deadline and the command has no response_url; its reply is dropped"
                ),
            }
        }
        EnvelopeKind::Interactive => match envelope.interactive() {
            Ok(i @ Interaction::ViewSubmission(_)) => {
                let callback_id: String = i
                    .callback_id()
                    .unwrap_or("")
                    .chars()
                    .take(MAX_NAME)
                    .collect();
                log::warn!(
                    "view_submission handler (callback_id {callback_id:?}) answered after the ack deadline; its response_action is dropped (the view was closed or left as it was)"
                );
            }
            _ => log::warn!(
                "handler for interactive envelope {id} answered after the ack deadline; its payload is dropped"
            ),
        },
        _ => log::warn!(
            "handler for envelope {id} answered after the ack deadline; its payload is dropped"
        ),
    }
}

/// Names from payloads (callback ids, commands, event types) are cut to this many characters
/// in log lines.
const MAX_NAME: usize = 64;

/// Where a job is routed, for reports (`event app_mention`, `command /deploy`, …), bounded.
fn route_label(envelope: &Envelope) -> String {
    let name = match envelope.kind() {
        // Built by hand: this runs for every job, and `format!` costs several times more.
        EnvelopeKind::EventsApi => envelope.event_type().map(|t| {
            let mut s = String::with_capacity(6 + t.len());
            s.push_str("event ");
            s.push_str(&t);
            s
        }),
        EnvelopeKind::SlashCommands => envelope
            .slash_command()
            .ok()
            .map(|c| format!("command {}", c.command)),
        EnvelopeKind::Interactive => envelope.interactive().ok().map(|i| match i.callback_id() {
            Some(cb) => format!("{} {cb}", i.interaction_type()),
            None => i.interaction_type().to_owned(),
        }),
        _ => None,
    };
    let mut name = name.unwrap_or_else(|| envelope.kind().as_str().to_owned());
    // No more bytes than characters: a short name is not walked.
    if name.len() > MAX_NAME {
        if let Some((cut, _)) = name.char_indices().nth(MAX_NAME) {
            name.truncate(cut);
        }
    }
    name
}

/// What a worker is running.
struct Running {
    since: Instant,
    envelope_id: String,
    route: String,
    /// Reported as over budget already (its worker could not be replaced).
    reported: bool,
}

/// A worker's state, shared with the pool.
#[derive(Default)]
struct Slot {
    running: Mutex<Option<Running>>,
    /// Replaced: the worker ends after its current job.
    abandoned: AtomicBool,
}

impl Slot {
    fn set(&self, running: Option<Running>) {
        if let Ok(mut r) = self.running.lock() {
            *r = running;
        }
    }
}

struct Worker {
    handle: JoinHandle<()>,
    slot: Arc<Slot>,
}

fn work(jobs: &JobQueue<Job>, ctx: &WorkerCtx, slot: &Slot) {
    while !slot.abandoned.load(Ordering::Relaxed) {
        let Some(job) = jobs.pop() else {
            return;
        };
        slot.set(Some(Running {
            since: Instant::now(),
            envelope_id: job.envelope.envelope_id().to_owned(),
            route: route_label(&job.envelope),
            reported: false,
        }));
        run_job(ctx, job);
        slot.set(None);
    }
}

/// A handler over its budget, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stuck {
    pub(crate) route: String,
    pub(crate) envelope_id: String,
    pub(crate) age: Duration,
    /// Whether its worker was replaced (else too many are abandoned already).
    pub(crate) replaced: bool,
}

/// The worker threads.
pub(crate) struct Pool {
    jobs: Arc<JobQueue<Job>>,
    ctx: WorkerCtx,
    max: usize,
    /// Threads replaced while stuck, at most.
    max_abandoned: usize,
    live: Vec<Worker>,
    abandoned: Vec<Worker>,
    started: usize,
}

impl Pool {
    pub(crate) fn new(
        jobs: Arc<JobQueue<Job>>,
        ctx: WorkerCtx,
        max: usize,
        max_abandoned: usize,
    ) -> Pool {
        Pool {
            jobs,
            ctx,
            max,
            max_abandoned,
            live: Vec::new(),
            abandoned: Vec::new(),
            started: 0,
        }
    }

    /// Workers running (not counting abandoned ones).
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// Abandoned workers whose handler is still running.
    pub(crate) fn abandoned(&mut self) -> usize {
        self.reap_abandoned();
        self.abandoned.len()
    }

    /// Starts one more worker, up to the maximum.
    pub(crate) fn grow(&mut self) {
        if self.live.len() < self.max {
            self.spawn();
        }
    }

    fn spawn(&mut self) {
        let i = self.started;
        let jobs = Arc::clone(&self.jobs);
        let ctx = self.ctx.clone();
        let slot = Arc::new(Slot::default());
        let s = Arc::clone(&slot);
        match std::thread::Builder::new()
            .name(format!("slack-worker-{i}"))
            .spawn(move || work(&jobs, &ctx, &s))
        {
            Ok(handle) => {
                self.started += 1;
                self.live.push(Worker { handle, slot });
            }
            Err(e) => log::error!("could not start worker thread {i}: {e}"),
        }
    }

    fn reap_abandoned(&mut self) {
        let (done, alive): (Vec<Worker>, Vec<Worker>) = std::mem::take(&mut self.abandoned)
            .into_iter()
            .partition(|w| w.handle.is_finished());
        self.abandoned = alive;
        for w in done {
            let _ = w.handle.join();
        }
    }

    /// Finds handlers running for `budget` or more: each is reported once, and its worker is
    /// replaced while fewer than the maximum are abandoned. Returns them, and when the
    /// longest-running handler not reported yet started.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        budget: Duration,
    ) -> (Vec<Stuck>, Option<Instant>) {
        self.reap_abandoned();
        let mut stuck = Vec::new();
        let mut oldest: Option<Instant> = None;
        let mut keep = Vec::with_capacity(self.live.len());
        let mut replaced = 0;
        for w in std::mem::take(&mut self.live) {
            let mut replace = false;
            if let Ok(mut running) = w.slot.running.lock() {
                if let Some(r) = running.as_mut().filter(|r| !r.reported) {
                    let age = now.saturating_duration_since(r.since);
                    if age >= budget {
                        r.reported = true;
                        replace = self.abandoned.len() < self.max_abandoned;
                        stuck.push(Stuck {
                            route: r.route.clone(),
                            envelope_id: r.envelope_id.clone(),
                            age,
                            replaced: replace,
                        });
                    } else {
                        oldest = Some(oldest.map_or(r.since, |o| o.min(r.since)));
                    }
                }
            }
            if replace {
                w.slot.abandoned.store(true, Ordering::Relaxed);
                self.abandoned.push(w);
                replaced += 1;
            } else {
                keep.push(w);
            }
        }
        self.live = keep;
        for _ in 0..replaced {
            self.spawn();
        }
        (stuck, oldest)
    }

    /// Waits for the workers until `deadline` (the queue must be closed first). Returns how
    /// many were still running then, counting abandoned ones.
    pub(crate) fn join_until(&mut self, deadline: Instant) -> usize {
        let mut left = 0;
        for w in self.live.drain(..).chain(self.abandoned.drain(..)) {
            while !w.handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if w.handle.is_finished() {
                let _ = w.handle.join();
            } else {
                left += 1;
            }
        }
        left
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use slack_envelope::Frame;

    fn event_envelope(event_type: &str) -> Envelope {
        let text = serde_json::json!({"envelope_id": "e1", "type": "events_api",
            "payload": {"event": {"type": event_type}}})
        .to_string();
        match Frame::parse(text).unwrap() {
            Frame::Envelope(e) => e,
            other => panic!("{other:?}"),
        }
    }

    /// The label names the route and stays within `MAX_NAME` characters, cut on a character.
    #[test]
    fn route_labels_are_bounded_by_characters() {
        assert_eq!(route_label(&event_envelope("message")), "event message");
        let long = "é".repeat(100);
        let label = route_label(&event_envelope(&long));
        assert_eq!(label.chars().count(), MAX_NAME);
        assert!(label.starts_with("event éé"));
        let exact = "a".repeat(MAX_NAME - 6);
        assert_eq!(
            route_label(&event_envelope(&exact)),
            format!("event {exact}")
        );
    }
}
