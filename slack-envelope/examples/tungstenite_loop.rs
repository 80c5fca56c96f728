//! A Socket Mode bot on `slack-envelope` alone: its own blocking loop over tungstenite and std
//! sockets, no `slack-transport`, `slack-web` or `slack-bot`. It answers mentions with "Hello!
//! How can I help?", and the core does the rest: acks, pings only when the link is quiet,
//! zero-gap refresh, duplicate suppression, reconnects with backoff, a clean close.
//!
//! ```text
//! cargo run -p slack-envelope --example tungstenite_loop                      # against the fake Slack
//! SLACK_API_URL=http://127.0.0.1:PORT/api/ SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… \
//!     cargo run -p slack-envelope --example tungstenite_loop                  # e.g. the `fake-slack` binary
//! ```
//!
//! Without `SLACK_API_URL` (or with `--against-testkit`) it starts `slack-testkit`'s fake Slack,
//! plays a short script (a mention, a redelivery, a refresh), stops and checks the result.
//!
//! The I/O here is plain TCP (`http://`, `ws://`) to stay small. For Slack itself, wrap each
//! `TcpStream` in a TLS stream (e.g. `rustls::StreamOwned`) before the HTTP request and before
//! `tungstenite::client`; nothing else changes: the core never sees a socket.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::error::Error;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slack_envelope::payload::SlackEvent;
use slack_envelope::{
    Config, ConnId, ConnectFailure, Envelope, EnvelopeKind, Event, OutFrame, StopReason,
    Supervisor, Transmit,
};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;
type Headers = Vec<(String, String)>;

/// Where the bot connects, and with which tokens.
struct Target {
    api_url: String,
    app_token: String,
    bot_token: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    let from_env = (
        std::env::var("SLACK_API_URL"),
        std::env::var("SLACK_APP_TOKEN"),
        std::env::var("SLACK_BOT_TOKEN"),
    );
    if let (Ok(api_url), Ok(app_token), Ok(bot_token), false) =
        (from_env.0, from_env.1, from_env.2, against_testkit)
    {
        let target = Target {
            api_url,
            app_token,
            bot_token,
        };
        let never = AtomicBool::new(false);
        let reason = run(&target, &never)?;
        println!("stopped: {reason}");
        return Ok(());
    }
    against_the_fake()
}

// ---------------------------------------------------------------------------------------------
// The loop: feed the core what happened, do what it asks.

