//! An HTTP proxy for tests: `CONNECT` tunnels (and plain absolute-form forwarding), optional
//! Basic auth, recording of what it tunnels. It only connects to loopback targets, so a test
//! that is misconfigured cannot reach the internet through it.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::http::{self, ReadError, Response};
use crate::util::lock;

/// One request the proxy handled.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// The requested target (`host:port` for `CONNECT`, the absolute URL for forwarding).
    pub target: String,
    /// `"CONNECT"`, or the HTTP method of a forwarded request.
    pub method: String,
    /// The status the proxy answered with (200, 403, 407, 502, …).
    pub status: u16,
    /// Whether the request carried a `Proxy-Authorization` header.
    pub had_credentials: bool,
    /// When the request arrived.
    pub at: Instant,
}

struct ProxyShared {
    addr: SocketAddr,
    credentials: Option<(String, String)>,
    refuse: Mutex<Option<u16>>,
    tunnels: Mutex<Vec<Tunnel>>,
    cond: Condvar,
    shutdown: AtomicBool,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    ids: AtomicU64,
}

impl ProxyShared {
    fn track(&self, s: &TcpStream) -> u64 {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = s.try_clone() {
            lock(&self.sockets).insert(id, c);
        }
        id
    }

    fn untrack(&self, id: u64) {
        lock(&self.sockets).remove(&id);
    }

    fn spawn(self: &Arc<Self>, f: impl FnOnce() + Send + 'static) {
        match std::thread::Builder::new()
            .name("testkit-proxy".into())
            .spawn(f)
        {
            Ok(h) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(h);
            }
            Err(e) => log::warn!("proxy: could not spawn a thread: {e}"),
        }
    }

    fn record(&self, t: Tunnel) {
        lock(&self.tunnels).push(t);
        self.cond.notify_all();
    }
}

