//! `slack-bot demo`: the reference bot against the embedded fake Slack, with a transcript.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::reference;
use serde_json::{Value, json};
use slack_bot::{Bot, BotEvent};
use slack_envelope::Lifecycle;
use slack_testkit::{FakeSlack, Fault};

/// `println!` that ignores a closed stdout (`slack-bot demo | head`): the transcript is for
/// reading, so a reader that went away is not a reason to panic or to stop the bot mid-shutdown.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

const WAIT: Duration = Duration::from_secs(10);

struct Transcript {
    t0: Instant,
}

impl Transcript {
    fn line(&self, who: &str, what: &str) {
        let ms = self.t0.elapsed().as_millis();
        say!("{ms:>6} ms  {who:<6} {what}");
    }
    fn slack(&self, what: &str) {
        self.line("slack", what);
    }
    fn bot(&self, what: &str) {
        self.line("bot", what);
    }
}

type DemoError = Box<dyn std::error::Error>;

fn call_summary(call: &slack_testkit::WebCall) -> String {
    let b = &call.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match call.method.as_str() {
        "reactions.add" => format!(
            "reactions.add :{}: on {} in {}",
            s("name"),
            s("timestamp"),
            s("channel")
        ),
        "chat.postMessage" => format!(
            "chat.postMessage to {}: \"{}\"{}",
            s("channel"),
            s("text"),
            if b.get("blocks").is_some() {
                " (with blocks)"
            } else {
                ""
            }
        ),
        "views.open" => format!(
            "views.open \"{}\"",
            b.pointer("/view/title/text")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        "files.info" => format!("files.info {}", s("file")),
        other => other.to_owned(),
    }
}

/// Runs the scripted conversation. Every wait is bounded; any miss is an error.
pub(crate) fn run() -> Result<(), DemoError> {
    let t = Transcript { t0: Instant::now() };
    say!("slack-bot demo: the reference bot against a fake Slack on 127.0.0.1");
    say!("(no Slack account needed; nothing leaves this machine)\n");
    let slack = FakeSlack::builder()
        .refresh_grace(Duration::from_millis(500))
        .start()?;
    t.slack(&format!("fake Slack listening at {}", slack.api_url()));
    let builder = Bot::builder(&slack.app_token(), &slack.bot_token())?
        .api_url(slack.api_url())
        .allow_insecure(true)
        .bot_user_id(slack.bot_user_id());
    let bot = reference::install(builder).start()?;
    let events = bot.events();
    let wait_ready = |what: &str| -> Result<(), DemoError> {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(BotEvent::Lifecycle(Lifecycle::Ready { conn, hello, .. })) => {
                    t.bot(&format!(
                        "connection {conn} ready (hello from {}) {what}",
                        hello
                            .debug_info
                            .as_ref()
                            .and_then(|d| d.host.clone())
                            .unwrap_or_default()
                    ));
                    return Ok(());
                }
                Ok(BotEvent::Lifecycle(Lifecycle::Disconnected { conn, cause })) => {
                    t.bot(&format!("connection {conn} closed: {cause}"));
                }
                Ok(_) => {}
                Err(_) => return Err(format!("no connection ready within {WAIT:?} {what}").into()),
            }
        }
    };
    wait_ready("")?;
    let seen_calls = std::cell::Cell::new(slack.calls().len());
    let expect_call = |method: &str| -> Result<(), DemoError> {
        let deadline = Instant::now() + WAIT;
        loop {
            let calls = slack.calls();
            let start = seen_calls.get();
            if let Some((i, c)) = calls
                .iter()
                .enumerate()
                .skip(start)
                .find(|(_, c)| c.method == method)
            {
                // Only up to this call: the next expected one may already be there too.
                seen_calls.set(i + 1);
                t.bot(&call_summary(c));
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the bot did not call {method} within {WAIT:?}").into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let ack = |id: &str| -> Result<(), DemoError> {
        let a = slack.wait_for_ack(id, WAIT)?;
        match &a.payload {
            Some(p) => t.bot(&format!("acked with payload {p}")),
            None => t.bot("acked"),
        }
        Ok(())
    };
    let me = slack.bot_user_id();

    say!();
    t.slack("message from U_ALICE in #general: \"Hello bot!\"");
    let id = slack.send_event(
        json!({"type": "message", "channel": "C_GENERAL", "user": "U_ALICE",
        "text": "Hello bot!", "ts": "1700000000.000100", "channel_type": "channel"}),
    )?;
    ack(&id)?;
    expect_call("reactions.add")?;

    t.slack(&format!("app_mention: \"<@{me}> are you there?\""));
    let id = slack.send_event(
        json!({"type": "app_mention", "channel": "C_GENERAL", "user": "U_ALICE",
        "text": format!("<@{me}> are you there?"), "ts": "1700000000.000200"}),
    )?;
    ack(&id)?;
    expect_call("chat.postMessage")?;

    t.slack("message from another bot (bot_message)");
    let id = slack.send_event(
        json!({"type": "message", "subtype": "bot_message", "bot_id": "B_OTHER",
        "channel": "C_GENERAL", "text": "beep", "ts": "1700000000.000300"}),
    )?;
    ack(&id)?;
    std::thread::sleep(Duration::from_millis(200));
    if slack.calls().len() > seen_calls.get() {
        return Err("the bot answered another bot's message".into());
    }
    t.bot("ignored it (bots are not answered)");

    t.slack("global shortcut hello-shortcut");
    let id = slack.send_interactive(
        json!({"type": "shortcut", "callback_id": reference::SHORTCUT_CALLBACK_ID,
        "trigger_id": "111.222.demo", "user": {"id": "U_ALICE"}, "team": {"id": "T_DEMO"}}),
    )?;
    ack(&id)?;
    expect_call("views.open")?;

    t.slack("view_submission of the Greetings! modal");
    let id = slack.send_envelope(json!({"type": "interactive", "accepts_response_payload": true,
        "payload": {"type": "view_submission", "user": {"id": "U_ALICE"}, "team": {"id": "T_DEMO"},
            "view": {"id": "V1", "callback_id": reference::MODAL_CALLBACK_ID, "state": {"values": {}}}}}))?;
    ack(&id)?;

    t.slack("member_joined_channel: U_BOB joined #general");
    let id = slack.send_event(json!({"type": "member_joined_channel", "user": "U_BOB",
        "channel": "C_GENERAL", "channel_type": "C"}))?;
    ack(&id)?;
    expect_call("chat.postMessage")?;

    // Real Slack's file_shared carries only ids: the bot asks files.info for the name.
    slack.stub(
        "files.info",
        json!({"ok": true, "file": {"id": "F1", "name": "report.pdf", "title": "report.pdf"}}),
    );
    t.slack("file_shared: F1 (report.pdf)");
    let id = slack.send_event(
        json!({"type": "file_shared", "channel_id": "C_GENERAL", "user_id": "U_ALICE",
        "file_id": "F1", "file": {"id": "F1"}, "event_ts": "1700000000.000300"}),
    )?;
    ack(&id)?;
    expect_call("files.info")?;
    expect_call("chat.postMessage")?;

    say!();
    let conn = *slack
        .open_connections()
        .last()
        .ok_or("the fake has no open connection")?;
    t.slack(&format!(
        "disconnect refresh_requested on connection {}",
        conn.0
    ));
    slack.disconnect(conn, "refresh_requested")?;
    wait_ready("(replacement opened before the old one closed)")?;
    let id = slack.send_event(
        json!({"type": "message", "channel": "C_GENERAL", "user": "U_ALICE",
        "text": "still there?", "ts": "1700000000.000400"}),
    )?;
    t.slack("message after the refresh");
    ack(&id)?;
    expect_call("reactions.add")?;

    let conn = *slack
        .open_connections()
        .last()
        .ok_or("the fake has no open connection")?;
    t.slack(&format!(
        "drops connection {} (TCP reset, no close frame)",
        conn.0
    ));
    slack.fault(conn, Fault::DropTcp)?;
    wait_ready("(reconnected after the drop)")?;
    let id = slack.send_event(
        json!({"type": "message", "channel": "C_GENERAL", "user": "U_ALICE",
        "text": "and now?", "ts": "1700000000.000500"}),
    )?;
    t.slack("message after the drop");
    ack(&id)?;
    expect_call("reactions.add")?;

    say!();
    let s = bot.stats();
    t.bot("shutting down (close 1000, handlers finished, outbox flushed)");
    let report = bot.shutdown()?;
    say!(
        "\nstats: received {}, acked {}, delivered {}, duplicates {}, reconnects {}, messages sent {}, unsent {}",
        s.received,
        s.acked,
        s.delivered,
        s.duplicates,
        s.reconnects,
        s.messages_sent,
        report.unsent.len()
    );
    slack.shutdown();
    say!("demo finished: every reference behaviour worked, through a refresh and a dropped link");
    Ok(())
}
