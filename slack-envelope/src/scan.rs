//! The one reader of a frame's text: a hand-written, validating scan.
//!
//! It reads what the core needs (the frame's `type`, `envelope_id`,
//! `accepts_response_payload`, `retry_attempt`, `retry_reason`, where the payload is, and the
//! payload's top-level `event_id` and `event.type`) and checks that the whole text is valid
//! JSON on the way (strings, escapes, control characters, numbers, literals, nesting, trailing
//! text), without building anything. Plain string text is skipped sixteen bytes per loop turn,
//! and long runs thirty-two at a time.
//!
//! [`Scan::plain`] tells whether the scan read every top-level field itself. When it did not
//! (a `hello`, a `disconnect`, an unknown type, an escaped, repeated or mistyped top-level
//! field, a payload that is not an object), `frame.rs` reads the top-level fields with
//! serde_json, which also gives every error its exact wording; the payload's position and ids
//! still come from this scan, so the payload is read in one place only. The scan never panics:
//! every read is bounds checked.

use std::borrow::Cow;
use std::ops::Range;

/// Nesting deeper than this (the frame object counts as 1) is not scanned: such a frame is
/// refused if it is an envelope (see `frame.rs`).
pub(crate) const MAX_DEPTH: u32 = 64;

/// What the scan read from a frame. Fields hold the value when the scan could read it as the
/// frame's readers expect (a plain string, a bool, a `u32`; `Some(None)` for `null`).
#[derive(Debug, Default)]
pub(crate) struct Scan<'a> {
    /// Every top-level field was read here (none escaped, repeated or of another type, no
    /// field of other frames, a payload object).
    pub(crate) plain: bool,
    pub(crate) frame_type: Option<Option<&'a str>>,
    pub(crate) envelope_id: Option<Option<&'a str>>,
    pub(crate) accepts_response_payload: Option<Option<bool>>,
    pub(crate) retry_attempt: Option<Option<u32>>,
    pub(crate) retry_reason: Option<Option<&'a str>>,
    /// The payload, unless absent or `null`.
    pub(crate) payload: Option<ScannedPayload<'a>>,
}

/// Where the payload is and what it says.
#[derive(Debug)]
pub(crate) struct ScannedPayload<'a> {
    /// Its text, in the frame's.
    pub(crate) range: Range<usize>,
    /// Its top-level `event_id` when that is a string (the last one, if repeated, as
    /// serde_json's `Value` reads it).
    pub(crate) event_id: Option<Cow<'a, str>>,
    /// Its `event.type` when that is a string (the last one, if repeated).
    pub(crate) event_type: Option<TextAt>,
    /// Its `event.user` and `event.bot_id`, read like `event.type`.
    pub(crate) event_who: EventWho,
}

/// An event's `user` and `bot_id` when they are strings (what a bot needs to recognise its
/// own events without decoding the payload).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct EventWho {
    pub(crate) user: Option<TextAt>,
    pub(crate) bot_id: Option<TextAt>,
}

/// A string value of the frame: where its text is, or its decoded text when it has escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextAt {
    /// No escapes: this range of the frame's text.
    Range(Range<usize>),
    /// Escapes, decoded.
    Decoded(Box<str>),
}

impl TextAt {
    /// The text, given the frame's text.
    pub(crate) fn get<'t>(&'t self, text: &'t str) -> Option<&'t str> {
        match self {
            TextAt::Range(r) => text.get(r.clone()),
            TextAt::Decoded(s) => Some(s),
        }
    }
}

/// Scans `text`; `None` when it is not valid JSON, not an object, or nested deeper than
/// [`MAX_DEPTH`].
pub(crate) fn scan(text: &str) -> Option<Scan<'_>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut out = Scan {
        plain: true,
        ..Scan::default()
    };
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.eat(b'}').is_some() {
        out.plain = false;
    } else {
        loop {
            let key_at = s.i;
            let (key, escaped) = s.key()?;
            let decoded;
            let key = if escaped {
                out.plain = false;
                decoded = s.decode_key(key_at, key);
                decoded.as_slice()
            } else {
                key
            };
            // Where the value starts.
            let at = s.i;
            match key {
                b"type" => {
                    let v = s.opt_plain_str();
                    s.field(&mut out.plain, &mut out.frame_type, at, v)?;
                }
                b"envelope_id" => {
                    let v = s.opt_plain_str();
                    s.field(&mut out.plain, &mut out.envelope_id, at, v)?;
                }
                b"retry_reason" => {
                    let v = s.opt_plain_str();
                    s.field(&mut out.plain, &mut out.retry_reason, at, v)?;
                }
                b"accepts_response_payload" => {
                    let v = s.opt_bool();
                    s.field(&mut out.plain, &mut out.accepts_response_payload, at, v)?;
                }
                b"retry_attempt" => {
                    let v = s.opt_u32();
                    s.field(&mut out.plain, &mut out.retry_attempt, at, v)?;
                }
                b"payload" => {
                    // A repeated payload is an error for serde_json: it says so.
                    if out.payload.is_some() {
                        out.plain = false;
                    }
                    match s.peek()? {
                        b'{' => out.payload = Some(s.payload()?),
                        b'n' => {
                            s.literal(b"null")?;
                            out.plain = false;
                        }
                        _ => {
                            out.plain = false;
                            let start = s.i;
                            s.value(1)?;
                            out.payload = Some(ScannedPayload {
                                range: start..s.i,
                                event_id: None,
                                event_type: None,
                                event_who: EventWho::default(),
                            });
                        }
                    }
                }
                // Fields of other frames.
                b"reason" | b"num_connections" | b"debug_info" | b"connection_info" => {
                    out.plain = false;
                    s.member_value(1)?;
                }
                _ => s.member_value(1)?,
            }
            if !s.more_members()? {
                s.eat(b'}')?;
                break;
            }
        }
    }
    s.ws();
    if s.i != s.b.len() {
        return None;
    }
    Some(out)
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

/// From the opening `"` at `i`: the index just past the closing quote, and whether the
/// string has escapes. `None` for an unterminated string, a control character or a bad escape.
/// Plain text is tested a word (eight bytes) at a time, two words per loop turn, and long
/// runs thirty-two bytes at a time out of line: only the byte the word test stops at is
/// looked at alone.
#[inline(always)]
fn skip_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    string_body(b, i + 1)
}

