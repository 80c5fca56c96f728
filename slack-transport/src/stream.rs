//! The byte stream under tungstenite: TCP (blocking with a deadline during the handshakes,
//! then a non-blocking mio socket) optionally wrapped in rustls.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::error::{from_rustls, rustls_inner};
use crate::url::host_port;
use crate::{Config, Error};

/// The TCP socket, in one of its two lives.
#[derive(Debug)]
pub(crate) enum Tcp {
    /// During the proxy, TLS and WebSocket handshakes: a blocking socket whose every read
    /// and write is bounded by `deadline` (the handshake timeout).
    Blocking {
        stream: TcpStream,
        deadline: Instant,
    },
    /// After the handshakes: non-blocking, registered with the I/O thread's `mio::Poll`.
    Polled(mio::net::TcpStream),
    /// Only while switching from one to the other.
    Gone,
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

/// A socket timeout shows up as `WouldBlock` on Unix; call it what it is.
fn timeout_kind(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::ErrorKind::TimedOut.into()
    } else {
        e
    }
}

impl Tcp {
    /// Switches a blocking socket to a non-blocking mio socket.
    pub(crate) fn make_polled(&mut self) -> io::Result<()> {
        match std::mem::replace(self, Tcp::Gone) {
            Tcp::Blocking { stream, .. } => {
                stream.set_read_timeout(None)?;
                stream.set_write_timeout(None)?;
                stream.set_nonblocking(true)?;
                *self = Tcp::Polled(mio::net::TcpStream::from_std(stream));
                Ok(())
            }
            other => {
                *self = other;
                Ok(())
            }
        }
    }

    fn gone() -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, "socket is gone")
    }
}

impl Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Tcp::Blocking { stream, deadline } => {
                stream.set_read_timeout(Some(remaining(*deadline)?))?;
                stream.read(buf).map_err(timeout_kind)
            }
            Tcp::Polled(s) => s.read(buf),
            Tcp::Gone => Err(Tcp::gone()),
        }
    }
}

