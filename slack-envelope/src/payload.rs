//! Typed views of envelope payloads: Events API callbacks, slash commands, interactions.
//!
//! Only the common fields are typed; everything else stays reachable through the raw JSON
//! ([`crate::Envelope::payload_json`]) or the `extra` maps. Slack's verification `token`
//! field is deliberately never read into these types, so it cannot leak through `Debug`.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An Events API callback (`payload` of an `events_api` envelope).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct EventCallback {
    /// Always `event_callback` for Socket Mode events.
    #[serde(rename = "type", default)]
    pub callback_type: String,
    /// The workspace.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The Enterprise Grid org, if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// The app.
    #[serde(default)]
    pub api_app_id: Option<String>,
    /// Stable across redeliveries.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub event_time: Option<i64>,
    /// Installations this event is visible to.
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
    /// Legacy list of authed users.
    #[serde(default)]
    pub authed_users: Vec<String>,
    /// Whether the channel is shared with another org.
    #[serde(default)]
    pub is_ext_shared_channel: Option<bool>,
    /// Opaque context string.
    #[serde(default)]
    pub event_context: Option<String>,
    /// The inner event.
    pub event: SlackEvent,
}

/// One installation an event is visible to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Authorization {
    /// Enterprise id, if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Workspace id.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The authorized user (the bot user for bot installs).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Whether `user_id` is a bot.
    #[serde(default)]
    pub is_bot: Option<bool>,
    /// Whether this is an org-wide install.
    #[serde(default)]
    pub is_enterprise_install: Option<bool>,
}

/// The inner `event` of a callback.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SlackEvent {
    /// `message` (any subtype).
    Message(MessageEvent),
    /// `app_mention`.
    AppMention(AppMentionEvent),
    /// `reaction_added`.
    ReactionAdded(ReactionAddedEvent),
    /// `member_joined_channel`.
    MemberJoinedChannel(MemberJoinedChannelEvent),
    /// `file_shared`.
    FileShared(FileSharedEvent),
    /// Any other event type, kept as JSON.
    Other {
        /// The event's `type`.
        event_type: String,
        /// The whole event.
        raw: Value,
    },
}

impl SlackEvent {
    /// The event's `type` (`message`, `app_mention`, …).
    pub fn event_type(&self) -> &str {
        match self {
            SlackEvent::Message(_) => "message",
            SlackEvent::AppMention(_) => "app_mention",
            SlackEvent::ReactionAdded(_) => "reaction_added",
            SlackEvent::MemberJoinedChannel(_) => "member_joined_channel",
            SlackEvent::FileShared(_) => "file_shared",
            SlackEvent::Other { event_type, .. } => event_type,
        }
    }
}

impl<'de> Deserialize<'de> for SlackEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let event_type = raw
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| de::Error::missing_field("type"))?
            .to_owned();
        fn typed<T: for<'a> Deserialize<'a>, E: de::Error>(raw: Value) -> Result<T, E> {
            serde_json::from_value(raw).map_err(E::custom)
        }
        Ok(match event_type.as_str() {
            "message" => SlackEvent::Message(typed(raw)?),
            "app_mention" => SlackEvent::AppMention(typed(raw)?),
            "reaction_added" => SlackEvent::ReactionAdded(typed(raw)?),
            "member_joined_channel" => SlackEvent::MemberJoinedChannel(typed(raw)?),
            "file_shared" => SlackEvent::FileShared(typed(raw)?),
            _ => SlackEvent::Other { event_type, raw },
        })
    }
}

