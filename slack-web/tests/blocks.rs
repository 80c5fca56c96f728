//! Block Kit builders: round trips against the JSON examples of Slack's Block Kit reference,
//! as kept by the official Python SDK's model tests (the `test_document*` cases of
//! slackapi/python-slack-sdk @ 00d919e0 : tests/slack_sdk/models/test_blocks.py and
//! @ 07c56962 : tests/slack_sdk/models/test_elements.py, which copy the examples of
//! https://api.slack.com/reference/block-kit), and the limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};
use slack_web::blocks::*;
use slack_web::{Error, Message};

/// Slack's JSON → typed → JSON gives the same JSON, and it is not a raw passthrough.
fn round_trip_block(doc: Value) -> Block {
    let typed: Block = serde_json::from_value(doc.clone()).unwrap();
    assert!(!matches!(typed, Block::Raw(_)), "{doc}");
    assert_eq!(serde_json::to_value(&typed).unwrap(), doc);
    typed
}

fn round_trip_element(doc: Value) -> Element {
    let typed: Element = serde_json::from_value(doc.clone()).unwrap();
    assert!(!matches!(typed, Element::Raw(_)), "{doc}");
    assert_eq!(serde_json::to_value(&typed).unwrap(), doc);
    typed
}

#[test]
fn section_examples() {
    let doc = json!({"type": "section", "text": {"type": "mrkdwn",
        "text": "A message *with some bold text* and _some italicized text_."}});
    round_trip_block(doc.clone());
    let built: Block = Block::section(Text::mrkdwn(
        "A message *with some bold text* and _some italicized text_.",
    ))
    .into();
    assert_eq!(serde_json::to_value(&built).unwrap(), doc);

    let doc = json!({"type": "section",
        "text": {"text": "A message *with some bold text* and _some italicized text_.", "type": "mrkdwn"},
        "fields": [{"type": "mrkdwn", "text": "High"}, {"type": "plain_text", "emoji": true, "text": "String"}]});
    round_trip_block(doc.clone());
    let built: Block = Block::section(Text::mrkdwn(
        "A message *with some bold text* and _some italicized text_.",
    ))
    .fields([Text::mrkdwn("High"), Text::plain_emoji("String")])
    .into();
    assert_eq!(serde_json::to_value(&built).unwrap(), doc);

    let doc = json!({"type": "section",
        "text": {"text": "*Sally* has requested you set the deadline for the Nano launch project", "type": "mrkdwn"},
        "accessory": {"type": "datepicker", "action_id": "datepicker123", "initial_date": "1990-04-28",
            "placeholder": {"type": "plain_text", "text": "Select a date"}}});
    round_trip_block(doc.clone());
    let built: Block = Block::section(Text::mrkdwn(
        "*Sally* has requested you set the deadline for the Nano launch project",
    ))
    .accessory(
        DatePicker::new("datepicker123")
            .initial_date("1990-04-28")
            .placeholder(Text::plain("Select a date")),
    )
    .into();
    assert_eq!(serde_json::to_value(&built).unwrap(), doc);
}

#[test]
fn divider_image_actions_examples() {
    round_trip_block(json!({"type": "divider"}));
    assert_eq!(
        serde_json::to_value(Block::divider()).unwrap(),
        json!({"type": "divider"})
    );
    let doc = json!({"type": "image",
        "title": {"type": "plain_text", "text": "Please enjoy this photo of a kitten"},
        "block_id": "image4", "image_url": "http://placekitten.com/500/500",
        "alt_text": "An incredibly cute kitten."});
    round_trip_block(doc.clone());
    let built: Block = Block::image(
        "http://placekitten.com/500/500",
        "An incredibly cute kitten.",
    )
    .title(Text::plain("Please enjoy this photo of a kitten"))
    .block_id("image4")
    .into();
    assert_eq!(serde_json::to_value(&built).unwrap(), doc);

    let opt = |t: &str, v: &str| json!({"text": {"type": "plain_text", "text": t}, "value": v});
    let doc = json!({"type": "actions", "block_id": "actions1", "elements": [
        {"type": "static_select",
         "placeholder": {"type": "plain_text", "text": "Which witch is the witchiest witch?"},
         "action_id": "select_2",
         "options": [opt("Matilda", "matilda"), opt("Glinda", "glinda"),
             opt("Granny Weatherwax", "grannyWeatherwax"), opt("Hermione", "hermione")]},
        {"type": "button", "text": {"type": "plain_text", "text": "Cancel"}, "value": "cancel",
         "action_id": "button_1"}]});
    round_trip_block(doc.clone());
    let built: Block = Block::actions([
        Element::from(
            StaticSelect::new("select_2")
                .placeholder(Text::plain("Which witch is the witchiest witch?"))
                .options([
                    SelectOption::new("Matilda", "matilda"),
                    SelectOption::new("Glinda", "glinda"),
                    SelectOption::new("Granny Weatherwax", "grannyWeatherwax"),
                    SelectOption::new("Hermione", "hermione"),
                ]),
        ),
        Button::new("Cancel", "button_1").value("cancel").into(),
    ])
    .block_id("actions1")
    .into();
    assert_eq!(serde_json::to_value(&built).unwrap(), doc);
    validate_blocks(&[built]).unwrap();
}

