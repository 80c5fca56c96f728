//! Handlers, their context, and routing.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use slack_envelope::payload::{EventCallback, Interaction, SlashCommand};
use slack_envelope::{Envelope, EnvelopeKind};
use slack_web::{MessageRef, Outbox, QueueError, WebClient};

/// The error a handler may return (logged and counted; the envelope is still acked).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns.
pub type HandlerResult = Result<Reply, HandlerError>;

/// A handler: runs on the worker pool, never on the event loop.
pub type Handler = Arc<dyn Fn(&Context) -> HandlerResult + Send + Sync>;

/// How a handler answers Slack.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// A plain ack (or nothing special: requests that do not accept a payload were acked on receipt).
    Ack,
    /// Ack with this payload (slash commands, `view_submission`, `block_suggestion`): only
    /// where Slack accepts one, and only if the handler answers before the ack deadline.
    Payload(Value),
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
}

/// What a handler gets: the request (typed views and raw JSON) and ways to answer.
pub struct Context {
    pub(crate) envelope: Envelope,
    pub(crate) web: WebClient,
    pub(crate) outbox: Option<Arc<Outbox>>,
    pub(crate) bot_user_id: Option<Arc<str>>,
    // fleet: shared pacing of chat.postMessage (see `post_message`).
    #[cfg(feature = "fleet")]
    pub(crate) fleet: Option<crate::fleet::Fleet>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The payload's raw JSON.
    pub fn raw(&self) -> &str {
        self.envelope.payload_json()
    }

    /// The Events API callback, for `events_api` requests.
    pub fn event(&self) -> Option<EventCallback> {
        match self.envelope.kind() {
            EnvelopeKind::EventsApi => log_bad(self.envelope.events_api()),
            _ => None,
        }
    }

    /// The slash command, for `slash_commands` requests.
    pub fn command(&self) -> Option<SlashCommand> {
        match self.envelope.kind() {
            EnvelopeKind::SlashCommands => log_bad(self.envelope.slash_command()),
            _ => None,
        }
    }

    /// The interaction, for `interactive` requests.
    pub fn interaction(&self) -> Option<Interaction> {
        match self.envelope.kind() {
            EnvelopeKind::Interactive => log_bad(self.envelope.interactive()),
            _ => None,
        }
    }

    /// The Web API client (bot token).
    pub fn web(&self) -> &WebClient {
        &self.web
    }

    /// The bot's own user id (from `BOT_USER_ID` or `auth.test`), if known.
    pub fn bot_user_id(&self) -> Option<&str> {
        self.bot_user_id.as_deref()
    }

    /// Posts `text` to `channel` now (`chat.postMessage`, waiting on rate limits).
    pub fn say(&self, channel: &str, text: &str) -> Result<MessageRef, slack_web::Error> {
        self.post_message(&slack_web::PostMessage::new(channel, text))
    }

    /// Posts a message now (`chat.postMessage`, waiting on rate limits). In a fleet
    /// (feature `fleet`), the per-channel pace (burst 5, then 1/s) and any 429 pause are
    /// shared by every replica; the client's local limiter applies as well.
    pub fn post_message(
        &self,
        msg: &slack_web::PostMessage,
    ) -> Result<MessageRef, slack_web::Error> {
        // fleet: shared pacing, falling back to the local limiter when Redis is away.
        #[cfg(feature = "fleet")]
        if let Some(fleet) = &self.fleet {
            return crate::fleet::paced_post(fleet, &msg.channel, || {
                self.web.chat_post_message(msg)
            });
        }
        self.web.chat_post_message(msg)
    }

    /// Queues `text` for `channel` on the outbox (sent in order per channel under the rate
    /// limiter, flushed at shutdown). Without an outbox it is posted now.
    pub fn say_later(&self, channel: &str, text: &str) -> Result<(), HandlerError> {
        match &self.outbox {
            Some(outbox) => outbox
                .queue_message(channel, text)
                .map(|_| ())
                .map_err(|e: QueueError| -> HandlerError { Box::new(e) }),
            None => self.say(channel, text).map(|_| ()).map_err(Into::into),
        }
    }
}