/// A `message` event. `subtype` tells plain messages (`None`) from `bot_message`,
/// `file_share`, `message_changed`, and so on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageEvent {
    /// `None` for a plain user message.
    #[serde(default)]
    pub subtype: Option<String>,
    /// The channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// `channel`, `group`, `im`, `mpim`.
    #[serde(default)]
    pub channel_type: Option<String>,
    /// The author (absent for some bot messages).
    #[serde(default)]
    pub user: Option<String>,
    /// Set when a bot wrote it.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// A bot's display name (classic bots).
    #[serde(default)]
    pub username: Option<String>,
    /// The text.
    #[serde(default)]
    pub text: Option<String>,
    /// The message's timestamp (its id in the channel).
    #[serde(default)]
    pub ts: Option<String>,
    /// The parent's `ts` when in a thread.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// The event timestamp.
    #[serde(default)]
    pub event_ts: Option<String>,
    /// The client's id for the message.
    #[serde(default)]
    pub client_msg_id: Option<String>,
    /// The workspace.
    #[serde(default)]
    pub team: Option<String>,
    /// Block Kit content, as JSON.
    #[serde(default)]
    pub blocks: Option<Value>,
    /// Attached files.
    #[serde(default)]
    pub files: Vec<File>,
    /// For `message_changed` and similar subtypes: the message after the change.
    #[serde(default)]
    pub message: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl MessageEvent {
    /// Whether a bot (any bot, this one included) wrote this message.
    pub fn is_from_bot(&self) -> bool {
        self.bot_id.is_some() || self.subtype.as_deref() == Some("bot_message")
    }
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct File {
    /// The file id.
    pub id: String,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub mimetype: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Private download URL (needs the bot token).
    #[serde(default)]
    pub url_private: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An `app_mention` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AppMentionEvent {
    /// Who mentioned the app.
    #[serde(default)]
    pub user: Option<String>,
    /// The text, with `<@U…>` mentions.
    #[serde(default)]
    pub text: Option<String>,
    /// The channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// The message timestamp.
    #[serde(default)]
    pub ts: Option<String>,
    /// The parent's `ts` when in a thread.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// The event timestamp.
    #[serde(default)]
    pub event_ts: Option<String>,
    /// Set when a bot wrote it.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// Block Kit content, as JSON.
    #[serde(default)]
    pub blocks: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The item a reaction was added to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ReactionItem {
    /// `message`, `file`, `file_comment`.
    #[serde(rename = "type", default)]
    pub item_type: Option<String>,
    /// The channel (for messages).
    #[serde(default)]
    pub channel: Option<String>,
    /// The message timestamp (for messages).
    #[serde(default)]
    pub ts: Option<String>,
    /// The file (for files).
    #[serde(default)]
    pub file: Option<String>,
}

/// A `reaction_added` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ReactionAddedEvent {
    /// Who reacted.
    #[serde(default)]
    pub user: Option<String>,
    /// The emoji name, without colons.
    #[serde(default)]
    pub reaction: Option<String>,
    /// The author of the item.
    #[serde(default)]
    pub item_user: Option<String>,
    /// What was reacted to.
    #[serde(default)]
    pub item: Option<ReactionItem>,
    /// The event timestamp.
    #[serde(default)]
    pub event_ts: Option<String>,
}

/// A `member_joined_channel` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MemberJoinedChannelEvent {
    /// Who joined.
    #[serde(default)]
    pub user: Option<String>,
    /// Which channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// `C` public, `G` private.
    #[serde(default)]
    pub channel_type: Option<String>,
    /// The workspace.
    #[serde(default)]
    pub team: Option<String>,
    /// Who invited them, if anyone.
    #[serde(default)]
    pub inviter: Option<String>,
}

/// A `file_shared` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FileSharedEvent {
    /// The file id.
    #[serde(default)]
    pub file_id: Option<String>,
    /// Who shared it.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Where it was shared.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The file object (often only `{id}`).
    #[serde(default)]
    pub file: Option<Value>,
    /// The event timestamp.
    #[serde(default)]
    pub event_ts: Option<String>,
}

