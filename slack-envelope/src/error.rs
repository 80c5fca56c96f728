//! The one error type of this crate.

use std::fmt;

use crate::ConnId;
use crate::text::clip;

/// The most of an id shown in a message.
const ID_SHOWN: usize = 64;

/// Everything that can go wrong in the envelope core.
///
/// The core never panics on input: a malformed frame, a misused ack or an unknown connection
/// each come back as one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A frame was not valid JSON, or not a JSON object.
    ///
    /// Like every variant, its text never holds the frame's or the payload's text, and ids
    /// are cut short in messages: errors are safe to log.
    InvalidJson {
        /// What serde_json said (position and reason); never the frame's text.
        detail: String,
    },
    /// A frame of a known type lacked a field it needs (for instance an envelope without `envelope_id`).
    MissingField {
        /// The frame type (`events_api`, `disconnect`, …).
        frame_type: String,
        /// The missing field.
        field: &'static str,
    },
    /// An id in a frame (`envelope_id`, or the payload's `event_id`) is longer than
    /// [`MAX_ID_LEN`](crate::MAX_ID_LEN): the frame is refused and nothing of it is remembered.
    /// Slack's ids are about 36 bytes; a longer one comes from a broken or hostile peer.
    IdTooLong {
        /// Which id (`envelope_id` or `event_id`).
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A payload could not be read as the typed view that was asked for.
    InvalidPayload {
        /// The view that was asked for (`event_callback`, `slash_command`, …).
        view: &'static str,
        /// What serde_json said.
        detail: String,
    },
    /// An ack carried a payload, but Slack does not accept one for this envelope.
    PayloadNotAccepted {
        /// The envelope that was acked.
        envelope_id: String,
    },
    /// The envelope was already acked once.
    AlreadyAcked {
        /// The envelope that was acked twice.
        envelope_id: String,
    },
    /// No envelope with this id is waiting for an ack (never received, or its connection is gone).
    UnknownEnvelope {
        /// The id that was given.
        envelope_id: String,
    },
    /// An ack payload is larger than the configured limit (Slack drops big ones silently).
    PayloadTooLarge {
        /// The envelope that was acked.
        envelope_id: String,
        /// The payload's size in bytes, serialized.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// An ack payload could not be serialized to JSON.
    InvalidAckPayload {
        /// What serde_json said.
        detail: String,
    },
    /// The connection this input refers to is not known to the supervisor (already closed or never opened).
    UnknownConnection {
        /// The connection.
        conn: ConnId,
    },
    /// The connection cannot send anything any more (it is closing or closed).
    ConnectionClosing {
        /// The connection.
        conn: ConnId,
    },
    /// A [`Session`](crate::Session) driven alone cannot send anything any more (it is
    /// closing or closed). Through the supervisor this is [`Error::ConnectionClosing`].
    SessionClosing,
    /// A configuration value is out of range.
    InvalidConfig {
        /// What is wrong, in words.
        detail: String,
    },
    /// The supervisor has stopped and takes no more input.
    Stopped,
    /// A proxy URL (or a URL to choose a proxy for) could not be used; see [`crate::proxy`].
    InvalidProxy {
        /// What is wrong with it; never the URL itself (it may hold a password).
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidJson { detail } => write!(f, "invalid frame: {}", clip(detail, 200)),
            Error::MissingField { frame_type, field } => {
                write!(f, "`{frame_type}` frame has no `{field}` field")
            }
            Error::IdTooLong { field, len, limit } => write!(
                f,
                "`{field}` is {len} bytes, over the {limit}-byte limit; frame refused"
            ),
            Error::InvalidPayload { view, detail } => {
                write!(f, "payload is not a valid {view}: {}", clip(detail, 200))
            }
            Error::PayloadNotAccepted { envelope_id } => write!(
                f,
                "envelope {} does not accept a response payload; ack it without one",
                clip(envelope_id, ID_SHOWN)
            ),
            Error::AlreadyAcked { envelope_id } => {
                write!(
                    f,
                    "envelope {} was already acked",
                    clip(envelope_id, ID_SHOWN)
                )
            }
            Error::UnknownEnvelope { envelope_id } => {
                write!(
                    f,
                    "no envelope {} is waiting for an ack",
                    clip(envelope_id, ID_SHOWN)
                )
            }
            Error::PayloadTooLarge {
                envelope_id,
                size,
                limit,
            } => write!(
                f,
                "ack payload for envelope {} is {size} bytes, over the {limit}-byte limit",
                clip(envelope_id, ID_SHOWN)
            ),
            Error::InvalidAckPayload { detail } => {
                write!(f, "ack payload cannot be serialized: {}", clip(detail, 200))
            }
            Error::UnknownConnection { conn } => write!(f, "unknown connection {conn}"),
            Error::ConnectionClosing { conn } => {
                write!(f, "connection {conn} is closing and sends nothing more")
            }
            Error::SessionClosing => write!(f, "the session is closing and sends nothing more"),
            Error::InvalidConfig { detail } => write!(f, "invalid configuration: {detail}"),
            Error::Stopped => write!(f, "the supervisor has stopped"),
            Error::InvalidProxy { reason } => write!(f, "invalid proxy: {reason}"),
        }
    }
}

impl std::error::Error for Error {}
