//! The accepted-event stream's workers: read the fleet's stream through the consumer group,
//! run the handler, acknowledge; take over a dead replica's entries.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use slack_envelope::{Envelope, Frame};

use super::link::Link;
use super::{Fleet, FleetError};

/// What runs one envelope's handler (the bot's router, as its own workers do).
pub(crate) type HandleFn = Arc<dyn Fn(Envelope) + Send + Sync>;

/// How long one `XREADGROUP` blocks in Redis at most (the reader then looks at its acks and
/// at the stop flag).
const READ_BLOCK: Duration = Duration::from_millis(100);

/// The running stream workers of a replica.
pub(crate) struct StreamWorkers {
    threads: Vec<JoinHandle<()>>,
}

impl StreamWorkers {
    /// Starts the reader and `workers` handler threads.
    pub(crate) fn start(
        fleet: &Fleet,
        workers: usize,
        handle: HandleFn,
    ) -> Result<StreamWorkers, FleetError> {
        let workers = workers.max(1);
        let (jobs_tx, jobs_rx) = bounded::<(String, Envelope)>(workers);
        let (done_tx, done_rx) = unbounded::<String>();
        let mut threads = Vec::new();
        for i in 0..workers {
            let jobs = jobs_rx.clone();
            let done = done_tx.clone();
            let handle = handle.clone();
            let fleet = fleet.clone();
            let t = std::thread::Builder::new()
                .name(format!("slack-fleet-worker-{i}"))
                .spawn(move || {
                    for (id, envelope) in jobs {
                        handle(envelope);
                        fleet.count_stream_handled();
                        let _ = done.send(id);
                    }
                })
                .map_err(FleetError::Thread)?;
            threads.push(t);
        }
        drop(jobs_rx);
        drop(done_tx);
        let fleet = fleet.clone();
        let t = std::thread::Builder::new()
            .name("slack-fleet-reader".to_owned())
            .spawn(move || Reader::new(fleet, workers, jobs_tx, done_rx).run())
            .map_err(FleetError::Thread)?;
        threads.push(t);
        Ok(StreamWorkers { threads })
    }

    /// Waits for the threads (after [`Fleet::stop`]) until `deadline`; how many were left.
    pub(crate) fn join(self, deadline: Instant) -> usize {
        let mut left = 0;
        for h in self.threads {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                left += 1;
            }
        }
        left
    }
}

struct Reader {
    fleet: Fleet,
    link: Link,
    stream: String,
    group: &'static str,
    capacity: usize,
    jobs: Option<Sender<(String, Envelope)>>,
    done: Receiver<String>,
    /// Entries handed to the handlers and not finished.
    in_flight: HashSet<String>,
    /// Finished entries whose `XACK` has not reached Redis yet.
    to_ack: Vec<String>,
    group_ready: bool,
    next_touch: Instant,
    next_reclaim: Instant,
}

impl Reader {
    fn new(
        fleet: Fleet,
        capacity: usize,
        jobs: Sender<(String, Envelope)>,
        done: Receiver<String>,
    ) -> Reader {
        let cfg = fleet.config();
        // Off the event loop: a generous bound (a busy Redis, an fsync), still finite.
        let bound = cfg.call_timeout.max(Duration::from_secs(1)) + READ_BLOCK;
        let link = Link::new(fleet.client().clone(), bound, "stream");
        let now = Instant::now();
        Reader {
            stream: cfg.key(&["events"]),
            group: "workers",
            capacity,
            jobs: Some(jobs),
            done,
            in_flight: HashSet::new(),
            to_ack: Vec::new(),
            group_ready: false,
            next_touch: now,
            next_reclaim: now,
            link,
            fleet,
        }
    }

