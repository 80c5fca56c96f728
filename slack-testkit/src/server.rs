//! The state every thread shares ([`Shared`], [`State`]), delivery of envelopes to connections,
//! the commands a connection thread takes ([`Cmd`]) and the redelivery timer.
//!
//! Depends on `config`, `methods`, `stream`, `types` and `util` only; `ws`, `web` and `accept`
//! build on it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rustls::ServerConfig;
use serde_json::Value;

use crate::config::Config;
use crate::stream::StreamJob;
use crate::types::{Ack, ConnId, ConnectionInfo, Event, Fault, OpenError, WebCall};
use crate::util::lock;

/// A command for a connection thread.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// Send a text frame.
    Text(String),
    /// Send `disconnect` with this reason and follow through.
    Disconnect(String),
    /// Inject a fault.
    Fault(Fault),
    /// The fake is shutting down.
    Shutdown,
    /// Start a benchmark stream of envelopes (replacing any running one).
    Stream(Box<StreamJob>),
    /// Stop the running benchmark stream, if any.
    StopStream,
}

/// A delivery waiting for its ack.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub first_id: String,
    pub frame: Value,
    pub attempt: u32,
    pub deadline: Instant,
}

/// A WebSocket connection as the shared state sees it.
pub(crate) struct ConnEntry {
    pub info: ConnectionInfo,
    pub tx: Sender<Cmd>,
    pub waker: Arc<mio::Waker>,
    /// `hello` sent (or not configured): may receive envelopes.
    pub ready: bool,
    /// A `disconnect` other than `warning` was sent: no new envelopes.
    pub draining: bool,
}

impl ConnEntry {
    pub(crate) fn send(&self, cmd: Cmd) -> bool {
        self.tx.send(cmd).is_ok() && self.waker.wake().is_ok()
    }
}

/// Mutable state behind one mutex.
#[derive(Default)]
pub(crate) struct State {
    pub next_conn: u64,
    pub conns: HashMap<u64, ConnEntry>,
    pub acks: Vec<Ack>,
    pub calls: Vec<WebCall>,
    pub tickets: HashSet<String>,
    /// Deliveries awaiting an ack, by delivery `envelope_id`.
    pub pending: HashMap<String, Pending>,
    /// Every delivery id ever made → (first id, retry_attempt).
    pub deliveries: HashMap<String, (String, u32)>,
    /// Envelopes waiting for a ready connection: (frame, first id, attempt).
    pub queue: VecDeque<(Value, String, u32)>,
    pub open_failures: VecDeque<OpenError>,
    /// URLs the next `apps.connections.open` calls answer with instead of a fresh ticket.
    pub open_urls: VecDeque<String>,
    pub rate_limits: HashMap<String, (u64, usize)>,
    /// `delay_method(method, d)`: calls of `method` are answered `d` after they arrive.
    pub delays: HashMap<String, std::time::Duration>,
    pub response_urls: HashMap<String, u32>,
    pub rr: usize,
    pub ts_counter: u64,
    /// The fake workspace and stubs of the Web API methods (see `methods.rs`).
    pub web: crate::methods::WebState,
    /// The connection each envelope (by first id) was last delivered on, so that a
    /// redelivery goes to another connection when there is one, as Slack may do.
    pub last_conn: HashMap<String, u64>,
}

/// Everything the threads share.
pub(crate) struct Shared {
    pub cfg: Config,
    pub addr: SocketAddr,
    pub tls: Option<Arc<ServerConfig>>,
    pub state: Mutex<State>,
    pub cond: Condvar,
    pub shutdown: AtomicBool,
    /// Sockets in their HTTP phase, so shutdown can unblock their reads.
    pub sockets: Mutex<HashMap<u64, TcpStream>>,
    pub threads: Mutex<Vec<JoinHandle<()>>>,
    pub subscribers: Mutex<Vec<Sender<Event>>>,
    pub socket_ids: AtomicU64,
}

impl Shared {
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Sends an event to every subscriber.
    pub(crate) fn emit(&self, event: Event) {
        let mut subs = lock(&self.subscribers);
        if subs.is_empty() {
            return;
        }
        subs.retain(|s| s.send(event.clone()).is_ok());
    }

