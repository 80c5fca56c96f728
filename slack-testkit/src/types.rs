//! The public value types: acks, Web API calls, connections, faults, events.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Identifies one WebSocket connection to the fake, in the order they were opened (1, 2, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An acknowledgement frame (`{"envelope_id": …}`) received from a client.
#[derive(Debug, Clone)]
pub struct Ack {
    /// The `envelope_id` the client sent back.
    pub envelope_id: String,
    /// The id returned by `send_envelope` for the envelope this acks: equal to `envelope_id`
    /// unless this acks a redelivery (redeliveries get a fresh `envelope_id`).
    pub first_envelope_id: String,
    /// The `retry_attempt` of the delivery this acks (0 for the first delivery).
    pub retry_attempt: u32,
    /// Whether the fake had delivered an envelope with this id (false for unknown ids).
    pub known: bool,
    /// The optional `payload` of the ack.
    pub payload: Option<Value>,
    /// The connection the ack arrived on.
    pub connection: ConnId,
    /// When the ack arrived.
    pub at: Instant,
    /// The whole ack frame.
    pub frame: Value,
}

/// One Web API request the fake answered (including `apps.connections.open` and `response_url` posts).
#[derive(Debug, Clone)]
pub struct WebCall {
    /// The Web API method (`"chat.postMessage"`), or `"response_url"` for a post to a response URL.
    pub method: String,
    /// The HTTP method (`"POST"`, `"GET"`).
    pub http_method: String,
    /// The request path with its query string.
    pub target: String,
    /// All request headers, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The decoded body: the JSON body, or the form/query fields as a JSON object of strings
    /// (form fields named `blocks`, `attachments`, `view`, `metadata`, `options` are parsed as JSON
    /// when they hold valid JSON).
    pub body: Value,
    /// The raw body bytes, lossily decoded as UTF-8.
    pub raw_body: String,
    /// The token the call carried (`Authorization: Bearer` or a `token` field), if any.
    pub token: Option<String>,
    /// The HTTP status the fake answered with.
    pub status: u16,
    /// The JSON the fake answered with.
    pub response: Value,
    /// When the request was answered.
    pub at: Instant,
}

impl WebCall {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A string field of the decoded body.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
}

/// What the fake knows about one WebSocket connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The connection's id.
    pub id: ConnId,
    /// The client's address.
    pub peer: SocketAddr,
    /// The request target of the upgrade (`/link/?ticket=…`).
    pub target: String,
    /// Whether the WebSocket is still open.
    pub open: bool,
    /// Whether the fake refused it with `too_many_websockets`.
    pub refused: bool,
    /// Whether `hello` was sent.
    pub hello_sent: bool,
    /// When the upgrade completed.
    pub opened_at: Instant,
    /// When it closed.
    pub closed_at: Option<Instant>,
    /// Why it closed (`"client closed"`, `"refresh_requested"`, `"fault: drop_tcp"`, …).
    pub close_reason: Option<String>,
    /// The reason of the last `disconnect` frame sent on it.
    pub disconnect_sent: Option<String>,
    /// Envelopes delivered on it.
    pub envelopes_sent: u64,
    /// Data frames received on it.
    pub frames_received: u64,
    /// Pings received from the client.
    pub pings_received: u64,
}

/// Malformed or unexpected frames the fake can send (see [`Fault::Garbage`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// A text frame that is not JSON.
    InvalidJson,
    /// A binary frame.
    Binary,
    /// An envelope with an unknown `type` (it has an `envelope_id`, so it should still be acked).
    UnknownEnvelopeType,
    /// An envelope without `envelope_id` and `payload`.
    MissingFields,
    /// A JSON value that is not an object (`[1,2,3]`).
    NotAnObject,
}

/// A fault to inject on one connection (see [`crate::FakeSlack::fault`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Drop the TCP connection without a close frame.
    DropTcp,
    /// Go silent while keeping TCP open (half-open): no reads, no writes, no pongs, and envelopes
    /// delivered to it vanish (and get redelivered after the ack timeout).
    Silent,
    /// Send a malformed or unexpected frame.
    Garbage(Garbage),
    /// Send a text frame of about this many bytes (a JSON object with an unknown `type`).
    Oversized(usize),
    /// Stop answering pings (everything else keeps working).
    WithholdPongs,
    /// Answer pings only after this delay.
    DelayPongs(Duration),
    /// Send a close frame, then keep the TCP connection open and ignore everything.
    CloseKeepTcp,
    /// Send a WebSocket ping with this payload (as Slack does now and then).
    Ping(Vec<u8>),
    /// Close the WebSocket with this close code (and then TCP, like a normal close).
    Close(u16),
}

