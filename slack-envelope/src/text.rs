//! Bounded text for errors and logs: nothing a peer sends is echoed at length, and payload
//! text never is.

use std::borrow::Cow;

/// The most bytes of peer-chosen text (an id, a reason, a type name) that is kept in an error,
/// an event or a log line.
pub(crate) const MAX_TEXT: usize = 128;

/// `s` cut to at most `max` bytes (at a character boundary, `…` marking the cut). Cutting a
/// cut text again leaves it as it is.
pub(crate) fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + '…'.len_utf8());
    out.push_str(s.get(..end).unwrap_or_default());
    out.push('…');
    Cow::Owned(out)
}

/// [`clip`] to [`MAX_TEXT`], owned.
pub(crate) fn clipped(s: &str) -> String {
    clip(s, MAX_TEXT).into_owned()
}

/// What went wrong in a serde_json error, without the text it read: serde_json's own message
/// quotes the offending value (a 1 MiB string where a number belongs comes back whole), so
/// only its kind, its position and what was expected (which the reading code names, not the
/// input) are kept.
pub(crate) fn json_error_detail(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "i/o error",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value",
        Category::Eof => "unexpected end of input",
    };
    let message = e.to_string();
    // The part after the last ", expected " comes from the reader's `expecting`, last in the
    // message; serde_json appends the position after it.
    let expected = message
        .rsplit_once(", expected ")
        .map(|(_, tail)| tail.rsplit_once(" at line ").map_or(tail, |(t, _)| t))
        .filter(|t| !t.contains(['"', '\\']));
    let mut out = String::from(what);
    if let Some(expected) = expected {
        out.push_str(", expected ");
        out.push_str(&clip(expected, 80));
    }
    if e.line() > 0 {
        out.push_str(&format!(" at line {} column {}", e.line(), e.column()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_boundary_and_is_idempotent() {
        assert_eq!(clip("short", 10), "short");
        let long = "é".repeat(100);
        let c = clip(&long, 21);
        assert!(c.len() <= 21 && c.ends_with('…'), "{c}");
        assert_eq!(clip(&c, 21), c);
    }

    #[test]
    fn json_errors_do_not_echo_the_input() {
        let secret = "zq".repeat(1000);
        let text = format!(r#"{{"n":"{secret}"}}"#);
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            n: u32,
        }
        let e = serde_json::from_str::<T>(&text).unwrap_err();
        assert!(e.to_string().contains("zqzq"), "serde_json echoes it");
        let d = json_error_detail(&e);
        assert!(!d.contains("zqzq") && d.len() < 120, "{d}");
        assert!(d.contains("expected u32"), "{d}");
        let e = serde_json::from_str::<serde_json::Value>(&format!("[\"{secret}")).unwrap_err();
        let d = json_error_detail(&e);
        assert!(!d.contains("zqzq") && d.len() < 120, "{d}");
    }
}
