//! Web API, TLS and proxy behaviour of the fake, driven by raw HTTP over std TcpStream.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::*;
use serde_json::json;
use slack_testkit::{FakeSlack, Proxy};

#[test]
fn web_methods_answer_like_slack() {
    let slack = FakeSlack::start().unwrap();
    let api = slack.api_url();
    assert!(api.starts_with("http://127.0.0.1:") && api.ends_with("/api/"));
    let bot = slack.bot_token();
    let r = api_json(&api, "auth.test", &bot, &json!({}));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["user_id"], "U0BOT");
    assert_eq!(v["bot_id"], "B0BOT");
    assert_eq!(v["team_id"], "T111");

    let v = api_json(
        &api,
        "chat.postMessage",
        &bot,
        &json!({"channel":"C1","text":"hi","thread_ts":"1.2"}),
    )
    .json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["channel"], "C1");
    assert_eq!(v["message"]["thread_ts"], "1.2");
    let ts = v["ts"].as_str().unwrap().to_string();
    assert_eq!(
        api_json(&api, "chat.postMessage", &bot, &json!({"channel":"C1"})).json()["error"],
        "no_text"
    );
    assert_eq!(
        api_json(
            &api,
            "chat.update",
            &bot,
            &json!({"channel":"C1","ts":ts,"text":"x"})
        )
        .json()["ok"],
        true
    );
    assert!(
        api_json(
            &api,
            "chat.postEphemeral",
            &bot,
            &json!({"channel":"C1","user":"U1","text":"x"})
        )
        .json()["message_ts"]
            .is_string()
    );
    assert_eq!(
        api_json(
            &api,
            "reactions.add",
            &bot,
            &json!({"channel":"C1","name":"eyes","timestamp":ts})
        )
        .json()["ok"],
        true
    );
    assert_eq!(
        api_json(
            &api,
            "reactions.add",
            &bot,
            &json!({"channel":"C1","timestamp":ts})
        )
        .json()["error"],
        "invalid_name"
    );
    let v = api_json(&api, "views.open", &bot, &json!({"trigger_id":"1.2.3","view":{"type":"modal","title":{"type":"plain_text","text":"Greetings!"}}})).json();
    assert_eq!(v["view"]["type"], "modal");
    assert!(v["view"]["id"].as_str().unwrap().starts_with('V'));
    assert_eq!(
        api_json(&api, "views.open", &bot, &json!({"view":{}})).json()["error"],
        "invalid_trigger_id"
    );
    assert_eq!(
        api_json(
            &api,
            "views.publish",
            &bot,
            &json!({"user_id":"U1","view":{"type":"home"}})
        )
        .json()["ok"],
        true
    );
    assert_eq!(
        api_json(
            &api,
            "views.update",
            &bot,
            &json!({"view_id":"V1","view":{"type":"modal"}})
        )
        .json()["view"]["id"],
        "V1"
    );
    assert_eq!(
        api_json(
            &api,
            "views.push",
            &bot,
            &json!({"trigger_id":"t","view":{"type":"modal"}})
        )
        .json()["ok"],
        true
    );
    assert_eq!(
        api_json(&api, "conversations.list", &bot, &json!({})).json()["ok"],
        true
    );

    // Tokens.
    assert_eq!(
        api_json(&api, "auth.test", "xoxb-wrong", &json!({})).json()["error"],
        "invalid_auth"
    );
    assert_eq!(
        api_json(&api, "auth.test", &slack.app_token(), &json!({})).json()["error"],
        "not_allowed_token_type"
    );
    assert_eq!(
        request(&api, "POST", "/api/auth.test", &[], "").json()["error"],
        "not_authed"
    );

    let call = slack.wait_for_call("chat.postMessage", T).unwrap();
    assert_eq!(call.arg("text"), Some("hi"));
    assert_eq!(call.token.as_deref(), Some(bot.as_str()));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {bot}").as_str())
    );
    assert_eq!(
        slack
            .wait_for_calls("chat.postMessage", 2, T)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn form_bodies_query_strings_and_warnings() {
    let slack = FakeSlack::start().unwrap();
    let api = slack.api_url();
    let body = format!(
        "token={}&channel=C1&text=hello+there%21&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D",
        slack.bot_token()
    );
    let r = request(
        &api,
        "POST",
        "/api/chat.postMessage",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    );
    assert_eq!(r.json()["ok"], true);
    let call = slack.wait_for_call("chat.postMessage", T).unwrap();
    assert_eq!(call.body["text"], "hello there!");
    assert_eq!(call.body["blocks"][0]["type"], "divider");

    let r = request(
        &api,
        "GET",
        &format!("/api/auth.test?token={}", slack.bot_token()),
        &[],
        "",
    );
    assert_eq!(r.json()["ok"], true);

    let auth = format!("Bearer {}", slack.bot_token());
    let r = request(
        &api,
        "POST",
        "/api/auth.test",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    let v = r.json();
    assert_eq!(v["warning"], "missing_charset");
    assert_eq!(v["response_metadata"]["warnings"][0], "missing_charset");
    let r = request(
        &api,
        "POST",
        "/api/auth.test",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        "{not json",
    );
    assert_eq!(r.json()["error"], "invalid_json");
}

#[test]
fn rate_limits_and_keep_alive() {
    let slack = FakeSlack::start().unwrap();
    slack.rate_limit("chat.postMessage", 2, 1);
    let addr = authority(&slack.api_url());
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let body = json!({"channel":"C1","text":"x"}).to_string();
    for expected in [429u16, 200] {
        write!(s, "POST /api/chat.postMessage HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}", slack.bot_token(), body.len()).unwrap();
        let r = read_response(&mut s);
        assert_eq!(r.status, expected);
        if expected == 429 {
            assert_eq!(r.header("retry-after").as_deref(), Some("2"));
            assert_eq!(r.json(), json!({"ok":false,"error":"ratelimited"}));
        }
    }
}

#[test]
fn tls_serves_https_and_wss_with_the_generated_ca() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let ca = slack.ca_pem().unwrap();
    assert!(ca.contains("BEGIN CERTIFICATE"));
    assert!(slack.api_url().starts_with("https://127.0.0.1:"));
    let url = slack.ws_url();
    assert!(url.starts_with("wss://127.0.0.1:"));
    let addr = authority(&slack.api_url());
    for name in ["localhost", "127.0.0.1"] {
        let mut s = tls_connect(&addr, name, &ca).unwrap();
        write!(
            s,
            "GET /api/auth.test?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
            slack.bot_token()
        )
        .unwrap();
        let r = read_response(&mut s);
        assert_eq!(r.json()["ok"], true);
    }
    // wss through tungstenite's client handshake over our rustls stream.
    let s = tls_connect(&addr, "localhost", &ca).unwrap();
    let (mut ws, _) = tungstenite::client::client(url.as_str(), s).unwrap();
    assert_eq!(read_json(&mut ws)["type"], "hello");
    let id = slack.send_event(json!({"type":"message"})).unwrap();
    assert_eq!(read_json(&mut ws)["envelope_id"], id.as_str());
    ack(&mut ws, &id);
    slack.wait_for_ack(&id, T).unwrap();
}

#[test]
fn tls_certificate_for_the_wrong_host_is_rejected() {
    let slack = FakeSlack::builder()
        .tls(true)
        .cert_names(vec!["wrong.example".into()])
        .start()
        .unwrap();
    let addr = authority(&slack.api_url());
    let err = tls_connect(&addr, "localhost", &slack.ca_pem().unwrap()).unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // The fake keeps serving.
    let ok = tls_connect(&addr, "wrong.example", &slack.ca_pem().unwrap());
    assert!(ok.is_ok());
}

fn connect_via(proxy: &Proxy, target: &str, auth: Option<&str>) -> (TcpStream, Resp) {
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Proxy-Authorization: Basic {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1);
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        s,
        Resp {
            status,
            head,
            body: String::new(),
        },
    )
}

