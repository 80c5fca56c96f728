//! Unit tests of handlers without Slack or sockets to Slack: run one request (from JSON)
//! through your listeners and get back the ack payload and the Web API calls they made.
//!
//! ```
//! use serde_json::json;
//! use slack_bot::testing::{self, TestBot};
//!
//! // Your bot: a function that adds listeners to a builder.
//! fn install(b: slack_bot::BotBuilder) -> slack_bot::BotBuilder {
//!     b.on_app_mention(|ctx, _mention| {
//!         ctx.reply_in_thread("On it!")?;
//!         Ok(slack_bot::Reply::Ack)
//!     })
//! }
//!
//! # fn main() -> Result<(), slack_bot::Error> {
//! let bot = TestBot::new(install(testing::builder()))?;
//! let out = bot.event(json!({"type": "app_mention", "channel": "C1", "user": "U1",
//!                            "text": "<@U0BOT> hi", "ts": "1.000100"}))?;
//! let call = &out.calls[0];
//! assert_eq!(call.method, "chat.postMessage");
//! assert_eq!(call.body["text"], "On it!");
//! assert_eq!(call.body["thread_ts"], "1.000100");
//! assert_eq!(out.ack, None);
//! # Ok(())
//! # }
//! ```
//!
//! The Web API calls go to a recorder on 127.0.0.1 inside the test process that answers each
//! with a plausible success (`chat.postMessage` gets a `ts`, `views.open` a view id, …);
//! `response_url` posts are recorded as the method `"response_url"` with the original URL.
//! Nothing leaves the machine. For a test against a whole fake Slack (sockets, acks,
//! redeliveries, faults) use `slack-testkit`.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde_json::{Value, json};
use slack_envelope::Frame;

use crate::context::{Context, Request, Services, percent_decode};
use crate::router::Router;
use crate::{Bot, BotBuilder, Error, Reply, Shared};

/// The bot user id the recorder's `auth.test` reports.
pub const BOT_USER_ID: &str = "U0BOT";
/// The bot id the recorder's `auth.test` reports.
pub const BOT_ID: &str = "B0BOT";
/// The team id the recorder's `auth.test` reports (and test requests carry).
pub const TEAM_ID: &str = "T0TEAM";

/// A builder with placeholder tokens, for [`TestBot::new`] (and doc examples).
pub fn builder() -> BotBuilder {
    match Bot::builder("xapp-1-A0TEST-0-testing", "xoxb-0-testing") {
        Ok(b) => b,
        // The placeholder tokens have the right prefixes; this cannot happen.
        Err(_) => unreachable_builder(),
    }
}

#[allow(clippy::panic)]
fn unreachable_builder() -> BotBuilder {
    panic!("placeholder tokens refused")
}

/// One Web API call a handler made.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiCall {
    /// The method (`chat.postMessage`), or `"response_url"`.
    pub method: String,
    /// The JSON arguments.
    pub body: Value,
    /// For `response_url` posts: the URL posted to.
    pub url: Option<String>,
}

/// What one request led to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The ack payload (only for requests that accept one and got one).
    pub ack: Option<Value>,
    /// The listeners' answer as they returned it.
    pub reply: Reply,
    /// The Web API calls made while handling it, in order.
    pub calls: Vec<ApiCall>,
    /// Listener errors and panics while handling it.
    pub errors: u64,
}

impl Outcome {
    /// The calls of `method`.
    pub fn calls_of(&self, method: &str) -> Vec<&ApiCall> {
        self.calls.iter().filter(|c| c.method == method).collect()
    }
}

/// Your listeners, ready to take requests one at a time on the calling thread.
pub struct TestBot {
    router: Router,
    services: Arc<Services>,
    recorder: Recorder,
    next_id: AtomicU64,
}

