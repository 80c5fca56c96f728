//! Listeners, how a request finds them, and the one entry point the runtime calls
//! ([`Router::handle`]). Which listeners run and in what order middleware runs is documented
//! in the crate docs ("Which listeners run", "Middleware and errors").

use std::collections::HashSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use slack_envelope::{Envelope, EnvelopeKind};

use crate::Error;
use crate::context::{Context, Matches, Request, Services};
use crate::handler::{ErrorHandler, Handler, HandlerError, ListenerPanic, Middleware, Next, Reply};

/// What a listener matches a text or an id against: a literal (`"hello"`, `String`) or a
/// regular expression ([`regex`]).
///
/// A literal is a substring of a message's text for [`crate::BotBuilder::on_message`], and
/// the whole id for actions, callbacks and options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pattern {
    /// A literal.
    Text(String),
    /// A regular expression (the `regex-lite` syntax), compiled when it is registered.
    Regex(String),
}

/// A regular expression pattern (`regex(r"^deploy (?P<env>\w+)$")`); one that does not
/// compile makes [`crate::BotBuilder::start`] fail with an error naming it.
pub fn regex(source: impl Into<String>) -> Pattern {
    Pattern::Regex(source.into())
}

impl From<&str> for Pattern {
    fn from(s: &str) -> Pattern {
        Pattern::Text(s.to_owned())
    }
}

impl From<String> for Pattern {
    fn from(s: String) -> Pattern {
        Pattern::Text(s)
    }
}

impl From<&String> for Pattern {
    fn from(s: &String) -> Pattern {
        Pattern::Text(s.clone())
    }
}

/// A compiled pattern.
#[derive(Clone)]
enum Compiled {
    /// A substring (message texts).
    Contains(String),
    /// The whole string (ids).
    Exact(String),
    Regex(regex_lite::Regex),
}

impl Compiled {
    fn is_regex(&self) -> bool {
        matches!(self, Compiled::Regex(_))
    }

    fn is_match(&self, s: &str) -> bool {
        match self {
            Compiled::Contains(t) => s.contains(t.as_str()),
            Compiled::Exact(t) => s == t,
            Compiled::Regex(r) => r.is_match(s),
        }
    }

    fn captures(&self, s: &str) -> Option<Matches> {
        match self {
            Compiled::Contains(t) | Compiled::Exact(t) => self.is_match(s).then(|| Matches {
                groups: vec![Some(t.clone())],
                names: vec![None],
            }),
            Compiled::Regex(r) => {
                let caps = r.captures(s)?;
                Some(Matches {
                    groups: (0..caps.len())
                        .map(|i| caps.get(i).map(|m| m.as_str().to_owned()))
                        .collect(),
                    names: r.capture_names().map(|n| n.map(str::to_owned)).collect(),
                })
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Compiled::Contains(t) | Compiled::Exact(t) => bounded(t),
            Compiled::Regex(r) => format!("/{}/", bounded(r.as_str())),
        }
    }
}

fn bounded(s: &str) -> String {
    if s.chars().count() > 60 {
        let mut t: String = s.chars().take(60).collect();
        t.push('…');
        t
    } else {
        s.to_owned()
    }
}

/// What a listener listens to.
#[derive(Clone)]
enum Matcher {
    /// Events of this type.
    Event(String),
    /// `message` events (plain, bot, file share, thread broadcast), text matching.
    Message(Option<Compiled>),
    /// Any event that no other event listener took.
    AnyEvent,
    /// This slash command.
    Command(String),
    /// Any slash command without its own listener.
    AnyCommand,
    /// Interactions of these types (any if empty), with these ids if given.
    Interactive {
        kinds: Vec<String>,
        callback: Option<Compiled>,
        action: Option<Compiled>,
    },
    /// Whatever nothing else took.
    Fallback,
}

/// The message subtypes `on_message` sees (as Bolt does): new messages, not edits or joins.
const MESSAGE_SUBTYPES: [&str; 4] = [
    "bot_message",
    "file_share",
    "thread_broadcast",
    "me_message",
];

/// A pattern as the builder got it, to be compiled at registration.
pub(crate) enum Spec {
    Event(String),
    Message(Option<Pattern>),
    AnyEvent,
    Command(String),
    AnyCommand,
    Interactive {
        kinds: Vec<String>,
        callback: Option<Pattern>,
        action: Option<Pattern>,
    },
    Fallback,
}

#[derive(Clone)]
struct Listener {
    matcher: Matcher,
    /// For logs and errors: what it listens to.
    name: String,
    middleware: Vec<Middleware>,
    run: Handler,
}

/// The listeners, the middleware and the error handler, in registration order.
#[derive(Clone)]
pub(crate) struct Router {
    listeners: Vec<Listener>,
    global: Vec<Middleware>,
    on_error: Option<ErrorHandler>,
    ignore_self: bool,
    /// Registration errors, reported together by `check`.
    errors: Vec<String>,
    /// Keys of the listeners that must be unique.
    keys: HashSet<String>,
}

impl Default for Router {
    fn default() -> Router {
        Router {
            listeners: Vec::new(),
            global: Vec::new(),
            on_error: None,
            ignore_self: true,
            errors: Vec::new(),
            keys: HashSet::new(),
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field(
                "listeners",
                &self.listeners.iter().map(|l| &l.name).collect::<Vec<_>>(),
            )
            .field("middleware", &self.global.len())
            .field("ignore_self", &self.ignore_self)
            .finish_non_exhaustive()
    }
}

/// What the runtime gets back for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Handled {
    /// The ack to send (if the request accepts a payload and it is still in time).
    pub(crate) reply: Reply,
    /// Where a late payload can still go (slash commands, `view_submission` with
    /// `response_urls`), for requests that accept a payload.
    pub(crate) response_url: Option<String>,
    /// The `callback_id` of the view or shortcut, for requests that accept a payload (to
    /// name them in a late-answer warning).
    pub(crate) callback_id: Option<String>,
}

impl Router {
    fn compile(&mut self, what: &str, p: Pattern, literal: fn(String) -> Compiled) -> Compiled {
        match p {
            Pattern::Text(t) => literal(t),
            Pattern::Regex(src) => match regex_lite::Regex::new(&src) {
                Ok(r) => Compiled::Regex(r),
                Err(e) => {
                    let detail: String = e.to_string().chars().take(200).collect();
                    self.errors.push(format!(
                        "the regular expression `{}` of {what} does not compile: {detail}",
                        bounded(&src)
                    ));
                    // Never matches: start() fails anyway.
                    Compiled::Exact(String::new())
                }
            },
        }
    }

