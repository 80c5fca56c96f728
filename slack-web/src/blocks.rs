//! Block Kit builders: blocks, elements, composition objects and views that serialize to
//! exactly Slack's JSON, and a check of Slack's limits before anything is sent.
//!
//! ```
//! use slack_web::blocks::{Block, Button, Confirm, Element, Text, View};
//! use slack_web::Message;
//!
//! let blocks: Vec<Block> = vec![
//!     Block::header("Deploy"),
//!     Block::section(Text::mrkdwn("Ship *v1.2* to production?"))
//!         .block_id("ask")
//!         .accessory(Button::new("Details", "details").url("https://example.com"))
//!         .into(),
//!     Block::divider(),
//!     Block::actions([
//!         Element::from(Button::new("Ship it", "ship").value("v1.2").primary().confirm(
//!             Confirm::new("Sure?", Text::mrkdwn("This *deploys*."), "Yes", "No"),
//!         )),
//!         Button::new("Cancel", "cancel").danger().into(),
//!     ])
//!     .into(),
//! ];
//! let message = Message::text("Deploy v1.2?").with_blocks(blocks)?; // checked here
//!
//! // A limit broken is an error naming the block and the limit, never a truncation.
//! let too_long = Block::section(Text::mrkdwn("x".repeat(3001)));
//! let err = Message::text("t").with_blocks([too_long]).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "block kit: blocks[0] (section): text is 3001 characters, the limit is 3000"
//! );
//!
//! let modal = View::modal("Greetings!").callback_id("hello").submit("Send")
//!     .blocks([Block::section(Text::plain("Hi"))]);
//! modal.validate()?;
//! # Ok::<(), slack_web::Error>(())
//! ```
//!
//! Limits checked ([`validate_blocks`], [`View::validate`], [`crate::Message::with_blocks`]):
//! 50 blocks in a message and 100 in a modal or Home tab; `block_id`, `action_id`,
//! `callback_id`, `external_id` ≤ 255; section and mrkdwn text ≤ 3000; section fields ≤ 10 of
//! ≤ 2000 each; header ≤ 150; button text ≤ 75 and value ≤ 2000; option text ≤ 75 and value
//! ≤ 150; ≤ 100 options (and option groups) per select, overflow 2..=5 options; actions ≤ 25
//! elements, context ≤ 10; input label ≤ 2000, hint ≤ 2000, placeholders ≤ 150; image
//! `alt_text` ≤ 2000 and URLs ≤ 3000; modal `title`, `submit`, `close` ≤ 24 and plain
//! text; `private_metadata` ≤ 3000.
//!
//! Raw JSON stays possible everywhere: [`Block::Raw`], [`Element::Raw`], and
//! [`crate::Message::blocks`] with any `serde_json::Value`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;

// ---------------------------------------------------------------------------------------
// limits

/// Blocks in one message.
pub const MAX_MESSAGE_BLOCKS: usize = 50;
/// Blocks in a modal or a Home tab.
pub const MAX_VIEW_BLOCKS: usize = 100;
/// `block_id`, `action_id`, `callback_id`, `external_id`.
pub const MAX_ID: usize = 255;
/// Section text, mrkdwn text, `private_metadata`.
pub const MAX_TEXT: usize = 3000;
/// Button text, option text.
pub const MAX_BUTTON_TEXT: usize = 75;
/// Modal `title`, `submit`, `close`.
pub const MAX_VIEW_TITLE: usize = 24;
/// Options (or option groups) in one select.
pub const MAX_OPTIONS: usize = 100;

// ---------------------------------------------------------------------------------------
// composition objects

/// A text object: `plain_text` or `mrkdwn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum Text {
    /// `{"type":"plain_text","text":…}`.
    #[serde(rename = "plain_text")]
    Plain {
        /// The text.
        text: String,
        /// Whether `:emoji:` codes are shown as emoji.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<bool>,
    },
    /// `{"type":"mrkdwn","text":…}`.
    #[serde(rename = "mrkdwn")]
    Markdown {
        /// The text, in Slack's mrkdwn.
        text: String,
        /// Do not auto-link URLs, channel names and mentions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verbatim: Option<bool>,
    },
}

impl Text {
    /// A `plain_text` object.
    pub fn plain(text: impl Into<String>) -> Text {
        Text::Plain {
            text: text.into(),
            emoji: None,
        }
    }

    /// A `plain_text` object with `emoji: true`.
    pub fn plain_emoji(text: impl Into<String>) -> Text {
        Text::Plain {
            text: text.into(),
            emoji: Some(true),
        }
    }

