//! What a listener gets: the request, decoded once, and ways to answer it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use slack_envelope::events::SlackEvent as TypedEvent;
use slack_envelope::payload::{EventCallback, Interaction, SlashCommand, View};
use slack_envelope::{Envelope, EnvelopeKind};
use slack_web::{
    EphemeralRef, Message, MessageRef, Outbox, PostEphemeral, PostMessage, ResponseMessage, ViewId,
    ViewRef, WebClient,
};

use crate::handler::HandlerError;
use crate::{Error, Shared};

/// Who the bot is, from `auth.test` at start (or [`crate::BotBuilder::bot_user_id`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BotInfo {
    /// The bot's own user id (`U…`): mentions of the bot are `<@user_id>`.
    pub user_id: String,
    /// The bot id (`B…`): the `bot_id` of the bot's own messages.
    pub bot_id: Option<String>,
    /// The workspace id.
    pub team_id: Option<String>,
    /// The workspace name.
    pub team: Option<String>,
    /// The Enterprise Grid org, if any.
    pub enterprise_id: Option<String>,
}

impl BotInfo {
    pub(crate) fn from_auth_test(a: slack_web::AuthTest) -> BotInfo {
        let some = |s: String| (!s.is_empty()).then_some(s);
        BotInfo {
            user_id: a.user_id,
            bot_id: a.bot_id,
            team_id: some(a.team_id),
            team: some(a.team),
            enterprise_id: a.enterprise_id,
        }
    }
}

/// What the runtime lends every request: the Web API client, the outbox, who the bot is and
/// the counters.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) web: WebClient,
    pub(crate) outbox: Option<Arc<Outbox>>,
    pub(crate) bot: Option<Arc<BotInfo>>,
    pub(crate) shared: Arc<Shared>,
    /// Tests only ([`crate::testing`]): `response_url` posts go to this base URL instead,
    /// with the original URL appended (percent-encoded).
    pub(crate) response_url_redirect: Option<String>,
    /// The replica's handle on the fleet ([`crate::BotBuilder::redis`]): shared pacing of
    /// `chat.postMessage` (see [`Context::post_message`]).
    #[cfg(feature = "fleet")]
    pub(crate) fleet: Option<crate::fleet::Fleet>,
}

/// The typed view of the payload, decoded on first use and kept.
enum Typed {
    Event(Result<EventCallback, slack_envelope::Error>),
    Command(Result<SlashCommand, slack_envelope::Error>),
    Interaction(Result<Interaction, slack_envelope::Error>),
    None,
}

/// One request, shared by routing, the middleware and every listener that runs for it.
pub(crate) struct Request {
    pub(crate) envelope: Envelope,
    /// The payload as a JSON tree (`Null` if it is not JSON), parsed on first use and then
    /// shared: routing an event and skipping the bot's own events do not need it.
    tree: OnceLock<(Value, Option<slack_envelope::Error>)>,
    typed: OnceLock<Typed>,
    pub(crate) services: Arc<Services>,
}

/// The few fields of an event the self-event check reads (`type`, `user`, `bot_id`, each
/// when it is a string), as the core's scan of the frame found them: no JSON tree.
pub(crate) struct EventHead<'a> {
    pub(crate) kind: Option<Cow<'a, str>>,
    pub(crate) user: Option<&'a str>,
    pub(crate) bot_id: Option<&'a str>,
}

impl Request {
    pub(crate) fn new(envelope: Envelope, services: Arc<Services>) -> Request {
        Request {
            envelope,
            tree: OnceLock::new(),
            typed: OnceLock::new(),
            services,
        }
    }

    /// The payload as a JSON tree (`Null` if it is not JSON), parsed once per request.
    pub(crate) fn raw(&self) -> &Value {
        &self.tree_and_error().0
    }

    /// Whether the JSON tree was built (tests: routing must not need it).
    #[cfg(test)]
    pub(crate) fn tree_built(&self) -> bool {
        self.tree.get().is_some()
    }

    /// Why the payload is not JSON, if it is not.
    pub(crate) fn raw_error(&self) -> Option<&slack_envelope::Error> {
        self.tree_and_error().1.as_ref()
    }

    fn tree_and_error(&self) -> &(Value, Option<slack_envelope::Error>) {
        self.tree
            .get_or_init(|| match self.envelope.payload_value() {
                Ok(v) => (v, None),
                Err(e) => (Value::Null, Some(e)),
            })
    }

