//! How each Web API method reads its arguments: a JSON body or a form.
//!
//! Slack reads arguments from the query string, from an `application/x-www-form-urlencoded`
//! body, or, **for most write methods only**, from a JSON body. A method that does not read
//! JSON ignores a JSON body entirely and then reports a required argument as missing
//! (`invalid_arguments` with `[ERROR] missing required field: channel` for
//! `conversations.history`, `user_not_found` for `users.info`, …). So the encoding is chosen
//! by method, from the one table below ([`JSON_METHODS`]), as the official Python SDK does:
//! form-encoded unless the method is known to take JSON.
//!
//! | encoding | methods |
//! |---|---|
//! | JSON (`application/json; charset=utf-8`) | `chat.postMessage`, `chat.postEphemeral`, `chat.update`, `chat.delete`, `chat.scheduleMessage`, `chat.deleteScheduledMessage`, `chat.meMessage`, `chat.unfurl`, `views.open`, `views.push`, `views.update`, `views.publish`, `reactions.add`, `reactions.remove`, `pins.add`, `pins.remove` |
//! | form (`application/x-www-form-urlencoded`) | everything else: every read method (`conversations.*`, `users.*`, `team.info`, `files.info`, `chat.getPermalink`, …), `auth.test`, `apps.connections.open`, `files.getUploadURLExternal`, `files.completeUploadExternal`, and any method not in the table |
//!
//! In a form, strings go as they are, numbers and booleans as their JSON text (`true`,
//! `200`), `null` is left out, and arrays and objects as JSON text (`blocks=[…]`,
//! `files=[{"id":…}]`), which is how Slack reads structured form arguments.
//!
//! [`WebClient::call`](crate::WebClient::call) picks by this table;
//! [`call_json`](crate::WebClient::call_json) and [`call_form`](crate::WebClient::call_form)
//! force one encoding.

use serde_json::Value;

/// The content type of JSON bodies.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The content type of form bodies.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The methods whose arguments are sent as a JSON body (Slack's write methods that read
/// JSON). Every other method is sent form-encoded.
pub const JSON_METHODS: &[&str] = &[
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "chat.delete",
    "chat.scheduleMessage",
    "chat.deleteScheduledMessage",
    "chat.meMessage",
    "chat.unfurl",
    "views.open",
    "views.push",
    "views.update",
    "views.publish",
    "reactions.add",
    "reactions.remove",
    "pins.add",
    "pins.remove",
];

/// How a request's arguments are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// A JSON object body.
    Json,
    /// An `application/x-www-form-urlencoded` body.
    Form,
}

impl Encoding {
    /// The encoding Slack reads for `method` (see [`JSON_METHODS`]).
    pub fn for_method(method: &str) -> Encoding {
        if JSON_METHODS.contains(&method) {
            Encoding::Json
        } else {
            Encoding::Form
        }
    }

    /// The `Content-Type` header of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => JSON_CONTENT_TYPE,
            Encoding::Form => FORM_CONTENT_TYPE,
        }
    }
}

/// Encodes a JSON object as a form body (see the module docs for how values are written).
/// A value that is not an object gives `None`.
pub fn form_encode(args: &Value) -> Option<String> {
    let obj = match args {
        Value::Object(o) => o,
        Value::Null => return Some(String::new()),
        _ => return None,
    };
    let mut out = String::new();
    for (k, v) in obj {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => v.to_string(),
        };
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(k, &mut out);
        out.push('=');
        percent_encode_into(&text, &mut out);
    }
    Some(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode_into(s: &str, out: &mut String) {
    let hex = |n: u8| {
        char::from_digit(u32::from(n), 16)
            .unwrap_or('0')
            .to_ascii_uppercase()
    };
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0x0f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_picks_json_only_for_write_methods() {
        for m in [
            "chat.postMessage",
            "views.open",
            "reactions.add",
            "chat.update",
        ] {
            assert_eq!(Encoding::for_method(m), Encoding::Json, "{m}");
        }
        for m in [
            "conversations.history",
            "users.info",
            "files.getUploadURLExternal",
            "files.completeUploadExternal",
            "auth.test",
            "made.up",
        ] {
            assert_eq!(Encoding::for_method(m), Encoding::Form, "{m}");
        }
    }

    #[test]
    fn form_values() {
        let body = form_encode(&json!({
            "channel": "C1", "limit": 200, "inclusive": true, "cursor": null,
            "text": "a b&c=d/é", "files": [{"id": "F1", "title": "x"}]
        }))
        .unwrap();
        assert_eq!(
            body,
            "channel=C1&files=%5B%7B%22id%22%3A%22F1%22%2C%22title%22%3A%22x%22%7D%5D\
             &inclusive=true&limit=200&text=a%20b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(form_encode(&json!({})).unwrap(), "");
        assert_eq!(form_encode(&Value::Null).unwrap(), "");
        assert_eq!(form_encode(&json!([1])), None);
    }
}
