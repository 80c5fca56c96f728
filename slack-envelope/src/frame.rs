//! Frames Slack sends over the socket: `hello`, `disconnect`, envelopes, and anything else.
//!
//! Parsing is lazy where it matters: an envelope keeps the frame's text and the position of its
//! `payload`, so the hot path (parse, dedup, ack) never builds a JSON tree. Typed views of the
//! payload are built on request ([`Envelope::events_api`], [`Envelope::slash_command`],
//! [`Envelope::interactive`]).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Error;
use crate::payload::{EventCallback, Interaction, SlashCommand};

/// One frame received from Slack, parsed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// `{"type":"hello",…}`: the connection is ready.
    Hello(Hello),
    /// `{"type":"disconnect","reason":…}`: Slack is about to close this connection.
    Disconnect(Disconnect),
    /// An envelope (`events_api`, `slash_commands`, `interactive`, or a type this crate does not
    /// know yet, as long as it has an `envelope_id`) that must be acked.
    Envelope(Envelope),
    /// A frame of a type this crate does not know and that carries no `envelope_id`. Kept, not an error.
    Unknown {
        /// The frame's `type`, if it had one.
        frame_type: Option<String>,
        /// The frame's text, unchanged.
        text: String,
    },
}

/// Debug details Slack attaches to `hello` and `disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DebugInfo {
    /// The Slack host serving this connection.
    #[serde(default)]
    pub host: Option<String>,
    /// Slack's build number.
    #[serde(default)]
    pub build_number: Option<u64>,
    /// Seconds until Slack refreshes this connection.
    #[serde(default)]
    pub approximate_connection_time: Option<u64>,
    /// When Slack started this connection (sometimes present).
    #[serde(default)]
    pub started: Option<String>,
}

/// Which app a connection belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The app id (`A…`).
    #[serde(default)]
    pub app_id: Option<String>,
}

/// The `hello` frame. Every field is optional: Slack has added fields over time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hello {
    /// How many connections the app holds, this one included.
    pub num_connections: Option<u32>,
    /// Debug details, including the time until refresh.
    pub debug_info: Option<DebugInfo>,
    /// Which app this is.
    pub connection_info: Option<ConnectionInfo>,
}

impl Hello {
    /// Seconds until Slack plans to refresh this connection, if it said.
    pub fn approximate_connection_time(&self) -> Option<u64> {
        self.debug_info
            .as_ref()
            .and_then(|d| d.approximate_connection_time)
    }
}

/// Why Slack sent `disconnect`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// About 10 s before a refresh: open a replacement now.
    Warning,
    /// Routine refresh: replace the connection.
    RefreshRequested,
    /// Socket Mode was turned off for the app: fatal.
    LinkDisabled,
    /// Over the connection limit: back off with jitter before trying again.
    TooManyWebsockets,
    /// A reason this crate does not know, kept as text.
    Other(String),
}

impl DisconnectReason {
    /// Reads Slack's reason text.
    pub fn from_text(text: &str) -> Self {
        match text {
            "warning" => DisconnectReason::Warning,
            "refresh_requested" => DisconnectReason::RefreshRequested,
            "link_disabled" => DisconnectReason::LinkDisabled,
            "too_many_websockets" => DisconnectReason::TooManyWebsockets,
            other => DisconnectReason::Other(other.to_owned()),
        }
    }

    /// Slack's text for this reason.
    pub fn as_str(&self) -> &str {
        match self {
            DisconnectReason::Warning => "warning",
            DisconnectReason::RefreshRequested => "refresh_requested",
            DisconnectReason::LinkDisabled => "link_disabled",
            DisconnectReason::TooManyWebsockets => "too_many_websockets",
            DisconnectReason::Other(s) => s,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `disconnect` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Disconnect {
    /// Why.
    pub reason: DisconnectReason,
    /// Debug details.
    pub debug_info: Option<DebugInfo>,
}

/// The kind of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeKind {
    /// `events_api`: an Events API callback.
    EventsApi,
    /// `slash_commands`: a slash command invocation.
    SlashCommands,
    /// `interactive`: a shortcut, block action, view submission, …
    Interactive,
    /// A type this crate does not know yet.
    Other(String),
}

impl EnvelopeKind {
    fn from_text(text: &str) -> Self {
        match text {
            "events_api" => EnvelopeKind::EventsApi,
            "slash_commands" => EnvelopeKind::SlashCommands,
            "interactive" => EnvelopeKind::Interactive,
            other => EnvelopeKind::Other(other.to_owned()),
        }
    }

    /// Slack's text for this kind.
    pub fn as_str(&self) -> &str {
        match self {
            EnvelopeKind::EventsApi => "events_api",
            EnvelopeKind::SlashCommands => "slash_commands",
            EnvelopeKind::Interactive => "interactive",
            EnvelopeKind::Other(s) => s,
        }
    }
}

impl fmt::Display for EnvelopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An envelope: a request from Slack that must be acked within 3 seconds.
///
/// It owns the frame's text and remembers where the payload is, so no JSON tree is built until
/// a typed view is asked for. Its `Debug` output never shows the payload (it carries Slack's
/// verification `token`).
#[derive(Clone, PartialEq)]
pub struct Envelope {
    text: String,
    payload: Option<Range<usize>>,
    envelope_id: String,
    kind: EnvelopeKind,
    accepts_response_payload: bool,
    retry_attempt: u32,
    retry_reason: Option<String>,
    event_id: Option<String>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("envelope_id", &self.envelope_id)
            .field("kind", &self.kind)
            .field("accepts_response_payload", &self.accepts_response_payload)
            .field("retry_attempt", &self.retry_attempt)
            .field("retry_reason", &self.retry_reason)
            .field("event_id", &self.event_id)
            .field("payload_bytes", &self.payload_json().len())
            .finish()
    }
}

impl Envelope {
    /// The envelope id, to ack with.
    pub fn envelope_id(&self) -> &str {
        &self.envelope_id
    }

