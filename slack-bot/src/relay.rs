//! The relay: Socket Mode in front of an app written for Slack's HTTP mode.
//!
//! Each envelope is delivered to the local app exactly as Slack's HTTP delivery would deliver
//! it: events as a JSON body, slash commands form-encoded, interactions as a form with one
//! field `payload`; with `X-Slack-Request-Timestamp` and an `X-Slack-Signature` made with the
//! app's signing secret (so the app's own verification passes unchanged), and
//! `X-Slack-Retry-Num`/`X-Slack-Retry-Reason` on Slack's redeliveries.
//!
//! * A `2xx` answer within the deadline becomes the ack (its body the ack's payload where
//!   Slack takes one: a JSON body as is, a plain-text slash command answer as a message).
//! * A non-`2xx` answer or an app that cannot be reached declines the envelope
//!   ([`Reply::Decline`]): left un-acked, so Slack redelivers it (counted in
//!   [`Stats::declined`](crate::Stats::declined), logged).
//! * An answer after the deadline comes too late for the ack (the bot sent an empty one):
//!   dropped with a warning, except a slash command's, which is posted to its `response_url`.
//!
//! Requests run on the bot's worker pool (bounded: [`BotBuilder::workers`], with a bounded
//! queue, [`BotBuilder::queue_bound`]), each bounded by [`Relay::timeout`]; the event loop
//! that reads the sockets never waits on the app.
//!
//! ```no_run
//! use slack_bot::Bot;
//! use slack_bot::relay::{Relay, SigningSecret};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = SigningSecret::new(std::env::var("SLACK_SIGNING_SECRET")?)?;
//! let relay = Relay::new("http://127.0.0.1:3000/slack/events", secret)?;
//! let builder = Bot::builder("xapp-1-…", "xoxb-…")?;
//! relay.install(builder).run()?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use slack_envelope::{Envelope, EnvelopeKind};

use crate::{BotBuilder, Context, Error, HandlerResult, Reply};

/// The largest answer body read from the app (Slack drops ack payloads of about 20 KB anyway).
const MAX_ANSWER: u64 = 64 * 1024;

/// The app's signing secret (Basic Information → App Credentials in the app's settings).
/// Never shown: `Debug` prints `SigningSecret(…)`.
#[derive(Clone)]
pub struct SigningSecret(Arc<str>);

impl SigningSecret {
    /// The secret, trimmed; refused if empty or if it holds whitespace or control characters.
    pub fn new(secret: impl AsRef<str>) -> Result<SigningSecret, Error> {
        let s = secret.as_ref().trim();
        if s.is_empty() {
            return Err(Error::Config("the signing secret is empty".to_owned()));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::Config(
                "the signing secret holds whitespace or control characters".to_owned(),
            ));
        }
        Ok(SigningSecret(Arc::from(s)))
    }

    /// `v0=` + hex(HMAC-SHA256(secret, `v0:{timestamp}:{body}`)): Slack's `X-Slack-Signature`.
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_bytes());
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(format!("v0:{timestamp}:").as_bytes());
        ctx.update(body);
        let tag = ctx.sign();
        let mut out = String::with_capacity(3 + 64);
        out.push_str("v0=");
        for b in tag.as_ref() {
            out.push(hex_digit(b >> 4, false));
            out.push(hex_digit(b & 0xf, false));
        }
        out
    }
}

/// The hex digit for `n` (0..=15).
fn hex_digit(n: u8, upper: bool) -> char {
    let c = char::from_digit(u32::from(n & 0xf), 16).unwrap_or('0');
    if upper { c.to_ascii_uppercase() } else { c }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// An HTTP request as Slack's HTTP delivery would make it (before signing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `application/json` or `application/x-www-form-urlencoded`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// The HTTP request Slack would have sent for this envelope, or `None` for an envelope type
/// HTTP mode does not have.
pub fn http_request(envelope: &Envelope) -> Option<HttpRequest> {
    let payload = envelope.payload_json();
    match envelope.kind() {
        EnvelopeKind::EventsApi => Some(HttpRequest {
            content_type: "application/json",
            body: payload.as_bytes().to_vec(),
        }),
        EnvelopeKind::SlashCommands => {
            // The Socket Mode payload is the form's fields as a JSON object.
            let fields: serde_json::Map<String, Value> =
                serde_json::from_str(payload).unwrap_or_default();
            let mut body = String::new();
            for (k, v) in &fields {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                if !body.is_empty() {
                    body.push('&');
                }
                form_encode(&mut body, k);
                body.push('=');
                form_encode(&mut body, &v);
            }
            Some(HttpRequest {
                content_type: "application/x-www-form-urlencoded",
                body: body.into_bytes(),
            })
        }
        EnvelopeKind::Interactive => {
            let mut body = String::from("payload=");
            form_encode(&mut body, payload);
            Some(HttpRequest {
                content_type: "application/x-www-form-urlencoded",
                body: body.into_bytes(),
            })
        }
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn form_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(hex_digit(b >> 4, true));
                out.push(hex_digit(b & 0xf, true));
            }
        }
    }
}

