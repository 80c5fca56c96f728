//! The connection's threads and the types that cross the channels.
//!
//! # Why two threads and a `mio::Poll`
//!
//! A plain blocking socket cannot be woken while a thread sits in `read()`: a frame queued by
//! the caller (an ack that must leave within Slack's 3 s) would wait until the next incoming
//! frame, or we would need a polling tick. So the socket is non-blocking, and its state (the
//! tungstenite `WebSocket`, TLS included) sits behind a mutex that no thread holds while it
//! sleeps:
//!
//! * `slack-ws-io` sleeps in `mio::Poll` until the socket is readable or writable, or until
//!   the `mio::Waker` is poked; then it reads frames into the `Incoming` channel, writes
//!   whatever is still buffered (pongs, close replies, frames that met a full socket) and
//!   runs the close deadline. It takes the lock for one message at a time and hands the
//!   message to the channel after letting go of it, so a writer on another thread waits for
//!   at most one `read`, never for a batch or for a wake-up of the caller.
//! * `slack-ws-write` blocks on the caller's `Outgoing` receiver (crossbeam channels cannot
//!   be registered with mio) and writes each batch of frames straight to the socket, so an
//!   ack costs one thread wake-up, not two. If the socket is full the rest stays buffered
//!   and `slack-ws-io` finishes it when the socket turns writable; it pokes the waker only
//!   when `slack-ws-io` must change what it waits for (a close deadline, the end).
//!
//! An idle connection therefore wakes no thread at all, and an outgoing frame is written as
//! soon as it is sent.
//!
//! A caller that answers on a thread of its own can skip the `slack-ws-write` wake-up
//! altogether with a [`DirectWriter`] ([`IoThreads::writer`]): it writes on the caller's
//! thread, under the same lock. Frames are only ever taken from the `Outgoing` queue under
//! that lock (`slack-ws-write` waits for them with `Select::ready`, without taking them), and
//! a direct write first writes whatever is still queued, so frames leave in the order they
//! were sent, whichever way they were sent.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};
use mio::{Events, Interest, Poll, Token, Waker};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use crate::Error;
use crate::error::{from_rustls, rustls_inner};
use crate::stream::{Stream, Tcp};

/// A frame (or close request) for the I/O thread to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text frame (an ack, for Socket Mode).
    Text(String),
    /// A ping frame with this payload (at most 125 bytes; longer payloads are cut).
    Ping(Vec<u8>),
    /// Starts the close handshake with this code (normally 1000) and reason (at most 123
    /// bytes; longer reasons are cut). Frames already sent go out first. Frames sent after
    /// it are dropped.
    Close {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// Who ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClosedBy {
    /// The peer sent a close frame (and we answered it).
    Peer,
    /// We closed: an [`Outgoing::Close`], the [`Connection`] dropped, or a fatal error in
    /// the peer's data (see the preceding [`Incoming::Error`]).
    Local,
    /// The network failed: reset, end of stream without a close frame, I/O error.
    Network,
}

