//! The server side of one Socket Mode WebSocket connection: a mio loop per connection thread
//! with a hand-rolled frame layer (so pongs, close handshakes and garbage are under our control).
//! A benchmark stream (`stream.rs`) runs inside this loop when `FakeSlack::stream_envelopes` asks.

use std::collections::VecDeque;
use std::io::{self, Cursor, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Interest, Poll, Token, Waker};
use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::http::HttpStream;
use crate::server::{Cmd, ConnEntry, Shared};
use crate::stream::Blast;
use crate::types::{Ack, ConnId, ConnectionInfo, Event, Fault, Garbage};
use crate::util::lock;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Largest frame accepted from a client.
const MAX_FRAME: u64 = 16 * 1024 * 1024;

enum WsStream {
    Plain(mio::net::TcpStream),
    Tls(Box<StreamOwned<ServerConnection, mio::net::TcpStream>>),
}

impl WsStream {
    fn sock(&mut self) -> &mut mio::net::TcpStream {
        match self {
            WsStream::Plain(s) => s,
            WsStream::Tls(s) => &mut s.sock,
        }
    }
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            WsStream::Plain(s) => s.read(buf),
            WsStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WsStream::Plain(s) => s.write(buf),
            WsStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            WsStream::Plain(s) => s.flush(),
            WsStream::Tls(s) => s.flush(),
        }
    }
}

fn to_mio(stream: HttpStream) -> io::Result<WsStream> {
    Ok(match stream {
        HttpStream::Plain(s) => {
            s.set_nonblocking(true)?;
            WsStream::Plain(mio::net::TcpStream::from_std(s))
        }
        HttpStream::Tls(b) => {
            let StreamOwned { conn, sock } = *b;
            sock.set_nonblocking(true)?;
            WsStream::Tls(Box::new(StreamOwned::new(
                conn,
                mio::net::TcpStream::from_std(sock),
            )))
        }
    })
}

struct Conn<'a> {
    shared: &'a Arc<Shared>,
    id: u64,
    stream: WsStream,
    rx: Receiver<Cmd>,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    frag: Option<(bool, Vec<u8>)>,
    silent: bool,
    withhold_pongs: bool,
    pong_delay: Option<Duration>,
    delayed_pongs: VecDeque<(Instant, Vec<u8>)>,
    hello_at: Option<Instant>,
    close_at: Option<Instant>,
    /// When this link (opened with `debug_reconnects=true`) gets `refresh_requested`.
    debug_refresh_at: Option<Instant>,
    closing: Option<(Instant, String)>,
    keep_tcp: bool,
    next_ping: Option<Instant>,
    done: Option<String>,
    ws_closed_reported: bool,
    /// A running benchmark stream.
    blast: Option<Blast>,
}