fn log_bad<T>(r: Result<T, slack_envelope::Error>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            log::warn!("request payload could not be read: {e}");
            None
        }
    }
}

/// Where a handler is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// An event type (`message`, `app_mention`, …).
    Event(String),
    /// Any event.
    AnyEvent,
    /// A slash command (`/deploy`).
    Command(String),
    /// Any slash command.
    AnyCommand,
    /// An interaction of this type (`shortcut`, `view_submission`, …) and, if given, this
    /// `callback_id` or `action_id`.
    Interactive {
        kind: Option<String>,
        callback_id: Option<String>,
        action_id: Option<String>,
    },
    /// Anything that nothing else took.
    Fallback,
}

/// The routing table, in registration order.
#[derive(Clone, Default)]
pub(crate) struct Router {
    routes: Vec<(Route, Handler)>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(r, _)| r))
            .finish()
    }
}

/// What routing needs to know about a request, read once.
struct Keys {
    event_type: Option<String>,
    command: Option<String>,
    interaction_type: Option<String>,
    callback_id: Option<String>,
    action_ids: Vec<String>,
}

#[derive(serde::Deserialize)]
struct CommandPeek {
    #[serde(default)]
    command: Option<String>,
}

impl Router {
    pub(crate) fn add(&mut self, route: Route, handler: Handler) {
        self.routes.push((route, handler));
    }

    fn keys(&self, env: &Envelope) -> Keys {
        let mut k = Keys {
            event_type: None,
            command: None,
            interaction_type: None,
            callback_id: None,
            action_ids: Vec::new(),
        };
        match env.kind() {
            EnvelopeKind::EventsApi => {
                // Read by the core's scan in the common case: no second decode of the payload.
                k.event_type = env.event_type().map(|t| t.into_owned());
            }
            EnvelopeKind::SlashCommands => {
                if let Ok(p) = serde_json::from_str::<CommandPeek>(env.payload_json()) {
                    k.command = p.command;
                }
            }
            EnvelopeKind::Interactive => {
                if let Ok(i) = env.interactive() {
                    k.interaction_type = Some(i.interaction_type().to_owned());
                    k.callback_id = i.callback_id().map(str::to_owned);
                    k.action_ids = i.action_ids().into_iter().map(str::to_owned).collect();
                }
            }
            _ => {}
        }
        k
    }

    /// The handler for `env`: the first specific route that matches, else the first
    /// catch-all of its kind, else the fallback.
    pub(crate) fn find(&self, env: &Envelope) -> Option<Handler> {
        if self.routes.is_empty() {
            return None;
        }
        let k = self.keys(env);
        let specific = self.routes.iter().find(|(r, _)| match r {
            Route::Event(t) => k.event_type.as_deref() == Some(t.as_str()),
            Route::Command(c) => k.command.as_deref() == Some(c.as_str()),
            Route::Interactive {
                kind,
                callback_id,
                action_id,
            } => {
                k.interaction_type.is_some()
                    && kind
                        .as_deref()
                        .is_none_or(|want| k.interaction_type.as_deref() == Some(want))
                    && callback_id
                        .as_deref()
                        .is_none_or(|want| k.callback_id.as_deref() == Some(want))
                    && action_id
                        .as_deref()
                        .is_none_or(|want| k.action_ids.iter().any(|a| a == want))
            }
            _ => false,
        });
        if let Some((_, h)) = specific {
            return Some(h.clone());
        }
        let catch_all = self.routes.iter().find(|(r, _)| match r {
            Route::AnyEvent => k.event_type.is_some(),
            Route::AnyCommand => k.command.is_some(),
            _ => false,
        });
        if let Some((_, h)) = catch_all {
            return Some(h.clone());
        }
        self.routes
            .iter()
            .find(|(r, _)| *r == Route::Fallback)
            .map(|(_, h)| h.clone())
    }
}
