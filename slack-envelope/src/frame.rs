//! Frames Slack sends over the socket: `hello`, `disconnect`, envelopes, and anything else.
//!
//! Parsing is lazy where it matters: an envelope keeps the frame's text and the position of its
//! `payload`, so the hot path (parse, dedup, ack) never builds a JSON tree. Typed views of the
//! payload are built on request ([`Envelope::events_api`], [`Envelope::slash_command`],
//! [`Envelope::interactive`]).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;

use crate::Error;
use crate::payload::{EventCallback, Interaction, SlashCommand};
use crate::scan::{self, EventWho, TextAt};

/// The longest `envelope_id` or `event_id` a frame may carry, in bytes. Slack's are about 36
/// bytes; a frame with a longer one is refused ([`Error::IdTooLong`]) before anything of it is
/// remembered (acks awaited, duplicate suppression).
pub const MAX_ID_LEN: usize = 256;

/// One frame received from Slack, parsed. Its `Debug` output shows no payload or frame text.
#[derive(Clone, PartialEq)]
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

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Hello(h) => f.debug_tuple("Hello").field(h).finish(),
            Frame::Disconnect(d) => f.debug_tuple("Disconnect").field(d).finish(),
            Frame::Envelope(e) => f.debug_tuple("Envelope").field(e).finish(),
            Frame::Unknown { frame_type, text } => f
                .debug_struct("Unknown")
                .field("frame_type", frame_type)
                .field("text_bytes", &text.len())
                .finish(),
        }
    }
}

/// Debug details Slack attaches to `hello` and `disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DebugInfo {
    /// The Slack host serving this connection (cut to 128 bytes, like every text here).
    #[serde(default, deserialize_with = "clipped_text")]
    pub host: Option<String>,
    /// Slack's build number.
    #[serde(default)]
    pub build_number: Option<u64>,
    /// Seconds until Slack refreshes this connection.
    #[serde(default)]
    pub approximate_connection_time: Option<u64>,
    /// When Slack started this connection (sometimes present).
    #[serde(default, deserialize_with = "clipped_text")]
    pub started: Option<String>,
}

/// Which app a connection belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The app id (`A…`).
    #[serde(default, deserialize_with = "clipped_text")]
    pub app_id: Option<String>,
}

/// An optional string, cut to 128 bytes: a peer's text is never kept at length.
fn clipped_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s: Option<Cow<'de, str>> = Deserialize::deserialize(d)?;
    Ok(s.map(|s| crate::text::clipped(&s)))
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
    /// A reason this crate does not know, kept as text (cut to 128 bytes).
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
            other => DisconnectReason::Other(crate::text::clipped(other)),
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
    /// A type this crate does not know yet (its name cut to 128 bytes).
    Other(String),
}