/// What the app's `2xx` answer means for the ack: the payload where the envelope takes one.
/// A JSON body is the payload as is; a plain-text answer to a slash command is a message.
pub fn answer_payload(envelope: &Envelope, body: &str) -> Option<Value> {
    let body = body.trim();
    if body.is_empty() || !envelope.accepts_response_payload() {
        return None;
    }
    match serde_json::from_str::<Value>(body) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ if *envelope.kind() == EnvelopeKind::SlashCommands => {
            Some(serde_json::json!({ "text": body }))
        }
        _ => None,
    }
}

/// A relay to one local HTTP-mode app. Install it on a [`BotBuilder`] with [`Relay::install`].
#[derive(Clone)]
pub struct Relay {
    url: String,
    secret: SigningSecret,
    timeout: Duration,
    deadline: Duration,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Relay {
    /// A relay delivering to `url` (`http://` or `https://`, e.g.
    /// `http://127.0.0.1:3000/slack/events`), signing with `secret`.
    pub fn new(url: impl Into<String>, secret: SigningSecret) -> Result<Relay, Error> {
        let url = url.into();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                Error::Config(format!(
                    "the relay target must be an http:// or https:// URL, not `{}`",
                    bounded(&url)
                ))
            })?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() || url.contains(char::is_whitespace) {
            return Err(Error::Config(format!(
                "the relay target has no valid host: `{}`",
                bounded(&url)
            )));
        }
        Ok(Relay {
            url,
            secret,
            timeout: Duration::from_secs(10),
            deadline: Duration::from_millis(2500),
        })
    }

    /// How long one request to the app may take in all (default 10 s). Answers after the
    /// deadline but within this are late (see the module docs).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d.max(Duration::from_millis(1));
        self
    }

    /// How long the app has to answer in time for the ack (default 2.5 s, the bot's
    /// [`ack_warning_after`](slack_envelope::SessionConfig::ack_warning_after)).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// The target URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Routes every request to the app (as the builder's fallback: requests that a handler
    /// added to the builder takes stay with that handler), and acks each only after its
    /// handler returned ([`BotBuilder::ack_on_receipt`]`(false)`).
    pub fn install(self, builder: BotBuilder) -> BotBuilder {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            // The app is local: never through the proxy meant for Slack.
            .proxy(None)
            .build()
            .into();
        let relay = Arc::new((self, agent));
        builder
            .ack_on_receipt(false)
            .fallback(move |ctx| relay.0.forward(&relay.1, ctx))
    }

    fn forward(&self, agent: &ureq::Agent, ctx: &Context) -> HandlerResult {
        let envelope = ctx.envelope();
        let id = envelope.envelope_id();
        let Some(req) = http_request(envelope) else {
            log::debug!("envelope {id}: a type HTTP mode does not have; acked, not relayed");
            return Ok(Reply::Ack);
        };
        let started = Instant::now();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signature = self.secret.sign(timestamp, &req.body);
        let mut call = agent
            .post(&self.url)
            .header("Content-Type", req.content_type)
            .header("X-Slack-Request-Timestamp", timestamp.to_string())
            .header("X-Slack-Signature", signature);
        if envelope.retry_attempt() > 0 {
            call = call
                .header("X-Slack-Retry-Num", envelope.retry_attempt().to_string())
                .header(
                    "X-Slack-Retry-Reason",
                    envelope.retry_reason().unwrap_or("timeout"),
                );
        }
        let answer = call.send(&req.body[..]).and_then(|mut resp| {
            let status = resp.status().as_u16();
            let mut body = String::new();
            resp.body_mut()
                .as_reader()
                .take(MAX_ANSWER)
                .read_to_string(&mut body)
                .map_err(ureq::Error::Io)?;
            Ok((status, body))
        });
        let late = started.elapsed() > self.deadline;
        let (status, body) = match answer {
            Ok(a) => a,
            Err(e) => {
                log::warn!(
                    "envelope {id}: the app at {} did not answer ({}); left un-acked for Slack to redeliver",
                    bounded(&self.url),
                    bounded(&e.to_string())
                );
                return Ok(Reply::Decline);
            }
        };
        if !(200..300).contains(&status) {
            log::warn!(
                "envelope {id}: the app answered HTTP {status}; left un-acked for Slack to redeliver"
            );
            return Ok(Reply::Decline);
        }
        if late {
            self.late_answer(ctx, &body, started.elapsed());
            return Ok(Reply::Ack);
        }
        Ok(answer_payload(envelope, &body).map_or(Reply::Ack, Reply::Payload))
    }

    fn late_answer(&self, ctx: &Context, body: &str, took: Duration) {
        let envelope = ctx.envelope();
        let id = envelope.envelope_id();
        let secs = took.as_secs_f64();
        let payload = answer_payload(envelope, body);
        let response_url = match envelope.kind() {
            EnvelopeKind::SlashCommands => ctx.response_url().map(str::to_owned),
            _ => None,
        };
        match (payload, response_url) {
            (Some(p), Some(url)) => match ctx.web().post_response_url_json(&url, &p) {
                Ok(()) => log::warn!(
                    "envelope {id}: the app answered after {secs:.1}s, too late for the ack; posted to the command's response_url"
                ),
                Err(e) => log::warn!(
                    "envelope {id}: the app answered after {secs:.1}s, too late for the ack, and posting it to the response_url failed: {e}"
                ),
            },
            (Some(_), None) => log::warn!(
                "envelope {id}: the app answered after {secs:.1}s, too late for the ack; its answer is dropped"
            ),
            (None, _) => log::debug!("envelope {id}: the app answered after {secs:.1}s"),
        }
    }
}