/// Something that happened on the connection, in order.
///
/// `T` is what a text frame becomes: the frame itself (`String`, from [`crate::connect`]) or
/// what the caller's decoder made of it on `slack-ws-io` ([`crate::connect_decoded`]).
#[derive(Debug)]
pub enum Incoming<T = String> {
    /// A text frame, as received (or as decoded).
    Text(T),
    /// A binary frame, as received.
    Binary(Vec<u8>),
    /// The peer pinged us (already answered with a pong).
    Ping {
        /// When the ping was read.
        at: Instant,
    },
    /// The peer answered a ping.
    Pong {
        /// When the pong was read.
        at: Instant,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// The connection is over. Sent exactly once, last; then the channel disconnects.
    Closed {
        /// The code from the peer's close frame, if one was received.
        code: Option<u16>,
        /// The reason from the peer's close frame, or a description of what happened.
        reason: String,
        /// Who ended it.
        by: ClosedBy,
    },
    /// A problem that ends the connection (an oversized message, a protocol violation by the
    /// peer). A [`Incoming::Closed`] follows.
    Error(Error),
}

impl<T> Incoming<T> {
    /// The same event with a text frame's content turned into `U` by `f` (every other event
    /// is kept as it is).
    pub fn map_text<U>(self, f: impl FnOnce(T) -> U) -> Incoming<U> {
        match self {
            Incoming::Text(text) => Incoming::Text(f(text)),
            Incoming::Binary(data) => Incoming::Binary(data),
            Incoming::Ping { at } => Incoming::Ping { at },
            Incoming::Pong { at, payload } => Incoming::Pong { at, payload },
            Incoming::Closed { code, reason, by } => Incoming::Closed { code, reason, by },
            Incoming::Error(e) => Incoming::Error(e),
        }
    }
}

/// Where `slack-ws-io` puts what it read: the caller's channel, with text frames decoded on
/// the way (outside the connection's lock). Type-erased so that the connection's state does
/// not depend on what the caller decodes to.
pub(crate) trait Sink: Send + Sync {
    /// Hands `event` over; `false` when the receiver is gone.
    fn deliver(&self, event: Incoming) -> bool;
}

/// A [`Sink`] that decodes text frames with `decode` and sends the result on `tx`.
pub(crate) struct Decoding<T, F> {
    pub(crate) tx: Sender<Incoming<T>>,
    pub(crate) decode: F,
}

impl<T: Send, F: Fn(String) -> T + Send + Sync> Sink for Decoding<T, F> {
    fn deliver(&self, event: Incoming) -> bool {
        // A decoder that panics must not take the thread down with the channel still open
        // (the caller would wait for a `Closed` that never comes): the connection is closed
        // instead, as if the caller had stopped listening.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            event.map_text(&self.decode)
        }));
        match decoded {
            Ok(event) => self.tx.send(event).is_ok(),
            Err(_) => {
                log::error!(
                    "the decoder given to connect_decoded panicked; closing the connection"
                );
                false
            }
        }
    }
}

/// One WebSocket connection: send frames with `sender`, receive events from `receiver`.
///
/// Both are plain crossbeam channels (unbounded), so `receiver` can be used in a
/// `crossbeam_channel::Select` with other connections and timers. Dropping the whole
/// `Connection` (every clone of `sender`) closes the WebSocket with code 1000 and ends the
/// threads.
#[derive(Debug)]
pub struct Connection<T = String> {
    /// Frames to write. Sending never blocks.
    pub sender: Sender<Outgoing>,
    /// Events from the connection, ending with exactly one [`Incoming::Closed`].
    pub receiver: Receiver<Incoming<T>>,
}

/// The connection's two named threads (`slack-ws-io` and `slack-ws-write`).
///
/// Dropping this detaches them; they still end when the connection ends.
#[derive(Debug)]
pub struct IoThreads {
    io: JoinHandle<Result<(), Error>>,
    write: JoinHandle<()>,
    shared: Weak<Shared>,
}

impl IoThreads {
    /// A handle that writes frames on the calling thread (see [`DirectWriter`]).
    pub fn writer(&self) -> DirectWriter {
        DirectWriter {
            shared: Weak::clone(&self.shared),
        }
    }

    /// Waits for both threads to end. Returns the network error that ended the connection
    /// (`Ok` after a close handshake, a close timeout, or a fatal error already reported as
    /// [`Incoming::Error`]), or [`Error::ThreadPanicked`].
    pub fn join(self) -> Result<(), Error> {
        let io = match self.io.join() {
            Ok(result) => result,
            Err(_) => Err(Error::ThreadPanicked {
                thread: IO_THREAD.to_owned(),
            }),
        };
        let write = self.write.join().map_err(|_| Error::ThreadPanicked {
            thread: WRITE_THREAD.to_owned(),
        });
        io.and(write)
    }
}

/// Writes frames on the calling thread instead of handing them to `slack-ws-write`: one
/// thread wake-up less per frame (an ack leaves as soon as it is made). Frames still queued on
/// [`Connection::sender`] go out first, so order is kept across both ways of sending. The
/// write never blocks on the network (the socket is non-blocking; what does not fit is sent
/// by `slack-ws-io` when the socket drains), only, briefly, on the connection's lock.
#[derive(Clone)]
pub struct DirectWriter {
    shared: Weak<Shared>,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter").finish_non_exhaustive()
    }
}