fn run(target: &Target, stop: &AtomicBool) -> Result<StopReason, Box<dyn Error>> {
    // Each process jitters differently.
    let config = Config::default().jitter_seed(u64::from(std::process::id()));
    let mut sup = Supervisor::new(config)?;
    let mut links: HashMap<ConnId, Ws> = HashMap::new();
    let mut stopping = false;
    sup.start(Instant::now());
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            sup.shutdown(now); // close frames (1000) for every connection, then Stopped
        }
        if sup.poll_timeout().is_some_and(|t| t <= now) {
            sup.handle_timeout(now);
        }

        // 1. What the core asks for.
        let mut requests = Vec::new();
        while let Some(event) = sup.poll_event() {
            match event {
                Event::Connect { conn } => match open(target) {
                    Ok(ws) => {
                        links.insert(conn, ws);
                        sup.handle_connected(Instant::now(), conn)?;
                    }
                    Err(failure) => {
                        eprintln!("[{conn}] connect failed: {failure:?}");
                        sup.handle_connect_failed(Instant::now(), conn, failure);
                    }
                },
                Event::Request { envelope, .. } => {
                    // Ack on receipt, then do the work (the ack is written just below).
                    sup.ack(Instant::now(), envelope.envelope_id())?;
                    requests.push(envelope);
                }
                Event::Duplicate {
                    envelope_id, key, ..
                } => {
                    println!("redelivery {envelope_id} of {key}: acked, not handled again");
                }
                Event::Abort { conn } => {
                    links.remove(&conn); // dropping the socket is all it takes
                }
                Event::Lifecycle(l) => println!("lifecycle: {l:?}"),
                Event::Stopped(reason) => return Ok(reason),
                _ => {}
            }
        }

        // 2. Frames to write: acks, pings, close frames.
        while let Some(Transmit { conn, frame }) = sup.poll_transmit() {
            let Some(ws) = links.get_mut(&conn) else {
                continue;
            };
            let msg = match frame {
                OutFrame::Text(t) => Message::text(t),
                OutFrame::Ping(p) => Message::Ping(p.into()),
                OutFrame::Close { code, reason } => Message::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })),
            };
            if let Err(e) = ws.send(msg) {
                links.remove(&conn);
                sup.handle_closed(Instant::now(), conn, None, &e.to_string())?;
            }
        }

        // 3. The application (acks are already on the wire).
        for envelope in &requests {
            handle(target, envelope);
        }

        // 4. Read until the next deadline, sharing the wait between the sockets.
        let wait = sup
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        if links.is_empty() {
            std::thread::sleep(wait);
            continue;
        }
        let slice = (wait / links.len() as u32).max(Duration::from_millis(1));
        let conns: Vec<ConnId> = links.keys().copied().collect();
        for conn in conns {
            let Some(ws) = links.get_mut(&conn) else {
                continue;
            };
            ws.get_ref().set_read_timeout(Some(slice))?;
            let read = ws.read();
            let now = Instant::now();
            match read {
                Ok(Message::Text(text)) => sup.handle_text(now, conn, text.to_string())?,
                Ok(Message::Ping(_)) => {
                    let _ = ws.flush(); // tungstenite queued the pong
                    sup.handle_ping(now, conn)?;
                }
                Ok(Message::Pong(payload)) => sup.handle_pong(now, conn, &payload)?,
                Ok(Message::Binary(b)) => sup.handle_binary(now, conn, b.len())?,
                Ok(Message::Close(frame)) => {
                    let _ = ws.flush(); // the reply to a peer's close
                    let (code, reason) = frame
                        .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                        .unwrap_or((None, String::new()));
                    links.remove(&conn);
                    sup.handle_closed(now, conn, code, &reason)?;
                }
                Ok(Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    links.remove(&conn);
                    sup.handle_closed(now, conn, None, &e.to_string())?;
                }
            }
        }
    }
}

/// The application: answer mentions.
fn handle(target: &Target, envelope: &Envelope) {
    if *envelope.kind() != EnvelopeKind::EventsApi {
        return;
    }
    let Ok(callback) = envelope.events_api() else {
        return;
    };
    if let SlackEvent::AppMention(m) = callback.event {
        if let Some(channel) = m.channel {
            let body = json!({"channel": channel, "text": "Hello! How can I help?"});
            match post(
                &target.api_url,
                "chat.postMessage",
                &target.bot_token,
                &body,
            ) {
                Ok((_, _, answer)) if answer["ok"] == true => {}
                Ok((status, _, answer)) => eprintln!("chat.postMessage: {status} {answer}"),
                Err(e) => eprintln!("chat.postMessage: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Opening a connection: `apps.connections.open` for a fresh URL, then the WebSocket.

/// Errors Slack reports for a token or app that retrying cannot fix.
const FATAL: [&str; 9] = [
    "invalid_auth",
    "not_authed",
    "not_allowed_token_type",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "team_disabled",
    "forbidden_team",
    "missing_args",
];

fn open(target: &Target) -> Result<Ws, ConnectFailure> {
    let transient = |e: &dyn std::fmt::Display| ConnectFailure::Transient {
        error: e.to_string(),
    };
    let (status, headers, answer) = post(
        &target.api_url,
        "apps.connections.open",
        &target.app_token,
        &json!({}),
    )
    .map_err(|e| transient(&e))?;
    if status == 429 {
        let secs = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(1);
        return Err(ConnectFailure::RateLimited {
            retry_after: Duration::from_secs(secs),
            error: "ratelimited".to_owned(),
        });
    }
    let Some(url) = answer["url"].as_str() else {
        let error = answer["error"].as_str().unwrap_or("no url").to_owned();
        return Err(if FATAL.contains(&error.as_str()) {
            ConnectFailure::Fatal { error }
        } else {
            ConnectFailure::Transient { error }
        });
    };
    let addr = host_port(url, "ws://").ok_or_else(|| transient(&"not a ws:// url"))?;
    let tcp = TcpStream::connect(addr).map_err(|e| transient(&e))?;
    tcp.set_nodelay(true).map_err(|e| transient(&e))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| transient(&e))?;
    let (ws, _response) = tungstenite::client(url, tcp).map_err(|e| transient(&e))?;
    Ok(ws)
}

/// `host:port` of a plain URL.
fn host_port<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    url.strip_prefix(scheme)?.split('/').next()
}

/// A JSON POST to `{api_url}{method}` over plain HTTP/1.1: status, headers, JSON answer.
fn post(
    api_url: &str,
    method: &str,
    token: &str,
    body: &Value,
) -> io::Result<(u16, Headers, Value)> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let addr =
        host_port(api_url, "http://").ok_or_else(|| invalid("SLACK_API_URL must be http://"))?;
    let path = api_url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/api/");
    let body = body.to_string();
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        tcp,
        "POST {path}{method} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad content-length"))?;
            }
            headers.push((k.to_owned(), v.trim().to_owned()));
        }
    }
    let mut answer = vec![0; length];
    reader.read_exact(&mut answer)?;
    let answer = serde_json::from_slice(&answer).map_err(|_| invalid("answer is not json"))?;
    Ok((status, headers, answer))
}

