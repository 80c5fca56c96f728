//! The outgoing queue: a background thread that posts queued messages in order per channel,
//! under the client's shared rate limiter, and hands back whatever it could not send.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::{WebClient, lock};
use crate::error::Error;
use crate::limiter::{POST_MESSAGE, RateLimiter};
use crate::types::{Message, PostMessage};

/// Outbox settings: [`OutboxConfig::default`] and the chainable setters.
///
/// ```
/// use std::time::Duration;
/// let config = slack_web::OutboxConfig::default()
///     .max_pending(1_000)
///     .max_failed(100)
///     .retry_backoff(Duration::from_secs(1));
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxConfig {
    max_pending: usize,
    max_failed: usize,
    max_attempts: u32,
    retry_backoff: Duration,
    shutdown_grace: Duration,
    thread_name: String,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_pending: 10_000,
            max_failed: 1_000,
            max_attempts: 5,
            retry_backoff: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(5),
            thread_name: "slack-web-outbox".into(),
        }
    }
}

impl OutboxConfig {
    /// The most messages waiting at once (default 10,000; at least 1);
    /// [`Outbox::queue_message`] refuses more.
    #[must_use]
    pub fn max_pending(mut self, n: usize) -> Self {
        self.max_pending = n.max(1);
        self
    }

    /// The most failed messages kept for [`Outbox::take_failed`] and the shutdown report
    /// (default 1,000). Past it the oldest failure is dropped, logged, and counted in
    /// [`OutboxStats::failed_dropped`].
    #[must_use]
    pub fn max_failed(mut self, n: usize) -> Self {
        self.max_failed = n;
        self
    }

    /// How many times a message is tried when the request never reached Slack (DNS,
    /// connect, proxy failure; default 5, at least 1). Other failures are not retried:
    /// `chat.postMessage` is not idempotent, so a retry after a timeout could post twice.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The first pause after such a failure (default 500 ms; doubled each time, at most
    /// 30 s).
    #[must_use]
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.retry_backoff = d;
        self
    }

    /// How long [`Outbox::shutdown`] waits past its deadline for a request in flight
    /// (default 5 s).
    #[must_use]
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }

    /// The worker thread's name (default `slack-web-outbox`).
    #[must_use]
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }
}

/// A message the outbox did not (or not certainly) deliver.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Unsent {
    /// The message, with its channel.
    pub message: PostMessage,
    /// The last error, or `None` when it was never tried (deadline reached).
    pub error: Option<Error>,
    /// How many requests were made for it.
    pub attempts: u32,
    /// True when a request for it was still in flight at shutdown: it may have been posted.
    pub in_flight: bool,
}

/// Why a message was not queued; the message is handed back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueueError {
    /// `max_pending` messages are already waiting.
    Full(Box<PostMessage>),
    /// The outbox is shutting down or shut down.
    Closed(Box<PostMessage>),
}

impl QueueError {
    /// The refused message.
    pub fn into_message(self) -> PostMessage {
        match self {
            QueueError::Full(m) | QueueError::Closed(m) => *m,
        }
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Full(_) => f.write_str("outbox is full"),
            QueueError::Closed(_) => f.write_str("outbox is shut down"),
        }
    }
}

impl std::error::Error for QueueError {}

/// What [`Outbox::flush`] could not finish by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Messages queued before the flush that are still waiting.
    pub pending: usize,
    /// Messages queued before the flush that failed (kept for [`Outbox::take_failed`] and
    /// the shutdown report).
    pub failed: usize,
}

impl fmt::Display for FlushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outbox flush incomplete: {} pending, {} failed",
            self.pending, self.failed
        )
    }
}

impl std::error::Error for FlushReport {}

/// Outbox counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxStats {
    /// Messages accepted by `queue_message`.
    pub queued: u64,
    /// Messages posted.
    pub sent: u64,
    /// Messages that failed for good.
    pub failed: u64,
    /// Failed messages dropped from the failed list because it was full
    /// ([`OutboxConfig::max_failed`]); each was logged.
    pub failed_dropped: u64,
    /// Messages that had to wait for a rate limit (pacing or a 429 pause).
    pub rate_limit_waits: u64,
    /// HTTP 429 answers received.
    pub rate_limited: u64,
    /// Messages waiting now (including one in flight).
    pub pending: usize,
}