    /// A `mrkdwn` object.
    pub fn mrkdwn(text: impl Into<String>) -> Text {
        Text::Markdown {
            text: text.into(),
            verbatim: None,
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        match self {
            Text::Plain { text, .. } | Text::Markdown { text, .. } => text,
        }
    }

    fn is_plain(&self) -> bool {
        matches!(self, Text::Plain { .. })
    }
}

impl From<&str> for Text {
    /// Plain text.
    fn from(s: &str) -> Text {
        Text::plain(s)
    }
}

impl From<String> for Text {
    /// Plain text.
    fn from(s: String) -> Text {
        Text::plain(s)
    }
}

/// An option of a select, overflow, checkboxes or radio buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SelectOption {
    /// What the user sees.
    pub text: Text,
    /// What the app receives.
    pub value: String,
    /// A line under the text (checkboxes, radio buttons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// A URL to open (overflow menus only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl SelectOption {
    /// An option showing `text` (plain) with `value`.
    pub fn new(text: impl Into<Text>, value: impl Into<String>) -> SelectOption {
        SelectOption {
            text: text.into(),
            value: value.into(),
            description: None,
            url: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, d: impl Into<Text>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Sets the URL (overflow menus).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
}

/// A group of options under a label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptionGroup {
    /// The label (plain text).
    pub label: Text,
    /// The options.
    pub options: Vec<SelectOption>,
}

impl OptionGroup {
    /// A group.
    pub fn new(label: impl Into<Text>, options: impl IntoIterator<Item = SelectOption>) -> Self {
        OptionGroup {
            label: label.into(),
            options: options.into_iter().collect(),
        }
    }
}

/// A confirmation dialog shown before an element's action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Confirm {
    /// The title (plain text).
    pub title: Text,
    /// The question.
    pub text: Text,
    /// The confirm button's text (plain text).
    pub confirm: Text,
    /// The cancel button's text (plain text).
    pub deny: Text,
    /// `primary` or `danger` for the confirm button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
}

impl Confirm {
    /// A confirmation dialog.
    pub fn new(
        title: impl Into<Text>,
        text: impl Into<Text>,
        confirm: impl Into<Text>,
        deny: impl Into<Text>,
    ) -> Confirm {
        Confirm {
            title: title.into(),
            text: text.into(),
            confirm: confirm.into(),
            deny: deny.into(),
            style: None,
        }
    }

    /// Sets the confirm button's style (`primary` or `danger`).
    pub fn style(mut self, style: impl Into<String>) -> Self {
        self.style = Some(style.into());
        self
    }
}

// ---------------------------------------------------------------------------------------
// elements

