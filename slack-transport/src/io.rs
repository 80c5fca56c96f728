//! The connection's threads and the types that cross the channels.
//!
//! # Why two threads and a `mio::Poll`
//!
//! A plain blocking socket cannot be woken while a thread sits in `read()`: a frame queued by
//! the caller (an ack that must leave within Slack's 3 s) would wait until the next incoming
//! frame, or we would need a polling tick. So the socket is non-blocking and owned by one
//! I/O thread (`slack-ws-io`) that sleeps in `mio::Poll` until the socket is readable or
//! writable, or until a `mio::Waker` is poked. crossbeam channels cannot be registered with
//! mio, so a second small thread (`slack-ws-wake`) blocks on the caller's `Outgoing`
//! receiver, moves whatever is queued to the I/O thread's inbox and pokes the waker (once per
//! batch). An idle connection therefore wakes no thread at all, and an outgoing frame is
//! written as soon as it is sent.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
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
    /// A ping frame with this payload (at most 125 bytes).
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
#[derive(Debug)]
pub enum Incoming {
    /// A text frame, as received.
    Text(String),
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

/// One WebSocket connection: send frames with `sender`, receive events from `receiver`.
///
/// Both are plain crossbeam channels (unbounded), so `receiver` can be used in a
/// `crossbeam_channel::Select` with other connections and timers. Dropping the whole
/// `Connection` (every clone of `sender`) closes the WebSocket with code 1000 and ends the
/// threads.
#[derive(Debug)]
pub struct Connection {
    /// Frames to write. Sending never blocks.
    pub sender: Sender<Outgoing>,
    /// Events from the connection, ending with exactly one [`Incoming::Closed`].
    pub receiver: Receiver<Incoming>,
}

/// The connection's two named threads (`slack-ws-io` and `slack-ws-wake`).
///
/// Dropping this detaches them; they still end when the connection ends.
#[derive(Debug)]
pub struct IoThreads {
    io: JoinHandle<Result<(), Error>>,
    wake: JoinHandle<()>,
}

impl IoThreads {
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
        let wake = self.wake.join().map_err(|_| Error::ThreadPanicked {
            thread: WAKE_THREAD.to_owned(),
        });
        io.and(wake)
    }
}

const IO_THREAD: &str = "slack-ws-io";
const WAKE_THREAD: &str = "slack-ws-wake";
const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);
/// Messages read before the I/O thread looks at the outgoing queue again (fairness: a flood
/// of incoming frames must not delay acks).
const READ_BATCH: usize = 64;

/// Starts the threads for an open WebSocket whose socket is already non-blocking.
pub(crate) fn spawn(
    mut ws: WebSocket<Stream>,
    close_timeout: Duration,
    label: String,
) -> Result<(Connection, IoThreads), Error> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
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
    let (in_tx, in_rx) = crossbeam_channel::unbounded::<Incoming>();
    let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded::<Outgoing>();
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);

    let io_loop = IoLoop {
        ws,
        poll,
        _waker: Arc::clone(&waker),
        incoming: in_tx,
        inbox: inbox_rx,
        inbox_open: true,
        _stop: stop_tx,
        close_timeout,
        label,
        readable: true,
        writable: true,
        phase: Phase::Open,
    };
    let io = std::thread::Builder::new()
        .name(IO_THREAD.to_owned())
        .spawn(move || io_loop.run())?;
    let wake = std::thread::Builder::new()
        .name(WAKE_THREAD.to_owned())
        .spawn(move || forward(&out_rx, inbox_tx, &stop_rx, &waker))?;
    Ok((
        Connection {
            sender: out_tx,
            receiver: in_rx,
        },
        IoThreads { io, wake },
    ))
}

