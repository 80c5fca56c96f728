//! Shared state, the accept loop, the HTTP phase of each connection and the redelivery timer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::Value;

use crate::http::{self, ReadError, Request, Response};
use crate::types::{Ack, ConnId, ConnectionInfo, Event, OpenError, WebCall};
use crate::ws::{self, Cmd};

/// Locks a mutex, recovering the data if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The fake's configuration (set by the builder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub tls: bool,
    pub cert_names: Vec<String>,
    pub port: u16,
    pub ack_timeout: Duration,
    pub max_retries: u32,
    pub max_connections: usize,
    pub app_token: String,
    pub bot_token: String,
    pub hello_delay: Duration,
    pub send_hello: bool,
    pub refresh_grace: Duration,
    /// When a link opened with `debug_reconnects=true` gets `refresh_requested`.
    pub debug_reconnect_after: Duration,
    pub close_timeout: Duration,
    pub ping_interval: Option<Duration>,
    pub single_use_tickets: bool,
    pub approximate_connection_time: u64,
    pub app_id: String,
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: String,
    pub bot_id: String,
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

/// Accepts connections until shutdown.
pub(crate) fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.is_shutdown() {
            break;
        }
        match accepted {
            Ok((stream, peer)) => {
                let sid = shared.socket_ids.fetch_add(1, Ordering::Relaxed);
                if let Ok(clone) = stream.try_clone() {
                    lock(&shared.sockets).insert(sid, clone);
                }
                let sh = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("fake-slack-conn-{sid}"))
                    .spawn(move || {
                        handle_connection(&sh, stream, peer, sid);
                        lock(&sh.sockets).remove(&sid);
                    });
                match spawned {
                    Ok(h) => shared.add_thread(h),
                    Err(e) => log::warn!("could not spawn a connection thread: {e}"),
                }
            }
            Err(e) => {
                log::warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The stream of a connection in its HTTP phase.
pub(crate) enum HttpStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for HttpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            HttpStream::Plain(s) => s.read(buf),
            HttpStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for HttpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            HttpStream::Plain(s) => s.write(buf),
            HttpStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            HttpStream::Plain(s) => s.flush(),
            HttpStream::Tls(s) => s.flush(),
        }
    }
}

fn handle_connection(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr, sid: u64) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut stream = match &shared.tls {
        Some(cfg) => match ServerConnection::new(cfg.clone()) {
            Ok(conn) => HttpStream::Tls(Box::new(StreamOwned::new(conn, stream))),
            Err(e) => {
                log::warn!("tls session setup failed: {e}");
                return;
            }
        },
        None => HttpStream::Plain(stream),
    };
    let mut buf = Vec::new();
    loop {
        if shared.is_shutdown() {
            return;
        }
        let req = match http::read_request(&mut stream, &mut buf) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Io(e)) => {
                log::debug!("connection from {peer}: {e}");
                return;
            }
            Err(ReadError::Bad(why)) => {
                log::debug!("bad request from {peer}: {why}");
                let _ = http::write_response(&mut stream, &Response::text(400, why), false);
                return;
            }
        };
        let is_upgrade = req
            .header("upgrade")
            .map(|u| u.eq_ignore_ascii_case("websocket"))
            .unwrap_or(false);
        if is_upgrade {
            lock(&shared.sockets).remove(&sid);
            upgrade(shared, stream, req, buf, peer, sid);
            return;
        }
        let keep_alive = req.keep_alive();
        let resp = crate::web::handle(shared, &req);
        if http::write_response(&mut stream, &resp, keep_alive).is_err() || !keep_alive {
            if let HttpStream::Tls(s) = &mut stream {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            return;
        }
    }
}

fn upgrade(
    shared: &Arc<Shared>,
    mut stream: HttpStream,
    req: Request,
    rest: Vec<u8>,
    peer: SocketAddr,
    sid: u64,
) {
    if !req.path().starts_with("/link") {
        let _ = http::write_response(&mut stream, &Response::text(404, "not found"), false);
        return;
    }
    let ticket = crate::util::form_decode(req.query())
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v);
    let valid = {
        let mut st = lock(&shared.state);
        match &ticket {
            Some(t) if shared.cfg.single_use_tickets => st.tickets.remove(t),
            Some(t) => st.tickets.contains(t),
            None => false,
        }
    };
    if !valid {
        log::info!("websocket upgrade from {peer} with a missing or invalid ticket");
        let _ = http::write_response(&mut stream, &Response::text(401, "invalid ticket"), false);
        return;
    }
    let key = match req.header("sec-websocket-key") {
        Some(k) if req.method == "GET" => k.trim().to_string(),
        _ => {
            let _ = http::write_response(
                &mut stream,
                &Response::text(400, "bad websocket upgrade"),
                false,
            );
            return;
        }
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    ws::run(
        shared,
        stream,
        head.into_bytes(),
        rest,
        peer,
        req.target.clone(),
        sid,
    );
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
