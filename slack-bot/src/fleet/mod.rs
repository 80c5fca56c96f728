//! Several replicas of one bot sharing their state on Redis (cargo feature `fleet`).
//!
//! Switched on with [`crate::BotBuilder::redis`] (or, in the binary, `SLACK_REDIS_URL` /
//! `--redis-url`). What is shared, and where it lives (every key starts with the configured
//! prefix, `slack-bot` by default):
//!
//! * **claims** (`PREFIX:claims:PERIOD`, one set per period of [`FleetConfig::claim_ttl`], 10
//!   minutes by default, so a claim lasts one to two periods; an envelope answered in its ack
//!   is claimed for 3 s as `PREFIX:claims:r:KEY`): the first replica to take an event's
//!   `event_id` (or envelope id) handles it; a redelivery anywhere else is acked and counted
//!   as a duplicate.
//! * **the accepted-event stream** (`PREFIX:events`, consumer group `workers`): claimed
//!   events are recorded there in the same atomic script, *before* their ack is sent (one
//!   record per claim batch, naming its events; a redelivery named there has no frame, and is
//!   skipped), pending for the replica that claimed them,
//!   which runs them on its own workers; each event's frame stays in the frames hash
//!   (`PREFIX:frames`) until its handler finishes, and the record is `XACK`ed when all of its
//!   events are done. A dead replica's unfinished records are taken over (`XAUTOCLAIM`) after
//!   [`FleetConfig::reclaim_idle`], and only their events that still have a frame run again;
//!   a replica stopping gracefully hands back those it had not started at once.
//! * **connection leases** (`PREFIX:conns`): the fleet holds at most 10 connections; a
//!   replica's lease lapses [`FleetConfig::lease_ttl`] after it stops renewing it.
//! * **pacing** (`PREFIX:pace:CHANNEL`, `PREFIX:pause:METHOD`): `chat.postMessage`'s per-channel
//!   token bucket (burst 5, then 1/s) and 429 pauses, shared by the fleet.
//! * **heartbeats** (`PREFIX:replicas`, `PREFIX:replica:ID`): what `slack-bot fleet` prints.
//!
//! Every call is bounded ([`FleetConfig::call_timeout`], 50 ms by default): when Redis is down
//! or slow the call fails within its bound and the replica falls back to its local duplicate
//! window, local queue and local limiter, with one warning per outage and a counter, and
//! reconnects with backoff.
//!
//! Guarantees:
//! * no event is handled twice by live replicas while Redis is up (one claim per event);
//! * an event acked to Slack has been recorded in the stream first, so it is handled at least
//!   once even if its replica dies; it runs twice only if its handler had started on a replica
//!   that died before its completion reached Redis (the keeper sends completions every 20 ms
//!   at most), or if its claim's verdict came after the
//!   dispatcher's bound ([`FleetConfig::call_timeout`] × 4, 0.5 to 2 s) and the replica had
//!   taken it alone meanwhile (counted in [`FleetStats::local_fallbacks`]) (at-least-once);
//! * while Redis is down each replica deduplicates on its own, so a redelivery that lands on
//!   another replica during the outage may be handled twice (counted as a local fallback).

mod claimer;
mod config;
mod link;
pub(crate) mod runtime;
mod scripts;
pub(crate) mod stream;

// The binary's side (`--redis-url`, `slack-bot fleet`); public for `main.rs` only.
#[doc(hidden)]
pub mod cli;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use config::FleetConfig;
use crossbeam_channel::{Receiver, Sender, unbounded};
use link::{Health, Link};
use redis::{Client, IntoConnectionInfo, Script};
use slack_envelope::Envelope;

pub(crate) use claimer::{Claimer, Verdicts};
pub(crate) use config::claim_bound;
pub(crate) use stream::Keeper;

/// Errors of the fleet's setup (calls at run time never fail: they fall back).
#[derive(Debug)]
#[non_exhaustive]
pub enum FleetError {
    /// The Redis URL or settings are not usable.
    Config(String),
    /// Redis could not be reached or answered with an error (only from [`cli`]).
    Redis(String),
    /// A thread could not be started.
    Thread(std::io::Error),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetError::Config(e) => write!(f, "fleet configuration: {e}"),
            FleetError::Redis(e) => write!(f, "redis: {e}"),
            FleetError::Thread(e) => write!(f, "could not start a fleet thread: {e}"),
        }
    }
}

impl std::error::Error for FleetError {}

