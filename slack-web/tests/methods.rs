//! The typed methods against the fake Slack, which (like Slack) ignores a JSON body for
//! methods that do not read JSON: each call passing here was sent in the right encoding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use slack_testkit::FakeSlack;
use slack_web::api::{
    History, ListConversations, ListMembers, ListUsers, ScheduleMessage, UploadFile,
};
use slack_web::encoding::Encoding;
use slack_web::{Error, LimiterConfig, Message, PostMessage, RetryPolicy};
use support::{T, builder, client};

fn general(web: &slack_web::WebClient) -> String {
    web.conversations_list(ListConversations::default())
        .map(Result::unwrap)
        .find(|c| c.name.as_deref() == Some("general"))
        .unwrap()
        .id
}

#[test]
fn every_typed_method_with_its_encoding() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack);
    let ch = general(&web);

    let info = web.conversations_info(&ch).unwrap();
    assert_eq!(info.name.as_deref(), Some("general"));
    assert_eq!(info.is_general, Some(true));
    assert!(info.extra.contains_key("is_shared"));
    assert_eq!(web.conversations_join(&ch).unwrap().id, ch);
    assert_eq!(
        web.conversations_info("C_NOPE").unwrap_err().slack_error(),
        Some("channel_not_found")
    );

    let users: Vec<_> = web
        .users_list(ListUsers::default().limit(2u32))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(users.len(), 4);
    let alice = users
        .iter()
        .find(|u| u.name.as_deref() == Some("alice"))
        .unwrap();
    assert_eq!(web.users_info(&alice.id).unwrap(), *alice);
    assert_eq!(
        web.users_lookup_by_email("alice@example.com").unwrap().id,
        alice.id
    );
    assert_eq!(
        web.users_lookup_by_email("nobody@example.com")
            .unwrap_err()
            .slack_error(),
        Some("users_not_found")
    );
    let dm = web.conversations_open(&[alice.id.as_str()]).unwrap();
    assert!(dm.id.starts_with('D') && dm.is_im == Some(true));

    let members: Vec<String> = web
        .conversations_members(ListMembers::new(&ch).limit(3u32))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(members.len(), 4);
    assert!(members.contains(&slack.bot_user_id()));

    // Messages: post a thread, read it back.
    let parent = web
        .chat_post_message(&PostMessage::new(&ch, "parent"))
        .unwrap();
    for i in 0..3 {
        web.chat_post_message(&PostMessage::new(
            &ch,
            Message::text(format!("reply {i}")).thread_ts(&parent.ts),
        ))
        .unwrap();
    }
    let top = web
        .conversations_history_page(&History::channel(&ch).limit(10u32))
        .unwrap();
    assert_eq!(top.messages.len(), 1);
    assert_eq!(top.messages[0].text.as_deref(), Some("parent"));
    let thread: Vec<_> = web
        .conversations_replies(History::thread(&ch, &parent.ts).limit(2u32))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(thread.len(), 4);
    assert_eq!(thread[3].text.as_deref(), Some("reply 2"));
    let link = web.chat_get_permalink(&ch, &parent.ts).unwrap();
    assert!(link.contains(&ch), "{link}");

    web.reactions_add(&ch, ":eyes:", &parent.ts).unwrap();
    web.reactions_remove(&ch, "eyes", &parent.ts).unwrap();
    web.pins_add(&ch, &parent.ts).unwrap();
    let when = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let scheduled = web
        .chat_schedule_message(&ScheduleMessage::new(&ch, when, "later"))
        .unwrap();
    assert_eq!(
        (scheduled.channel.as_str(), scheduled.post_at),
        (ch.as_str(), when)
    );
    assert!(!scheduled.scheduled_message_id.is_empty());
    let team = web.team_info().unwrap();
    assert_eq!(team.id, "T111");

    // Every method went out in the encoding of the table, and the fake understood it.
    for call in slack.calls() {
        if call.method == "upload" || call.method == "response_url" {
            continue;
        }
        assert_eq!(
            call.header("content-type"),
            Some(Encoding::for_method(&call.method).content_type()),
            "{}",
            call.method
        );
    }
    slack.shutdown();
}

#[test]
fn upload_file_to_a_thread_in_three_steps() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack);
    let ch = general(&web);
    let parent = web
        .chat_post_message(&PostMessage::new(&ch, "logs?"))
        .unwrap();
    let uploaded = web
        .upload_file(
            &UploadFile::new("build.log", b"line 1\nline 2\n".to_vec())
                .channel(&ch)
                .thread_ts(&parent.ts)
                .title("Build log")
                .initial_comment("here you go"),
        )
        .unwrap();
    assert_eq!(uploaded.title.as_deref(), Some("Build log"));

    let get = slack
        .wait_for_call("files.getUploadURLExternal", T)
        .unwrap();
    assert_eq!(get.arg("filename"), Some("build.log"));
    assert_eq!(get.arg("length"), Some("14"));
    let up = slack.wait_for_call("upload", T).unwrap();
    assert_eq!(up.raw_body, "line 1\nline 2\n");
    assert_eq!(up.token, None, "the upload URL needs no token");
    let done = slack
        .wait_for_call("files.completeUploadExternal", T)
        .unwrap();
    assert_eq!(done.arg("channel_id"), Some(ch.as_str()));
    assert_eq!(done.arg("thread_ts"), Some(parent.ts.as_str()));

    let info = web.files_info(&uploaded.id).unwrap();
    assert_eq!(info.name.as_deref(), Some("build.log"));
    assert_eq!(info.size, Some(14));
    assert_eq!(info.channels, vec![ch.clone()]);
    let thread = web
        .conversations_replies_page(&History::thread(&ch, &parent.ts))
        .unwrap();
    assert_eq!(thread.messages.len(), 2);
    assert_eq!(thread.messages[1].files[0].id, uploaded.id);

    // A failing step is reported with its method.
    slack.stub_error("files.completeUploadExternal", "invalid_channel");
    let err = web
        .upload_file(&UploadFile::new("a.txt", "x").channel("C_BAD"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Slack { method, error, .. }
            if method == "files.completeUploadExternal" && error == "invalid_channel"),
        "{err}"
    );
    slack.shutdown();
}

