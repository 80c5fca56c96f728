//! The keeper of this replica's entries in the accepted-event stream.
//!
//! The claim script delivers each event it records to this replica's consumer at once, and
//! the replica runs it from memory on its own workers (the bot's job queue, with its bounds
//! and handler budget). What is left to do in Redis, off the event loop and off the workers,
//! is this thread's:
//!
//! * acknowledge (`XACK`, then `XDEL`) the entries whose handler finished, in batches;
//! * keep the entries still running fresh (`XCLAIM` with idle time 0), so that no other
//!   replica takes them over while this one lives;
//! * hand back the entries this replica gives up (`XCLAIM … IDLE`, so they are idle enough
//!   to be taken over at once);
//! * take over entries that have been idle longer than [`super::FleetConfig::reclaim_idle`]:
//!   a dead replica's, or ones handed back (`XAUTOCLAIM`), and hand them to the loop, which
//!   queues them like the others.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::streams::StreamAutoClaimReply;
use slack_envelope::{Envelope, Frame};

use super::link::Link;
use super::{Fleet, FleetError};

/// Entries taken over and handed to the loop: (entry id, envelope).
pub(crate) type Taken = Vec<(String, Envelope)>;

/// How long the keeper waits for a finished entry before looking at its timers.
const TICK: Duration = Duration::from_millis(20);

/// How long the keeper gathers finished events after the first one before it sends them, so
/// that a burst costs Redis one call rather than one per claim batch (a call costs Redis far
/// more in system calls and wake-ups than the few entries it carries).
const GATHER: Duration = Duration::from_millis(10);

/// Entries taken over in one `XAUTOCLAIM` at most.
const RECLAIM_BATCH: usize = 64;

/// The running keeper.
pub(crate) struct Keeper {
    thread: JoinHandle<()>,
}

impl Keeper {
    /// Starts the thread; `deliver` gets the entries taken over (it sends them to the loop).
    pub(crate) fn start(
        fleet: &Fleet,
        deliver: impl Fn(Taken) + Send + 'static,
    ) -> Result<Keeper, FleetError> {
        let fleet = fleet.clone();
        let thread = std::thread::Builder::new()
            .name("slack-fleet-keeper".to_owned())
            .spawn(move || State::new(fleet).run(&deliver))
            .map_err(FleetError::Thread)?;
        Ok(Keeper { thread })
    }

    /// Waits for the thread (after [`Fleet::stop`]: its last round acknowledges what
    /// finished and hands back what was released) until `deadline`; whether it ended.
    pub(crate) fn join(self, deadline: Instant) -> bool {
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
            true
        } else {
            false
        }
    }
}

struct State {
    fleet: Fleet,
    link: Link,
    stream: String,
    group: &'static str,
    me: String,
    /// Finished entries whose `XACK` has not reached Redis yet.
    to_ack: Vec<String>,
    /// Frames (envelope ids in the frames hash) of finished events, to delete.
    frames_to_delete: Vec<String>,
    frames: String,
    /// Released entries not handed back yet.
    to_release: Vec<String>,
    next_touch: Instant,
    next_reclaim: Instant,
}

impl State {
    fn new(fleet: Fleet) -> State {
        let cfg = fleet.config();
        // Off the event loop: a generous bound (a busy Redis, an fsync), still finite.
        let bound = cfg.call_timeout.max(Duration::from_secs(1));
        let link = Link::new(fleet.client().clone(), bound, "stream");
        let now = Instant::now();
        State {
            stream: cfg.key(&["events"]),
            frames: cfg.key(&["frames"]),
            group: "workers",
            me: fleet.replica_id().to_owned(),
            to_ack: Vec::new(),
            frames_to_delete: Vec::new(),
            to_release: Vec::new(),
            next_touch: now,
            next_reclaim: now,
            link,
            fleet,
        }
    }

