//! Handlers, what they answer, and middleware.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::context::Context;

/// The error a handler may return: counted, logged and handed to
/// [`crate::BotBuilder::on_error`]; the envelope is still acked.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns.
pub type HandlerResult = Result<Reply, HandlerError>;

/// A handler: runs on the worker pool, never on the event loop.
pub type Handler = Arc<dyn Fn(&Context) -> HandlerResult + Send + Sync>;

/// Middleware: runs around listeners and decides whether the chain goes on
/// (`next.run(ctx)`) or stops here (return without calling it).
pub type Middleware = Arc<dyn Fn(&Context, Next<'_>) -> HandlerResult + Send + Sync>;

/// What [`crate::BotBuilder::on_error`] calls with a listener's error or panic.
pub type ErrorHandler = Arc<dyn Fn(&HandlerError, &Context) + Send + Sync>;

/// How a handler answers Slack.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// A plain ack (or nothing special: requests that do not accept a payload were acked on receipt).
    Ack,
    /// Ack with this payload (slash commands, `view_submission`, `block_suggestion`): only
    /// where Slack accepts one, and only if the handler answers before the ack deadline.
    Payload(Value),
    /// Leave the envelope un-acked so Slack redelivers it (counted in
    /// [`Stats::declined`](crate::Stats::declined) and logged). Only honoured where the ack waits for the
    /// handler: envelopes that accept a payload, or every envelope with
    /// [`BotBuilder::ack_on_receipt(false)`](crate::BotBuilder::ack_on_receipt); once the
    /// envelope was acked (on receipt, or empty at the ack deadline) it is only logged.
    Decline,
}

impl Reply {
    /// A payload from any serializable value (an error to serialize becomes a plain ack and a log line).
    pub fn payload(value: impl Serialize) -> Reply {
        match serde_json::to_value(value) {
            Ok(v) => Reply::Payload(v),
            Err(e) => {
                log::warn!("handler reply could not be serialized, sending a plain ack: {e}");
                Reply::Ack
            }
        }
    }

    /// A text answer in the ack: for a slash command, a message only the user sees
    /// (`{"text": …}`; for one the whole channel sees, send
    /// `{"response_type": "in_channel", "text": …}` with [`Reply::payload`]).
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Payload(json!({ "text": text.into() }))
    }

    /// A `view_submission` answer that shows `errors` next to the inputs (`block_id`,
    /// message), keeping the modal open.
    pub fn view_errors<I, K, V>(errors: I) -> Reply
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Reply::Payload(slack_envelope::payload::response::view_errors(errors))
    }

    /// A `view_submission` answer that closes every view of the modal.
    pub fn clear_views() -> Reply {
        Reply::Payload(slack_envelope::payload::response::view_clear())
    }

    /// A `view_submission` answer that replaces the modal's view.
    pub fn update_view(view: impl Serialize) -> Reply {
        match serde_json::to_value(view) {
            Ok(v) => Reply::Payload(slack_envelope::payload::response::view_update(v)),
            Err(e) => {
                log::warn!("view could not be serialized, sending a plain ack: {e}");
                Reply::Ack
            }
        }
    }
}

/// The rest of a middleware chain.
pub struct Next<'a> {
    pub(crate) chain: &'a [Middleware],
    pub(crate) end: &'a dyn Fn(&Context) -> HandlerResult,
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("middleware_left", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Next<'_> {
    /// Runs the rest of the chain (the next middleware, or the listeners) and returns what
    /// it answered.
    pub fn run(self, ctx: &Context) -> HandlerResult {
        match self.chain.split_first() {
            Some((first, rest)) => first(
                ctx,
                Next {
                    chain: rest,
                    end: self.end,
                },
            ),
            None => (self.end)(ctx),
        }
    }
}

/// A listener that panicked, as handed to [`crate::BotBuilder::on_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerPanic {
    /// The panic's message (at most 200 characters).
    pub message: String,
}

impl fmt::Display for ListenerPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a listener panicked: {}", self.message)
    }
}

impl std::error::Error for ListenerPanic {}

impl ListenerPanic {
    pub(crate) fn from_payload(p: &(dyn std::any::Any + Send)) -> ListenerPanic {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        ListenerPanic {
            message: msg.chars().take(200).collect(),
        }
    }
}

/// The options of an external select (`block_suggestion`), from [`crate::BotBuilder::on_options`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    options: Vec<Value>,
    groups: Vec<Value>,
}

fn option(text: impl Into<String>, value: impl Into<String>) -> Value {
    json!({"text": {"type": "plain_text", "text": text.into()}, "value": value.into()})
}

impl Options {
    /// No options yet.
    pub fn new() -> Options {
        Options::default()
    }

    /// Adds an option showing `text` and submitting `value`.
    pub fn option(mut self, text: impl Into<String>, value: impl Into<String>) -> Options {
        self.options.push(option(text, value));
        self
    }

    /// Adds a group of `(text, value)` options under `label` (Slack shows either groups or
    /// plain options: when there is any group, plain options are sent as a last group
    /// labelled "Other").
    pub fn group<I, T, V>(mut self, label: impl Into<String>, options: I) -> Options
    where
        I: IntoIterator<Item = (T, V)>,
        T: Into<String>,
        V: Into<String>,
    {
        let list: Vec<Value> = options.into_iter().map(|(t, v)| option(t, v)).collect();
        self.groups.push(json!({
            "label": {"type": "plain_text", "text": label.into()},
            "options": list,
        }));
        self
    }

    /// The answer's JSON (`{"options":[…]}` or `{"option_groups":[…]}`).
    pub fn to_json(&self) -> Value {
        if self.groups.is_empty() {
            return json!({ "options": self.options });
        }
        let mut groups = self.groups.clone();
        if !self.options.is_empty() {
            groups.push(json!({
                "label": {"type": "plain_text", "text": "Other"},
                "options": self.options,
            }));
        }
        json!({ "option_groups": groups })
    }
}

impl From<Options> for Reply {
    fn from(o: Options) -> Reply {
        Reply::Payload(o.to_json())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn options_serialize_plain_and_grouped() {
        let o = Options::new().option("Red", "r");
        assert_eq!(
            o.to_json(),
            json!({"options":[{"text":{"type":"plain_text","text":"Red"},"value":"r"}]})
        );
        let g = Options::new()
            .group("Warm", [("Red", "r")])
            .option("Grey", "g");
        let v = g.to_json();
        assert_eq!(v["option_groups"][0]["label"]["text"], "Warm");
        assert_eq!(v["option_groups"][1]["options"][0]["value"], "g");
        assert_eq!(
            Reply::from(Options::new()),
            Reply::Payload(json!({"options": []}))
        );
    }

    #[test]
    fn panic_messages_are_bounded() {
        let long = "x".repeat(1000);
        let p = ListenerPanic::from_payload(&long);
        assert_eq!(p.message.len(), 200);
        let p = ListenerPanic::from_payload(&"boom");
        assert_eq!(p.to_string(), "a listener panicked: boom");
    }
}