impl Fault {
    /// Parses a fault name as used by the `fake-slack` binary (`"drop_tcp"`, `"silent"`,
    /// `"invalid_json"`, `"binary"`, `"unknown_envelope_type"`, `"missing_fields"`,
    /// `"not_an_object"`, `"oversized"`, `"withhold_pongs"`, `"delay_pongs"`, `"close_keep_tcp"`,
    /// `"ping"`, `"close"`); `arg` is bytes for `oversized`, milliseconds for `delay_pongs`, the
    /// code for `close`.
    pub fn from_name(name: &str, arg: Option<u64>) -> Option<Fault> {
        Some(match name {
            "drop_tcp" => Fault::DropTcp,
            "silent" => Fault::Silent,
            "invalid_json" => Fault::Garbage(Garbage::InvalidJson),
            "binary" => Fault::Garbage(Garbage::Binary),
            "unknown_envelope_type" => Fault::Garbage(Garbage::UnknownEnvelopeType),
            "missing_fields" => Fault::Garbage(Garbage::MissingFields),
            "not_an_object" => Fault::Garbage(Garbage::NotAnObject),
            "oversized" => {
                Fault::Oversized(usize::try_from(arg.unwrap_or(1 << 20)).unwrap_or(1 << 20))
            }
            "withhold_pongs" => Fault::WithholdPongs,
            "delay_pongs" => Fault::DelayPongs(Duration::from_millis(arg.unwrap_or(5000))),
            "close_keep_tcp" => Fault::CloseKeepTcp,
            "ping" => Fault::Ping(b"testkit".to_vec()),
            "close" => Fault::Close(u16::try_from(arg.unwrap_or(1000)).unwrap_or(1000)),
            _ => return None,
        })
    }
}

/// How `apps.connections.open` should fail (see [`crate::FakeSlack::fail_connections_open`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// `{"ok":false,"error":"invalid_auth"}`.
    InvalidAuth,
    /// `{"ok":false,"error":"not_allowed_token_type"}`.
    NotAllowedTokenType,
    /// HTTP 429 with `Retry-After` and `{"ok":false,"error":"ratelimited"}`.
    Ratelimited {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// `{"ok":false,"error":"internal_error"}`.
    InternalError,
    /// HTTP 503 with an HTML body, as a broken load balancer would answer.
    ServiceUnavailable,
    /// Any other Slack error code, HTTP 200.
    Other(String),
}

impl OpenError {
    /// Parses `"invalid_auth"`, `"not_allowed_token_type"`, `"ratelimited"` (with
    /// `retry_after_secs`), `"internal_error"`, `"service_unavailable"`, or any other code.
    pub fn from_name(name: &str, retry_after_secs: u64) -> OpenError {
        match name {
            "invalid_auth" => OpenError::InvalidAuth,
            "not_allowed_token_type" => OpenError::NotAllowedTokenType,
            "ratelimited" => OpenError::Ratelimited { retry_after_secs },
            "internal_error" => OpenError::InternalError,
            "service_unavailable" => OpenError::ServiceUnavailable,
            other => OpenError::Other(other.to_string()),
        }
    }
}

/// Something that happened in the fake, as streamed by [`crate::FakeSlack::subscribe`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Event {
    /// A WebSocket connection was opened (before `hello`).
    ConnectionOpened {
        /// Its id.
        id: ConnId,
        /// The upgrade request target.
        target: String,
    },
    /// `hello` was sent on a connection.
    HelloSent {
        /// The connection.
        id: ConnId,
    },
    /// A WebSocket connection was refused with `too_many_websockets`.
    ConnectionRefused {
        /// Its id.
        id: ConnId,
    },
    /// A WebSocket connection closed.
    ConnectionClosed {
        /// Its id.
        id: ConnId,
        /// Why.
        reason: String,
    },
    /// An envelope was written to a connection.
    EnvelopeSent {
        /// The connection.
        id: ConnId,
        /// The delivery's `envelope_id`.
        envelope_id: String,
        /// The delivery's `retry_attempt`.
        retry_attempt: u32,
        /// The envelope `type`.
        kind: String,
    },
    /// A `disconnect` frame was sent.
    DisconnectSent {
        /// The connection.
        id: ConnId,
        /// The reason.
        reason: String,
    },
    /// An ack arrived.
    Ack(Ack),
    /// A text frame that is not an ack arrived.
    Frame {
        /// The connection.
        id: ConnId,
        /// The text.
        text: String,
    },
    /// A Web API call was answered.
    WebCall(WebCall),
    /// An envelope was not acked after its last retry.
    GaveUp {
        /// The id returned by `send_envelope`.
        envelope_id: String,
    },
}

