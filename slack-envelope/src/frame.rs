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
use serde_json::value::RawValue;

use crate::Error;
use crate::payload::{EventCallback, Interaction, SlashCommand};
use crate::scan::EventType;

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
#[derive(Clone)]
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
    /// `payload.event.type` as the scan found it.
    event_type: EventType,
}

/// Equal when every field Slack sent is equal (however the parse found the event type).
impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
            && self.payload == other.payload
            && self.envelope_id == other.envelope_id
            && self.kind == other.kind
            && self.accepts_response_payload == other.accepts_response_payload
            && self.retry_attempt == other.retry_attempt
            && self.retry_reason == other.retry_reason
            && self.event_id == other.event_id
            && self.event_type() == other.event_type()
    }
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
        if self.kind != EnvelopeKind::EventsApi {
            return None;
        }
        match &self.event_type {
            EventType::Absent => None,
            EventType::At(r) => self.text.get(r.clone()).map(Cow::Borrowed),
            EventType::Unsure => {
                #[derive(Deserialize)]
                struct Peek {
                    #[serde(default)]
                    event: Option<Inner>,
                }
                #[derive(Deserialize)]
                struct Inner {
                    #[serde(rename = "type", default)]
                    kind: Option<String>,
                }
                serde_json::from_str::<Peek>(self.payload_json())
                    .ok()
                    .and_then(|p| p.event)
                    .and_then(|e| e.kind)
                    .map(Cow::Owned)
            }
        }
    }

    /// The key used to recognise a redelivery: the `event_id` when there is one, else the envelope id.
    pub fn dedup_key(&self) -> &str {
        self.event_id.as_deref().unwrap_or(&self.envelope_id)
    }

    /// The envelope id, shared (no copy).
    pub(crate) fn envelope_id_shared(&self) -> &Arc<str> {
        &self.envelope_id
    }

    /// The dedup key, shared (no copy).
    pub(crate) fn dedup_key_shared(&self) -> &Arc<str> {
        self.event_id.as_ref().unwrap_or(&self.envelope_id)
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

/// The fields of any frame, borrowed from its text where possible.
#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow, default)]
    frame_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    envelope_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<PayloadScan<'a>>,
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

/// The payload, read in one pass: its top-level values are borrowed as raw JSON (so nothing
/// is built), the top-level `event_id` is kept, and the payload's own text is located from its
/// first key and last value. Scanning the payload once instead of twice (once to skip it, once
/// to find `event_id`) is most of the core's cost per envelope.
#[derive(Default)]
struct PayloadScan<'a> {
    /// The first key, when borrowed from the frame (it starts just after its opening quote).
    first_key: Option<&'a str>,
    /// The last value's raw text.
    last_value: Option<&'a str>,
    /// The top-level `event_id`, if the payload is an object that has one.
    event_id: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for PayloadScan<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScanVisitor)
    }
}

struct ScanVisitor;

/// A map key, borrowed from the frame when it has no escapes (serde's `Cow<str>` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::de::Visitor<'de> for ScanVisitor {
    type Value = PayloadScan<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut scan = PayloadScan::default();
        let mut first = true;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if first {
                first = false;
                if let Cow::Borrowed(k) = key {
                    scan.first_key = Some(k);
                }
            }
            let value = map.next_value::<&'de RawValue>()?;
            if key == "event_id" {
                scan.event_id = serde_json::from_str::<Option<Cow<'de, str>>>(value.get())
                    .ok()
                    .flatten();
            }
            scan.last_value = Some(value.get());
        }
        Ok(scan)
    }

    // Anything but an object: consumed, and located the slow way by the caller.
    fn visit_borrowed_str<E: serde::de::Error>(self, _v: &'de str) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_str<E: serde::de::Error>(self, _v: &str) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_bool<E: serde::de::Error>(self, _v: bool) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_i64<E: serde::de::Error>(self, _v: i64) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_u64<E: serde::de::Error>(self, _v: u64) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_f64<E: serde::de::Error>(self, _v: f64) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(PayloadScan::default())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(PayloadScan::default())
    }
}

/// The range of an object in `text` from its first key (just after the key's opening quote)
/// and its last raw value: only spaces may stand between `{` and the key's quote, and between
/// the value and `}`. `None` when that is not what the text shows.
fn object_range(text: &str, first_key: &str, last_value: &str) -> Option<Range<usize>> {
    let key = range_within(text, first_key)?;
    let value = range_within(text, last_value)?;
    let bytes = text.as_bytes();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let quote = key.start.checked_sub(1)?;
    if bytes.get(quote) != Some(&b'"') {
        return None;
    }
    let mut start = quote;
    loop {
        start = start.checked_sub(1)?;
        match bytes.get(start)? {
            b'{' => break,
            b if is_space(*b) => continue,
            _ => return None,
        }
    }
    let mut end = value.end;
    loop {
        match bytes.get(end)? {
            b'}' => break,
            b if is_space(*b) => end += 1,
            _ => return None,
        }
    }
    Some(start..end + 1)
}