impl DirectWriter {
    /// Writes `frame` now, as [`Connection::sender`] would have. Gives the frame back when
    /// the connection is over.
    pub fn send(&self, frame: Outgoing) -> Result<(), Outgoing> {
        let mut frame = Some(frame);
        let written = self.write_with(|inner| {
            if let Some(f) = frame.take() {
                inner.outgoing(f);
            }
        });
        match frame {
            Some(f) if !written => Err(f),
            _ => Ok(()),
        }
    }

    /// Writes `frames` now, in order, with one flush. Gives them back when the connection
    /// is over.
    pub fn send_all(&self, frames: Vec<Outgoing>) -> Result<(), Vec<Outgoing>> {
        let mut frames = Some(frames);
        let written = self.write_with(|inner| {
            for f in frames.take().into_iter().flatten() {
                inner.outgoing(f);
            }
        });
        match frames {
            Some(f) if !written => Err(f),
            _ => Ok(()),
        }
    }

    /// Under the lock: the frames still queued, then `write`'s, then one flush. False (and
    /// `write` not called) when the connection is over.
    fn write_with(&self, write: impl FnOnce(&mut Inner)) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let mut inner = shared.lock();
        if inner.done {
            return false;
        }
        let was_open = matches!(inner.phase, Phase::Open);
        inner.take_outgoing(&shared.out);
        write(&mut inner);
        inner.flush_from_writer();
        // slack-ws-io must learn of a new close deadline or of the end.
        let wake = inner.ended.is_some() || (was_open && !matches!(inner.phase, Phase::Open));
        drop(inner);
        if wake {
            shared.wake();
        }
        true
    }
}

const IO_THREAD: &str = "slack-ws-io";
const WRITE_THREAD: &str = "slack-ws-write";
const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);
/// Messages read before `slack-ws-io` flushes what is buffered for the wire (pongs, close
/// replies, frames that met a full socket) and checks its deadline again (fairness: a flood of
/// incoming frames must not hold those back).
const READ_BATCH: usize = 64;

/// Starts the threads for an open WebSocket whose socket is already non-blocking.
/// Returns the caller's sender of outgoing frames; what is read goes to `sink`.
pub(crate) fn spawn(
    mut ws: WebSocket<Stream>,
    close_timeout: Duration,
    label: String,
    sink: Arc<dyn Sink>,
) -> Result<(Sender<Outgoing>, IoThreads), Error> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKE)?;
    match ws.get_mut().tcp_mut() {
        Tcp::Polled(sock) => {
            poll.registry()
                .register(sock, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
        }
        _ => {
            return Err(Error::Io(io::Error::other("socket is not in polled mode")));
        }
    }
    let (out_tx, out_rx) = crossbeam_channel::unbounded::<Outgoing>();
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);

    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            ws,
            incoming: Some(sink),
            close_timeout,
            label,
            readable: true,
            writable: true,
            phase: Phase::Open,
            ended: None,
            done: false,
        }),
        waker,
        out: out_rx,
    });
    let io_shared = Arc::clone(&shared);
    let io = std::thread::Builder::new()
        .name(IO_THREAD.to_owned())
        .spawn(move || io_thread(&io_shared, poll, stop_tx))?;
    let write_shared = Arc::clone(&shared);
    let write = match std::thread::Builder::new()
        .name(WRITE_THREAD.to_owned())
        .spawn(move || write_thread(&write_shared, &stop_rx))
    {
        Ok(handle) => handle,
        Err(e) => {
            // No writer: close, so that slack-ws-io ends by itself.
            shared.lock().start_close_or_end(1001, String::new());
            shared.wake();
            return Err(Error::Io(e));
        }
    };
    Ok((
        out_tx,
        IoThreads {
            io,
            write,
            shared: Arc::downgrade(&shared),
        },
    ))
}

/// What both threads share. The waker lives here so that it outlives every wake-up (a
/// dropped `Waker` closes its eventfd and a pending wake-up would be lost).
struct Shared {
    inner: Mutex<Inner>,
    waker: Waker,
    /// The caller's frames; taken only under `inner`'s lock.
    out: Receiver<Outgoing>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in the other thread is reported by `IoThreads::join`; keep going meanwhile.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::warn!("cannot wake the websocket i/o thread: {e}");
        }
    }
}

