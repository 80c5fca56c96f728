//! The benchmark stream generator behind `FakeSlack::stream_envelopes`: it writes envelopes
//! from a template straight into a connection's output buffer, keeps a window of them in flight
//! and counts their acks, without touching the shared state.
//!
//! Depends on `types` only; `ws` runs a [`Blast`] inside a connection's loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::types::{StreamReport, StreamSpec};

/// Numbers streams, so envelope ids and event ids differ between streams in one process.
static STREAMS: AtomicU64 = AtomicU64::new(1);
/// Digits of the per-envelope number: 4 for the stream, 10 for the envelope.
const SEQ_DIGITS: usize = 14;
const SEQ_SPLIT: u64 = 10_000_000_000;

/// A benchmark stream as the connection thread runs it (see `FakeSlack::stream_envelopes`).
#[derive(Debug)]
pub(crate) struct StreamJob {
    /// The template split at every placeholder.
    parts: Vec<Vec<u8>>,
    /// The envelope id around the placeholder, to recognise acks.
    id_prefix: Vec<u8>,
    id_suffix: Vec<u8>,
    stream_no: u64,
    count: u64,
    window: usize,
    round_trips: bool,
    reply: crossbeam_channel::Sender<StreamReport>,
}

impl StreamJob {
    /// Checks the spec and prepares the job; `None` when the template has no
    /// `"envelope_id":"…{{seq}}…"`.
    pub(crate) fn new(
        spec: &StreamSpec,
        reply: crossbeam_channel::Sender<StreamReport>,
    ) -> Option<StreamJob> {
        let key = "\"envelope_id\":\"";
        let start = spec.template.find(key)? + key.len();
        let rest = spec.template.get(start..)?;
        let id = rest.get(..rest.find('"')?)?;
        let (id_prefix, id_suffix) = id.split_once(StreamSpec::SEQ)?;
        let parts = spec
            .template
            .split(StreamSpec::SEQ)
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Some(StreamJob {
            parts,
            id_prefix: id_prefix.as_bytes().to_vec(),
            id_suffix: id_suffix.as_bytes().to_vec(),
            stream_no: STREAMS.fetch_add(1, Ordering::Relaxed) % 10_000,
            count: spec.count,
            window: spec.in_flight.max(1),
            round_trips: spec.round_trips,
            reply,
        })
    }
}

/// A running stream.
pub(crate) struct Blast {
    job: StreamJob,
    frame_len: usize,
    next: u64,
    acked: u64,
    /// Envelope number -> when it was queued for writing.
    pending: HashMap<u64, Instant>,
    started: Instant,
    last_ack: Instant,
    round_trips: Vec<Duration>,
}

impl Blast {
    pub(crate) fn new(job: StreamJob) -> Blast {
        let markers = job.parts.len().saturating_sub(1);
        let frame_len = job.parts.iter().map(Vec::len).sum::<usize>() + markers * SEQ_DIGITS;
        let now = Instant::now();
        Blast {
            round_trips: Vec::with_capacity(if job.round_trips {
                usize::try_from(job.count).unwrap_or(0).min(10_000_000)
            } else {
                0
            }),
            pending: HashMap::with_capacity(job.window * 2),
            frame_len,
            next: 0,
            acked: 0,
            started: now,
            last_ack: now,
            job,
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.acked >= self.job.count
    }

    /// Writes envelopes until the window is full or all are sent.
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>) {
        if self.next >= self.job.count || self.pending.len() >= self.job.window {
            return;
        }
        let now = Instant::now();
        while self.next < self.job.count && self.pending.len() < self.job.window {
            let seq = self.next;
            self.next += 1;
            let header = FrameHeader {
                is_final: true,
                opcode: OpCode::Data(Data::Text),
                mask: None,
                ..FrameHeader::default()
            };
            let _ = header.format(self.frame_len as u64, out);
            let mut digits = [b'0'; SEQ_DIGITS];
            let mut v = self.job.stream_no * SEQ_SPLIT + seq;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
            for (i, part) in self.job.parts.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(&digits);
                }
                out.extend_from_slice(part);
            }
            self.pending.insert(seq, now);
        }
    }

    /// Takes an ack of one of this stream's envelopes; false if the frame is something else.
    pub(crate) fn take_ack(&mut self, data: &[u8]) -> bool {
        let Some(id) = find_envelope_id(data) else {
            return false;
        };
        let Some(num) = id
            .strip_prefix(self.job.id_prefix.as_slice())
            .and_then(|r| r.strip_suffix(self.job.id_suffix.as_slice()))
        else {
            return false;
        };
        if num.len() != SEQ_DIGITS || !num.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let v = num
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        if v / SEQ_SPLIT != self.job.stream_no {
            return false;
        }
        let Some(sent) = self.pending.remove(&(v % SEQ_SPLIT)) else {
            // A second ack of the same envelope: still ours, nothing to count.
            return true;
        };
        let now = Instant::now();
        self.acked += 1;
        self.last_ack = now;
        if self.job.round_trips {
            self.round_trips.push(now.saturating_duration_since(sent));
        }
        true
    }

    pub(crate) fn finish(self, aborted: Option<String>) {
        let report = StreamReport {
            sent: self.next,
            acked: self.acked,
            elapsed: self.last_ack.saturating_duration_since(self.started),
            round_trips: self.round_trips,
            aborted,
        };
        let _ = self.job.reply.send(report);
    }
}