/// A pace for `chat.postMessage` shared with other processes (several replicas of one bot
/// keeping Slack's per-channel limit together, in a store they share), consulted by an
/// [`Outbox`] started with [`Outbox::start_paced`] after its own limiter.
pub trait SharedPace: Send + Sync + 'static {
    /// Reserves the next post to `channel`: how long to wait before sending it (zero: now),
    /// or `None` when the shared pace cannot be reached (the outbox then relies on its own
    /// limiter). Called off the outbox's lock; it should return within tens of milliseconds.
    fn reserve(&self, channel: &str) -> Option<Duration>;
    /// A post got HTTP 429 with this `Retry-After`: tell the others.
    fn rate_limited(&self, retry_after: Duration);
}

/// What the worker posts through; [`WebClient`] in production, a fake in unit tests.
pub(crate) trait Sink: Send + Sync + 'static {
    fn post(&self, msg: &PostMessage) -> Result<(), Error>;
    fn limiter(&self) -> Arc<Mutex<RateLimiter>>;
    fn on_sent(&self) {}
    fn on_rate_limit_wait(&self) {}
}

impl Sink for WebClient {
    fn post(&self, msg: &PostMessage) -> Result<(), Error> {
        self.post_message_once(msg).map(drop)
    }
    fn limiter(&self) -> Arc<Mutex<RateLimiter>> {
        self.shared_limiter()
    }
    fn on_sent(&self) {
        self.count_message_sent();
    }
    fn on_rate_limit_wait(&self) {
        self.count_rate_limit_wait();
    }
}

struct Queued {
    id: u64,
    message: PostMessage,
    attempts: u32,
    waited: bool,
    /// Its slot in the shared pace: not posted before this (and not reserved again).
    not_before: Option<Instant>,
    last_error: Option<Error>,
}

impl Queued {
    fn unsent(self, in_flight: bool) -> (u64, Unsent) {
        (
            self.id,
            Unsent {
                message: self.message,
                error: self.last_error,
                attempts: self.attempts,
                in_flight,
            },
        )
    }
}

#[derive(Default)]
struct State {
    queues: HashMap<String, VecDeque<Queued>>,
    /// Channels with waiting messages, in round-robin order.
    order: VecDeque<String>,
    in_flight: Option<(String, u64)>,
    in_flight_msg: Option<PostMessage>,
    failed: VecDeque<(u64, Unsent)>,
    next_id: u64,
    pending: usize,
    /// No request before this (after a failure that never reached Slack).
    retry_at: Option<Instant>,
    closing: Option<Instant>,
    stopped: bool,
    stats: OutboxStats,
}

impl State {
    /// Lowest id still waiting or in flight.
    fn oldest_pending(&self) -> Option<u64> {
        let heads = self.queues.values().filter_map(|q| q.front().map(|m| m.id));
        heads
            .chain(self.in_flight.as_ref().map(|(_, id)| *id))
            .min()
    }

