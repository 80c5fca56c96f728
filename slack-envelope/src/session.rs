//! One connection's session: hello deadline, envelopes and their acks, liveness, the close
//! handshake. Sans-I/O: fed with `handle_*`, drained with `poll_*`, time passed in.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ack::{DEFAULT_MAX_ACK_PAYLOAD, ack_frame, payload_to_json};
use crate::frame::{Disconnect, Envelope, Frame, Hello};
use crate::hash::FastMap;
use crate::{Error, OutFrame};

/// Timing and limits of one connection. The defaults detect a half-open link within 8 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// How long to wait for `hello` after the socket opens.
    pub(crate) hello_timeout: Duration,
    /// Send a ping when nothing was received for this long.
    pub(crate) ping_after_quiet: Duration,
    /// Suspect the link is dead when nothing (no frame, ping or pong) arrived for this long.
    pub(crate) dead_after_silence: Duration,
    /// Give up on a suspect link entirely (drop it) after this much silence, even without a replacement.
    pub(crate) abort_after_silence: Duration,
    /// A busy link (its last `BUSY_FRAMES` inbound frames each came within `busy_gap` of the
    /// one before) is suspected after this much silence instead (zero: never sooner than
    /// `dead_after_silence`), and pinged after half of it.
    pub(crate) busy_dead_after: Duration,
    /// The longest gap between inbound frames of a busy link.
    pub(crate) busy_gap: Duration,
    /// How long a close handshake may take before the socket is dropped.
    pub(crate) close_timeout: Duration,
    /// Warn when an envelope is still un-acked this long after it arrived (Slack's deadline is 3 s).
    pub(crate) ack_warning_after: Duration,
    /// Largest ack payload, serialized, in bytes.
    pub(crate) max_ack_payload: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hello_timeout: Duration::from_secs(10),
            ping_after_quiet: Duration::from_secs(5),
            dead_after_silence: Duration::from_secs(8),
            abort_after_silence: Duration::from_secs(16),
            busy_dead_after: Duration::from_secs(3),
            busy_gap: Duration::from_secs(1),
            close_timeout: Duration::from_secs(2),
            ack_warning_after: Duration::from_millis(2500),
            max_ack_payload: DEFAULT_MAX_ACK_PAYLOAD,
        }
    }
}

/// Chainable setters (checked together by `validate`), and the getters other crates need.
impl SessionConfig {
    /// How long to wait for `hello` after the socket opens.
    pub fn hello_timeout(mut self, hello_timeout: Duration) -> Self {
        self.hello_timeout = hello_timeout;
        self
    }

    /// Send a ping when nothing was received for this long.
    pub fn ping_after_quiet(mut self, ping_after_quiet: Duration) -> Self {
        self.ping_after_quiet = ping_after_quiet;
        self
    }

    /// Suspect the link is dead when nothing (no frame, ping or pong) arrived for this long.
    pub fn dead_after_silence(mut self, dead_after_silence: Duration) -> Self {
        self.dead_after_silence = dead_after_silence;
        self
    }

    /// Give up on a suspect link entirely (drop it) after this much silence, even without a replacement.
    pub fn abort_after_silence(mut self, abort_after_silence: Duration) -> Self {
        self.abort_after_silence = abort_after_silence;
        self
    }

    /// A busy link (its last 8 inbound frames each came within `busy_gap` of the one before)
    /// is suspected after this much silence instead of `dead_after_silence` (3 s by default;
    /// zero: never sooner than `dead_after_silence`), and pinged after half of it. Its traffic
    /// shows what its normal gaps are: a silence three times the longest of them is
    /// suspicious, and a healthy link answers the ping long before.
    pub fn busy_dead_after(mut self, busy_dead_after: Duration) -> Self {
        self.busy_dead_after = busy_dead_after;
        self
    }

    /// The longest gap between inbound frames of a busy link (1 s by default).
    pub fn busy_gap(mut self, busy_gap: Duration) -> Self {
        self.busy_gap = busy_gap;
        self
    }

    /// How long a close handshake may take before the socket is dropped.
    pub fn close_timeout(mut self, close_timeout: Duration) -> Self {
        self.close_timeout = close_timeout;
        self
    }