/// Declares an element struct with optional fields and chainable setters.
macro_rules! element {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( req $(#[$rmeta:meta])* $req:ident : $rty:ty, )*
            $( opt $(#[$ometa:meta])* $opt:ident : $oty:ty, )*
            $( vec $(#[$vmeta:meta])* $vec:ident : $vty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$rmeta])* pub $req: $rty, )*
            $(
                $(#[$ometa])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $opt: Option<$oty>,
            )*
            $(
                $(#[$vmeta])*
                #[serde(default, skip_serializing_if = "Vec::is_empty")]
                pub $vec: Vec<$vty>,
            )*
        }

        impl $name {
            $(
                #[doc = concat!("Sets `", stringify!($opt), "`.")]
                pub fn $opt(mut self, v: impl Into<$oty>) -> Self {
                    self.$opt = Some(v.into());
                    self
                }
            )*
            $(
                #[doc = concat!("Sets `", stringify!($vec), "`.")]
                pub fn $vec(mut self, v: impl IntoIterator<Item = $vty>) -> Self {
                    self.$vec = v.into_iter().collect();
                    self
                }
            )*
        }
    };
}

impl Default for Text {
    fn default() -> Text {
        Text::plain("")
    }
}

element! {
    /// `button`.
    Button {
        req /// The label (plain text, ≤ 75).
            text: Text,
        opt /// The action id.
            action_id: String,
        opt /// The value sent with the action.
            value: String,
        opt /// A URL to open.
            url: String,
        opt /// `primary` or `danger`.
            style: String,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// A label for screen readers.
            accessibility_label: String,
    }
}

impl Button {
    /// A button with plain-text `text` and `action_id`.
    pub fn new(text: impl Into<String>, action_id: impl Into<String>) -> Button {
        Button {
            text: Text::plain(text),
            action_id: Some(action_id.into()),
            ..Button::default()
        }
    }

    /// `style: "primary"`.
    pub fn primary(self) -> Self {
        self.style("primary")
    }

    /// `style: "danger"`.
    pub fn danger(self) -> Self {
        self.style("danger")
    }
}

element! {
    /// `static_select` and `multi_static_select` (see [`Element::MultiStaticSelect`]).
    StaticSelect {
        opt /// The action id.
            action_id: String,
        opt /// The placeholder (plain text, ≤ 150).
            placeholder: Text,
        opt /// The option selected at first (single select).
            initial_option: SelectOption,
        opt /// Most items a multi-select takes.
            max_selected_items: u32,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The options (≤ 100).
            options: SelectOption,
        vec /// Or option groups (≤ 100).
            option_groups: OptionGroup,
        vec /// The options selected at first (multi-select).
            initial_options: SelectOption,
    }
}

element! {
    /// `external_select` and `multi_external_select`: options come from `block_suggestion`.
    ExternalSelect {
        opt /// The action id.
            action_id: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// The option selected at first (single select).
            initial_option: SelectOption,
        opt /// Characters typed before options are requested.
            min_query_length: u32,
        opt /// Most items a multi-select takes.
            max_selected_items: u32,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The options selected at first (multi-select).
            initial_options: SelectOption,
    }
}

element! {
    /// `users_select` and `multi_users_select`.
    UsersSelect {
        opt /// The action id.
            action_id: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// The user selected at first (single select).
            initial_user: String,
        opt /// Most items a multi-select takes.
            max_selected_items: u32,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The users selected at first (multi-select).
            initial_users: String,
    }
}

element! {
    /// `conversations_select` and `multi_conversations_select`.
    ConversationsSelect {
        opt /// The action id.
            action_id: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// The conversation selected at first (single select).
            initial_conversation: String,
        opt /// Preselect the conversation the view was opened from.
            default_to_current_conversation: bool,
        opt /// Include a `response_url` in the `view_submission` (single, in input blocks).
            response_url_enabled: bool,
        opt /// Which conversations to list (`include`, `exclude_bot_users`, …), as JSON.
            filter: Value,
        opt /// Most items a multi-select takes.
            max_selected_items: u32,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The conversations selected at first (multi-select).
            initial_conversations: String,
    }
}

element! {
    /// `channels_select` and `multi_channels_select`.
    ChannelsSelect {
        opt /// The action id.
            action_id: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// The channel selected at first (single select).
            initial_channel: String,
        opt /// Include a `response_url` in the `view_submission` (single, in input blocks).
            response_url_enabled: bool,
        opt /// Most items a multi-select takes.
            max_selected_items: u32,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The channels selected at first (multi-select).
            initial_channels: String,
    }
}

element! {
    /// `overflow`: a menu of 2 to 5 options.
    Overflow {
        opt /// The action id.
            action_id: String,
        opt /// A confirmation dialog.
            confirm: Confirm,
        vec /// The options (2..=5).
            options: SelectOption,
    }
}

element! {
    /// `datepicker`.
    DatePicker {
        opt /// The action id.
            action_id: String,
        opt /// `YYYY-MM-DD`.
            initial_date: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
    }
}

element! {
    /// `timepicker`.
    TimePicker {
        opt /// The action id.
            action_id: String,
        opt /// `HH:mm`.
            initial_time: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        opt /// An IANA time zone.
            timezone: String,
    }
}

element! {
    /// `checkboxes` (≤ 10 options).
    Checkboxes {
        opt /// The action id.
            action_id: String,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The options.
            options: SelectOption,
        vec /// The options checked at first.
            initial_options: SelectOption,
    }
}

element! {
    /// `radio_buttons` (≤ 10 options).
    RadioButtons {
        opt /// The action id.
            action_id: String,
        opt /// The option selected at first.
            initial_option: SelectOption,
        opt /// A confirmation dialog.
            confirm: Confirm,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
        vec /// The options.
            options: SelectOption,
    }
}

element! {
    /// `plain_text_input`.
    PlainTextInput {
        opt /// The action id.
            action_id: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// The text at first.
            initial_value: String,
        opt /// A multi-line box.
            multiline: bool,
        opt /// Fewest characters accepted.
            min_length: u32,
        opt /// Most characters accepted.
            max_length: u32,
        opt /// When to send `block_actions` (`trigger_actions_on`), as JSON.
            dispatch_action_config: Value,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
    }
}

element! {
    /// `number_input`.
    NumberInput {
        req /// Whether decimals are accepted.
            is_decimal_allowed: bool,
        opt /// The action id.
            action_id: String,
        opt /// The number at first, as text.
            initial_value: String,
        opt /// The smallest number accepted, as text.
            min_value: String,
        opt /// The largest number accepted, as text.
            max_value: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// When to send `block_actions`, as JSON.
            dispatch_action_config: Value,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
    }
}

element! {
    /// `email_text_input` and `url_text_input` (see [`Element::UrlTextInput`]).
    TextInput {
        opt /// The action id.
            action_id: String,
        opt /// The text at first.
            initial_value: String,
        opt /// The placeholder.
            placeholder: Text,
        opt /// When to send `block_actions`, as JSON.
            dispatch_action_config: Value,
        opt /// Focus on load (in modals).
            focus_on_load: bool,
    }
}

element! {
    /// `image` as an element (section accessory, context).
    ImageElement {
        req /// The image URL (≤ 3000).
            image_url: String,
        req /// A description (≤ 2000).
            alt_text: String,
    }
}

/// Constructors that fill the usual required fields.
macro_rules! with_action_id {
    ($($t:ident),*) => {$(
        impl $t {
            #[doc = concat!("A `", stringify!($t), "` with this `action_id`.")]
            pub fn new(action_id: impl Into<String>) -> $t {
                $t { action_id: Some(action_id.into()), ..$t::default() }
            }
        }
    )*};
}

with_action_id!(
    StaticSelect,
    ExternalSelect,
    UsersSelect,
    ConversationsSelect,
    ChannelsSelect,
    Overflow,
    DatePicker,
    TimePicker,
    Checkboxes,
    RadioButtons,
    PlainTextInput,
    TextInput
);

impl NumberInput {
    /// A `number_input` with this `action_id`.
    pub fn new(action_id: impl Into<String>, is_decimal_allowed: bool) -> NumberInput {
        NumberInput {
            is_decimal_allowed,
            action_id: Some(action_id.into()),
            ..NumberInput::default()
        }
    }
}

impl ImageElement {
    /// An image element.
    pub fn new(image_url: impl Into<String>, alt_text: impl Into<String>) -> ImageElement {
        ImageElement {
            image_url: image_url.into(),
            alt_text: alt_text.into(),
        }
    }
}

/// An interactive (or image) element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum Element {
    /// `button`.
    #[serde(rename = "button")]
    Button(Button),
    /// `static_select`.
    #[serde(rename = "static_select")]
    StaticSelect(StaticSelect),
    /// `multi_static_select`.
    #[serde(rename = "multi_static_select")]
    MultiStaticSelect(StaticSelect),
    /// `external_select`.
    #[serde(rename = "external_select")]
    ExternalSelect(ExternalSelect),
    /// `multi_external_select`.
    #[serde(rename = "multi_external_select")]
    MultiExternalSelect(ExternalSelect),
    /// `users_select`.
    #[serde(rename = "users_select")]
    UsersSelect(UsersSelect),
    /// `multi_users_select`.
    #[serde(rename = "multi_users_select")]
    MultiUsersSelect(UsersSelect),
    /// `conversations_select`.
    #[serde(rename = "conversations_select")]
    ConversationsSelect(ConversationsSelect),
    /// `multi_conversations_select`.
    #[serde(rename = "multi_conversations_select")]
    MultiConversationsSelect(ConversationsSelect),
    /// `channels_select`.
    #[serde(rename = "channels_select")]
    ChannelsSelect(ChannelsSelect),
    /// `multi_channels_select`.
    #[serde(rename = "multi_channels_select")]
    MultiChannelsSelect(ChannelsSelect),
    /// `overflow`.
    #[serde(rename = "overflow")]
    Overflow(Overflow),
    /// `datepicker`.
    #[serde(rename = "datepicker")]
    DatePicker(DatePicker),
    /// `timepicker`.
    #[serde(rename = "timepicker")]
    TimePicker(TimePicker),
    /// `checkboxes`.
    #[serde(rename = "checkboxes")]
    Checkboxes(Checkboxes),
    /// `radio_buttons`.
    #[serde(rename = "radio_buttons")]
    RadioButtons(RadioButtons),
    /// `plain_text_input`.
    #[serde(rename = "plain_text_input")]
    PlainTextInput(PlainTextInput),
    /// `number_input`.
    #[serde(rename = "number_input")]
    NumberInput(NumberInput),
    /// `email_text_input`.
    #[serde(rename = "email_text_input")]
    EmailTextInput(TextInput),
    /// `url_text_input`.
    #[serde(rename = "url_text_input")]
    UrlTextInput(TextInput),
    /// `image`.
    #[serde(rename = "image")]
    Image(ImageElement),
    /// Any other element, as raw JSON (must have a `type`).
    #[serde(untagged)]
    Raw(Value),
}

macro_rules! element_from {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for Element {
            fn from(e: $t) -> Element {
                Element::$v(e)
            }
        }
    )*};
}

element_from!(
    Button => Button,
    StaticSelect => StaticSelect,
    ExternalSelect => ExternalSelect,
    UsersSelect => UsersSelect,
    ConversationsSelect => ConversationsSelect,
    ChannelsSelect => ChannelsSelect,
    Overflow => Overflow,
    DatePicker => DatePicker,
    TimePicker => TimePicker,
    Checkboxes => Checkboxes,
    RadioButtons => RadioButtons,
    PlainTextInput => PlainTextInput,
    NumberInput => NumberInput,
    ImageElement => Image
);

impl Element {
    /// The element's `type`.
    pub fn type_name(&self) -> &str {
        match self {
            Element::Button(_) => "button",
            Element::StaticSelect(_) => "static_select",
            Element::MultiStaticSelect(_) => "multi_static_select",
            Element::ExternalSelect(_) => "external_select",
            Element::MultiExternalSelect(_) => "multi_external_select",
            Element::UsersSelect(_) => "users_select",
            Element::MultiUsersSelect(_) => "multi_users_select",
            Element::ConversationsSelect(_) => "conversations_select",
            Element::MultiConversationsSelect(_) => "multi_conversations_select",
            Element::ChannelsSelect(_) => "channels_select",
            Element::MultiChannelsSelect(_) => "multi_channels_select",
            Element::Overflow(_) => "overflow",
            Element::DatePicker(_) => "datepicker",
            Element::TimePicker(_) => "timepicker",
            Element::Checkboxes(_) => "checkboxes",
            Element::RadioButtons(_) => "radio_buttons",
            Element::PlainTextInput(_) => "plain_text_input",
            Element::NumberInput(_) => "number_input",
            Element::EmailTextInput(_) => "email_text_input",
            Element::UrlTextInput(_) => "url_text_input",
            Element::Image(_) => "image",
            Element::Raw(v) => v.get("type").and_then(Value::as_str).unwrap_or("raw"),
        }
    }

    fn action_id(&self) -> Option<&str> {
        match self {
            Element::Button(e) => e.action_id.as_deref(),
            Element::StaticSelect(e) | Element::MultiStaticSelect(e) => e.action_id.as_deref(),
            Element::ExternalSelect(e) | Element::MultiExternalSelect(e) => e.action_id.as_deref(),
            Element::UsersSelect(e) | Element::MultiUsersSelect(e) => e.action_id.as_deref(),
            Element::ConversationsSelect(e) | Element::MultiConversationsSelect(e) => {
                e.action_id.as_deref()
            }
            Element::ChannelsSelect(e) | Element::MultiChannelsSelect(e) => e.action_id.as_deref(),
            Element::Overflow(e) => e.action_id.as_deref(),
            Element::DatePicker(e) => e.action_id.as_deref(),
            Element::TimePicker(e) => e.action_id.as_deref(),
            Element::Checkboxes(e) => e.action_id.as_deref(),
            Element::RadioButtons(e) => e.action_id.as_deref(),
            Element::PlainTextInput(e) => e.action_id.as_deref(),
            Element::NumberInput(e) => e.action_id.as_deref(),
            Element::EmailTextInput(e) | Element::UrlTextInput(e) => e.action_id.as_deref(),
            Element::Image(_) => None,
            Element::Raw(v) => v.get("action_id").and_then(Value::as_str),
        }
    }
}

// ---------------------------------------------------------------------------------------
// blocks

element! {
    /// `section`: text, up to 10 fields, an optional accessory.
    Section {
        opt /// The text (≤ 3000).
            text: Text,
        opt /// The block id (≤ 255).
            block_id: String,
        opt /// One element beside the text.
            accessory: Element,
        opt /// Let Slack expand long text.
            expand: bool,
        vec /// Up to 10 texts shown in two columns (≤ 2000 each).
            fields: Text,
    }
}

element! {
    /// `actions`: up to 25 interactive elements.
    Actions {
        opt /// The block id.
            block_id: String,
        vec /// The elements.
            elements: Element,
    }
}

element! {
    /// `context`: up to 10 images and texts in small print.
    Context {
        opt /// The block id.
            block_id: String,
        vec /// Texts and image elements.
            elements: ContextElement,
    }
}

/// An element of a `context` block: a text or an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ContextElement {
    /// A text object.
    Text(Text),
    /// An `image` element.
    Image(TaggedImage),
}

/// An `image` element with its `type` tag (for [`ContextElement`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "image")]
#[non_exhaustive]
pub struct TaggedImage {
    /// The image URL.
    pub image_url: String,
    /// A description.
    pub alt_text: String,
}

impl From<Text> for ContextElement {
    fn from(t: Text) -> Self {
        ContextElement::Text(t)
    }
}

impl From<ImageElement> for ContextElement {
    fn from(i: ImageElement) -> Self {
        ContextElement::Image(TaggedImage {
            image_url: i.image_url,
            alt_text: i.alt_text,
        })
    }
}

element! {
    /// `input`: a label and one input element (modals, Home tabs, messages).
    Input {
        req /// The label (plain text, ≤ 2000).
            label: Text,
        req /// The element.
            element: Element,
        opt /// The block id.
            block_id: String,
        opt /// Send `block_actions` as the user types or picks.
            dispatch_action: bool,
        opt /// A hint under the element (plain text, ≤ 2000).
            hint: Text,
        opt /// Whether it may be left empty.
            optional: bool,
    }
}

impl Default for Element {
    fn default() -> Element {
        Element::Raw(Value::Null)
    }
}

element! {
    /// `header`: large plain text (≤ 150).
    Header {
        req /// The text (plain text).
            text: Text,
        opt /// The block id.
            block_id: String,
    }
}

element! {
    /// `image` block.
    ImageBlock {
        req /// The image URL (≤ 3000).
            image_url: String,
        req /// A description (≤ 2000).
            alt_text: String,
        opt /// A title (plain text, ≤ 2000).
            title: Text,
        opt /// The block id.
            block_id: String,
    }
}

element! {
    /// `divider`.
    Divider {
        opt /// The block id.
            block_id: String,
    }
}

element! {
    /// `rich_text`, passed through: its elements stay JSON.
    RichText {
        opt /// The block id.
            block_id: String,
        vec /// `rich_text_section`, `rich_text_list`, … as JSON.
            elements: Value,
    }
}

/// A layout block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum Block {
    /// `section`.
    #[serde(rename = "section")]
    Section(Section),
    /// `actions`.
    #[serde(rename = "actions")]
    Actions(Actions),
    /// `context`.
    #[serde(rename = "context")]
    Context(Context),
    /// `input`.
    #[serde(rename = "input")]
    Input(Input),
    /// `divider`.
    #[serde(rename = "divider")]
    Divider(Divider),
    /// `header`.
    #[serde(rename = "header")]
    Header(Header),
    /// `image`.
    #[serde(rename = "image")]
    Image(ImageBlock),
    /// `rich_text` (passthrough).
    #[serde(rename = "rich_text")]
    RichText(RichText),
    /// Any other block, as raw JSON (must have a `type`).
    #[serde(untagged)]
    Raw(Value),
}

impl Block {
    /// A `section` with this text.
    pub fn section(text: impl Into<Text>) -> Section {
        Section::default().text(text)
    }

    /// A `section` of fields only.
    pub fn fields(fields: impl IntoIterator<Item = Text>) -> Section {
        Section::default().fields(fields)
    }

    /// An `actions` block.
    pub fn actions(elements: impl IntoIterator<Item = Element>) -> Actions {
        Actions::default().elements(elements)
    }

    /// A `context` block.
    pub fn context(elements: impl IntoIterator<Item = ContextElement>) -> Context {
        Context::default().elements(elements)
    }

    /// An `input` block.
    pub fn input(label: impl Into<String>, element: impl Into<Element>) -> Input {
        Input {
            label: Text::plain(label),
            element: element.into(),
            ..Input::default()
        }
    }

    /// A `divider`.
    pub fn divider() -> Block {
        Block::Divider(Divider::default())
    }

    /// A `header`.
    pub fn header(text: impl Into<String>) -> Block {
        Block::Header(Header {
            text: Text::plain(text),
            block_id: None,
        })
    }

    /// An `image` block.
    pub fn image(image_url: impl Into<String>, alt_text: impl Into<String>) -> ImageBlock {
        ImageBlock {
            image_url: image_url.into(),
            alt_text: alt_text.into(),
            ..ImageBlock::default()
        }
    }

    /// A `rich_text` block from its JSON elements.
    pub fn rich_text(elements: impl IntoIterator<Item = Value>) -> Block {
        Block::RichText(RichText::default().elements(elements))
    }

    /// The block's `type`.
    pub fn type_name(&self) -> &str {
        match self {
            Block::Section(_) => "section",
            Block::Actions(_) => "actions",
            Block::Context(_) => "context",
            Block::Input(_) => "input",
            Block::Divider(_) => "divider",
            Block::Header(_) => "header",
            Block::Image(_) => "image",
            Block::RichText(_) => "rich_text",
            Block::Raw(v) => v.get("type").and_then(Value::as_str).unwrap_or("raw"),
        }
    }

    fn block_id(&self) -> Option<&str> {
        match self {
            Block::Section(b) => b.block_id.as_deref(),
            Block::Actions(b) => b.block_id.as_deref(),
            Block::Context(b) => b.block_id.as_deref(),
            Block::Input(b) => b.block_id.as_deref(),
            Block::Divider(b) => b.block_id.as_deref(),
            Block::Header(b) => b.block_id.as_deref(),
            Block::Image(b) => b.block_id.as_deref(),
            Block::RichText(b) => b.block_id.as_deref(),
            Block::Raw(v) => v.get("block_id").and_then(Value::as_str),
        }
    }
}

macro_rules! block_from {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for Block {
            fn from(b: $t) -> Block {
                Block::$v(b)
            }
        }
    )*};
}