    pub(crate) fn scheme(&self, secure: &str, plain: &str) -> String {
        if self.tls.is_some() {
            secure.to_string()
        } else {
            plain.to_string()
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub(crate) fn base(&self) -> String {
        format!(
            "{}://127.0.0.1:{}",
            self.scheme("https", "http"),
            self.addr.port()
        )
    }

    /// Mints a new ticket and its WebSocket URL.
    pub(crate) fn new_ws_url(&self, st: &mut State) -> String {
        let ticket = crate::util::uuid_like();
        st.tickets.insert(ticket.clone());
        format!(
            "{}://127.0.0.1:{}/link/?ticket={}&app_id={}",
            self.scheme("wss", "ws"),
            self.addr.port(),
            ticket,
            self.cfg.app_id
        )
    }

    /// Mints a response URL.
    pub(crate) fn new_response_url(&self, st: &mut State) -> String {
        let id = crate::util::uuid_like();
        st.response_urls.insert(id.clone(), 0);
        format!("{}/response/{}/{}", self.base(), self.cfg.team_id, id)
    }

    /// Delivers (or queues) an envelope. `frame` must be an object; its `envelope_id` is set here.
    pub(crate) fn deliver(&self, st: &mut State, mut frame: Value, first_id: String, attempt: u32) {
        let delivery_id = if attempt == 0 {
            first_id.clone()
        } else {
            crate::util::uuid_like()
        };
        if let Some(obj) = frame.as_object_mut() {
            obj.insert("envelope_id".into(), Value::String(delivery_id.clone()));
            if attempt > 0 {
                obj.insert("retry_attempt".into(), Value::from(attempt));
                obj.insert("retry_reason".into(), Value::String("timeout".into()));
            }
        }
        // Pick a ready connection, round robin.
        let mut ids: Vec<u64> = st
            .conns
            .iter()
            .filter(|(_, c)| c.ready && !c.draining && c.info.open && !c.info.refused)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        if ids.is_empty() {
            log::debug!("no ready connection; queueing envelope {delivery_id}");
            st.queue.push_back((frame, first_id, attempt));
            return;
        }
        if attempt > 0 && ids.len() > 1 {
            if let Some(prev) = st.last_conn.get(&first_id) {
                ids.retain(|id| id != prev);
            }
        }
        let pick = ids.get(st.rr % ids.len()).copied().unwrap_or(0);
        st.rr = st.rr.wrapping_add(1);
        let text = frame.to_string();
        let kind = frame
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let sent = match st.conns.get_mut(&pick) {
            Some(c) => {
                c.info.envelopes_sent += 1;
                c.send(Cmd::Text(text))
            }
            None => false,
        };
        if !sent {
            st.queue.push_back((frame, first_id, attempt));
            return;
        }
        st.deliveries
            .insert(delivery_id.clone(), (first_id.clone(), attempt));
        st.last_conn.insert(first_id.clone(), pick);
        st.pending.insert(
            delivery_id.clone(),
            Pending {
                first_id,
                frame,
                attempt,
                deadline: Instant::now() + self.cfg.ack_timeout,
            },
        );
        self.emit(Event::EnvelopeSent {
            id: ConnId(pick),
            envelope_id: delivery_id,
            retry_attempt: attempt,
            kind,
        });
    }

    /// Delivers queued envelopes (called when a connection becomes ready).
    pub(crate) fn flush_queue(&self, st: &mut State) {
        let queued: Vec<_> = st.queue.drain(..).collect();
        for (frame, first, attempt) in queued {
            self.deliver(st, frame, first, attempt);
        }
    }

    /// Records a web call and notifies.
    pub(crate) fn record_call(&self, call: WebCall) {
        let mut st = lock(&self.state);
        st.calls.push(call.clone());
        drop(st);
        self.cond.notify_all();
        self.emit(Event::WebCall(call));
    }

    /// Registers a thread to join at shutdown (and forgets finished ones).
    pub(crate) fn add_thread(&self, handle: JoinHandle<()>) {
        let mut threads = lock(&self.threads);
        let mut i = 0;
        while i < threads.len() {
            if threads.get(i).map(JoinHandle::is_finished).unwrap_or(false) {
                let done = threads.swap_remove(i);
                let _ = done.join();
            } else {
                i += 1;
            }
        }
        threads.push(handle);
    }
}

/// Redelivers un-acked envelopes until shutdown.
pub(crate) fn timer_loop(shared: Arc<Shared>) {
    let mut st = lock(&shared.state);
    loop {
        if shared.is_shutdown() {
            return;
        }
        let now = Instant::now();
        let expired: Vec<String> = st
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = st.pending.remove(&id) {
                if p.attempt < shared.cfg.max_retries {
                    log::debug!("envelope {id} not acked in time; redelivering");
                    shared.deliver(&mut st, p.frame, p.first_id, p.attempt + 1);
                } else {
                    log::info!("envelope {} never acked; giving up", p.first_id);
                    shared.emit(Event::GaveUp {
                        envelope_id: p.first_id,
                    });
                }
            }
        }
        let next = st.pending.values().map(|p| p.deadline).min();
        let wait = match next {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        st = shared
            .cond
            .wait_timeout(st, wait.max(Duration::from_millis(1)))
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}