/// An HTTP CONNECT proxy on `127.0.0.1`, optionally requiring Basic auth.
///
/// It shuts down (threads joined, sockets closed) on [`Proxy::shutdown`] and on drop.
pub struct Proxy {
    shared: Arc<ProxyShared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.shared.addr)
            .field("auth", &self.shared.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Starts a proxy on an ephemeral port; with `Some((user, pass))` it answers 407 to requests
    /// without those Basic credentials.
    pub fn start(credentials: Option<(&str, &str)>) -> Result<Proxy, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(ProxyShared {
            addr,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            refuse: Mutex::new(None),
            tunnels: Mutex::new(Vec::new()),
            cond: Condvar::new(),
            shutdown: AtomicBool::new(false),
            sockets: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            ids: AtomicU64::new(1),
        });
        let sh = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("testkit-proxy-accept".into())
            .spawn(move || accept_loop(sh, listener))?;
        Ok(Proxy {
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The proxy URL: `http://127.0.0.1:PORT`, or `http://user:pass@127.0.0.1:PORT` with auth.
    pub fn url(&self) -> String {
        match &self.shared.credentials {
            Some((u, p)) => format!(
                "http://{}:{}@127.0.0.1:{}",
                crate::util::percent_encode(u),
                crate::util::percent_encode(p),
                self.shared.addr.port()
            ),
            None => format!("http://127.0.0.1:{}", self.shared.addr.port()),
        }
    }

    /// The proxy URL without credentials.
    pub fn url_without_credentials(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.addr.port())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Every request handled so far (including refused ones).
    pub fn tunnels(&self) -> Vec<Tunnel> {
        lock(&self.shared.tunnels).clone()
    }

    /// Waits until at least `n` requests were handled; returns them.
    pub fn wait_for_tunnels(&self, n: usize, timeout: Duration) -> Result<Vec<Tunnel>, Error> {
        let deadline = Instant::now() + timeout;
        let mut t = lock(&self.shared.tunnels);
        loop {
            if t.len() >= n {
                return Ok(t.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout(format!("{n} proxy tunnel(s)")));
            }
            t = self
                .shared
                .cond
                .wait_timeout(t, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// From now on answer every request with this status (e.g. 403), or serve again with `None`.
    pub fn refuse_tunnels(&self, status: Option<u16>) {
        *lock(&self.shared.refuse) = status;
    }

    /// Stops the proxy: closes every socket and joins every thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.shared.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        loop {
            for s in lock(&self.shared.sockets).values() {
                let _ = s.shutdown(Shutdown::Both);
            }
            let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
            if threads.is_empty() {
                break;
            }
            for h in threads {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(shared: Arc<ProxyShared>, listener: TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                let sh = shared.clone();
                shared.spawn(move || {
                    let id = sh.track(&stream);
                    handle(&sh, stream);
                    sh.untrack(id);
                });
            }
            Err(e) => {
                log::warn!("proxy accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn split_host_port(authority: &str, default_port: u16) -> (String, u16) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once(']') {
            let port = p.trim_start_matches(':').parse().unwrap_or(default_port);
            return (h.to_string(), port);
        }
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default_port)),
        None => (authority.to_string(), default_port),
    }
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn handle(shared: &Arc<ProxyShared>, mut client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = client.set_nodelay(true);
    let mut buf = Vec::new();
    let req = match http::read_request(&mut client, &mut buf) {
        Ok(r) => r,
        Err(ReadError::Bad(why)) => {
            let _ = http::write_response(&mut client, &Response::text(400, why), false);
            return;
        }
        Err(_) => return,
    };
    let auth_header = req.header("proxy-authorization").map(str::to_string);
    let mut tunnel = Tunnel {
        target: req.target.clone(),
        method: req.method.clone(),
        status: 200,
        had_credentials: auth_header.is_some(),
        at: Instant::now(),
    };
    let answer = |status: u16, text: &str, tunnel: &mut Tunnel, client: &mut TcpStream| {
        tunnel.status = status;
        shared.record(tunnel.clone());
        let mut resp = Response::text(status, text);
        if status == 407 {
            resp = resp.with_header("Proxy-Authenticate", "Basic realm=\"slack-testkit\"");
        }
        let _ = http::write_response(client, &resp, false);
    };
    if let Some((u, p)) = &shared.credentials {
        let expected = format!(
            "Basic {}",
            crate::util::base64_encode(format!("{u}:{p}").as_bytes())
        );
        let ok = auth_header
            .as_deref()
            .map(|h| h.trim() == expected)
            .unwrap_or(false);
        if !ok {
            answer(
                407,
                "proxy authentication required",
                &mut tunnel,
                &mut client,
            );
            return;
        }
    }
    if let Some(status) = *lock(&shared.refuse) {
        answer(status, "tunnel refused", &mut tunnel, &mut client);
        return;
    }
    if req.method == "CONNECT" {
        let (host, port) = split_host_port(&req.target, 443);
        if !is_loopback_host(&host) {
            answer(
                403,
                "this test proxy only connects to loopback",
                &mut tunnel,
                &mut client,
            );
            return;
        }
        let upstream = match connect(&host, port) {
            Ok(s) => s,
            Err(e) => {
                log::info!("proxy: connect to {host}:{port} failed: {e}");
                answer(502, "bad gateway", &mut tunnel, &mut client);
                return;
            }
        };
        shared.record(tunnel);
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return;
        }
        if !buf.is_empty() {
            let mut up = &upstream;
            if up.write_all(&buf).is_err() {
                return;
            }
        }
        pump(shared, client, upstream);
    } else {
        // Absolute-form forwarding: `GET http://host:port/path HTTP/1.1`.
        let Some(rest) = req.target.strip_prefix("http://") else {
            answer(
                400,
                "expected CONNECT or an absolute http:// url",
                &mut tunnel,
                &mut client,
            );
            return;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("/")),
            None => (rest, "/"),
        };
        let (host, port) = split_host_port(authority, 80);
        if !is_loopback_host(&host) {
            answer(
                403,
                "this test proxy only connects to loopback",
                &mut tunnel,
                &mut client,
            );
            return;
        }
        let mut upstream = match connect(&host, port) {
            Ok(s) => s,
            Err(_) => {
                answer(502, "bad gateway", &mut tunnel, &mut client);
                return;
            }
        };
        shared.record(tunnel);
        let mut head = format!("{} {} HTTP/1.1\r\n", req.method, path);
        for (k, v) in &req.headers {
            let lk = k.to_ascii_lowercase();
            if lk == "proxy-authorization" || lk == "proxy-connection" || lk == "connection" {
                continue;
            }
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        if upstream.write_all(head.as_bytes()).is_err() || upstream.write_all(&req.body).is_err() {
            return;
        }
        let _ = io::copy(&mut upstream, &mut client);
        let _ = client.shutdown(Shutdown::Both);
    }
}

/// Copies bytes both ways until either side closes.
fn pump(shared: &Arc<ProxyShared>, client: TcpStream, upstream: TcpStream) {
    let _ = client.set_read_timeout(None);
    let up_id = shared.track(&upstream);
    let (Ok(mut client_r), Ok(mut upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
        shared.untrack(up_id);
        return;
    };
    let sh = shared.clone();
    sh.spawn(move || {
        let _ = io::copy(&mut client_r, &mut upstream_w);
        let _ = upstream_w.shutdown(Shutdown::Write);
    });
    let mut upstream_r = upstream;
    let mut client_w = client;
    let _ = io::copy(&mut upstream_r, &mut client_w);
    let _ = client_w.shutdown(Shutdown::Both);
    let _ = upstream_r.shutdown(Shutdown::Both);
    shared.untrack(up_id);
}
