//! The Web API: routing, body decoding, token checks, Slack-shaped answers, call recording.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::http::{Request, Response};
use crate::methods::IntoAnswer;
use crate::server::Shared;
use crate::types::{OpenError, WebCall};
use crate::util::{form_decode, lock};

/// Form fields whose values Slack expects to hold JSON.
const JSON_FIELDS: &[&str] = &[
    "blocks",
    "attachments",
    "view",
    "metadata",
    "options",
    "option_groups",
];

/// Answers one HTTP request that is not a WebSocket upgrade.
pub(crate) fn handle(shared: &Arc<Shared>, req: &Request) -> Response {
    let path = req.path().to_string();
    if let Some(method) = path.strip_prefix("/api/") {
        let method = method.trim_end_matches('/').to_string();
        let delay = shared
            .state
            .lock()
            .ok()
            .and_then(|st| st.delays.get(&method).copied());
        if let Some(d) = delay {
            // Outside the lock: other calls go on meanwhile.
            std::thread::sleep(d);
        }
        let (body, decode_error, missing_charset) = decode_body(req);
        // Like Slack, a method that does not read JSON ignores a JSON body: it sees only the
        // query string (and then reports its required arguments as missing).
        let is_json = req
            .header("content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        let seen = if is_json && !crate::methods::reads_json(&method) {
            let mut q = Map::new();
            for (k, v) in form_decode(req.query()) {
                q.insert(k, Value::String(v));
            }
            Value::Object(q)
        } else {
            body.clone()
        };
        let token = bearer(req).or_else(|| {
            seen.get("token")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        let resp = match decode_error {
            Some(err) => (200, json!({"ok": false, "error": err}), Vec::new()),
            None => api(shared, &method, &seen, token.as_deref()),
        };
        let (status, mut value, headers) = resp;
        if missing_charset && value.get("ok") == Some(&Value::Bool(true)) {
            add_warning(&mut value);
        }
        record(shared, req, &method, body, token, status, &value);
        let mut r = Response::json(status, &value);
        for (k, v) in headers {
            r = r.with_header(&k, &v);
        }
        r
    } else if path.starts_with("/response/") {
        response_url(shared, req, &path)
    } else if let Some(id) = path.strip_prefix("/upload/v1/") {
        upload(shared, req, id)
    } else {
        Response::text(404, "not found")
    }
}

fn add_warning(value: &mut Value) {
    if let Some(obj) = value.as_object_mut() {
        obj.insert("warning".into(), json!("missing_charset"));
        obj.insert(
            "response_metadata".into(),
            json!({"warnings": ["missing_charset"], "messages": [
                "[WARN] A Content-Type HTTP header was presented but did not declare a charset, such as a 'utf-8'"
            ]}),
        );
    }
}

fn record(
    shared: &Arc<Shared>,
    req: &Request,
    method: &str,
    body: Value,
    token: Option<String>,
    status: u16,
    response: &Value,
) {
    shared.record_call(WebCall {
        method: method.to_string(),
        http_method: req.method.clone(),
        target: req.target.clone(),
        headers: req.headers.clone(),
        body,
        raw_body: String::from_utf8_lossy(&req.body).into_owned(),
        token,
        status,
        response: response.clone(),
        at: Instant::now(),
    });
}

fn bearer(req: &Request) -> Option<String> {
    let auth = req.header("authorization")?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(token.trim().to_string())
    } else {
        None
    }
}

/// Decodes query + body into one JSON object. Returns (body, error code, missing charset).
fn decode_body(req: &Request) -> (Value, Option<&'static str>, bool) {
    let mut obj = Map::new();
    for (k, v) in form_decode(req.query()) {
        obj.insert(k, Value::String(v));
    }
    let ct = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut missing_charset = false;
    if req.body.is_empty() {
        return (Value::Object(obj), None, false);
    }
    if ct.starts_with("application/json") {
        missing_charset = !ct.contains("charset");
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => obj.extend(m),
            Ok(other) => return (other, Some("invalid_json"), false),
            Err(_) => return (Value::Object(obj), Some("invalid_json"), false),
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") || ct.is_empty() {
        let text = String::from_utf8_lossy(&req.body).into_owned();
        for (k, v) in form_decode(&text) {
            let value = if JSON_FIELDS.contains(&k.as_str()) {
                serde_json::from_str::<Value>(&v).unwrap_or(Value::String(v))
            } else {
                Value::String(v)
            };
            obj.insert(k, value);
        }
    } else if ct.starts_with("multipart/form-data") {
        // Not decoded; the raw body is kept on the recorded call.
    } else {
        return (Value::Object(obj), Some("invalid_form_data"), false);
    }
    (Value::Object(obj), None, missing_charset)
}

type Answer = (u16, Value, Vec<(String, String)>);

fn ok(extra: Value) -> Answer {
    let mut v = json!({"ok": true});
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    (200, v, Vec::new())
}

fn fail(error: &str) -> Answer {
    (200, json!({"ok": false, "error": error}), Vec::new())
}

fn ratelimited(secs: u64) -> Answer {
    (
        429,
        json!({"ok": false, "error": "ratelimited"}),
        vec![("Retry-After".into(), secs.to_string())],
    )
}

fn has(body: &Value, key: &str) -> bool {
    match body.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

fn str_arg(body: &Value, key: &str) -> String {
    match body.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn api(shared: &Arc<Shared>, method: &str, body: &Value, token: Option<&str>) -> Answer {
    let cfg = &shared.cfg;
    let mut st = lock(&shared.state);
    if let Some((secs, times)) = st.rate_limits.get_mut(method) {
        if *times > 0 {
            *times -= 1;
            return ratelimited(*secs);
        }
    }
    if method == "api.test" {
        return ok(json!({"args": body}));
    }
    if method == "apps.connections.open" {
        if let Some(failure) = st.open_failures.pop_front() {
            return match failure {
                OpenError::InvalidAuth => fail("invalid_auth"),
                OpenError::NotAllowedTokenType => fail("not_allowed_token_type"),
                OpenError::Ratelimited { retry_after_secs } => ratelimited(retry_after_secs),
                OpenError::InternalError => fail("internal_error"),
                OpenError::ServiceUnavailable => (
                    503,
                    json!({"ok": false, "error": "service_unavailable"}),
                    Vec::new(),
                ),
                OpenError::Other(code) => fail(&code),
            };
        }
        return match token {
            None | Some("") => fail("not_authed"),
            Some(t) if t == cfg.app_token => {
                let url = match st.open_urls.pop_front() {
                    Some(url) => url,
                    None => shared.new_ws_url(&mut st),
                };
                ok(json!({"url": url}))
            }
            Some(t) if t.starts_with("xapp-") => fail("invalid_auth"),
            Some(_) => fail("not_allowed_token_type"),
        };
    }
    match token {
        None | Some("") => return fail("not_authed"),
        Some(t) if t == cfg.bot_token => {}
        Some(t) if t.starts_with("xapp-") => return fail("not_allowed_token_type"),
        Some(_) => return fail("invalid_auth"),
    }
    if let Some(stub) = st.web.stubs.get(method) {
        let status = if stub.get("error").and_then(Value::as_str) == Some("ratelimited") {
            429
        } else {
            200
        };
        return (status, stub.clone(), Vec::new());
    }
    let base = shared.base();
    if let Some((status, value)) = st.web.answer(cfg, &base, method, body) {
        return (status, value, Vec::new());
    }
    let mut next_ts = || {
        st.ts_counter += 1;
        format!(
            "{:.0}.{:06}",
            crate::util::unix_now().floor(),
            st.ts_counter
        )
    };
    match method {
        "auth.test" => ok(json!({
            "url": format!("https://{}.slack.com/", cfg.team_name),
            "team": cfg.team_name,
            "user": "testkit-bot",
            "team_id": cfg.team_id,
            "user_id": cfg.bot_user_id,
            "bot_id": cfg.bot_id,
            "is_enterprise_install": false,
        })),
        "chat.scheduleMessage" => {
            if !has(body, "channel") {
                return crate::methods::missing("channel").into_answer();
            }
            if !has(body, "post_at") {
                return crate::methods::missing("post_at").into_answer();
            }
            if !has(body, "text") && !has(body, "blocks") && !has(body, "attachments") {
                return fail("no_text");
            }
            let post_at = match body.get("post_at") {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                Some(Value::String(s)) => s.parse().unwrap_or(0),
                _ => 0,
            };
            if (post_at as f64) < crate::util::unix_now() {
                return fail("time_in_past");
            }
            let id = crate::util::slack_id("Q");
            st.web.scheduled.insert(id.clone());
            ok(json!({"channel": str_arg(body, "channel"),
                "scheduled_message_id": id, "post_at": post_at,
                "message": {"type": "message", "text": str_arg(body, "text"),
                    "user": cfg.bot_user_id, "bot_id": cfg.bot_id, "team": cfg.team_id}}))
        }
        "chat.postMessage" | "chat.meMessage" => {
            if !has(body, "channel") {
                return fail("channel_not_found");
            }
            if !has(body, "text") && !has(body, "blocks") && !has(body, "attachments") {
                return fail("no_text");
            }
            let ts = next_ts();
            let mut message = json!({
                "type": "message",
                "text": str_arg(body, "text"),
                "user": cfg.bot_user_id,
                "bot_id": cfg.bot_id,
                "team": cfg.team_id,
                "ts": ts,
            });
            if let Some(m) = message.as_object_mut() {
                for k in ["blocks", "attachments", "thread_ts", "metadata"] {
                    if let Some(v) = body.get(k) {
                        m.insert(k.into(), v.clone());
                    }
                }
            }
            let channel = str_arg(body, "channel");
            st.web.store_message(&channel, &message);
            ok(json!({"channel": channel, "ts": ts, "message": message}))
        }
        "chat.update" => {
            if !has(body, "channel") {
                return fail("channel_not_found");
            }
            if !has(body, "ts") {
                return fail("message_not_found");
            }
            ok(
                json!({"channel": str_arg(body, "channel"), "ts": str_arg(body, "ts"),
                "text": str_arg(body, "text"),
                "message": {"type": "message", "text": str_arg(body, "text"), "user": cfg.bot_user_id,
                    "bot_id": cfg.bot_id}}),
            )
        }
        "chat.delete" => {
            if !has(body, "channel") {
                return fail("channel_not_found");
            }
            if !has(body, "ts") {
                return fail("message_not_found");
            }
            ok(json!({"channel": str_arg(body, "channel"), "ts": str_arg(body, "ts")}))
        }
        "chat.postEphemeral" => {
            if !has(body, "channel") {
                return fail("channel_not_found");
            }
            if !has(body, "user") {
                return fail("user_not_in_channel");
            }
            if !has(body, "text") && !has(body, "blocks") && !has(body, "attachments") {
                return fail("no_text");
            }
            ok(json!({"message_ts": next_ts()}))
        }
        "reactions.add" | "reactions.remove" => {
            if !has(body, "name") {
                return fail("invalid_name");
            }
            if !has(body, "channel") || !has(body, "timestamp") {
                return fail("no_item_specified");
            }
            ok(json!({}))
        }
        "views.open" | "views.push" => {
            if !has(body, "trigger_id") {
                return fail("invalid_trigger_id");
            }
            view_answer(shared, body)
        }
        "views.update" => {
            if !has(body, "view_id") && !has(body, "external_id") {
                return fail("not_found");
            }
            view_answer(shared, body)
        }
        "views.publish" => {
            if !has(body, "user_id") {
                return fail("invalid_arguments");
            }
            view_answer(shared, body)
        }
        "chat.deleteScheduledMessage" => {
            if !has(body, "channel") {
                return crate::methods::missing("channel").into_answer();
            }
            let Some(id) = body.get("scheduled_message_id").and_then(Value::as_str) else {
                return crate::methods::missing("scheduled_message_id").into_answer();
            };
            if st.web.scheduled.remove(id) {
                ok(json!({}))
            } else {
                fail("invalid_scheduled_message_id")
            }
        }
        "chat.unfurl" => {
            let by_message = has(body, "channel") && has(body, "ts");
            let by_source = has(body, "source") && has(body, "unfurl_id");
            if !by_message && !by_source {
                return crate::methods::missing("channel").into_answer();
            }
            if !has(body, "unfurls") && !has(body, "user_auth_message") {
                return crate::methods::missing("unfurls").into_answer();
            }
            ok(json!({}))
        }
        // What Slack answers to a method it does not have; here also to one the fake does not
        // model, so that a test never passes on an answer no Slack would give. Such a method
        // can be answered with `FakeSlack::stub`.
        _ => (
            200,
            json!({"ok": false, "error": "unknown_method", "req_method": method,
            "response_metadata": {"messages": [format!(
                "[ERROR] the fake Slack does not model {method}: answer it with FakeSlack::stub"
            )]}}),
            Vec::new(),
        ),
    }
}

fn view_answer(shared: &Arc<Shared>, body: &Value) -> Answer {
    let view = match body.get("view") {
        Some(Value::Object(v)) => v.clone(),
        _ => return fail("invalid_arguments"),
    };
    let mut v = view;
    let id = body
        .get("view_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| crate::util::slack_id("V"));
    v.insert("id".into(), json!(id));
    v.insert("team_id".into(), json!(shared.cfg.team_id));
    v.insert("app_id".into(), json!(shared.cfg.app_id));
    v.insert("bot_id".into(), json!(shared.cfg.bot_id));
    v.insert(
        "hash".into(),
        json!(format!(
            "{}.{}",
            crate::util::unix_now() as u64,
            crate::util::slack_id("")
        )),
    );
    v.entry("state").or_insert(json!({"values": {}}));
    ok(json!({"view": Value::Object(v)}))
}

/// The upload URL handed out by `files.getUploadURLExternal`: takes the bytes (raw or
/// multipart) and answers `OK - LENGTH` as Slack's upload host does.
fn upload(shared: &Arc<Shared>, req: &Request, id: &str) -> Response {
    let len = req.body.len();
    let found = lock(&shared.state).web.upload(id, len).is_some();
    let (status, text) = if req.method != "POST" {
        (405, "method not allowed".to_string())
    } else if found {
        (200, format!("OK - {len}"))
    } else {
        (404, "file not found".to_string())
    };
    let value = json!({"ok": status == 200, "file_id": id, "length": len});
    record(
        shared,
        req,
        "upload",
        Value::Object(Map::new()),
        None,
        status,
        &value,
    );
    Response::text(status, &text)
}

fn response_url(shared: &Arc<Shared>, req: &Request, path: &str) -> Response {
    let id = path.rsplit('/').next().unwrap_or("").to_string();
    let (body, decode_error, _) = decode_body(req);
    let (status, value, headers) = {
        let mut st = lock(&shared.state);
        let limited = match st.rate_limits.get_mut("response_url") {
            Some((secs, times)) if *times > 0 => {
                *times -= 1;
                Some(*secs)
            }
            _ => None,
        };
        match (limited, st.response_urls.get_mut(&id)) {
            (Some(secs), _) => ratelimited(secs),
            (None, None) => (
                404,
                json!({"ok": false, "error": "no_such_url"}),
                Vec::new(),
            ),
            (None, Some(uses)) if *uses >= 5 => {
                (404, json!({"ok": false, "error": "used_url"}), Vec::new())
            }
            (None, Some(uses)) => {
                *uses += 1;
                match decode_error {
                    Some(e) => (400, json!({"ok": false, "error": e}), Vec::new()),
                    None if req.method != "POST" => (
                        405,
                        json!({"ok": false, "error": "method_not_allowed"}),
                        Vec::new(),
                    ),
                    None => (200, json!({"ok": true}), Vec::new()),
                }
            }
        }
    };
    record(shared, req, "response_url", body, None, status, &value);
    let mut r = Response::json(status, &value);
    for (k, v) in headers {
        r = r.with_header(&k, &v);
    }
    r
}
