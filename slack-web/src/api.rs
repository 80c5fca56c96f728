//! Typed arguments and answers of the read, conversation, user, file and team methods.
//!
//! Answers keep every field they do not name in `extra` (Slack adds fields often), so an
//! unknown field never makes decoding fail. Arguments serialize to what Slack expects; the
//! client sends them form-encoded or as JSON as [`crate::encoding`] says.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::types::Message;

/// `response_metadata` of a paged answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ResponseMetadata {
    /// The cursor of the next page; empty (or absent) on the last page.
    #[serde(default)]
    pub next_cursor: String,
}

/// A cursor-paginated request (see [`crate::paginate`]).
pub trait PagedRequest: Serialize + Clone {
    /// Sets the cursor of the page to fetch (`None`: the first page).
    fn set_cursor(&mut self, cursor: Option<String>);
    /// Sets the page size unless the caller chose one.
    fn default_limit(&mut self, limit: u32);
}

/// A cursor-paginated answer.
pub trait PagedResponse: serde::de::DeserializeOwned {
    /// What one page holds.
    type Item;
    /// The next page's cursor; `None` at the end.
    fn next_cursor(&self) -> Option<&str>;
    /// This page's items.
    fn into_items(self) -> Vec<Self::Item>;
}

macro_rules! paged_request {
    ($t:ty) => {
        impl PagedRequest for $t {
            fn set_cursor(&mut self, cursor: Option<String>) {
                self.cursor = cursor;
            }
            fn default_limit(&mut self, limit: u32) {
                self.limit.get_or_insert(limit);
            }
        }
    };
}

macro_rules! paged_response {
    ($t:ty, $field:ident, $item:ty) => {
        impl PagedResponse for $t {
            type Item = $item;
            fn next_cursor(&self) -> Option<&str> {
                Some(self.response_metadata.next_cursor.as_str()).filter(|c| !c.is_empty())
            }
            fn into_items(self) -> Vec<$item> {
                self.$field
            }
        }
    };
}

/// Chainable setters for optional fields of a request.
macro_rules! setters {
    ($t:ty { $($f:ident : $ft:ty),* $(,)? }) => {
        impl $t {
            $(
                #[doc = concat!("Sets `", stringify!($f), "`.")]
                pub fn $f(mut self, v: impl Into<$ft>) -> Self {
                    self.$f = Some(v.into());
                    self
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------------------
// objects

/// A conversation (channel, private channel, DM, group DM), as `conversations.*` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Channel {
    /// The id (`C…`, `G…`, `D…`).
    #[serde(default)]
    pub id: String,
    /// The name (absent for DMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A public or private channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_channel: Option<bool>,
    /// A private channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
    /// A DM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_im: Option<bool>,
    /// A group DM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_mpim: Option<bool>,
    /// Archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// The workspace's general channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_general: Option<bool>,
    /// Whether the token's user (the bot) is a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_member: Option<bool>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// The DM's other user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// How many members (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_members: Option<u64>,
    /// `{"value","creator","last_set"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Value>,
    /// `{"value","creator","last_set"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user, as `users.*` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The id (`U…`, `W…`).
    #[serde(default)]
    pub id: String,
    /// The workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_name: Option<String>,
    /// Deactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// A bot user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_bot: Option<bool>,
    /// An admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
    /// Time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// The profile.
    #[serde(default)]
    pub profile: UserProfile,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user's profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserProfile {
    /// The display name (may be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_name: Option<String>,
    /// The email (needs `users:read.email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Status text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    /// Every other field (images, title, phone, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A message as `conversations.history` / `replies` return it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryMessage {
    /// The message's timestamp (its id in the channel).
    #[serde(default)]
    pub ts: String,
    /// The subtype, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    /// The author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Set when a bot wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The thread's parent `ts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// Replies in its thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_count: Option<u64>,
    /// Block Kit blocks, as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
    /// Files, as `files.info` describes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file, as `files.info` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileInfo {
    /// The id (`F…`).
    #[serde(default)]
    pub id: String,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    /// Slack's file type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetype: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Who uploaded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Private URL (needs the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_private: Option<String>,
    /// Link to the file in Slack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    /// Channels it was shared in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The workspace, as `team.info` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Team {
    /// The id (`T…`).
    #[serde(default)]
    pub id: String,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The subdomain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The email domain(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_domain: Option<String>,
    /// The icon URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------
// conversations

/// Arguments of `conversations.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ListConversations {
    /// `public_channel,private_channel,mpim,im` (default `public_channel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<String>,
    /// Leave archived channels out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_archived: Option<bool>,
    /// Page size (≤ 1000; 200 is usual).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The page cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// For org-wide apps: which workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
}

setters!(ListConversations {
    types: String,
    exclude_archived: bool,
    limit: u32,
    team_id: String
});
paged_request!(ListConversations);

/// Answer of `conversations.list`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Conversations {
    /// This page.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// The next cursor.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}
paged_response!(Conversations, channels, Channel);

/// Arguments of `conversations.history` and `conversations.replies`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct History {
    /// The conversation.
    pub channel: String,
    /// `replies` only: the thread's parent `ts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// Only messages after this `ts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest: Option<String>,
    /// Only messages before this `ts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// Include `oldest`/`latest` themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusive: Option<bool>,
    /// Page size (≤ 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The page cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl History {
    /// The history of `channel`.
    pub fn channel(channel: impl Into<String>) -> History {
        History {
            channel: channel.into(),
            ..History::default()
        }
    }

    /// The replies of thread `ts` in `channel`.
    pub fn thread(channel: impl Into<String>, ts: impl Into<String>) -> History {
        History {
            channel: channel.into(),
            ts: Some(ts.into()),
            ..History::default()
        }
    }
}

setters!(History {
    oldest: String,
    latest: String,
    inclusive: bool,
    limit: u32
});
paged_request!(History);

/// Answer of `conversations.history` and `conversations.replies`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Messages {
    /// This page (history: newest first; replies: parent first).
    #[serde(default)]
    pub messages: Vec<HistoryMessage>,
    /// Whether there is more.
    #[serde(default)]
    pub has_more: bool,
    /// The next cursor.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}
paged_response!(Messages, messages, HistoryMessage);

/// Arguments of `conversations.members`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ListMembers {
    /// The conversation.
    pub channel: String,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The page cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListMembers {
    /// The members of `channel`.
    pub fn new(channel: impl Into<String>) -> ListMembers {
        ListMembers {
            channel: channel.into(),
            ..ListMembers::default()
        }
    }
}

setters!(ListMembers { limit: u32 });
paged_request!(ListMembers);

/// Answer of `conversations.members`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Members {
    /// User ids on this page.
    #[serde(default)]
    pub members: Vec<String>,
    /// The next cursor.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}
paged_response!(Members, members, String);

/// Answer of `conversations.info`, `join`, `open`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ChannelAnswer {
    /// The conversation.
    #[serde(default)]
    pub channel: Channel,
}

// ---------------------------------------------------------------------------------------
// users

/// Arguments of `users.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ListUsers {
    /// Page size (≤ 1000; 200 is usual).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The page cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// For org-wide apps: which workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
}

setters!(ListUsers {
    limit: u32,
    team_id: String
});
paged_request!(ListUsers);

/// Answer of `users.list`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Users {
    /// This page.
    #[serde(default)]
    pub members: Vec<User>,
    /// The next cursor.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}
paged_response!(Users, members, User);

/// Answer of `users.info`, `users.lookupByEmail`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UserAnswer {
    /// The user.
    #[serde(default)]
    pub user: User,
}

// ---------------------------------------------------------------------------------------
// chat

/// Arguments of `chat.scheduleMessage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScheduleMessage {
    /// Where.
    pub channel: String,
    /// When (Unix seconds, in the future, within 120 days).
    pub post_at: i64,
    /// The message.
    #[serde(flatten)]
    pub message: Message,
}