impl EnvelopeKind {
    fn from_text(text: &str) -> Self {
        match text {
            "events_api" => EnvelopeKind::EventsApi,
            "slash_commands" => EnvelopeKind::SlashCommands,
            "interactive" => EnvelopeKind::Interactive,
            other => EnvelopeKind::Other(crate::text::clipped(other)),
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
    /// Shared with the session's ack bookkeeping (one allocation per envelope).
    envelope_id: Arc<str>,
    kind: EnvelopeKind,
    accepts_response_payload: bool,
    retry_attempt: u32,
    retry_reason: Option<String>,
    /// Shared with duplicate suppression.
    event_id: Option<Arc<str>>,
    /// `payload.event.type` (of an `events_api` envelope), when it is a string.
    event_type: Option<TextAt>,
    /// `payload.event.user` and `.bot_id` (of an `events_api` envelope), when strings.
    event_who: EventWho,
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

    /// The inner event's `type` (`payload.event.type`, e.g. `"message"`) of an `events_api`
    /// envelope, for routing without decoding the payload: read during the parse when it is
    /// plain text, else decoded here. `None` when there is no such string (or the envelope is of
    /// another kind).
    pub fn event_type(&self) -> Option<Cow<'_, str>> {
        self.event_type
            .as_ref()
            .and_then(|t| t.get(&self.text))
            .map(Cow::Borrowed)
    }

    /// `payload.event.user` of an `events_api` envelope, when it is a string (as the scan
    /// read it: no JSON tree is built). `None` otherwise.
    pub fn event_user(&self) -> Option<&str> {
        self.event_who.user.as_ref().and_then(|t| t.get(&self.text))
    }

    /// `payload.event.bot_id` of an `events_api` envelope, when it is a string (as the scan
    /// read it). `None` otherwise.
    pub fn event_bot_id(&self) -> Option<&str> {
        self.event_who
            .bot_id
            .as_ref()
            .and_then(|t| t.get(&self.text))
    }

    /// The key used to recognise a redelivery: the `event_id` when there is one, else the envelope id.
    pub fn dedup_key(&self) -> &str {
        self.event_id.as_deref().unwrap_or(&self.envelope_id)
    }

    /// The envelope id, shared (no copy).
    pub(crate) fn envelope_id_shared(&self) -> &Arc<str> {
        &self.envelope_id
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
            detail: crate::text::json_error_detail(&e),
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

/// The top-level fields of any frame, for serde_json (see [`Frame::parse`]).
#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow, default)]
    frame_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    envelope_id: Option<Cow<'a, str>>,
    /// Only whether there is one: the scan locates and reads it.
    #[serde(default)]
    payload: Option<serde::de::IgnoredAny>,
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

impl Frame {
    /// Parses a text frame. Unknown types and unknown fields are tolerated; invalid JSON and
    /// known frames missing a required field are errors.
    ///
    /// One scan reads the frame (see `scan.rs`): a plain envelope of a known kind, the
    /// usual frame, is read by it alone. Anything else has its top-level fields read by
    /// serde_json (which also words every error), with the payload's position and ids from
    /// the same scan.
    pub fn parse(text: impl Into<String>) -> Result<Frame, Error> {
        let text = text.into();
        let scanned = scan::scan(&text);
        let plain = scanned.as_ref().and_then(plain_kind);
        let parsed = match (scanned, plain) {
            (Some(s), Some(kind)) => Parsed::Envelope(plain_envelope(s, kind)),
            (scanned, _) => parse_fields(&text, scanned)?,
        };
        check_ids(&parsed)?;
        Ok(Frame::from_parsed(text, parsed))
    }

    /// Parses with serde_json reading the top-level fields, as for a frame that is not a
    /// plain envelope (what reading a plain one from the scan alone must agree with).
    #[cfg(test)]
    pub(crate) fn parse_slow(text: impl Into<String>) -> Result<Frame, Error> {
        let text = text.into();
        let parsed = parse_fields(&text, scan::scan(&text))?;
        check_ids(&parsed)?;
        Ok(Frame::from_parsed(text, parsed))
    }

    /// Whether the scan alone reads `text`.
    #[cfg(test)]
    pub(crate) fn is_plain_envelope(text: &str) -> bool {
        scan::scan(text).as_ref().and_then(plain_kind).is_some()
    }

    fn from_parsed(text: String, parsed: Parsed) -> Frame {
        match parsed {
            Parsed::Hello(h) => Frame::Hello(h),
            Parsed::Disconnect(d) => Frame::Disconnect(d),
            Parsed::Unknown(frame_type) => Frame::Unknown { frame_type, text },
            Parsed::Envelope(fields) => Frame::Envelope(Envelope {
                text,
                payload: fields.payload,
                envelope_id: fields.envelope_id,
                kind: fields.kind,
                accepts_response_payload: fields.accepts_response_payload,
                retry_attempt: fields.retry_attempt,
                retry_reason: fields.retry_reason,
                event_id: fields.event_id,
                event_type: fields.event_type,
                event_who: fields.event_who,
            }),
        }
    }
}

struct EnvelopeFields {
    payload: Option<Range<usize>>,
    envelope_id: Arc<str>,
    kind: EnvelopeKind,
    accepts_response_payload: bool,
    retry_attempt: u32,
    retry_reason: Option<String>,
    event_id: Option<Arc<str>>,
    event_type: Option<TextAt>,
    event_who: EventWho,
}

enum Parsed {
    Hello(Hello),
    Disconnect(Disconnect),
    Envelope(EnvelopeFields),
    Unknown(Option<String>),
}

/// Refuses an envelope whose ids are over [`MAX_ID_LEN`].
fn check_ids(parsed: &Parsed) -> Result<(), Error> {
    let Parsed::Envelope(fields) = parsed else {
        return Ok(());
    };
    let too_long = |field: &'static str, len: usize| Error::IdTooLong {
        field,
        len,
        limit: MAX_ID_LEN,
    };
    if fields.envelope_id.len() > MAX_ID_LEN {
        return Err(too_long("envelope_id", fields.envelope_id.len()));
    }
    match &fields.event_id {
        Some(id) if id.len() > MAX_ID_LEN => Err(too_long("event_id", id.len())),
        _ => Ok(()),
    }
}

/// The payload's fields of an envelope: its range, and its `event_id`, `event.type`,
/// `event.user` and `event.bot_id`, which count for `events_api` only.
type PayloadFields = (
    Option<Range<usize>>,
    Option<Arc<str>>,
    Option<TextAt>,
    EventWho,
);

/// The payload's fields for an envelope of `kind` (see [`PayloadFields`]).
fn payload_fields(kind: &EnvelopeKind, payload: Option<scan::ScannedPayload<'_>>) -> PayloadFields {
    match payload {
        Some(p) if *kind == EnvelopeKind::EventsApi => (
            Some(p.range),
            p.event_id.as_deref().map(Arc::from),
            p.event_type,
            p.event_who,
        ),
        Some(p) => (Some(p.range), None, None, EventWho::default()),
        None => (None, None, None, EventWho::default()),
    }
}

/// The kind of a plain envelope, which the scan alone reads: every top-level field read, a
/// known kind, an id and a payload object. `None` for anything else.
fn plain_kind(s: &scan::Scan<'_>) -> Option<EnvelopeKind> {
    if !s.plain || s.payload.is_none() || s.envelope_id.flatten().is_none_or(str::is_empty) {
        return None;
    }
    match s.frame_type.flatten()? {
        "events_api" => Some(EnvelopeKind::EventsApi),
        "slash_commands" => Some(EnvelopeKind::SlashCommands),
        "interactive" => Some(EnvelopeKind::Interactive),
        _ => None,
    }
}

/// A plain envelope (see [`plain_kind`]), read from the scan alone.
fn plain_envelope(s: scan::Scan<'_>, kind: EnvelopeKind) -> EnvelopeFields {
    let (payload, event_id, event_type, event_who) = payload_fields(&kind, s.payload);
    EnvelopeFields {
        payload,
        envelope_id: Arc::from(s.envelope_id.flatten().unwrap_or_default()),
        kind,
        accepts_response_payload: s.accepts_response_payload.flatten().unwrap_or(false),
        retry_attempt: s.retry_attempt.flatten().unwrap_or(0),
        retry_reason: s
            .retry_reason
            .flatten()
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        event_id,
        event_type,
        event_who,
    }
}

/// Any frame, its top-level fields read by serde_json; an envelope's payload comes from the
/// scan (`None` when the scan could not read the frame).
fn parse_fields(text: &str, scanned: Option<scan::Scan<'_>>) -> Result<Parsed, Error> {
    let raw: RawFrame<'_> = serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        detail: crate::text::json_error_detail(&e),
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
            envelope_fields(t, &raw, scanned).map(Parsed::Envelope)
        }
        // A type we do not know: if it has an envelope id it is still an envelope that
        // Slack wants acked; otherwise it is kept as an unknown frame.
        other => {
            if raw.envelope_id.is_some() {
                let t = other.unwrap_or("");
                envelope_fields(t, &raw, scanned).map(Parsed::Envelope)
            } else {
                Ok(Parsed::Unknown(other.map(crate::text::clipped)))
            }
        }
    }
}