    /// Warn when an envelope is still un-acked this long after it arrived (Slack's deadline is 3 s).
    pub fn ack_warning_after(mut self, ack_warning_after: Duration) -> Self {
        self.ack_warning_after = ack_warning_after;
        self
    }

    /// Largest ack payload, serialized, in bytes.
    pub fn max_ack_payload(mut self, max_ack_payload: usize) -> Self {
        self.max_ack_payload = max_ack_payload;
        self
    }

    /// The value set with [`SessionConfig::close_timeout`].
    pub fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// The value set with [`SessionConfig::ack_warning_after`].
    pub fn get_ack_warning_after(&self) -> Duration {
        self.ack_warning_after
    }

    /// The value set with [`SessionConfig::max_ack_payload`].
    pub fn get_max_ack_payload(&self) -> usize {
        self.max_ack_payload
    }
}

impl SessionConfig {
    /// Checks that the timings make sense together.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |detail: &str| {
            Err(Error::InvalidConfig {
                detail: detail.to_owned(),
            })
        };
        if self.ping_after_quiet.is_zero() || self.dead_after_silence.is_zero() {
            return bad("liveness intervals must be greater than zero");
        }
        if self.ping_after_quiet >= self.dead_after_silence {
            return bad("ping_after_quiet must be shorter than dead_after_silence");
        }
        if !self.busy_dead_after.is_zero() && self.busy_gap >= self.busy_dead_after {
            return bad("busy_gap must be shorter than busy_dead_after");
        }
        if self.abort_after_silence < self.dead_after_silence {
            return bad("abort_after_silence must not be shorter than dead_after_silence");
        }
        if self.hello_timeout.is_zero() || self.close_timeout.is_zero() {
            return bad("hello_timeout and close_timeout must be greater than zero");
        }
        Ok(())
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionState {
    /// The socket is open; `hello` has not come yet.
    AwaitingHello,
    /// `hello` came: envelopes flow.
    Open,
    /// A close frame was sent; waiting for the peer's (bounded by `close_timeout`).
    Closing,
    /// Over. Nothing more is sent.
    Closed,
}

/// Who or what ended a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The transport reported the socket closed (peer close frame, or the network).
    Closed {
        /// The close code, if there was one.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The close handshake did not finish in time: drop the socket now.
    CloseTimedOut,
}

/// What a session reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// `hello` arrived: the connection is ready.
    Ready(Hello),
    /// An envelope arrived; ack it with [`Session::ack`].
    Envelope(Envelope),
    /// Slack sent `disconnect`.
    Disconnect(Disconnect),
    /// A frame of an unknown type without an envelope id (kept, logged, not an error).
    Unknown {
        /// Its `type`.
        frame_type: Option<String>,
    },
    /// A frame that could not be read (invalid JSON, missing fields, binary). The connection goes on.
    InvalidFrame(Error),
    /// No `hello` within `hello_timeout`; the session has started closing itself.
    HelloTimeout,
    /// Nothing arrived for `dead_after_silence`: the link is suspected dead. The session does
    /// not close itself: replace it first, then close it.
    Unresponsive {
        /// How long it has been silent.
        silence: Duration,
    },
    /// A suspected link spoke again.
    Responsive,
    /// An envelope is close to Slack's 3 s deadline and still un-acked.
    AckOverdue {
        /// The envelope.
        envelope_id: String,
        /// How long ago it arrived.
        age: Duration,
    },
    /// A pong answered our ping.
    Rtt(Duration),
    /// The session is over (`Closed` state).
    Ended(SessionEnd),
}

#[derive(Debug, Clone)]
struct Pending {
    received: Instant,
    accepts_payload: bool,
    acked: bool,
}

/// How many inbound frames in a row, each within `busy_gap` of the one before, make a link busy.
pub(crate) const BUSY_FRAMES: u32 = 8;

/// How many acked envelope ids are remembered to tell "acked twice" from "never seen".
const RECENTLY_ACKED: usize = 1024;

