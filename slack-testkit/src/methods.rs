//! The fake workspace behind the read and upload methods (`conversations.*`, `users.*`,
//! `team.info`, `files.*`, `chat.getPermalink`, `pins.add`, …), cursor pagination, and the
//! stubs users install with `FakeSlack::stub`.
//!
//! Like Slack, only the write methods in [`JSON_METHODS`] read a JSON body: any other method
//! called with a JSON body sees no arguments and answers `invalid_arguments` with
//! `[ERROR] missing required field: …` (what Slack answers, e.g. for `conversations.history`
//! without a `channel`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use crate::config::Config;

/// The methods whose JSON body Slack reads (the same table as `slack_web::encoding`).
pub(crate) const JSON_METHODS: &[&str] = &[
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
    // Not a Slack rule, a testkit convenience: api.test echoes whatever it gets.
    "api.test",
];

/// Whether the fake reads a JSON body for `method`.
pub(crate) fn reads_json(method: &str) -> bool {
    JSON_METHODS.contains(&method)
}

/// Messages kept for `conversations.history`.
const MAX_STORED: usize = 20_000;

/// The default page size of paginated methods (Slack's default is 100; the most is 1000).
const DEFAULT_LIMIT: usize = 100;

/// One stored message.
#[derive(Debug, Clone)]
struct Stored {
    channel: String,
    message: Value,
}

/// One file: its metadata and, once uploaded, its bytes' length.
#[derive(Debug, Clone)]
struct FakeFile {
    name: String,
    length: u64,
    uploaded: Option<usize>,
    completed: Option<Value>,
}

/// The fake workspace: channels, users, messages, files, stubs.
#[derive(Debug, Default)]
pub(crate) struct WebState {
    seeded: bool,
    /// Channels by id, in creation order (BTreeMap over zero-padded ids keeps that order).
    channels: BTreeMap<String, Value>,
    members: HashMap<String, Vec<String>>,
    users: BTreeMap<String, Value>,
    messages: Vec<Stored>,
    files: HashMap<String, FakeFile>,
    next_id: u64,
    /// `stub(method, answer)`: every later call of `method` gets `answer`.
    pub(crate) stubs: HashMap<String, Value>,
    /// Ids of messages scheduled by `chat.scheduleMessage` and not deleted since.
    pub(crate) scheduled: HashSet<String>,
}

/// A method's answer: HTTP status and JSON.
pub(crate) type Answer = (u16, Value);

fn ok(extra: Value) -> Answer {
    let mut v = json!({"ok": true});
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    (200, v)
}

fn fail(error: &str) -> Answer {
    (200, json!({"ok": false, "error": error}))
}

/// Turns an [`Answer`] into the web module's (status, json, headers).
pub(crate) trait IntoAnswer {
    fn into_answer(self) -> (u16, Value, Vec<(String, String)>);
}

impl IntoAnswer for Answer {
    fn into_answer(self) -> (u16, Value, Vec<(String, String)>) {
        (self.0, self.1, Vec::new())
    }
}

/// Slack's answer to a missing required argument.
pub(crate) fn missing(field: &str) -> Answer {
    (
        200,
        json!({"ok": false, "error": "invalid_arguments",
            "response_metadata": {"messages": [format!("[ERROR] missing required field: {field}")]}}),
    )
}