/// The `slack-ws-io` thread. `_stop` is dropped when it ends, which ends `slack-ws-write`.
///
/// The lock is taken for one message at a time and never held while a message is handed to
/// the caller's channel (whose first send may wake the caller, a system call): a
/// [`DirectWriter`] waiting to write an ack waits for one `read`, not for a whole batch.
fn io_thread(shared: &Shared, mut poll: Poll, _stop: Sender<()>) -> Result<(), Error> {
    let mut events = Events::with_capacity(8);
    let Some(incoming) = shared.lock().incoming.clone() else {
        return Ok(());
    };
    let end = 'run: loop {
        for _ in 0..READ_BATCH {
            let read = {
                let mut inner = shared.lock();
                if let Some(end) = inner.ended.take() {
                    break 'run end;
                }
                if !inner.readable {
                    break;
                }
                match inner.read_one() {
                    Ok(Some(event)) => event,
                    Ok(None) => continue,
                    Err(end) => break 'run end,
                }
            };
            // Decoded here, outside the lock (a DirectWriter may be waiting for it).
            if !incoming.deliver(read) {
                // Nobody listens any more: close politely.
                let mut inner = shared.lock();
                log::debug!("websocket {}: receiver dropped, closing", inner.label);
                if let Some(end) = inner.start_close(1000, String::new()) {
                    break 'run end;
                }
            }
        }
        let timeout = {
            let mut inner = shared.lock();
            if let Some(end) = inner.turn() {
                break end;
            }
            if inner.readable {
                continue; // the read batch was cut short: more is waiting
            }
            inner.poll_timeout()
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break shared.lock().network_end(Error::Io(e)),
        }
        let mut inner = shared.lock();
        for event in &events {
            if event.token() == SOCKET {
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    inner.readable = true;
                }
                if event.is_writable() || event.is_write_closed() || event.is_error() {
                    inner.writable = true;
                }
            }
        }
    };
    drop(incoming);
    shared.lock().finish(end)
}

/// The `slack-ws-write` thread: writes the caller's frames, a batch at a time. Ends when the
/// caller drops every sender (after starting the close) or when `slack-ws-io` ends (the
/// `stop` channel disconnects).
fn write_thread(shared: &Shared, stop: &Receiver<()>) {
    let out = &shared.out;
    loop {
        // Wait for a frame without taking it: frames are taken under the lock only, so that a
        // `DirectWriter`, which takes them too, cannot reorder them.
        let mut sel = Select::new();
        let out_index = sel.recv(out);
        sel.recv(stop);
        if sel.ready() != out_index {
            match stop.try_recv() {
                Err(TryRecvError::Empty) => continue, // spurious
                _ => return,
            }
        }
        let mut inner = shared.lock();
        if inner.done {
            return;
        }
        let was_open = matches!(inner.phase, Phase::Open);
        let disconnected = inner.take_outgoing(out);
        // slack-ws-io must learn of a new close deadline or of the end.
        let wake = inner.ended.is_some() || (was_open && !matches!(inner.phase, Phase::Open));
        drop(inner);
        if wake {
            shared.wake();
        }
        if disconnected {
            return;
        }
    }
}

enum Phase {
    /// Frames flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's until `deadline`.
    Closing { deadline: Instant },
    /// The peer sent a close frame; we write our reply until `deadline`.
    Replying {
        deadline: Instant,
        code: Option<u16>,
        reason: String,
    },
}

/// How the connection ended: what goes into `Incoming::Closed` and what `join` returns.
struct End {
    code: Option<u16>,
    reason: String,
    by: ClosedBy,
    result: Result<(), Error>,
}

impl End {
    fn local(code: Option<u16>, reason: impl Into<String>) -> End {
        End {
            code,
            reason: reason.into(),
            by: ClosedBy::Local,
            result: Ok(()),
        }
    }
}