block_from!(
    Section => Section,
    Actions => Actions,
    Context => Context,
    Input => Input,
    Divider => Divider,
    Header => Header,
    ImageBlock => Image,
    RichText => RichText
);

impl From<Value> for Block {
    fn from(v: Value) -> Block {
        Block::Raw(v)
    }
}

// ---------------------------------------------------------------------------------------
// views

/// A modal or a Home tab, for `views.open`/`push`/`update`/`publish`.
///
/// Its `Serialize` checks the limits first ([`View::validate`]), so an invalid view is
/// refused before any request is made.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[non_exhaustive]
pub struct View {
    /// `modal` or `home`.
    #[serde(rename = "type")]
    pub view_type: String,
    /// The title (modals; plain text ≤ 24).
    #[serde(default)]
    pub title: Option<Text>,
    /// The submit button (plain text ≤ 24; required with input blocks).
    #[serde(default)]
    pub submit: Option<Text>,
    /// The close button (plain text ≤ 24).
    #[serde(default)]
    pub close: Option<Text>,
    /// The blocks (≤ 100).
    #[serde(default)]
    pub blocks: Vec<Block>,
    /// Sent back with interactions (≤ 3000).
    #[serde(default)]
    pub private_metadata: Option<String>,
    /// Names the view in `view_submission` (≤ 255).
    #[serde(default)]
    pub callback_id: Option<String>,
    /// Close every view of the stack when this one closes.
    #[serde(default)]
    pub clear_on_close: Option<bool>,
    /// Send `view_closed` when the user closes it.
    #[serde(default)]
    pub notify_on_close: Option<bool>,
    /// A unique id of the app's choosing (≤ 255).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Disable submit until an input changes.
    #[serde(default)]
    pub submit_disabled: Option<bool>,
}