impl fmt::Debug for TestBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestBot")
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl TestBot {
    /// Takes the listeners, middleware and settings of `builder` (tokens and URLs are
    /// replaced: nothing reaches Slack). Fails as [`BotBuilder::start`] would on listener
    /// errors. The bot is [`BOT_USER_ID`]/[`BOT_ID`] unless the builder says otherwise.
    pub fn new(builder: BotBuilder) -> Result<TestBot, Error> {
        builder.router.check()?;
        let recorder = Recorder::start().map_err(Error::Thread)?;
        let builder = builder
            .api_url(format!("{}api/", recorder.base))
            .allow_insecure(true)
            .no_proxy();
        let web = builder.web_client(slack_web::RetryPolicy::none())?;
        let bot = builder.identify(&web)?.map(Arc::new);
        recorder.take();
        let services = Arc::new(Services {
            web,
            outbox: None,
            bot,
            shared: Arc::new(Shared::new()),
            response_url_redirect: Some(format!("{}response/", recorder.base)),
            #[cfg(feature = "fleet")]
            fleet: None,
        });
        Ok(TestBot {
            router: builder.router,
            services,
            recorder,
            next_id: AtomicU64::new(1),
        })
    }

    /// Who the bot is.
    pub fn bot(&self) -> Option<&crate::BotInfo> {
        self.services.bot.as_deref()
    }

    /// A [`Context`] for this envelope frame, to call one handler function directly
    /// (`my_handler(&ctx)`); the Web API calls it makes are then in
    /// [`take_calls`](Self::take_calls). No routing or middleware runs.
    pub fn context(&self, envelope_json: &str) -> Result<Context, Error> {
        let envelope = parse_envelope(envelope_json)?;
        self.recorder.take();
        Ok(Context::new(Arc::new(Request::new(
            envelope,
            self.services.clone(),
        ))))
    }

    /// The Web API calls made since the last request started (or the last call of this).
    pub fn take_calls(&self) -> Vec<ApiCall> {
        self.recorder.take()
    }

    /// Runs a whole envelope frame as Slack sends it on the socket
    /// (`{"envelope_id":…,"type":"events_api","payload":{…}}`).
    pub fn run(&self, envelope_json: &str) -> Result<Outcome, Error> {
        let envelope = parse_envelope(envelope_json)?;
        let accepts = envelope.accepts_response_payload();
        self.recorder.take();
        let errors_before = self.services.shared.handler_errors.load(Ordering::Relaxed);
        let handled = self.router.handle(envelope, &self.services);
        let errors = self.services.shared.handler_errors.load(Ordering::Relaxed) - errors_before;
        let ack = match (&handled.reply, accepts) {
            (Reply::Payload(v), true) => Some(v.clone()),
            _ => None,
        };
        Ok(Outcome {
            ack,
            reply: handled.reply,
            calls: self.recorder.take(),
            errors,
        })
    }

    fn envelope_id(&self) -> String {
        format!("test-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Runs an Events API event (the inner `event`, e.g. `{"type":"message",…}`), wrapped as
    /// Slack would.
    pub fn event(&self, event: Value) -> Result<Outcome, Error> {
        let id = self.envelope_id();
        let frame = json!({
            "envelope_id": id,
            "type": "events_api",
            "accepts_response_payload": false,
            "payload": {
                "type": "event_callback",
                "team_id": TEAM_ID,
                "event_id": format!("Ev{id}"),
                "event": event,
            },
        });
        self.run(&frame.to_string())
    }

    /// Runs a slash command `command` (`/deploy`) with `text`, from user `U1` in channel
    /// `C1`, with a `response_url` and a `trigger_id`.
    pub fn command(&self, command: &str, text: &str) -> Result<Outcome, Error> {
        let id = self.envelope_id();
        let frame = json!({
            "envelope_id": id,
            "type": "slash_commands",
            "accepts_response_payload": true,
            "payload": {
                "command": command, "text": text, "team_id": TEAM_ID,
                "channel_id": "C1", "user_id": "U1", "user_name": "tester",
                "response_url": format!("https://hooks.slack.com/commands/{TEAM_ID}/{id}"),
                "trigger_id": format!("trigger-{id}"),
            },
        });
        self.run(&frame.to_string())
    }

    /// Runs an interaction payload (`{"type":"block_actions",…}`, `view_submission`, …).
    /// `view_submission` and `block_suggestion` accept an ack payload, as on Slack.
    pub fn interactive(&self, payload: Value) -> Result<Outcome, Error> {
        let id = self.envelope_id();
        let accepts = matches!(
            payload.get("type").and_then(Value::as_str),
            Some("view_submission" | "block_suggestion")
        );
        let frame = json!({
            "envelope_id": id,
            "type": "interactive",
            "accepts_response_payload": accepts,
            "payload": payload,
        });
        self.run(&frame.to_string())
    }
}

fn parse_envelope(envelope_json: &str) -> Result<slack_envelope::Envelope, Error> {
    match Frame::parse(envelope_json.to_owned()).map_err(Error::Payload)? {
        Frame::Envelope(e) => Ok(e),
        _ => Err(Error::Config(
            "the JSON is a frame but not an envelope".to_owned(),
        )),
    }
}

/// A Web API stand-in on 127.0.0.1 that records each request and answers with success.
struct Recorder {
    base: String,
    calls: Arc<Mutex<Vec<ApiCall>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start() -> std::io::Result<Recorder> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let calls: Arc<Mutex<Vec<ApiCall>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (calls.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("slack-bot-test-recorder".to_owned())
            .spawn(move || {
                let counter = Arc::new(AtomicU64::new(0));
                for stream in listener.incoming() {
                    if s.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    // One thread per connection: a pooled idle connection never holds up
                    // another (handlers may call from several threads).
                    let (c, counter) = (c.clone(), counter.clone());
                    let spawned = std::thread::Builder::new()
                        .name("slack-bot-test-recorder-conn".to_owned())
                        .spawn(move || {
                            if let Err(e) = serve(stream, &c, &counter) {
                                log::debug!("test recorder: {e}");
                            }
                        });
                    if let Err(e) = spawned {
                        log::warn!("test recorder: no thread for a connection: {e}");
                    }
                }
            })?;
        Ok(Recorder {
            base: format!("http://{addr}/"),
            calls,
            stop,
            addr,
            thread: Some(thread),
        })
    }

    fn take(&self) -> Vec<ApiCall> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop up.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Largest request the recorder reads.
const MAX_BODY: usize = 1 << 20;

/// Serves requests on one connection until the client closes it.
fn serve(
    stream: TcpStream,
    calls: &Mutex<Vec<ApiCall>>,
    counter: &AtomicU64,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        // The origin form (`/api/m`), or the absolute form (`http://host/api/m`).
        let path = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
            None => target,
        }
        .to_owned();
        let mut length = 0usize;
        let mut form = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("content-type") {
                    form = v.trim().starts_with("application/x-www-form-urlencoded");
                }
            }
        }
        let mut body = vec![0u8; length.min(MAX_BODY)];
        reader.read_exact(&mut body)?;
        let args: Value = if form {
            form_to_json(&String::from_utf8_lossy(&body))
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let (call, answer) = match path.strip_prefix("/response/") {
            Some(url) => (
                ApiCall {
                    method: "response_url".to_owned(),
                    body: args,
                    url: Some(percent_decode(url)),
                },
                json!({"ok": true}),
            ),
            None => {
                let method = path.trim_start_matches("/api/").to_owned();
                let answer = answer_for(&method, &args, n);
                (
                    ApiCall {
                        method,
                        body: args,
                        url: None,
                    },
                    answer,
                )
            }
        };
        calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        let text = answer.to_string();
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        )?;
        out.flush()?;
    }
}