/// How long a claim on an envelope that is answered in its ack (slash commands, view
/// submissions, suggestions) lasts: such an envelope is not recorded in the stream (its ack
/// waits for the handler), so a redelivery after Slack's 3 s deadline, which means the claimer
/// never answered, may be claimed again.
const REPLY_CLAIM_TTL: Duration = Duration::from_secs(3);

/// The claim script's fixed arguments, made once.
struct AcceptArgs {
    stream: String,
    frames: String,
    claims: String,
    claim_ttl: String,
    reply_ttl: String,
}

impl AcceptArgs {
    fn new(cfg: &FleetConfig) -> AcceptArgs {
        AcceptArgs {
            stream: cfg.key(&["events"]),
            frames: cfg.key(&["frames"]),
            claims: cfg.key(&["claims", ""]),
            claim_ttl: cfg.claim_ttl.as_millis().to_string(),
            reply_ttl: REPLY_CLAIM_TTL.as_millis().to_string(),
        }
    }
}

/// A stream record's envelope ids as one string: each id's length in bytes, `:`, and the id
/// (any id, whatever its bytes, comes back whole from [`decode_ids`]).
pub(crate) fn encode_ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for id in ids {
        // Writing into a String cannot fail.
        let _ = write!(out, "{}:{id}", id.len());
    }
    out
}

/// The envelope ids of a stream record ([`encode_ids`]); `None` if it is not one.
pub(crate) fn decode_ids(mut s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let (len, rest) = s.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let id = rest.get(..len)?;
        out.push(id.to_owned());
        s = rest.get(len..)?;
    }
    Some(out)
}

/// The claim script's answer as one verdict per envelope of the batch (`n` of them): those at
/// the `recorded` indexes, then those at the `replied` ones, have one flag each in `flags`;
/// the others repeat an earlier envelope's dedup key and are duplicates. `None` when the
/// answer does not fit the batch (a script of another version).
fn verdicts(
    n: usize,
    recorded: &[usize],
    replied: &[usize],
    entry: &str,
    flags: &str,
) -> Option<Vec<Verdict>> {
    if flags.len() != recorded.len() + replied.len() {
        return None;
    }
    let mut out = vec![Verdict::Duplicate; n];
    let mut flags = flags.bytes();
    for &i in recorded {
        *out.get_mut(i)? = match flags.next()? {
            b'R' if !entry.is_empty() => Verdict::Recorded(entry.to_owned()),
            b'0' => Verdict::Duplicate,
            _ => return None,
        };
    }
    for &i in replied {
        *out.get_mut(i)? = match flags.next()? {
            b'1' => Verdict::ClaimedLocal,
            b'0' => Verdict::Duplicate,
            _ => return None,
        };
    }
    Some(out)
}

/// An event of a stream entry finished here.
pub(crate) struct Finished {
    /// The entry, when this was its last event running here (then acknowledged).
    pub(crate) entry: Option<String>,
    /// Its frame (in the frames hash) is deleted.
    pub(crate) envelope_id: String,
}

/// What the fleet decided for one envelope of a batch: the dispatcher's input
/// (`dispatch.rs`, where the claim rules live).
pub(crate) use crate::dispatch::Claim as Verdict;

/// The fleet's counters (this replica's), also published in its heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStats {
    /// Events this replica claimed first.
    pub claimed: u64,
    /// Redeliveries acked because another (or this) replica had claimed the event.
    pub duplicates: u64,
    /// Envelopes handled locally because Redis did not answer in time.
    pub local_fallbacks: u64,
    /// Stream entries this replica's workers handled.
    pub stream_handled: u64,
    /// Stream entries taken over from a replica that stopped acknowledging them.
    pub reclaimed: u64,
    /// Redis outages seen (one warning each).
    pub outages: u64,
    /// Redis calls that failed or timed out.
    pub failed_calls: u64,
    /// Connections this replica holds under lease (0: a standby).
    pub leased_connections: usize,
}

#[derive(Debug, Default)]
struct Counters {
    claimed: AtomicU64,
    duplicates: AtomicU64,
    local_fallbacks: AtomicU64,
    stream_handled: AtomicU64,
    reclaimed: AtomicU64,
}