#[derive(Serialize)]
struct ViewOut<'a> {
    #[serde(rename = "type")]
    view_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submit: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close: Option<&'a Text>,
    blocks: &'a [Block],
    #[serde(skip_serializing_if = "Option::is_none")]
    private_metadata: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clear_on_close: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_on_close: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submit_disabled: Option<bool>,
}

impl Serialize for View {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.validate().map_err(serde::ser::Error::custom)?;
        ViewOut {
            view_type: &self.view_type,
            title: self.title.as_ref(),
            submit: self.submit.as_ref(),
            close: self.close.as_ref(),
            blocks: &self.blocks,
            private_metadata: self.private_metadata.as_deref(),
            callback_id: self.callback_id.as_deref(),
            clear_on_close: self.clear_on_close,
            notify_on_close: self.notify_on_close,
            external_id: self.external_id.as_deref(),
            submit_disabled: self.submit_disabled,
        }
        .serialize(s)
    }
}

impl View {
    /// A modal with this title (plain text).
    pub fn modal(title: impl Into<String>) -> View {
        View {
            view_type: "modal".into(),
            title: Some(Text::plain(title)),
            ..View::default()
        }
    }

    /// A Home tab.
    pub fn home() -> View {
        View {
            view_type: "home".into(),
            ..View::default()
        }
    }