/// A slash command (`payload` of a `slash_commands` envelope).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SlashCommand {
    /// The command, with its slash (`/deploy`).
    pub command: String,
    /// What followed the command.
    #[serde(default)]
    pub text: String,
    /// Who ran it.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Their name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Where.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The channel's name.
    #[serde(default)]
    pub channel_name: Option<String>,
    /// The workspace.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The workspace's domain.
    #[serde(default)]
    pub team_domain: Option<String>,
    /// The Enterprise Grid org, if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// The app.
    #[serde(default)]
    pub api_app_id: Option<String>,
    /// Where to post up to 5 responses within 30 minutes.
    #[serde(default)]
    pub response_url: Option<String>,
    /// For opening a modal within 3 s.
    #[serde(default)]
    pub trigger_id: Option<String>,
}

/// A user reference in an interaction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct UserRef {
    /// The user id.
    pub id: String,
    /// Their username.
    #[serde(default)]
    pub username: Option<String>,
    /// Their name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their workspace.
    #[serde(default)]
    pub team_id: Option<String>,
}

/// A workspace reference in an interaction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TeamRef {
    /// The workspace id.
    pub id: String,
    /// Its domain.
    #[serde(default)]
    pub domain: Option<String>,
}

/// A channel reference in an interaction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ChannelRef {
    /// The channel id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One action of a `block_actions` interaction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Action {
    /// The element's `action_id`.
    #[serde(default)]
    pub action_id: Option<String>,
    /// The block's id.
    #[serde(default)]
    pub block_id: Option<String>,
    /// The element type (`button`, `static_select`, …).
    #[serde(rename = "type", default)]
    pub action_type: Option<String>,
    /// A button's value.
    #[serde(default)]
    pub value: Option<String>,
    /// When.
    #[serde(default)]
    pub action_ts: Option<String>,
    /// Every other field (selected options, dates, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A view (modal or home tab) in an interaction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct View {
    /// The view id.
    #[serde(default)]
    pub id: Option<String>,
    /// `modal` or `home`.
    #[serde(rename = "type", default)]
    pub view_type: Option<String>,
    /// The app's callback id for this view.
    #[serde(default)]
    pub callback_id: Option<String>,
    /// The app's private data.
    #[serde(default)]
    pub private_metadata: Option<String>,
    /// Input values: `state.values[block_id][action_id]`.
    #[serde(default)]
    pub state: Option<Value>,
    /// For `views.update` races.
    #[serde(default)]
    pub hash: Option<String>,
    /// The root view of the stack.
    #[serde(default)]
    pub root_view_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl View {
    /// The value typed into the input `action_id` of block `block_id`, if any.
    pub fn input_value(&self, block_id: &str, action_id: &str) -> Option<&str> {
        self.state
            .as_ref()?
            .get("values")?
            .get(block_id)?
            .get(action_id)?
            .get("value")?
            .as_str()
    }
}

/// Fields every interaction has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct InteractionCommon {
    /// Who interacted.
    #[serde(default)]
    pub user: Option<UserRef>,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// The app.
    #[serde(default)]
    pub api_app_id: Option<String>,
    /// For opening a modal within 3 s.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `block_actions`: a button, menu or other element was used.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct BlockActions {
    /// The actions (usually one).
    #[serde(default)]
    pub actions: Vec<Action>,
    /// The channel, for message actions.
    #[serde(default)]
    pub channel: Option<ChannelRef>,
    /// The view, for actions in modals or home tabs.
    #[serde(default)]
    pub view: Option<View>,
    /// Where the action happened.
    #[serde(default)]
    pub container: Option<Value>,
    /// The message, for actions in messages.
    #[serde(default)]
    pub message: Option<Value>,
    /// Where to respond.
    #[serde(default)]
    pub response_url: Option<String>,
    /// Common fields.
    #[serde(flatten)]
    pub common: InteractionCommon,
}