/// [`skip_string`] from just after an opening quote the caller has already seen.
#[inline(always)]
fn string_body(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    let mut plain_blocks = 0u32;
    loop {
        // `i` never passes the end (it only moves past bytes that were read), so `rest` is
        // the text from `i` on.
        let rest = b.get(i..)?;
        if let Some(words) = rest.first_chunk::<16>() {
            let (lo, hi) = words.split_at(8);
            let found = lo
                .first_chunk::<8>()
                .map_or(0, |w| special(u64::from_le_bytes(*w)));
            if found != 0 {
                i += (found.trailing_zeros() / 8) as usize;
            } else {
                let found = hi
                    .first_chunk::<8>()
                    .map_or(0, |w| special(u64::from_le_bytes(*w)));
                if found == 0 {
                    i += 16;
                    plain_blocks += 1;
                    if plain_blocks == 3 {
                        // 48 plain bytes: a long text (a message's); the rest of its plain
                        // run goes faster out of line.
                        i = skip_plain_run(b, i);
                    }
                    continue;
                }
                i += 8 + (found.trailing_zeros() / 8) as usize;
            }
        } else if let Some(w) = rest.first_chunk::<8>() {
            let found = special(u64::from_le_bytes(*w));
            if found == 0 {
                i += 8;
                continue;
            }
            i += (found.trailing_zeros() / 8) as usize;
        }
        match *b.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i = escape(b, i + 1)?;
            }
            c if c < 0x20 => return None,
            _ => i += 1,
        }
    }
}

/// From `i` inside a string: the start of the first 32-byte block that holds a special
/// byte (`"`, `\\` or a control character), or of the last, shorter stretch of the text.
/// Out of line, so that its constants stay in registers: long texts (a message's `text`)
/// cost about half as many instructions per byte as in the callers' loops.
#[inline(never)]
fn skip_plain_run(b: &[u8], mut i: usize) -> usize {
    while let Some(block) = b.get(i..).and_then(<[u8]>::first_chunk::<32>) {
        let mut any = 0;
        for word in block.chunks_exact(8) {
            if let Some(w) = word.first_chunk::<8>() {
                any |= special(u64::from_le_bytes(*w));
            }
        }
        if any != 0 {
            break;
        }
        i += 32;
    }
    i
}

/// The high bit of every byte of `w` that is below 0x20, `"` or `\\` (Mycroft's zero-byte
/// test); bits above the lowest may be false positives, the lowest is always a real match.
///
/// `"` (0x22) and the control characters are found with one test: after flipping bit 1,
/// exactly the bytes 0x00..=0x1F and 0x22 are below 0x21.
#[inline(always)]
pub(crate) fn special(w: u64) -> u64 {
    let v = w ^ (ONES * 0x02);
    let below = v.wrapping_sub(ONES * 0x21);
    let bs = (w ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    // The high bit of `v` and of `w ^ '\\'` is the high bit of `w`: one `!w` for all three.
    (below | bs) & !w & HIGHS
}

/// Skips JSON whitespace; compact JSON has none, which costs one test.
#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c > b' ' || !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

#[inline]
fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// A number at `i`, with JSON's grammar (no leading zeros, digits after `.` and `e`).
fn skip_number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => {
            i += 1;
            if b.get(i).is_some_and(u8::is_ascii_digit) {
                return None;
            }
        }
        b'1'..=b'9' => i = skip_digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = skip_digits(b, start);
        if i == start {
            return None;
        }
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let start = i;
        i = skip_digits(b, start);
        if i == start {
            return None;
        }
    }
    Some(i)
}

#[inline]
fn skip_literal(b: &[u8], i: usize, lit: &[u8]) -> Option<usize> {
    let end = i.checked_add(lit.len())?;
    (b.get(i..end) == Some(lit)).then_some(end)
}

/// At an object key's `"`: the index just after the key's `:` (and whitespace).
#[inline(always)]
fn skip_key(b: &[u8], i: usize) -> Option<usize> {
    let (i, _) = skip_string(b, i)?;
    skip_colon(b, i)
}

