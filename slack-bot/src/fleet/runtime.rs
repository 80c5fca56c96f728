//! A replica's fleet threads as the event loop sees them: the claimer (claims and stream
//! writes, off the loop), the keeper (acknowledges finished stream entries, keeps running
//! ones fresh, takes over a dead replica's) and the heartbeat. The loop only carries
//! messages: it hands the envelopes the dispatcher holds to [`Runtime::hold`], flushes them
//! once per wake-up, feeds the verdicts that come back on its inbox to the dispatcher
//! (`dispatch.rs`) and queues the recorded events, and those the keeper took over, on its
//! own workers.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use slack_envelope::Envelope;

use super::stream::Taken;
use super::{Claimer, Fleet, FleetError, Keeper, Verdicts};

/// The running fleet threads of one replica.
pub(crate) struct Runtime {
    fleet: Fleet,
    claimer: Claimer,
    keeper: Keeper,
    heartbeat: JoinHandle<()>,
    /// This wake-up's held envelopes, handed to the claimer together by [`Runtime::flush`].
    pending: Vec<Arc<Envelope>>,
}

impl Runtime {
    /// Starts the threads: the heartbeat (`ready` reads the replica's ready connections,
    /// `granted` gets a new grant of connections from the fleet's budget), the
    /// keeper, whose entries taken over go to `taken`, and the claimer, whose verdicts go to
    /// `verdicts` (both send to the loop's inbox).
    pub(crate) fn start(
        fleet: &Fleet,
        ready: Arc<dyn Fn() -> usize + Send + Sync>,
        verdicts: impl Fn(Verdicts) + Send + Sync + 'static,
        taken: impl Fn(Taken) + Send + 'static,
        granted: impl Fn(usize) + Send + 'static,
    ) -> Result<Runtime, FleetError> {
        let heartbeat = fleet.start_heartbeat(ready, granted)?;
        let keeper = match Keeper::start(fleet, taken) {
            Ok(k) => k,
            Err(e) => {
                fleet.stop();
                let _ = heartbeat.join();
                return Err(e);
            }
        };
        let claimer = match Claimer::start(fleet, verdicts) {
            Ok(c) => c,
            Err(e) => {
                fleet.stop();
                keeper.join(Instant::now());
                let _ = heartbeat.join();
                return Err(e);
            }
        };
        Ok(Runtime {
            fleet: fleet.clone(),
            claimer,
            keeper,
            heartbeat,
            pending: Vec::new(),
        })
    }

    /// An envelope the dispatcher holds for its claim (`Verdict::Claim`).
    pub(crate) fn hold(&mut self, envelope: Arc<Envelope>) {
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

    /// A recorded event this replica will not run (its queue refused it): handed back to the
    /// fleet.
    pub(crate) fn release(&self, entry: String) {
        self.fleet.entry_released(entry);
    }

    /// Stops claiming, gives back the replica's leases, and lets the keeper acknowledge what
    /// finished and hand back what was released, until `deadline`. Called once the workers
    /// are done. Whether the keeper finished in time.
    pub(crate) fn stop(mut self, deadline: Instant) -> bool {
        self.claimer.stop();
        self.fleet.stop();
        let ended = self.keeper.join(deadline);
        let _ = self.heartbeat.join();
        ended
    }
}