/// The `slack-ws-wake` thread: moves frames from the caller to the I/O thread's inbox and
/// pokes its waker. Ends when the caller drops every sender (after telling the I/O thread,
/// by dropping the inbox) or when the I/O thread ends (the `stop` channel disconnects).
fn forward(out: &Receiver<Outgoing>, inbox: Sender<Outgoing>, stop: &Receiver<()>, waker: &Waker) {
    loop {
        crossbeam_channel::select! {
            recv(out) -> msg => match msg {
                Ok(msg) => {
                    if inbox.send(msg).is_err() {
                        return;
                    }
                    // Move the rest of the batch too, then wake the I/O thread once.
                    while let Ok(msg) = out.try_recv() {
                        if inbox.send(msg).is_err() {
                            return;
                        }
                    }
                    if let Err(e) = waker.wake() {
                        log::warn!("cannot wake the websocket i/o thread: {e}");
                        return;
                    }
                }
                Err(_) => {
                    drop(inbox);
                    let _ = waker.wake();
                    return;
                }
            },
            recv(stop) -> _ => return,
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

struct IoLoop {
    ws: WebSocket<Stream>,
    poll: Poll,
    /// Kept alive as long as the poll: if the wake thread dropped the last `Waker` right
    /// after waking, its eventfd would close and the wake-up could be lost.
    _waker: Arc<Waker>,
    incoming: Sender<Incoming>,
    inbox: Receiver<Outgoing>,
    /// False once the caller dropped every sender (the inbox disconnected).
    inbox_open: bool,
    /// Dropped when this thread ends, which ends the wake thread.
    _stop: Sender<()>,
    close_timeout: Duration,
    /// The redacted URL, for logs.
    label: String,
    /// Edge-triggered readiness: true until a read returns `WouldBlock`.
    readable: bool,
    /// Edge-triggered readiness: true until a write returns `WouldBlock`.
    writable: bool,
    phase: Phase,
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

impl IoLoop {
    fn run(mut self) -> Result<(), Error> {
        log::debug!("websocket {} open", self.label);
        let end = self.event_loop();
        log::debug!(
            "websocket {} closed by {:?}: {:?} {}",
            self.label,
            end.by,
            end.code,
            end.reason
        );
        // The receiver may be gone (the caller dropped the Connection): nothing to tell then.
        let _ = self.incoming.send(Incoming::Closed {
            code: end.code,
            reason: end.reason,
            by: end.by,
        });
        end.result
    }

    fn event_loop(&mut self) -> End {
        let mut events = Events::with_capacity(8);
        loop {
            if let Some(end) = self.check_deadline() {
                return end;
            }
            // 1. Frames the caller queued.
            if let Some(end) = self.drain_inbox() {
                return end;
            }
            // 2. Frames from the peer.
            if self.readable {
                if let Some(end) = self.read_batch() {
                    return end;
                }
            }
            // 3. Everything buffered (frames, pongs, close) onto the wire.
            if self.writable {
                if let Some(end) = self.flush() {
                    return end;
                }
            }
            // 4. Sleep until the socket or the waker has news (or the close deadline).
            if self.readable {
                continue; // the read batch was cut short: more is waiting
            }
            let timeout = match &self.phase {
                Phase::Open => None,
                Phase::Closing { deadline } | Phase::Replying { deadline, .. } => {
                    Some(deadline.saturating_duration_since(Instant::now()))
                }
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.network_end(Error::Io(e)),
            }
            for event in &events {
                if event.token() == SOCKET {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        self.readable = true;
                    }
                    if event.is_writable() || event.is_write_closed() || event.is_error() {
                        self.writable = true;
                    }
                }
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

    fn drain_inbox(&mut self) -> Option<End> {
        while self.inbox_open {
            match self.inbox.try_recv() {
                Ok(Outgoing::Text(text)) => {
                    if let Some(end) = self.write(Message::Text(text.into())) {
                        return Some(end);
                    }
                }
                Ok(Outgoing::Ping(payload)) => {
                    if let Some(end) = self.write(Message::Ping(payload.into())) {
                        return Some(end);
                    }
                }
                Ok(Outgoing::Close { code, reason }) => {
                    if let Some(end) = self.start_close(code, reason) {
                        return Some(end);
                    }
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    log::debug!("websocket {}: connection dropped, closing", self.label);
                    self.inbox_open = false;
                    return self.start_close(1000, String::new());
                }
            }
        }
        None
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
                let _ = self.incoming.send(Incoming::Error(Error::WriteBufferFull));
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

    fn read_batch(&mut self) -> Option<End> {
        for _ in 0..READ_BATCH {
            match self.ws.read() {
                Ok(msg) => {
                    if let Some(end) = self.on_message(msg) {
                        return Some(end);
                    }
                }
                Err(e) if would_block(&e) => {
                    self.readable = false;
                    return None;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(self.read_error(e)),
            }
        }
        None
    }

    fn emit(&mut self, event: Incoming) -> Option<End> {
        if self.incoming.send(event).is_err() {
            // Nobody listens any more: close politely.
            log::debug!("websocket {}: receiver dropped, closing", self.label);
            return self.start_close(1000, String::new());
        }
        None
    }

    fn on_message(&mut self, msg: Message) -> Option<End> {
        match msg {
            // One copy, from tungstenite's shared read buffer into the caller's String.
            Message::Text(text) => self.emit(Incoming::Text(text.as_str().to_owned())),
            Message::Binary(data) => self.emit(Incoming::Binary(Vec::from(data))),
            // tungstenite has queued the pong; the flush step of this loop turn sends it.
            Message::Ping(_) => self.emit(Incoming::Ping { at: Instant::now() }),
            Message::Pong(payload) => self.emit(Incoming::Pong {
                at: Instant::now(),
                payload: Vec::from(payload),
            }),
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.as_str().to_owned()),
                    None => (None, String::new()),
                };
                match self.phase {
                    // The answer to our close: done.
                    Phase::Closing { .. } | Phase::Replying { .. } => {
                        Some(End::local(code, reason))
                    }
                    // The peer closes: tungstenite queued the reply; flush, then end.
                    Phase::Open => {
                        self.phase = Phase::Replying {
                            deadline: Instant::now() + self.close_timeout,
                            code,
                            reason,
                        };
                        self.writable = true;
                        None
                    }
                }
            }
            Message::Frame(_) => None,
        }
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
        let _ = self.incoming.send(Incoming::Error(error));
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