/// How long an envelope that was never acked is remembered (a late ack is still sent).
const UNACKED_MEMORY: Duration = Duration::from_secs(60);

/// One Socket Mode connection, without I/O.
///
/// Feed it what the socket says (`handle_text`, `handle_ping`, `handle_pong`, `handle_closed`)
/// and the time (`handle_timeout` at [`Session::poll_timeout`]); send what
/// [`Session::poll_transmit`] returns; act on [`Session::poll_event`].
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    state: SessionState,
    opened_at: Instant,
    hello_deadline: Instant,
    ready_at: Option<Instant>,
    last_rx: Instant,
    /// When the last envelope arrived.
    last_envelope: Option<Instant>,
    ping_seq: u64,
    ping_outstanding: Option<(u64, Instant)>,
    last_rtt: Option<Duration>,
    suspected: bool,
    /// Inbound frames in a row, each within `busy_gap` of the one before.
    busy_run: u32,
    close_deadline: Option<Instant>,
    /// Envelope ids are shared with the envelope itself (no copies).
    pending: FastMap<Arc<str>, Pending>,
    warn_queue: VecDeque<(Instant, Arc<str>)>,
    expire_queue: VecDeque<(Instant, Arc<str>)>,
    recently_acked: VecDeque<Arc<str>>,
    transmits: VecDeque<OutFrame>,
    events: VecDeque<SessionEvent>,
}

