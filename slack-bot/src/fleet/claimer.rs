//! The claimer: the fleet's claims off the event loop's thread, pipelined.
//!
//! The loop hands each wake-up's envelopes over and goes on reading; a claimer thread runs one
//! bounded script for everything that has queued up meanwhile (so batches grow with the load,
//! instead of the loop waiting one round trip per wake-up) and hands the verdicts back. Several
//! threads, each with its own connection, keep more than one batch in flight: while Redis runs
//! one batch's script, the next one is on its way, and the acks of the one before are being
//! written. An envelope is acked only once its verdict is back, so "recorded before the ack"
//! holds. The rules that turn a verdict into an ack, a queued job or a local fallback are the
//! dispatcher's (`dispatch.rs`); these threads only do the I/O.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};
use slack_envelope::Envelope;

use super::{Fleet, FleetError, Verdict};

/// Envelopes merged into one script at most (a few hundred KB of frames).
const MAX_BATCH: usize = 256;

/// Claim batches in flight at most (threads, each with its own Redis connection).
const THREADS: usize = 3;

/// A batch of envelopes to claim.
pub(crate) type Batch = Vec<Envelope>;

/// A batch's verdicts, by envelope id.
pub(crate) type Verdicts = Vec<(String, Verdict)>;

/// The running claimer.
pub(crate) struct Claimer {
    tx: Option<Sender<Batch>>,
    threads: Vec<JoinHandle<()>>,
}

impl Claimer {
    /// Starts the threads; `deliver` gets the verdicts (it sends them to the loop's inbox).
    pub(crate) fn start(
        fleet: &Fleet,
        deliver: impl Fn(Verdicts) + Send + Sync + 'static,
    ) -> Result<Claimer, FleetError> {
        let (tx, rx) = unbounded::<Batch>();
        let deliver: Arc<dyn Fn(Verdicts) + Send + Sync> = Arc::new(deliver);
        let mut threads = Vec::new();
        for i in 0..THREADS {
            let (fleet, rx, deliver) = (fleet.clone(), rx.clone(), deliver.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("slack-fleet-claims-{i}"))
                .spawn(move || claim_loop(&fleet, &rx, &*deliver));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) if threads.is_empty() => return Err(FleetError::Thread(e)),
                // Fewer threads: fewer batches in flight, nothing else changes.
                Err(e) => log::warn!("fleet: claimer thread {i} could not start: {e}"),
            }
        }
        Ok(Claimer {
            tx: Some(tx),
            threads,
        })
    }

    /// Hands a batch over; gives it back if the claimer is gone.
    pub(crate) fn claim(&self, batch: Batch) -> Result<(), Batch> {
        match &self.tx {
            Some(tx) => tx.send(batch).map_err(|e| e.0),
            None => Err(batch),
        }
    }

    /// Stops the threads after the batches already handed over.
    pub(crate) fn stop(&mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn claim_loop(fleet: &Fleet, rx: &Receiver<Batch>, deliver: &dyn Fn(Verdicts)) {
    let mut link = fleet.claim_link();
    while let Ok(mut batch) = rx.recv() {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        let verdicts = {
            let envelopes: Vec<&Envelope> = batch.iter().collect();
            fleet.accept(&mut link, &envelopes)
        };
        deliver(
            batch
                .into_iter()
                .zip(verdicts)
                .map(|(e, v)| (e.envelope_id().to_owned(), v))
                .collect(),
        );
    }
}
