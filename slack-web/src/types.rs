//! Typed arguments and answers of the Web API methods.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// The content of a message: text, Block Kit blocks and the usual flags. Used by
/// `chat.postMessage`, `chat.postEphemeral`, `chat.update`, `response_url` and the outbox.
///
/// Block Kit JSON is a [`serde_json::Value`]; build it with `serde_json::json!` or convert
/// any `Serialize` type with [`Message::try_blocks`]. Arguments this type does not name go
/// in [`extra`](Message::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// The text (the notification fallback when blocks are given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Block Kit blocks (a JSON array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
    /// Legacy attachments (a JSON array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Value>,
    /// Reply in this thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// Also show a thread reply in the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_broadcast: Option<bool>,
    /// Whether `text` is mrkdwn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrkdwn: Option<bool>,
    /// Unfurl links to text content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfurl_links: Option<bool>,
    /// Unfurl media content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfurl_media: Option<bool>,
    /// Message metadata (`{"event_type":…,"event_payload":{…}}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Any other argument, sent as is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// A message with this text.
    pub fn text(text: impl Into<String>) -> Message {
        Message {
            text: Some(text.into()),
            ..Message::default()
        }
    }

    /// Sets the Block Kit blocks.
    pub fn blocks(mut self, blocks: impl Into<Value>) -> Message {
        self.blocks = Some(blocks.into());
        self
    }

    /// Sets typed Block Kit blocks, after checking Slack's message limits (see
    /// [`crate::blocks`]): a limit broken is [`Error::BlockKit`], before anything is sent.
    pub fn with_blocks(
        mut self,
        blocks: impl IntoIterator<Item = impl Into<crate::blocks::Block>>,
    ) -> Result<Message, Error> {
        let blocks: Vec<crate::blocks::Block> = blocks.into_iter().map(Into::into).collect();
        self.blocks = Some(crate::blocks::blocks_to_json(&blocks)?);
        Ok(self)
    }

    /// Sets the blocks from any `Serialize` value.
    pub fn try_blocks(mut self, blocks: &impl Serialize) -> Result<Message, Error> {
        self.blocks = Some(serde_json::to_value(blocks).map_err(|e| Error::Encode {
            method: "blocks".into(),
            detail: e.to_string(),
        })?);
        Ok(self)
    }

    /// Replies in the thread of `ts`.
    pub fn thread_ts(mut self, ts: impl Into<String>) -> Message {
        self.thread_ts = Some(ts.into());
        self
    }

    /// Sets `reply_broadcast`.
    pub fn reply_broadcast(mut self, yes: bool) -> Message {
        self.reply_broadcast = Some(yes);
        self
    }

    /// Sets `mrkdwn`.
    pub fn mrkdwn(mut self, yes: bool) -> Message {
        self.mrkdwn = Some(yes);
        self
    }

    /// Sets `unfurl_links` and `unfurl_media`.
    pub fn unfurl(mut self, links: bool, media: bool) -> Message {
        self.unfurl_links = Some(links);
        self.unfurl_media = Some(media);
        self
    }

    /// Sets the message metadata.
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Message {
        self.metadata = Some(metadata.into());
        self
    }

    /// Adds any other argument.
    pub fn arg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Message {
        self.extra.insert(name.into(), value.into());
        self
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::text(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::text(text)
    }
}

/// Arguments of `chat.postMessage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostMessage {
    /// Channel, DM or user id.
    pub channel: String,
    /// The message.
    #[serde(flatten)]
    pub message: Message,
}

impl PostMessage {
    /// `message` (or just a text) to `channel`.
    pub fn new(channel: impl Into<String>, message: impl Into<Message>) -> PostMessage {
        PostMessage {
            channel: channel.into(),
            message: message.into(),
        }
    }
}

/// Arguments of `chat.postEphemeral`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostEphemeral {
    /// Channel id.
    pub channel: String,
    /// The user who will see it.
    pub user: String,
    /// The message.
    #[serde(flatten)]
    pub message: Message,
}

impl PostEphemeral {
    /// `message` shown only to `user` in `channel`.
    pub fn new(
        channel: impl Into<String>,
        user: impl Into<String>,
        message: impl Into<Message>,
    ) -> PostEphemeral {
        PostEphemeral {
            channel: channel.into(),
            user: user.into(),
            message: message.into(),
        }
    }
}

/// Arguments of `chat.update`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateMessage {
    /// Channel id.
    pub channel: String,
    /// Timestamp of the message to update.
    pub ts: String,
    /// The new content.
    #[serde(flatten)]
    pub message: Message,
}

impl UpdateMessage {
    /// Replace message `ts` in `channel` with `message`.
    pub fn new(
        channel: impl Into<String>,
        ts: impl Into<String>,
        message: impl Into<Message>,
    ) -> UpdateMessage {
        UpdateMessage {
            channel: channel.into(),
            ts: ts.into(),
            message: message.into(),
        }
    }
}