/// The connection's state, behind `Shared::inner`.
struct Inner {
    ws: WebSocket<Stream>,
    /// Where events go; taken by `finish`, so the caller's channel disconnects once the
    /// connection is over.
    incoming: Option<Arc<dyn Sink>>,
    close_timeout: Duration,
    /// The redacted URL, for logs.
    label: String,
    /// Edge-triggered readiness: true until a read returns `WouldBlock`.
    readable: bool,
    /// Edge-triggered readiness: true until a write returns `WouldBlock`.
    writable: bool,
    phase: Phase,
    /// Set by `slack-ws-write` when a write ends the connection; `slack-ws-io` reports it.
    ended: Option<End>,
    /// `Closed` was sent: nothing more happens.
    done: bool,
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

impl Inner {
    /// Hands `event` to the caller, if it still listens.
    fn report(&self, event: Incoming) {
        if let Some(incoming) = &self.incoming {
            incoming.deliver(event);
        }
    }

    /// The rest of a turn of `slack-ws-io`, after its reads: the end (if a writer found it),
    /// the close deadline, then whatever is buffered for the wire (pongs, close replies,
    /// frames that met a full socket).
    fn turn(&mut self) -> Option<End> {
        if let Some(end) = self.ended.take() {
            return Some(end);
        }
        if let Some(end) = self.check_deadline() {
            return Some(end);
        }
        if self.writable {
            if let Some(end) = self.flush() {
                return Some(end);
            }
        }
        None
    }

    /// How long `slack-ws-io` may sleep: forever while open, until the deadline when closing.
    fn poll_timeout(&self) -> Option<Duration> {
        match &self.phase {
            Phase::Open => None,
            Phase::Closing { deadline } | Phase::Replying { deadline, .. } => {
                Some(deadline.saturating_duration_since(Instant::now()))
            }
        }
    }

    /// Sends the one `Closed` event and disconnects the receiver.
    fn finish(&mut self, end: End) -> Result<(), Error> {
        self.done = true;
        log::debug!(
            "websocket {} closed by {:?}: {:?} {}",
            self.label,
            end.by,
            end.code,
            end.reason
        );
        // The receiver may be gone (the caller dropped the Connection): nothing to tell then.
        if let Some(incoming) = self.incoming.take() {
            incoming.deliver(Incoming::Closed {
                code: end.code,
                reason: end.reason,
                by: end.by,
            });
        }
        end.result
    }