    /// The inner event's `type`, `user` and `bot_id`, read without building a tree (`None`
    /// for other kinds).
    pub(crate) fn event_head(&self) -> Option<EventHead<'_>> {
        if !matches!(self.envelope.kind(), EnvelopeKind::EventsApi) {
            return None;
        }
        Some(EventHead {
            kind: self.envelope.event_type(),
            user: self.envelope.event_user(),
            bot_id: self.envelope.event_bot_id(),
        })
    }

    fn typed(&self) -> &Typed {
        self.typed.get_or_init(|| {
            fn view<T: serde::de::DeserializeOwned>(
                r: &Request,
                name: &'static str,
            ) -> Result<T, slack_envelope::Error> {
                if let Some(e) = r.raw_error() {
                    return Err(e.clone());
                }
                T::deserialize(r.raw()).map_err(|e| slack_envelope::Error::InvalidPayload {
                    view: name,
                    detail: e.to_string(),
                })
            }
            match self.envelope.kind() {
                EnvelopeKind::EventsApi => Typed::Event(view(self, "event_callback")),
                EnvelopeKind::SlashCommands => Typed::Command(view(self, "slash_command")),
                EnvelopeKind::Interactive => Typed::Interaction(view(self, "interaction")),
                _ => Typed::None,
            }
        })
    }

    /// The inner event of an Events API callback, as JSON.
    pub(crate) fn event_json(&self) -> Option<&Value> {
        match self.envelope.kind() {
            EnvelopeKind::EventsApi => self.raw().get("event"),
            _ => None,
        }
    }

    /// The inner event's `type`.
    pub(crate) fn event_type(&self) -> Option<Cow<'_, str>> {
        self.envelope
            .event_type()
            .or_else(|| str_at(self.event_json()?, "/type").map(Cow::Borrowed))
    }

    /// A string at this JSON pointer of the payload.
    pub(crate) fn str_at(&self, pointer: &str) -> Option<&str> {
        str_at(self.raw(), pointer)
    }

    pub(crate) fn response_url(&self) -> Option<&str> {
        self.str_at("/response_url")
            .or_else(|| self.str_at("/response_urls/0/response_url"))
    }

    pub(crate) fn callback_id(&self) -> Option<&str> {
        self.str_at("/callback_id")
            .or_else(|| self.str_at("/view/callback_id"))
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a message listener's pattern captured: group 0 is the whole match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub(crate) groups: Vec<Option<String>>,
    pub(crate) names: Vec<Option<String>>,
}

impl Matches {
    /// Group `i` (0 is the whole match), if it took part in the match.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.groups.get(i).and_then(|g| g.as_deref())
    }

    /// The named group `name` (`(?P<name>…)`), if it took part in the match.
    pub fn name(&self, name: &str) -> Option<&str> {
        let i = self.names.iter().position(|n| n.as_deref() == Some(name))?;
        self.get(i)
    }

    /// How many groups the pattern has, the whole match included.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there is no group at all (never for a match).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// What [`Context::respond`] takes: a text, a [`Message`] (posted with Slack's default,
/// `ephemeral`), or a [`ResponseMessage`] for `in_channel`, `replace_original` and
/// `delete_original`.
pub trait IntoResponse {
    /// The message to post to the `response_url`.
    fn into_response(self) -> ResponseMessage;
}

impl IntoResponse for ResponseMessage {
    fn into_response(self) -> ResponseMessage {
        self
    }
}

impl IntoResponse for Message {
    fn into_response(self) -> ResponseMessage {
        ResponseMessage {
            message: self,
            ..ResponseMessage::default()
        }
    }
}

impl IntoResponse for &str {
    fn into_response(self) -> ResponseMessage {
        Message::text(self).into_response()
    }
}

impl IntoResponse for &String {
    fn into_response(self) -> ResponseMessage {
        Message::text(self.as_str()).into_response()
    }
}

impl IntoResponse for String {
    fn into_response(self) -> ResponseMessage {
        Message::text(self).into_response()
    }
}

/// What a listener gets: the request (decoded once and shared by routing, the middleware and
/// every listener) and ways to answer it that know where it came from.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub(crate) req: Arc<Request>,
    pub(crate) matches: Option<Arc<Matches>>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("envelope", &self.req.envelope)
            .finish_non_exhaustive()
    }
}