/// `shortcut` (global) or `message_action` (message shortcut).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Shortcut {
    /// The shortcut's callback id.
    #[serde(default)]
    pub callback_id: Option<String>,
    /// When.
    #[serde(default)]
    pub action_ts: Option<String>,
    /// The channel (message shortcuts).
    #[serde(default)]
    pub channel: Option<ChannelRef>,
    /// The message (message shortcuts).
    #[serde(default)]
    pub message: Option<Value>,
    /// Where to respond (message shortcuts).
    #[serde(default)]
    pub response_url: Option<String>,
    /// Common fields.
    #[serde(flatten)]
    pub common: InteractionCommon,
}

/// `view_submission` or `view_closed`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ViewInteraction {
    /// The view.
    pub view: View,
    /// `view_closed`: whether the whole stack was closed.
    #[serde(default)]
    pub is_cleared: Option<bool>,
    /// Response URLs, when the modal asked for them.
    #[serde(default)]
    pub response_urls: Vec<Value>,
    /// Common fields.
    #[serde(flatten)]
    pub common: InteractionCommon,
}

/// `block_suggestion`: an external select asks for options.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct BlockSuggestion {
    /// The element's `action_id`.
    #[serde(default)]
    pub action_id: Option<String>,
    /// The block's id.
    #[serde(default)]
    pub block_id: Option<String>,
    /// What the user typed.
    #[serde(default)]
    pub value: String,
    /// The view, when in a modal.
    #[serde(default)]
    pub view: Option<View>,
    /// Common fields.
    #[serde(flatten)]
    pub common: InteractionCommon,
}

/// An interaction (`payload` of an `interactive` envelope).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Interaction {
    /// `block_actions`.
    BlockActions(BlockActions),
    /// `shortcut` (global shortcut).
    Shortcut(Shortcut),
    /// `message_action` (message shortcut).
    MessageAction(Shortcut),
    /// `view_submission`.
    ViewSubmission(ViewInteraction),
    /// `view_closed`.
    ViewClosed(ViewInteraction),
    /// `block_suggestion`.
    BlockSuggestion(BlockSuggestion),
    /// Anything else (`interactive_message`, `dialog_submission`, …), kept as JSON.
    Other {
        /// The payload's `type`.
        interaction_type: String,
        /// The whole payload.
        raw: Value,
    },
}

impl Interaction {
    /// The payload's `type`.
    pub fn interaction_type(&self) -> &str {
        match self {
            Interaction::BlockActions(_) => "block_actions",
            Interaction::Shortcut(_) => "shortcut",
            Interaction::MessageAction(_) => "message_action",
            Interaction::ViewSubmission(_) => "view_submission",
            Interaction::ViewClosed(_) => "view_closed",
            Interaction::BlockSuggestion(_) => "block_suggestion",
            Interaction::Other {
                interaction_type, ..
            } => interaction_type,
        }
    }

    /// The `callback_id` to route on: the shortcut's, or the view's for view interactions.
    pub fn callback_id(&self) -> Option<&str> {
        match self {
            Interaction::Shortcut(s) | Interaction::MessageAction(s) => s.callback_id.as_deref(),
            Interaction::ViewSubmission(v) | Interaction::ViewClosed(v) => {
                v.view.callback_id.as_deref()
            }
            Interaction::BlockActions(b) => b.view.as_ref().and_then(|v| v.callback_id.as_deref()),
            Interaction::BlockSuggestion(b) => {
                b.view.as_ref().and_then(|v| v.callback_id.as_deref())
            }
            Interaction::Other { raw, .. } => raw.get("callback_id").and_then(Value::as_str),
        }
    }

