//! The open sockets (links) as the event loop sees them: waiting on all of them at once, and
//! writing the supervisor's frames to them in batches.

use std::collections::HashMap;
use std::time::Instant;

use crossbeam_channel::{Receiver, Select, Sender};
use slack_envelope::{ConnId, Frame, OutFrame, Supervisor};
use slack_transport::{DirectWriter, IoThreads, Outgoing};

/// A text frame as the transport hands it over: already parsed, on the connection's I/O
/// thread (`slack_transport::connect_decoded`), so the loop's thread only runs the state
/// machine while the next frame is parsed.
pub(crate) type Parsed = Result<Frame, slack_envelope::Error>;
pub(crate) type Incoming = slack_transport::Incoming<Parsed>;
pub(crate) type Connection = slack_transport::Connection<Parsed>;

/// One socket.
pub(crate) struct Link {
    /// `None` once the link is aborted: dropping the sender makes the transport close the
    /// socket and end its threads.
    sender: Option<Sender<Outgoing>>,
    /// Writes on the loop's thread (acks leave without waking the transport's writer).
    direct: DirectWriter,
    receiver: Receiver<Incoming>,
    threads: IoThreads,
}

impl Link {
    pub(crate) fn new(connection: Connection, threads: IoThreads) -> Link {
        Link {
            sender: Some(connection.sender),
            direct: threads.writer(),
            receiver: connection.receiver,
            threads,
        }
    }

    /// Drops both channels and waits for the transport's threads.
    pub(crate) fn join(self) {
        let Link {
            sender,
            receiver,
            threads,
            ..
        } = self;
        drop(sender);
        drop(receiver);
        if let Err(e) = threads.join() {
            log::debug!("transport threads ended with: {e}");
        }
    }
}

/// What woke the loop.
// A value returned once per wake-up and matched at once, never stored in bulk: boxing the
// frame would cost an allocation per frame to save stack bytes.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Wake<M> {
    /// A message on the loop's inbox.
    Inbox(M),
    /// Every sender of the inbox is gone.
    InboxClosed,
    /// A frame (or the end: `None`) from an open link.
    Frame(ConnId, Option<Incoming>),
    /// A closing link ended or said something (ignored).
    Closing,
    /// The deadline passed.
    Timeout,
}

/// The open links, and those being closed.
#[derive(Default)]
pub(crate) struct Links {
    open: HashMap<ConnId, Link>,
    /// Links the supervisor has let go of, still closing.
    closing: Vec<Link>,
}

impl Links {
    /// A link the supervisor accepted.
    pub(crate) fn insert(&mut self, conn: ConnId, link: Link) {
        self.open.insert(conn, link);
    }

    /// A link nobody wants (its attempt was abandoned): closed with code 1000.
    pub(crate) fn close_unwanted(&mut self, link: Link) {
        if let Some(sender) = &link.sender {
            let _ = sender.send(Outgoing::Close {
                code: 1000,
                reason: String::new(),
            });
        }
        self.closing.push(link);
    }

    /// The supervisor gave up on `conn` (`Event::Abort`): the socket is dropped.
    pub(crate) fn abort(&mut self, conn: ConnId) {
        if let Some(mut link) = self.open.remove(&conn) {
            link.sender = None;
            self.closing.push(link);
        }
    }

    /// `conn` ended: its threads are joined.
    pub(crate) fn ended(&mut self, conn: ConnId) {
        if let Some(link) = self.open.remove(&conn) {
            link.join();
        }
    }

    /// Waits for the first of: a message on `inbox`, a frame on an open link (only if
    /// `read_links`), the end of a closing link, or `deadline`.
    pub(crate) fn wait<M>(
        &mut self,
        inbox: &Receiver<M>,
        read_links: bool,
        deadline: Option<Instant>,
    ) -> Wake<M> {
        let ids: Vec<ConnId> = if read_links {
            self.open.keys().copied().collect()
        } else {
            Vec::new()
        };
        let mut sel = Select::new();
        sel.recv(inbox);
        for link in ids.iter().filter_map(|id| self.open.get(id)) {
            sel.recv(&link.receiver);
        }
        for link in &self.closing {
            sel.recv(&link.receiver);
        }
        let oper = match deadline {
            Some(d) => match sel.select_deadline(d) {
                Ok(op) => op,
                Err(_) => return Wake::Timeout,
            },
            None => sel.select(),
        };
        let idx = oper.index();
        if idx == 0 {
            return match oper.recv(inbox) {
                Ok(msg) => Wake::Inbox(msg),
                Err(_) => Wake::InboxClosed,
            };
        }
        if let Some(conn) = ids.get(idx - 1).copied() {
            return match self.open.get(&conn) {
                Some(link) => Wake::Frame(conn, oper.recv(&link.receiver).ok()),
                // Cannot happen (nothing changed `open` since the select); the operation is
                // dropped and the frame stays on its channel.
                None => Wake::Closing,
            };
        }
        let i = idx - 1 - ids.len();
        if let Some(link) = self.closing.get(i) {
            if matches!(
                oper.recv(&link.receiver),
                Ok(slack_transport::Incoming::Closed { .. }) | Err(_)
            ) {
                self.closing.swap_remove(i).join();
            }
        }
        Wake::Closing
    }