struct Inner {
    cfg: FleetConfig,
    id: String,
    client: Client,
    /// The background thread's link (heartbeat, leases), and handlers' pacing calls.
    bg_link: Mutex<Link>,
    health: Health,
    counters: Counters,
    leased: AtomicUsize,
    /// Connections this replica asks the budget for (its `connections` setting).
    wanted: AtomicUsize,
    stop: AtomicBool,
    /// Stream entries pending for this replica whose handler has not finished (kept fresh
    /// by the keeper, so that no other replica takes them over).
    /// Each with how many of its events have not finished here.
    running: Mutex<HashMap<String, usize>>,
    /// Finished events: the keeper deletes their frames, and acknowledges an entry in the
    /// stream once all of its events are done.
    done_tx: Sender<Finished>,
    done_rx: Receiver<Finished>,
    /// Frames of envelopes judged locally after a failed claim call (deleted by the keeper).
    orphans: Mutex<Vec<String>>,
    /// Entries this replica gives up (not started at shutdown, or no room in its queue): the
    /// keeper marks them idle, for a living replica to take over at once.
    released: Mutex<Vec<String>>,
    accept: Script,
    accept_args: AcceptArgs,
    lease: Script,
    pace: Script,
}

/// A replica's handle on the fleet's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("replica", &self.inner.id)
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

fn default_replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}", std::process::id())
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn client_for(cfg: &FleetConfig) -> Result<Client, FleetError> {
    let info = cfg
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| FleetError::Config(format!("bad redis url: {}", e.kind_str())))?;
    let mut redis = info.redis_settings().clone().set_skip_set_lib_name();
    if let Some(p) = &cfg.password {
        redis = redis.set_password(p);
    }
    // Every call is a request waiting for its answer: no Nagle delay on a pipeline's last
    // segment (redis-rs leaves `TCP_NODELAY` off by default; over a network a claim batch
    // larger than one segment would wait a round trip for the ack of the ones before it).
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    let info = info.set_redis_settings(redis).set_tcp_settings(tcp);
    let client = match &cfg.root_certs_pem {
        Some(pem) => Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            },
        ),
        None => Client::open(info),
    };
    client.map_err(|e| FleetError::Config(format!("redis client: {}", e.kind_str())))
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    /// The error without echoing the URL (which may hold a password).
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

impl Fleet {
    /// A handle on the fleet described by `cfg`. Does not need Redis to be up (the first
    /// calls then fall back); fails only on an unusable URL.
    pub fn new(cfg: FleetConfig) -> Result<Fleet, FleetError> {
        let client = client_for(&cfg)?;
        let id = cfg.replica_id.clone().unwrap_or_else(default_replica_id);
        let bound = cfg.call_timeout;
        let (done_tx, done_rx) = unbounded();
        Ok(Fleet {
            inner: Arc::new(Inner {
                accept_args: AcceptArgs::new(&cfg),
                bg_link: Mutex::new(Link::new(client.clone(), bound, "heartbeat")),
                client,
                id,
                cfg,
                health: Health::default(),
                counters: Counters::default(),
                leased: AtomicUsize::new(0),
                wanted: AtomicUsize::new(0),
                stop: AtomicBool::new(false),
                running: Mutex::new(HashMap::new()),
                orphans: Mutex::new(Vec::new()),
                done_tx,
                done_rx,
                released: Mutex::new(Vec::new()),
                accept: Script::new(scripts::ACCEPT),
                lease: Script::new(scripts::LEASE),
                pace: Script::new(scripts::PACE),
            }),
        })
    }

    /// This replica's name in the fleet.
    pub fn replica_id(&self) -> &str {
        &self.inner.id
    }

    /// Whether the last call to Redis failed (the replica runs on local state meanwhile).
    pub fn is_degraded(&self) -> bool {
        self.inner.health.is_down()
    }

    /// Redis's `maxmemory-policy`, as this replica's last new connection read it, when it is
    /// not `noeviction`: such a Redis, short of memory, may delete the fleet's claims (events
    /// then handled twice) or recorded events (lost if their replica dies). Warned about once
    /// per policy in the log, and shown by `slack-bot fleet`. `None` also when Redis did not
    /// say (an ACL may forbid `INFO`).
    pub fn eviction_policy(&self) -> Option<String> {
        self.inner.health.eviction_policy()
    }

    /// This replica's counters.
    pub fn stats(&self) -> FleetStats {
        let c = &self.inner.counters;
        FleetStats {
            claimed: c.claimed.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            local_fallbacks: c.local_fallbacks.load(Ordering::Relaxed),
            stream_handled: c.stream_handled.load(Ordering::Relaxed),
            reclaimed: c.reclaimed.load(Ordering::Relaxed),
            outages: self.inner.health.outages.load(Ordering::Relaxed),
            failed_calls: self.inner.health.failed_calls.load(Ordering::Relaxed),
            leased_connections: self.inner.leased.load(Ordering::Relaxed),
        }
    }