/// After a key: whitespace, `:`, whitespace; the index after them.
#[inline(always)]
fn skip_colon(b: &[u8], i: usize) -> Option<usize> {
    // Compact JSON: the `:` comes at once.
    let i = if b.get(i) == Some(&b':') {
        i + 1
    } else {
        let i = skip_ws(b, i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i + 1
    };
    Some(skip_ws(b, i))
}

/// The value at `i` (inside containers nested `depth` deep), checked and skipped without
/// recursion: the open containers are a bit stack (1 for an object), at most [`MAX_DEPTH`].
fn skip_value(b: &[u8], mut i: usize, depth: u32) -> Option<usize> {
    let mut stack: u64 = 0;
    let mut open: u32 = 0;
    loop {
        // A value starts at `i`.
        match *b.get(i)? {
            b'"' => i = string_body(b, i + 1)?.0,
            c @ (b'{' | b'[') => {
                if depth + open >= MAX_DEPTH {
                    return None;
                }
                let is_object = c == b'{';
                i = skip_ws(b, i + 1);
                let close = if is_object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    i += 1;
                } else {
                    stack = (stack << 1) | u64::from(is_object);
                    open += 1;
                    if is_object {
                        i = skip_key(b, i)?;
                    }
                    continue;
                }
            }
            b't' => i = skip_literal(b, i, b"true")?,
            b'f' => i = skip_literal(b, i, b"false")?,
            b'n' => i = skip_literal(b, i, b"null")?,
            b'-' | b'0'..=b'9' => i = skip_number(b, i)?,
            _ => return None,
        }
        // After a value: the next one in its container, or close containers.
        loop {
            if open == 0 {
                return Some(i);
            }
            i = skip_ws(b, i);
            let in_object = stack & 1 == 1;
            match *b.get(i)? {
                b',' => {
                    i = skip_ws(b, i + 1);
                    if in_object {
                        i = skip_key(b, i)?;
                    }
                    break;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            i += 1;
            open -= 1;
            stack >>= 1;
        }
    }
}

/// After a `\` (at `i`, the escaped character): the escape must be one JSON allows (`\u`
/// with four hex digits). Returns the index after it.
#[inline]
fn escape(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => {
            let hex = b.get(i + 1..i.checked_add(5)?)?;
            if hex.iter().all(u8::is_ascii_hexdigit) {
                Some(i + 5)
            } else {
                None
            }
        }
        _ => None,
    }
}

const ONES: u64 = u64::MAX / 255;
const HIGHS: u64 = ONES << 7;

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i.checked_add(lit.len())?;
        if self.b.get(self.i..end) == Some(lit) {
            self.i = end;
            Some(())
        } else {
            None
        }
    }

    /// At an object key's `"`: the key's raw bytes (escapes not decoded) and whether it has
    /// escapes; moves past the `:` and the whitespace after it. Most keys have no escapes and
    /// are compared as they are, with no decoding or UTF-8 check.
    #[inline(always)]
    fn key(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.i.checked_add(1)?;
        let (end, escaped) = skip_string(self.b, self.i)?;
        let key = self.b.get(start..end.checked_sub(1)?)?;
        self.i = skip_colon(self.b, end)?;
        Some((key, escaped))
    }

    /// The text of a key with escapes, decoded: `raw` as [`Scanner::key`] read it from its
    /// opening quote at `at`. Empty when it cannot be decoded (a lone surrogate): such a key
    /// is none of those the scan looks for.
    #[cold]
    fn decode_key(&self, at: usize, raw: &[u8]) -> Vec<u8> {
        self.decode_string(at..at + raw.len() + 2)
            .unwrap_or_default()
            .into_bytes()
    }

    /// The string whose quotes are at the ends of `quoted`, decoded.
    #[cold]
    fn decode_string(&self, quoted: Range<usize>) -> Option<String> {
        serde_json::from_str(self.text.get(quoted)?).ok()
    }

    /// Stores a top-level field's value, `read` by one of the `opt_*` readers from `start`.
    /// When the reader did not apply (another type of value, escapes) or the field was seen
    /// before, the value is only checked and skipped, and the scan is no longer plain:
    /// serde_json reads the fields then.
    #[inline(always)]
    fn field<T>(
        &mut self,
        plain: &mut bool,
        slot: &mut Option<Option<T>>,
        start: usize,
        read: Option<Option<T>>,
    ) -> Option<()> {
        match read {
            Some(v) if slot.is_none() => {
                *slot = Some(v);
                Some(())
            }
            _ => {
                *plain = false;
                self.i = start;
                self.member_value(1)
            }
        }
    }

    /// Skips any value, checking it, inside a container at nesting `depth`.
    #[inline]
    fn value(&mut self, depth: u32) -> Option<()> {
        self.i = skip_value(self.b, self.i, depth)?;
        Some(())
    }

    /// Skips a member's value like [`Scanner::value`], with strings (most values) skipped
    /// in line rather than by a call.
    #[inline(always)]
    fn member_value(&mut self, depth: u32) -> Option<()> {
        self.i = if self.peek() == Some(b'"') {
            string_body(self.b, self.i + 1)?.0
        } else {
            skip_value(self.b, self.i, depth)?
        };
        Some(())
    }

    /// A string without escapes, or `null`; `None` for anything else (nothing consumed then).
    #[inline(always)]
    fn opt_plain_str(&mut self) -> Option<Option<&'a str>> {
        match self.peek()? {
            b'"' => {
                let start = self.i.checked_add(1)?;
                let (end, escaped) = string_body(self.b, start)?;
                if escaped {
                    return None;
                }
                self.i = end;
                // Both ends sit next to an ASCII quote, so they are character boundaries.
                Some(Some(self.text.get(start..end.checked_sub(1)?)?))
            }
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// A plain non-negative integer that fits a `u32`, or `null`; `None` for anything else.
    ///
    /// Read digit by digit: anything but a run of digits not followed by `.`, `e` or `E`
    /// (a sign, a fraction, an exponent, a leading zero, more than `u32::MAX`) is left to
    /// serde_json.
    fn opt_u32(&mut self) -> Option<Option<u32>> {
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|()| None);
        }
        let start = self.i;
        let mut i = start;
        let mut value: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(i) {
            // Eleven digits are more than a u32 holds: stop before the u64 could overflow.
            if i - start >= 10 {
                return None;
            }
            value = value * 10 + u64::from(c - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0
            || (digits > 1 && self.b.get(start) == Some(&b'0'))
            || matches!(self.b.get(i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.i = i;
        u32::try_from(value).ok().map(Some)
    }

    /// A string value at `self.i`: where it is, or its decoded text when it has escapes
    /// (`Some(None)` when those cannot be decoded: a lone surrogate).
    #[inline(always)]
    fn string_value(&mut self) -> Option<Option<TextAt>> {
        let start = self.i;
        let (end, escaped) = string_body(self.b, start + 1)?;
        self.i = end;
        Some(if escaped {
            self.decode_string(start..end)
                .map(|s| TextAt::Decoded(s.into_boxed_str()))
        } else {
            // Both ends sit next to an ASCII quote: character boundaries.
            Some(TextAt::Range(start + 1..end.checked_sub(1)?))
        })
    }

    /// At the payload's `{`: its range, its top-level `event_id` and its `event.type`.
    fn payload(&mut self) -> Option<ScannedPayload<'a>> {
        let start = self.i;
        self.eat(b'{')?;
        self.ws();
        let mut event_id = None;
        let mut event_type = None;
        let mut event_who = EventWho::default();
        if self.peek()? != b'}' {
            loop {
                let key_at = self.i;
                let (key, escaped) = self.key()?;
                let decoded;
                let key = if escaped {
                    decoded = self.decode_key(key_at, key);
                    decoded.as_slice()
                } else {
                    key
                };
                if key == b"event_id" {
                    event_id = if self.peek()? == b'"' {
                        match self.string_value()? {
                            Some(TextAt::Range(r)) => Some(Cow::Borrowed(self.text.get(r)?)),
                            Some(TextAt::Decoded(s)) => Some(Cow::Owned(s.into_string())),
                            None => None,
                        }
                    } else {
                        self.value(2)?;
                        None
                    };
                } else if key == b"event" {
                    (event_type, event_who) = self.event_object()?;
                } else {
                    self.member_value(2)?;
                }
                if !self.more_members()? {
                    break;
                }
            }
        }
        self.eat(b'}')?;
        Some(ScannedPayload {
            range: start..self.i,
            event_id,
            event_type,
            event_who,
        })
    }

    /// After an object member: `Some(true)` past a `,` (another member follows), `Some(false)`
    /// at the closing `}` (not consumed), `None` on anything else.
    fn more_members(&mut self) -> Option<bool> {
        self.ws();
        match self.peek()? {
            b',' => {
                self.i += 1;
                self.ws();
                Some(true)
            }
            b'}' => Some(false),
            _ => None,
        }
    }

    /// At the value of the payload's `event`: skips it and returns its `type`, `user` and
    /// `bot_id`, each when it is a string (`None` for anything else; the last one when
    /// repeated, as serde_json's `Value` reads it).
    #[inline(never)]
    fn event_object(&mut self) -> Option<(Option<TextAt>, EventWho)> {
        let mut who = EventWho::default();
        if self.peek()? != b'{' {
            self.value(2)?;
            return Some((None, who));
        }
        self.eat(b'{')?;
        self.ws();
        let mut found = None;
        if self.peek()? != b'}' {
            loop {
                let key_at = self.i;
                let (key, escaped) = self.key()?;
                let decoded;
                let key = if escaped {
                    decoded = self.decode_key(key_at, key);
                    decoded.as_slice()
                } else {
                    key
                };
                let slot = match key {
                    b"type" => Some(&mut found),
                    b"user" => Some(&mut who.user),
                    b"bot_id" => Some(&mut who.bot_id),
                    _ => None,
                };
                match slot {
                    Some(slot) => {
                        *slot = if self.peek()? == b'"' {
                            self.string_value()?
                        } else {
                            self.value(3)?;
                            None
                        };
                    }
                    None => self.member_value(3)?,
                }
                if !self.more_members()? {
                    break;
                }
            }
        }
        self.eat(b'}')?;
        Some((found, who))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Frame;
    use proptest::prelude::*;

    const FIXTURES: [&str; 4] = [
        include_str!("../tests/fixtures/socket_mode_events_api_app_mention.json"),
        include_str!("../tests/fixtures/socket_mode_events_api_message_retry.json"),
        include_str!("../tests/fixtures/socket_mode_interactive_shortcut.json"),
        include_str!("../tests/fixtures/socket_mode_slash_commands.json"),
    ];

    /// Both ways give the same result (frame or error) for `text`, and what the scan read of
    /// an envelope's payload is what serde_json reads: its text (serde_json's `RawValue`),
    /// its `event_id` and its `event.type` (serde_json's `Value`).
    fn agree(text: &str) {
        let parsed = Frame::parse(text);
        assert_eq!(
            parsed,
            Frame::parse_slow(text),
            "fast and slow paths disagree on {text:?}"
        );
        let Ok(Frame::Envelope(env)) = parsed else {
            return;
        };
        #[derive(serde::Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            payload: Option<&'a serde_json::value::RawValue>,
        }
        let raw: Raw<'_> = serde_json::from_str(text).unwrap();
        assert_eq!(
            env.payload_json(),
            raw.payload.map_or("null", |p| p.get()),
            "{text:?}"
        );
        if env.kind() != &crate::EnvelopeKind::EventsApi {
            return;
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(env.payload_json()) {
            assert_eq!(
                env.event_id(),
                v.get("event_id").and_then(|e| e.as_str()),
                "{text:?}"
            );
            for (got, field) in [
                (env.event_type(), "type"),
                (env.event_user().map(Cow::Borrowed), "user"),
                (env.event_bot_id().map(Cow::Borrowed), "bot_id"),
            ] {
                assert_eq!(
                    got.as_deref(),
                    v.get("event")
                        .and_then(|e| e.get(field))
                        .and_then(|t| t.as_str()),
                    "{field} of {text:?}"
                );
            }
        }
    }

    #[test]
    fn envelope_fixtures_take_the_fast_path_and_agree() {
        for f in FIXTURES {
            assert!(crate::Frame::is_plain_envelope(f), "{f}");
            agree(f);
        }
    }

    #[test]
    fn other_frames_fall_back() {
        for f in [
            r#"{"type":"hello","num_connections":1}"#,
            r#"{"type":"disconnect","reason":"warning"}"#,
            r#"{"type":"brand_new","envelope_id":"e","payload":{}}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{},"type":"events_api"}"#,
            r#"{"type":"events_api","envelope_id":"e\u0031","payload":{}}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":[]}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{},"retry_attempt":1.0}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{},"retry_attempt":4294967296}"#,
            r#"{"type":"events_api","envelope_id":"","payload":{}}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{}} x"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{"a":01}}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{"a":"\x"}}"#,
            "{\"type\":\"events_api\",\"envelope_id\":\"e\",\"payload\":{\"a\":\"\u{1}\"}}",
        ] {
            assert!(!crate::Frame::is_plain_envelope(f), "{f}");
            agree(f);
        }
    }

    /// The `core_throughput` benchmark's envelope.
    fn bench_envelope() -> String {
        let text = "x".repeat(420);
        format!(
            r#"{{"envelope_id":"0000002a-72a5-4744-aba3-4d66eb52682b","payload":{{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{{"client_msg_id":"f0582a78-72db-4feb-b2f3-1e47d66365c8","type":"message","text":"{text}","user":"U222","ts":"1610241741.000200","team":"T111","blocks":[{{"type":"rich_text","block_id":"Sesm","elements":[{{"type":"rich_text_section","elements":[{{"type":"text","text":"hello"}}]}}]}}],"channel":"C111","event_ts":"1610241741.000200","channel_type":"channel"}},"type":"event_callback","event_id":"Ev0000000042","event_time":1610241741,"authorizations":[{{"enterprise_id":null,"team_id":"T111","user_id":"U222","is_bot":true,"is_enterprise_install":false}}],"is_ext_shared_channel":false,"event_context":"1-message-T111-C111"}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}}"#
        )
    }

    #[test]
    fn truncated_envelopes_are_errors_at_every_byte() {
        let bench = bench_envelope();
        for f in FIXTURES.into_iter().chain([bench.as_str()]) {
            let whole = f.trim_end().len();
            for cut in 0..f.len() {
                let Some(prefix) = f.get(..cut) else { continue };
                if cut < whole {
                    assert!(!crate::Frame::is_plain_envelope(prefix), "{prefix}");
                    assert!(Frame::parse(prefix).is_err(), "{prefix}");
                }
                agree(prefix);
            }
        }
    }

    #[test]
    fn every_single_byte_damage_of_the_bench_envelope_agrees_with_serde() {
        let bench = bench_envelope();
        for at in 0..bench.len() {
            for c in [
                '"', '\\', '{', '}', '[', ']', ':', ',', '\u{1}', ' ', 'é', '0', 'n',
            ] {
                let mut text = bench.clone();
                if !text.is_char_boundary(at) {
                    continue;
                }
                text.insert(at, c);
                agree(&text);
                let mut text = bench.clone();
                text.remove(at);
                agree(&text);
            }
        }
    }

    #[test]
    fn escaped_keys_agree_with_serde_at_every_level() {
        let keys = [
            r#""typ\u0065""#,
            r#""\u0074ype""#,
            r#""type\\""#,
            r#""ty\"pe""#,
            r#""event\u005fid""#,
            r#""\u0065vent""#,
            r#""envelope\u005fid""#,
            r#""p\u0061yload""#,
            r#""typé""#,
            r#""\ud83d\ude00""#,
            r#""\/type""#,
            r#""type\n""#,
            r#""""#,
        ];
        for k in keys {
            for f in [
                format!(
                    r#"{{{k}:"events_api","type":"events_api","envelope_id":"e","payload":{{}}}}"#
                ),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{{k}:"Ev1","event_id":"Ev2"}}}}"#
                ),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"event":{{{k}:"m","x":1}}}}}}"#
                ),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"a":[{{{k}:{{{k}:null}}}}]}}}}"#
                ),
            ] {
                agree(&f);
            }
        }
        // An escaped key in the payload is decoded by the scan.
        let f = r#"{"type":"events_api","envelope_id":"e","payload":{"event\u005fid":"Ev1"}}"#;
        assert!(crate::Frame::is_plain_envelope(f));
        let Ok(Frame::Envelope(env)) = Frame::parse(f) else {
            panic!("{f}")
        };
        assert_eq!(env.event_id(), Some("Ev1"));
    }

    /// A string value with `special` at each position `k` of a run of plain text, so the
    /// character falls at every place of the eight- and sixteen-byte steps.
    #[test]
    fn special_characters_at_every_word_position_agree_with_serde() {
        let specials: [(&str, bool); 14] = [
            (r#"\""#, true),
            (r"\\", true),
            (r"\/", true),
            (r"\n", true),
            (r"\u00e9", true),
            (r"\ud83d\ude00", true),
            ("é", true),
            ("🎉", true),
            ("\u{7f}", true),
            ("\u{1}", false),
            ("\u{1f}", false),
            ("\t", false),
            (r"\x", false),
            (r"\u12", false),
        ];
        for (special, valid) in specials {
            for len in [
                0usize, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 48, 49, 63, 64, 65, 79, 80,
                81, 95, 96, 97, 111, 112, 113, 130,
            ] {
                for k in 0..=len {
                    let plain = "z".repeat(len);
                    let (a, b) = plain.split_at(k);
                    let s = format!("{a}{special}{b}");
                    for (i, f) in [
                        format!(
                            r#"{{"type":"events_api","envelope_id":"e","payload":{{"event":{{"text":"{s}","type":"m"}},"event_id":"{s}"}}}}"#
                        ),
                        format!(
                            r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":["{s}"]}},"{s}":1}}"#
                        ),
                        format!(
                            r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":{{"{s}":"{s}"}}}}}}"#
                        ),
                    ]
                    .iter()
                    .enumerate()
                    {
                        // The second frame has the string as a top-level key too: escaped
                        // keys there always go to serde.
                        let fast = valid && (i != 1 || !special.contains('\\'));
                        assert_eq!(crate::Frame::is_plain_envelope(f), fast, "{f}");
                        agree(f);
                    }
                    // The string cut just after the special character: unterminated.
                    let cut = format!(
                        r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":"{a}{special}"#
                    );
                    assert!(!crate::Frame::is_plain_envelope(&cut));
                    agree(&cut);
                }
            }
        }
    }

    #[test]
    fn nesting_beyond_the_depth_limit_is_refused_both_ways() {
        // The frame is depth 1 and the payload 2: `n` brackets inside the payload reach 2 + n.
        for n in 55..=70usize {
            for (open, close, wrong) in [("[", "]", "}"), (r#"{"a":"#, "}", "]")] {
                let inner = format!("{}1{}", open.repeat(n), close.repeat(n));
                let f = format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":{inner},"event_id":"Ev1"}}}}"#
                );
                assert_eq!(
                    crate::Frame::is_plain_envelope(&f),
                    2 + n as u32 <= MAX_DEPTH,
                    "{n}"
                );
                assert_eq!(Frame::parse(f.as_str()).is_ok(), 2 + n as u32 <= MAX_DEPTH);
                agree(&f);
                let in_event = format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"event":{{"x":{inner},"type":"m"}}}}}}"#
                );
                assert_eq!(
                    crate::Frame::is_plain_envelope(&in_event),
                    3 + n as u32 <= MAX_DEPTH,
                    "{n}"
                );
                agree(&in_event);
                // Unbalanced: one closer too few, one too many, the wrong one.
                for bad in [
                    format!("{}1{}", open.repeat(n), close.repeat(n - 1)),
                    format!("{}1{}", open.repeat(n), close.repeat(n + 1)),
                    format!("{}1{}{}", open.repeat(n), close.repeat(n - 1), wrong),
                ] {
                    let f = format!(
                        r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":{bad}}}}}"#
                    );
                    assert!(!crate::Frame::is_plain_envelope(&f), "{f}");
                    agree(&f);
                }
            }
        }
    }

    #[test]
    fn retry_attempt_numbers_agree_with_serde() {
        for (v, fast) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("10", Some(10)),
            ("4294967295", Some(u32::MAX)),
            ("0004", None),
            ("00", None),
            ("01", None),
            ("4294967296", None),
            ("9999999999", None),
            ("12345678901", None),
            ("99999999999999999999999", None),
            ("0e0", None),
            ("0.0", None),
            ("1E1", None),
            ("1.", None),
            ("-0", None),
            ("-1", None),
            ("+1", None),
            ("1a", None),
            ("\"1\"", None),
            ("null", Some(0)),
            (" 3 ", Some(3)),
        ] {
            let f = format!(
                r#"{{"type":"events_api","envelope_id":"e","payload":{{}},"retry_attempt":{v}}}"#
            );
            let read = scan(&f)
                .filter(|s| s.plain)
                .and_then(|s| s.retry_attempt)
                .map(|r| r.unwrap_or(0));
            assert_eq!(read, fast, "{f}");
            agree(&f);
        }
    }

    #[test]
    fn numbers_and_literals_agree_with_serde() {
        for v in [
            "0",
            "-0",
            "1",
            "-1",
            "10",
            "01",
            "-01",
            "1.",
            "1.0",
            ".1",
            "-",
            "1e",
            "1e+",
            "1E-2",
            "1.5e3",
            "1e3.5",
            "+1",
            "00",
            "0x1",
            "1_0",
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "fals",
            "truex",
            "nulll",
            "True",
            "NaN",
            "Infinity",
            "-Infinity",
            "1 2",
            "[1,]",
            "[,1]",
            "{,}",
            r#"{"a":1,}"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{1:2}"#,
            "[]",
            "{}",
            "[ ]",
            "{ }",
            "[[],[[]],{}]",
        ] {
            for f in [
                format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":{v}}}}}"#),
                format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":[{v}]}}}}"#),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"event":{{"type":{v}}}}}}}"#
                ),
                format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{}},"x":{v}}}"#),
            ] {
                agree(&f);
            }
        }
    }

    #[test]
    fn bad_member_punctuation_agrees_with_serde_at_every_level() {
        // What may stand between a key and its value, and after the value.
        for (colon, comma) in [
            (":", ","),
            (",", ","),
            (" ", ","),
            ("", ","),
            ("::", ","),
            (";", ","),
            (" : ", " , "),
            ("\t:\n", "\r,\n"),
            (":", ""),
            (":", " "),
            (":", ":"),
            (":", ",,"),
            (":", ";"),
            ("\u{1}:", ","),
            (":", "\u{1},"),
        ] {
            let m = |k: &str, v: &str| format!(r#""{k}"{colon}{v}"#);
            for f in [
                format!(
                    "{{{}{comma}{}{comma}{}{comma}{}}}",
                    m("type", r#""events_api""#),
                    m("envelope_id", r#""e""#),
                    m("x", "1"),
                    m("payload", "{}")
                ),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{{}{comma}{}{comma}{}}}}}"#,
                    m("a", r#""b""#),
                    m("event_id", r#""Ev1""#),
                    m("c", "[1]")
                ),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"event":{{{}{comma}{}{comma}{}}}}}}}"#,
                    m("a", r#""b""#),
                    m("type", r#""m""#),
                    m("c", "null")
                ),
                format!(
                    r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":[{{{}{comma}{}}}]}}}}"#,
                    m("a", r#""b""#),
                    m("c", "{}")
                ),
            ] {
                agree(&f);
            }
        }
    }

    #[test]
    fn special_finds_the_first_special_byte() {
        // Against a byte-at-a-time reference, for every byte value at every position, behind
        // every other byte value.
        let is_special = |c: u8| c < 0x20 || c == b'"' || c == b'\\';
        for pos in 0..8 {
            for c in 0..=255u8 {
                for before in [
                    0u8, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xff,
                ] {
                    let mut w = [b'a'; 8];
                    for x in w.iter_mut().take(pos) {
                        *x = before;
                    }
                    if let Some(x) = w.get_mut(pos) {
                        *x = c;
                    }
                    let want = w.iter().position(|&x| is_special(x));
                    let got = special(u64::from_le_bytes(w));
                    let got = (got != 0).then(|| (got.trailing_zeros() / 8) as usize);
                    assert_eq!(got, want, "{w:?}");
                }
            }
        }
    }

    #[test]
    fn reads_what_serde_reads() {
        for f in [
            r#" { "x" : [1, -0.5e+3, true, null, {"y":"\"}\u00e9"}] , "payload" : { "event_id" : "Ev1" , "event_id" : 5 } , "type" : "events_api" , "envelope_id" : "e1" , "retry_attempt" : 3 , "retry_reason" : "timeout" , "accepts_response_payload" : null } "#,
            r#"{"type":"events_api","envelope_id":"e","payload":{"event_id":"Ev\u0031\n"}}"#,
            r#"{"type":"events_api","envelope_id":"e","payload":{"event_id":"\ud800"}}"#,
            r#"{"type":"slash_commands","envelope_id":"e","payload":{"event_id":"Ev1"},"accepts_response_payload":true}"#,
            r#"{"type":"interactive","envelope_id":"é","payload":{ },"retry_reason":""}"#,
        ] {
            assert!(crate::Frame::is_plain_envelope(f), "{f}");
            agree(f);
        }
        let deep = format!(
            r#"{{"type":"events_api","envelope_id":"e","payload":{{"a":{}1{}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(!crate::Frame::is_plain_envelope(&deep));
        // Nested deeper than the scan goes: refused (serde_json alone would take it).
        assert!(matches!(
            Frame::parse(deep.as_str()),
            Err(crate::Error::InvalidJson { .. })
        ));
        agree(&deep);
    }

    /// A JSON value as text, with strings that need escapes, odd numbers and random spacing.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,12})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            "[a-zA-Z0-9 ]{0,40}".prop_map(|s| format!("\"{s}\"")),
            Just(r#""\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t""#.to_owned()),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((inner.clone(), ws()), 0..6).prop_map(|items| {
                    let body: Vec<String> = items
                        .into_iter()
                        .map(|(v, w)| format!("{w}{v}{w}"))
                        .collect();
                    format!("[{}]", body.join(","))
                }),
                prop::collection::vec((key(), inner, ws()), 0..6).prop_map(|items| {
                    let body: Vec<String> = items
                        .into_iter()
                        .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}{w}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\n\t "), 1 => Just("\r")]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\"event_id\"".to_owned()),
            Just("\"event\\u005fid\"".to_owned()),
            Just("\"type\"".to_owned()),
            "[a-z_]{0,10}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    /// A frame shaped like an envelope, with each known field present or not, valid or not,
    /// sometimes twice, in any order.
    fn envelope_frame() -> impl Strategy<Value = String> {
        // Mostly once with a value serde takes (the first `good` ones), sometimes absent,
        // twice or of a type serde rejects.
        let field = |name: &'static str, values: Vec<&'static str>, good: usize| {
            let good_values: Vec<&'static str> = values.iter().take(good).copied().collect();
            (
                prop_oneof![4 => prop::sample::select(good_values), 1 => prop::sample::select(values)],
                prop_oneof![1 => Just(0u8), 6 => Just(1u8), 1 => Just(2u8)],
            )
                .prop_map(move |(v, times)| {
                    (0..times).map(|_| format!("\"{name}\":{v}")).collect::<Vec<_>>()
                })
        };
        let payload = (
            prop::collection::vec((key(), json_value()), 0..5),
            prop::option::of("[A-Za-z0-9]{1,12}"),
        )
            .prop_map(|(fields, id)| {
                let mut parts: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                if let Some(id) = id {
                    parts.push(format!("\"event_id\":\"{id}\""));
                }
                format!("{{{}}}", parts.join(","))
            });
        (
            field(
                "type",
                vec![
                    "\"events_api\"",
                    "\"slash_commands\"",
                    "\"interactive\"",
                    "\"hello\"",
                    "\"disconnect\"",
                    "\"brand_new\"",
                    "null",
                    "7",
                    "\"events\\u005fapi\"",
                ],
                3,
            ),
            field(
                "envelope_id",
                vec!["\"e-1\"", "\"é🎉\"", "\"\"", "null", "3", "\"e\\\"1\""],
                2,
            ),
            field(
                "accepts_response_payload",
                vec!["true", "false", "null", "\"yes\"", "1"],
                3,
            ),
            field(
                "retry_attempt",
                vec![
                    "0",
                    "3",
                    "4294967295",
                    "null",
                    "4294967296",
                    "-1",
                    "-0",
                    "1.5",
                    "1e2",
                    "\"1\"",
                ],
                4,
            ),
            field(
                "retry_reason",
                vec!["\"\"", "\"timeout\"", "null", "1", "\"a\\nb\""],
                3,
            ),
            prop::option::weighted(0.1, prop::sample::select(vec!["\"warning\"", "1"])).prop_map(
                |r| {
                    r.map(|r| format!("\"reason\":{r}"))
                        .into_iter()
                        .collect::<Vec<_>>()
                },
            ),
            (
                prop::option::weighted(0.9, payload),
                prop_oneof![6 => Just(0u8), 1 => Just(1u8)],
            ),
            prop::collection::vec((key(), json_value()), 0..3),
            any::<u64>(),
        )
            .prop_map(
                |(t, id, acc, attempt, reason, dreason, (payload, twice), extra, seed)| {
                    let mut parts: Vec<String> = [t, id, acc, attempt, reason, dreason]
                        .into_iter()
                        .flatten()
                        .collect();
                    if let Some(p) = payload {
                        for _ in 0..=twice {
                            parts.push(format!("\"payload\":{p}"));
                        }
                    }
                    parts.extend(extra.into_iter().map(|(k, v)| format!("{k}:{v}")));
                    // A cheap shuffle from the seed.
                    let n = parts.len();
                    for i in 0..n {
                        let j = (seed.rotate_left(i as u32 * 7) as usize) % n;
                        parts.swap(i, j);
                    }
                    format!("{{{}}}", parts.join(","))
                },
            )
    }

    /// Damages a text: cut it, drop a character, or insert one.
    fn damaged() -> impl Strategy<Value = String> {
        (
            envelope_frame(),
            any::<prop::sample::Index>(),
            0..3u8,
            any::<char>(),
        )
            .prop_map(|(text, at, how, c)| {
                let chars: Vec<char> = text.chars().collect();
                let i = at.index(chars.len() + 1);
                let mut out: String = chars.iter().take(i).collect();
                match how {
                    0 => {}
                    1 => out.extend(chars.iter().skip(i + 1)),
                    _ => {
                        out.push(c);
                        out.extend(chars.iter().skip(i));
                    }
                }
                out
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

        #[test]
        fn agrees_with_serde_on_envelope_shaped_frames(text in envelope_frame()) {
            agree(&text);
        }

        #[test]
        fn agrees_with_serde_on_damaged_frames(text in damaged()) {
            agree(&text);
        }

        #[test]
        fn agrees_with_serde_on_arbitrary_text(text in any::<String>()) {
            agree(&text);
        }

        #[test]
        fn agrees_with_serde_on_json_like_text(text in "[{}\\[\\]\",:0-9a-z_\\\\ .eE+-]{0,80}") {
            agree(&text);
            let framed = format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{"event_id":"E","x":{text}}}}}"#);
            agree(&framed);
        }

        #[test]
        fn agrees_with_serde_on_arbitrary_keys(
            k in any::<String>(),
            v in json_value(),
            level in 0..4u8,
            ascii_escapes in any::<bool>(),
        ) {
            // Keys as serde writes them (escapes where needed), or with every ASCII letter
            // written as `\u00XX`.
            let key = if ascii_escapes {
                let mut out = String::from("\"");
                for c in k.chars() {
                    if c.is_ascii_alphanumeric() {
                        out.push_str(&format!("\\u{:04x}", u32::from(c)));
                    } else {
                        out.push_str(serde_json::to_string(&c.to_string()).unwrap_or_default().trim_matches('"'));
                    }
                }
                out.push('"');
                out
            } else {
                serde_json::to_string(&k).unwrap_or_default()
            };
            let text = match level {
                0 => format!(r#"{{{key}:{v},"type":"events_api","envelope_id":"e","payload":{{}}}}"#),
                1 => format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{{key}:{v},"event_id":"E"}}}}"#),
                2 => format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{"event":{{{key}:{v},"type":"t"}}}}}}"#),
                _ => format!(r#"{{"type":"events_api","envelope_id":"e","payload":{{"x":[{{{key}:{v}}}]}}}}"#),
            };
            agree(&text);
        }

        #[test]
        fn valid_envelopes_take_the_fast_path(payload in json_value(), id in "[A-Za-z0-9-]{1,40}") {
            let text = format!(r#"{{"envelope_id":"{id}","payload":{{"event_id":"Ev{id}","v":{payload}}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}}"#);
            prop_assert!(crate::Frame::is_plain_envelope(&text), "{}", text);
            agree(&text);
        }
    }
}