impl Event {
    /// The event as one JSON object, as the `fake-slack` binary prints it (tokens are not included).
    pub fn to_json(&self) -> Value {
        match self {
            Event::ConnectionOpened { id, target } => {
                json!({"event":"connection_opened","conn":id.0,"target":redact_ticket(target)})
            }
            Event::HelloSent { id } => json!({"event":"hello_sent","conn":id.0}),
            Event::ConnectionRefused { id } => json!({"event":"connection_refused","conn":id.0}),
            Event::ConnectionClosed { id, reason } => {
                json!({"event":"connection_closed","conn":id.0,"reason":reason})
            }
            Event::EnvelopeSent {
                id,
                envelope_id,
                retry_attempt,
                kind,
            } => json!({"event":"envelope_sent","conn":id.0,"envelope_id":envelope_id,
                "retry_attempt":retry_attempt,"type":kind}),
            Event::DisconnectSent { id, reason } => {
                json!({"event":"disconnect_sent","conn":id.0,"reason":reason})
            }
            Event::Ack(a) => {
                json!({"event":"ack","conn":a.connection.0,"envelope_id":a.envelope_id,
                "first_envelope_id":a.first_envelope_id,"retry_attempt":a.retry_attempt,
                "known":a.known,"payload":a.payload})
            }
            Event::Frame { id, text } => json!({"event":"frame","conn":id.0,"text":text}),
            Event::WebCall(c) => json!({"event":"web_call","method":c.method,"status":c.status,
                "body":redact_body(&c.body),"response":c.response}),
            Event::GaveUp { envelope_id } => json!({"event":"gave_up","envelope_id":envelope_id}),
        }
    }
}

fn redact_ticket(target: &str) -> String {
    match target.split_once('?') {
        Some((path, _)) => format!("{path}?…"),
        None => target.to_string(),
    }
}

fn redact_body(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(obj) = b.as_object_mut() {
        if obj.contains_key("token") {
            obj.insert("token".into(), Value::String("[redacted]".into()));
        }
    }
    b
}

/// A server-side stream of envelopes for benchmarks (see [`crate::FakeSlack::stream_envelopes`]).
///
/// The fake's connection thread writes copies of `template`, keeping at most `in_flight`
/// un-acked, until `count` have been acked. Every occurrence of [`StreamSpec::SEQ`] in the
/// template is replaced by a 14-digit number unique to that envelope in this fake (use it in
/// `envelope_id` and `event_id`, so deduplication does not hide envelopes). The frames are
/// built without JSON work and acks are matched by a plain scan for `"envelope_id"`, so the
/// fake costs little per envelope; stream envelopes are never redelivered and their acks are
/// not recorded in [`crate::FakeSlack::acks`] or the connection counters.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// The envelope text, with [`StreamSpec::SEQ`] where the per-envelope number goes (at least
    /// in `envelope_id`).
    pub template: String,
    /// How many envelopes to send.
    pub count: u64,
    /// How many may be un-acked at once (at least 1).
    pub in_flight: usize,
    /// Whether to record each envelope's round trip (write to ack) in the report.
    pub round_trips: bool,
    /// How long to wait for the whole stream before giving up.
    pub timeout: Duration,
}

impl StreamSpec {
    /// The placeholder replaced by the envelope's number.
    pub const SEQ: &'static str = "{{seq}}";
}

/// What a stream of envelopes measured (see [`crate::FakeSlack::stream_envelopes`]).
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    /// Envelopes written.
    pub sent: u64,
    /// Envelopes acked.
    pub acked: u64,
    /// From the first write to the last ack.
    pub elapsed: Duration,
    /// Each envelope's time from being queued for writing to its ack being read, in ack order
    /// (empty unless [`StreamSpec::round_trips`] was set).
    pub round_trips: Vec<Duration>,
    /// Why the stream ended early, if it did (the connection closed, the fake shut down).
    pub aborted: Option<String>,
}
