//! Typed Web API methods beyond the core ones of `client.rs`: conversations, users, chat
//! extras, reactions, pins, files (with the whole upload flow) and team.
//!
//! Each is sent the way Slack reads it ([`crate::encoding`]) and paced by its rate-limit
//! tier ([`crate::Tier::of`]). Paged methods have a `*_page` form taking a cursor and an
//! iterator form in [`crate::paginate`].

use serde_json::json;

use crate::api::Channel;
use crate::api::{
    ChannelAnswer, Completed, Conversations, FileAnswer, FileInfo, History, ListConversations,
    ListMembers, ListUsers, Members, Messages, ScheduleMessage, ScheduledMessage, Team, TeamAnswer,
    UploadFile, UploadUrl, UploadedFile, User, UserAnswer, Users,
};
use crate::client::WebClient;
use crate::error::Error;
use crate::paginate::Pages;

impl WebClient {
    // -- conversations ---------------------------------------------------------------------

    /// `conversations.list`: one page (see [`conversations_list`](Self::conversations_list)
    /// for every page).
    pub fn conversations_list_page(
        &self,
        args: &ListConversations,
    ) -> Result<Conversations, Error> {
        self.call_typed("conversations.list", args)
    }

    /// `conversations.list`, every page: an iterator of channels that follows
    /// `next_cursor`, paced by the method's tier.
    pub fn conversations_list(
        &self,
        args: ListConversations,
    ) -> Pages<'_, ListConversations, Conversations> {
        Pages::new(self, "conversations.list", args)
    }

    /// `conversations.history`: one page of a channel's messages, newest first.
    pub fn conversations_history_page(&self, args: &History) -> Result<Messages, Error> {
        self.call_typed("conversations.history", args)
    }

    /// `conversations.history`, every page.
    pub fn conversations_history(&self, args: History) -> Pages<'_, History, Messages> {
        Pages::new(self, "conversations.history", args)
    }

    /// `conversations.replies`: one page of a thread (`args` from [`History::thread`]).
    pub fn conversations_replies_page(&self, args: &History) -> Result<Messages, Error> {
        self.call_typed("conversations.replies", args)
    }

    /// `conversations.replies`, every page.
    pub fn conversations_replies(&self, args: History) -> Pages<'_, History, Messages> {
        Pages::new(self, "conversations.replies", args)
    }

    /// `conversations.members`: one page of member ids.
    pub fn conversations_members_page(&self, args: &ListMembers) -> Result<Members, Error> {
        self.call_typed("conversations.members", args)
    }

    /// `conversations.members`, every page.
    pub fn conversations_members(&self, args: ListMembers) -> Pages<'_, ListMembers, Members> {
        Pages::new(self, "conversations.members", args)
    }

    /// `conversations.info`.
    pub fn conversations_info(&self, channel: &str) -> Result<Channel, Error> {
        let a: ChannelAnswer =
            self.call_typed("conversations.info", &json!({ "channel": channel }))?;
        Ok(a.channel)
    }

    /// `conversations.join`: the bot joins a public channel.
    pub fn conversations_join(&self, channel: &str) -> Result<Channel, Error> {
        let a: ChannelAnswer =
            self.call_typed("conversations.join", &json!({ "channel": channel }))?;
        Ok(a.channel)
    }

    /// `conversations.open`: opens (or finds) a DM with one user, or a group DM with several.
    pub fn conversations_open(&self, users: &[&str]) -> Result<Channel, Error> {
        let a: ChannelAnswer = self.call_typed(
            "conversations.open",
            &json!({ "users": users.join(","), "return_im": true }),
        )?;
        Ok(a.channel)
    }

    // -- users -----------------------------------------------------------------------------

    /// `users.info`.
    pub fn users_info(&self, user: &str) -> Result<User, Error> {
        let a: UserAnswer = self.call_typed("users.info", &json!({ "user": user }))?;
        Ok(a.user)
    }

    /// `users.lookupByEmail` (scope `users:read.email`); `users_not_found` when none.
    pub fn users_lookup_by_email(&self, email: &str) -> Result<User, Error> {
        let a: UserAnswer = self.call_typed("users.lookupByEmail", &json!({ "email": email }))?;
        Ok(a.user)
    }

    /// `users.list`: one page.
    pub fn users_list_page(&self, args: &ListUsers) -> Result<Users, Error> {
        self.call_typed("users.list", args)
    }

    /// `users.list`, every page.
    pub fn users_list(&self, args: ListUsers) -> Pages<'_, ListUsers, Users> {
        Pages::new(self, "users.list", args)
    }

    // -- chat, reactions, pins ----------------------------------------------------------------

    /// `chat.scheduleMessage`.
    pub fn chat_schedule_message(&self, msg: &ScheduleMessage) -> Result<ScheduledMessage, Error> {
        self.call_typed("chat.scheduleMessage", msg)
    }

    /// `chat.getPermalink`: a link to message `message_ts` in `channel`.
    pub fn chat_get_permalink(&self, channel: &str, message_ts: &str) -> Result<String, Error> {
        let v = self.call(
            "chat.getPermalink",
            &json!({ "channel": channel, "message_ts": message_ts }),
        )?;
        v.get("permalink")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Decode {
                method: "chat.getPermalink".into(),
                detail: "answer has no permalink".into(),
            })
    }

    /// `reactions.remove`: removes the bot's reaction `name` from message `timestamp`.
    pub fn reactions_remove(
        &self,
        channel: &str,
        name: &str,
        timestamp: &str,
    ) -> Result<(), Error> {
        let name = name.trim_matches(':');
        self.call(
            "reactions.remove",
            &json!({ "channel": channel, "name": name, "timestamp": timestamp }),
        )
        .map(drop)
    }

    /// `pins.add`: pins message `timestamp` in `channel`.
    pub fn pins_add(&self, channel: &str, timestamp: &str) -> Result<(), Error> {
        self.call(
            "pins.add",
            &json!({ "channel": channel, "timestamp": timestamp }),
        )
        .map(drop)
    }

    // -- files, team -----------------------------------------------------------------------

    /// `files.info`: a file's metadata (scope `files:read`).
    pub fn files_info(&self, file: &str) -> Result<FileInfo, Error> {
        let a: FileAnswer = self.call_typed("files.info", &json!({ "file": file }))?;
        Ok(a.file)
    }

    /// Uploads a file the way Slack wants it now (`files.upload` is retired), in three steps:
    /// `files.getUploadURLExternal` (form: `filename`, `length`), a POST of the bytes to the
    /// returned URL, then `files.completeUploadExternal` (`files`, and `channel_id`,
    /// `thread_ts`, `initial_comment` when given), which shares it.
    ///
    /// An error names the step that failed (its method: `files.getUploadURLExternal`,
    /// `files.upload_url` for the bytes, `files.completeUploadExternal`).
    pub fn upload_file(&self, file: &UploadFile) -> Result<UploadedFile, Error> {
        let mut args = serde_json::Map::new();
        args.insert("filename".into(), json!(file.filename));
        args.insert("length".into(), json!(file.content.len()));
        if let Some(alt) = &file.alt_txt {
            args.insert("alt_txt".into(), json!(alt));
        }
        if let Some(t) = &file.snippet_type {
            args.insert("snippet_type".into(), json!(t));
        }
        let url: UploadUrl = self.call_typed("files.getUploadURLExternal", &args)?;
        if url.upload_url.is_empty() || url.file_id.is_empty() {
            return Err(Error::Decode {
                method: "files.getUploadURLExternal".into(),
                detail: "answer has no upload_url or file_id".into(),
            });
        }
        self.post_upload(&url.upload_url, file.content.clone())?;
        let title = file.title.clone().unwrap_or_else(|| file.filename.clone());
        let mut args = serde_json::Map::new();
        args.insert(
            "files".into(),
            json!([{ "id": url.file_id, "title": title }]),
        );
        for (k, v) in [
            ("channel_id", &file.channel_id),
            ("thread_ts", &file.thread_ts),
            ("initial_comment", &file.initial_comment),
        ] {
            if let Some(v) = v {
                args.insert(k.into(), json!(v));
            }
        }
        let done: Completed = self.call_typed("files.completeUploadExternal", &args)?;
        done.files.into_iter().next().ok_or_else(|| Error::Decode {
            method: "files.completeUploadExternal".into(),
            detail: "answer has no files".into(),
        })
    }

    /// `team.info`: the workspace.
    pub fn team_info(&self) -> Result<Team, Error> {
        let a: TeamAnswer = self.call_typed("team.info", &json!({}))?;
        Ok(a.team)
    }
}
