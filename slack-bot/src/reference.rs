//! The reference bot: what the seed documents' examples do, so a user can watch each feature
//! work. The `slack-bot` binary and its `demo` use exactly these handlers.
//!
//! * a new message (no subtype) in a channel gets an `eyes` reaction;
//! * a mention `<@BOT_USER_ID>` gets "Hello! How can I help?";
//! * the global shortcut `hello-shortcut` opens a "Greetings!" modal; submitting it closes it;
//! * `member_joined_channel` posts a welcome with a "Get Help" button;
//! * `file_shared` posts "File received: NAME";
//! * its own and other bots' messages are ignored.

use serde_json::{Value, json};
use slack_envelope::payload::SlackEvent;

use crate::{BotBuilder, Context, HandlerResult, Reply};

/// The reply to a mention.
pub const MENTION_REPLY: &str = "Hello! How can I help?";

/// The callback id of the global shortcut.
pub const SHORTCUT_CALLBACK_ID: &str = "hello-shortcut";

/// The callback id of the modal it opens.
pub const MODAL_CALLBACK_ID: &str = "greetings-modal";

/// The modal the shortcut opens.
pub fn greetings_modal() -> Value {
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
pub fn welcome_blocks(user: &str) -> Value {
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("Welcome to the channel, <@{user}>! :tada:")}},
        {"type": "actions", "elements": [{
            "type": "button", "action_id": "get_help",
            "text": {"type": "plain_text", "text": "Get Help"}, "value": "help"
        }]}
    ])
}

fn on_message(ctx: &Context) -> HandlerResult {
    let Some(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::Message(m) = cb.event else {
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
    let Some(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::AppMention(m) = cb.event else {
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
    let Some(i) = ctx.interaction() else {
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
    let Some(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::MemberJoinedChannel(j) = cb.event else {
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
    ctx.web().chat_post_message(&msg)?;
    Ok(Reply::Ack)
}

fn on_file_shared(ctx: &Context) -> HandlerResult {
    let Some(cb) = ctx.event() else {
        return Ok(Reply::Ack);
    };
    let SlackEvent::FileShared(f) = cb.event else {
        return Ok(Reply::Ack);
    };
    let Some(channel) = f.channel_id.as_deref() else {
        return Ok(Reply::Ack);
    };
    let name = f
        .file
        .as_ref()
        .and_then(|v| v.get("name").or_else(|| v.get("title")))
        .and_then(Value::as_str)
        .or(f.file_id.as_deref())
        .unwrap_or("a file");
    ctx.say(channel, &format!("File received: {name}"))?;
    Ok(Reply::Ack)
}

fn on_get_help(ctx: &Context) -> HandlerResult {
    let Some(i) = ctx.interaction() else {
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

/// Adds the reference behaviours to a builder.
pub fn install(builder: BotBuilder) -> BotBuilder {
    builder
        .on_event("message", on_message)
        .on_event("app_mention", on_mention)
        .on_event("member_joined_channel", on_member_joined)
        .on_event("file_shared", on_file_shared)
        .on_shortcut(SHORTCUT_CALLBACK_ID, on_shortcut)
        .on_view_submission(MODAL_CALLBACK_ID, on_submission)
        .on_action("get_help", on_get_help)
}
