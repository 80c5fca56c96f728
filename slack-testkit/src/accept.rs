//! The accept loop and the HTTP phase of each connection: a plain request goes to `web`, a
//! WebSocket upgrade with a valid ticket to `ws`.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustls::{ServerConnection, StreamOwned};

use crate::http::{self, HttpStream, ReadError, Request, Response};
use crate::server::Shared;
use crate::util::lock;
use crate::ws;

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