    /// Sets the blocks.
    pub fn blocks(mut self, blocks: impl IntoIterator<Item = impl Into<Block>>) -> Self {
        self.blocks = blocks.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the submit button's text.
    pub fn submit(mut self, text: impl Into<String>) -> Self {
        self.submit = Some(Text::plain(text));
        self
    }

    /// Sets the close button's text.
    pub fn close(mut self, text: impl Into<String>) -> Self {
        self.close = Some(Text::plain(text));
        self
    }

    /// Sets `callback_id`.
    pub fn callback_id(mut self, id: impl Into<String>) -> Self {
        self.callback_id = Some(id.into());
        self
    }

    /// Sets `private_metadata`.
    pub fn private_metadata(mut self, data: impl Into<String>) -> Self {
        self.private_metadata = Some(data.into());
        self
    }

    /// Sets `external_id`.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets `clear_on_close`.
    pub fn clear_on_close(mut self, yes: bool) -> Self {
        self.clear_on_close = Some(yes);
        self
    }

    /// Sets `notify_on_close`.
    pub fn notify_on_close(mut self, yes: bool) -> Self {
        self.notify_on_close = Some(yes);
        self
    }

    /// Sets `submit_disabled`.
    pub fn submit_disabled(mut self, yes: bool) -> Self {
        self.submit_disabled = Some(yes);
        self
    }

    /// Checks Slack's limits for views; the error names the field or block and the limit.
    pub fn validate(&self) -> Result<(), Error> {
        let kind = self.view_type.as_str();
        let at = |field: &str| format!("{kind} view {field}");
        for (name, text) in [
            ("title", &self.title),
            ("submit", &self.submit),
            ("close", &self.close),
        ] {
            if let Some(t) = text {
                plain(&at(name), t)?;
                max_chars(&at(name), "text", t.text(), MAX_VIEW_TITLE)?;
            }
        }
        if kind == "modal" && self.title.is_none() {
            return Err(bk(at("title"), "a modal needs a title"));
        }
        if let Some(m) = &self.private_metadata {
            max_chars(&at("private_metadata"), "private_metadata", m, MAX_TEXT)?;
        }
        if let Some(c) = &self.callback_id {
            max_chars(&at("callback_id"), "callback_id", c, MAX_ID)?;
        }
        if let Some(c) = &self.external_id {
            max_chars(&at("external_id"), "external_id", c, MAX_ID)?;
        }
        check_blocks(
            &self.blocks,
            MAX_VIEW_BLOCKS,
            &format!("{kind} view blocks"),
        )
    }
}

// ---------------------------------------------------------------------------------------
// validation

fn bk(location: impl Into<String>, limit: impl Into<String>) -> Error {
    Error::BlockKit {
        location: location.into(),
        limit: limit.into(),
    }
}

fn max_chars(location: &str, what: &str, s: &str, max: usize) -> Result<(), Error> {
    let n = s.chars().count();
    if n > max {
        return Err(bk(
            location,
            format!("{what} is {n} characters, the limit is {max}"),
        ));
    }
    Ok(())
}

fn max_items(location: &str, what: &str, n: usize, max: usize) -> Result<(), Error> {
    if n > max {
        return Err(bk(location, format!("{n} {what}, the limit is {max}")));
    }
    Ok(())
}

fn plain(location: &str, t: &Text) -> Result<(), Error> {
    if t.is_plain() {
        Ok(())
    } else {
        Err(bk(location, "must be plain_text, not mrkdwn"))
    }
}

fn check_text(location: &str, t: &Text, max: usize) -> Result<(), Error> {
    max_chars(location, "text", t.text(), max)
}

fn check_options(location: &str, options: &[SelectOption], max: usize) -> Result<(), Error> {
    max_items(location, "options", options.len(), max)?;
    for (i, o) in options.iter().enumerate() {
        let at = format!("{location}.options[{i}]");
        check_text(&at, &o.text, MAX_BUTTON_TEXT)?;
        max_chars(&at, "value", &o.value, 150)?;
        if let Some(d) = &o.description {
            check_text(&at, d, MAX_BUTTON_TEXT)?;
        }
        if let Some(u) = &o.url {
            max_chars(&at, "url", u, 3000)?;
        }
    }
    Ok(())
}

fn check_confirm(location: &str, c: &Option<Confirm>) -> Result<(), Error> {
    let Some(c) = c else { return Ok(()) };
    let at = format!("{location}.confirm");
    plain(&at, &c.title)?;
    max_chars(&at, "title", c.title.text(), 100)?;
    check_text(&at, &c.text, 300)?;
    max_chars(&at, "confirm", c.confirm.text(), 30)?;
    max_chars(&at, "deny", c.deny.text(), 30)
}

fn check_placeholder(location: &str, p: &Option<Text>) -> Result<(), Error> {
    match p {
        Some(p) => {
            plain(location, p)?;
            max_chars(location, "placeholder", p.text(), 150)
        }
        None => Ok(()),
    }
}

fn check_element(location: &str, e: &Element) -> Result<(), Error> {
    if let Some(id) = e.action_id() {
        max_chars(location, "action_id", id, MAX_ID)?;
    }
    match e {
        Element::Button(b) => {
            plain(location, &b.text)?;
            check_text(location, &b.text, MAX_BUTTON_TEXT)?;
            if let Some(v) = &b.value {
                max_chars(location, "value", v, 2000)?;
            }
            if let Some(u) = &b.url {
                max_chars(location, "url", u, 3000)?;
            }
            check_confirm(location, &b.confirm)
        }
        Element::StaticSelect(s) | Element::MultiStaticSelect(s) => {
            check_placeholder(location, &s.placeholder)?;
            check_options(location, &s.options, MAX_OPTIONS)?;
            max_items(
                location,
                "option groups",
                s.option_groups.len(),
                MAX_OPTIONS,
            )?;
            for (i, g) in s.option_groups.iter().enumerate() {
                let at = format!("{location}.option_groups[{i}]");
                max_chars(&at, "label", g.label.text(), MAX_BUTTON_TEXT)?;
                check_options(&at, &g.options, MAX_OPTIONS)?;
            }
            check_confirm(location, &s.confirm)
        }
        Element::ExternalSelect(s) | Element::MultiExternalSelect(s) => {
            check_placeholder(location, &s.placeholder)?;
            check_confirm(location, &s.confirm)
        }
        Element::UsersSelect(s) | Element::MultiUsersSelect(s) => {
            check_placeholder(location, &s.placeholder)?;
            check_confirm(location, &s.confirm)
        }
        Element::ConversationsSelect(s) | Element::MultiConversationsSelect(s) => {
            check_placeholder(location, &s.placeholder)?;
            check_confirm(location, &s.confirm)
        }
        Element::ChannelsSelect(s) | Element::MultiChannelsSelect(s) => {
            check_placeholder(location, &s.placeholder)?;
            check_confirm(location, &s.confirm)
        }
        Element::Overflow(o) => {
            if o.options.len() < 2 {
                return Err(bk(
                    location,
                    format!("{} options, an overflow needs at least 2", o.options.len()),
                ));
            }
            check_options(location, &o.options, 5)?;
            check_confirm(location, &o.confirm)
        }
        Element::DatePicker(d) => {
            check_placeholder(location, &d.placeholder)?;
            check_confirm(location, &d.confirm)
        }
        Element::TimePicker(t) => {
            check_placeholder(location, &t.placeholder)?;
            check_confirm(location, &t.confirm)
        }
        Element::Checkboxes(c) => {
            check_options(location, &c.options, 10)?;
            check_confirm(location, &c.confirm)
        }
        Element::RadioButtons(r) => {
            check_options(location, &r.options, 10)?;
            check_confirm(location, &r.confirm)
        }
        Element::PlainTextInput(p) => check_placeholder(location, &p.placeholder),
        Element::NumberInput(n) => check_placeholder(location, &n.placeholder),
        Element::EmailTextInput(t) | Element::UrlTextInput(t) => {
            check_placeholder(location, &t.placeholder)
        }
        Element::Image(i) => {
            max_chars(location, "image_url", &i.image_url, 3000)?;
            max_chars(location, "alt_text", &i.alt_text, 2000)
        }
        Element::Raw(_) => Ok(()),
    }
}

fn check_block(location: &str, b: &Block) -> Result<(), Error> {
    if let Some(id) = b.block_id() {
        max_chars(location, "block_id", id, MAX_ID)?;
    }
    let el = |e: &Element, what: &str| {
        let at = format!("{location}.{what} ({})", e.type_name());
        check_element(&at, e)
    };
    match b {
        Block::Section(s) => {
            if s.text.is_none() && s.fields.is_empty() {
                return Err(bk(location, "a section needs text or fields"));
            }
            if let Some(t) = &s.text {
                check_text(location, t, MAX_TEXT)?;
            }
            max_items(location, "fields", s.fields.len(), 10)?;
            for (i, f) in s.fields.iter().enumerate() {
                check_text(&format!("{location}.fields[{i}]"), f, 2000)?;
            }
            match &s.accessory {
                Some(a) => el(a, "accessory"),
                None => Ok(()),
            }
        }
        Block::Actions(a) => {
            max_items(location, "elements", a.elements.len(), 25)?;
            for (i, e) in a.elements.iter().enumerate() {
                el(e, &format!("elements[{i}]"))?;
            }
            Ok(())
        }
        Block::Context(c) => {
            max_items(location, "elements", c.elements.len(), 10)?;
            for (i, e) in c.elements.iter().enumerate() {
                let at = format!("{location}.elements[{i}]");
                match e {
                    ContextElement::Text(t) => check_text(&at, t, MAX_TEXT)?,
                    ContextElement::Image(img) => {
                        max_chars(&at, "image_url", &img.image_url, 3000)?;
                        max_chars(&at, "alt_text", &img.alt_text, 2000)?;
                    }
                }
            }
            Ok(())
        }
        Block::Input(i) => {
            plain(location, &i.label)?;
            max_chars(location, "label", i.label.text(), 2000)?;
            if let Some(h) = &i.hint {
                plain(location, h)?;
                max_chars(location, "hint", h.text(), 2000)?;
            }
            if i.element == Element::default() {
                return Err(bk(location, "an input block needs an element"));
            }
            el(&i.element, "element")
        }
        Block::Header(h) => {
            plain(location, &h.text)?;
            check_text(location, &h.text, 150)
        }
        Block::Image(i) => {
            max_chars(location, "image_url", &i.image_url, 3000)?;
            max_chars(location, "alt_text", &i.alt_text, 2000)?;
            match &i.title {
                Some(t) => check_text(location, t, 2000),
                None => Ok(()),
            }
        }
        Block::Divider(_) | Block::RichText(_) | Block::Raw(_) => Ok(()),
    }
}

fn check_blocks(blocks: &[Block], max: usize, what: &str) -> Result<(), Error> {
    max_items(what, "blocks", blocks.len(), max)?;
    for (i, b) in blocks.iter().enumerate() {
        let location = match b.block_id() {
            Some(id) => {
                let id: String = id.chars().take(40).collect();
                format!("blocks[{i}] ({} {id:?})", b.type_name())
            }
            None => format!("blocks[{i}] ({})", b.type_name()),
        };
        check_block(&location, b)?;
    }
    Ok(())
}

/// Checks the blocks of a message against Slack's limits (≤ 50 blocks and every block's
/// own limits).
pub fn validate_blocks(blocks: &[Block]) -> Result<(), Error> {
    check_blocks(blocks, MAX_MESSAGE_BLOCKS, "message")
}

/// Checks and converts message blocks to their JSON array.
pub fn blocks_to_json(blocks: &[Block]) -> Result<Value, Error> {
    validate_blocks(blocks)?;
    serde_json::to_value(blocks).map_err(|e| Error::Encode {
        method: "blocks".into(),
        detail: e.to_string(),
    })
}