    fn run(mut self) {
        loop {
            for id in self.done.try_iter() {
                self.in_flight.remove(&id);
                self.to_ack.push(id);
            }
            self.ack();
            if self.fleet.stopping() {
                // Stop reading; let the handlers finish what they have, then acknowledge it.
                self.jobs = None;
                if self.in_flight.is_empty() {
                    break;
                }
                match self.done.recv_timeout(Duration::from_millis(50)) {
                    Ok(id) => {
                        self.in_flight.remove(&id);
                        self.to_ack.push(id);
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                }
                continue;
            }
            let now = Instant::now();
            if now >= self.next_touch {
                self.touch();
                self.next_touch = now + self.fleet.config().reclaim_idle / 3;
            }
            let room = self.capacity.saturating_sub(self.in_flight.len());
            if room == 0 {
                if let Ok(id) = self.done.recv_timeout(Duration::from_millis(50)) {
                    self.in_flight.remove(&id);
                    self.to_ack.push(id);
                }
                continue;
            }
            if now >= self.next_reclaim {
                self.reclaim(room);
                self.next_reclaim = now + self.fleet.config().reclaim_idle / 2;
                continue;
            }
            if !self.read(room) {
                // Redis away: the link backs off; do not spin.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.ack();
    }

    fn ensure_group(&mut self) -> bool {
        if self.group_ready {
            return true;
        }
        let (stream, group) = (self.stream.clone(), self.group);
        let r = self.link.call(self.fleet.health(), None, |c| {
            match redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&stream)
                .arg(group)
                .arg("0")
                .arg("MKSTREAM")
                .query::<()>(c)
            {
                Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                other => other,
            }
        });
        self.group_ready = r.is_ok();
        self.group_ready
    }

    /// Reads new entries for up to `room` handlers; whether Redis answered.
    fn read(&mut self, room: usize) -> bool {
        if !self.ensure_group() {
            return false;
        }
        let me = self.fleet.replica_id().to_owned();
        let (stream, group) = (self.stream.clone(), self.group);
        let r: Result<Option<StreamReadReply>, _> =
            self.link.call(self.fleet.health(), None, |c| {
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(group)
                    .arg(&me)
                    .arg("COUNT")
                    .arg(room)
                    .arg("BLOCK")
                    .arg(READ_BLOCK.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(&stream)
                    .arg(">")
                    .query(c)
            });
        match r {
            Ok(reply) => {
                for key in reply.map(|r| r.keys).unwrap_or_default() {
                    for entry in key.ids {
                        self.dispatch(entry);
                    }
                }
                true
            }
            Err(super::link::CallError::Redis(e)) if e.code() == Some("NOGROUP") => {
                // Redis lost the group (restarted without persistence): create it again.
                self.group_ready = false;
                true
            }
            Err(_) => {
                self.group_ready = false;
                false
            }
        }
    }

    fn dispatch(&mut self, entry: StreamId) {
        let text: Option<String> = entry.get("f");
        let envelope = text
            .and_then(|t| Frame::parse(t).ok())
            .and_then(|f| match f {
                Frame::Envelope(e) => Some(e),
                _ => None,
            });
        let Some(envelope) = envelope else {
            log::warn!(
                "fleet: stream entry {} is not an envelope; acknowledged and skipped",
                entry.id
            );
            self.to_ack.push(entry.id);
            return;
        };
        let Some(jobs) = &self.jobs else {
            return;
        };
        self.in_flight.insert(entry.id.clone());
        if jobs.send((entry.id.clone(), envelope)).is_err() {
            self.in_flight.remove(&entry.id);
        }
    }

    /// Acknowledges (and deletes) finished entries; kept for the next round if Redis is away.
    fn ack(&mut self) {
        if self.to_ack.is_empty() {
            return;
        }
        let (stream, group) = (self.stream.clone(), self.group);
        let ids = &self.to_ack;
        let r = self.link.call(self.fleet.health(), None, |c| {
            redis::pipe()
                .cmd("XACK")
                .arg(&stream)
                .arg(group)
                .arg(ids)
                .ignore()
                .cmd("XDEL")
                .arg(&stream)
                .arg(ids)
                .ignore()
                .query::<()>(c)
        });
        if r.is_ok() {
            self.to_ack.clear();
        }
    }

    /// Keeps the entries our handlers are running fresh (their idle time back to zero), so
    /// no other replica takes them over while we are alive.
    fn touch(&mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        let me = self.fleet.replica_id().to_owned();
        let (stream, group) = (self.stream.clone(), self.group);
        let ids: Vec<&String> = self.in_flight.iter().collect();
        let _ = self.link.call(self.fleet.health(), None, |c| {
            redis::cmd("XCLAIM")
                .arg(&stream)
                .arg(group)
                .arg(&me)
                .arg(0)
                .arg(&ids)
                .arg("JUSTID")
                .query::<redis::Value>(c)
        });
    }

    /// Takes over entries another consumer (a dead replica) has left idle too long.
    fn reclaim(&mut self, room: usize) {
        if !self.ensure_group() {
            return;
        }
        let me = self.fleet.replica_id().to_owned();
        let idle = self.fleet.config().reclaim_idle.as_millis() as u64;
        let (stream, group) = (self.stream.clone(), self.group);
        let r: Result<StreamAutoClaimReply, _> = self.link.call(self.fleet.health(), None, |c| {
            redis::cmd("XAUTOCLAIM")
                .arg(&stream)
                .arg(group)
                .arg(&me)
                .arg(idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(room)
                .query(c)
        });
        if let Ok(reply) = r {
            let mut n = 0;
            for entry in reply.claimed {
                if self.in_flight.contains(&entry.id) {
                    continue;
                }
                n += 1;
                self.dispatch(entry);
            }
            if n > 0 {
                log::info!(
                    "fleet: took over {n} accepted event(s) a stopped replica had not finished"
                );
                self.fleet.count_reclaimed(n);
            }
        }
    }
}