    fn push_front(&mut self, channel: &str, item: Queued) {
        match self.queues.get_mut(channel) {
            Some(q) => q.push_front(item),
            None => {
                self.queues
                    .insert(channel.to_owned(), VecDeque::from([item]));
                self.order.push_front(channel.to_owned());
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    config: OutboxConfig,
    pace: Option<Arc<dyn SharedPace>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// A queue of outgoing `chat.postMessage` calls, posted by one background thread in order
/// per channel, round-robin across channels, under the client's rate limiter (1 message per
/// second per channel with bursts of 5 by default, and any 429 pause). Share it between
/// threads with an `Arc`.
///
/// Nothing is dropped silently: failures are kept for [`take_failed`](Self::take_failed)
/// and [`shutdown`](Self::shutdown) returns everything not posted. Dropping an outbox that
/// was not shut down shuts it down at once and logs how many messages were not sent.
pub struct Outbox {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Starts an outbox posting through `client` (a clone is kept; the rate limiter and
    /// counters are shared with it).
    pub fn start(client: &WebClient, config: OutboxConfig) -> Result<Outbox, Error> {
        Outbox::start_with(Arc::new(client.clone()), config, None)
    }

    /// Like [`Outbox::start`], with each message also paced by `pace`, shared with other
    /// processes: after the local limiter lets a message go, `pace` gives its slot, and it
    /// waits for it in its channel's queue (other channels go on meanwhile); a 429 is
    /// reported to `pace`. When `pace` cannot be reached, the local limiter alone applies.
    pub fn start_paced(
        client: &WebClient,
        config: OutboxConfig,
        pace: Arc<dyn SharedPace>,
    ) -> Result<Outbox, Error> {
        Outbox::start_with(Arc::new(client.clone()), config, Some(pace))
    }

    pub(crate) fn start_with(
        sink: Arc<dyn Sink>,
        config: OutboxConfig,
        pace: Option<Arc<dyn SharedPace>>,
    ) -> Result<Outbox, Error> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            config,
            pace,
        });
        let worker_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(shared.config.thread_name.clone())
            .spawn(move || worker(&worker_shared, sink.as_ref()))
            .map_err(|e| Error::Config {
                detail: format!("cannot start the outbox thread: {e}"),
            })?;
        Ok(Outbox {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `message` for `channel`. Returns its sequence number.
    pub fn queue_message(
        &self,
        channel: impl Into<String>,
        message: impl Into<Message>,
    ) -> Result<u64, QueueError> {
        self.queue(PostMessage::new(channel, message))
    }

    /// Queues a prepared `chat.postMessage`. Returns its sequence number.
    pub fn queue(&self, message: PostMessage) -> Result<u64, QueueError> {
        let mut st = self.shared.lock();
        if st.closing.is_some() {
            return Err(QueueError::Closed(Box::new(message)));
        }
        if st.pending >= self.shared.config.max_pending {
            return Err(QueueError::Full(Box::new(message)));
        }
        let id = st.next_id;
        st.next_id += 1;
        st.pending += 1;
        st.stats.queued += 1;
        let channel = message.channel.clone();
        let item = Queued {
            id,
            message,
            attempts: 0,
            waited: false,
            not_before: None,
            last_error: None,
        };
        match st.queues.get_mut(&channel) {
            Some(q) => q.push_back(item),
            None => {
                st.queues.insert(channel.clone(), VecDeque::from([item]));
                st.order.push_back(channel);
            }
        }
        drop(st);
        self.shared.changed.notify_all();
        Ok(id)
    }

    /// Waits until every message queued before this call was posted or failed, or until
    /// `deadline`. `Err` tells how many are still pending or failed.
    pub fn flush(&self, deadline: Instant) -> Result<(), FlushReport> {
        let mut st = self.shared.lock();
        let upto = st.next_id;
        loop {
            let done = st.oldest_pending().is_none_or(|id| id >= upto);
            let now = Instant::now();
            if done || now >= deadline || st.stopped {
                let pending = st.queues.values().flatten().filter(|m| m.id < upto).count()
                    + usize::from(st.in_flight.as_ref().is_some_and(|(_, id)| *id < upto));
                let failed = st.failed.iter().filter(|(id, _)| *id < upto).count();
                return if pending == 0 && failed == 0 {
                    Ok(())
                } else {
                    Err(FlushReport { pending, failed })
                };
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Takes the messages that failed so far (each with its error), e.g. to report them.
    pub fn take_failed(&self) -> Vec<Unsent> {
        let mut st = self.shared.lock();
        std::mem::take(&mut st.failed)
            .into_iter()
            .map(|(_, u)| u)
            .collect()
    }

    /// The counters.
    pub fn stats(&self) -> OutboxStats {
        let st = self.shared.lock();
        OutboxStats {
            pending: st.pending,
            ..st.stats
        }
    }

    /// Stops taking messages, keeps posting until everything is sent or `deadline` passes,
    /// stops the thread and returns every message not posted: failed ones with their error,
    /// never-tried ones, and (marked `in_flight`) one whose request was still running.
    /// Calling it again returns what is left (normally nothing).
    pub fn shutdown(&self, deadline: Instant) -> Vec<Unsent> {
        {
            let mut st = self.shared.lock();
            let d = st.closing.map_or(deadline, |d| d.min(deadline));
            st.closing = Some(d);
        }
        self.shared.changed.notify_all();
        let give_up = deadline
            .checked_add(self.shared.config.shutdown_grace)
            .unwrap_or(deadline);
        let mut st = self.shared.lock();
        while !st.stopped {
            let now = Instant::now();
            if now >= give_up {
                log::warn!("slack-web outbox: worker still busy at shutdown; not waiting for it");
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, give_up - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let stopped = st.stopped;
        let mut out: Vec<(u64, Unsent)> = std::mem::take(&mut st.failed).into();
        if let (Some((_, id)), Some(msg)) = (st.in_flight.clone(), st.in_flight_msg.take()) {
            out.push((
                id,
                Unsent {
                    message: msg,
                    error: None,
                    attempts: 1,
                    in_flight: true,
                },
            ));
        }
        let queues = std::mem::take(&mut st.queues);
        st.order.clear();
        for item in queues.into_values().flatten() {
            st.pending = st.pending.saturating_sub(1);
            out.push(item.unsent(false));
        }
        drop(st);
        if stopped {
            if let Some(t) = lock(&self.thread).take() {
                if t.join().is_err() {
                    log::error!("slack-web outbox: worker thread panicked");
                }
            }
        }
        out.sort_by_key(|(id, _)| *id);
        out.into_iter().map(|(_, u)| u).collect()
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let unsent = self.shutdown(Instant::now());
        if !unsent.is_empty() {
            log::error!(
                "slack-web outbox dropped without shutdown: {} message(s) not sent",
                unsent.len()
            );
        }
    }
}

fn wait<'a>(
    shared: &'a Shared,
    st: MutexGuard<'a, State>,
    timeout: Option<Duration>,
) -> MutexGuard<'a, State> {
    match timeout {
        Some(t) => shared
            .changed
            .wait_timeout(st, t)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0),
        None => shared
            .changed
            .wait(st)
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    }
}

fn worker(shared: &Shared, sink: &dyn Sink) {
    let limiter = sink.limiter();
    let mut st = shared.lock();
    loop {
        let now = Instant::now();
        if let Some(deadline) = st.closing {
            if st.pending == 0 || now >= deadline {
                break;
            }
        }
        let until_deadline = st.closing.map(|d| d.saturating_duration_since(now));
        if st.pending == 0 {
            st = wait(shared, st, until_deadline);
            continue;
        }
        if let Some(at) = st.retry_at.filter(|at| *at > now) {
            let t = at - now;
            st = wait(shared, st, Some(until_deadline.map_or(t, |d| d.min(t))));
            continue;
        }
        // Round-robin: the first channel whose head may go now.
        let mut picked = None;
        let mut min_wait: Option<Duration> = None;
        for _ in 0..st.order.len() {
            let Some(channel) = st.order.pop_front() else {
                break;
            };
            let slot = st
                .queues
                .get(&channel)
                .and_then(|q| q.front())
                .and_then(|m| m.not_before);
            let acquired = match slot {
                // Reserved in the shared pace already (and let go by the local limiter then).
                Some(at) if at <= now => Ok(()),
                Some(at) => Err(at - now),
                None => lock(&limiter).try_acquire(POST_MESSAGE, Some(&channel), now),
            };
            match acquired {
                Ok(()) => {
                    picked = Some(channel);
                    break;
                }
                Err(w) => {
                    min_wait = Some(min_wait.map_or(w, |m| m.min(w)));
                    let newly_waiting = st
                        .queues
                        .get_mut(&channel)
                        .and_then(|q| q.front_mut())
                        .filter(|m| !m.waited)
                        .map(|m| m.waited = true)
                        .is_some();
                    if newly_waiting {
                        st.stats.rate_limit_waits += 1;
                        sink.on_rate_limit_wait();
                    }
                    st.order.push_back(channel);
                }
            }
        }
        let Some(channel) = picked else {
            let t = min_wait.unwrap_or(Duration::from_millis(100));
            st = wait(shared, st, Some(until_deadline.map_or(t, |d| d.min(t))));
            continue;
        };
        let Some(mut item) = st.queues.get_mut(&channel).and_then(VecDeque::pop_front) else {
            st.queues.remove(&channel);
            continue;
        };
        if st.queues.get(&channel).is_some_and(|q| !q.is_empty()) {
            st.order.push_back(channel.clone());
        } else {
            st.queues.remove(&channel);
        }
        if let (Some(pace), None) = (&shared.pace, item.not_before) {
            // Its slot in the shared pace, asked for off the lock; a later slot waits in its
            // queue.
            drop(st);
            let wait = pace.reserve(&channel);
            st = shared.lock();
            item.not_before = Some(Instant::now() + wait.unwrap_or(Duration::ZERO));
            if wait.is_some_and(|w| !w.is_zero()) {
                // At shutdown, one whose slot comes after the grace is reported unsent.
                st.push_front(&channel, item);
                continue;
            }
        }
        st.in_flight = Some((channel.clone(), item.id));
        st.in_flight_msg = Some(item.message.clone());
        drop(st);

        item.attempts += 1;
        let result = sink.post(&item.message);

        st = shared.lock();
        let abandoned = st.in_flight_msg.is_none(); // shutdown gave up waiting and reported it
        st.in_flight = None;
        st.in_flight_msg = None;
        if abandoned {
            if result.is_ok() {
                log::warn!("slack-web outbox: a message reported as in flight was posted");
            }
            st.stopped = true;
            break;
        }
        match result {
            Ok(()) => {
                st.pending = st.pending.saturating_sub(1);
                st.stats.sent += 1;
                st.retry_at = None;
                sink.on_sent();
            }
            Err(e) => {
                if let Error::RateLimited { retry_after, .. } = &e {
                    st.stats.rate_limited += 1;
                    lock(&limiter).on_rate_limited(POST_MESSAGE, *retry_after, Instant::now());
                    if let Some(pace) = &shared.pace {
                        pace.rate_limited(*retry_after);
                    }
                    // Its slot is spent: a new one after the pause.
                    item.not_before = None;
                    item.waited = false;
                    item.last_error = Some(e);
                    st.push_front(&channel, item);
                } else if e.never_sent() && item.attempts < shared.config.max_attempts {
                    let backoff = shared
                        .config
                        .retry_backoff
                        .saturating_mul(1u32 << item.attempts.min(6))
                        .min(Duration::from_secs(30));
                    log::warn!("slack-web outbox: {e}; retrying in {backoff:?}");
                    st.retry_at = Some(Instant::now() + backoff);
                    item.last_error = Some(e);
                    st.push_front(&channel, item);
                } else {
                    log::warn!(
                        "slack-web outbox: message to {} failed: {e}",
                        item.message.channel
                    );
                    st.pending = st.pending.saturating_sub(1);
                    st.stats.failed += 1;
                    item.last_error = Some(e);
                    let entry = item.unsent(false);
                    st.failed.push_back(entry);
                    while st.failed.len() > shared.config.max_failed {
                        if st.failed.pop_front().is_some() {
                            st.stats.failed_dropped += 1;
                            // Bounded logging: the 1st, 2nd, 4th, 8th… drop.
                            if st.stats.failed_dropped.is_power_of_two() {
                                log::warn!(
                                    "slack-web outbox: failed list full ({}): {} oldest failure(s) dropped so far",
                                    shared.config.max_failed,
                                    st.stats.failed_dropped
                                );
                            }
                        }
                    }
                }
            }
        }
        shared.changed.notify_all();
    }
    st.stopped = true;
    drop(st);
    shared.changed.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::LimiterConfig;

    /// Records posts; answers from a script (default Ok).
    struct Fake {
        limiter: Arc<Mutex<RateLimiter>>,
        posted: Mutex<Vec<PostMessage>>,
        script: Mutex<VecDeque<Result<(), Error>>>,
        delay: Duration,
    }

    impl Fake {
        fn new(limits: LimiterConfig, script: Vec<Result<(), Error>>) -> Arc<Fake> {
            Arc::new(Fake {
                limiter: Arc::new(Mutex::new(RateLimiter::new(limits))),
                posted: Mutex::new(Vec::new()),
                script: Mutex::new(script.into()),
                delay: Duration::ZERO,
            })
        }
        fn texts(&self, channel: &str) -> Vec<String> {
            lock(&self.posted)
                .iter()
                .filter(|m| m.channel == channel)
                .map(|m| m.message.text.clone().unwrap_or_default())
                .collect()
        }
    }

    impl Sink for Fake {
        fn post(&self, msg: &PostMessage) -> Result<(), Error> {
            std::thread::sleep(self.delay);
            let r = lock(&self.script).pop_front().unwrap_or(Ok(()));
            if r.is_ok() {
                lock(&self.posted).push(msg.clone());
            }
            r
        }
        fn limiter(&self) -> Arc<Mutex<RateLimiter>> {
            Arc::clone(&self.limiter)
        }
    }

    fn secs(n: u64) -> Instant {
        Instant::now() + Duration::from_secs(n)
    }

    #[test]
    fn order_per_channel_and_flush() {
        let fake = Fake::new(LimiterConfig::only_retry_after(), vec![]);
        let ob = Outbox::start_with(fake.clone(), OutboxConfig::default(), None).unwrap();
        for i in 0..20 {
            ob.queue_message(format!("C{}", i % 3), format!("m{i}"))
                .unwrap();
        }
        assert_eq!(ob.flush(secs(10)), Ok(()));
        assert_eq!(
            fake.texts("C0"),
            ["m0", "m3", "m6", "m9", "m12", "m15", "m18"]
        );
        assert_eq!(
            fake.texts("C1"),
            ["m1", "m4", "m7", "m10", "m13", "m16", "m19"]
        );
        let s = ob.stats();
        assert_eq!((s.queued, s.sent, s.failed, s.pending), (20, 20, 0, 0));
        assert!(ob.shutdown(secs(5)).is_empty());
        assert!(matches!(
            ob.queue_message("C", "late"),
            Err(QueueError::Closed(_))
        ));
    }

    /// A shared pace that makes channel "slow" wait 300 ms per message and counts 429s.
    #[derive(Default)]
    struct Pace {
        reserved: Mutex<Vec<String>>,
        rate_limited: Mutex<Vec<Duration>>,
        away: bool,
    }

    impl SharedPace for Pace {
        fn reserve(&self, channel: &str) -> Option<Duration> {
            lock(&self.reserved).push(channel.to_owned());
            if self.away {
                return None;
            }
            Some(if channel == "slow" {
                Duration::from_millis(300)
            } else {
                Duration::ZERO
            })
        }
        fn rate_limited(&self, retry_after: Duration) {
            lock(&self.rate_limited).push(retry_after);
        }
    }

    #[test]
    fn the_shared_pace_holds_a_channel_back_without_holding_up_the_others() {
        let rl = Error::RateLimited {
            method: POST_MESSAGE.into(),
            retry_after: Duration::from_millis(50),
        };
        let fake = Fake::new(LimiterConfig::only_retry_after(), vec![Ok(()), Err(rl)]);
        let pace = Arc::new(Pace::default());
        let ob =
            Outbox::start_with(fake.clone(), OutboxConfig::default(), Some(pace.clone())).unwrap();
        let t0 = Instant::now();
        ob.queue_message("slow", "s1").unwrap();
        ob.queue_message("fast", "f1").unwrap();
        ob.queue_message("fast", "f2").unwrap();
        // f1 goes at once; f2 is refused once with a 429 (reported to the pace) and sent
        // again; s1 waits for its slot meanwhile.
        assert_eq!(ob.flush(secs(10)), Ok(()));
        assert!(t0.elapsed() >= Duration::from_millis(300));
        assert_eq!(fake.texts("fast"), ["f1", "f2"]);
        assert_eq!(fake.texts("slow"), ["s1"]);
        let posted: Vec<String> = lock(&fake.posted)
            .iter()
            .map(|m| m.message.text.clone().unwrap_or_default())
            .collect();
        assert_eq!(posted, ["f1", "f2", "s1"]);
        assert_eq!(*lock(&pace.rate_limited), [Duration::from_millis(50)]);
        // One reservation per message, and one more for the message whose slot a 429 spent.
        assert_eq!(lock(&pace.reserved).len(), 4);
        assert!(ob.shutdown(secs(1)).is_empty());
    }

    #[test]
    fn without_the_shared_pace_the_local_limiter_alone_applies() {
        let fake = Fake::new(LimiterConfig::only_retry_after(), vec![]);
        let pace = Arc::new(Pace {
            away: true,
            ..Pace::default()
        });
        let ob = Outbox::start_with(fake.clone(), OutboxConfig::default(), Some(pace)).unwrap();
        ob.queue_message("slow", "s1").unwrap();
        assert_eq!(ob.flush(secs(10)), Ok(()));
        assert_eq!(fake.texts("slow"), ["s1"]);
        assert!(ob.shutdown(secs(1)).is_empty());
    }

    #[test]
    fn rate_limited_message_is_retried_in_order() {
        let rl = Error::RateLimited {
            method: POST_MESSAGE.into(),
            retry_after: Duration::from_millis(50),
        };
        let fake = Fake::new(LimiterConfig::only_retry_after(), vec![Ok(()), Err(rl)]);
        let ob = Outbox::start_with(fake.clone(), OutboxConfig::default(), None).unwrap();
        for t in ["a", "b", "c"] {
            ob.queue_message("C", t).unwrap();
        }
        assert_eq!(ob.flush(secs(10)), Ok(()));
        assert_eq!(fake.texts("C"), ["a", "b", "c"]);
        let s = ob.stats();
        assert_eq!((s.sent, s.rate_limited), (3, 1));
        assert!(s.rate_limit_waits >= 1);
        assert!(ob.shutdown(secs(1)).is_empty());
    }

    #[test]
    fn failures_are_reported_not_dropped() {
        let not_found = Error::Slack {
            method: POST_MESSAGE.into(),
            error: "channel_not_found".into(),
            warnings: vec![],
            messages: vec![],
        };
        let fake = Fake::new(
            LimiterConfig::only_retry_after(),
            vec![Err(not_found.clone())],
        );
        let ob = Outbox::start_with(fake.clone(), OutboxConfig::default(), None).unwrap();
        ob.queue_message("C", "x").unwrap();
        ob.queue_message("C", "y").unwrap();
        assert_eq!(
            ob.flush(secs(10)),
            Err(FlushReport {
                pending: 0,
                failed: 1
            })
        );
        let unsent = ob.shutdown(secs(1));
        assert_eq!(unsent.len(), 1);
        assert_eq!(unsent[0].message.message.text.as_deref(), Some("x"));
        assert_eq!(unsent[0].error, Some(not_found));
        assert_eq!(fake.texts("C"), ["y"]);
    }

    #[test]
    fn shutdown_returns_what_the_limiter_held_back() {
        // Burst 5 per channel, then 1 per 10 s: most of 12 messages cannot go by the deadline.
        let limits = LimiterConfig::slack_defaults().per_channel(Some(crate::Rate::new(
            1,
            Duration::from_secs(10),
            5,
        )));
        let fake = Fake::new(limits, vec![]);
        let ob = Outbox::start_with(fake.clone(), OutboxConfig::default(), None).unwrap();
        for i in 0..12 {
            ob.queue_message("C", format!("m{i}")).unwrap();
        }
        assert_eq!(
            ob.flush(Instant::now() + Duration::from_millis(300)),
            Err(FlushReport {
                pending: 7,
                failed: 0
            })
        );
        let unsent = ob.shutdown(Instant::now() + Duration::from_millis(50));
        let texts: Vec<_> = unsent
            .iter()
            .map(|u| u.message.message.text.clone().unwrap())
            .collect();
        assert_eq!(texts, ["m5", "m6", "m7", "m8", "m9", "m10", "m11"]);
        assert!(
            unsent
                .iter()
                .all(|u| u.error.is_none() && u.attempts == 0 && !u.in_flight)
        );
        assert_eq!(fake.texts("C").len(), 5);
        let s = ob.stats();
        assert_eq!((s.sent, s.pending, s.rate_limit_waits), (5, 0, 1));
    }

    #[test]
    fn connect_failures_are_retried_then_reported() {
        let down = Error::Transport {
            method: POST_MESSAGE.into(),
            kind: crate::TransportKind::Connect,
            detail: "refused".into(),
        };
        let fake = Fake::new(
            LimiterConfig::only_retry_after(),
            vec![Err(down.clone()), Err(down.clone())],
        );
        let cfg = OutboxConfig::default()
            .max_attempts(2)
            .retry_backoff(Duration::from_millis(10));
        let ob = Outbox::start_with(fake.clone(), cfg, None).unwrap();
        ob.queue_message("C", "a").unwrap();
        ob.queue_message("C", "b").unwrap();
        assert_eq!(
            ob.flush(secs(10)),
            Err(FlushReport {
                pending: 0,
                failed: 1
            })
        );
        let failed = ob.take_failed();
        assert_eq!((failed.len(), failed[0].attempts), (1, 2));
        assert_eq!(fake.texts("C"), ["b"]);
    }

    #[test]
    fn full_queue_hands_the_message_back() {
        let limits = LimiterConfig::slack_defaults().per_channel(Some(crate::Rate::new(
            1,
            Duration::from_secs(100),
            1,
        )));
        let fake = Fake::new(limits, vec![]);
        let cfg = OutboxConfig::default().max_pending(2);
        let ob = Outbox::start_with(fake, cfg, None).unwrap();
        ob.queue_message("C", "1").unwrap();
        ob.queue_message("C", "2").unwrap();
        // One may already have been sent; fill up again.
        let _ = ob.queue_message("C", "3");
        let e = ob.queue_message("C", "4").unwrap_err();
        assert_eq!(e.to_string(), "outbox is full");
        assert_eq!(e.into_message().message.text.as_deref(), Some("4"));
        assert_eq!(ob.shutdown(Instant::now()).len(), 2);
    }

    #[test]
    fn shutdown_with_a_request_in_flight_reports_it() {
        let fake = Arc::new(Fake {
            limiter: Arc::new(Mutex::new(RateLimiter::new(
                LimiterConfig::only_retry_after(),
            ))),
            posted: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            delay: Duration::from_millis(500),
        });
        let cfg = OutboxConfig::default().shutdown_grace(Duration::from_millis(50));
        let ob = Outbox::start_with(fake, cfg, None).unwrap();
        ob.queue_message("C", "slow").unwrap();
        ob.queue_message("C", "next").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let unsent = ob.shutdown(Instant::now());
        assert_eq!(unsent.len(), 2);
        assert!(unsent[0].in_flight && !unsent[1].in_flight);
    }

    #[test]
    fn the_failed_list_is_bounded_and_drops_are_counted() {
        let refused = Error::Slack {
            method: POST_MESSAGE.into(),
            error: "channel_not_found".into(),
            warnings: Vec::new(),
            messages: Vec::new(),
        };
        let fake = Fake::new(LimiterConfig::only_retry_after(), vec![Err(refused); 5]);
        let ob = Outbox::start_with(fake, OutboxConfig::default().max_failed(2), None).unwrap();
        for text in ["a", "b", "c", "d", "e"] {
            ob.queue_message("C", text).unwrap();
        }
        assert!(ob.flush(secs(10)).is_err());
        let s = ob.stats();
        assert_eq!((s.failed, s.failed_dropped), (5, 3));
        let kept: Vec<_> = ob
            .take_failed()
            .into_iter()
            .map(|u| u.message.message.text.unwrap_or_default())
            .collect();
        assert_eq!(kept, ["d", "e"]);
    }
}