#[test]
fn proxy_tunnels_websockets_and_checks_auth() {
    let slack = FakeSlack::start().unwrap();
    let proxy = Proxy::start(Some(("user", "pa:ss"))).unwrap();
    assert!(proxy.url().starts_with("http://user:pa%3Ass@127.0.0.1:"));
    let target = slack.addr().to_string();
    let (_, r) = connect_via(&proxy, &target, None);
    assert_eq!(r.status, 407);
    assert!(r.header("proxy-authenticate").unwrap().starts_with("Basic"));
    let (_, r) = connect_via(&proxy, &target, Some("d3Jvbmc6d3Jvbmc="));
    assert_eq!(r.status, 407);
    // "user:pa:ss"
    let good = "dXNlcjpwYTpzcw==";
    let (s, r) = connect_via(&proxy, &target, Some(good));
    assert_eq!(r.status, 200);
    let (mut ws, _) = tungstenite::client::client(slack.ws_url().as_str(), s).unwrap();
    assert_eq!(read_json(&mut ws)["type"], "hello");
    let tunnels = proxy.wait_for_tunnels(3, T).unwrap();
    assert_eq!(tunnels[2].target, target);
    assert_eq!(tunnels[2].status, 200);
    assert!(!tunnels[0].had_credentials);

    proxy.refuse_tunnels(Some(403));
    assert_eq!(connect_via(&proxy, &target, Some(good)).1.status, 403);
    proxy.refuse_tunnels(None);
    assert_eq!(
        connect_via(&proxy, "example.com:443", Some(good)).1.status,
        403,
        "loopback only"
    );
    drop(ws);
    proxy.shutdown();
}

#[test]
fn proxy_forwards_absolute_form_requests() {
    let slack = FakeSlack::start().unwrap();
    let proxy = Proxy::start(None).unwrap();
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(
        s,
        "GET {}auth.test?token={} HTTP/1.1\r\nHost: x\r\n\r\n",
        slack.api_url(),
        slack.bot_token()
    )
    .unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.json()["ok"], true);
    assert_eq!(proxy.tunnels()[0].method, "GET");
}