fn arg(body: &Value, key: &str) -> Option<String> {
    match body.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn flag(body: &Value, key: &str) -> bool {
    matches!(arg(body, key).as_deref(), Some("true" | "1"))
}

impl WebState {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:09}", self.next_id)
    }

    /// Creates the default workspace once: `#general`, `#random`, `#testkit` and three users
    /// (plus the bot), all members of every channel.
    pub(crate) fn seed(&mut self, cfg: &Config) {
        if self.seeded {
            return;
        }
        self.seeded = true;
        let bot = cfg.bot_user_id.clone();
        self.users.insert(
            bot.clone(),
            user_json(cfg, &bot, "testkit-bot", "Testkit Bot", true),
        );
        let mut humans = Vec::new();
        for (name, real) in [
            ("alice", "Alice Archer"),
            ("bob", "Bob Baker"),
            ("carol", "Carol Cooper"),
        ] {
            let id = self.id("U");
            self.users
                .insert(id.clone(), user_json(cfg, &id, name, real, false));
            humans.push(id);
        }
        let owner = humans.first().cloned().unwrap_or_else(|| bot.clone());
        for (name, general) in [("general", true), ("random", false), ("testkit", false)] {
            self.add_channel(cfg, name, &owner, general);
        }
    }

    fn add_channel(&mut self, cfg: &Config, name: &str, creator: &str, general: bool) -> String {
        let id = self.id("C");
        let mut members: Vec<String> = self.users.keys().cloned().collect();
        members.sort();
        let ch = json!({
            "id": id, "name": name, "is_channel": true, "is_group": false, "is_im": false,
            "is_mpim": false, "is_private": false, "created": 1_700_000_000u64 + self.next_id,
            "is_archived": false, "is_general": general, "unlinked": 0,
            "name_normalized": name, "is_shared": false, "is_org_shared": false,
            "is_pending_ext_shared": false, "pending_shared": [], "context_team_id": cfg.team_id,
            "updated": 1_700_000_000_000u64, "parent_conversation": null, "creator": creator,
            "is_ext_shared": false, "shared_team_ids": [cfg.team_id.clone()],
            "is_member": true,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": format!("The #{name} channel"), "creator": creator, "last_set": 1_700_000_000},
            "previous_names": [], "num_members": members.len(),
        });
        self.channels.insert(id.clone(), ch);
        self.members.insert(id.clone(), members);
        id
    }

    /// Adds `n` more public channels (`channel-1`, …), to exercise pagination.
    pub(crate) fn add_channels(&mut self, cfg: &Config, n: usize) {
        self.seed(cfg);
        let creator = cfg.bot_user_id.clone();
        let start = self.channels.len();
        for i in 0..n {
            self.add_channel(cfg, &format!("channel-{}", start + i + 1), &creator, false);
        }
    }

    /// Records a posted message so that history, replies and permalinks can find it.
    /// Only the newest [`MAX_STORED`] are kept (benchmarks and soak runs post many).
    pub(crate) fn store_message(&mut self, channel: &str, message: &Value) {
        if self.messages.len() >= MAX_STORED {
            self.messages.drain(..MAX_STORED / 2);
        }
        self.messages.push(Stored {
            channel: channel.to_string(),
            message: message.clone(),
        });
    }

    /// Records the bytes posted to an upload URL. `None`: no such upload.
    pub(crate) fn upload(&mut self, file_id: &str, len: usize) -> Option<()> {
        let f = self.files.get_mut(file_id)?;
        f.uploaded = Some(len);
        Some(())
    }

    fn channel(&self, id: &str) -> Option<Value> {
        if let Some(c) = self.channels.get(id) {
            return Some(c.clone());
        }
        // DMs opened with conversations.open.
        id.starts_with('D').then(|| {
            json!({"id": id, "is_im": true, "is_channel": false, "is_private": true,
                "created": 1_700_000_000, "is_org_shared": false, "priority": 0})
        })
    }

    /// Answers the methods this module knows; `None` for the others.
    pub(crate) fn answer(
        &mut self,
        cfg: &Config,
        base: &str,
        method: &str,
        body: &Value,
    ) -> Option<Answer> {
        self.seed(cfg);
        Some(match method {
            "conversations.list" => {
                let types = arg(body, "types").unwrap_or_else(|| "public_channel".into());
                let exclude_archived = flag(body, "exclude_archived");
                let all: Vec<Value> = if types.split(',').any(|t| t.trim() == "public_channel") {
                    self.channels
                        .values()
                        .filter(|c| !(exclude_archived && c["is_archived"] == true))
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                match page(&all, body) {
                    Ok((items, next)) => ok(json!({"channels": items,
                        "response_metadata": {"next_cursor": next}})),
                    Err(e) => e,
                }
            }
            "conversations.info" => {
                let Some(id) = arg(body, "channel") else {
                    return Some(missing("channel"));
                };
                match self.channel(&id) {
                    Some(c) => ok(json!({"channel": c})),
                    None => fail("channel_not_found"),
                }
            }
            "conversations.members" => {
                let Some(id) = arg(body, "channel") else {
                    return Some(missing("channel"));
                };
                let Some(members) = self.members.get(&id) else {
                    return Some(fail("channel_not_found"));
                };
                let all: Vec<Value> = members.iter().map(|m| json!(m)).collect();
                match page(&all, body) {
                    Ok((items, next)) => ok(json!({"members": items,
                        "response_metadata": {"next_cursor": next}})),
                    Err(e) => e,
                }
            }
            "conversations.join" => {
                let Some(id) = arg(body, "channel") else {
                    return Some(missing("channel"));
                };
                match self.channel(&id) {
                    Some(c) => {
                        let already = self
                            .members
                            .get(&id)
                            .is_some_and(|m| m.contains(&cfg.bot_user_id));
                        let mut a = ok(json!({"channel": c}));
                        if already {
                            if let Some(o) = a.1.as_object_mut() {
                                o.insert("warning".into(), json!("already_in_channel"));
                                o.insert(
                                    "response_metadata".into(),
                                    json!({"warnings": ["already_in_channel"]}),
                                );
                            }
                        }
                        a
                    }
                    None => fail("channel_not_found"),
                }
            }
            "conversations.open" => {
                if let Some(id) = arg(body, "channel") {
                    return Some(match self.channel(&id) {
                        Some(c) => ok(json!({"channel": c})),
                        None => fail("channel_not_found"),
                    });
                }
                let Some(users) = arg(body, "users") else {
                    return Some(fail("users_list_not_supplied"));
                };
                if users.split(',').any(|u| !self.users.contains_key(u.trim())) {
                    return Some(fail("user_not_found"));
                }
                let id = self.id("D");
                if flag(body, "return_im") {
                    ok(json!({"channel": self.channel(&id)}))
                } else {
                    ok(json!({"no_op": false, "already_open": false, "channel": {"id": id}}))
                }
            }
            "conversations.history" => {
                let Some(id) = arg(body, "channel") else {
                    return Some(missing("channel"));
                };
                if self.channel(&id).is_none() {
                    return Some(fail("channel_not_found"));
                }
                let oldest = arg(body, "oldest").and_then(|t| t.parse::<f64>().ok());
                let latest = arg(body, "latest").and_then(|t| t.parse::<f64>().ok());
                // Newest first; thread replies stay out of history (unless broadcast).
                let mut all: Vec<Value> = self
                    .messages
                    .iter()
                    .filter(|m| m.channel == id)
                    .map(|m| m.message.clone())
                    .filter(|m| {
                        let ts = m["ts"].as_str().unwrap_or("");
                        let thread = m["thread_ts"].as_str();
                        thread.is_none_or(|t| t == ts) || m["subtype"] == "thread_broadcast"
                    })
                    .filter(|m| {
                        let ts: f64 = m["ts"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0.0);
                        oldest.is_none_or(|o| ts > o) && latest.is_none_or(|l| ts < l)
                    })
                    .collect();
                all.reverse();
                match page(&all, body) {
                    Ok((items, next)) => ok(json!({"messages": items,
                        "has_more": !next.is_empty(), "pin_count": 0,
                        "channel_actions_ts": null, "channel_actions_count": 0,
                        "response_metadata": {"next_cursor": next}})),
                    Err(e) => e,
                }
            }
            "conversations.replies" => {
                let Some(id) = arg(body, "channel") else {
                    return Some(missing("channel"));
                };
                let Some(ts) = arg(body, "ts") else {
                    return Some(missing("ts"));
                };
                if self.channel(&id).is_none() {
                    return Some(fail("channel_not_found"));
                }
                let all: Vec<Value> = self
                    .messages
                    .iter()
                    .filter(|m| m.channel == id)
                    .map(|m| m.message.clone())
                    .filter(|m| m["ts"] == ts.as_str() || m["thread_ts"] == ts.as_str())
                    .collect();
                if all.is_empty() {
                    return Some(fail("thread_not_found"));
                }
                match page(&all, body) {
                    Ok((items, next)) => ok(json!({"messages": items,
                        "has_more": !next.is_empty(),
                        "response_metadata": {"next_cursor": next}})),
                    Err(e) => e,
                }
            }
            "users.info" => {
                let Some(id) = arg(body, "user") else {
                    return Some(missing("user"));
                };
                match self.users.get(&id) {
                    Some(u) => ok(json!({"user": u})),
                    None => fail("user_not_found"),
                }
            }
            "users.list" => {
                let all: Vec<Value> = self.users.values().cloned().collect();
                match page(&all, body) {
                    Ok((items, next)) => ok(json!({"members": items,
                        "cache_ts": crate::util::unix_now() as u64,
                        "response_metadata": {"next_cursor": next}})),
                    Err(e) => e,
                }
            }
            "users.lookupByEmail" => {
                let Some(email) = arg(body, "email") else {
                    return Some(missing("email"));
                };
                match self.users.values().find(|u| {
                    u.get("profile").and_then(|p| p.get("email"))
                        == Some(&Value::String(email.clone()))
                }) {
                    Some(u) => ok(json!({"user": u})),
                    None => fail("users_not_found"),
                }
            }
            "team.info" => ok(json!({"team": {
                "id": cfg.team_id, "name": cfg.team_name,
                "url": format!("https://{}.slack.com/", cfg.team_name),
                "domain": cfg.team_name, "email_domain": "example.com",
                "icon": {"image_default": true, "image_34": "https://a.slack-edge.com/80588/img/avatars-teams/ava_0001-34.png"},
                "avatar_base_url": "https://ca.slack-edge.com/", "is_verified": false,
            }})),
            "chat.getPermalink" => {
                let Some(ch) = arg(body, "channel") else {
                    return Some(missing("channel"));
                };
                let Some(ts) = arg(body, "message_ts") else {
                    return Some(missing("message_ts"));
                };
                if !self.messages.iter().any(|m| {
                    m.channel == ch && m.message.get("ts") == Some(&Value::String(ts.clone()))
                }) {
                    return Some(fail("message_not_found"));
                }
                ok(json!({"channel": ch, "permalink": format!(
                    "https://{}.slack.com/archives/{ch}/p{}", cfg.team_name, ts.replace('.', ""))}))
            }
            "pins.add" | "pins.remove" => {
                let (Some(_), Some(_)) = (arg(body, "channel"), arg(body, "timestamp")) else {
                    return Some(fail("no_item_specified"));
                };
                ok(json!({}))
            }
            "files.getUploadURLExternal" => {
                let Some(name) = arg(body, "filename") else {
                    return Some(missing("filename"));
                };
                let Some(length) = arg(body, "length").and_then(|l| l.parse::<u64>().ok()) else {
                    return Some(missing("length"));
                };
                let id = self.id("F");
                self.files.insert(
                    id.clone(),
                    FakeFile {
                        name,
                        length,
                        uploaded: None,
                        completed: None,
                    },
                );
                ok(json!({"upload_url": format!("{base}/upload/v1/{id}"), "file_id": id}))
            }
            "files.completeUploadExternal" => {
                let files = match body.get("files") {
                    Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
                    Some(v @ Value::Array(_)) => Some(v.clone()),
                    _ => None,
                };
                let Some(Value::Array(files)) = files else {
                    return Some(missing("files"));
                };
                let channel = arg(body, "channel_id").or_else(|| arg(body, "channels"));
                let thread_ts = arg(body, "thread_ts");
                let mut out = Vec::new();
                for f in &files {
                    let id = f["id"].as_str().unwrap_or("").to_string();
                    let Some(stored) = self.files.get(&id) else {
                        return Some(fail("file_not_found"));
                    };
                    if stored.uploaded.is_none() {
                        return Some(fail("file_upload_not_found"));
                    }
                    let title = f["title"].as_str().unwrap_or(&stored.name).to_string();
                    let file = file_json(cfg, base, &id, stored, &title, channel.as_deref());
                    out.push(json!({"id": id, "title": title}));
                    if let Some(s) = self.files.get_mut(&id) {
                        s.completed = Some(file);
                    }
                }
                if let Some(ch) = &channel {
                    let ts = self.next_ts();
                    let mut msg = json!({"type": "message", "subtype": "file_share",
                        "text": arg(body, "initial_comment").unwrap_or_default(),
                        "user": cfg.bot_user_id, "ts": ts,
                        "files": out.iter().filter_map(|f| f["id"].as_str())
                            .filter_map(|id| self.files.get(id).and_then(|f| f.completed.clone()))
                            .collect::<Vec<_>>()});
                    if let (Some(t), Some(o)) = (thread_ts, msg.as_object_mut()) {
                        o.insert("thread_ts".into(), json!(t));
                    }
                    self.store_message(ch, &msg);
                }
                ok(json!({"files": out}))
            }
            "files.info" => {
                let Some(id) = arg(body, "file") else {
                    return Some(missing("file"));
                };
                match self.files.get(&id) {
                    Some(FakeFile {
                        completed: Some(f), ..
                    }) => ok(
                        json!({"file": f, "comments": [], "response_metadata": {"next_cursor": ""}}),
                    ),
                    _ => fail("file_not_found"),
                }
            }
            _ => return None,
        })
    }

    fn next_ts(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:.0}.{:06}",
            crate::util::unix_now().floor(),
            self.next_id % 1_000_000
        )
    }
}

