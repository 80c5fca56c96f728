//! Helpers shared by the integration tests: a raw HTTP client and raw WebSocket clients.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;

pub const T: Duration = Duration::from_secs(5);

/// A raw HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// host:port of a URL like http://127.0.0.1:PORT/…
pub fn authority(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap();
    rest.split('/').next().unwrap().to_string()
}

pub fn read_response<S: Read>(s: &mut S) -> Resp {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..pos]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while data.len() < pos + 4 + len {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "connection closed mid-body");
                data.extend_from_slice(&buf[..n]);
            }
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            let body = String::from_utf8_lossy(&data[pos + 4..pos + 4 + len]).to_string();
            return Resp { status, head, body };
        }
    }
    panic!("no http response");
}

/// One HTTP request on a fresh plain connection.
pub fn request(
    api_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let addr = authority(api_url);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut s)
}

/// POSTs JSON to /api/METHOD with a bearer token.
pub fn api_json(api_url: &str, method: &str, token: &str, body: &Value) -> Resp {
    let auth = format!("Bearer {token}");
    request(
        api_url,
        "POST",
        &format!("/api/{method}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        &body.to_string(),
    )
}

pub type Ws = tungstenite::WebSocket<MaybeTlsStream<TcpStream>>;

/// Connects a plain WebSocket client and returns it with the hello frame.
pub fn ws_connect(url: &str) -> (Ws, Value) {
    let (mut ws, _) = tungstenite::connect(url).unwrap();
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(T)).unwrap();
    }
    let hello = read_json(&mut ws);
    (ws, hello)
}

pub fn read_json<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) -> Value {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub fn ack<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>, id: &str) {
    ws.send(tungstenite::Message::text(
        serde_json::json!({ "envelope_id": id }).to_string(),
    ))
    .unwrap();
}

/// A rustls client config trusting only this CA.
pub fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Opens a TLS connection to host:port, verifying `server_name`.
pub fn tls_connect(
    addr: &str,
    server_name: &str,
    ca_pem: &str,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, std::io::Error> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(T))?;
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(client_config(ca_pem), name).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Force the handshake.
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}