#[test]
fn shutdown_closes_the_port() {
    let slack = FakeSlack::start().unwrap();
    let addr = slack.addr();
    let (_ws, _) = ws_connect(&slack.ws_url());
    let _idle_http = TcpStream::connect(addr).unwrap();
    slack.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

/// Like Slack, a method that does not read JSON ignores a JSON body and says a required
/// argument is missing; the same arguments form-encoded work. Read methods page.
#[test]
fn json_body_is_ignored_by_methods_that_do_not_read_json() {
    let slack = slack_testkit::FakeSlack::start().unwrap();
    let api = slack.api_url();
    let bot = slack.bot_token();
    let r = api_json(
        &api,
        "conversations.list",
        &bot,
        &serde_json::json!({"limit": 1}),
    );
    let v = r.json();
    // limit ignored: every channel on one page.
    assert_eq!(v["channels"].as_array().unwrap().len(), 3);
    let ch = v["channels"][0]["id"].as_str().unwrap().to_string();
    let r = api_json(
        &api,
        "conversations.history",
        &bot,
        &serde_json::json!({"channel": ch}),
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"ok": false, "error": "invalid_arguments",
            "response_metadata": {"messages": ["[ERROR] missing required field: channel"]}})
    );
    let form = format!("channel={ch}&limit=1");
    let r = request(
        &api,
        "POST",
        "/api/conversations.history",
        &[
            ("Authorization", &format!("Bearer {bot}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form,
    );
    assert_eq!(r.json()["ok"], true, "{}", r.json());
    // Paging with limit and next_cursor.
    slack.add_channels(3);
    let mut cursor = String::new();
    let mut seen = 0;
    for _ in 0..10 {
        let body = format!("limit=4&cursor={cursor}");
        let r = request(
            &api,
            "POST",
            "/api/conversations.list",
            &[
                ("Authorization", &format!("Bearer {bot}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &body,
        );
        let v = r.json();
        seen += v["channels"].as_array().unwrap().len();
        cursor = v["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, 6);
    slack.shutdown();
}

#[test]
fn a_method_the_fake_does_not_model_fails_like_an_unknown_one_until_stubbed() {
    let slack = FakeSlack::start().unwrap();
    let (api, bot) = (slack.api_url(), slack.bot_token());
    let v = api_json(&api, "admin.teams.list", &bot, &json!({})).json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"], "unknown_method");
    assert_eq!(v["req_method"], "admin.teams.list");
    let why = v["response_metadata"]["messages"][0].as_str().unwrap();
    assert!(
        why.contains("admin.teams.list") && why.contains("FakeSlack::stub"),
        "{why}"
    );
    // The token is still checked first, as Slack does.
    assert_eq!(
        api_json(&api, "admin.teams.list", "xoxb-wrong", &json!({})).json()["error"],
        "invalid_auth"
    );
    slack.stub("admin.teams.list", json!({"ok": true, "teams": []}));
    let v = api_json(&api, "admin.teams.list", &bot, &json!({})).json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["teams"], json!([]));
}

#[test]
fn scheduled_messages_can_be_deleted_once_and_unfurls_need_their_arguments() {
    let slack = FakeSlack::start().unwrap();
    let (api, bot) = (slack.api_url(), slack.bot_token());
    let post_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let v = api_json(
        &api,
        "chat.scheduleMessage",
        &bot,
        &json!({"channel": "C1", "text": "later", "post_at": post_at}),
    )
    .json();
    let id = v["scheduled_message_id"].as_str().unwrap().to_owned();
    let delete = json!({"channel": "C1", "scheduled_message_id": id});
    let v = api_json(&api, "chat.deleteScheduledMessage", &bot, &delete).json();
    assert_eq!(v["ok"], true, "{v}");
    let v = api_json(&api, "chat.deleteScheduledMessage", &bot, &delete).json();
    assert_eq!(v["error"], "invalid_scheduled_message_id");
    let v = api_json(
        &api,
        "chat.deleteScheduledMessage",
        &bot,
        &json!({"channel": "C1"}),
    )
    .json();
    assert_eq!(v["error"], "invalid_arguments");

    let unfurls = json!({"https://example.com": {"text": "a preview"}});
    let unfurl = |args: serde_json::Value| api_json(&api, "chat.unfurl", &bot, &args).json();
    let v = unfurl(json!({"channel": "C1", "ts": "1.2", "unfurls": unfurls}));
    assert_eq!(v["ok"], true, "{v}");
    let v = unfurl(json!({"source": "composer", "unfurl_id": "U1", "unfurls": unfurls}));
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        unfurl(json!({"channel": "C1", "ts": "1.2"}))["error"],
        "invalid_arguments"
    );
    assert_eq!(
        unfurl(json!({"unfurls": unfurls}))["error"],
        "invalid_arguments"
    );
}
