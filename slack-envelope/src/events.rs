//! Typed Events API events: the inner `event` of an `event_callback`.
//!
//! Every type here implements [`SlackEvent`] (its `type` string and serde decoding), keeps
//! every field it does not name in `extra` (Slack adds fields all the time: they never make
//! decoding fail, and they survive a re-serialization), and types only what bots commonly
//! read. Decode with [`decode`], which checks the `type` and, for a payload of an unexpected
//! shape, returns [`Error::InvalidPayload`] naming the event type and the field, never a
//! panic; the raw JSON is only borrowed, so it stays available to the caller.
//!
//! ```
//! use slack_envelope::events::{self, Message, MessageKind, ReactionAdded, SlackEvent};
//!
//! let raw: serde_json::Value = serde_json::from_str(r#"{"type":"message",
//!     "subtype":"message_changed","channel":"C1","ts":"2.0",
//!     "message":{"type":"message","text":"new","user":"U1","ts":"1.0"},
//!     "previous_message":{"type":"message","text":"old","user":"U1","ts":"1.0"}}"#)?;
//! let msg: Message = events::decode(&raw)?;
//! if let MessageKind::Changed { message, previous } = msg.kind() {
//!     assert_eq!(message.text.as_deref(), Some("new"));
//!     assert_eq!(previous.and_then(|p| p.text.as_deref()), Some("old"));
//! }
//!
//! // A wrong shape is an error that names the event type and the field.
//! let bad = serde_json::json!({"type": "reaction_added", "reaction": 5});
//! let err = events::decode::<ReactionAdded>(&bad).unwrap_err();
//! assert!(err.to_string().contains("reaction_added") && err.to_string().contains("`reaction`"));
//! assert_eq!(ReactionAdded::TYPE, "reaction_added");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The five older views of [`crate::payload`] (`MessageEvent`, `AppMentionEvent`,
//! `ReactionAddedEvent`, `MemberJoinedChannelEvent`, `FileSharedEvent`) implement
//! [`SlackEvent`] too.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::payload;

/// A typed Events API event, for typed listeners: its `type` and how to decode it.
pub trait SlackEvent: serde::de::DeserializeOwned {
    /// The event's `type` string.
    const TYPE: &'static str;
}

/// Decodes the inner `event` object `raw` as `E`.
///
/// Errors ([`Error::InvalidPayload`] with `view` = `E::TYPE`): `raw` is not an object, its
/// `type` is not `E::TYPE`, or a typed field has an unexpected shape; the message names the
/// field (`` field `item` ``) and repeats serde_json's reason, never the payload's text.
pub fn decode<E: SlackEvent>(raw: &Value) -> Result<E, Error> {
    let invalid = |detail: String| Error::InvalidPayload {
        view: E::TYPE,
        detail,
    };
    let Some(obj) = raw.as_object() else {
        return Err(invalid("the event is not a json object".into()));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some(t) if t == E::TYPE => {}
        Some(t) => {
            let t: String = t.chars().take(64).collect();
            return Err(invalid(format!("the event's type is `{t}`")));
        }
        None => return Err(invalid("field `type`: missing".into())),
    }
    E::deserialize(raw).map_err(|e| {
        let reason = e.to_string();
        let reason: String = reason.chars().take(200).collect();
        match culprit::<E>(raw) {
            Some(path) => invalid(format!("field `{path}`: {reason}")),
            None => invalid(reason),
        }
    })
}

/// Decodes the JSON text of an inner `event` as `E` (see [`decode`]).
pub fn decode_str<E: SlackEvent>(json: &str) -> Result<E, Error> {
    let raw: Value = serde_json::from_str(json).map_err(|e| Error::InvalidPayload {
        view: E::TYPE,
        detail: e.to_string(),
    })?;
    decode(&raw)
}

/// Decodes the inner `event` of a whole `event_callback` payload (what
/// [`crate::Envelope::payload_json`] gives for an `events_api` envelope) as `E`.
pub fn decode_callback<E: SlackEvent>(callback: &Value) -> Result<E, Error> {
    match callback.get("event") {
        Some(event) => decode(event),
        None => Err(Error::InvalidPayload {
            view: E::TYPE,
            detail: "field `event`: missing (not an event_callback)".into(),
        }),
    }
}

/// The event's `type`, if `raw` has one.
pub fn event_type(raw: &Value) -> Option<&str> {
    raw.get("type").and_then(Value::as_str)
}