fn envelope_fields(
    frame_type: &str,
    raw: &RawFrame<'_>,
    scanned: Option<scan::Scan<'_>>,
) -> Result<EnvelopeFields, Error> {
    let envelope_id = match raw.envelope_id.as_deref() {
        Some(id) if !id.is_empty() => Arc::from(id),
        _ => {
            return Err(Error::MissingField {
                frame_type: frame_type.to_owned(),
                field: "envelope_id",
            });
        }
    };
    let kind = EnvelopeKind::from_text(frame_type);
    let scanned_payload = match (&raw.payload, scanned) {
        (Some(_), Some(s)) => s.payload,
        // serde_json reads what the scan did not: nesting deeper than the scan goes.
        (Some(_), None) => {
            return Err(Error::InvalidJson {
                detail: format!("nested deeper than {} levels", scan::MAX_DEPTH),
            });
        }
        (None, _) => None,
    };
    if scanned_payload.is_none()
        && matches!(
            kind,
            EnvelopeKind::EventsApi | EnvelopeKind::SlashCommands | EnvelopeKind::Interactive
        )
    {
        return Err(Error::MissingField {
            frame_type: frame_type.to_owned(),
            field: "payload",
        });
    }
    let (payload, event_id, event_type, event_who) = payload_fields(&kind, scanned_payload);
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
        event_type,
        event_who,
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
