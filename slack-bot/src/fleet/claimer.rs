//! The claimer: the fleet's claims off the event loop's thread, pipelined.
//!
//! The loop hands each wake-up's envelopes over and goes on reading; the claimer thread runs one
//! bounded script for everything that has queued up meanwhile (so batches grow with the load,
//! instead of the loop waiting one round trip per wake-up) and hands the verdicts back. An
//! envelope is acked only once its verdict is back, so "recorded before the ack" holds. The
//! rules that turn a verdict into an ack, a queued job or a local fallback are the
//! dispatcher's (`dispatch.rs`); this thread only does the I/O.
//!
//! One thread, one call in flight: while it runs, what arrives merges into the next batch.
//! Several threads, each with its own connection, were measured against it (`cargo xtask
//! bench`'s fleet row, 2 cores, 64 envelopes in flight, 10 runs alternating): 178k events/s
//! with one, 167k with two, about 160k with three. Redis runs the scripts one at a time
//! anyway, so more calls in flight only made the batches smaller and added wake-ups. The cost
//! is latency under load: an envelope that arrives while a call is out waits for it (one round
//! trip at most); an envelope alone goes out at once.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};
use slack_envelope::Envelope;

use super::{Fleet, FleetError, Verdict};

/// Envelopes merged into one script at most (a few hundred KB of frames).
const MAX_BATCH: usize = 256;

/// A batch of envelopes to claim (shared with the dispatcher, which holds them meanwhile).
pub(crate) type Batch = Vec<Arc<Envelope>>;

/// A batch's verdicts, by envelope id.
pub(crate) type Verdicts = Vec<(String, Verdict)>;

/// The running claimer.
pub(crate) struct Claimer {
    tx: Option<Sender<Batch>>,
    thread: Option<JoinHandle<()>>,
}

impl Claimer {
    /// Starts the thread; `deliver` gets the verdicts (it sends them to the loop's inbox).
    pub(crate) fn start(
        fleet: &Fleet,
        deliver: impl Fn(Verdicts) + Send + 'static,
    ) -> Result<Claimer, FleetError> {
        let (tx, rx) = unbounded::<Batch>();
        let fleet = fleet.clone();
        let thread = std::thread::Builder::new()
            .name("slack-fleet-claims".to_owned())
            .spawn(move || claim_loop(&fleet, &rx, &deliver))
            .map_err(FleetError::Thread)?;
        Ok(Claimer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a batch over; gives it back if the claimer is gone.
    pub(crate) fn claim(&self, batch: Batch) -> Result<(), Batch> {
        match &self.tx {
            Some(tx) => tx.send(batch).map_err(|e| e.0),
            None => Err(batch),
        }
    }

    /// Stops the thread after the batches already handed over.
    pub(crate) fn stop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
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
            let envelopes: Vec<&Envelope> = batch.iter().map(|e| &**e).collect();
            fleet.accept(&mut link, &envelopes)
        };
        // The batch's envelopes are dropped here, before the verdicts go: the dispatcher's
        // are then the only ones left, and carrying out a verdict copies nothing.
        deliver(
            batch
                .into_iter()
                .zip(verdicts)
                .map(|(e, v)| (e.envelope_id().to_owned(), v))
                .collect(),
        );
    }
}