fn wrong_kind(wanted: &'static str, kind: &EnvelopeKind) -> Error {
    Error::WrongKind {
        wanted,
        kind: kind.as_str().chars().take(40).collect(),
    }
}

impl Context {
    pub(crate) fn new(req: Arc<Request>) -> Context {
        Context { req, matches: None }
    }

    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        &self.req.envelope
    }

    /// The payload's raw JSON text.
    pub fn raw(&self) -> &str {
        self.req.envelope.payload_json()
    }

    /// The payload as a JSON tree (`Null` if it was not JSON), parsed once per request.
    pub fn json(&self) -> &Value {
        self.req.raw()
    }

    /// The Events API callback, for `events_api` requests (decoded once, then shared).
    pub fn event(&self) -> Result<&EventCallback, Error> {
        match self.req.typed() {
            Typed::Event(Ok(cb)) => Ok(cb),
            Typed::Event(Err(e)) => Err(Error::Payload(e.clone())),
            _ => Err(wrong_kind("event", self.req.envelope.kind())),
        }
    }

    /// The inner event as the typed view `T` (`ctx.event_as::<ReactionAddedEvent>()`).
    pub fn event_as<T: TypedEvent>(&self) -> Result<T, Error> {
        let Some(ev) = self.req.event_json() else {
            if let Some(e) = self.req.raw_error() {
                return Err(Error::Payload(e.clone()));
            }
            return Err(wrong_kind("event", self.req.envelope.kind()));
        };
        T::deserialize(ev).map_err(|e| {
            Error::Payload(slack_envelope::Error::InvalidPayload {
                view: T::TYPE,
                detail: e.to_string(),
            })
        })
    }

    /// The slash command, for `slash_commands` requests (decoded once, then shared).
    pub fn command(&self) -> Result<&SlashCommand, Error> {
        match self.req.typed() {
            Typed::Command(Ok(c)) => Ok(c),
            Typed::Command(Err(e)) => Err(Error::Payload(e.clone())),
            _ => Err(wrong_kind("slash command", self.req.envelope.kind())),
        }
    }

    /// The interaction, for `interactive` requests (decoded once, then shared).
    pub fn interaction(&self) -> Result<&Interaction, Error> {
        match self.req.typed() {
            Typed::Interaction(Ok(i)) => Ok(i),
            Typed::Interaction(Err(e)) => Err(Error::Payload(e.clone())),
            _ => Err(wrong_kind("interaction", self.req.envelope.kind())),
        }
    }

    /// The view of a `view_submission`, `view_closed`, or of a block action or suggestion in
    /// a modal or the App Home.
    pub fn view(&self) -> Option<&View> {
        match self.interaction().ok()? {
            Interaction::ViewSubmission(v) | Interaction::ViewClosed(v) => Some(&v.view),
            Interaction::BlockActions(b) => b.view.as_ref(),
            Interaction::BlockSuggestion(b) => b.view.as_ref(),
            _ => None,
        }
    }

    /// What the message listener's pattern captured (`None` for other listeners).
    pub fn matches(&self) -> Option<&Matches> {
        self.matches.as_deref()
    }

    /// The Web API client (bot token).
    pub fn web(&self) -> &WebClient {
        &self.req.services.web
    }

    /// Who the bot is (from `auth.test` at start), if known.
    pub fn bot(&self) -> Option<&BotInfo> {
        self.req.services.bot.as_deref()
    }

    /// The bot's own user id, if known.
    pub fn bot_user_id(&self) -> Option<&str> {
        self.bot()
            .map(|b| b.user_id.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The channel the request came from: the event's channel (or its item's, for
    /// reactions), the slash command's, or the interaction's.
    pub fn channel_id(&self) -> Option<&str> {
        let r = &self.req;
        match r.envelope.kind() {
            EnvelopeKind::EventsApi => {
                let ev = r.event_json()?;
                str_at(ev, "/channel")
                    .or_else(|| str_at(ev, "/item/channel"))
                    .or_else(|| str_at(ev, "/channel_id"))
                    .or_else(|| str_at(ev, "/channel/id"))
            }
            EnvelopeKind::SlashCommands => r.str_at("/channel_id"),
            _ => r
                .str_at("/channel/id")
                .or_else(|| r.str_at("/container/channel_id")),
        }
    }

    /// The user who caused the request (the event's `user`, the command's `user_id`, the
    /// interaction's `user.id`).
    pub fn user_id(&self) -> Option<&str> {
        let r = &self.req;
        match r.envelope.kind() {
            EnvelopeKind::EventsApi => {
                let ev = r.event_json()?;
                str_at(ev, "/user")
                    .or_else(|| str_at(ev, "/user_id"))
                    .or_else(|| str_at(ev, "/user/id"))
            }
            EnvelopeKind::SlashCommands => r.str_at("/user_id"),
            _ => r.str_at("/user/id"),
        }
    }

    /// The timestamp of the message the request is about (the event's message, the reacted
    /// item, the message a button was in).
    pub fn message_ts(&self) -> Option<&str> {
        let r = &self.req;
        match r.envelope.kind() {
            EnvelopeKind::EventsApi => {
                let ev = r.event_json()?;
                str_at(ev, "/ts").or_else(|| str_at(ev, "/item/ts"))
            }
            EnvelopeKind::SlashCommands => None,
            _ => r
                .str_at("/message/ts")
                .or_else(|| r.str_at("/container/message_ts")),
        }
    }

    /// The thread the request happened in, if it was in one.
    pub fn thread_ts(&self) -> Option<&str> {
        let r = &self.req;
        match r.envelope.kind() {
            EnvelopeKind::EventsApi => str_at(r.event_json()?, "/thread_ts"),
            EnvelopeKind::SlashCommands => None,
            _ => r
                .str_at("/message/thread_ts")
                .or_else(|| r.str_at("/container/thread_ts")),
        }
    }

    /// The `trigger_id` (slash commands, shortcuts, block actions): opens a modal within 3 s.
    pub fn trigger_id(&self) -> Option<&str> {
        self.req.str_at("/trigger_id")
    }

    /// The `response_url` (slash commands, block actions, message shortcuts, and the first
    /// of a `view_submission`'s `response_urls`).
    pub fn response_url(&self) -> Option<&str> {
        self.req.response_url()
    }

    fn channel_for(&self, what: &'static str) -> Result<&str, Error> {
        self.channel_id().ok_or(Error::Missing {
            field: "channel",
            needed_for: what,
        })
    }

    /// Posts `message` (a text or a [`Message`]) in the request's channel, in its thread
    /// when the request happened in one (`chat.postMessage`, waiting on rate limits).
    pub fn say(&self, message: impl Into<Message>) -> Result<MessageRef, Error> {
        let channel = self.channel_for("say")?;
        let mut message = message.into();
        if message.thread_ts.is_none() {
            message.thread_ts = self.thread_ts().map(str::to_owned);
        }
        self.say_to(channel, message)
    }

    /// Answers in a thread: the request's thread, or a new one under its message.
    pub fn reply_in_thread(&self, message: impl Into<Message>) -> Result<MessageRef, Error> {
        let channel = self.channel_for("reply_in_thread")?;
        let ts = self
            .thread_ts()
            .or_else(|| self.message_ts())
            .ok_or(Error::Missing {
                field: "message ts",
                needed_for: "reply_in_thread",
            })?;
        self.say_to(channel, message.into().thread_ts(ts))
    }

    /// Posts `message` to `channel` now (`chat.postMessage`, waiting on rate limits).
    pub fn say_to(&self, channel: &str, message: impl Into<Message>) -> Result<MessageRef, Error> {
        self.post_message(&PostMessage::new(channel, message))
    }

    /// Posts a message now (`chat.postMessage`, waiting on rate limits). [`say`](Self::say)
    /// and [`say_to`](Self::say_to) go through here. In a fleet (feature `fleet`,
    /// [`BotBuilder::redis`](crate::BotBuilder::redis)), the per-channel pace (burst 5, then
    /// 1/s) and any 429 pause are shared by every replica; the client's local limiter applies
    /// as well, and alone while Redis is away.
    pub fn post_message(&self, msg: &PostMessage) -> Result<MessageRef, Error> {
        // fleet: shared pacing, falling back to the local limiter when Redis is away.
        #[cfg(feature = "fleet")]
        if let Some(fleet) = &self.req.services.fleet {
            return crate::fleet::paced_post(fleet, &msg.channel, || {
                self.web().chat_post_message(msg)
            })
            .map_err(Error::Web);
        }
        self.web().chat_post_message(msg).map_err(Error::Web)
    }

    /// Queues `text` for `channel` on the outbox (sent in order per channel under the rate
    /// limiter, flushed at shutdown). Without an outbox it is posted now.
    pub fn say_later(&self, channel: &str, text: &str) -> Result<(), HandlerError> {
        match &self.req.services.outbox {
            Some(outbox) => outbox
                .queue_message(channel, text)
                .map(|_| ())
                .map_err(|e| -> HandlerError { Box::new(e) }),
            None => self.say_to(channel, text).map(|_| ()).map_err(Into::into),
        }
    }

    /// Posts to the request's `response_url`: a text or [`Message`] (ephemeral, Slack's
    /// default), or a [`ResponseMessage`] (`in_channel`, `replace_original`,
    /// `delete_original`). Works for 30 minutes, 5 times per URL.
    pub fn respond(&self, response: impl IntoResponse) -> Result<(), Error> {
        let url = self.response_url().ok_or(Error::Missing {
            field: "response_url",
            needed_for: "respond",
        })?;
        let msg = response.into_response();
        let target = match &self.req.services.response_url_redirect {
            Some(base) => format!("{base}{}", percent_encode(url)),
            None => url.to_owned(),
        };
        self.web()
            .post_response_url(&target, &msg)
            .map_err(Error::Web)
    }

    /// Deletes the message the interaction came from (through the `response_url`).
    pub fn delete_original(&self) -> Result<(), Error> {
        self.respond(ResponseMessage::default().delete_original(true))
    }

    /// Posts `message` in the request's channel, visible only to `user`
    /// (`chat.postEphemeral`; in the request's thread when it was in one).
    pub fn ephemeral(
        &self,
        user: &str,
        message: impl Into<Message>,
    ) -> Result<EphemeralRef, Error> {
        let channel = self.channel_for("ephemeral")?;
        let mut message = message.into();
        if message.thread_ts.is_none() {
            message.thread_ts = self.thread_ts().map(str::to_owned);
        }
        self.web()
            .chat_post_ephemeral(&PostEphemeral::new(channel, user, message))
            .map_err(Error::Web)
    }

    /// Reacts to the request's message with emoji `name` (`reactions.add`).
    pub fn react(&self, name: &str) -> Result<(), Error> {
        let channel = self.channel_for("react")?;
        let ts = self.message_ts().ok_or(Error::Missing {
            field: "message ts",
            needed_for: "react",
        })?;
        self.web()
            .reactions_add(channel, name, ts)
            .map_err(Error::Web)
    }

    fn trigger_for(&self, what: &'static str) -> Result<&str, Error> {
        self.trigger_id().ok_or(Error::Missing {
            field: "trigger_id",
            needed_for: what,
        })
    }

    /// Opens a modal with the request's `trigger_id` (`views.open`, within 3 s of the
    /// request). An error without a `trigger_id` (events have none).
    pub fn open_modal(&self, view: &impl Serialize) -> Result<ViewRef, Error> {
        let trigger = self.trigger_for("open_modal")?;
        self.web().views_open(trigger, view).map_err(Error::Web)
    }

    /// Pushes a view on the open modal's stack (`views.push` with the `trigger_id`).
    pub fn push_view(&self, view: &impl Serialize) -> Result<ViewRef, Error> {
        let trigger = self.trigger_for("push_view")?;
        self.web().views_push(trigger, view).map_err(Error::Web)
    }

    /// Replaces the view the interaction came from (`views.update` by its id, with its hash
    /// so that a stale update is refused).
    pub fn update_view(&self, view: &impl Serialize) -> Result<ViewRef, Error> {
        let current = self.view().ok_or(Error::Missing {
            field: "view",
            needed_for: "update_view",
        })?;
        let id = current.id.clone().ok_or(Error::Missing {
            field: "view id",
            needed_for: "update_view",
        })?;
        self.web()
            .views_update(&ViewId::Id(id), view, current.hash.as_deref())
            .map_err(Error::Web)
    }

    /// Sets `user`'s App Home tab (`views.publish`).
    pub fn publish_home(&self, user: &str, view: &impl Serialize) -> Result<ViewRef, Error> {
        self.web()
            .views_publish(user, view, None)
            .map_err(Error::Web)
    }
}

/// Percent-encodes everything but unreserved characters (for the test recorder's paths).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes what [`percent_encode`] made.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