#[test]
fn the_paginator_follows_cursors_and_stops_on_errors() {
    let slack = FakeSlack::start().unwrap();
    slack.add_channels(9); // 12 channels in all
    let web = builder(&slack)
        .rate_limits(LimiterConfig::only_retry_after())
        .build()
        .unwrap();
    let mut pages = web.conversations_list(ListConversations::default().limit(5u32));
    let names: Vec<String> = pages.by_ref().map(|c| c.unwrap().name.unwrap()).collect();
    assert_eq!(names.len(), 12);
    assert_eq!(&names[..3], ["general", "random", "testkit"]);
    assert_eq!(pages.pages_fetched(), 3);
    let cursors: Vec<Option<String>> = slack
        .calls()
        .iter()
        .filter(|c| c.method == "conversations.list")
        .map(|c| c.arg("cursor").map(str::to_owned))
        .collect();
    assert_eq!(cursors.len(), 3);
    assert_eq!(cursors[0], None);
    assert!(cursors[1].is_some() && cursors[2].is_some() && cursors[1] != cursors[2]);

    // An error mid-way is yielded once and ends the iteration.
    slack.stub_error("users.list", "invalid_auth");
    let results: Vec<_> = web.users_list(ListUsers::default()).collect();
    assert_eq!(results.len(), 1);
    assert!(results[0].as_ref().unwrap_err().is_fatal_auth());

    // A 429 the client gives up on: the paginator waits Retry-After and asks again.
    let strict = builder(&slack)
        .retry_policy(RetryPolicy::none())
        .rate_limits(LimiterConfig::only_retry_after())
        .build()
        .unwrap();
    slack.rate_limit("conversations.members", 1, 1);
    let ch = names_id(&strict, "general");
    let members: Vec<String> = strict
        .conversations_members(ListMembers::new(&ch).limit(2u32))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(members.len(), 4);
    let statuses: Vec<u16> = slack
        .calls()
        .iter()
        .filter(|c| c.method == "conversations.members")
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![429, 200, 200]);
    // Beyond max_wait it is an error instead.
    slack.rate_limit("conversations.members", 30, 1);
    let r: Vec<_> = strict
        .conversations_members(ListMembers::new(&ch))
        .max_wait(Duration::from_secs(1))
        .collect();
    assert!(matches!(r[..], [Err(Error::RateLimited { .. })]), "{r:?}");
    slack.shutdown();
}

fn names_id(web: &slack_web::WebClient, name: &str) -> String {
    web.conversations_list(ListConversations::default())
        .map(Result::unwrap)
        .find(|c| c.name.as_deref() == Some(name))
        .unwrap()
        .id
}

#[test]
fn every_typed_method_has_a_rate_limit_tier() {
    for m in [
        "conversations.history",
        "conversations.replies",
        "conversations.info",
        "conversations.list",
        "conversations.members",
        "conversations.join",
        "conversations.open",
        "users.info",
        "users.list",
        "users.lookupByEmail",
        "chat.update",
        "chat.delete",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "chat.getPermalink",
        "reactions.add",
        "reactions.remove",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "files.info",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "team.info",
        "auth.test",
        "pins.add",
    ] {
        assert!(slack_web::Tier::of(m).is_some(), "{m}");
    }
}

#[test]
fn typed_answers_keep_unknown_fields_and_stubs_answer() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack);
    slack.stub(
        "users.info",
        serde_json::json!({"ok": true, "user": {"id": "U9", "name": "stubbed",
            "brand_new_field": {"x": 1}, "profile": {"email": "s@x", "pronouns": "they"}}}),
    );
    let u = web.users_info("U9").unwrap();
    assert_eq!(u.name.as_deref(), Some("stubbed"));
    assert_eq!(u.extra["brand_new_field"]["x"], 1);
    assert_eq!(u.profile.extra["pronouns"], "they");
    slack.unstub("users.info");
    assert_eq!(
        web.users_info("U9").unwrap_err().slack_error(),
        Some("user_not_found")
    );
    slack.shutdown();
}

#[test]
fn bodies_larger_than_the_connection_buffers_go_through_both_ways() {
    // The client's buffers are 32 KB in and 16 KB out: a 1 MiB upload and a page of 1000
    // channels (well over 32 KB of JSON) stream through them.
    let slack = FakeSlack::start().unwrap();
    slack.add_channels(1200);
    let web = client(&slack);
    let ch = general(&web);
    let content: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let uploaded = web
        .upload_file(&UploadFile::new("big.bin", content.clone()).channel(&ch))
        .unwrap();
    let up = slack.wait_for_call("upload", T).unwrap();
    assert!(up.raw_body.len() >= content.len(), "{}", up.raw_body.len());
    assert_eq!(
        web.files_info(&uploaded.id).unwrap().size,
        Some(1024 * 1024)
    );
    let page = web
        .conversations_list_page(&ListConversations::default().limit(1000u32))
        .unwrap();
    assert_eq!(page.channels.len(), 1000);
    assert!(
        serde_json::to_string(&slack.calls().last().unwrap().response)
            .unwrap()
            .len()
            > 32 * 1024
    );
}