impl Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Tcp::Blocking { stream, deadline } => {
                stream.set_write_timeout(Some(remaining(*deadline)?))?;
                stream.write(buf).map_err(timeout_kind)
            }
            Tcp::Polled(s) => s.write(buf),
            Tcp::Gone => Err(Tcp::gone()),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Tcp::Blocking { stream, deadline } => {
                stream.set_write_timeout(Some(remaining(*deadline)?))?;
                stream.write_vectored(bufs).map_err(timeout_kind)
            }
            Tcp::Polled(s) => s.write_vectored(bufs),
            Tcp::Gone => Err(Tcp::gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// rustls over [`Tcp`], with read/write written for a non-blocking socket: `WouldBlock`
/// from the socket is passed up unchanged (tungstenite keeps its partial frames and
/// retries), and new plaintext is only accepted once earlier TLS records are on the wire,
/// so rustls never buffers more than one write's worth beyond the socket.
#[derive(Debug)]
pub(crate) struct TlsStream {
    pub(crate) conn: rustls::ClientConnection,
    pub(crate) sock: Tcp,
}

impl TlsStream {
    /// Writes queued TLS records until none are left or the socket would block.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // Plaintext already decrypted? (Ok(0) here means close_notify was received.)
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // Need more records from the socket; WouldBlock goes up to the caller.
            match self.conn.read_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Try to send the alert describing the error; the error itself wins.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Processing may queue records (key update); send them if the socket allows, the
            // next write or flush retries otherwise.
            if self.conn.wants_write() {
                match self.flush_tls() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // After EOF from the socket, the reader now reports Ok(0) or UnexpectedEof.
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Earlier records first: if they can't all go, block (tungstenite keeps `buf`).
        self.flush_tls()?;
        let n = self.conn.writer().write(buf)?;
        // Push the new records out now if possible; errors other than WouldBlock surface on
        // the next call (we have consumed `n` bytes and must say so).
        let _ = self.flush_tls();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()?;
        self.sock.flush()
    }
}

/// What tungstenite reads from and writes to.
#[derive(Debug)]
pub(crate) enum Stream {
    /// `ws://`
    Plain(Tcp),
    /// `wss://`
    Tls(Box<TlsStream>),
}

impl Stream {
    pub(crate) fn tcp_mut(&mut self) -> &mut Tcp {
        match self {
            Stream::Plain(t) => t,
            Stream::Tls(t) => &mut t.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(t) => t.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(t) => t.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(t) => t.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

/// Resolves `host` and connects to each address in turn, each bounded by the connect
/// timeout. Sets TCP_NODELAY and keepalive. The system resolver (`getaddrinfo`) cannot be
/// bounded itself, so it runs on a short-lived thread and the lookup is abandoned after the
/// connect timeout (the thread then ends on its own when the resolver gives up).
pub(crate) fn tcp_connect(host: &str, port: u16, config: &Config) -> Result<TcpStream, Error> {
    let addrs = resolve(host, port, config.connect_timeout, |h, p| {
        (h.as_str(), p).to_socket_addrs().map(Iterator::collect)
    })?;
    let timeout = config.connect_timeout.max(Duration::from_millis(1));
    let mut last = None;
    for addr in addrs {
        log::trace!("tcp connect to {addr}");
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                tune(&stream, config)?;
                return Ok(stream);
            }
            Err(e) => {
                log::debug!("tcp connect to {addr} failed: {e}");
                last = Some(classify_connect_error(e, addr, timeout));
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Dns {
        host: host_port(host, port),
        reason: "no addresses found".to_owned(),
    }))
}

/// `resolver` on its own thread, waited for at most `timeout`. IP literals skip it.
pub(crate) fn resolve(
    host: &str,
    port: u16,
    timeout: Duration,
    resolver: impl FnOnce(String, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<SocketAddr>, Error> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let dns_error = |reason: String| Error::Dns {
        host: host.to_owned(),
        reason,
    };
    let (tx, rx) = crossbeam_channel::bounded(1);
    let name = host.to_owned();
    let thread = std::thread::Builder::new()
        .name("slack-ws-dns".into())
        .spawn(move || {
            let _ = tx.send(resolver(name, port));
        })
        .map_err(|e| dns_error(format!("cannot start the resolver thread: {e}")))?;
    let addrs = match rx.recv_timeout(timeout.max(Duration::from_millis(1))) {
        Ok(result) => {
            let _ = thread.join();
            result.map_err(|e| dns_error(e.to_string()))?
        }
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
            return Err(dns_error(format!(
                "no answer from the resolver within {:.1}s",
                timeout.as_secs_f64()
            )));
        }
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
            let _ = thread.join();
            return Err(dns_error("the resolver thread failed".to_owned()));
        }
    };
    if addrs.is_empty() {
        return Err(dns_error("no addresses found".to_owned()));
    }
    Ok(addrs)
}

fn classify_connect_error(e: io::Error, addr: SocketAddr, timeout: Duration) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Error::ConnectionRefused {
            addr: addr.to_string(),
        },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::ConnectTimeout {
            addr: addr.to_string(),
            timeout,
        },
        _ => Error::Io(e),
    }
}

/// TCP_NODELAY (acks are small and latency-sensitive) and keepalive (std and mio have no
/// keepalive setter, hence socket2).
fn tune(stream: &TcpStream, config: &Config) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    if let Some(idle) = config.tcp_keepalive {
        let keepalive = socket2::TcpKeepalive::new().with_time(idle);
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "windows"
        ))]
        let keepalive = keepalive.with_interval(Duration::from_secs(10));
        socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