#[test]
fn element_examples() {
    let b = round_trip_element(json!({"type": "button",
        "text": {"type": "plain_text", "text": "Click Me"}, "value": "click_me_123", "action_id": "button"}));
    assert_eq!(
        b,
        Button::new("Click Me", "button")
            .value("click_me_123")
            .into()
    );
    let b = round_trip_element(json!({"type": "button",
        "text": {"type": "plain_text", "text": "Save"}, "style": "primary", "value": "click_me_123",
        "action_id": "button"}));
    assert_eq!(
        b,
        Button::new("Save", "button")
            .primary()
            .value("click_me_123")
            .into()
    );
    round_trip_element(json!({"type": "button",
        "text": {"type": "plain_text", "text": "Link Button"}, "url": "https://api.slack.com/block-kit"}));

    let cb = |t: &str, v: &str| json!({"value": v, "text": {"type": "plain_text", "text": t}});
    round_trip_element(
        json!({"type": "checkboxes", "action_id": "this_is_an_action_id",
        "initial_options": [cb("Checkbox 1", "A1")],
        "options": [cb("Checkbox 1", "A1"), cb("Checkbox 2", "A2")]}),
    );

    let doc = json!({"type": "datepicker", "action_id": "datepicker123", "initial_date": "1990-04-28",
        "placeholder": {"type": "plain_text", "text": "Select a date"},
        "confirm": {"title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": "Wouldn't you prefer a good game of _chess_?"},
            "confirm": {"type": "plain_text", "text": "Do it"},
            "deny": {"type": "plain_text", "text": "Stop, I've changed my mind!"}}});
    let e = round_trip_element(doc);
    assert_eq!(
        e,
        DatePicker::new("datepicker123")
            .initial_date("1990-04-28")
            .placeholder(Text::plain("Select a date"))
            .confirm(Confirm::new(
                "Are you sure?",
                Text::mrkdwn("Wouldn't you prefer a good game of _chess_?"),
                "Do it",
                "Stop, I've changed my mind!"
            ))
            .into()
    );
    round_trip_element(json!({"type": "timepicker", "action_id": "timepicker123",
        "initial_time": "11:40", "placeholder": {"type": "plain_text", "text": "Select a time"}}));
    round_trip_element(
        json!({"type": "image", "image_url": "http://placekitten.com/700/500",
        "alt_text": "Multiple cute kittens"}),
    );

    let o = |v: &str| json!({"text": {"type": "plain_text", "text": "*this is plain_text text*"}, "value": v});
    let e = round_trip_element(
        json!({"action_id": "text1234", "type": "multi_static_select",
        "placeholder": {"type": "plain_text", "text": "Select items"},
        "options": [o("value-0"), o("value-1"), o("value-2")], "max_selected_items": 1}),
    );
    assert!(matches!(e, Element::MultiStaticSelect(_)));
    round_trip_element(json!({"action_id": "text1234", "type": "static_select",
        "placeholder": {"type": "plain_text", "text": "Select an item"},
        "option_groups": [
            {"label": {"type": "plain_text", "text": "Group 1"}, "options": [o("value-0"), o("value-1"), o("value-2")]},
            {"label": {"type": "plain_text", "text": "Group 2"}, "options": [o("value-3")]}]}));
    round_trip_element(
        json!({"type": "plain_text_input", "action_id": "plain_input",
        "placeholder": {"type": "plain_text", "text": "Enter some plain text"}}),
    );
}