impl Session {
    /// A session for a socket that has just opened at `now`.
    pub fn new(now: Instant, cfg: SessionConfig) -> Self {
        let hello_deadline = now + cfg.hello_timeout;
        Session {
            cfg,
            state: SessionState::AwaitingHello,
            opened_at: now,
            hello_deadline,
            ready_at: None,
            last_rx: now,
            last_envelope: None,
            ping_seq: 0,
            ping_outstanding: None,
            last_rtt: None,
            suspected: false,
            busy_run: 0,
            close_deadline: None,
            pending: FastMap::default(),
            warn_queue: VecDeque::new(),
            expire_queue: VecDeque::new(),
            recently_acked: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// When the socket opened.
    pub fn opened_at(&self) -> Instant {
        self.opened_at
    }

    /// When `hello` arrived.
    pub fn ready_at(&self) -> Option<Instant> {
        self.ready_at
    }

    /// When the last frame (of any kind) arrived.
    pub fn last_received(&self) -> Instant {
        self.last_rx
    }

    /// The last ping round trip.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.last_rtt
    }

    /// When the last envelope arrived, if any did.
    pub fn last_envelope(&self) -> Option<Instant> {
        self.last_envelope
    }

    /// Forgets an envelope that will not be acked here (the application declined it, so Slack
    /// redelivers it): it no longer counts as awaiting an ack, and no deadline fires for it.
    pub fn forget(&mut self, envelope_id: &str) {
        if self.pending.get(envelope_id).is_some_and(|p| !p.acked) {
            self.pending.remove(envelope_id);
        }
    }

    /// How long a silence makes this link suspect: shorter for a busy link (see
    /// [`SessionConfig::busy_dead_after`]).
    pub fn dead_after(&self) -> Duration {
        if self.is_busy() {
            self.cfg.busy_dead_after.min(self.cfg.dead_after_silence)
        } else {
            self.cfg.dead_after_silence
        }
    }

    fn is_busy(&self) -> bool {
        self.busy_run >= BUSY_FRAMES && !self.cfg.busy_dead_after.is_zero()
    }

    /// After how long a silence this link is pinged.
    fn ping_after(&self) -> Duration {
        if self.is_busy() {
            self.cfg.ping_after_quiet.min(self.dead_after() / 2)
        } else {
            self.cfg.ping_after_quiet
        }
    }

    /// Whether the link is currently suspected dead.
    pub fn is_suspected(&self) -> bool {
        self.suspected
    }

    /// Number of envelopes waiting for an ack.
    pub fn unacked(&self) -> usize {
        self.pending.values().filter(|p| !p.acked).count()
    }

    /// Whether this session holds `envelope_id` (acked or not, recently).
    pub fn knows(&self, envelope_id: &str) -> bool {
        self.pending.contains_key(envelope_id)
            || self.recently_acked.iter().any(|id| **id == *envelope_id)
    }

    /// A text frame arrived.
    pub fn handle_text(&mut self, now: Instant, text: String) {
        self.handle_frame(now, Frame::parse(text));
    }

    /// A text frame arrived and was already parsed with [`Frame::parse`] (on another thread,
    /// say); the same as [`Session::handle_text`] with the frame's text.
    pub fn handle_frame(&mut self, now: Instant, parsed: Result<Frame, Error>) {
        self.alive(now);
        match parsed {
            Ok(Frame::Hello(hello)) => {
                if self.state == SessionState::AwaitingHello {
                    self.state = SessionState::Open;
                    self.ready_at = Some(now);
                }
                self.events.push_back(SessionEvent::Ready(hello));
            }
            Ok(Frame::Disconnect(d)) => self.events.push_back(SessionEvent::Disconnect(d)),
            Ok(Frame::Envelope(env)) => {
                self.last_envelope = Some(now);
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    self.pending.entry(Arc::clone(env.envelope_id_shared()))
                {
                    self.warn_queue.push_back((
                        now + self.cfg.ack_warning_after,
                        Arc::clone(env.envelope_id_shared()),
                    ));
                    slot.insert(Pending {
                        received: now,
                        accepts_payload: env.accepts_response_payload(),
                        acked: false,
                    });
                }
                self.events.push_back(SessionEvent::Envelope(env));
            }
            Ok(Frame::Unknown { frame_type, .. }) => {
                self.events.push_back(SessionEvent::Unknown { frame_type })
            }
            Err(e) => self.events.push_back(SessionEvent::InvalidFrame(e)),
        }
    }

    /// A binary frame arrived (Slack sends none; it counts as life and is reported as invalid).
    pub fn handle_binary(&mut self, now: Instant, len: usize) {
        self.alive(now);
        self.events
            .push_back(SessionEvent::InvalidFrame(Error::InvalidJson {
                detail: format!("unexpected binary frame of {len} bytes"),
            }));
    }

    /// The peer pinged us (the transport answers with a pong).
    pub fn handle_ping(&mut self, now: Instant) {
        self.alive(now);
    }

    /// A pong arrived.
    pub fn handle_pong(&mut self, now: Instant, payload: &[u8]) {
        self.alive(now);
        if let Some((seq, sent)) = self.ping_outstanding {
            if payload == seq.to_be_bytes() {
                let rtt = now.saturating_duration_since(sent);
                self.last_rtt = Some(rtt);
                self.ping_outstanding = None;
                self.events.push_back(SessionEvent::Rtt(rtt));
            }
        }
    }

    /// The transport reports the socket closed (close frame from the peer, or the network).
    pub fn handle_closed(&mut self, _now: Instant, code: Option<u16>, reason: &str) {
        if self.state == SessionState::Closed {
            return;
        }
        self.end(SessionEnd::Closed {
            code,
            reason: crate::text::clipped(reason),
        });
    }

    fn end(&mut self, how: SessionEnd) {
        self.state = SessionState::Closed;
        self.close_deadline = None;
        self.ping_outstanding = None;
        self.pending.clear();
        self.warn_queue.clear();
        self.expire_queue.clear();
        self.transmits.clear();
        self.events.push_back(SessionEvent::Ended(how));
    }

    fn alive(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_rx) <= self.cfg.busy_gap {
            self.busy_run = self.busy_run.saturating_add(1);
        } else {
            self.busy_run = 0;
        }
        if now > self.last_rx {
            self.last_rx = now;
        }
        if self.suspected {
            self.suspected = false;
            self.events.push_back(SessionEvent::Responsive);
        }
    }

    /// Starts the close handshake (no-op when already closing or closed).
    pub fn close(&mut self, now: Instant, code: u16, reason: &str) {
        if matches!(self.state, SessionState::Closing | SessionState::Closed) {
            return;
        }
        self.state = SessionState::Closing;
        self.close_deadline = Some(now + self.cfg.close_timeout);
        self.transmits.push_back(OutFrame::Close {
            code,
            reason: reason.to_owned(),
        });
    }