    /// A connection for claims (the claimer thread's), bounded by the call timeout.
    pub(crate) fn claim_link(&self) -> Link {
        Link::new(
            self.inner.client.clone(),
            self.inner.cfg.call_timeout,
            "claims",
        )
    }

    pub(crate) fn config(&self) -> &FleetConfig {
        &self.inner.cfg
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn health(&self) -> &Health {
        &self.inner.health
    }

    pub(crate) fn stopping(&self) -> bool {
        self.inner.stop.load(Ordering::Relaxed)
    }

    /// A recorded event's handler finished (on this replica): its stream entry is
    /// acknowledged by the keeper.
    pub(crate) fn entry_done(&self, entry: String, envelope_id: &str) {
        let last = match self.inner.running.lock() {
            Ok(mut r) => match r.get_mut(&entry) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    r.remove(&entry);
                    true
                }
                // Handed back meanwhile (shutdown): only its frame goes.
                None => false,
            },
            Err(_) => false,
        };
        self.inner
            .counters
            .stream_handled
            .fetch_add(1, Ordering::Relaxed);
        let _ = self.inner.done_tx.send(Finished {
            entry: last.then_some(entry),
            envelope_id: envelope_id.to_owned(),
        });
    }

    /// A recorded event this replica will not run (no room in its queue, or shutting down):
    /// the keeper hands it back to the fleet (another replica, or this one later, takes it
    /// over).
    pub(crate) fn entry_released(&self, entry: String) {
        if let Ok(mut r) = self.inner.running.lock() {
            r.remove(&entry);
        }
        if let Ok(mut r) = self.inner.released.lock() {
            r.push(entry);
        }
    }

    /// An entry taken over by the keeper, with `events` of its events to run here.
    pub(crate) fn entry_taken(&self, entry: &str, events: usize) {
        if let Ok(mut r) = self.inner.running.lock() {
            r.insert(entry.to_owned(), events);
        }
    }

    /// The entries whose events run here (for the keeper).
    pub(crate) fn running_entries(&self) -> Vec<String> {
        self.inner
            .running
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `entry` runs here.
    pub(crate) fn is_running(&self, entry: &str) -> bool {
        self.inner
            .running
            .lock()
            .map(|r| r.contains_key(entry))
            .unwrap_or(false)
    }

    /// Finished events (for the keeper).
    pub(crate) fn done_entries(&self) -> &Receiver<Finished> {
        &self.inner.done_rx
    }

    /// Frames to delete of envelopes judged locally (for the keeper), taken.
    pub(crate) fn take_orphans(&self) -> Vec<String> {
        self.inner
            .orphans
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }

    /// Released entries (for the keeper), taken.
    pub(crate) fn take_released(&self) -> Vec<String> {
        self.inner
            .released
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    pub(crate) fn count_local_fallbacks(&self, n: u64) {
        self.inner
            .counters
            .local_fallbacks
            .fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_reclaimed(&self, n: u64) {
        self.inner
            .counters
            .reclaimed
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Claims a batch of envelopes in one round trip (one atomic script), recording the new
    /// ones that take no reply in the stream. Bounded by the call timeout; on failure every
    /// envelope gets [`Verdict::Local`].
    pub(crate) fn accept(&self, link: &mut Link, envelopes: &[&Envelope]) -> Vec<Verdict> {
        if envelopes.is_empty() {
            return Vec::new();
        }
        let k = &self.inner.accept_args;
        // Each dedup key goes to Redis once per batch: a repeat (a redelivery that came before
        // its original's verdict) is a duplicate of the first, and is not recorded.
        let mut first: HashMap<&str, ()> = HashMap::with_capacity(envelopes.len());
        // Indexes in the batch, and the envelopes at them.
        let (mut recorded, mut replied) = (Vec::new(), Vec::new());
        let (mut to_record, mut to_reply): (Vec<&Envelope>, Vec<&Envelope>) = (vec![], vec![]);
        for (i, &e) in envelopes.iter().enumerate() {
            if first.insert(e.dedup_key(), ()).is_some() {
                // Neither recorded nor replied: its verdict stays a duplicate.
            } else if e.accepts_response_payload() {
                replied.push(i);
                to_reply.push(e);
            } else {
                recorded.push(i);
                to_record.push(e);
            }
        }
        // One round trip: the frames in the frames hash, then the claim script (by its hash;
        // loaded and sent again if Redis does not know it).
        let mut pipe = redis::pipe();
        if !recorded.is_empty() {
            let hset = pipe.cmd("HSET").arg(&k.frames);
            for e in &to_record {
                hset.arg(e.envelope_id()).arg(e.frame_text());
            }
            hset.ignore();
        }
        let mut script = redis::cmd("EVALSHA");
        script
            .arg(self.inner.accept.get_hash())
            .arg(2)
            .arg(&k.stream)
            .arg(&k.frames)
            .arg(&self.inner.id)
            .arg(&k.claim_ttl)
            .arg(&k.reply_ttl)
            .arg(&k.claims)
            .arg(recorded.len())
            .arg(encode_ids(to_record.iter().map(|e| e.envelope_id())));
        for e in &to_record {
            script.arg(e.dedup_key());
        }
        for e in &to_reply {
            script.arg(e.dedup_key());
        }
        pipe.add_command(script);
        let accept = &self.inner.accept;
        let result: Result<(String, String), _> = link.call(&self.inner.health, None, |c| {
            match pipe.query::<((String, String),)>(c) {
                Err(e)
                    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    accept.load(c)?;
                    pipe.query::<((String, String),)>(c)
                }
                other => other,
            }
            .map(|(v,)| v)
        });
        let c = &self.inner.counters;
        let verdicts = result.ok().and_then(|(entry, flags)| {
            verdicts(envelopes.len(), &recorded, &replied, &entry, &flags)
        });
        let Some(verdicts) = verdicts else {
            c.local_fallbacks
                .fetch_add(envelopes.len() as u64, Ordering::Relaxed);
            // Judged here alone: their frames, if the pipeline wrote them, go (so that a
            // record the script may have made after all is dropped when taken over, rather
            // than run a second time).
            if let Ok(mut o) = self.inner.orphans.lock() {
                o.extend(to_record.iter().map(|e| e.envelope_id().to_owned()));
            }
            return vec![Verdict::Local; envelopes.len()];
        };
        let (mut claimed, mut duplicates, mut in_entry) = (0u64, 0u64, 0usize);
        for v in &verdicts {
            match v {
                Verdict::Duplicate => duplicates += 1,
                Verdict::Recorded(_) => {
                    claimed += 1;
                    in_entry += 1;
                }
                _ => claimed += 1,
            }
        }
        c.claimed.fetch_add(claimed, Ordering::Relaxed);
        c.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        if in_entry > 0 {
            if let (Ok(mut running), Some(Verdict::Recorded(entry))) = (
                self.inner.running.lock(),
                verdicts.iter().find(|v| matches!(v, Verdict::Recorded(_))),
            ) {
                *running.entry(entry.clone()).or_default() += in_entry;
            }
        }
        verdicts
    }

    /// Asks for `want` connections of the fleet's budget; returns how many this replica now
    /// holds (0: a standby), or `None` when Redis did not answer.
    pub fn lease_connections(&self, want: usize) -> Option<usize> {
        let cfg = &self.inner.cfg;
        let mut inv = self.inner.lease.prepare_invoke();
        inv.key(cfg.key(&["conns"]))
            .arg(&self.inner.id)
            .arg(want)
            .arg(cfg.lease_ttl.as_millis() as u64)
            .arg(cfg.budget);
        let granted: Option<i64> = match self.inner.bg_link.lock() {
            Ok(mut link) => link.call(&self.inner.health, None, |c| inv.invoke(c)).ok(),
            Err(_) => None,
        };
        let granted = granted.map(|g| usize::try_from(g).unwrap_or(0));
        if let Some(g) = granted {
            self.inner.leased.store(g, Ordering::Relaxed);
        }
        granted
    }

    /// Asks once for `want` connections of the fleet's budget, without waiting: how many to
    /// open now (0: a standby, said once; `want` when Redis cannot be reached). The heartbeat
    /// then asks for `want` again at every beat, and a change of the grant is handed to the
    /// running bot (a standby is given connections when a lease lapses; a replica that got
    /// fewer than it asked for gets more when they free up).
    pub(crate) fn first_lease(&self, want: usize) -> usize {
        self.inner.wanted.store(want, Ordering::Relaxed);
        match self.lease_connections(want) {
            Some(0) => {
                self.say_standby();
                0
            }
            Some(n) => {
                if n < want {
                    log::info!(
                        "fleet: holding {n} of the {want} connections asked for (the fleet's budget is {})",
                        self.inner.cfg.budget
                    );
                }
                n
            }
            None => {
                log::warn!(
                    "fleet: redis unavailable while asking for connections; opening {want} without a lease"
                );
                self.inner.leased.store(want, Ordering::Relaxed);
                want
            }
        }
    }

    fn say_standby(&self) {
        log::warn!(
            "fleet: standby: the fleet already holds its {} connections; waiting for a lease to lapse",
            self.inner.cfg.budget
        );
    }

    /// Paces one `chat.postMessage` to `channel` with the fleet's shared bucket (burst 5, then
    /// 1/s): how long to wait before sending, or `None` when Redis is away (use the local
    /// limiter).
    pub fn pace_post_message(&self, channel: &str) -> Option<Duration> {
        let cfg = &self.inner.cfg;
        let mut inv = self.inner.pace.prepare_invoke();
        inv.key(cfg.key(&["pace", channel])).arg(5).arg(1000);
        let wait: Option<i64> = match self.inner.bg_link.lock() {
            Ok(mut link) => link.call(&self.inner.health, None, |c| inv.invoke(c)).ok(),
            Err(_) => None,
        };
        wait.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// Tells the fleet that `method` got a 429 with `Retry-After`: every replica pauses it.
    /// Whether Redis took it.
    pub fn pause_method(&self, method: &str, retry_after: Duration) -> bool {
        let key = self.inner.cfg.key(&["pause", method]);
        let ms = retry_after.as_millis().max(1) as u64;
        match self.inner.bg_link.lock() {
            Ok(mut link) => link
                .call(&self.inner.health, None, |c| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(self.inner.id.as_str())
                        .arg("PX")
                        .arg(ms)
                        .query::<()>(c)
                })
                .is_ok(),
            Err(_) => false,
        }
    }

    /// How long `method` is still paused fleet-wide (zero: not paused), or `None` when Redis
    /// is away.
    pub fn method_pause(&self, method: &str) -> Option<Duration> {
        let key = self.inner.cfg.key(&["pause", method]);
        let ttl: Option<i64> = match self.inner.bg_link.lock() {
            Ok(mut link) => link
                .call(&self.inner.health, None, |c| {
                    redis::cmd("PTTL").arg(&key).query(c)
                })
                .ok(),
            Err(_) => None,
        };
        ttl.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// Publishes this replica's heartbeat (connections, counters) and renews its leases.
    /// Returns the connections granted when that changed (the bot then opens or retires
    /// links to match).
    pub(crate) fn beat(&self, ready_connections: usize) -> Option<usize> {
        let held = self.inner.leased.load(Ordering::Relaxed);
        let want = self.inner.wanted.load(Ordering::Relaxed);
        let mut changed = None;
        if want > 0 {
            match self.lease_connections(want) {
                Some(g) if g == held => {}
                Some(0) => {
                    log::warn!(
                        "fleet: the budget now grants none of the {held} connections this replica held (a lease lapsed, e.g. after a redis restart)"
                    );
                    self.say_standby();
                    changed = Some(0);
                }
                Some(g) if held == 0 => {
                    log::info!("fleet: no longer a standby: holding {g} connection(s)");
                    changed = Some(g);
                }
                Some(g) if g < held => {
                    log::warn!(
                        "fleet: the budget now grants {g} of the {held} connections this replica held (a lease lapsed, e.g. after a redis restart)"
                    );
                    changed = Some(g);
                }
                Some(g) => {
                    log::info!(
                        "fleet: holding {g} of the {want} connections asked for (up from {held}: a lease lapsed elsewhere)"
                    );
                    changed = Some(g);
                }
                // Redis away: keep what is held.
                None => {}
            }
        }
        let cfg = &self.inner.cfg;
        let s = self.stats();
        let ttl = (cfg.tick() * 3).as_millis() as u64;
        let now = now_ms();
        let key = cfg.key(&["replica", &self.inner.id]);
        let fields: [(&str, String); 11] = [
            ("connections", ready_connections.to_string()),
            (
                "leased",
                self.inner.leased.load(Ordering::Relaxed).to_string(),
            ),
            ("claimed", s.claimed.to_string()),
            ("duplicates", s.duplicates.to_string()),
            ("local_fallbacks", s.local_fallbacks.to_string()),
            ("stream_handled", s.stream_handled.to_string()),
            ("reclaimed", s.reclaimed.to_string()),
            ("outages", s.outages.to_string()),
            ("failed_calls", s.failed_calls.to_string()),
            ("seen_ms", now.to_string()),
            ("claim_ttl_ms", cfg.claim_ttl.as_millis().to_string()),
        ];
        if let Ok(mut link) = self.inner.bg_link.lock() {
            let _ = link.call(&self.inner.health, None, |c| {
                redis::pipe()
                    .cmd("HSET")
                    .arg(&key)
                    .arg(&fields[..])
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(ttl)
                    .ignore()
                    .cmd("ZADD")
                    .arg(cfg.key(&["replicas"]))
                    .arg(now + ttl)
                    .arg(&self.inner.id)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(cfg.key(&["replicas"]))
                    .arg("-inf")
                    .arg(now.saturating_sub(ttl * 10))
                    .ignore()
                    .query::<()>(c)
            });
        }
        changed
    }

    /// Starts the heartbeat thread (heartbeat and lease renewal every
    /// [`FleetConfig::heartbeat_every`]); `ready` reads the replica's ready connections,
    /// `granted` gets the connections the budget grants when that changes.
    pub(crate) fn start_heartbeat(
        &self,
        ready: Arc<dyn Fn() -> usize + Send + Sync>,
        granted: impl Fn(usize) + Send + 'static,
    ) -> Result<JoinHandle<()>, FleetError> {
        let fleet = self.clone();
        std::thread::Builder::new()
            .name("slack-fleet-heartbeat".to_owned())
            .spawn(move || {
                let tick = fleet.inner.cfg.tick();
                while !fleet.stopping() {
                    if let Some(n) = fleet.beat(ready()) {
                        granted(n);
                    }
                    let mut slept = Duration::ZERO;
                    while slept < tick && !fleet.stopping() {
                        let step = Duration::from_millis(20).min(tick - slept);
                        std::thread::sleep(step);
                        slept += step;
                    }
                }
            })
            .map_err(FleetError::Thread)
    }

    /// Stops the fleet's threads and gives back this replica's leases and heartbeat (a
    /// graceful exit frees its connections at once, without waiting for the lease to lapse).
    pub(crate) fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        let cfg = &self.inner.cfg;
        let id = &self.inner.id;
        if let Ok(mut link) = self.inner.bg_link.lock() {
            let _ = link.call(&self.inner.health, None, |c| {
                let members: Vec<String> = (1..=10).map(|i| format!("{id}#{i}")).collect();
                redis::pipe()
                    .cmd("ZREM")
                    .arg(cfg.key(&["conns"]))
                    .arg(&members)
                    .ignore()
                    .cmd("DEL")
                    .arg(cfg.key(&["replica", id]))
                    .ignore()
                    .cmd("ZREM")
                    .arg(cfg.key(&["replicas"]))
                    .arg(id)
                    .ignore()
                    .query::<()>(c)
            });
        }
        self.inner.leased.store(0, Ordering::Relaxed);
    }
}

/// The fleet's pace for the outbox (`Context::say_later`): a 429 pause of
/// `chat.postMessage` anywhere in the fleet, then the channel's shared bucket.
impl slack_web::SharedPace for Fleet {
    fn reserve(&self, channel: &str) -> Option<Duration> {
        let pause = self.method_pause("chat.postMessage")?;
        let slot = self.pace_post_message(channel)?;
        Some(pause.max(slot).min(MAX_PACE_WAIT))
    }

    fn rate_limited(&self, retry_after: Duration) {
        self.pause_method("chat.postMessage", retry_after);
    }
}

/// A replica as seen in the fleet's heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaStatus {
    /// Its name.
    pub id: String,
    /// What it published (connections, leased, counters).
    pub fields: HashMap<String, String>,
}

/// The fleet as `slack-bot fleet` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStatus {
    /// Live replicas (heartbeat not expired).
    pub replicas: Vec<ReplicaStatus>,
    /// Connections under lease, fleet-wide.
    pub leased: usize,
    /// The budget.
    pub budget: usize,
    /// Redis's `maxmemory-policy` when it lets Redis evict the fleet's keys (anything but
    /// `noeviction`; see [`Fleet::eviction_policy`]).
    pub eviction_policy: Option<String>,
}