/// Finds which field makes decoding fail: the deepest path whose removal lets `E` decode.
/// Only runs on the error path; bounded in depth and width.
fn culprit<E: DeserializeOwned>(raw: &Value) -> Option<String> {
    fn search<E: DeserializeOwned>(
        root: &Value,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Option<Vec<String>> {
        let here = pointer(root, path)?;
        let keys: Vec<String> = match here {
            Value::Object(o) => o.keys().take(64).cloned().collect(),
            Value::Array(a) => (0..a.len().min(64)).map(|i| i.to_string()).collect(),
            _ => return None,
        };
        for k in keys {
            if depth == 0 && k == "type" {
                continue;
            }
            path.push(k);
            let mut copy = root.clone();
            remove_at(&mut copy, path);
            if E::deserialize(&copy).is_ok() {
                let deeper = if depth < 4 {
                    search::<E>(root, path, depth + 1)
                } else {
                    None
                };
                let found = deeper.unwrap_or_else(|| path.clone());
                return Some(found);
            }
            path.pop();
        }
        None
    }
    let mut path = Vec::new();
    search::<E>(raw, &mut path, 0).map(|p| p.join("."))
}

fn pointer<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = root;
    for k in path {
        v = match v {
            Value::Object(o) => o.get(k)?,
            Value::Array(a) => a.get(k.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn remove_at(root: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut v = root;
    for k in parent {
        v = match v {
            Value::Object(o) => match o.get_mut(k) {
                Some(x) => x,
                None => return,
            },
            Value::Array(a) => match k.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    match v {
        Value::Object(o) => {
            o.remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Declares an event struct: the named fields (all optional, `#[serde(default)]`), an
/// `extra` map that keeps every other field, and its [`SlackEvent`] impl.
macro_rules! event {
    (
        $(#[$meta:meta])*
        $name:ident = $ty:literal {
            $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "is_default")]
                pub $field: $fty,
            )*
            /// Every field this type does not name (`type` included), kept as JSON.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl SlackEvent for $name {
            const TYPE: &'static str = $ty;
        }
    };
}

/// Declares a part of an event (not an event itself): like `event!` without the trait.
macro_rules! part {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "is_default")]
                pub $field: $fty,
            )*
            /// Every field this type does not name, kept as JSON.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

// ---------------------------------------------------------------------------------------
// message

event! {
    /// A `message` event, any subtype. [`Message::kind`] gives the subtype-specific parts.
    ///
    /// Nested messages (`message_changed`'s `message` and `previous_message`,
    /// `thread_broadcast`'s `root`) are typed as `Message` too.
    Message = "message" {
        /// `None` for a plain user message; `bot_message`, `message_changed`, ….
        subtype: Option<String>,
        /// The channel.
        channel: Option<String>,
        /// `channel`, `group`, `im`, `mpim`, `app_home`.
        channel_type: Option<String>,
        /// The author (absent for some bot messages).
        user: Option<String>,
        /// Set when a bot wrote it.
        bot_id: Option<String>,
        /// A classic bot's display name; the `/me` author's name.
        username: Option<String>,
        /// The text.
        text: Option<String>,
        /// The message's timestamp (its id in the channel).
        ts: Option<String>,
        /// The parent's `ts` when in a thread.
        thread_ts: Option<String>,
        /// The parent's author, for thread replies.
        parent_user_id: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
        /// The client's id for the message.
        client_msg_id: Option<String>,
        /// The workspace.
        team: Option<String>,
        /// Block Kit blocks, as JSON.
        blocks: Vec<Value>,
        /// Legacy attachments, as JSON.
        attachments: Vec<Value>,
        /// Attached files (`file_share`).
        files: Vec<File>,
        /// Who edited it and when.
        edited: Option<Edited>,
        /// Hidden subtypes (`message_changed`, `message_deleted`) are not shown to users.
        hidden: Option<bool>,
        /// `message_changed`: the message after the change.
        message: Option<Box<Message>>,
        /// `message_changed`, `message_deleted`: the message before.
        previous_message: Option<Box<Message>>,
        /// `message_deleted`: the deleted message's `ts`.
        deleted_ts: Option<String>,
        /// `thread_broadcast`: the thread's parent.
        root: Option<Box<Message>>,
        /// `channel_join`: who invited the user.
        inviter: Option<String>,
        /// Bot messages: the bot's profile, as JSON.
        bot_profile: Option<Value>,
    }
}

/// The subtype-specific view of a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum MessageKind<'a> {
    /// A plain message (no subtype).
    Plain,
    /// `bot_message`: posted by a bot or an integration.
    BotMessage {
        /// The bot.
        bot_id: Option<&'a str>,
        /// Its display name.
        username: Option<&'a str>,
    },
    /// `file_share`: a message with files.
    FileShare {
        /// The files.
        files: &'a [File],
    },
    /// `message_changed`: `message` is the message as it is now.
    Changed {
        /// The message after the change (an empty message when Slack left it out).
        message: &'a Message,
        /// The message before the change, when Slack sent it.
        previous: Option<&'a Message>,
    },
    /// `message_deleted`.
    Deleted {
        /// The deleted message's `ts`.
        deleted_ts: Option<&'a str>,
        /// The message before deletion, when Slack sent it.
        previous: Option<&'a Message>,
    },
    /// `thread_broadcast`: a thread reply also shown in the channel.
    ThreadBroadcast {
        /// The thread's parent, when Slack sent it.
        root: Option<&'a Message>,
    },
    /// `channel_join`: someone joined the channel.
    ChannelJoin {
        /// Who joined.
        user: Option<&'a str>,
        /// Who invited them.
        inviter: Option<&'a str>,
    },
    /// `me_message`: a `/me` message.
    MeMessage,
    /// Any other subtype (see `subtype`).
    Other(&'a str),
}

static EMPTY_MESSAGE: std::sync::LazyLock<Message> = std::sync::LazyLock::new(Message::default);

impl Message {
    /// The subtype-specific parts.
    pub fn kind(&self) -> MessageKind<'_> {
        match self.subtype.as_deref() {
            None | Some("") => MessageKind::Plain,
            Some("bot_message") => MessageKind::BotMessage {
                bot_id: self.bot_id.as_deref(),
                username: self.username.as_deref(),
            },
            Some("file_share") => MessageKind::FileShare { files: &self.files },
            Some("message_changed") => MessageKind::Changed {
                message: self.message.as_deref().unwrap_or(&EMPTY_MESSAGE),
                previous: self.previous_message.as_deref(),
            },
            Some("message_deleted") => MessageKind::Deleted {
                deleted_ts: self.deleted_ts.as_deref(),
                previous: self.previous_message.as_deref(),
            },
            Some("thread_broadcast") => MessageKind::ThreadBroadcast {
                root: self.root.as_deref(),
            },
            Some("channel_join") => MessageKind::ChannelJoin {
                user: self.user.as_deref(),
                inviter: self.inviter.as_deref(),
            },
            Some("me_message") => MessageKind::MeMessage,
            Some(other) => MessageKind::Other(other),
        }
    }

    /// Whether a bot (any bot, this one included) wrote this message.
    pub fn is_from_bot(&self) -> bool {
        self.bot_id.is_some() || self.subtype.as_deref() == Some("bot_message")
    }
}

part! {
    /// `edited` of a message.
    Edited {
        /// Who edited it.
        user: Option<String>,
        /// When.
        ts: Option<String>,
    }
}

part! {
    /// A file in a message (`files[]`) or event.
    File {
        /// The file id.
        id: Option<String>,
        /// File name.
        name: Option<String>,
        /// Title.
        title: Option<String>,
        /// MIME type.
        mimetype: Option<String>,
        /// Slack's file type (`png`, `text`, …).
        filetype: Option<String>,
        /// Size in bytes.
        size: Option<u64>,
        /// Who uploaded it.
        user: Option<String>,
        /// Private download URL (needs the bot token).
        url_private: Option<String>,
        /// Private download URL that forces a download.
        url_private_download: Option<String>,
        /// A link to the file in Slack.
        permalink: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------
// mentions, app home, reactions

event! {
    /// `app_mention`: a message that mentions the app's bot user.
    AppMention = "app_mention" {
        /// Who mentioned the app.
        user: Option<String>,
        /// The text, with `<@U…>` mentions.
        text: Option<String>,
        /// The channel.
        channel: Option<String>,
        /// The message timestamp.
        ts: Option<String>,
        /// The parent's `ts` when in a thread.
        thread_ts: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
        /// The client's id for the message.
        client_msg_id: Option<String>,
        /// The workspace.
        team: Option<String>,
        /// Set when a bot wrote it.
        bot_id: Option<String>,
        /// Block Kit blocks, as JSON.
        blocks: Vec<Value>,
        /// Attached files.
        files: Vec<File>,
        /// Who edited it and when.
        edited: Option<Edited>,
    }
}

event! {
    /// `app_home_opened`: a user opened the app's Home, Messages or About tab.
    AppHomeOpened = "app_home_opened" {
        /// Who opened it.
        user: Option<String>,
        /// The app's DM channel with the user.
        channel: Option<String>,
        /// `home`, `messages` or `about`.
        tab: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
        /// The Home tab's current view, when one was published (as JSON).
        view: Option<Value>,
    }
}

part! {
    /// What a reaction or pin refers to.
    Item {
        /// `message`, `file`, `file_comment`.
        #[serde(rename = "type")]
        item_type: Option<String>,
        /// The channel (messages).
        channel: Option<String>,
        /// The message timestamp (messages).
        ts: Option<String>,
        /// The file id (files).
        file: Option<String>,
        /// The file comment id (file comments).
        file_comment: Option<String>,
    }
}

event! {
    /// `reaction_added`.
    ReactionAdded = "reaction_added" {
        /// Who reacted.
        user: Option<String>,
        /// The emoji name, without colons.
        reaction: Option<String>,
        /// The author of the item (absent for webhook messages).
        item_user: Option<String>,
        /// What was reacted to.
        item: Option<Item>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `reaction_removed`.
    ReactionRemoved = "reaction_removed" {
        /// Who removed the reaction.
        user: Option<String>,
        /// The emoji name, without colons.
        reaction: Option<String>,
        /// The author of the item.
        item_user: Option<String>,
        /// What the reaction was on.
        item: Option<Item>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------
// channels and members

event! {
    /// `member_joined_channel`.
    MemberJoinedChannel = "member_joined_channel" {
        /// Who joined.
        user: Option<String>,
        /// Which channel.
        channel: Option<String>,
        /// `C` public, `G` private.
        channel_type: Option<String>,
        /// The workspace.
        team: Option<String>,
        /// Who invited them, if anyone.
        inviter: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `member_left_channel`.
    MemberLeftChannel = "member_left_channel" {
        /// Who left.
        user: Option<String>,
        /// Which channel.
        channel: Option<String>,
        /// `C` public, `G` private.
        channel_type: Option<String>,
        /// The workspace.
        team: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

part! {
    /// The channel object of `channel_created` / `channel_rename`.
    ChannelInfo {
        /// The channel id.
        id: Option<String>,
        /// Its name (the new name for `channel_rename`).
        name: Option<String>,
        /// Unix seconds.
        created: Option<i64>,
        /// Who created it.
        creator: Option<String>,
    }
}

event! {
    /// `channel_created`.
    ChannelCreated = "channel_created" {
        /// The new channel.
        channel: ChannelInfo,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `channel_rename`.
    ChannelRename = "channel_rename" {
        /// The channel, with its new name.
        channel: ChannelInfo,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `channel_archive`.
    ChannelArchive = "channel_archive" {
        /// The channel id.
        channel: Option<String>,
        /// Who archived it.
        user: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `channel_unarchive`.
    ChannelUnarchive = "channel_unarchive" {
        /// The channel id.
        channel: Option<String>,
        /// Who unarchived it.
        user: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `channel_left`: the app's user left (or was removed from) a channel.
    ChannelLeft = "channel_left" {
        /// The channel id.
        channel: Option<String>,
        /// Who removed it, if someone did.
        actor_id: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `im_created`: a DM with the app's user was created.
    ImCreated = "im_created" {
        /// The other user.
        user: Option<String>,
        /// The DM, as JSON (`{"id": …, …}`).
        channel: Option<Value>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `channel_deleted`.
    ChannelDeleted = "channel_deleted" {
        /// The channel id.
        channel: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

part! {
    /// A user object (`team_join`, `user_change`), as `users.info` returns it.
    User {
        /// The user id.
        id: Option<String>,
        /// The workspace.
        team_id: Option<String>,
        /// The user name.
        name: Option<String>,
        /// The full name.
        real_name: Option<String>,
        /// Deactivated.
        deleted: Option<bool>,
        /// A bot user.
        is_bot: Option<bool>,
        /// An admin.
        is_admin: Option<bool>,
        /// Time zone name.
        tz: Option<String>,
        /// The profile (display name, email, images, …), as JSON.
        profile: Option<Value>,
    }
}

event! {
    /// `team_join`: a new member joined the workspace.
    TeamJoin = "team_join" {
        /// The new member.
        user: User,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `user_change`: a member's data changed.
    UserChange = "user_change" {
        /// The member as they are now.
        user: User,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------
// pins, links, files

event! {
    /// `pin_added`.
    PinAdded = "pin_added" {
        /// Who pinned it.
        user: Option<String>,
        /// Where.
        channel_id: Option<String>,
        /// The pinned item (a message or file object), as JSON.
        item: Option<Value>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `pin_removed`.
    PinRemoved = "pin_removed" {
        /// Who unpinned it.
        user: Option<String>,
        /// Where.
        channel_id: Option<String>,
        /// The unpinned item, as JSON.
        item: Option<Value>,
        /// Whether other items are still pinned there.
        has_pins: Option<bool>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

part! {
    /// One link of `link_shared`.
    SharedLink {
        /// The URL.
        url: Option<String>,
        /// Its domain (one the app registered).
        domain: Option<String>,
    }
}

event! {
    /// `link_shared`: a message has links to a domain the app unfurls.
    LinkShared = "link_shared" {
        /// Who posted them.
        user: Option<String>,
        /// Where.
        channel: Option<String>,
        /// The message's `ts`.
        message_ts: Option<String>,
        /// The thread, if in one.
        thread_ts: Option<String>,
        /// The links.
        links: Vec<SharedLink>,
        /// For `chat.unfurl` with `unfurl_id`.
        unfurl_id: Option<String>,
        /// `conversations_history` or `composer`.
        source: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

part! {
    /// The file reference of a file event (usually only `id`).
    FileRef {
        /// The file id.
        id: Option<String>,
    }
}

event! {
    /// `file_shared`. Slack sends only ids: use `files.info` for the name.
    FileShared = "file_shared" {
        /// The file id.
        file_id: Option<String>,
        /// Who shared it.
        user_id: Option<String>,
        /// Where.
        channel_id: Option<String>,
        /// `{"id": …}`.
        file: Option<FileRef>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `file_created`.
    FileCreated = "file_created" {
        /// The file id.
        file_id: Option<String>,
        /// Who created it.
        user_id: Option<String>,
        /// `{"id": …}`.
        file: Option<FileRef>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `file_change`: a property of a file changed.
    FileChange = "file_change" {
        /// The file id.
        file_id: Option<String>,
        /// Who changed it.
        user_id: Option<String>,
        /// `{"id": …}`.
        file: Option<FileRef>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `file_public`: a file was made public.
    FilePublic = "file_public" {
        /// The file id.
        file_id: Option<String>,
        /// Who made it public.
        user_id: Option<String>,
        /// `{"id": …}`.
        file: Option<FileRef>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `file_unshared`: a file was unshared.
    FileUnshared = "file_unshared" {
        /// The file id.
        file_id: Option<String>,
        /// Who unshared it.
        user_id: Option<String>,
        /// Where it was unshared from.
        channel_id: Option<String>,
        /// `{"id": …}`.
        file: Option<FileRef>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `file_deleted`.
    FileDeleted = "file_deleted" {
        /// The file id.
        file_id: Option<String>,
        /// Channels it was in.
        channel_ids: Vec<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------
// app lifecycle, emoji

event! {
    /// `app_uninstalled`: the app was removed from the workspace.
    AppUninstalled = "app_uninstalled" {
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

part! {
    /// The revoked tokens of `tokens_revoked`, by kind (user ids).
    RevokedTokens {
        /// User tokens, by user id.
        oauth: Vec<String>,
        /// Bot tokens, by bot user id.
        bot: Vec<String>,
    }
}

event! {
    /// `tokens_revoked`.
    TokensRevoked = "tokens_revoked" {
        /// Whose tokens.
        tokens: RevokedTokens,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `emoji_changed`: custom emoji were added (`add`), removed (`remove`) or renamed
    /// (`rename`).
    EmojiChanged = "emoji_changed" {
        /// `add`, `remove`, `rename` (absent or unknown: reload with `emoji.list`).
        subtype: Option<String>,
        /// `add`: the emoji's name.
        name: Option<String>,
        /// `remove`: the removed names.
        names: Vec<String>,
        /// `add`: an image URL or `alias:NAME`.
        value: Option<String>,
        /// `rename`: the old name.
        old_name: Option<String>,
        /// `rename`: the new name.
        new_name: Option<String>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------
// functions and assistant

/// A token Slack hands to an event (`bot_access_token`): never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventToken(String);

impl EventToken {
    /// The token itself, to call the Web API with.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EventToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventToken(redacted)")
    }
}

part! {
    /// The function of `function_executed`.
    FunctionInfo {
        /// The function id.
        id: Option<String>,
        /// The `callback_id` the app registered.
        callback_id: Option<String>,
        /// Title.
        title: Option<String>,
        /// Description.
        description: Option<String>,
        /// `app`.
        #[serde(rename = "type")]
        function_type: Option<String>,
        /// The app.
        app_id: Option<String>,
        /// Input parameter definitions, as JSON.
        input_parameters: Vec<Value>,
        /// Output parameter definitions, as JSON.
        output_parameters: Vec<Value>,
    }
}

event! {
    /// `function_executed`: a workflow ran the app's custom function.
    FunctionExecuted = "function_executed" {
        /// The function.
        function: FunctionInfo,
        /// Input values by parameter name.
        inputs: Map<String, Value>,
        /// For `functions.completeSuccess` / `completeError`.
        function_execution_id: Option<String>,
        /// The workflow run.
        workflow_execution_id: Option<String>,
        /// A short-lived token for this execution (redacted in `Debug`).
        bot_access_token: Option<EventToken>,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

part! {
    /// What the user is looking at while an assistant thread is open.
    AssistantContext {
        /// The channel in view.
        channel_id: Option<String>,
        /// Its workspace.
        team_id: Option<String>,
        /// Its org.
        enterprise_id: Option<String>,
    }
}

part! {
    /// The assistant thread of `assistant_thread_*` events.
    AssistantThread {
        /// The user in the thread.
        user_id: Option<String>,
        /// The assistant DM.
        channel_id: Option<String>,
        /// The thread.
        thread_ts: Option<String>,
        /// What the user is looking at.
        context: AssistantContext,
    }
}

event! {
    /// `assistant_thread_started`.
    AssistantThreadStarted = "assistant_thread_started" {
        /// The thread.
        assistant_thread: AssistantThread,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

event! {
    /// `assistant_thread_context_changed`: the user looks at another channel.
    AssistantThreadContextChanged = "assistant_thread_context_changed" {
        /// The thread, with the new context.
        assistant_thread: AssistantThread,
        /// The event timestamp.
        event_ts: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------
// the older views in `payload`

impl SlackEvent for payload::MessageEvent {
    const TYPE: &'static str = "message";
}

impl SlackEvent for payload::AppMentionEvent {
    const TYPE: &'static str = "app_mention";
}

impl SlackEvent for payload::ReactionAddedEvent {
    const TYPE: &'static str = "reaction_added";
}

impl SlackEvent for payload::MemberJoinedChannelEvent {
    const TYPE: &'static str = "member_joined_channel";
}

impl SlackEvent for payload::FileSharedEvent {
    const TYPE: &'static str = "file_shared";
}

/// Every event type this module types, by `type` string.
pub const TYPED_EVENTS: &[&str] = &[
    Message::TYPE,
    AppMention::TYPE,
    AppHomeOpened::TYPE,
    ReactionAdded::TYPE,
    ReactionRemoved::TYPE,
    MemberJoinedChannel::TYPE,
    MemberLeftChannel::TYPE,
    ChannelCreated::TYPE,
    ChannelRename::TYPE,
    ChannelArchive::TYPE,
    ChannelUnarchive::TYPE,
    ChannelDeleted::TYPE,
    ChannelLeft::TYPE,
    ImCreated::TYPE,
    TeamJoin::TYPE,
    UserChange::TYPE,
    PinAdded::TYPE,
    PinRemoved::TYPE,
    LinkShared::TYPE,
    FileShared::TYPE,
    FileCreated::TYPE,
    FileDeleted::TYPE,
    FileChange::TYPE,
    FilePublic::TYPE,
    FileUnshared::TYPE,
    AppUninstalled::TYPE,
    TokensRevoked::TYPE,
    EmojiChanged::TYPE,
    FunctionExecuted::TYPE,
    AssistantThreadStarted::TYPE,
    AssistantThreadContextChanged::TYPE,
];
