//! Each method is sent the way Slack reads it: the fake, like Slack, ignores a JSON body for
//! a method that does not read JSON and answers that a required argument is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use serde_json::json;
use slack_testkit::FakeSlack;
use slack_web::encoding::{FORM_CONTENT_TYPE, JSON_CONTENT_TYPE};
use support::{T, client};

#[test]
fn read_methods_go_form_encoded_and_json_would_lose_the_arguments() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack);
    let general = web
        .call("conversations.list", &json!({"limit": 1}))
        .unwrap()["channels"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // `call` picks form for conversations.history: the channel arrives.
    let answer = web
        .call(
            "conversations.history",
            &json!({"channel": general, "limit": 10}),
        )
        .unwrap();
    assert_eq!(answer["ok"], true);
    let call = slack.wait_for_call("conversations.history", T).unwrap();
    assert_eq!(call.header("content-type"), Some(FORM_CONTENT_TYPE));
    assert_eq!(call.arg("channel"), Some(general.as_str()));
    assert_eq!(call.arg("limit"), Some("10"));

    // Forced JSON: Slack (and the fake) ignore the body, so the channel is "missing".
    let err = web
        .call_json("conversations.history", &json!({"channel": general}))
        .unwrap_err();
    assert_eq!(err.slack_error(), Some("invalid_arguments"), "{err}");
    assert!(
        err.to_string().contains("missing required field: channel"),
        "{err}"
    );

    // The same for users.info and files.getUploadURLExternal.
    for (method, args) in [
        ("users.info", json!({"user": slack.bot_user_id()})),
        (
            "files.getUploadURLExternal",
            json!({"filename": "a.txt", "length": 3}),
        ),
    ] {
        assert!(web.call(method, &args).is_ok(), "{method}");
        assert_eq!(
            web.call_json(method, &args).unwrap_err().slack_error(),
            Some("invalid_arguments"),
            "{method}"
        );
    }

    // Write methods that read JSON get JSON; call_form still works for them.
    web.call(
        "chat.postMessage",
        &json!({"channel": general, "text": "hi"}),
    )
    .unwrap();
    let call = slack.wait_for_call("chat.postMessage", T).unwrap();
    assert_eq!(call.header("content-type"), Some(JSON_CONTENT_TYPE));
    web.call_form(
        "chat.postMessage",
        &json!({"channel": general, "text": "form", "blocks": [{"type": "divider"}]}),
    )
    .unwrap();
    let calls = slack.calls();
    let last = calls.last().unwrap();
    assert_eq!(last.header("content-type"), Some(FORM_CONTENT_TYPE));
    assert_eq!(last.body["blocks"], json!([{"type": "divider"}]));
    slack.shutdown();
}