/// The slow way to locate a payload (non-objects, `{}`, escaped first keys).
#[derive(Deserialize)]
struct SlowPayload<'a> {
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
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
        // The hot path: a plain envelope, read by the scanner; everything else (and every
        // error) by serde_json.
        let parsed = match crate::scan::scan_envelope(&text) {
            Some(fast) => Parsed::Envelope(EnvelopeFields {
                payload: Some(fast.payload),
                envelope_id: Arc::from(fast.envelope_id),
                kind: fast.kind,
                accepts_response_payload: fast.accepts_response_payload,
                retry_attempt: fast.retry_attempt,
                retry_reason: fast.retry_reason.map(str::to_owned),
                event_id: fast.event_id.as_deref().map(Arc::from),
                event_type: fast.event_type,
            }),
            None => parse_fields(&text)?,
        };
        check_ids(&parsed)?;
        Ok(Frame::from_parsed(text, parsed))
    }

    /// Parses with serde_json only (what the fast path must agree with).
    #[cfg(test)]
    pub(crate) fn parse_slow(text: impl Into<String>) -> Result<Frame, Error> {
        let text = text.into();
        let parsed = parse_fields(&text)?;
        check_ids(&parsed)?;
        Ok(Frame::from_parsed(text, parsed))
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
    event_type: EventType,
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

fn parse_fields(text: &str) -> Result<Parsed, Error> {
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
            envelope_fields(text, t, &raw).map(Parsed::Envelope)
        }
        // A type we do not know: if it has an envelope id it is still an envelope that
        // Slack wants acked; otherwise it is kept as an unknown frame.
        other => {
            if raw.envelope_id.is_some() {
                let t = other.unwrap_or("");
                envelope_fields(text, t, &raw).map(Parsed::Envelope)
            } else {
                Ok(Parsed::Unknown(other.map(crate::text::clipped)))
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
        Some(id) if !id.is_empty() => Arc::from(id),
        _ => {
            return Err(Error::MissingField {
                frame_type: frame_type.to_owned(),
                field: "envelope_id",
            });
        }
    };
    let kind = EnvelopeKind::from_text(frame_type);
    let payload = match &raw.payload {
        Some(scan) => {
            let fast = match (scan.first_key, scan.last_value) {
                (Some(k), Some(v)) => object_range(text, k, v),
                _ => None,
            };
            let range = match fast {
                Some(r) => Some(r),
                None => serde_json::from_str::<SlowPayload<'_>>(text)
                    .ok()
                    .and_then(|p| p.payload)
                    .and_then(|p| range_within(text, p.get())),
            };
            Some(range.ok_or_else(|| Error::InvalidJson {
                detail: "payload position could not be located".to_owned(),
            })?)
        }
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
    let event_id = match (&kind, &raw.payload) {
        (EnvelopeKind::EventsApi, Some(scan)) => scan.event_id.as_deref().map(Arc::from),
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
        // The slow path decodes it on demand.
        event_type: EventType::Unsure,
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

#[cfg(test)]
mod scan_tests {
    use super::*;

    #[test]
    fn fast_path_locates_the_payload() {
        let text = r#"{"envelope_id":"e1","payload":{ "token":"t","event":{"a":[1,{"b":"}"}]},"event_id":"Ev9" , "x":"y" },"type":"events_api"}"#;
        let raw: RawFrame<'_> = serde_json::from_str(text).unwrap();
        let scan = raw.payload.as_ref().unwrap();
        let r = object_range(text, scan.first_key.unwrap(), scan.last_value.unwrap()).unwrap();
        assert_eq!(
            &text[r],
            r#"{ "token":"t","event":{"a":[1,{"b":"}"}]},"event_id":"Ev9" , "x":"y" }"#
        );
        assert_eq!(scan.event_id.as_deref(), Some("Ev9"));
    }
}

#[cfg(test)]
mod scan_equivalence {
    use super::*;

    /// The one-pass payload location agrees with serde_json's own `RawValue`, whatever the
    /// payload's shape and spacing.
    #[test]
    fn fast_and_slow_paths_agree() {
        let payloads = [
            r#"{"event_id":"Ev1","event":{"type":"message"}}"#,
            r#"{ "a" : 1 , "event_id" : "Ev2" }"#,
            "{\n\t\"k\\\"q\":[1,2,{\"}\":\"{\"}],\"event_id\":\"Ev\\u0033\"\r\n}",
            r#"{}"#,
            r#"{ }"#,
            r#""just a string""#,
            r#"[1,2,3]"#,
            r#"12.5"#,
            r#"{"\u0061":1}"#,
        ];
        for p in payloads {
            let text =
                format!(r#"{{"envelope_id":"e","type":"events_api","payload": {p} ,"x":1}}"#);
            let Ok(Frame::Envelope(env)) = Frame::parse(text.clone()) else {
                panic!("{text}");
            };
            let slow: SlowPayload<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(env.payload_json(), slow.payload.unwrap().get(), "{text}");
        }
        let Ok(Frame::Envelope(env)) = Frame::parse(
            r#"{"envelope_id":"e","type":"events_api","payload":{"k\"q":1,"event_id":"Ev\u0033"}}"#,
        ) else {
            panic!()
        };
        assert_eq!(env.event_id(), Some("Ev3"));
    }
}