#[test]
fn every_element_kind_serializes_with_its_type() {
    let all: Vec<(Element, &str)> = vec![
        (
            ExternalSelect::new("a").min_query_length(3u32).into(),
            "external_select",
        ),
        (
            Element::MultiExternalSelect(ExternalSelect::new("a")),
            "multi_external_select",
        ),
        (
            UsersSelect::new("a").initial_user("U1").into(),
            "users_select",
        ),
        (
            Element::MultiUsersSelect(UsersSelect::new("a").initial_users(["U1".to_string()])),
            "multi_users_select",
        ),
        (
            ConversationsSelect::new("a")
                .default_to_current_conversation(true)
                .into(),
            "conversations_select",
        ),
        (
            Element::MultiConversationsSelect(ConversationsSelect::new("a")),
            "multi_conversations_select",
        ),
        (
            ChannelsSelect::new("a").initial_channel("C1").into(),
            "channels_select",
        ),
        (
            Element::MultiChannelsSelect(ChannelsSelect::new("a")),
            "multi_channels_select",
        ),
        (
            Overflow::new("a")
                .options([
                    SelectOption::new("x", "1"),
                    SelectOption::new("y", "2").url("https://e.x"),
                ])
                .into(),
            "overflow",
        ),
        (
            RadioButtons::new("a")
                .options([SelectOption::new("x", "1").description(Text::mrkdwn("*d*"))])
                .into(),
            "radio_buttons",
        ),
        (
            NumberInput::new("a", true)
                .min_value("0")
                .max_value("9.5")
                .into(),
            "number_input",
        ),
        (
            Element::EmailTextInput(TextInput::new("a")),
            "email_text_input",
        ),
        (
            Element::UrlTextInput(TextInput::new("a").initial_value("https://x")),
            "url_text_input",
        ),
        (
            PlainTextInput::new("a")
                .multiline(true)
                .max_length(500u32)
                .into(),
            "plain_text_input",
        ),
    ];
    for (e, t) in all {
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], t, "{v}");
        assert_eq!(v["action_id"], "a", "{v}");
        let back: Element = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, e, "{v}");
        validate_blocks(&[Block::actions([e]).into()]).unwrap();
    }
    assert_eq!(
        serde_json::to_value(Element::from(NumberInput::new("n", false))).unwrap(),
        json!({"type": "number_input", "is_decimal_allowed": false, "action_id": "n"})
    );
}