/// A message posted to a `response_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ResponseMessage {
    /// The message.
    #[serde(flatten)]
    pub message: Message,
    /// `"in_channel"` or `"ephemeral"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// Replace the message the interaction came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// Delete the message the interaction came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_original: Option<bool>,
}

impl ResponseMessage {
    /// An ephemeral answer (only the user sees it).
    pub fn ephemeral(message: impl Into<Message>) -> ResponseMessage {
        ResponseMessage {
            message: message.into(),
            response_type: Some("ephemeral".into()),
            ..ResponseMessage::default()
        }
    }

    /// An answer everyone in the channel sees.
    pub fn in_channel(message: impl Into<Message>) -> ResponseMessage {
        ResponseMessage {
            message: message.into(),
            response_type: Some("in_channel".into()),
            ..ResponseMessage::default()
        }
    }

    /// Sets `replace_original`.
    pub fn replace_original(mut self, yes: bool) -> ResponseMessage {
        self.replace_original = Some(yes);
        self
    }

    /// Sets `delete_original`.
    pub fn delete_original(mut self, yes: bool) -> ResponseMessage {
        self.delete_original = Some(yes);
        self
    }
}

/// The answer of `auth.test`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AuthTest {
    /// Workspace URL.
    #[serde(default)]
    pub url: String,
    /// Workspace name.
    #[serde(default)]
    pub team: String,
    /// User name of the token's user (the bot user).
    #[serde(default)]
    pub user: String,
    /// Workspace id.
    #[serde(default)]
    pub team_id: String,
    /// User id of the token's user: the bot's own user id.
    #[serde(default)]
    pub user_id: String,
    /// Bot id, for bot tokens.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// Enterprise id, for Enterprise Grid.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Whether the app is installed org-wide.
    #[serde(default)]
    pub is_enterprise_install: Option<bool>,
}

/// Where a message is: the answer of `chat.postMessage`, `chat.update`, `chat.delete`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageRef {
    /// Channel id.
    #[serde(default)]
    pub channel: String,
    /// Message timestamp (its id within the channel).
    #[serde(default)]
    pub ts: String,
    /// The message as Slack stored it, when the answer includes it.
    #[serde(default)]
    pub message: Option<Value>,
}

/// The answer of `chat.postEphemeral`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct EphemeralRef {
    /// Timestamp of the ephemeral message.
    #[serde(default)]
    pub message_ts: String,
}

/// The answer of the `views.*` methods.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ViewRef {
    /// The view as Slack stored it.
    #[serde(default)]
    pub view: Value,
}

impl ViewRef {
    /// The view id (`view.id`).
    pub fn id(&self) -> Option<&str> {
        self.view.get("id").and_then(Value::as_str)
    }

    /// The view hash (`view.hash`), for a later `views.update`.
    pub fn hash(&self) -> Option<&str> {
        self.view.get("hash").and_then(Value::as_str)
    }
}

/// Which view `views.update` updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewId {
    /// By `view_id`.
    Id(String),
    /// By `external_id`.
    External(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_serializes_flat_and_sparse() {
        let m = PostMessage::new(
            "C1",
            Message::text("hi")
                .blocks(json!([{"type":"divider"}]))
                .thread_ts("1.2")
                .reply_broadcast(true)
                .mrkdwn(false)
                .unfurl(false, true)
                .metadata(json!({"event_type":"x","event_payload":{}}))
                .arg("icon_emoji", ":wave:"),
        );
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"channel":"C1","text":"hi","blocks":[{"type":"divider"}],"thread_ts":"1.2",
                   "reply_broadcast":true,"mrkdwn":false,"unfurl_links":false,"unfurl_media":true,
                   "metadata":{"event_type":"x","event_payload":{}},"icon_emoji":":wave:"})
        );
        assert_eq!(
            serde_json::to_value(PostMessage::new("C", "t")).unwrap(),
            json!({"channel":"C","text":"t"})
        );
        assert_eq!(
            serde_json::to_value(ResponseMessage::ephemeral("x").replace_original(true)).unwrap(),
            json!({"text":"x","response_type":"ephemeral","replace_original":true})
        );
    }

    #[test]
    fn try_blocks_from_any_serialize() {
        #[derive(Serialize)]
        struct Divider {
            r#type: &'static str,
        }
        let m = Message::default()
            .try_blocks(&[Divider { r#type: "divider" }])
            .unwrap();
        assert_eq!(m.blocks, Some(json!([{"type":"divider"}])));
    }

    #[test]
    fn answers_decode_from_fixture() {
        let v: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/web_chat_postMessage_ok.json"
        ))
        .unwrap();
        let r: MessageRef = serde_json::from_value(v).unwrap();
        assert_eq!(
            (r.channel.as_str(), r.ts.as_str()),
            ("C123ABC456", "1503435956.000247")
        );
        let view: ViewRef =
            serde_json::from_value(json!({"ok":true,"view":{"id":"V1","hash":"h"}})).unwrap();
        assert_eq!((view.id(), view.hash()), (Some("V1"), Some("h")));
    }
}