    /// Takes every frame queued by the caller and writes them, then flushes once. Whether
    /// the caller has dropped every sender (the close has then been started).
    fn take_outgoing(&mut self, out: &Receiver<Outgoing>) -> bool {
        let mut took = false;
        let disconnected = loop {
            match out.try_recv() {
                Ok(msg) => {
                    self.outgoing(msg);
                    took = true;
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if disconnected {
            log::debug!("websocket {}: connection dropped, closing", self.label);
            self.start_close_or_end(1000, String::new());
        }
        if took || disconnected {
            self.flush_from_writer();
        }
        disconnected
    }

    /// Handles one frame from the caller.
    fn outgoing(&mut self, msg: Outgoing) {
        if self.ended.is_some() {
            return;
        }
        let end = match msg {
            Outgoing::Text(text) => self.write(Message::Text(text.into())),
            Outgoing::Ping(mut payload) => {
                payload.truncate(125); // the protocol's limit for control frames
                self.write(Message::Ping(payload.into()))
            }
            Outgoing::Close { code, reason } => self.start_close(code, reason),
        };
        if end.is_some() {
            self.ended = end;
        }
    }

    fn start_close_or_end(&mut self, code: u16, reason: String) {
        if self.ended.is_none() {
            self.ended = self.start_close(code, reason);
        }
    }

    /// Flushes after a batch from the caller, unless the socket is known to be full
    /// (`slack-ws-io` finishes the job when it turns writable).
    fn flush_from_writer(&mut self) {
        if self.ended.is_none() && self.writable && !matches!(self.phase, Phase::Replying { .. }) {
            if let Some(end) = self.flush() {
                self.ended = Some(end);
            }
        }
    }

    fn check_deadline(&mut self) -> Option<End> {
        match &self.phase {
            Phase::Open => None,
            Phase::Closing { deadline } if Instant::now() >= *deadline => Some(End::local(
                None,
                format!(
                    "close handshake timed out after {:?}; socket dropped",
                    self.close_timeout
                ),
            )),
            Phase::Replying {
                deadline,
                code,
                reason,
            } if Instant::now() >= *deadline => Some(End {
                code: *code,
                reason: reason.clone(),
                by: ClosedBy::Peer,
                result: Ok(()),
            }),
            _ => None,
        }
    }

    /// Queues a frame (tungstenite buffers it; `flush` sends the batch).
    fn write(&mut self, msg: Message) -> Option<End> {
        match self.ws.write(msg) {
            Ok(()) => None,
            Err(e) if would_block(&e) => {
                // The frame is buffered; the rest goes when the socket is writable.
                self.writable = false;
                None
            }
            Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::SendAfterClosing,
            ))
            | Err(tungstenite::Error::AlreadyClosed) => {
                log::debug!("websocket {}: frame after close dropped", self.label);
                None
            }
            Err(tungstenite::Error::WriteBufferFull(_)) => {
                self.report(Incoming::Error(Error::WriteBufferFull));
                Some(End::local(
                    None,
                    "write buffer full: the peer stopped reading",
                ))
            }
            Err(e) => Some(self.network_end(ws_error(e))),
        }
    }

    fn start_close(&mut self, code: u16, mut reason: String) -> Option<End> {
        if !matches!(self.phase, Phase::Open) {
            return None;
        }
        if reason.len() > 123 {
            let mut cut = 123;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        self.phase = Phase::Closing {
            deadline: Instant::now() + self.close_timeout,
        };
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        match self.ws.close(Some(frame)) {
            Ok(()) => None,
            Err(e) if would_block(&e) => {
                self.writable = false;
                None
            }
            Err(e) => Some(self.network_end(ws_error(e))),
        }
    }

    /// Reads one message: what to hand to the caller, nothing (no whole message yet, or one
    /// handled here), or the end.
    fn read_one(&mut self) -> Result<Option<Incoming>, End> {
        match self.ws.read() {
            Ok(msg) => self.on_message(msg),
            Err(e) if would_block(&e) => {
                self.readable = false;
                Ok(None)
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(self.read_error(e)),
        }
    }

    fn on_message(&mut self, msg: Message) -> Result<Option<Incoming>, End> {
        Ok(Some(match msg {
            // One copy, from tungstenite's shared read buffer into the caller's String.
            Message::Text(text) => Incoming::Text(text.as_str().to_owned()),
            Message::Binary(data) => Incoming::Binary(Vec::from(data)),
            // tungstenite has queued the pong; the flush step of this loop turn sends it.
            Message::Ping(_) => Incoming::Ping { at: Instant::now() },
            Message::Pong(payload) => Incoming::Pong {
                at: Instant::now(),
                payload: Vec::from(payload),
            },
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.as_str().to_owned()),
                    None => (None, String::new()),
                };
                return match self.phase {
                    // The answer to our close: done.
                    Phase::Closing { .. } | Phase::Replying { .. } => Err(End::local(code, reason)),
                    // The peer closes: tungstenite queued the reply; flush, then end.
                    Phase::Open => {
                        self.phase = Phase::Replying {
                            deadline: Instant::now() + self.close_timeout,
                            code,
                            reason,
                        };
                        self.writable = true;
                        Ok(None)
                    }
                };
            }
            Message::Frame(_) => return Ok(None),
        }))
    }