/// The rustls client configuration: webpki-roots plus the extra PEM roots, ring provider,
/// safe default protocol versions (TLS 1.2 and 1.3).
pub(crate) fn client_config(config: &Config) -> Result<Arc<rustls::ClientConfig>, Error> {
    if let Some(custom) = &config.tls_config {
        return Ok(Arc::clone(custom));
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for pem in &config.extra_root_certs_pem {
        let mut added = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::InvalidRootCertificate {
                reason: e.to_string(),
            })?;
            roots.add(cert).map_err(|e| Error::InvalidRootCertificate {
                reason: e.to_string(),
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::InvalidRootCertificate {
                reason: "no CERTIFICATE block in the PEM data".to_owned(),
            });
        }
    }
    // A system store (SSL_CERT_FILE) mostly repeats webpki-roots: each anchor once (the
    // built-in one first, with its name constraints).
    if !config.extra_root_certs_pem.is_empty() {
        let mut seen = std::collections::HashSet::new();
        roots.roots.retain(|ta| {
            seen.insert((
                ta.subject.as_ref().to_vec(),
                ta.subject_public_key_info.as_ref().to_vec(),
                ta.name_constraints.as_ref().map(|n| n.as_ref().to_vec()),
            ))
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// Runs the TLS handshake on a blocking [`Tcp`] (bounded by its deadline).
pub(crate) fn tls_handshake(
    tls: Arc<rustls::ClientConfig>,
    host: &str,
    mut sock: Tcp,
    timeout: Duration,
) -> Result<TlsStream, Error> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| Error::InvalidUrl {
        reason: format!("host is not a valid tls server name: {e}"),
    })?;
    let mut conn = rustls::ClientConnection::new(tls, name).map_err(|e| from_rustls(&e, host))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            return Err(map_handshake_io(e, host, timeout));
        }
    }
    Ok(TlsStream { conn, sock })
}

/// Maps an I/O error seen during the handshakes: timeouts, TLS failures, the rest.
pub(crate) fn map_handshake_io(e: io::Error, host: &str, timeout: Duration) -> Error {
    if let Some(tls) = rustls_inner(&e) {
        return from_rustls(tls, host);
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::HandshakeTimeout { timeout },
        _ => Error::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_that_hangs_is_abandoned_after_the_timeout() {
        let started = Instant::now();
        let err = resolve("slow.example", 443, Duration::from_millis(100), |_, _| {
            std::thread::sleep(Duration::from_secs(2));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 443))])
        })
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "waited for the resolver"
        );
        assert!(
            matches!(&err, Error::Dns { host, reason } if host == "slow.example" && reason.contains("within")),
            "{err:?}"
        );
    }

    #[test]
    fn resolver_answers_and_errors_are_passed_on() {
        let ok = resolve("fast.example", 80, Duration::from_secs(10), |h, p| {
            assert_eq!((h.as_str(), p), ("fast.example", 80));
            Ok(vec![SocketAddr::from(([10, 0, 0, 1], 80))])
        })
        .unwrap();
        assert_eq!(ok, vec![SocketAddr::from(([10, 0, 0, 1], 80))]);
        let err = resolve("gone.example", 80, Duration::from_secs(10), |_, _| {
            Err(io::Error::other("no such host"))
        })
        .unwrap_err();
        assert!(matches!(&err, Error::Dns { reason, .. } if reason.contains("no such host")));
        let empty = resolve("empty.example", 80, Duration::from_secs(10), |_, _| {
            Ok(vec![])
        });
        assert!(matches!(empty, Err(Error::Dns { .. })));
    }

    #[test]
    fn ip_literals_need_no_resolver() {
        let v4 = resolve("127.0.0.1", 8080, Duration::from_millis(1), |_, _| {
            panic!("resolver called for an IP literal")
        })
        .unwrap();
        assert_eq!(v4, vec![SocketAddr::from(([127, 0, 0, 1], 8080))]);
        let v6 = resolve("[::1]", 443, Duration::from_millis(1), |_, _| {
            panic!("resolver called for an IP literal")
        })
        .unwrap();
        assert_eq!(v6, vec!["[::1]:443".parse::<SocketAddr>().unwrap()]);
    }
}