impl ScheduleMessage {
    /// `message` to `channel` at `post_at` (Unix seconds).
    pub fn new(channel: impl Into<String>, post_at: i64, message: impl Into<Message>) -> Self {
        ScheduleMessage {
            channel: channel.into(),
            post_at,
            message: message.into(),
        }
    }
}

/// Answer of `chat.scheduleMessage`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ScheduledMessage {
    /// Where.
    #[serde(default)]
    pub channel: String,
    /// The id, for `chat.deleteScheduledMessage`.
    #[serde(default)]
    pub scheduled_message_id: String,
    /// When.
    #[serde(default)]
    pub post_at: i64,
}

// ---------------------------------------------------------------------------------------
// files

/// One file for [`crate::WebClient::upload_file`] (the `files.getUploadURLExternal` →
/// upload → `files.completeUploadExternal` flow).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadFile {
    /// The file name (`report.csv`).
    pub filename: String,
    /// The content.
    pub content: Vec<u8>,
    /// The title (default: the file name).
    pub title: Option<String>,
    /// Share it in this channel (else it stays private to the bot).
    pub channel_id: Option<String>,
    /// In this thread of `channel_id`.
    pub thread_ts: Option<String>,
    /// A message posted with it.
    pub initial_comment: Option<String>,
    /// A description of an image, for screen readers.
    pub alt_txt: Option<String>,
    /// The syntax of a snippet (`python`, `rust`, …).
    pub snippet_type: Option<String>,
}

impl UploadFile {
    /// `content` named `filename`.
    pub fn new(filename: impl Into<String>, content: impl Into<Vec<u8>>) -> UploadFile {
        UploadFile {
            filename: filename.into(),
            content: content.into(),
            title: None,
            channel_id: None,
            thread_ts: None,
            initial_comment: None,
            alt_txt: None,
            snippet_type: None,
        }
    }

    /// Shares it in `channel_id`.
    pub fn channel(mut self, channel_id: impl Into<String>) -> Self {
        self.channel_id = Some(channel_id.into());
        self
    }

    /// Shares it in the thread `thread_ts` of its channel.
    pub fn thread_ts(mut self, ts: impl Into<String>) -> Self {
        self.thread_ts = Some(ts.into());
        self
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Posts a message with it.
    pub fn initial_comment(mut self, text: impl Into<String>) -> Self {
        self.initial_comment = Some(text.into());
        self
    }

    /// Sets the image description.
    pub fn alt_txt(mut self, text: impl Into<String>) -> Self {
        self.alt_txt = Some(text.into());
        self
    }

    /// Sets the snippet syntax.
    pub fn snippet_type(mut self, t: impl Into<String>) -> Self {
        self.snippet_type = Some(t.into());
        self
    }
}

/// A completed upload: `files.completeUploadExternal`'s `files[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UploadedFile {
    /// The file id.
    #[serde(default)]
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
}

/// Answer of `files.getUploadURLExternal`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct UploadUrl {
    #[serde(default)]
    pub(crate) upload_url: String,
    #[serde(default)]
    pub(crate) file_id: String,
}

/// Answer of `files.completeUploadExternal`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct Completed {
    #[serde(default)]
    pub(crate) files: Vec<UploadedFile>,
}

/// Answer of `files.info`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct FileAnswer {
    #[serde(default)]
    pub(crate) file: FileInfo,
}

/// Answer of `team.info`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct TeamAnswer {
    #[serde(default)]
    pub(crate) team: Team,
}
