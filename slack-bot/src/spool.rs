//! The shutdown spool: requests acked but not yet handled when the shutdown deadline passed
//! are written to a directory (JSON lines, fsync'd, bounded), and the next start runs them
//! before it takes new work. Slack will not redeliver an acked request, so without a spool
//! they would be lost; the bot counts them instead ([`RunReport::dropped`](crate::RunReport)).
//!
//! One file per shutdown, `spool-<time>-<pid>.jsonl`, written under a temporary name, synced
//! and renamed, so a crash while writing leaves no half file to run. A line holds one
//! envelope's frame as Slack sent it: `{"frame":"…"}`. Files are removed once read (before
//! their requests run: a crash then loses them, it never runs them twice).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use slack_envelope::{Envelope, Frame};

/// Where and how much.
#[derive(Debug, Clone)]
pub(crate) struct SpoolConfig {
    pub(crate) dir: PathBuf,
    /// Requests at most, per shutdown and per start.
    pub(crate) max_count: usize,
    /// Bytes of lines at most, per shutdown and per start.
    pub(crate) max_bytes: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    frame: std::borrow::Cow<'a, str>,
}

const PREFIX: &str = "spool-";
const SUFFIX: &str = ".jsonl";

/// Writes `envelopes` (in order) to a new spool file, as many as the bounds allow. Returns how
/// many were written.
pub(crate) fn write(cfg: &SpoolConfig, envelopes: &[Envelope]) -> std::io::Result<usize> {
    if envelopes.is_empty() {
        return Ok(0);
    }
    create_private_dir(&cfg.dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = format!("{PREFIX}{stamp:024}-{}{SUFFIX}", std::process::id());
    let tmp = cfg.dir.join(format!(".{name}.tmp"));
    let mut out = Vec::new();
    let mut written = 0;
    for envelope in envelopes.iter().take(cfg.max_count) {
        let line = Line {
            frame: envelope.frame_text().into(),
        };
        let mut bytes = serde_json::to_vec(&line)?;
        bytes.push(b'\n');
        if out.len() + bytes.len() > cfg.max_bytes {
            break;
        }
        out.extend_from_slice(&bytes);
        written += 1;
    }
    if written == 0 {
        return Ok(0);
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // Payloads carry Slack's verification token: readable by the bot's user only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(&out)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, cfg.dir.join(&name))?;
    sync_dir(&cfg.dir);
    Ok(written)
}

/// What [`take`] found.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// The requests to run, oldest first.
    pub(crate) envelopes: Vec<Envelope>,
    /// Lines that could not be read as an envelope, or beyond the bounds.
    pub(crate) skipped: usize,
}

/// Reads every spool file in `cfg.dir` (oldest first, within the bounds) and removes them.
/// A directory that does not exist holds nothing.
pub(crate) fn take(cfg: &SpoolConfig) -> std::io::Result<Taken> {
    let mut taken = Taken::default();
    let entries = match fs::read_dir(&cfg.dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(taken),
        Err(e) => return Err(e),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_spool_file(p))
        .collect();
    files.sort();
    let mut bytes = 0usize;
    for path in &files {
        let file = File::open(path)?;
        // A line longer than the whole budget is not read into memory.
        let limit = (cfg.max_bytes.saturating_sub(bytes) as u64).saturating_add(1);
        let mut reader = BufReader::new(file.take(limit));
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(n) => {
                    bytes += n;
                    if bytes > cfg.max_bytes || taken.envelopes.len() >= cfg.max_count {
                        taken.skipped += 1;
                        continue;
                    }
                    match parse_line(&line) {
                        Some(e) => taken.envelopes.push(e),
                        None => taken.skipped += 1,
                    }
                }
                Err(_) => {
                    taken.skipped += 1;
                    break;
                }
            }
        }
    }
    for path in &files {
        fs::remove_file(path)?;
    }
    if !files.is_empty() {
        sync_dir(&cfg.dir);
    }
    Ok(taken)
}

/// The requests spooled at the last shutdown, oldest first (none without a spool), logged.
pub(crate) fn restore(cfg: Option<&SpoolConfig>) -> Vec<Envelope> {
    let Some(cfg) = cfg else {
        return Vec::new();
    };
    let taken = match take(cfg) {
        Ok(t) => t,
        Err(e) => {
            log::error!("could not read the spool in {}: {e}", cfg.dir.display());
            return Vec::new();
        }
    };
    if taken.skipped > 0 {
        log::warn!(
            "{} spooled line(s) could not be read or were over the spool's bounds; skipped",
            taken.skipped
        );
    }
    if !taken.envelopes.is_empty() {
        log::info!(
            "running {} request(s) spooled at the last shutdown",
            taken.envelopes.len()
        );
    }
    taken.envelopes
}