/// Runs a connection after a successful upgrade request until it closes.
pub(crate) fn run(
    shared: &Arc<Shared>,
    stream: HttpStream,
    head: Vec<u8>,
    rest: Vec<u8>,
    peer: SocketAddr,
    target: String,
    _sid: u64,
) {
    let mut stream = match to_mio(stream) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("could not switch the socket to non-blocking: {e}");
            return;
        }
    };
    let setup = (|| -> io::Result<(Poll, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        poll.registry().register(
            stream.sock(),
            SOCKET,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok((poll, waker))
    })();
    let (mut poll, waker) = match setup {
        Ok(x) => x,
        Err(e) => {
            log::warn!("could not set up the connection poller: {e}");
            return;
        }
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let now = Instant::now();
    let (id, refused) = {
        let mut st = lock(&shared.state);
        st.next_conn += 1;
        let id = st.next_conn;
        let open = st
            .conns
            .values()
            .filter(|c| c.info.open && !c.info.refused)
            .count();
        let refused = open >= shared.cfg.max_connections;
        let ready = !refused && !shared.cfg.send_hello;
        st.conns.insert(
            id,
            ConnEntry {
                info: ConnectionInfo {
                    id: ConnId(id),
                    peer,
                    target: target.clone(),
                    open: true,
                    refused,
                    hello_sent: false,
                    opened_at: now,
                    closed_at: None,
                    close_reason: None,
                    disconnect_sent: None,
                    envelopes_sent: 0,
                    frames_received: 0,
                    pings_received: 0,
                },
                tx,
                waker,
                ready,
                draining: false,
            },
        );
        if ready {
            shared.flush_queue(&mut st);
        }
        (id, refused)
    };
    shared.cond.notify_all();
    if refused {
        log::info!(
            "refusing websocket {id}: over the limit of {}",
            shared.cfg.max_connections
        );
        shared.emit(Event::ConnectionRefused { id: ConnId(id) });
    } else {
        log::debug!("websocket {id} opened from {peer}");
        shared.emit(Event::ConnectionOpened {
            id: ConnId(id),
            target: target.clone(),
        });
    }
    let debug_reconnects = target.contains("debug_reconnects=true");
    let mut conn = Conn {
        shared,
        id,
        stream,
        rx,
        inbuf: rest,
        outbuf: head,
        frag: None,
        silent: false,
        withhold_pongs: false,
        pong_delay: None,
        delayed_pongs: VecDeque::new(),
        hello_at: if shared.cfg.send_hello && !refused {
            Some(now + shared.cfg.hello_delay)
        } else {
            None
        },
        close_at: None,
        debug_refresh_at: (debug_reconnects && !refused)
            .then(|| now + shared.cfg.debug_reconnect_after),
        closing: None,
        keep_tcp: false,
        next_ping: shared.cfg.ping_interval.map(|d| now + d),
        done: None,
        ws_closed_reported: false,
        blast: None,
    };
    if refused {
        conn.send_disconnect("too_many_websockets");
    }
    let reason = conn.run_loop(&mut poll);
    if let Some(b) = conn.blast.take() {
        b.finish(Some(format!("connection closed: {reason}")));
    }
    if let WsStream::Tls(s) = &mut conn.stream {
        s.conn.send_close_notify();
        let _ = s.flush();
    }
    let _ = conn.stream.sock().shutdown(Shutdown::Both);
    conn.report_closed(&reason);
    log::debug!("websocket {id} finished: {reason}");
}

impl Conn<'_> {
    fn run_loop(&mut self, poll: &mut Poll) -> String {
        let mut events = Events::with_capacity(16);
        self.parse_frames();
        loop {
            self.flush_out();
            if let Some(reason) = self.done.take() {
                return reason;
            }
            let now = Instant::now();
            let mut deadlines: Vec<Instant> = Vec::new();
            deadlines.extend(self.hello_at);
            deadlines.extend(self.close_at);
            deadlines.extend(self.debug_refresh_at);
            deadlines.extend(self.closing.as_ref().map(|(t, _)| *t));
            deadlines.extend(self.delayed_pongs.front().map(|(t, _)| *t));
            deadlines.extend(self.next_ping);
            let timeout = deadlines
                .into_iter()
                .min()
                .map(|d| d.saturating_duration_since(now));
            if let Err(e) = poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return format!("poll failed: {e}");
                }
            }
            let mut peer_gone = false;
            for ev in events.iter() {
                if ev.token() == SOCKET && (ev.is_read_closed() || ev.is_error()) {
                    peer_gone = true;
                }
            }
            if self.shared.is_shutdown() {
                self.outbuf.clear();
                self.write_close(1001, "");
                self.flush_out();
                return "shutdown".into();
            }
            while let Ok(cmd) = self.rx.try_recv() {
                self.handle_cmd(cmd);
            }
            self.timers();
            if self.silent {
                if peer_gone {
                    return "client dropped tcp (while silent)".into();
                }
            } else {
                self.read_available();
            }
            self.fill_stream();
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        if self.hello_at.is_some_and(|t| t <= now) {
            self.hello_at = None;
            self.send_hello();
        }
        if self.close_at.is_some_and(|t| t <= now) {
            self.close_at = None;
            self.start_close(1000, "refresh follow-through");
        }
        if self.debug_refresh_at.is_some_and(|t| t <= now) {
            self.debug_refresh_at = None;
            if !self.silent && !self.keep_tcp && self.closing.is_none() {
                log::debug!("websocket {}: debug_reconnects refresh", self.id);
                self.send_disconnect("refresh_requested");
            }
        }
        if let Some((t, reason)) = &self.closing {
            if *t <= now {
                let reason = format!("{reason} (no close reply from client)");
                self.closing = None;
                self.done = Some(reason);
            }
        }
        while self.delayed_pongs.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, data)) = self.delayed_pongs.pop_front() {
                if !self.silent {
                    self.write_frame(OpCode::Control(Control::Pong), &data);
                }
            }
        }
        if let (Some(t), Some(every)) = (self.next_ping, self.shared.cfg.ping_interval) {
            if t <= now {
                self.next_ping = Some(now + every);
                if !self.silent && !self.keep_tcp && self.closing.is_none() {
                    self.write_frame(OpCode::Control(Control::Ping), b"testkit");
                }
            }
        }
    }

    fn send_hello(&mut self) {
        let (num, app_id) = {
            let st = lock(&self.shared.state);
            let n = st
                .conns
                .values()
                .filter(|c| c.info.open && !c.info.refused)
                .count();
            (n, self.shared.cfg.app_id.clone())
        };
        let hello = json!({
            "type": "hello",
            "num_connections": num,
            "debug_info": {
                "host": format!("applink-testkit-{}", self.id),
                "build_number": 10,
                "approximate_connection_time": self.shared.cfg.approximate_connection_time,
            },
            "connection_info": {"app_id": app_id},
        });
        self.write_text(&hello.to_string());
        {
            let mut st = lock(&self.shared.state);
            if let Some(c) = st.conns.get_mut(&self.id) {
                c.ready = true;
                c.info.hello_sent = true;
            }
            self.shared.flush_queue(&mut st);
        }
        self.shared.cond.notify_all();
        self.shared.emit(Event::HelloSent {
            id: ConnId(self.id),
        });
    }

    fn send_disconnect(&mut self, reason: &str) {
        let frame = json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": format!("applink-testkit-{}", self.id)},
        });
        self.write_text(&frame.to_string());
        {
            let mut st = lock(&self.shared.state);
            if let Some(c) = st.conns.get_mut(&self.id) {
                c.info.disconnect_sent = Some(reason.to_string());
                if reason != "warning" {
                    c.draining = true;
                }
            }
        }
        self.shared.emit(Event::DisconnectSent {
            id: ConnId(self.id),
            reason: reason.to_string(),
        });
        match reason {
            "warning" => {}
            "link_disabled" | "too_many_websockets" => self.start_close(1000, reason),
            _ => {
                let at = Instant::now() + self.shared.cfg.refresh_grace;
                self.close_at = Some(self.close_at.map_or(at, |t| t.min(at)));
            }
        }
    }

    fn handle_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Text(text) => {
                if self.silent || self.keep_tcp || self.closing.is_some() {
                    log::debug!(
                        "websocket {}: dropping an envelope (connection not writable)",
                        self.id
                    );
                } else {
                    self.write_text(&text);
                }
            }
            Cmd::Disconnect(reason) => {
                if !self.silent && !self.keep_tcp && self.closing.is_none() {
                    self.send_disconnect(&reason);
                }
            }
            Cmd::Fault(f) => self.fault(f),
            Cmd::Shutdown => {
                // Handled by the shutdown flag check in the loop.
            }
            Cmd::Stream(job) => {
                if let Some(old) = self.blast.take() {
                    old.finish(Some("replaced by another stream".into()));
                }
                self.blast = Some(Blast::new(*job));
                self.fill_stream();
            }
            Cmd::StopStream => {
                if let Some(old) = self.blast.take() {
                    old.finish(Some("stopped".into()));
                }
            }
        }
    }

    /// Tops up the benchmark stream's window, or reports it when every envelope is acked.
    fn fill_stream(&mut self) {
        let Some(b) = self.blast.as_mut() else {
            return;
        };
        if b.done() {
            if let Some(b) = self.blast.take() {
                b.finish(None);
            }
            return;
        }
        if self.silent || self.keep_tcp || self.closing.is_some() || self.done.is_some() {
            return;
        }
        b.fill(&mut self.outbuf);
    }

    fn fault(&mut self, f: Fault) {
        log::debug!("websocket {}: injecting fault {f:?}", self.id);
        match f {
            Fault::DropTcp => {
                self.outbuf.clear();
                let _ = self.stream.sock().shutdown(Shutdown::Both);
                self.done = Some("fault: drop_tcp".into());
            }
            Fault::Silent => {
                self.silent = true;
                self.outbuf.clear();
                self.hello_at = None;
                self.close_at = None;
            }
            Fault::Garbage(kind) => match kind {
                Garbage::InvalidJson => self.write_text("{this is not json"),
                Garbage::Binary => {
                    self.write_frame(OpCode::Data(Data::Binary), &[0, 159, 146, 150, 255])
                }
                Garbage::UnknownEnvelopeType => {
                    let f = json!({"envelope_id": crate::util::uuid_like(), "type": "testkit_unknown_type",
                        "payload": {"hello": "world"}, "accepts_response_payload": false,
                        "some_future_field": [1, 2, 3]});
                    self.write_text(&f.to_string());
                }
                Garbage::MissingFields => self.write_text(r#"{"type":"events_api"}"#),
                Garbage::NotAnObject => self.write_text("[1,2,3]"),
            },
            Fault::Oversized(n) => {
                let pad = "x".repeat(n.saturating_sub(40));
                let f = json!({"type": "testkit_oversized", "padding": pad});
                self.write_text(&f.to_string());
            }
            Fault::WithholdPongs => self.withhold_pongs = true,
            Fault::DelayPongs(d) => self.pong_delay = Some(d),
            Fault::CloseKeepTcp => {
                self.write_close(1000, "");
                self.keep_tcp = true;
                self.close_at = None;
                self.report_ws_closed("fault: close_keep_tcp");
            }
            Fault::Ping(data) => self.write_frame(OpCode::Control(Control::Ping), &data),
            Fault::Close(code) => self.start_close(code, &format!("fault: close {code}")),
        }
    }

    fn start_close(&mut self, code: u16, reason: &str) {
        if self.closing.is_some() || self.keep_tcp {
            return;
        }
        self.write_close(code, "");
        self.closing = Some((
            Instant::now() + self.shared.cfg.close_timeout,
            reason.to_string(),
        ));
        self.report_ws_closed(reason);
    }

    fn write_close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        self.write_frame(OpCode::Control(Control::Close), &payload);
    }

    fn write_text(&mut self, text: &str) {
        self.write_frame(OpCode::Data(Data::Text), text.as_bytes());
    }

    fn write_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        let header = FrameHeader {
            is_final: true,
            opcode,
            mask: None,
            ..FrameHeader::default()
        };
        let _ = header.format(payload.len() as u64, &mut self.outbuf);
        self.outbuf.extend_from_slice(payload);
    }

    fn flush_out(&mut self) {
        if self.silent && !self.outbuf.is_empty() {
            self.outbuf.clear();
        }
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => break,
                Ok(n) => {
                    self.outbuf.drain(..n.min(self.outbuf.len()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.outbuf.clear();
                    if self.done.is_none() {
                        self.done = Some(format!("write failed: {e}"));
                    }
                    return;
                }
            }
        }
        match self.stream.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                if self.done.is_none() {
                    self.done = Some(format!("write failed: {e}"));
                }
            }
        }
    }

    fn read_available(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.done.is_some() {
                return;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    let reason = match &self.closing {
                        Some((_, r)) => r.clone(),
                        None if self.keep_tcp => "fault: close_keep_tcp; client dropped tcp".into(),
                        None => "client dropped tcp without a close frame".into(),
                    };
                    self.done = Some(reason);
                    return;
                }
                Ok(n) => {
                    if self.keep_tcp {
                        continue;
                    }
                    self.inbuf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                    self.parse_frames();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = Some(format!("read failed: {e}"));
                    return;
                }
            }
        }
    }

    fn protocol_error(&mut self, code: u16, why: &str) {
        log::info!("websocket {}: protocol error from client: {why}", self.id);
        self.inbuf.clear();
        self.write_close(code, why);
        self.report_ws_closed(&format!("protocol error: {why}"));
        self.done = Some(format!("protocol error: {why}"));
    }

    fn parse_frames(&mut self) {
        while self.done.is_none() && !self.keep_tcp {
            let mut cur = Cursor::new(self.inbuf.as_slice());
            let (header, len) = match FrameHeader::parse(&mut cur) {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(e) => {
                    self.protocol_error(1002, &format!("bad frame header: {e}"));
                    return;
                }
            };
            let hlen = usize::try_from(cur.position()).unwrap_or(usize::MAX);
            if len > MAX_FRAME {
                self.protocol_error(1009, "frame too large");
                return;
            }
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let total = hlen.saturating_add(len);
            if self.inbuf.len() < total {
                return;
            }
            let mut payload: Vec<u8> = self
                .inbuf
                .get(hlen..total)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            self.inbuf.drain(..total);
            match header.mask {
                Some(mask) => {
                    for (b, m) in payload.iter_mut().zip(mask.iter().cycle()) {
                        *b ^= m;
                    }
                }
                None => {
                    self.protocol_error(1002, "unmasked client frame");
                    return;
                }
            }
            if header.rsv1 || header.rsv2 || header.rsv3 {
                self.protocol_error(1002, "reserved bits set");
                return;
            }
            match header.opcode {
                OpCode::Data(Data::Text) | OpCode::Data(Data::Binary) => {
                    let is_text = header.opcode == OpCode::Data(Data::Text);
                    if self.frag.is_some() {
                        self.protocol_error(1002, "new message inside a fragmented one");
                        return;
                    }
                    if header.is_final {
                        self.on_message(is_text, payload);
                    } else {
                        self.frag = Some((is_text, payload));
                    }
                }
                OpCode::Data(Data::Continue) => match self.frag.take() {
                    Some((is_text, mut data)) => {
                        data.extend_from_slice(&payload);
                        if data.len() as u64 > MAX_FRAME {
                            self.protocol_error(1009, "message too large");
                            return;
                        }
                        if header.is_final {
                            self.on_message(is_text, data);
                        } else {
                            self.frag = Some((is_text, data));
                        }
                    }
                    None => {
                        self.protocol_error(1002, "continuation without a message");
                        return;
                    }
                },
                OpCode::Control(Control::Ping) => {
                    {
                        let mut st = lock(&self.shared.state);
                        if let Some(c) = st.conns.get_mut(&self.id) {
                            c.info.pings_received += 1;
                        }
                    }
                    if self.withhold_pongs {
                        // Withheld on purpose.
                    } else if let Some(d) = self.pong_delay {
                        self.delayed_pongs.push_back((Instant::now() + d, payload));
                    } else {
                        self.write_frame(OpCode::Control(Control::Pong), &payload);
                    }
                }
                OpCode::Control(Control::Pong) => {}
                OpCode::Control(Control::Close) => {
                    self.on_close(&payload);
                    return;
                }
                OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => {
                    self.protocol_error(1002, "reserved opcode");
                    return;
                }
            }
        }
    }

    fn on_close(&mut self, payload: &[u8]) {
        let code = match (payload.first(), payload.get(1)) {
            (Some(a), Some(b)) => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        };
        match self.closing.take() {
            Some((_, reason)) => self.done = Some(reason),
            None => {
                // Echo the code, as RFC 6455 asks.
                let echo: Vec<u8> = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                self.write_frame(OpCode::Control(Control::Close), &echo);
                let reason = match code {
                    Some(c) => format!("client closed ({c})"),
                    None => "client closed".to_string(),
                };
                self.report_ws_closed(&reason);
                self.done = Some(reason);
            }
        }
    }

    fn on_message(&mut self, is_text: bool, data: Vec<u8>) {
        if is_text && self.blast.as_mut().is_some_and(|b| b.take_ack(&data)) {
            return;
        }
        {
            let mut st = lock(&self.shared.state);
            if let Some(c) = st.conns.get_mut(&self.id) {
                c.info.frames_received += 1;
            }
        }
        if !is_text {
            log::info!(
                "websocket {}: unexpected binary frame ({} bytes)",
                self.id,
                data.len()
            );
            self.shared.emit(Event::Frame {
                id: ConnId(self.id),
                text: format!("<binary frame, {} bytes>", data.len()),
            });
            return;
        }
        let text = match String::from_utf8(data) {
            Ok(t) => t,
            Err(_) => {
                self.protocol_error(1007, "text frame is not utf-8");
                return;
            }
        };
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let envelope_id = parsed
            .as_ref()
            .and_then(|v| v.get("envelope_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match (parsed, envelope_id) {
            (Some(frame), Some(envelope_id)) => self.record_ack(frame, envelope_id),
            _ => {
                log::info!("websocket {}: a text frame that is not an ack", self.id);
                self.shared.emit(Event::Frame {
                    id: ConnId(self.id),
                    text,
                });
            }
        }
    }

    fn record_ack(&mut self, frame: Value, envelope_id: String) {
        let ack = {
            let mut st = lock(&self.shared.state);
            let (first, attempt, known) = match st.deliveries.get(&envelope_id) {
                Some((first, attempt)) => (first.clone(), *attempt, true),
                None => (envelope_id.clone(), 0, false),
            };
            if known {
                st.pending.retain(|_, p| p.first_id != first);
            }
            let ack = Ack {
                envelope_id,
                first_envelope_id: first,
                retry_attempt: attempt,
                known,
                payload: frame.get("payload").cloned(),
                connection: ConnId(self.id),
                at: Instant::now(),
                frame,
            };
            st.acks.push(ack.clone());
            ack
        };
        log::debug!("websocket {}: ack for {}", self.id, ack.envelope_id);
        self.shared.cond.notify_all();
        self.shared.emit(Event::Ack(ack));
    }

    /// Marks the WebSocket as closed in the shared state (once).
    fn report_ws_closed(&mut self, reason: &str) {
        if self.ws_closed_reported {
            return;
        }
        self.ws_closed_reported = true;
        {
            let mut st = lock(&self.shared.state);
            if let Some(c) = st.conns.get_mut(&self.id) {
                c.info.open = false;
                c.ready = false;
                c.info.closed_at = Some(Instant::now());
                c.info.close_reason = Some(reason.to_string());
            }
        }
        self.shared.cond.notify_all();
        self.shared.emit(Event::ConnectionClosed {
            id: ConnId(self.id),
            reason: reason.to_string(),
        });
    }

    fn report_closed(&mut self, reason: &str) {
        self.report_ws_closed(reason);
    }
}