    /// Acks `envelope_id` without a payload.
    pub fn ack(&mut self, now: Instant, envelope_id: &str) -> Result<(), Error> {
        self.ack_json(now, envelope_id, None)
    }

    /// Acks `envelope_id` with a payload (only when the envelope accepts one).
    pub fn ack_with_payload<T: serde::Serialize + ?Sized>(
        &mut self,
        now: Instant,
        envelope_id: &str,
        payload: &T,
    ) -> Result<(), Error> {
        let json = payload_to_json(envelope_id, payload, self.cfg.max_ack_payload)?;
        self.ack_json(now, envelope_id, Some(&json))
    }

    /// Acks with an already serialized payload (checked for size, inserted as is).
    pub fn ack_json(
        &mut self,
        _now: Instant,
        envelope_id: &str,
        payload_json: Option<&str>,
    ) -> Result<(), Error> {
        // Acks usually come in the order the envelopes arrived: this one is then the oldest
        // awaiting its ack, at the front of the deadline queue, and acking it retires it at
        // once. One lookup that takes it out does what checking it, marking it acked and
        // retiring it from the front would do with three.
        if self
            .warn_queue
            .front()
            .is_some_and(|(_, id)| **id == *envelope_id)
        {
            if let Some((id, p)) = self.pending.remove_entry(envelope_id) {
                if let Err(e) =
                    Self::check_pending(&self.cfg, self.state, &p, envelope_id, payload_json)
                {
                    // Put back as it was (nothing else changed).
                    self.pending.insert(id, p);
                    return Err(e);
                }
                self.transmits
                    .push_back(OutFrame::Text(ack_frame(envelope_id, payload_json)));
                if let Some((_, front)) = self.warn_queue.pop_front() {
                    self.push_recently_acked(front);
                }
                self.retire_acked_front();
                return Ok(());
            }
        }
        let Some(p) = self.pending.get_mut(envelope_id) else {
            if self.recently_acked.iter().any(|id| **id == *envelope_id) {
                return Err(Error::AlreadyAcked {
                    envelope_id: crate::text::clipped(envelope_id),
                });
            }
            return Err(Error::UnknownEnvelope {
                envelope_id: crate::text::clipped(envelope_id),
            });
        };
        Self::check_pending(&self.cfg, self.state, p, envelope_id, payload_json)?;
        p.acked = true;
        self.transmits
            .push_back(OutFrame::Text(ack_frame(envelope_id, payload_json)));
        self.retire_acked_front();
        Ok(())
    }

    /// Whether the pending envelope `p` may be acked now (with that payload).
    fn check_pending(
        cfg: &SessionConfig,
        state: SessionState,
        p: &Pending,
        envelope_id: &str,
        payload_json: Option<&str>,
    ) -> Result<(), Error> {
        if p.acked {
            return Err(Error::AlreadyAcked {
                envelope_id: crate::text::clipped(envelope_id),
            });
        }
        if let Some(json) = payload_json {
            if !p.accepts_payload {
                return Err(Error::PayloadNotAccepted {
                    envelope_id: crate::text::clipped(envelope_id),
                });
            }
            if json.len() > cfg.max_ack_payload {
                return Err(Error::PayloadTooLarge {
                    envelope_id: crate::text::clipped(envelope_id),
                    size: json.len(),
                    limit: cfg.max_ack_payload,
                });
            }
        }
        if state != SessionState::Open && state != SessionState::AwaitingHello {
            return Err(Error::SessionClosing);
        }
        Ok(())
    }

    /// Moves acked envelopes at the front of the deadline queue out of the way, so the next
    /// deadline is always an un-acked one (no wake-ups for envelopes already acked).
    fn retire_acked_front(&mut self) {
        while let Some((_, id)) = self.warn_queue.front() {
            // One lookup to stop at an un-acked entry (the usual case), no key clone; an acked
            // one (acked out of order) is removed.
            match self.pending.get(&**id) {
                Some(p) if !p.acked => break,
                Some(_) => {
                    self.pending.remove(&**id);
                }
                None => {}
            }
            if let Some((_, id)) = self.warn_queue.pop_front() {
                self.push_recently_acked(id);
            }
        }
    }