#[cfg(test)]
mod event_type_tests {
    use crate::Frame;
    use proptest::prelude::*;

    /// `payload.event.type` as serde_json's `Value` reads it (the last of repeated keys
    /// counts; only an object's `type` that is a string).
    fn serde_peek(payload: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(payload).ok()?;
        v.get("event")?.get("type")?.as_str().map(str::to_owned)
    }

    fn check(payload: &str) {
        let text = format!(r#"{{"envelope_id":"e","type":"events_api","payload":{payload}}}"#);
        let Ok(Frame::Envelope(env)) = Frame::parse(text.as_str()) else {
            return;
        };
        assert_eq!(
            env.event_type().map(|c| c.into_owned()),
            serde_peek(env.payload_json()),
            "{text}"
        );
    }

    #[test]
    fn event_type_agrees_with_serde_on_corner_cases() {
        for p in [
            r#"{"event":{"type":"message","text":"hi"}}"#,
            r#"{"event":{"text":"hi"}}"#,
            r#"{"event":null}"#,
            r#"{}"#,
            r#"{"event":{"type":null}}"#,
            r#"{"event":{"type":5}}"#,
            r#"{"event":"message"}"#,
            r#"{"event":{"type":"a"b"}}"#,
            r#"{"event":{"type":"message"}}"#,
            r#"{"event":{"type":"message","type":"other"}}"#,
            r#"{"event":{"type":"message"},"event":{"type":"other"}}"#,
            r#"{"event":{"x":{"type":"inner"},"type":"outer"}}"#,
            r#"{"event":{"type":"message"},"x":{"event":{"type":"no"}}}"#,
            r#"{"event":[{"type":"message"}]}"#,
        ] {
            check(p);
        }
    }

    /// `event.user` and `event.bot_id` (for recognising a bot's own events) read as
    /// serde_json's `Value` reads them: strings only, escapes decoded, the last one wins.
    #[test]
    fn event_user_and_bot_id_agree_with_serde() {
        for p in [
            r#"{"event":{"type":"message","user":"U1","bot_id":"B1"}}"#,
            r#"{"event":{"user":{"id":"U1"},"bot_id":7}}"#,
            r#"{"event":{"user":["U1"],"bot_id":null}}"#,
            r#"{"event":{"user":"U\u0031","b\u006ft_id":"B\u0031"}}"#,
            r#"{"event":{"user":"U1","user":"U2","bot_id":"B1","bot_id":{}}}"#,
            r#"{"event":{"user":"U1"},"event":{"bot_id":"B2"}}"#,
            r#"{"event":{"x":{"user":"inner"},"user":"outer"}}"#,
            r#"{"user":"U1","bot_id":"B1","event":{"type":"x"}}"#,
            r#"{"event":"U1"}"#,
        ] {
            let text = format!(r#"{{"envelope_id":"e","type":"events_api","payload":{p}}}"#);
            let Ok(Frame::Envelope(env)) = Frame::parse(text.as_str()) else {
                panic!("{text}");
            };
            let v: serde_json::Value = serde_json::from_str(env.payload_json()).unwrap();
            let field = |k: &str| {
                v.get("event")
                    .and_then(|e| e.get(k))
                    .and_then(|s| s.as_str())
            };
            assert_eq!(env.event_user(), field("user"), "{text}");
            assert_eq!(env.event_bot_id(), field("bot_id"), "{text}");
        }
        // Only an `events_api` payload has an event.
        let Ok(Frame::Envelope(env)) = Frame::parse(
            r#"{"envelope_id":"e","type":"interactive","payload":{"event":{"user":"U1"}}}"#,
        ) else {
            panic!()
        };
        assert_eq!(env.event_user(), None);
    }

    #[test]
    fn plain_event_types_are_read_by_the_scan() {
        use super::{TextAt, scan};
        let event_type = |text: &str| {
            let s = scan(text).unwrap();
            assert!(s.plain, "{text}");
            s.payload.unwrap().event_type
        };
        let text =
            r#"{"envelope_id":"e","type":"events_api","payload":{"event":{"type":"message"}}}"#;
        let Some(TextAt::Range(r)) = event_type(text) else {
            panic!("{:?}", event_type(text))
        };
        assert_eq!(text.get(r), Some("message"));
        // An escaped key is decoded; an escaped value too.
        let escaped = r#"{"envelope_id":"e","type":"events_api","payload":{"event":{"typ\u0065":"message"}}}"#;
        assert!(matches!(event_type(escaped), Some(TextAt::Range(_))));
        let escaped =
            r#"{"envelope_id":"e","type":"events_api","payload":{"event":{"type":"m\u0065"}}}"#;
        assert_eq!(event_type(escaped), Some(TextAt::Decoded("me".into())));
        let none = r#"{"envelope_id":"e","type":"events_api","payload":{"event_id":"Ev1"}}"#;
        assert_eq!(event_type(none), None);
    }

    #[test]
    fn fixtures_give_their_event_type() {
        for (f, want) in [
            (
                include_str!("../tests/fixtures/socket_mode_events_api_app_mention.json"),
                "app_mention",
            ),
            (
                include_str!("../tests/fixtures/socket_mode_events_api_message_retry.json"),
                "message",
            ),
        ] {
            let Ok(Frame::Envelope(env)) = Frame::parse(f) else {
                panic!("not an envelope")
            };
            assert_eq!(env.event_type().as_deref(), Some(want));
        }
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""message""#.to_owned()),
            Just(r#""app_mention""#.to_owned()),
            Just("null".to_owned()),
            Just("5".to_owned()),
            Just("[]".to_owned()),
            Just(r#"{"type":"nested"}"#.to_owned()),
            "[a-z_]{0,8}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""type""#.to_owned()),
            Just(r#""type""#.to_owned()),
            Just(r#""text""#.to_owned()),
            Just(r#""event""#.to_owned()),
        ]
    }

    fn object() -> impl Strategy<Value = String> {
        prop::collection::vec((key(), value()), 0..4).prop_map(|kv| {
            let fields: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{{{}}}", fields.join(","))
        })
    }

    proptest! {
        #[test]
        fn event_type_agrees_with_serde(
            events in prop::collection::vec(prop_oneof![object(), value()], 0..3),
            extra in value(),
        ) {
            let mut fields: Vec<String> = events.into_iter().map(|e| format!(r#""event":{e}"#)).collect();
            fields.push(format!(r#""event_id":"Ev1","x":{extra}"#));
            check(&format!("{{{}}}", fields.join(",")));
        }
    }
}