    /// The next frame already waiting on `conn`, without waiting.
    pub(crate) fn try_recv(&self, conn: ConnId) -> Option<Incoming> {
        self.open.get(&conn)?.receiver.try_recv().ok()
    }

    /// Hands the supervisor's frames to the transports; whether there were any. Frames for
    /// one link go in one write (one lock, one flush), on this thread.
    pub(crate) fn write_transmits(&self, sup: &mut Supervisor) -> bool {
        let mut any = false;
        let mut batch: Option<(ConnId, Vec<Outgoing>)> = None;
        while let Some(t) = sup.poll_transmit() {
            any = true;
            let out = match t.frame {
                OutFrame::Text(s) => Outgoing::Text(s),
                OutFrame::Ping(p) => Outgoing::Ping(p),
                OutFrame::Close { code, reason } => Outgoing::Close { code, reason },
            };
            match &mut batch {
                Some((conn, frames)) if *conn == t.conn => frames.push(out),
                _ => {
                    if let Some((conn, frames)) = batch.take() {
                        self.write(conn, frames);
                    }
                    batch = Some((t.conn, vec![out]));
                }
            }
        }
        if let Some((conn, frames)) = batch {
            self.write(conn, frames);
        }
        any
    }

    /// On this thread, in one write: the transport's reader holds the connection's lock for
    /// one message at a time, so the wait is short, and the transport's writer thread is never
    /// woken (a wake-up and a lock hand-over per batch of acks cost more than the write).
    fn write(&self, conn: ConnId, frames: Vec<Outgoing>) {
        let Some(link) = self.open.get(&conn) else {
            return;
        };
        if let Err(frames) = link.direct.send_all(frames) {
            // The connection is over; the transport drops them (and says so in its log).
            if let Some(sender) = &link.sender {
                for f in frames {
                    let _ = sender.send(f);
                }
            }
        }
    }

    /// Closes every link (dropping the senders) and joins their threads.
    pub(crate) fn join_all(&mut self) {
        for (_, link) in self.open.drain() {
            link.join();
        }
        for link in self.closing.drain(..) {
            link.join();
        }
    }
}

/// How to open a link: everything a connect thread needs.
#[derive(Clone)]
pub(crate) struct Opener {
    /// The client for `apps.connections.open`: no retries of its own, since the core's
    /// backoff paces connection attempts.
    pub(crate) web: slack_web::WebClient,
    pub(crate) app_token: slack_web::AppToken,
    pub(crate) transport: slack_transport::Config,
    /// Ask Slack to refresh connections every few minutes (testing).
    pub(crate) debug_reconnects: bool,
}

impl Opener {
    /// Opens a link (on a short-lived thread of its own): fetches a URL with
    /// `apps.connections.open`, calls `authenticated`, then opens the socket. The failure says
    /// how the supervisor should pace the next attempt.
    pub(crate) fn open(
        &self,
        authenticated: impl FnOnce(),
    ) -> Result<(Connection, IoThreads), slack_envelope::ConnectFailure> {
        use slack_envelope::ConnectFailure;
        let url = match self.web.apps_connections_open(&self.app_token) {
            Ok(url) => url,
            Err(e) => {
                return Err(if e.is_fatal_config() || e.is_fatal_auth() {
                    ConnectFailure::Fatal {
                        error: e.to_string(),
                    }
                } else if let Some(retry_after) = e.retry_after() {
                    ConnectFailure::RateLimited {
                        retry_after,
                        error: e.to_string(),
                    }
                } else {
                    ConnectFailure::Transient {
                        error: e.to_string(),
                    }
                });
            }
        };
        authenticated();
        let url = if self.debug_reconnects {
            format!("{url}&debug_reconnects=true")
        } else {
            url
        };
        slack_transport::connect_decoded(&url, &self.transport, Frame::parse).map_err(|e| {
            // A ws:// URL that is not allowed, a bad root certificate: stop with the reason.
            if e.is_fatal_config() {
                ConnectFailure::Fatal {
                    error: e.to_string(),
                }
            } else {
                ConnectFailure::Transient {
                    error: e.to_string(),
                }
            }
        })
    }
}