/// A form body as a JSON object of strings; values that are JSON arrays or objects (`blocks`,
/// `view`) are kept as JSON.
fn form_to_json(body: &str) -> Value {
    let mut map = serde_json::Map::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(&k.replace('+', " "));
        let text = percent_decode(&v.replace('+', " "));
        let value = if text.starts_with('[') || text.starts_with('{') {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        };
        map.insert(key, value);
    }
    Value::Object(map)
}

/// A plausible successful answer of `method`.
fn answer_for(method: &str, args: &Value, n: u64) -> Value {
    let ts = format!("1700000000.{n:06}");
    let arg = |k: &str| args.get(k).cloned().unwrap_or(Value::Null);
    match method {
        "auth.test" => json!({"ok": true, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
            "team_id": TEAM_ID, "team": "Testing", "user": "testbot",
            "url": "https://testing.slack.com/"}),
        "chat.postMessage" | "chat.update" | "chat.delete" => json!({"ok": true,
            "channel": arg("channel"), "ts": if method == "chat.postMessage" { Value::from(ts) } else { arg("ts") },
            "message": {"type": "message", "text": arg("text"), "user": BOT_USER_ID, "bot_id": BOT_ID}}),
        "chat.postEphemeral" => json!({"ok": true, "message_ts": ts}),
        m if m.starts_with("views.") => {
            let mut view = arg("view");
            if let Some(o) = view.as_object_mut() {
                o.insert("id".into(), Value::from(format!("V{n:06}")));
                o.insert("hash".into(), Value::from(format!("hash-{n}")));
            }
            json!({"ok": true, "view": view})
        }
        _ => json!({"ok": true}),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn form_bodies_are_recorded_as_json() {
        assert_eq!(
            form_to_json(
                "channel=C1&text=a+b%26c&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D&limit=200"
            ),
            json!({"channel": "C1", "text": "a b&c", "blocks": [{"type": "divider"}], "limit": "200"})
        );
        assert_eq!(form_to_json(""), json!({}));
    }

    #[test]
    fn form_encoded_calls_reach_the_recorder_decoded() {
        let bot = TestBot::new(builder()).unwrap();
        let args = [("channel", "C1"), ("text", "x y")];
        let body: String = args
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        let url = format!("{}api/conversations.info", bot.recorder.base);
        let mut s = TcpStream::connect(bot.recorder.addr).unwrap();
        write!(
            s,
            "POST {url} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        let mut r = BufReader::new(s);
        r.read_line(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let calls = bot.take_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "conversations.info");
        assert_eq!(calls[0].body, json!({"channel": "C1", "text": "x y"}));
    }
}
