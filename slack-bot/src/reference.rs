//! The reference bot: what the seed documents' examples do, so a user can watch each feature
//! work. The `slack-bot` binary and its `demo` use exactly these handlers.
//!
//! * a new message (no subtype) in a channel gets an `eyes` reaction;
//! * a mention `<@BOT_USER_ID>` gets "Hello! How can I help?";
//! * the global shortcut `hello-shortcut` opens a "Greetings!" modal; submitting it closes it;
//! * `member_joined_channel` posts a welcome with a "Get Help" button;
//! * `file_shared` posts "File received: NAME" (the name from `files.info`: real Slack's
//!   `file_shared` carries only ids);
//! * its own and other bots' messages are ignored.
//!
//! Each behaviour can be switched off ([`Behaviours`], the binary's `--no-*` flags). This
//! module is the binary's (and its tests'), not part of the library's API.

use serde_json::{Value, json};
use slack_bot::slack_envelope::payload::SlackEvent;

use slack_bot::slack_envelope;
use slack_bot::slack_web;
use slack_bot::{BotBuilder, Context, HandlerResult, Reply};

/// The reply to a mention.
pub(crate) const MENTION_REPLY: &str = "Hello! How can I help?";

/// The callback id of the global shortcut.
pub(crate) const SHORTCUT_CALLBACK_ID: &str = "hello-shortcut";

/// The callback id of the modal it opens.
pub(crate) const MODAL_CALLBACK_ID: &str = "greetings-modal";

/// The modal the shortcut opens.
pub(crate) fn greetings_modal() -> Value {
    json!({
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "title": {"type": "plain_text", "text": "Greetings!"},
        "submit": {"type": "plain_text", "text": "Close"},
        "blocks": [{
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Hello from a Socket Mode bot written in Rust :wave:"}
        }]
    })
}

/// The welcome message with its "Get Help" button.
pub(crate) fn welcome_blocks(user: &str) -> Value {
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("Welcome to the channel, <@{user}>! :tada:")}},
        {"type": "actions", "elements": [{
            "type": "button", "action_id": "get_help",
            "text": {"type": "plain_text", "text": "Get Help"}, "value": "help"
        }]}
    ])
}