    /// What kind of request this is.
    pub fn kind(&self) -> &EnvelopeKind {
        &self.kind
    }

    /// Whether the ack may carry a response payload.
    pub fn accepts_response_payload(&self) -> bool {
        self.accepts_response_payload
    }

    /// 0 for a first delivery, 1..=3 for Slack's redeliveries.
    pub fn retry_attempt(&self) -> u32 {
        self.retry_attempt
    }

    /// Why Slack redelivered (`timeout`, …), if it did.
    pub fn retry_reason(&self) -> Option<&str> {
        self.retry_reason.as_deref()
    }

    /// The Events API `event_id` (for `events_api` envelopes), stable across redeliveries.
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    /// The key used to recognise a redelivery: the `event_id` when there is one, else the envelope id.
    pub fn dedup_key(&self) -> &str {
        self.event_id.as_deref().unwrap_or(&self.envelope_id)
    }

    /// The payload as raw JSON text (`"null"` when the envelope had none).
    pub fn payload_json(&self) -> &str {
        self.payload
            .as_ref()
            .and_then(|r| self.text.get(r.clone()))
            .unwrap_or("null")
    }

    /// The whole frame as Slack sent it.
    pub fn frame_text(&self) -> &str {
        &self.text
    }

    /// Reads the payload as any serde type.
    pub fn payload_as<'de, T: Deserialize<'de>>(&'de self, view: &'static str) -> Result<T, Error> {
        serde_json::from_str(self.payload_json()).map_err(|e| Error::InvalidPayload {
            view,
            detail: e.to_string(),
        })
    }

    /// The payload as a JSON tree.
    pub fn payload_value(&self) -> Result<serde_json::Value, Error> {
        self.payload_as("json value")
    }

    /// The typed view of an `events_api` payload (an `event_callback`).
    pub fn events_api(&self) -> Result<EventCallback, Error> {
        self.payload_as("event_callback")
    }

    /// The typed view of a `slash_commands` payload.
    pub fn slash_command(&self) -> Result<SlashCommand, Error> {
        self.payload_as("slash_command")
    }

    /// The typed view of an `interactive` payload.
    pub fn interactive(&self) -> Result<Interaction, Error> {
        self.payload_as("interaction")
    }
}

/// The fields of any frame, borrowed from its text where possible.
#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow, default)]
    frame_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    envelope_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(default)]
    accepts_response_payload: Option<bool>,
    #[serde(default)]
    retry_attempt: Option<u32>,
    #[serde(borrow, default)]
    retry_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(default)]
    num_connections: Option<u32>,
    #[serde(default)]
    debug_info: Option<DebugInfo>,
    #[serde(default)]
    connection_info: Option<ConnectionInfo>,
}

/// Only the `event_id` of an `events_api` payload; every other field is skipped, not built.
#[derive(Deserialize)]
struct EventIdPeek<'a> {
    #[serde(borrow, default)]
    event_id: Option<Cow<'a, str>>,
}

/// Where `inner` (a slice of `outer`) starts and ends inside `outer`.
fn range_within(outer: &str, inner: &str) -> Option<Range<usize>> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    if end <= outer.len() && outer.is_char_boundary(start) && outer.is_char_boundary(end) {
        Some(start..end)
    } else {
        None
    }
}

impl Frame {
    /// Parses a text frame. Unknown types and unknown fields are tolerated; invalid JSON and
    /// known frames missing a required field are errors.
    pub fn parse(text: impl Into<String>) -> Result<Frame, Error> {
        let text = text.into();
        let parsed = parse_fields(&text)?;
        match parsed {
            Parsed::Hello(h) => Ok(Frame::Hello(h)),
            Parsed::Disconnect(d) => Ok(Frame::Disconnect(d)),
            Parsed::Unknown(frame_type) => Ok(Frame::Unknown { frame_type, text }),
            Parsed::Envelope(fields) => Ok(Frame::Envelope(Envelope {
                text,
                payload: fields.payload,
                envelope_id: fields.envelope_id,
                kind: fields.kind,
                accepts_response_payload: fields.accepts_response_payload,
                retry_attempt: fields.retry_attempt,
                retry_reason: fields.retry_reason,
                event_id: fields.event_id,
            })),
        }
    }
}

