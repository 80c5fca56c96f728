//! `slack-envelope`: the sans-I/O core of a Slack Socket Mode client.
//!
//! It parses what Slack sends, builds acks, watches each connection's liveness, decides when
//! to open, replace and close connections, and suppresses duplicate deliveries. It opens no
//! socket, starts no thread and never reads the clock: you feed it input with `handle_*(now, …)`
//! and drain what it wants done with [`Supervisor::poll_transmit`], [`Supervisor::poll_event`]
//! and [`Supervisor::poll_timeout`], in the style of `quinn-proto` and `str0m`.
//! Any WebSocket library and any event loop can drive it.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use slack_envelope::{Config, Event, OutFrame, Supervisor};
//!
//! let mut sup = Supervisor::new(Config::default())?;
//! let t0 = Instant::now();
//! sup.start(t0);
//!
//! // 1. The core asks for a connection: fetch a URL with `apps.connections.open`, open the socket.
//! let Some(Event::Connect { conn }) = sup.poll_event() else { panic!("expected Connect") };
//! sup.handle_connected(t0, conn)?;
//!
//! // 2. Slack says hello; the connection is ready.
//! sup.handle_text(t0, conn, r#"{"type":"hello","num_connections":1}"#.to_owned())?;
//!
//! // 3. An event arrives; the application takes it and acks it.
//! let frame = r#"{"envelope_id":"e-1","type":"events_api","accepts_response_payload":false,
//!     "payload":{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}}"#;
//! sup.handle_text(t0 + Duration::from_millis(5), conn, frame.to_owned())?;
//! let envelope = loop {
//!     match sup.poll_event() {
//!         Some(Event::Request { envelope, .. }) => break envelope,
//!         Some(_) => continue, // lifecycle events: connecting, connected, ready
//!         None => panic!("no request"),
//!     }
//! };
//! assert_eq!(envelope.event_id(), Some("Ev1"));
//! sup.ack(t0 + Duration::from_millis(6), envelope.envelope_id())?;
//!
//! // 4. The ack frame to write on the socket, exactly.
//! let t = sup.poll_transmit().expect("an ack");
//! assert_eq!(t.conn, conn);
//! assert_eq!(t.frame, OutFrame::Text(r#"{"envelope_id":"e-1"}"#.to_owned()));
//!
//! // 5. Nothing else is due until the liveness timer: ping after 5 s of quiet.
//! assert_eq!(sup.poll_timeout(), Some(t0 + Duration::from_millis(5) + Duration::from_secs(5)));
//! # Ok::<(), slack_envelope::Error>(())
//! ```
//!
//! # The loop
//!
//! * [`Event::Connect`]: fetch a fresh URL and open a socket for that [`ConnId`]; report
//!   [`Supervisor::handle_connected`] (or [`Supervisor::handle_connect_failed`], saying whether
//!   the failure is fatal, rate limited, or transient).
//! * Every frame from a socket: [`Supervisor::handle_text`], `handle_ping`, `handle_pong`,
//!   `handle_binary`, and `handle_closed` when it closes.
//! * [`Supervisor::poll_transmit`]: text (acks), pings and close frames to write, per connection.
//! * [`Event::Request`]: hand the envelope to the application, then [`Supervisor::ack`] it (or
//!   [`Supervisor::ack_with_payload`], or [`Supervisor::decline`] when it cannot be taken, so
//!   Slack's redelivery gets through).
//! * [`Event::Abort`]: drop that socket now.
//! * [`Supervisor::poll_timeout`]: call [`Supervisor::handle_timeout`] then.
//!
//! The typed views of payloads live in [`payload`], typed Events API events (and the
//! [`events::SlackEvent`] trait for typed listeners) in [`events`]; a single connection can also be driven
//! alone with [`Session`].
//!
//! `examples/tungstenite_loop.rs` in the repository is a whole bot on this crate alone: a
//! blocking loop over tungstenite and std sockets (`cargo run -p slack-envelope --example
//! tungstenite_loop` runs it against the fake Slack of `slack-testkit`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod ack;
mod backoff;
mod dedup;
mod error;
pub mod events;
mod frame;
mod hash;
pub mod logging;
pub mod payload;
pub mod proxy;
mod scan;
mod session;
mod supervisor;
mod text;

pub use ack::{DEFAULT_MAX_ACK_PAYLOAD, ack_frame, payload_to_json};
pub use backoff::{Backoff, Jitter};
pub use dedup::DedupWindow;
pub use error::Error;
pub use frame::{
    ConnectionInfo, DebugInfo, Disconnect, DisconnectReason, Envelope, EnvelopeKind, Frame, Hello,
    MAX_ID_LEN,
};
pub use session::{Session, SessionConfig, SessionEnd, SessionEvent, SessionState};
pub use supervisor::{
    Cause, Config, ConnId, ConnectFailure, Event, Lifecycle, MAX_CONNECTIONS, Stats, StopReason,
    Supervisor, Transmit,
};

/// A frame for the caller to write on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFrame {
    /// A text frame (an ack).
    Text(String),
    /// A WebSocket ping with this payload.
    Ping(Vec<u8>),
    /// A WebSocket close frame.
    Close {
        /// The close code (1000 for a normal close).
        code: u16,
        /// The reason text.
        reason: String,
    },
}