/// The value of the first `"envelope_id"` in a JSON text, by a plain scan (no unescaping).
fn find_envelope_id(data: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"envelope_id\"";
    let at = data.windows(KEY.len()).position(|w| w == KEY)?;
    let mut rest = data.get(at + KEY.len()..)?;
    while let Some((c, r)) = rest.split_first() {
        if c.is_ascii_whitespace() || *c == b':' {
            rest = r;
        } else {
            break;
        }
    }
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|c| *c == b'"')?;
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(template: &str, count: u64, in_flight: usize) -> StreamSpec {
        StreamSpec {
            template: template.to_string(),
            count,
            in_flight,
            round_trips: true,
            timeout: Duration::from_secs(1),
        }
    }

    /// Splits `out` into the text payloads of the unmasked frames the generator wrote.
    fn frames(mut out: &[u8]) -> Vec<String> {
        let mut texts = Vec::new();
        while !out.is_empty() {
            let mut cur = std::io::Cursor::new(out);
            let Ok(Some((_, len))) = FrameHeader::parse(&mut cur) else {
                panic!("not a frame header");
            };
            let start = usize::try_from(cur.position()).unwrap_or(usize::MAX);
            let end = start + usize::try_from(len).unwrap_or(usize::MAX);
            texts.push(String::from_utf8(out[start..end].to_vec()).unwrap_or_default());
            out = &out[end..];
        }
        texts
    }

    #[test]
    fn a_template_without_the_placeholder_in_its_envelope_id_is_refused() {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        assert!(StreamJob::new(&spec(r#"{"envelope_id":"fixed"}"#, 1, 1), tx.clone()).is_none());
        assert!(StreamJob::new(&spec(r#"{"event_id":"E{{seq}}"}"#, 1, 1), tx).is_none());
    }

    #[test]
    fn keeps_the_window_counts_each_ack_once_and_reports() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let template = r#"{"envelope_id":"e-{{seq}}-x","payload":{"event_id":"Ev{{seq}}"}}"#;
        let job = StreamJob::new(&spec(template, 3, 2), tx);
        let mut blast = Blast::new(job.unwrap_or_else(|| panic!("valid template")));
        let mut out = Vec::new();
        blast.fill(&mut out);
        let sent = frames(&out);
        assert_eq!(sent.len(), 2, "the window is 2");
        let first: serde_json::Value = serde_json::from_str(&sent[0]).unwrap_or_default();
        let id = first["envelope_id"].as_str().unwrap_or("").to_string();
        assert_eq!(id.len(), "e--x".len() + SEQ_DIGITS);
        assert!(
            sent[0].contains(&id[2..2 + SEQ_DIGITS]),
            "every placeholder is replaced"
        );
        assert!(!sent[0].contains(StreamSpec::SEQ));

        let ack = format!(r#"{{"envelope_id": "{id}"}}"#);
        assert!(blast.take_ack(ack.as_bytes()));
        assert!(blast.take_ack(ack.as_bytes()), "a second ack is still ours");
        assert_eq!(blast.acked, 1);
        assert!(!blast.take_ack(br#"{"envelope_id":"someone-else"}"#));
        assert!(!blast.take_ack(br#"{"type":"hello"}"#));

        out.clear();
        blast.fill(&mut out);
        let rest = frames(&out);
        assert_eq!(rest.len(), 1, "one slot freed, one envelope left");
        for text in sent.iter().skip(1).chain(rest.iter()) {
            let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            let ack = format!(
                r#"{{"envelope_id":"{}"}}"#,
                v["envelope_id"].as_str().unwrap_or("")
            );
            assert!(blast.take_ack(ack.as_bytes()));
        }
        assert!(blast.done());
        blast.finish(None);
        let report = rx.try_recv().unwrap_or_default();
        assert_eq!((report.sent, report.acked), (3, 3));
        assert_eq!(report.round_trips.len(), 3);
        assert_eq!(report.aborted, None);
    }
}