// ---------------------------------------------------------------------------------------------
// The scripted run against slack-testkit.

fn against_the_fake() -> Result<(), Box<dyn Error>> {
    const WAIT: Duration = Duration::from_secs(10);
    let slack = slack_testkit::FakeSlack::start()?;
    let target = Target {
        api_url: slack.api_url(),
        app_token: slack.app_token(),
        bot_token: slack.bot_token(),
    };
    let stop = AtomicBool::new(false);
    let mention =
        json!({"type": "app_mention", "channel": "C111", "user": "U111", "text": "<@U0BOT> hi"});
    let (script, reason) = std::thread::scope(|s| {
        let script = s.spawn(|| {
            let result = (|| -> Result<(), slack_testkit::Error> {
                slack.wait_for_connections(1, WAIT)?;
                // A mention: acked, answered.
                let id = slack.send_event(mention.clone())?;
                slack.wait_for_ack(&id, WAIT)?;
                slack.wait_for_call("chat.postMessage", WAIT)?;
                // Slack redelivers it (new envelope id, same event_id): acked, not answered again.
                let payload = slack.event_callback(mention.clone());
                let first =
                    slack.send_envelope(json!({"type": "events_api", "payload": payload}))?;
                let again = slack
                    .send_envelope(json!({"type": "events_api", "payload": payload,
                    "retry_attempt": 1, "retry_reason": "timeout"}))?;
                slack.wait_for_ack(&first, WAIT)?;
                slack.wait_for_ack(&again, WAIT)?;
                // A routine refresh: the new connection says hello before the old one closes.
                let old = slack
                    .open_connections()
                    .first()
                    .copied()
                    .ok_or(slack_testkit::Error::Timeout("a connection".into()))?;
                slack.disconnect(old, "refresh_requested")?;
                slack.wait_for_close(old, WAIT)?;
                slack.wait_for_connections(1, WAIT)?;
                let id = slack.send_event(mention.clone())?;
                slack.wait_for_ack(&id, WAIT)?;
                Ok(())
            })();
            stop.store(true, Ordering::Relaxed); // stop the loop whatever happened
            result
        });
        let reason = run(&target, &stop);
        (script.join(), reason)
    });
    let reason = reason?;
    script.map_err(|_| "the script panicked")??;
    let posts = slack
        .calls()
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .count();
    let conns = slack.connections().len();
    println!("stopped: {reason}; {posts} replies posted over {conns} connections");
    if reason != StopReason::Shutdown || posts != 3 || conns != 2 {
        return Err("expected a shutdown, 3 replies and 2 connections".into());
    }
    println!("ok: mention answered, redelivery suppressed, refresh without a gap, clean close");
    slack.shutdown();
    Ok(())
}