struct EnvelopeFields {
    payload: Option<Range<usize>>,
    envelope_id: String,
    kind: EnvelopeKind,
    accepts_response_payload: bool,
    retry_attempt: u32,
    retry_reason: Option<String>,
    event_id: Option<String>,
}

enum Parsed {
    Hello(Hello),
    Disconnect(Disconnect),
    Envelope(EnvelopeFields),
    Unknown(Option<String>),
}

fn parse_fields(text: &str) -> Result<Parsed, Error> {
    let raw: RawFrame<'_> = serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        detail: e.to_string(),
    })?;
    let frame_type = raw.frame_type.as_deref();
    match frame_type {
        Some("hello") => Ok(Parsed::Hello(Hello {
            num_connections: raw.num_connections,
            debug_info: raw.debug_info,
            connection_info: raw.connection_info,
        })),
        Some("disconnect") => {
            let reason = raw.reason.ok_or_else(|| Error::MissingField {
                frame_type: "disconnect".to_owned(),
                field: "reason",
            })?;
            Ok(Parsed::Disconnect(Disconnect {
                reason: DisconnectReason::from_text(&reason),
                debug_info: raw.debug_info,
            }))
        }
        Some(t @ ("events_api" | "slash_commands" | "interactive")) => {
            envelope_fields(text, t, &raw).map(Parsed::Envelope)
        }
        // A type we do not know: if it has an envelope id it is still an envelope that
        // Slack wants acked; otherwise it is kept as an unknown frame.
        other => {
            if raw.envelope_id.is_some() {
                let t = other.unwrap_or("");
                envelope_fields(text, t, &raw).map(Parsed::Envelope)
            } else {
                Ok(Parsed::Unknown(other.map(str::to_owned)))
            }
        }
    }
}

fn envelope_fields(
    text: &str,
    frame_type: &str,
    raw: &RawFrame<'_>,
) -> Result<EnvelopeFields, Error> {
    let envelope_id = match raw.envelope_id.as_deref() {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => {
            return Err(Error::MissingField {
                frame_type: frame_type.to_owned(),
                field: "envelope_id",
            });
        }
    };
    let kind = EnvelopeKind::from_text(frame_type);
    let payload = match raw.payload {
        Some(p) => Some(
            range_within(text, p.get()).ok_or_else(|| Error::InvalidJson {
                detail: "payload position could not be located".to_owned(),
            })?,
        ),
        None if kind == EnvelopeKind::EventsApi
            || kind == EnvelopeKind::SlashCommands
            || kind == EnvelopeKind::Interactive =>
        {
            return Err(Error::MissingField {
                frame_type: frame_type.to_owned(),
                field: "payload",
            });
        }
        None => None,
    };
    let event_id = match (&kind, raw.payload) {
        (EnvelopeKind::EventsApi, Some(p)) => serde_json::from_str::<EventIdPeek<'_>>(p.get())
            .ok()
            .and_then(|peek| peek.event_id.map(Cow::into_owned)),
        _ => None,
    };
    Ok(EnvelopeFields {
        payload,
        envelope_id,
        kind,
        accepts_response_payload: raw.accepts_response_payload.unwrap_or(false),
        retry_attempt: raw.retry_attempt.unwrap_or(0),
        retry_reason: raw
            .retry_reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        event_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_range_points_into_the_frame() {
        let text = r#"{"envelope_id":"e1","type":"events_api","payload":{"event_id":"Ev1","x":[1,2]},"accepts_response_payload":false}"#;
        let Ok(Frame::Envelope(env)) = Frame::parse(text) else {
            panic!("not an envelope");
        };
        assert_eq!(env.payload_json(), r#"{"event_id":"Ev1","x":[1,2]}"#);
        assert_eq!(env.event_id(), Some("Ev1"));
        assert_eq!(env.dedup_key(), "Ev1");
    }

    #[test]
    fn escaped_envelope_id_is_unescaped() {
        let text = r#"{"envelope_id":"a\"b","type":"interactive","payload":{}}"#;
        let Ok(Frame::Envelope(env)) = Frame::parse(text) else {
            panic!("not an envelope");
        };
        assert_eq!(env.envelope_id(), "a\"b");
    }

    #[test]
    fn unknown_type_with_envelope_id_is_an_envelope() {
        let text = r#"{"envelope_id":"e9","type":"brand_new","payload":{"a":1}}"#;
        let Ok(Frame::Envelope(env)) = Frame::parse(text) else {
            panic!("not an envelope");
        };
        assert_eq!(env.kind(), &EnvelopeKind::Other("brand_new".into()));
    }

    #[test]
    fn debug_hides_the_payload() {
        let text =
            r#"{"envelope_id":"e1","type":"events_api","payload":{"token":"SECRET-VERIFICATION"}}"#;
        let frame = Frame::parse(text).unwrap();
        assert!(!format!("{frame:?}").contains("SECRET"));
    }
}