    /// The `action_id`s to route on (block actions and suggestions).
    pub fn action_ids(&self) -> Vec<&str> {
        match self {
            Interaction::BlockActions(b) => b
                .actions
                .iter()
                .filter_map(|a| a.action_id.as_deref())
                .collect(),
            Interaction::BlockSuggestion(b) => b.action_id.as_deref().into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The `trigger_id`, for opening a modal.
    pub fn trigger_id(&self) -> Option<&str> {
        let common = match self {
            Interaction::BlockActions(b) => &b.common,
            Interaction::Shortcut(s) | Interaction::MessageAction(s) => &s.common,
            Interaction::ViewSubmission(v) | Interaction::ViewClosed(v) => &v.common,
            Interaction::BlockSuggestion(b) => &b.common,
            Interaction::Other { raw, .. } => {
                return raw.get("trigger_id").and_then(Value::as_str);
            }
        };
        common.trigger_id.as_deref()
    }
}

impl<'de> Deserialize<'de> for Interaction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| de::Error::missing_field("type"))?
            .to_owned();
        fn typed<T: for<'a> Deserialize<'a>, E: de::Error>(mut raw: Value) -> Result<T, E> {
            // The verification token is never kept in typed views.
            if let Some(obj) = raw.as_object_mut() {
                obj.remove("token");
            }
            serde_json::from_value(raw).map_err(E::custom)
        }
        Ok(match kind.as_str() {
            "block_actions" => Interaction::BlockActions(typed(raw)?),
            "shortcut" => Interaction::Shortcut(typed(raw)?),
            "message_action" => Interaction::MessageAction(typed(raw)?),
            "view_submission" => Interaction::ViewSubmission(typed(raw)?),
            "view_closed" => Interaction::ViewClosed(typed(raw)?),
            "block_suggestion" => Interaction::BlockSuggestion(typed(raw)?),
            _ => {
                let mut raw = raw;
                if let Some(obj) = raw.as_object_mut() {
                    obj.remove("token");
                }
                Interaction::Other {
                    interaction_type: kind,
                    raw,
                }
            }
        })
    }
}

/// Builders for common ack payloads.
pub mod response {
    use super::*;

    /// A `view_submission` answer that shows errors next to inputs: `{"response_action":"errors","errors":{block_id: message}}`.
    pub fn view_errors<I, K, V>(errors: I) -> Value
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: serde_json::Map<String, Value> = errors
            .into_iter()
            .map(|(k, v)| (k.into(), Value::String(v.into())))
            .collect();
        serde_json::json!({"response_action": "errors", "errors": map})
    }

    /// A `view_submission` answer that replaces the view.
    pub fn view_update(view: Value) -> Value {
        serde_json::json!({"response_action": "update", "view": view})
    }

    /// A `view_submission` answer that pushes a view on the stack.
    pub fn view_push(view: Value) -> Value {
        serde_json::json!({"response_action": "push", "view": view})
    }

    /// A `view_submission` answer that closes the whole stack.
    pub fn view_clear() -> Value {
        serde_json::json!({"response_action": "clear"})
    }

    /// A `block_suggestion` answer: options as `(text, value)` pairs.
    pub fn options<I, T, V>(options: I) -> Value
    where
        I: IntoIterator<Item = (T, V)>,
        T: Into<String>,
        V: Into<String>,
    {
        let list: Vec<Value> = options
            .into_iter()
            .map(|(t, v)| {
                serde_json::json!({"text": {"type": "plain_text", "text": t.into()}, "value": v.into()})
            })
            .collect();
        serde_json::json!({ "options": list })
    }

    /// A slash command answer: a message (`in_channel` or `ephemeral`).
    #[derive(Debug, Clone, Default, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct CommandResponse {
        /// The text.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub text: Option<String>,
        /// Block Kit blocks.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub blocks: Option<Value>,
        /// `in_channel` or `ephemeral` (Slack's default).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub response_type: Option<String>,
    }

    impl CommandResponse {
        /// An ephemeral text answer.
        pub fn text(text: impl Into<String>) -> Self {
            CommandResponse {
                text: Some(text.into()),
                ..Default::default()
            }
        }

        /// Makes the answer visible to the whole channel.
        pub fn in_channel(mut self) -> Self {
            self.response_type = Some("in_channel".to_owned());
            self
        }

        /// Adds blocks.
        pub fn with_blocks(mut self, blocks: Value) -> Self {
            self.blocks = Some(blocks);
            self
        }
    }
}