fn user_json(cfg: &Config, id: &str, name: &str, real: &str, bot: bool) -> Value {
    json!({
        "id": id, "team_id": cfg.team_id, "name": name, "deleted": false, "color": "9f69e7",
        "real_name": real, "tz": "America/Los_Angeles", "tz_label": "Pacific Standard Time",
        "tz_offset": -28800,
        "profile": {
            "title": "", "phone": "", "skype": "", "real_name": real, "real_name_normalized": real,
            "display_name": name, "display_name_normalized": name, "status_text": "",
            "status_emoji": "", "avatar_hash": "ge3b51ca72de",
            "email": if bot { Value::Null } else { json!(format!("{name}@example.com")) },
            "image_24": "https://a.slack-edge.com/df10d/img/avatars/ava_0024-24.png",
            "image_48": "https://a.slack-edge.com/df10d/img/avatars/ava_0024-48.png",
            "team": cfg.team_id,
        },
        "is_admin": false, "is_owner": false, "is_primary_owner": false,
        "is_restricted": false, "is_ultra_restricted": false, "is_bot": bot,
        "is_app_user": false, "updated": 1_700_000_000, "is_email_confirmed": !bot,
        "who_can_share_contact_card": "EVERYONE",
    })
}

fn file_json(
    cfg: &Config,
    base: &str,
    id: &str,
    f: &FakeFile,
    title: &str,
    channel: Option<&str>,
) -> Value {
    let ext = f.name.rsplit_once('.').map(|(_, e)| e).unwrap_or("txt");
    json!({
        "id": id, "created": crate::util::unix_now() as u64,
        "timestamp": crate::util::unix_now() as u64, "name": f.name, "title": title,
        "mimetype": if ext == "txt" { "text/plain" } else { "application/octet-stream" },
        "filetype": ext, "pretty_type": ext.to_uppercase(), "user": cfg.bot_user_id,
        "user_team": cfg.team_id, "editable": false, "size": f.uploaded.unwrap_or(0),
        "mode": "hosted", "is_external": false, "external_type": "", "is_public": channel.is_some(),
        "public_url_shared": false, "display_as_bot": false, "username": "",
        "url_private": format!("{base}/files-pri/{}-{id}/{}", cfg.team_id, f.name),
        "url_private_download": format!("{base}/files-pri/{}-{id}/download/{}", cfg.team_id, f.name),
        "permalink": format!("https://{}.slack.com/files/{}/{id}/{}", cfg.team_name, cfg.bot_user_id, f.name),
        "channels": channel.map(|c| vec![c]).unwrap_or_default(), "groups": [], "ims": [],
        "comments_count": 0, "has_rich_preview": false, "file_access": "visible",
        "declared_length": f.length,
    })
}

/// One page of `all` by `cursor`/`limit`; the next cursor is `""` at the end.
#[allow(clippy::result_large_err)]
fn page(all: &[Value], body: &Value) -> Result<(Vec<Value>, String), Answer> {
    let limit = match arg(body, "limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(0) => DEFAULT_LIMIT,
            Ok(n) => n.min(1000),
            Err(_) => return Err(fail("invalid_limit")),
        },
    };
    let start = match arg(body, "cursor") {
        None => 0,
        Some(c) => match c
            .strip_prefix("dGVzdGtpdDo")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n <= all.len() => n,
            _ => return Err(fail("invalid_cursor")),
        },
    };
    let end = start.saturating_add(limit).min(all.len());
    let items = all.get(start..end).unwrap_or(&[]).to_vec();
    let next = if end < all.len() {
        // "dGVzdGtpdDo" is base64 for "testkit:", like Slack's opaque base64 cursors.
        format!("dGVzdGtpdDo{end}")
    } else {
        String::new()
    };
    Ok((items, next))
}