/// Reads the fleet's live replicas and leases (for `slack-bot fleet`), within `bound`.
pub fn status(cfg: &FleetConfig, bound: Duration) -> Result<FleetStatus, FleetError> {
    let client = client_for(cfg)?;
    let health = Health::default();
    let mut link = Link::new(client, bound, "status");
    let now = now_ms();
    let replicas_key = cfg.key(&["replicas"]);
    let conns_key = cfg.key(&["conns"]);
    let (ids, leased): (Vec<String>, usize) = link
        .call(&health, None, |c| {
            redis::pipe()
                .cmd("ZRANGEBYSCORE")
                .arg(&replicas_key)
                .arg(now)
                .arg("+inf")
                .cmd("ZCOUNT")
                .arg(&conns_key)
                .arg(now)
                .arg("+inf")
                .query(c)
        })
        .map_err(|e| FleetError::Redis(redact_error(&e)))?;
    let mut replicas = Vec::new();
    for id in ids {
        let key = cfg.key(&["replica", &id]);
        let fields: HashMap<String, String> = link
            .call(&health, None, |c| redis::cmd("HGETALL").arg(&key).query(c))
            .map_err(|e| FleetError::Redis(redact_error(&e)))?;
        if !fields.is_empty() {
            replicas.push(ReplicaStatus { id, fields });
        }
    }
    Ok(FleetStatus {
        replicas,
        leased,
        budget: cfg.budget,
        eviction_policy: health.eviction_policy(),
    })
}