/// Requests acked but not handled by the shutdown deadline: written to the spool if there is
/// one. Returns how many were spooled and how many are lost (logged).
pub(crate) fn keep(cfg: Option<&SpoolConfig>, envelopes: &[Envelope]) -> (usize, usize) {
    if envelopes.is_empty() {
        return (0, 0);
    }
    let spooled = match cfg {
        Some(cfg) => match write(cfg, envelopes) {
            Ok(n) => {
                log::info!(
                    "{n} acked request(s) not handled by the shutdown deadline were spooled to {}",
                    cfg.dir.display()
                );
                n
            }
            Err(e) => {
                log::error!("could not write the spool in {}: {e}", cfg.dir.display());
                0
            }
        },
        None => 0,
    };
    let dropped = envelopes.len() - spooled;
    if dropped > 0 {
        log::error!(
            "{dropped} acked request(s) were not handled by the shutdown deadline and are lost (Slack does not redeliver acked requests); set a spool directory to keep them"
        );
    }
    (spooled, dropped)
}

fn parse_line(line: &str) -> Option<Envelope> {
    let line: Line<'_> = serde_json::from_str(line.trim_end()).ok()?;
    match Frame::parse(line.frame.into_owned()) {
        Ok(Frame::Envelope(e)) => Some(e),
        _ => None,
    }
}

/// Creates `dir` (and its parents) if missing; a directory created here is private to the
/// bot's user.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn is_spool_file(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
}

/// Makes a rename or removal in `dir` durable (best effort: not every platform can open a
/// directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(id: &str) -> Envelope {
        let text = serde_json::json!({
            "envelope_id": id,
            "type": "events_api",
            "accepts_response_payload": false,
            "payload": {"event_id": format!("Ev{id}"), "event": {"type": "message", "text": "a\nb \"q\""}},
        })
        .to_string();
        match Frame::parse(text) {
            Ok(Frame::Envelope(e)) => e,
            other => panic!("not an envelope: {other:?}"),
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "slack-bot-spool-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn written_requests_come_back_once_in_order() {
        let cfg = SpoolConfig {
            dir: dir("roundtrip"),
            max_count: 100,
            max_bytes: 1 << 20,
        };
        assert_eq!(take(&cfg).unwrap().envelopes.len(), 0);
        let first = vec![envelope("a"), envelope("b")];
        assert_eq!(write(&cfg, &first).unwrap(), 2);
        assert_eq!(write(&cfg, &[envelope("c")]).unwrap(), 1);
        #[cfg(unix)]
        for f in fs::read_dir(&cfg.dir).unwrap() {
            use std::os::unix::fs::PermissionsExt;
            let mode = f.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "spool files are private");
        }
        let taken = take(&cfg).unwrap();
        let ids: Vec<&str> = taken.envelopes.iter().map(|e| e.envelope_id()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(taken.envelopes[0], first[0]);
        assert_eq!(taken.skipped, 0);
        assert!(take(&cfg).unwrap().envelopes.is_empty(), "taken only once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&cfg.dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the spool directory is private");
        }
        let _ = fs::remove_dir_all(&cfg.dir);
    }

    #[test]
    fn bounds_hold_on_write_and_on_read_and_bad_lines_are_skipped() {
        let one = {
            let a = envelope("a");
            let line = Line {
                frame: a.frame_text().into(),
            };
            serde_json::to_vec(&line).unwrap().len() + 1
        };
        let cfg = SpoolConfig {
            dir: dir("bounds"),
            max_count: 3,
            max_bytes: one * 2,
        };
        let many: Vec<Envelope> = ["a", "b", "c", "d"].map(envelope).into();
        assert_eq!(write(&cfg, &many).unwrap(), 2, "by bytes");
        let cfg3 = SpoolConfig {
            max_bytes: 1 << 20,
            ..cfg.clone()
        };
        assert_eq!(write(&cfg3, &many).unwrap(), 3, "by count");
        fs::write(cfg.dir.join("spool-zzz.jsonl"), "not json\n").unwrap();
        fs::write(cfg.dir.join("other.txt"), "ignored").unwrap();
        let taken = take(&cfg3).unwrap();
        assert_eq!(taken.envelopes.len(), 3, "by count on read");
        assert_eq!(taken.skipped, 3);
        assert!(cfg.dir.join("other.txt").exists());
        let _ = fs::remove_dir_all(&cfg.dir);
    }
}