    fn remember_acked(&mut self, id: Arc<str>) {
        self.pending.remove(&id);
        self.push_recently_acked(id);
    }

    fn push_recently_acked(&mut self, id: Arc<str>) {
        if self.recently_acked.len() >= RECENTLY_ACKED {
            self.recently_acked.pop_front();
        }
        self.recently_acked.push_back(id);
    }

    /// Time passed: fire whatever deadline is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            SessionState::Closed => {}
            SessionState::Closing => {
                if self.close_deadline.is_some_and(|d| now >= d) {
                    self.end(SessionEnd::CloseTimedOut);
                }
            }
            SessionState::AwaitingHello => {
                if now >= self.hello_deadline {
                    self.events.push_back(SessionEvent::HelloTimeout);
                    self.close(now, 1002, "no hello");
                }
            }
            SessionState::Open => {
                let silence = now.saturating_duration_since(self.last_rx);
                if silence >= self.dead_after() && !self.suspected {
                    self.suspected = true;
                    self.events
                        .push_back(SessionEvent::Unresponsive { silence });
                }
                if silence >= self.ping_after()
                    && self.ping_outstanding.is_none()
                    && !self.suspected
                {
                    self.ping_seq += 1;
                    self.ping_outstanding = Some((self.ping_seq, now));
                    self.transmits
                        .push_back(OutFrame::Ping(self.ping_seq.to_be_bytes().to_vec()));
                }
            }
        }
        if self.state == SessionState::Open || self.state == SessionState::AwaitingHello {
            while let Some((deadline, _)) = self.warn_queue.front() {
                if *deadline > now {
                    break;
                }
                let Some((_, id)) = self.warn_queue.pop_front() else {
                    break;
                };
                match self.pending.get(&id) {
                    Some(p) if !p.acked => {
                        let age = now.saturating_duration_since(p.received);
                        // Keep it pending (it may still be acked late), stop warning about it,
                        // and forget it after a while so envelopes never acked cannot pile up.
                        self.expire_queue
                            .push_back((p.received + UNACKED_MEMORY, id.clone()));
                        self.events.push_back(SessionEvent::AckOverdue {
                            envelope_id: id.to_string(),
                            age,
                        });
                    }
                    _ => self.remember_acked(id),
                }
            }
            while let Some((deadline, _)) = self.expire_queue.front() {
                if *deadline > now {
                    break;
                }
                if let Some((_, id)) = self.expire_queue.pop_front() {
                    match self.pending.get(&id) {
                        Some(p) if !p.acked => {
                            self.pending.remove(&id);
                        }
                        _ => self.remember_acked(id),
                    }
                }
            }
        }
    }

    /// Whether a suspect link has been silent so long it should be dropped without waiting
    /// for a replacement.
    pub fn should_abort(&self, now: Instant) -> bool {
        self.suspected
            && now.saturating_duration_since(self.last_rx) >= self.cfg.abort_after_silence
    }

    /// The next instant at which [`Session::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        match self.state {
            SessionState::Closed => return None,
            SessionState::Closing => {
                if let Some(d) = self.close_deadline {
                    consider(d);
                }
                return next;
            }
            SessionState::AwaitingHello => consider(self.hello_deadline),
            SessionState::Open => {
                if self.suspected {
                    consider(self.last_rx + self.cfg.abort_after_silence);
                } else {
                    consider(self.last_rx + self.dead_after());
                    if self.ping_outstanding.is_none() {
                        consider(self.last_rx + self.ping_after());
                    }
                }
            }
        }
        if let Some((d, _)) = self.warn_queue.front() {
            consider(*d);
        }
        if let Some((d, _)) = self.expire_queue.front() {
            consider(*d);
        }
        next
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<OutFrame> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(id: &str, accepts: bool) -> String {
        format!(
            r#"{{"envelope_id":"{id}","type":"events_api","accepts_response_payload":{accepts},"payload":{{"event_id":"Ev-{id}"}}}}"#
        )
    }

    fn open_session(t0: Instant) -> Session {
        let mut s = Session::new(t0, SessionConfig::default());
        s.handle_text(t0, r#"{"type":"hello"}"#.to_owned());
        while s.poll_event().is_some() {}
        s
    }

    /// The deadline queue's invariants: its front is never an acked envelope, and every
    /// envelope still held has a deadline queued.
    fn check_consistent(s: &Session) {
        if let Some((_, id)) = s.warn_queue.front() {
            assert!(
                s.pending.get(id).is_some_and(|p| !p.acked),
                "front {id} is acked or gone"
            );
        }
        for id in s.pending.keys() {
            // Acked ones too: retired when their deadline reaches the front.
            let queued = s.warn_queue.iter().any(|(_, q)| q == id)
                || s.expire_queue.iter().any(|(_, q)| q == id);
            assert!(queued, "{id} pending without a deadline");
        }
    }

    fn acks(s: &mut Session) -> Vec<OutFrame> {
        std::iter::from_fn(|| s.poll_transmit()).collect()
    }

    fn ack_order(order: &[usize], n: usize) {
        let t0 = Instant::now();
        let mut s = open_session(t0);
        let ids: Vec<String> = (0..n).map(|i| format!("e-{i}")).collect();
        for id in &ids {
            s.handle_text(t0, envelope(id, false));
            check_consistent(&s);
        }
        assert_eq!(s.unacked(), n);
        for (k, &i) in order.iter().enumerate() {
            let id = ids.get(i).map(String::as_str).unwrap_or_default();
            assert_eq!(s.ack(t0, id), Ok(()), "{order:?}");
            assert_eq!(
                acks(&mut s),
                vec![OutFrame::Text(format!(r#"{{"envelope_id":"{id}"}}"#))]
            );
            assert!(
                matches!(s.ack(t0, id), Err(Error::AlreadyAcked { .. })),
                "{order:?}"
            );
            assert!(s.knows(id));
            assert_eq!(s.unacked(), n - k - 1);
            check_consistent(&s);
        }
        // Everything acked: nothing left to wait for, no deadline but liveness.
        assert!(s.warn_queue.is_empty() && s.pending.is_empty(), "{order:?}");
        assert_eq!(s.poll_timeout(), Some(t0 + s.cfg.ping_after_quiet));
        s.handle_timeout(t0 + Duration::from_secs(4));
        while let Some(e) = s.poll_event() {
            assert!(!matches!(e, SessionEvent::AckOverdue { .. }), "{e:?}");
        }
    }

    #[test]
    fn acks_in_and_out_of_order_leave_the_deadline_queue_consistent() {
        ack_order(&[0, 1, 2, 3, 4], 5);
        ack_order(&[4, 3, 2, 1, 0], 5);
        ack_order(&[1, 0, 3, 2, 4], 5);
        ack_order(&[2, 4, 0, 1, 3], 5);
        ack_order(&[0], 1);
        // Every order of four.
        let mut order = [0usize, 1, 2, 3];
        let mut count = 0;
        loop {
            ack_order(&order, 4);
            count += 1;
            // Next permutation.
            let Some(i) = (0..3).rev().find(|&i| order.get(i) < order.get(i + 1)) else {
                break;
            };
            let Some(j) = (i + 1..4).rev().find(|&j| order.get(i) < order.get(j)) else {
                break;
            };
            order.swap(i, j);
            if let Some(tail) = order.get_mut(i + 1..) {
                tail.reverse();
            }
        }
        assert_eq!(count, 24);
    }

    #[test]
    fn un_acked_envelopes_still_warn_after_others_are_acked() {
        let t0 = Instant::now();
        let mut s = open_session(t0);
        for id in ["a", "b", "c", "d"] {
            s.handle_text(t0, envelope(id, false));
        }
        // In order at the front, then one behind a gap.
        assert_eq!(s.ack(t0, "a"), Ok(()));
        assert_eq!(s.ack(t0, "c"), Ok(()));
        check_consistent(&s);
        assert_eq!(s.unacked(), 2);
        let warn_at = t0 + s.cfg.ack_warning_after;
        assert_eq!(s.poll_timeout(), Some(warn_at));
        s.handle_timeout(warn_at);
        let overdue: Vec<String> = std::iter::from_fn(|| s.poll_event())
            .filter_map(|e| match e {
                SessionEvent::AckOverdue { envelope_id, .. } => Some(envelope_id),
                _ => None,
            })
            .collect();
        assert_eq!(overdue, ["b", "d"]);
        check_consistent(&s);
        // Late acks still go out, once.
        assert_eq!(s.ack(warn_at, "d"), Ok(()));
        assert_eq!(s.ack(warn_at, "b"), Ok(()));
        assert!(matches!(
            s.ack(warn_at, "b"),
            Err(Error::AlreadyAcked { .. })
        ));
        assert!(matches!(
            s.ack(warn_at, "c"),
            Err(Error::AlreadyAcked { .. })
        ));
        assert!(matches!(
            s.ack(warn_at, "zz"),
            Err(Error::UnknownEnvelope { .. })
        ));
        assert_eq!(s.unacked(), 0);
        check_consistent(&s);
    }

    #[test]
    fn a_refused_ack_at_the_front_leaves_the_envelope_pending() {
        let t0 = Instant::now();
        let mut s = open_session(t0);
        s.handle_text(t0, envelope("a", false));
        s.handle_text(t0, envelope("b", true));
        // "a" is at the front and takes no payload: refused, and nothing changes.
        assert!(matches!(
            s.ack_json(t0, "a", Some("{}")),
            Err(Error::PayloadNotAccepted { .. })
        ));
        assert_eq!(s.unacked(), 2);
        assert!(acks(&mut s).is_empty());
        check_consistent(&s);
        assert_eq!(s.poll_timeout(), Some(t0 + s.cfg.ack_warning_after));
        // Then acked properly; "b" is at the front and takes its payload.
        assert_eq!(s.ack(t0, "a"), Ok(()));
        let big = format!(r#"{{"x":"{}"}}"#, "y".repeat(s.cfg.max_ack_payload));
        assert!(matches!(
            s.ack_json(t0, "b", Some(&big)),
            Err(Error::PayloadTooLarge { .. })
        ));
        assert_eq!(s.unacked(), 1);
        check_consistent(&s);
        assert_eq!(s.ack_json(t0, "b", Some(r#"{"text":"ok"}"#)), Ok(()));
        assert_eq!(
            acks(&mut s),
            vec![
                OutFrame::Text(r#"{"envelope_id":"a"}"#.to_owned()),
                OutFrame::Text(r#"{"envelope_id":"b","payload":{"text":"ok"}}"#.to_owned()),
            ]
        );
        assert_eq!(s.unacked(), 0);
        check_consistent(&s);
        // Closing: an ack at the front is refused and the envelope stays as it was.
        s.handle_text(t0, envelope("c", false));
        s.close(t0, 1000, "bye");
        assert_eq!(s.ack(t0, "c"), Err(Error::SessionClosing));
        assert_eq!(s.unacked(), 1);
        check_consistent(&s);
    }

    #[test]
    fn a_redelivered_envelope_id_is_acked_once() {
        let t0 = Instant::now();
        let mut s = open_session(t0);
        s.handle_text(t0, envelope("a", false));
        s.forget("a");
        s.handle_text(t0 + Duration::from_millis(1), envelope("a", false));
        // The stale deadline of the first delivery is at the front.
        assert_eq!(s.warn_queue.len(), 2);
        assert_eq!(s.ack(t0, "a"), Ok(()));
        assert_eq!(acks(&mut s).len(), 1);
        assert!(matches!(s.ack(t0, "a"), Err(Error::AlreadyAcked { .. })));
        assert_eq!(s.unacked(), 0);
        s.handle_timeout(t0 + Duration::from_secs(3));
        while let Some(e) = s.poll_event() {
            assert!(!matches!(e, SessionEvent::AckOverdue { .. }), "{e:?}");
        }
        assert!(s.warn_queue.is_empty() && s.pending.is_empty());
    }
}
