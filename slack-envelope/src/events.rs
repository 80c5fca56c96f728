//! Typed Events API events: each implements [`SlackEvent`], naming its `type`.

use crate::payload::{
    AppMentionEvent, FileSharedEvent, MemberJoinedChannelEvent, MessageEvent, ReactionAddedEvent,
};

/// An event of the Events API with a typed view: `TYPE` is its `type` field.
pub trait SlackEvent: serde::de::DeserializeOwned {
    /// The event's `type` (`message`, `app_mention`, …).
    const TYPE: &'static str;
}

impl SlackEvent for MessageEvent {
    const TYPE: &'static str = "message";
}

impl SlackEvent for AppMentionEvent {
    const TYPE: &'static str = "app_mention";
}

impl SlackEvent for ReactionAddedEvent {
    const TYPE: &'static str = "reaction_added";
}

impl SlackEvent for MemberJoinedChannelEvent {
    const TYPE: &'static str = "member_joined_channel";
}

impl SlackEvent for FileSharedEvent {
    const TYPE: &'static str = "file_shared";
}