#[test]
fn context_input_header_rich_text_and_raw() {
    let ctx: Block = Block::context([
        Text::mrkdwn("*Author:* T. M. Schwartz").into(),
        ImageElement::new("https://x/y.png", "y").into(),
    ])
    .into();
    let v = serde_json::to_value(&ctx).unwrap();
    assert_eq!(
        v,
        json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": "*Author:* T. M. Schwartz"},
            {"type": "image", "image_url": "https://x/y.png", "alt_text": "y"}]})
    );
    assert_eq!(serde_json::from_value::<Block>(v).unwrap(), ctx);

    let input: Block = Block::input("Name", PlainTextInput::new("name"))
        .block_id("b")
        .optional(true)
        .hint(Text::plain("Your name"))
        .into();
    assert_eq!(
        serde_json::to_value(&input).unwrap(),
        json!({"type": "input", "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "name"},
            "block_id": "b", "hint": {"type": "plain_text", "text": "Your name"}, "optional": true})
    );
    assert_eq!(
        serde_json::to_value(Block::header("Hi")).unwrap(),
        json!({"type": "header", "text": {"type": "plain_text", "text": "Hi"}})
    );
    // rich_text from a real message (bolt-python's message_changed fixture) passes through.
    let rich = json!({"type": "rich_text", "block_id": "xwvU3", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": "updated message"}]}]});
    round_trip_block(rich);
    // Unknown blocks and elements stay raw JSON, unchanged.
    let video = json!({"type": "video", "title": {"type": "plain_text", "text": "v"}, "video_url": "https://v"});
    let b: Block = serde_json::from_value(video.clone()).unwrap();
    assert!(matches!(b, Block::Raw(_)));
    assert_eq!(serde_json::to_value(&b).unwrap(), video);
    let m = Message::text("t")
        .with_blocks([b, Block::divider()])
        .unwrap();
    assert_eq!(m.blocks.unwrap()[0], video);
}

fn expect_limit(blocks: Vec<Block>, expected: &str) {
    match Message::text("t").with_blocks(blocks) {
        Err(e @ Error::BlockKit { .. }) => assert_eq!(e.to_string(), expected),
        other => panic!("{other:?}"),
    }
}

#[test]
fn limits_name_the_block_and_the_limit() {
    expect_limit(
        vec![Block::divider(); 51],
        "block kit: message: 51 blocks, the limit is 50",
    );
    validate_blocks(&vec![Block::divider(); 50]).unwrap();
    expect_limit(
        vec![
            Block::divider(),
            Block::section(Text::mrkdwn("x".repeat(3001)))
                .block_id("b1")
                .into(),
        ],
        "block kit: blocks[1] (section \"b1\"): text is 3001 characters, the limit is 3000",
    );
    Message::text("t")
        .with_blocks([Block::section(Text::mrkdwn("é".repeat(3000)))])
        .unwrap();
    expect_limit(
        vec![Block::actions([Button::new("y".repeat(76), "a").into()]).into()],
        "block kit: blocks[0] (actions).elements[0] (button): text is 76 characters, the limit is 75",
    );
    expect_limit(
        vec![Block::actions([Button::new("ok", "a".repeat(256)).into()]).into()],
        "block kit: blocks[0] (actions).elements[0] (button): action_id is 256 characters, the limit is 255",
    );
    expect_limit(
        vec![
            Block::divider(),
            Block::Divider(Divider::default().block_id("b".repeat(256))),
        ],
        &format!(
            "block kit: blocks[1] (divider {:?}): block_id is 256 characters, the limit is 255",
            "b".repeat(40)
        ),
    );
    let many: Vec<SelectOption> = (0..101)
        .map(|i| SelectOption::new("o", i.to_string()))
        .collect();
    expect_limit(
        vec![
            Block::section(Text::plain("pick"))
                .accessory(StaticSelect::new("s").options(many))
                .into(),
        ],
        "block kit: blocks[0] (section).accessory (static_select): 101 options, the limit is 100",
    );
    expect_limit(
        vec![Block::actions(vec![Element::from(Button::new("x", "a")); 26]).into()],
        "block kit: blocks[0] (actions): 26 elements, the limit is 25",
    );
    expect_limit(
        vec![Block::fields((0..11).map(|i| Text::mrkdwn(i.to_string()))).into()],
        "block kit: blocks[0] (section): 11 fields, the limit is 10",
    );
    expect_limit(
        vec![Block::Section(Section::default())],
        "block kit: blocks[0] (section): a section needs text or fields",
    );
    expect_limit(
        vec![
            serde_json::from_value(
                json!({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}),
            )
            .unwrap(),
        ],
        "block kit: blocks[0] (header): must be plain_text, not mrkdwn",
    );
}

#[test]
fn views_check_their_limits_before_serializing() {
    let modal = View::modal("Greetings!")
        .callback_id("hello-modal")
        .submit("Submit")
        .close("Close")
        .private_metadata("{\"a\":1}")
        .blocks([Block::input("Name", PlainTextInput::new("name"))]);
    modal.validate().unwrap();
    let v = serde_json::to_value(&modal).unwrap();
    assert_eq!(
        v,
        json!({"type": "modal", "title": {"type": "plain_text", "text": "Greetings!"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input", "action_id": "name"}}],
            "private_metadata": "{\"a\":1}", "callback_id": "hello-modal"})
    );
    assert_eq!(serde_json::from_value::<View>(v).unwrap(), modal);

    let long = View::modal("A title that is far too long for Slack");
    assert_eq!(
        long.validate().unwrap_err().to_string(),
        "block kit: modal view title: text is 38 characters, the limit is 24"
    );
    // Serializing (what views.open does) refuses it too: nothing is sent.
    let err = serde_json::to_value(&long).unwrap_err().to_string();
    assert!(err.contains("the limit is 24"), "{err}");
    let home = View::home().blocks(vec![Block::divider(); 101]);
    assert_eq!(
        home.validate().unwrap_err().to_string(),
        "block kit: home view blocks: 101 blocks, the limit is 100"
    );
    View::home()
        .blocks(vec![Block::divider(); 100])
        .validate()
        .unwrap();
    let meta = View::modal("m").private_metadata("x".repeat(3001));
    assert!(
        meta.validate()
            .unwrap_err()
            .to_string()
            .contains("private_metadata is 3001 characters, the limit is 3000")
    );
    let cb = View::modal("m").callback_id("c".repeat(256));
    assert!(
        cb.validate()
            .unwrap_err()
            .to_string()
            .contains("callback_id is 256 characters")
    );
}