    /// Registers a listener.
    pub(crate) fn add(&mut self, spec: Spec, run: Handler) {
        let (matcher, name, key) = match spec {
            Spec::Event(t) => {
                let name = format!("event {}", bounded(&t));
                (Matcher::Event(t), name, None)
            }
            Spec::Message(p) => {
                let c = p.map(|p| self.compile("a message listener", p, Compiled::Contains));
                let name = match &c {
                    Some(c) => format!("message {}", c.describe()),
                    None => "message".to_owned(),
                };
                (Matcher::Message(c), name, None)
            }
            Spec::AnyEvent => (Matcher::AnyEvent, "any event".to_owned(), None),
            Spec::Command(c) => {
                if !c.starts_with('/') {
                    self.errors.push(format!(
                        "the slash command `{}` must start with `/`",
                        bounded(&c)
                    ));
                }
                let name = format!("command {}", bounded(&c));
                let key = format!("command {c}");
                (Matcher::Command(c), name, Some(key))
            }
            Spec::AnyCommand => (
                Matcher::AnyCommand,
                "any command".to_owned(),
                Some("any command".to_owned()),
            ),
            Spec::Interactive {
                kinds,
                callback,
                action,
            } => {
                let callback = callback.map(|p| self.compile("a callback id", p, Compiled::Exact));
                let action = action.map(|p| self.compile("an action id", p, Compiled::Exact));
                let mut name = if kinds.is_empty() {
                    "interaction".to_owned()
                } else {
                    kinds.join("/")
                };
                if let Some(c) = &callback {
                    name.push_str(&format!(" callback_id {}", c.describe()));
                }
                if let Some(a) = &action {
                    name.push_str(&format!(" action_id {}", a.describe()));
                }
                let exact = !callback.as_ref().is_some_and(Compiled::is_regex)
                    && !action.as_ref().is_some_and(Compiled::is_regex);
                let key = exact.then(|| {
                    let mut k = kinds.clone();
                    k.sort();
                    // The whole ids (`describe` shortens long ones for messages).
                    let literal = |c: &Compiled| match c {
                        Compiled::Contains(t) | Compiled::Exact(t) => t.clone(),
                        Compiled::Regex(r) => r.as_str().to_owned(),
                    };
                    format!(
                        "{k:?} {:?} {:?}",
                        callback.as_ref().map(literal),
                        action.as_ref().map(literal)
                    )
                });
                (
                    Matcher::Interactive {
                        kinds,
                        callback,
                        action,
                    },
                    name,
                    key,
                )
            }
            Spec::Fallback => (
                Matcher::Fallback,
                "fallback".to_owned(),
                Some("fallback".to_owned()),
            ),
        };
        if let Some(key) = key {
            if !self.keys.insert(key) {
                self.errors.push(format!(
                    "{name} is registered twice (the second would never run)"
                ));
            }
        }
        self.listeners.push(Listener {
            matcher,
            name,
            middleware: Vec::new(),
            run,
        });
    }