fn redact_error(e: &link::CallError) -> String {
    match e {
        link::CallError::Redis(e) => {
            let mut s = e.kind_str();
            if e.is_timeout() {
                s.push_str(" (timed out)");
            } else if e.is_connection_refusal() {
                s.push_str(" (connection refused)");
            }
            s
        }
        other => other.to_string(),
    }
}

/// The longest a post waits for the fleet's pace or pause (a longer answer means a backlog the
/// caller should see as slowness rather than a hung handler; the local limiter still applies).
const MAX_PACE_WAIT: Duration = Duration::from_secs(60);

/// Runs `post` (a `chat.postMessage` to `channel`) under the fleet's shared pause and pace,
/// and shares a 429's pause with the fleet. When Redis is away, `post` runs at once (its own
/// client's local limiter applies).
pub(crate) fn paced_post<T>(
    fleet: &Fleet,
    channel: &str,
    post: impl FnOnce() -> Result<T, slack_web::Error>,
) -> Result<T, slack_web::Error> {
    const METHOD: &str = "chat.postMessage";
    if let Some(pause) = fleet.method_pause(METHOD).filter(|p| !p.is_zero()) {
        std::thread::sleep(pause.min(MAX_PACE_WAIT));
    }
    if let Some(wait) = fleet.pace_post_message(channel).filter(|w| !w.is_zero()) {
        std::thread::sleep(wait.min(MAX_PACE_WAIT));
    }
    let result = post();
    if let Err(e) = &result {
        if let Some(retry_after) = e.retry_after() {
            fleet.pause_method(METHOD, retry_after);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::{Verdict, decode_ids, encode_ids, verdicts};

    #[test]
    fn the_claim_scripts_flags_become_one_verdict_per_envelope() {
        // Envelopes 0, 2 and 4 recorded, 3 answered in its ack, 1 repeats 0's dedup key.
        let v = verdicts(5, &[0, 2, 4], &[3], "1-0", "R0R1").unwrap();
        assert_eq!(
            v,
            vec![
                Verdict::Recorded("1-0".into()),
                Verdict::Duplicate,
                Verdict::Duplicate,
                Verdict::ClaimedLocal,
                Verdict::Recorded("1-0".into()),
            ]
        );
        assert_eq!(
            verdicts(2, &[], &[0, 1], "", "01").unwrap(),
            vec![Verdict::Duplicate, Verdict::ClaimedLocal]
        );
    }

    #[test]
    fn a_records_ids_come_back_whole_whatever_their_bytes() {
        let ids = ["a1b2", "", "12:34", "é:ü", "x\ny 7:z", "9"];
        let s = encode_ids(ids.iter().copied());
        assert_eq!(s, "4:a1b20:5:12:345:é:ü7:x\ny 7:z1:9");
        assert_eq!(decode_ids(&s).unwrap(), ids);
        assert_eq!(decode_ids("").unwrap(), Vec::<String>::new());
        // Not a record of ours: a length past the end, no length, a length that is no number,
        // or a length that ends inside a character.
        for bad in ["5:abc", "abc", ":x", "x:y", "1:é"] {
            assert_eq!(decode_ids(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_answer_that_does_not_fit_the_batch_is_no_verdict() {
        // Too few or too many flags.
        assert_eq!(verdicts(2, &[0, 1], &[], "1-0", "R"), None);
        assert_eq!(verdicts(1, &[0], &[], "1-0", "RR"), None);
        // Recorded, but in no entry.
        assert_eq!(verdicts(1, &[0], &[], "", "R"), None);
        // A flag of the wrong kind for its envelope, or an unknown one.
        assert_eq!(verdicts(1, &[0], &[], "1-0", "1"), None);
        assert_eq!(verdicts(1, &[], &[0], "1-0", "R"), None);
        assert_eq!(verdicts(1, &[0], &[], "1-0", "x"), None);
        // An index outside the batch.
        assert_eq!(verdicts(1, &[3], &[], "1-0", "R"), None);
    }
}
