//! A replica's fleet threads as the event loop sees them: the claimer (claims and stream
//! writes, off the loop), the stream's workers (handlers run through the bot's router, like
//! the local workers') and the heartbeat. The loop only carries messages: it hands the
//! envelopes the dispatcher holds to [`Runtime::hold`], flushes them once per wake-up, and
//! feeds the verdicts that come back on its inbox to the dispatcher (`dispatch.rs`).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use slack_envelope::Envelope;

use super::stream::HandleFn;
use super::{Claimer, Fleet, FleetError, StreamWorkers, Verdicts};
use crate::workers::{self, WorkerCtx};

/// The running fleet threads of one replica.
pub(crate) struct Runtime {
    fleet: Fleet,
    claimer: Claimer,
    stream: StreamWorkers,
    heartbeat: JoinHandle<()>,
    /// This wake-up's held envelopes, handed to the claimer together by [`Runtime::flush`].
    pending: Vec<Envelope>,
}

impl Runtime {
    /// Starts the threads: `workers` stream workers running the handlers with `ctx`, the
    /// heartbeat (`ready` reads the replica's ready connections), and the claimer, whose
    /// verdicts go to `deliver` (the loop's inbox).
    pub(crate) fn start(
        fleet: &Fleet,
        workers: usize,
        ctx: WorkerCtx,
        ready: Arc<dyn Fn() -> usize + Send + Sync>,
        deliver: impl Fn(Verdicts) + Send + 'static,
    ) -> Result<Runtime, FleetError> {
        let handle: HandleFn = Arc::new(move |envelope| workers::run_acked(&ctx, envelope));
        let stream = StreamWorkers::start(fleet, workers, handle)?;
        let heartbeat = match fleet.start_heartbeat(ready) {
            Ok(h) => h,
            Err(e) => {
                fleet.stop();
                stream.join(Instant::now());
                return Err(e);
            }
        };
        let claimer = match Claimer::start(fleet, deliver) {
            Ok(c) => c,
            Err(e) => {
                fleet.stop();
                stream.join(Instant::now());
                let _ = heartbeat.join();
                return Err(e);
            }
        };
        Ok(Runtime {
            fleet: fleet.clone(),
            claimer,
            stream,
            heartbeat,
            pending: Vec::new(),
        })
    }

    /// An envelope the dispatcher holds for its claim (`Verdict::Claim`).
    pub(crate) fn hold(&mut self, envelope: Envelope) {
        self.pending.push(envelope);
    }

    /// Hands this wake-up's held envelopes to the claimer (one bounded script off the loop's
    /// thread, merged with whatever else waits). Returns the ids of those it could not take
    /// (the claimer is gone): the dispatcher judges them alone.
    pub(crate) fn flush(&mut self) -> Vec<String> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let batch = std::mem::take(&mut self.pending);
        match self.claimer.claim(batch) {
            Ok(()) => Vec::new(),
            Err(batch) => batch.iter().map(|e| e.envelope_id().to_owned()).collect(),
        }
    }

    /// Counts requests judged without the fleet's verdict (the claimer was silent).
    pub(crate) fn count_local_fallbacks(&self, n: u64) {
        self.fleet.count_local_fallbacks(n);
    }

    /// Stops claiming and reading the stream, lets the stream's handlers finish until
    /// `deadline`, and gives back the replica's leases. Returns how many stream workers were
    /// still busy then.
    pub(crate) fn stop(mut self, deadline: Instant) -> usize {
        self.claimer.stop();
        self.fleet.stop();
        let left = self.stream.join(deadline);
        let _ = self.heartbeat.join();
        left
    }
}