    fn run(mut self, deliver: &dyn Fn(Taken)) {
        let done = self.fleet.done_entries().clone();
        loop {
            if let Ok(d) = done.recv_timeout(TICK) {
                self.finished(d);
                if !self.fleet.stopping() {
                    std::thread::sleep(GATHER);
                }
            }
            for d in done.try_iter() {
                self.finished(d);
            }
            self.to_release.extend(self.fleet.take_released());
            self.frames_to_delete.extend(self.fleet.take_orphans());
            let ok = self.ack() & self.release();
            if self.fleet.stopping() {
                break;
            }
            if !ok {
                // Redis away: the link backs off; the lists are kept for the next round.
                continue;
            }
            let now = Instant::now();
            let reclaim_idle = self.fleet.config().reclaim_idle;
            if now >= self.next_touch {
                self.touch();
                self.next_touch = now + reclaim_idle / 3;
            }
            if now >= self.next_reclaim {
                let taken = self.reclaim();
                self.next_reclaim = now + reclaim_idle / 2;
                if !taken.is_empty() {
                    deliver(taken);
                }
            }
        }
        // The last round: what finished while stopping, and what was given up.
        for d in done.try_iter() {
            self.finished(d);
        }
        self.to_release.extend(self.fleet.take_released());
        self.frames_to_delete.extend(self.fleet.take_orphans());
        self.ack();
        self.release();
    }

    fn finished(&mut self, f: super::Finished) {
        if let Some(entry) = f.entry {
            self.to_ack.push(entry);
        }
        self.frames_to_delete.push(f.envelope_id);
    }

    /// Acknowledges (and deletes) finished entries and their frames; kept for the next round
    /// if Redis is away. Whether nothing is left.
    fn ack(&mut self) -> bool {
        if self.to_ack.is_empty() && self.frames_to_delete.is_empty() {
            return true;
        }
        let (stream, group, hash) = (&self.stream, self.group, &self.frames);
        let (ids, frames) = (&self.to_ack, &self.frames_to_delete);
        let r = self.link.call(self.fleet.health(), None, |c| {
            let mut p = redis::pipe();
            if !ids.is_empty() {
                p.cmd("XACK")
                    .arg(stream)
                    .arg(group)
                    .arg(ids)
                    .ignore()
                    .cmd("XDEL")
                    .arg(stream)
                    .arg(ids)
                    .ignore();
            }
            if !frames.is_empty() {
                p.cmd("HDEL").arg(hash).arg(frames).ignore();
            }
            p.query::<()>(c)
        });
        if r.is_ok() {
            self.to_ack.clear();
            self.frames_to_delete.clear();
        }
        self.to_ack.is_empty() && self.frames_to_delete.is_empty()
    }

    /// Hands released entries back: still pending for this consumer, but idle as long as the
    /// reclaim time, so the next `XAUTOCLAIM` of any replica takes them.
    fn release(&mut self) -> bool {
        if self.to_release.is_empty() {
            return true;
        }
        self.to_release.sort_unstable();
        self.to_release.dedup();
        let idle = self.fleet.config().reclaim_idle.as_millis() as u64;
        let (stream, group, me) = (&self.stream, self.group, &self.me);
        let ids = &self.to_release;
        let r = self.link.call(self.fleet.health(), None, |c| {
            redis::cmd("XCLAIM")
                .arg(stream)
                .arg(group)
                .arg(me)
                .arg(0)
                .arg(ids)
                .arg("IDLE")
                .arg(idle)
                .arg("JUSTID")
                .query::<redis::Value>(c)
        });
        if r.is_ok() {
            log::info!(
                "fleet: handed {} accepted event(s) back to the fleet",
                self.to_release.len()
            );
            self.to_release.clear();
        }
        self.to_release.is_empty()
    }