    fn read_error(&mut self, e: tungstenite::Error) -> End {
        use tungstenite::error::{CapacityError, ProtocolError};
        match e {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                match &self.phase {
                    Phase::Replying { code, reason, .. } => End {
                        code: *code,
                        reason: reason.clone(),
                        by: ClosedBy::Peer,
                        result: Ok(()),
                    },
                    _ => End::local(None, "connection closed"),
                }
            }
            tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                let reason = "peer closed the tcp connection without a close frame";
                if matches!(self.phase, Phase::Closing { .. }) {
                    End::local(None, reason)
                } else {
                    End {
                        code: None,
                        reason: reason.to_owned(),
                        by: ClosedBy::Network,
                        result: Err(Error::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            reason,
                        ))),
                    }
                }
            }
            tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                // tungstenite cannot skip the rest of the oversized frame, so no further
                // reads: send 1009 (best effort) and drop the socket.
                self.fail_locally(
                    Error::MessageTooLarge {
                        size,
                        max: max_size,
                    },
                    CloseCode::Size,
                    "message too large",
                )
            }
            tungstenite::Error::Utf8(reason) => self.fail_locally(
                Error::Protocol { reason },
                CloseCode::Invalid,
                "invalid utf-8",
            ),
            tungstenite::Error::Protocol(p) => self.fail_locally(
                Error::Protocol {
                    reason: p.to_string(),
                },
                CloseCode::Protocol,
                "protocol error",
            ),
            other => self.network_end(ws_error(other)),
        }
    }

    /// Reports `error`, sends a close frame with `code` without waiting for the answer, ends.
    fn fail_locally(&mut self, error: Error, code: CloseCode, reason: &str) -> End {
        log::warn!("websocket {}: {error}", self.label);
        self.report(Incoming::Error(error));
        if matches!(self.phase, Phase::Open) {
            let frame = CloseFrame {
                code,
                reason: reason.to_owned().into(),
            };
            let _ = self.ws.close(Some(frame));
            let _ = self.ws.flush();
        }
        End::local(Some(u16::from(code)), reason)
    }

    fn flush(&mut self) -> Option<End> {
        match self.ws.flush() {
            Ok(()) => {
                if let Phase::Replying { code, reason, .. } = &self.phase {
                    return Some(End {
                        code: *code,
                        reason: reason.clone(),
                        by: ClosedBy::Peer,
                        result: Ok(()),
                    });
                }
                None
            }
            Err(e) if would_block(&e) => {
                self.writable = false;
                None
            }
            Err(e) => Some(self.network_end(ws_error(e))),
        }
    }

    fn network_end(&self, error: Error) -> End {
        log::debug!("websocket {}: {error}", self.label);
        if matches!(self.phase, Phase::Closing { .. }) {
            // We were closing anyway: the failure only cut the goodbye short.
            return End::local(None, error.to_string());
        }
        End {
            code: None,
            reason: error.to_string(),
            by: ClosedBy::Network,
            result: Err(error),
        }
    }
}

/// Maps a tungstenite error after the handshake.
fn ws_error(e: tungstenite::Error) -> Error {
    match e {
        tungstenite::Error::Io(io) => match rustls_inner(&io) {
            Some(tls) => from_rustls(tls, ""),
            None => Error::Io(io),
        },
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            max_size,
        }) => Error::MessageTooLarge {
            size,
            max: max_size,
        },
        tungstenite::Error::WriteBufferFull(_) => Error::WriteBufferFull,
        other => Error::Protocol {
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, ProxyConfig};

    /// Frames sent through the channel and through a `DirectWriter`, interleaved, reach the
    /// peer in the order they were sent; the writer gives frames back once the connection is over.
    #[test]
    fn direct_writes_keep_order_with_queued_frames() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(stream).unwrap();
            let mut got = Vec::new();
            loop {
                match ws.read() {
                    Ok(Message::Text(t)) => got.push(t.as_str().to_owned()),
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = ws.flush();
            got
        });
        let config = Config::default()
            .allow_insecure_ws(true)
            .proxy(ProxyConfig::None)
            .close_timeout(Duration::from_secs(5));
        let (conn, threads) = crate::connect(&url, &config).unwrap();
        let writer = threads.writer();
        for i in 0..300 {
            let frame = Outgoing::Text(i.to_string());
            if i % 5 == 4 {
                writer.send_all(vec![frame]).unwrap();
            } else if i % 3 == 0 {
                writer.send(frame).unwrap();
            } else {
                conn.sender.send(frame).unwrap();
            }
        }
        writer
            .send(Outgoing::Close {
                code: 1000,
                reason: String::new(),
            })
            .unwrap();
        let got = server.join().unwrap();
        let want: Vec<String> = (0..300).map(|i: i32| i.to_string()).collect();
        assert_eq!(got, want);
        loop {
            match conn.receiver.recv_timeout(Duration::from_secs(10)).unwrap() {
                Incoming::Closed { .. } => break,
                _ => continue,
            }
        }
        drop(conn);
        threads.join().unwrap();
        assert!(writer.send(Outgoing::Text("late".into())).is_err());
    }
}