fn on_message(ctx: &Context) -> HandlerResult {
    let Ok(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::Message(m) = &cb.event else {
        return Ok(Reply::Ack);
    };
    // Only plain new messages from people; never bots (ourselves included) or edits.
    if m.subtype.is_some() || m.is_from_bot() {
        return Ok(Reply::Ack);
    }
    if m.user.is_some() && m.user.as_deref() == ctx.bot_user_id() {
        return Ok(Reply::Ack);
    }
    let (Some(channel), Some(ts)) = (m.channel.as_deref(), m.ts.as_deref()) else {
        return Ok(Reply::Ack);
    };
    ctx.web().reactions_add(channel, "eyes", ts)?;
    Ok(Reply::Ack)
}

fn on_mention(ctx: &Context) -> HandlerResult {
    let Ok(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::AppMention(m) = &cb.event else {
        return Ok(Reply::Ack);
    };
    if m.bot_id.is_some() {
        return Ok(Reply::Ack);
    }
    if let (Some(me), Some(text)) = (ctx.bot_user_id(), m.text.as_deref()) {
        if !text.contains(&format!("<@{me}>")) {
            return Ok(Reply::Ack);
        }
    }
    if let Some(channel) = m.channel.as_deref() {
        let mut msg = slack_web::PostMessage::new(channel, MENTION_REPLY);
        msg.message.thread_ts = m.thread_ts.clone();
        ctx.post_message(&msg)?;
    }
    Ok(Reply::Ack)
}

fn on_shortcut(ctx: &Context) -> HandlerResult {
    let Ok(i) = ctx.interaction() else {
        return Ok(Reply::Ack);
    };
    if let Some(trigger) = i.trigger_id() {
        ctx.web().views_open(trigger, &greetings_modal())?;
    }
    Ok(Reply::Ack)
}

fn on_submission(_ctx: &Context) -> HandlerResult {
    Ok(Reply::payload(json!({"response_action": "clear"})))
}

fn on_member_joined(ctx: &Context) -> HandlerResult {
    let Ok(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::MemberJoinedChannel(j) = &cb.event else {
        return Ok(Reply::Ack);
    };
    let (Some(user), Some(channel)) = (j.user.as_deref(), j.channel.as_deref()) else {
        return Ok(Reply::Ack);
    };
    if Some(user) == ctx.bot_user_id() {
        return Ok(Reply::Ack);
    }
    let text = format!("Welcome to the channel, <@{user}>!");
    let msg = slack_web::PostMessage::new(
        channel,
        slack_web::Message::text(text).blocks(welcome_blocks(user)),
    );
    ctx.post_message(&msg)?;
    Ok(Reply::Ack)
}

fn on_file_shared(ctx: &Context) -> HandlerResult {
    let Ok(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::FileShared(f) = &cb.event else {
        return Ok(Reply::Ack);
    };
    let Some(channel) = f.channel_id.as_deref() else {
        return Ok(Reply::Ack);
    };
    let file_id = f.file_id.as_deref().or_else(|| {
        f.file
            .as_ref()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
    });
    // Real Slack sends only ids; a name in the event (older payloads) saves the call.
    let inline = f
        .file
        .as_ref()
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let name = match (inline, file_id) {
        (Some(name), _) => name,
        (None, Some(id)) => file_name(ctx, id).unwrap_or_else(|| id.to_owned()),
        (None, None) => "a file".to_owned(),
    };
    ctx.say_to(channel, format!("File received: {name}"))?;
    Ok(Reply::Ack)
}

/// The file's name (else its title) from `files.info` (scope `files:read`); `None` (logged) if
/// Slack cannot tell.
fn file_name(ctx: &Context, id: &str) -> Option<String> {
    match ctx.web().call("files.info", &json!({"file": id})) {
        Ok(v) => {
            let file = v.get("file")?;
            file.get("name")
                .or_else(|| file.get("title"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        }
        Err(e) => {
            log::warn!("files.info for {id} failed ({e}); naming the file by its id");
            None
        }
    }
}

fn on_get_help(ctx: &Context) -> HandlerResult {
    let Ok(i) = ctx.interaction() else {
        return Ok(Reply::Ack);
    };
    if let slack_envelope::payload::Interaction::BlockActions(b) = i {
        if let Some(url) = b.response_url.as_deref() {
            ctx.web().post_response_url_json(
                url,
                &json!({"text": "Ask away in this channel and someone will help.", "response_type": "ephemeral"}),
            )?;
        }
    }
    Ok(Reply::Ack)
}

/// Which reference behaviours run (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Behaviours {
    /// `eyes` reaction on new messages (`--no-eyes`).
    pub(crate) eyes: bool,
    /// Reply to mentions (`--no-mention-reply`).
    pub(crate) mention_reply: bool,
    /// The `hello-shortcut` modal (`--no-shortcut`).
    pub(crate) shortcut: bool,
    /// Welcome on `member_joined_channel`, and its "Get Help" button (`--no-welcome`).
    pub(crate) welcome: bool,
    /// "File received: NAME" on `file_shared` (`--no-file-received`).
    pub(crate) file_received: bool,
}

impl Default for Behaviours {
    fn default() -> Self {
        Behaviours {
            eyes: true,
            mention_reply: true,
            shortcut: true,
            welcome: true,
            file_received: true,
        }
    }
}

/// Adds all the reference behaviours to a builder.
pub(crate) fn install(builder: BotBuilder) -> BotBuilder {
    install_with(builder, Behaviours::default())
}

/// Adds the chosen reference behaviours to a builder.
pub(crate) fn install_with(builder: BotBuilder, on: Behaviours) -> BotBuilder {
    let mut b = builder;
    if on.eyes {
        b = b.on_event("message", on_message);
    }
    if on.mention_reply {
        b = b.on_event("app_mention", on_mention);
    }
    if on.welcome {
        b = b
            .on_event("member_joined_channel", on_member_joined)
            .on_action("get_help", on_get_help);
    }
    if on.file_received {
        b = b.on_event("file_shared", on_file_shared);
    }
    if on.shortcut {
        b = b
            .on_shortcut(SHORTCUT_CALLBACK_ID, on_shortcut)
            .on_view_submission(MODAL_CALLBACK_ID, on_submission);
    }
    b
}