    pub(crate) fn add_middleware(&mut self, m: Middleware) {
        self.global.push(m);
    }

    /// Adds middleware to the listener registered last.
    pub(crate) fn with_last(&mut self, m: Middleware) {
        match self.listeners.last_mut() {
            Some(l) => l.middleware.push(m),
            None => self
                .errors
                .push("`with` was called before any listener was registered".to_owned()),
        }
    }

    pub(crate) fn set_on_error(&mut self, h: ErrorHandler) {
        self.on_error = Some(h);
    }

    pub(crate) fn set_ignore_self(&mut self, on: bool) {
        self.ignore_self = on;
    }

    /// Every registration error at once.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Listeners(self.errors.clone()))
        }
    }

    /// The one entry point of the runtime: routes `envelope`, runs the middleware and the
    /// listeners (catching panics, reporting errors to `on_error`, counting) and returns the
    /// answer. Never panics.
    pub(crate) fn handle(&self, envelope: Envelope, services: &Arc<Services>) -> Handled {
        let wants_reply = envelope.accepts_response_payload();
        let req = Arc::new(Request::new(envelope, services.clone()));
        let (response_url, callback_id) = if wants_reply {
            (
                req.response_url().map(str::to_owned),
                req.callback_id().map(str::to_owned),
            )
        } else {
            (None, None)
        };
        let ctx = Context::new(req);
        let reply = if self.is_self_event(&ctx) {
            log::debug!(
                "envelope {}: the bot's own event, not handed to listeners",
                ctx.envelope().envelope_id()
            );
            Reply::Ack
        } else {
            let end = |c: &Context| Ok(self.dispatch(c));
            let run = || {
                Next {
                    chain: &self.global,
                    end: &end,
                }
                .run(&ctx)
            };
            match catch_unwind(AssertUnwindSafe(run)) {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    self.report(&e, &ctx, "middleware");
                    Reply::Ack
                }
                Err(p) => {
                    let e: HandlerError = Box::new(ListenerPanic::from_payload(&*p));
                    self.report(&e, &ctx, "middleware");
                    Reply::Ack
                }
            }
        };
        Handled {
            reply,
            response_url,
            callback_id,
        }
    }

    fn is_self_event(&self, ctx: &Context) -> bool {
        if !self.ignore_self {
            return false;
        }
        let Some(me) = ctx.bot() else {
            return false;
        };
        let Some(ev) = ctx.req.event_head() else {
            return false;
        };
        if me.bot_id.is_some() && ev.bot_id == me.bot_id.as_deref() {
            return true;
        }
        let joins = matches!(
            ev.kind.as_deref(),
            Some("member_joined_channel" | "member_left_channel")
        );
        !me.user_id.is_empty() && ev.user == Some(me.user_id.as_str()) && !joins
    }

    /// The listeners that take this request, with what their pattern captured.
    fn select(&self, req: &Request) -> Vec<(&Listener, Option<Matches>)> {
        let fallback = || {
            self.listeners
                .iter()
                .find(|l| matches!(l.matcher, Matcher::Fallback))
                .map(|l| vec![(l, None)])
                .unwrap_or_default()
        };
        match req.envelope.kind() {
            EnvelopeKind::EventsApi => {
                let Some(event_type) = req.event_type() else {
                    return fallback();
                };
                // The tree only when a message listener reads the subtype or the text.
                let ev = || req.event_json();
                let mut picked = Vec::new();
                for l in &self.listeners {
                    match &l.matcher {
                        Matcher::Event(t) if *t == event_type => picked.push((l, None)),
                        Matcher::Message(p) if event_type == "message" => {
                            let subtype =
                                ev().and_then(|e| e.get("subtype")).and_then(Value::as_str);
                            if subtype.is_some_and(|s| !MESSAGE_SUBTYPES.contains(&s)) {
                                continue;
                            }
                            match p {
                                None => picked.push((l, None)),
                                Some(p) => {
                                    let text = ev()
                                        .and_then(|e| e.get("text"))
                                        .and_then(Value::as_str)
                                        .unwrap_or("");
                                    if let Some(m) = p.captures(text) {
                                        picked.push((l, Some(m)));
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if picked.is_empty() {
                    picked = self
                        .listeners
                        .iter()
                        .filter(|l| matches!(l.matcher, Matcher::AnyEvent))
                        .map(|l| (l, None))
                        .collect();
                }
                if picked.is_empty() {
                    fallback()
                } else {
                    picked
                }
            }
            EnvelopeKind::SlashCommands => {
                let command = req.str_at("/command");
                let one = self
                    .listeners
                    .iter()
                    .find(|l| matches!(&l.matcher, Matcher::Command(c) if Some(c.as_str()) == command))
                    .or_else(|| {
                        self.listeners
                            .iter()
                            .find(|l| matches!(l.matcher, Matcher::AnyCommand) && command.is_some())
                    });
                match one {
                    Some(l) => vec![(l, None)],
                    None => fallback(),
                }
            }
            EnvelopeKind::Interactive => {
                let Some(kind) = req.str_at("/type") else {
                    return fallback();
                };
                let callback = req.callback_id();
                let mut actions: Vec<&str> = req
                    .raw()
                    .get("actions")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.get("action_id").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(a) = req.str_at("/action_id") {
                    actions.push(a);
                }
                let matching = |l: &&Listener| match &l.matcher {
                    Matcher::Interactive {
                        kinds,
                        callback: cb,
                        action,
                    } => {
                        (kinds.is_empty() || kinds.iter().any(|k| k == kind))
                            && cb
                                .as_ref()
                                .is_none_or(|p| callback.is_some_and(|c| p.is_match(c)))
                            && action
                                .as_ref()
                                .is_none_or(|p| actions.iter().any(|a| p.is_match(a)))
                    }
                    _ => false,
                };
                let uses_regex = |l: &&Listener| match &l.matcher {
                    Matcher::Interactive {
                        callback, action, ..
                    } => {
                        callback.as_ref().is_some_and(Compiled::is_regex)
                            || action.as_ref().is_some_and(Compiled::is_regex)
                    }
                    _ => false,
                };
                let one = self
                    .listeners
                    .iter()
                    .filter(matching)
                    .find(|l| !uses_regex(l))
                    .or_else(|| self.listeners.iter().find(matching));
                match one {
                    Some(l) => vec![(l, None)],
                    None => fallback(),
                }
            }
            _ => fallback(),
        }
    }

    /// Runs the listeners that take the request; the first payload answer wins.
    fn dispatch(&self, ctx: &Context) -> Reply {
        let picked = self.select(&ctx.req);
        let mut answer: Option<Reply> = None;
        for (l, matches) in picked {
            let lctx = Context {
                req: Arc::clone(&ctx.req),
                matches: matches.map(Arc::new),
            };
            let Some(reply) = self.run_listener(l, &lctx) else {
                continue;
            };
            if reply == Reply::Ack {
                continue;
            }
            if answer.is_none() {
                answer = Some(reply);
            } else {
                log::warn!(
                    "envelope {}: listener {} answered too, but only the first answer is sent",
                    ctx.envelope().envelope_id(),
                    l.name
                );
            }
        }
        answer.unwrap_or(Reply::Ack)
    }

    /// One listener with its middleware; `None` when it failed (reported).
    fn run_listener(&self, l: &Listener, ctx: &Context) -> Option<Reply> {
        let end = |c: &Context| (l.run)(c);
        let run = || {
            Next {
                chain: &l.middleware,
                end: &end,
            }
            .run(ctx)
        };
        let shared = &ctx.req.services.shared;
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(reply)) => {
                shared.handled.fetch_add(1, Ordering::Relaxed);
                Some(reply)
            }
            Ok(Err(e)) => {
                self.report(&e, ctx, &l.name);
                None
            }
            Err(p) => {
                let e: HandlerError = Box::new(ListenerPanic::from_payload(&*p));
                self.report(&e, ctx, &l.name);
                None
            }
        }
    }

    /// Counts, logs and hands a failure to `on_error`.
    fn report(&self, e: &HandlerError, ctx: &Context, who: &str) {
        ctx.req
            .services
            .shared
            .handler_errors
            .fetch_add(1, Ordering::Relaxed);
        let text: String = e.to_string().chars().take(300).collect();
        log::warn!(
            "{who} failed on envelope {}: {text}",
            ctx.envelope().envelope_id()
        );
        if let Some(h) = &self.on_error {
            if catch_unwind(AssertUnwindSafe(|| h(e, ctx))).is_err() {
                log::error!(
                    "the on_error handler panicked on envelope {}",
                    ctx.envelope().envelope_id()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::HandlerResult;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU64;

    use serde_json::json;
    use slack_envelope::Frame;

    fn services() -> Arc<Services> {
        let web = slack_web::WebClient::builder(slack_web::BotToken::new("xoxb-test").unwrap())
            .base_url("http://127.0.0.1:9/api/")
            .allow_insecure_http(true)
            .build()
            .unwrap();
        Arc::new(Services {
            web,
            outbox: None,
            bot: Some(Arc::new(crate::BotInfo {
                user_id: "UME".into(),
                bot_id: Some("BME".into()),
                ..Default::default()
            })),
            shared: Arc::new(crate::Shared::new()),
            response_url_redirect: None,
            #[cfg(feature = "fleet")]
            fleet: None,
        })
    }

    fn envelope(kind: &str, accepts: bool, payload: Value) -> Envelope {
        let frame = json!({"envelope_id": "e1", "type": kind,
            "accepts_response_payload": accepts, "payload": payload});
        match Frame::parse(frame.to_string()).unwrap() {
            Frame::Envelope(e) => e,
            other => panic!("{other:?}"),
        }
    }

    fn event(ev: Value) -> Envelope {
        envelope(
            "events_api",
            false,
            json!({"type": "event_callback", "event_id": "Ev1", "event": ev}),
        )
    }

    type Log = Arc<Mutex<Vec<String>>>;

    fn note(log: &Log, s: impl Into<String>) -> HandlerResult {
        log.lock().unwrap().push(s.into());
        Ok(Reply::Ack)
    }

    fn h(log: &Log, name: &'static str) -> Handler {
        let log = log.clone();
        Arc::new(move |_ctx: &Context| note(&log, name))
    }

    fn taken(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[test]
    fn a_context_can_move_to_another_thread() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Context>();
        send_sync::<Router>();
    }

    #[test]
    fn every_matching_event_listener_runs_in_order() {
        let log = Log::default();
        let mut r = Router::default();
        r.add(Spec::Event("app_mention".into()), h(&log, "a"));
        r.add(Spec::Event("message".into()), h(&log, "m"));
        r.add(Spec::Event("app_mention".into()), h(&log, "b"));
        r.add(Spec::AnyEvent, h(&log, "any"));
        r.check().unwrap();
        let s = services();
        r.handle(
            event(json!({"type": "app_mention", "text": "hi", "user": "U1"})),
            &s,
        );
        assert_eq!(taken(&log), ["a", "b"]);
        r.handle(event(json!({"type": "reaction_added", "user": "U1"})), &s);
        assert_eq!(taken(&log), ["any"]);
    }

    #[test]
    fn message_patterns_match_and_capture() {
        let log = Log::default();
        let mut r = Router::default();
        let l = log.clone();
        r.add(
            Spec::Message(Some(regex(r"^deploy (?P<env>\w+)$"))),
            Arc::new(move |ctx: &Context| {
                let m = ctx.matches().unwrap();
                note(
                    &l,
                    format!("re {} {}", m.get(1).unwrap(), m.name("env").unwrap()),
                )
            }),
        );
        let l = log.clone();
        r.add(
            Spec::Message(Some("hello".into())),
            Arc::new(move |ctx: &Context| {
                note(
                    &l,
                    format!("sub {}", ctx.matches().unwrap().get(0).unwrap()),
                )
            }),
        );
        r.add(Spec::Message(None), h(&log, "all"));
        let s = services();
        let msg = |text: &str| event(json!({"type": "message", "text": text, "user": "U1"}));
        r.handle(msg("deploy staging"), &s);
        assert_eq!(taken(&log), ["re staging staging", "all"]);
        r.handle(msg("well hello there"), &s);
        assert_eq!(taken(&log), ["sub hello", "all"]);
        r.handle(msg("Deploy staging"), &s);
        assert_eq!(taken(&log), ["all"]);
        // Edits and other subtypes are not new messages.
        r.handle(
            event(json!({"type": "message", "subtype": "message_changed", "text": "hello"})),
            &s,
        );
        assert!(taken(&log).is_empty());
        r.handle(
            event(json!({"type": "message", "subtype": "thread_broadcast", "text": "hello", "user": "U1"})),
            &s,
        );
        assert_eq!(taken(&log), ["sub hello", "all"]);
    }

    #[test]
    fn own_events_are_skipped_unless_asked() {
        let log = Log::default();
        let mut r = Router::default();
        r.add(Spec::AnyEvent, h(&log, "ev"));
        let s = services();
        r.handle(
            event(json!({"type": "message", "text": "x", "user": "UME"})),
            &s,
        );
        r.handle(
            event(json!({"type": "message", "text": "x", "bot_id": "BME"})),
            &s,
        );
        assert!(taken(&log).is_empty());
        // Someone adding the bot to a channel is not the bot's own doing.
        r.handle(
            event(json!({"type": "member_joined_channel", "user": "UME"})),
            &s,
        );
        r.handle(
            event(json!({"type": "message", "text": "x", "bot_id": "BOTHER"})),
            &s,
        );
        assert_eq!(taken(&log), ["ev", "ev"]);
        r.set_ignore_self(false);
        r.handle(
            event(json!({"type": "message", "text": "x", "user": "UME"})),
            &s,
        );
        assert_eq!(taken(&log), ["ev"]);
    }

    /// Routing an event and the self-event check read no JSON tree: a listener that asks
    /// for nothing costs no parse of the payload; one that asks gets the tree, built once.
    #[test]
    fn routing_and_the_self_check_build_no_tree() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut r = Router::default();
        let s2 = seen.clone();
        r.add(
            Spec::Event("reaction_added".into()),
            Arc::new(move |ctx: &Context| {
                let before = ctx.req.tree_built();
                let user = ctx.user_id().map(str::to_owned);
                s2.lock()
                    .unwrap()
                    .push((before, ctx.req.tree_built(), user));
                Ok(Reply::Ack)
            }),
        );
        let s = services();
        r.handle(
            event(json!({"type": "reaction_added", "user": "U1", "bot_id": "B1"})),
            &s,
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [(false, true, Some("U1".to_owned()))]
        );
    }

    /// The self check reads `user`, `bot_id` and `type` only when they are strings, like the
    /// tree did: an object `user` (`user_change`) neither matches nor hides the `bot_id`.
    #[test]
    fn the_self_check_tolerates_odd_field_types() {
        let log = Log::default();
        let mut r = Router::default();
        r.add(Spec::AnyEvent, h(&log, "ev"));
        let s = services();
        r.handle(
            event(json!({"type": "user_change", "user": {"id": "UME"}, "bot_id": "BME"})),
            &s,
        );
        r.handle(
            event(json!({"type": "x", "user": ["UME"], "bot_id": 1})),
            &s,
        );
        // An escaped id is the same id.
        let escaped = r#"{"envelope_id":"e2","type":"events_api","payload":{"event":{"type":"x","user":"U\u004dE"}}}"#;
        let Ok(Frame::Envelope(e)) = Frame::parse(escaped) else {
            panic!("not an envelope");
        };
        r.handle(e, &s);
        assert_eq!(taken(&log), ["ev"]);
    }

    fn interactive(payload: Value) -> Envelope {
        envelope("interactive", false, payload)
    }

    #[test]
    fn one_interaction_listener_exact_before_regex() {
        let log = Log::default();
        let mut r = Router::default();
        let ba = || vec!["block_actions".to_owned()];
        r.add(
            Spec::Interactive {
                kinds: ba(),
                callback: None,
                action: Some(regex("^approve")),
            },
            h(&log, "re"),
        );
        r.add(
            Spec::Interactive {
                kinds: ba(),
                callback: None,
                action: Some("approve_1".into()),
            },
            h(&log, "exact"),
        );
        r.add(Spec::Fallback, h(&log, "fb"));
        r.check().unwrap();
        let s = services();
        let click = |id: &str| {
            interactive(json!({"type": "block_actions", "actions": [{"action_id": id}]}))
        };
        r.handle(click("approve_1"), &s);
        assert_eq!(taken(&log), ["exact"]);
        r.handle(click("approve_2"), &s);
        assert_eq!(taken(&log), ["re"]);
        r.handle(click("deny"), &s);
        assert_eq!(taken(&log), ["fb"]);
    }

    #[test]
    fn callbacks_route_views_and_shortcuts() {
        let log = Log::default();
        let mut r = Router::default();
        r.add(
            Spec::Interactive {
                kinds: vec!["shortcut".into(), "message_action".into()],
                callback: Some("sc".into()),
                action: None,
            },
            h(&log, "shortcut"),
        );
        r.add(
            Spec::Interactive {
                kinds: vec!["view_submission".into()],
                callback: Some("modal".into()),
                action: None,
            },
            h(&log, "submit"),
        );
        r.add(
            Spec::Interactive {
                kinds: vec!["view_closed".into()],
                callback: Some("modal".into()),
                action: None,
            },
            h(&log, "closed"),
        );
        r.add(
            Spec::Interactive {
                kinds: vec!["block_suggestion".into()],
                callback: None,
                action: Some("pick".into()),
            },
            h(&log, "options"),
        );
        let s = services();
        r.handle(
            interactive(json!({"type": "message_action", "callback_id": "sc"})),
            &s,
        );
        r.handle(
            interactive(json!({"type": "view_submission", "view": {"callback_id": "modal"}})),
            &s,
        );
        r.handle(
            interactive(json!({"type": "view_closed", "view": {"callback_id": "modal"}})),
            &s,
        );
        r.handle(
            interactive(json!({"type": "block_suggestion", "action_id": "pick", "value": "a"})),
            &s,
        );
        r.handle(
            interactive(json!({"type": "shortcut", "callback_id": "other"})),
            &s,
        );
        assert_eq!(taken(&log), ["shortcut", "submit", "closed", "options"]);
    }

    #[test]
    fn duplicates_and_bad_patterns_are_all_reported() {
        let mut r = Router::default();
        let nop: Handler = Arc::new(|_: &Context| Ok(Reply::Ack));
        r.add(Spec::Command("/deploy".into()), nop.clone());
        r.add(Spec::Command("/deploy".into()), nop.clone());
        r.add(Spec::Command("deploy".into()), nop.clone());
        let action = |p: Pattern| Spec::Interactive {
            kinds: vec!["block_actions".into()],
            callback: None,
            action: Some(p),
        };
        r.add(action("go".into()), nop.clone());
        r.add(action("go".into()), nop.clone());
        r.add(action(regex("^go")), nop.clone());
        r.add(action(regex("^go")), nop.clone()); // patterns may overlap: not an error
        r.add(Spec::Message(Some(regex("(unclosed"))), nop.clone());
        // Long ids that differ only after the part shown in messages are different ids.
        let long = "x".repeat(70);
        r.add(action(format!("{long}1").into()), nop.clone());
        r.add(action(format!("{long}2").into()), nop.clone());
        let Err(Error::Listeners(errors)) = r.check() else {
            panic!("expected listener errors");
        };
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("/deploy") && errors[0].contains("twice"));
        assert!(errors[1].contains("must start with `/`"));
        assert!(errors[2].contains("action_id go") && errors[2].contains("twice"));
        assert!(errors[3].contains("(unclosed"), "{}", errors[3]);
        let text = Error::Listeners(errors).to_string();
        assert!(text.contains("(unclosed"));
    }

    #[test]
    fn middleware_runs_in_order_and_can_stop() {
        let log = Log::default();
        let mut r = Router::default();
        let mw = |log: &Log, name: &'static str, go_on: bool| -> Middleware {
            let log = log.clone();
            Arc::new(move |ctx: &Context, next: Next<'_>| {
                log.lock().unwrap().push(name.to_owned());
                if go_on { next.run(ctx) } else { Ok(Reply::Ack) }
            })
        };
        r.add_middleware(mw(&log, "g1", true));
        r.add_middleware(mw(&log, "g2", true));
        r.add(Spec::Event("message".into()), h(&log, "l1"));
        r.with_last(mw(&log, "l1-mw", true));
        r.add(Spec::Event("message".into()), h(&log, "l2"));
        r.with_last(mw(&log, "l2-stop", false));
        let s = services();
        r.handle(
            event(json!({"type": "message", "text": "x", "user": "U1"})),
            &s,
        );
        assert_eq!(taken(&log), ["g1", "g2", "l1-mw", "l1", "l2-stop"]);

        let mut r2 = Router::default();
        r2.add_middleware(mw(&log, "deny", false));
        r2.add(Spec::Event("message".into()), h(&log, "never"));
        r2.handle(
            event(json!({"type": "message", "text": "x", "user": "U1"})),
            &s,
        );
        assert_eq!(taken(&log), ["deny"]);

        let mut r3 = Router::default();
        r3.with_last(mw(&log, "x", true));
        assert!(r3.check().is_err());
    }

    #[test]
    fn a_panic_is_caught_counted_reported_and_the_others_run() {
        let log = Log::default();
        let mut r = Router::default();
        r.add(
            Spec::Event("message".into()),
            Arc::new(|_: &Context| -> HandlerResult { panic!("kaboom") }),
        );
        r.add(
            Spec::Event("message".into()),
            Arc::new(|_: &Context| Err("plain failure".into())),
        );
        r.add(Spec::Event("message".into()), h(&log, "third"));
        let l = log.clone();
        r.set_on_error(Arc::new(move |e: &HandlerError, ctx: &Context| {
            l.lock()
                .unwrap()
                .push(format!("error {} on {}", e, ctx.envelope().envelope_id()));
        }));
        let s = services();
        let out = r.handle(
            event(json!({"type": "message", "text": "x", "user": "U1"})),
            &s,
        );
        assert_eq!(out.reply, Reply::Ack);
        assert_eq!(
            taken(&log),
            [
                "error a listener panicked: kaboom on e1",
                "error plain failure on e1",
                "third"
            ]
        );
        assert_eq!(s.shared.handler_errors.load(Ordering::Relaxed), 2);
        assert_eq!(s.shared.handled.load(Ordering::Relaxed), 1);
        let _ = AtomicU64::new(0);
    }

    #[test]
    fn the_first_payload_wins_and_late_targets_are_kept() {
        let mut r = Router::default();
        r.add(
            Spec::Command("/x".into()),
            Arc::new(|ctx: &Context| {
                Ok(Reply::payload(json!({"text": ctx.command()?.text.clone()})))
            }),
        );
        let s = services();
        let out = r.handle(
            envelope(
                "slash_commands",
                true,
                json!({"command": "/x", "text": "hi", "response_url": "https://hooks.example/r/1"}),
            ),
            &s,
        );
        assert_eq!(out.reply, Reply::Payload(json!({"text": "hi"})));
        assert_eq!(
            out.response_url.as_deref(),
            Some("https://hooks.example/r/1")
        );
        let out = r.handle(
            envelope(
                "interactive",
                true,
                json!({"type": "view_submission", "view": {"callback_id": "m"},
                       "response_urls": [{"response_url": "https://hooks.example/r/2"}]}),
            ),
            &s,
        );
        assert_eq!(out.reply, Reply::Ack);
        assert_eq!(out.callback_id.as_deref(), Some("m"));
        assert_eq!(
            out.response_url.as_deref(),
            Some("https://hooks.example/r/2")
        );
    }

    #[test]
    fn the_context_finds_where_each_kind_of_request_came_from() {
        let s = services();
        let ctx = |e: Envelope| Context::new(Arc::new(Request::new(e, s.clone())));
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row = |c: &Context| -> Row {
            let o = |x: Option<&str>| x.map(str::to_owned);
            (
                o(c.channel_id()),
                o(c.user_id()),
                o(c.message_ts()),
                o(c.thread_ts()),
                o(c.trigger_id()),
                o(c.response_url()),
            )
        };
        let some = |x: &str| Some(x.to_owned());
        let c = ctx(event(
            json!({"type": "message", "channel": "C1", "user": "U1",
            "ts": "2.0", "thread_ts": "1.0"}),
        ));
        assert_eq!(
            row(&c),
            (some("C1"), some("U1"), some("2.0"), some("1.0"), None, None)
        );
        let c = ctx(event(json!({"type": "reaction_added", "user": "U2",
            "item": {"type": "message", "channel": "C2", "ts": "3.0"}})));
        assert_eq!(
            row(&c),
            (some("C2"), some("U2"), some("3.0"), None, None, None)
        );
        let c = ctx(event(
            json!({"type": "file_shared", "user_id": "U3", "channel_id": "C3"}),
        ));
        assert_eq!(row(&c), (some("C3"), some("U3"), None, None, None, None));
        let c = ctx(envelope(
            "slash_commands",
            true,
            json!({"command": "/x", "channel_id": "C4",
            "user_id": "U4", "trigger_id": "t4", "response_url": "https://r/4"}),
        ));
        assert_eq!(
            row(&c),
            (
                some("C4"),
                some("U4"),
                None,
                None,
                some("t4"),
                some("https://r/4")
            )
        );
        let c = ctx(interactive(
            json!({"type": "block_actions", "user": {"id": "U5"},
            "trigger_id": "t5", "response_url": "https://r/5",
            "container": {"type": "message", "channel_id": "C5", "message_ts": "5.5", "thread_ts": "5.0"},
            "actions": [{"action_id": "a"}]}),
        ));
        assert_eq!(
            row(&c),
            (
                some("C5"),
                some("U5"),
                some("5.5"),
                some("5.0"),
                some("t5"),
                some("https://r/5")
            )
        );
        let c = ctx(interactive(
            json!({"type": "view_submission", "user": {"id": "U6"},
            "view": {"id": "V6", "callback_id": "m"},
            "response_urls": [{"block_id": "b", "action_id": "a", "channel_id": "C6",
                               "response_url": "https://r/6"}]}),
        ));
        assert_eq!(
            row(&c),
            (None, some("U6"), None, None, None, some("https://r/6"))
        );
        assert_eq!(c.view().and_then(|v| v.id.as_deref()), Some("V6"));
        // Nothing to answer to: a clear error, no call.
        let e = c.say("x").unwrap_err().to_string();
        assert_eq!(e, "say needs a channel, and this request has none");
    }

    #[test]
    fn typed_accessors_say_what_is_wrong() {
        let r = Router::default();
        let s = services();
        let _ = r;
        let req = Arc::new(Request::new(
            event(json!({"type": "message", "text": "x"})),
            s.clone(),
        ));
        let ctx = Context::new(req);
        assert!(ctx.event().is_ok());
        let e = ctx.command().unwrap_err().to_string();
        assert!(
            e.contains("events_api") && e.contains("slash command"),
            "{e}"
        );
        let e = ctx.open_modal(&json!({})).unwrap_err().to_string();
        assert!(e.contains("trigger_id"), "{e}");
        // A payload that does not fit the typed view: the decode error, not None.
        let bad = envelope("slash_commands", true, json!({"text": "no command field"}));
        let ctx = Context::new(Arc::new(Request::new(bad, s)));
        let e = ctx.command().unwrap_err().to_string();
        assert!(e.contains("command"), "{e}");
    }
}
