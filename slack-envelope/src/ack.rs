//! Building ack frames.

use crate::Error;

/// Slack is reported to drop ack payloads of about 20 KB or more silently.
pub const DEFAULT_MAX_ACK_PAYLOAD: usize = 20 * 1024;

fn needs_escaping(s: &str) -> bool {
    // Eight bytes at a time (ids are 20 to 40 bytes), then the last eight.
    let special = |w: &[u8; 8]| crate::scan::special(u64::from_le_bytes(*w)) != 0;
    let bytes = s.as_bytes();
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        if special(word) {
            return true;
        }
        rest = tail;
    }
    if rest.is_empty() {
        return false;
    }
    match bytes.last_chunk::<8>() {
        // The last eight bytes: those before the tail were checked and are plain, so this
        // tells whether the tail has a special byte, without a byte loop.
        Some(word) => special(word),
        None => rest.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20),
    }
}

fn push_json_string(out: &mut String, s: &str) {
    if needs_escaping(s) {
        // serde_json escapes exactly as JSON requires; a `&str` always serializes.
        match serde_json::to_string(s) {
            Ok(quoted) => out.push_str(&quoted),
            Err(_) => out.push_str("\"\""),
        }
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// The ack frame `{"envelope_id":"…"}` or `{"envelope_id":"…","payload":…}`.
///
/// `payload_json` must be serialized JSON (see [`payload_to_json`]); it is inserted as is.
pub fn ack_frame(envelope_id: &str, payload_json: Option<&str>) -> String {
    let mut out =
        String::with_capacity(envelope_id.len() + 20 + payload_json.map_or(0, |p| p.len() + 12));
    out.push_str("{\"envelope_id\":");
    push_json_string(&mut out, envelope_id);
    if let Some(p) = payload_json {
        out.push_str(",\"payload\":");
        out.push_str(p);
    }
    out.push('}');
    out
}

/// Serializes an ack payload and checks it against `limit` bytes.
pub fn payload_to_json<T: serde::Serialize + ?Sized>(
    envelope_id: &str,
    payload: &T,
    limit: usize,
) -> Result<String, Error> {
    let json = serde_json::to_string(payload).map_err(|e| Error::InvalidAckPayload {
        detail: crate::text::json_error_detail(&e),
    })?;
    if json.len() > limit {
        return Err(Error::PayloadTooLarge {
            envelope_id: crate::text::clipped(envelope_id),
            size: json.len(),
            limit,
        });
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_with_payload() {
        assert_eq!(ack_frame("abc", None), r#"{"envelope_id":"abc"}"#);
        assert_eq!(
            ack_frame("abc", Some(r#"{"text":"hi"}"#)),
            r#"{"envelope_id":"abc","payload":{"text":"hi"}}"#
        );
    }

    #[test]
    fn ids_are_escaped() {
        let frame = ack_frame("a\"b\\c\n", None);
        let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["envelope_id"], "a\"b\\c\n");
    }

    #[test]
    fn special_characters_are_found_at_any_position() {
        for len in [1, 7, 8, 9, 16, 23, 36] {
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{1f}'] {
                    let mut id: Vec<char> = "a".repeat(len).chars().collect();
                    id[at] = c;
                    let id: String = id.into_iter().collect();
                    let v: serde_json::Value = serde_json::from_str(&ack_frame(&id, None)).unwrap();
                    assert_eq!(v["envelope_id"], id.as_str());
                }
            }
        }
        assert!(!needs_escaping("0123456789abcdef-é-0123"));
    }

    #[test]
    fn needs_escaping_agrees_with_a_byte_loop_at_every_length_and_position() {
        let reference = |s: &str| s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        for len in 0..=40usize {
            let plain = "z".repeat(len);
            assert!(!needs_escaping(&plain), "{len}");
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{1f}', '\u{7f}', ' ', 'é'] {
                    let mut id: Vec<char> = plain.chars().collect();
                    if let Some(x) = id.get_mut(at) {
                        *x = c;
                    }
                    let id: String = id.into_iter().collect();
                    assert_eq!(needs_escaping(&id), reference(&id), "{id:?}");
                }
            }
        }
    }

    #[test]
    fn payload_limit() {
        let big = "x".repeat(30_000);
        let err = payload_to_json(
            "e",
            &serde_json::json!({ "text": big }),
            DEFAULT_MAX_ACK_PAYLOAD,
        )
        .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge { limit: 20480, .. }));
    }
}