/// A string as a log line or an error may show it: at most 200 characters.
fn bounded(s: &str) -> String {
    if s.chars().count() <= 200 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(200).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_envelope::Frame;

    fn envelope(frame: &str) -> Envelope {
        match Frame::parse(frame.to_owned()) {
            Ok(Frame::Envelope(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn signature_matches_slacks_documented_example() {
        // From Slack's "Verifying requests from Slack" page.
        let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap();
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            secret.sign(1531420618, body.as_bytes()),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
        assert_eq!(format!("{secret:?}"), "SigningSecret(…)");
        assert!(SigningSecret::new(" ").is_err());
    }

    #[test]
    fn requests_look_like_http_delivery() {
        let e = envelope(
            r#"{"envelope_id":"e1","type":"slash_commands","accepts_response_payload":true,"payload":{"command":"/hi","text":"a b&c=d/é","is_enterprise_install":"false","n":1}}"#,
        );
        let r = http_request(&e).unwrap();
        assert_eq!(r.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "command=%2Fhi&is_enterprise_install=false&n=1&text=a+b%26c%3Dd%2F%C3%A9"
        );
        let e = envelope(
            r#"{"envelope_id":"e2","type":"interactive","accepts_response_payload":false,"payload":{"type":"shortcut","x":"1 2"}}"#,
        );
        let r = http_request(&e).unwrap();
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "payload=%7B%22type%22%3A%22shortcut%22%2C%22x%22%3A%221+2%22%7D"
        );
        let e = envelope(
            r#"{"envelope_id":"e3","type":"events_api","payload":{"type":"event_callback","event":{"type":"message"}}}"#,
        );
        let r = http_request(&e).unwrap();
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            r.body,
            br#"{"type":"event_callback","event":{"type":"message"}}"#
        );
        let e = envelope(r#"{"envelope_id":"e4","type":"future_kind","payload":{}}"#);
        assert!(http_request(&e).is_none());
    }

    #[test]
    fn answers_become_payloads_where_slack_takes_one() {
        let cmd = envelope(
            r#"{"envelope_id":"e1","type":"slash_commands","accepts_response_payload":true,"payload":{"command":"/hi"}}"#,
        );
        assert_eq!(
            answer_payload(&cmd, "hello there"),
            Some(serde_json::json!({"text": "hello there"}))
        );
        assert_eq!(
            answer_payload(&cmd, r#"{"text":"x","response_type":"in_channel"}"#),
            Some(serde_json::json!({"text": "x", "response_type": "in_channel"}))
        );
        assert_eq!(answer_payload(&cmd, "  "), None);
        let ev = envelope(
            r#"{"envelope_id":"e3","type":"events_api","accepts_response_payload":false,"payload":{}}"#,
        );
        assert_eq!(answer_payload(&ev, r#"{"ok":true}"#), None);
    }

    #[test]
    fn target_must_be_http() {
        let s = SigningSecret::new("s").unwrap();
        assert!(Relay::new("ftp://x/", s.clone()).is_err());
        assert!(Relay::new("http:///slack", s.clone()).is_err());
        let r = Relay::new("http://127.0.0.1:3000/slack/events", s).unwrap();
        assert!(!format!("{r:?}").contains("\"s\""));
    }
}