    /// Keeps the entries our handlers are running fresh (their idle time back to zero), so
    /// no other replica takes them over while we are alive.
    fn touch(&mut self) {
        let ids = self.fleet.running_entries();
        if ids.is_empty() {
            return;
        }
        let (stream, group, me) = (&self.stream, self.group, &self.me);
        for chunk in ids.chunks(1000) {
            let _ = self.link.call(self.fleet.health(), None, |c| {
                redis::cmd("XCLAIM")
                    .arg(stream)
                    .arg(group)
                    .arg(me)
                    .arg(0)
                    .arg(chunk)
                    .arg("JUSTID")
                    .query::<redis::Value>(c)
            });
        }
    }

    /// Takes over entries left idle too long (a dead replica's, or handed back).
    fn reclaim(&mut self) -> Taken {
        let idle = self.fleet.config().reclaim_idle.as_millis() as u64;
        let (stream, group, me) = (&self.stream, self.group, &self.me);
        let r: Result<StreamAutoClaimReply, _> = self.link.call(self.fleet.health(), None, |c| {
            redis::cmd("XAUTOCLAIM")
                .arg(stream)
                .arg(group)
                .arg(me)
                .arg(idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(RECLAIM_BATCH)
                .query(c)
        });
        let Ok(reply) = r else {
            // NOGROUP (no event recorded yet, or Redis restarted): nothing to take over.
            return Vec::new();
        };
        // Each entry names its events (field `ids`, encoded); those whose frame is still in
        // the frames hash have not finished (a finished event's frame is deleted). An entry
        // that names none (not one slack-bot wrote) is acknowledged below, with nothing run.
        let claimed: Vec<(String, Vec<String>)> = reply
            .claimed
            .into_iter()
            .filter(|e| !self.fleet.is_running(&e.id))
            .map(|e| {
                let ids = e
                    .map
                    .get("ids")
                    .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
                    .and_then(|s| super::decode_ids(&s));
                if ids.is_none() {
                    log::warn!(
                        "fleet: stream entry {} names no events it can read; acknowledged",
                        e.id
                    );
                }
                (e.id, ids.unwrap_or_default())
            })
            .collect();
        let wanted: Vec<&String> = claimed.iter().flat_map(|(_, ids)| ids).collect();
        let frames: Vec<Option<String>> = if wanted.is_empty() {
            Vec::new()
        } else {
            let hash = &self.frames;
            match self.link.call(self.fleet.health(), None, |c| {
                redis::cmd("HMGET").arg(hash).arg(&wanted).query(c)
            }) {
                Ok(f) => f,
                // Taken over again at the next round (they stay pending here, untouched).
                Err(_) => return Vec::new(),
            }
        };
        let mut frames = frames.into_iter();
        let mut taken = Vec::new();
        let mut entries = 0;
        for (entry, ids) in claimed {
            let mut events = 0;
            for id in ids {
                let frame = frames.next().flatten();
                match frame.and_then(envelope_of) {
                    Some(envelope) if envelope.envelope_id() == id => {
                        taken.push((entry.clone(), envelope));
                        events += 1;
                    }
                    // Finished already (its frame deleted), or not one slack-bot wrote.
                    Some(_) => {
                        log::warn!(
                            "fleet: stream entry {entry} names envelope {id} but its frame holds another; skipped"
                        );
                        self.frames_to_delete.push(id);
                    }
                    None => {}
                }
            }
            if events == 0 {
                self.to_ack.push(entry);
            } else {
                entries += 1;
                self.fleet.entry_taken(&entry, events);
            }
        }
        // Entries deleted meanwhile (acknowledged by their replica just now) are listed apart.
        if !reply.deleted_ids.is_empty() {
            self.to_ack.extend(reply.deleted_ids);
        }
        if !taken.is_empty() {
            log::info!(
                "fleet: took over {} accepted event(s) a stopped replica had not finished ({entries} record(s))",
                taken.len()
            );
            self.fleet.count_reclaimed(taken.len() as u64);
        }
        taken
    }
}

/// The envelope of a frame as Slack sent it.
fn envelope_of(text: String) -> Option<Envelope> {
    match Frame::parse(text) {
        Ok(Frame::Envelope(e)) => Some(e),
        _ => None,
    }
}
