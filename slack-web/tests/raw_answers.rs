//! Answers the fake Slack does not produce (HTML errors, warnings, hangs, refused
//! connections, unresolvable hosts), from a tiny canned HTTP server. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::TcpListener;
use std::time::Duration;

use serde_json::json;
use slack_web::{BotToken, Error, PostMessage, ProxyConfig, RetryPolicy, TransportKind, WebClient};
use support::{CAPTURE, Canned, RawServer, capture_logs, fast_retries};

const WARNING: &str = include_str!("fixtures/web_warning_missing_charset.json");

#[test]
fn warnings_on_success_are_logged_at_warn_and_tokens_never_logged() {
    capture_logs();
    let server = RawServer::start(vec![Canned::json(200, WARNING)]);
    let web = server.client(RetryPolicy::none());
    let answer = web
        .call("chat.postMessage", &json!({"channel":"C","text":"x"}))
        .unwrap();
    assert_eq!(answer["ok"], true);
    server.join();
    let logs = CAPTURE.0.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("WARN slack_web") && l.contains("missing_charset")),
        "{logs:?}"
    );
    // No record of this crate (nor ureq's request log, which redacts headers) shows the
    // token. Known exception: `ureq_proto` hex-dumps raw request bytes at TRACE, see README.
    let leaks: Vec<_> = logs
        .iter()
        .filter(|l| !l.contains(" ureq_proto::"))
        .filter(|l| l.contains("SECRET"))
        .collect();
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[test]
fn html_5xx_is_an_http_status_and_retried_only_when_idempotent() {
    let page = "<html><body>502 Bad Gateway</body></html>";
    // Not idempotent: one request, the error comes back.
    let server = RawServer::start(vec![Canned::text(502, page)]);
    let web = server.client(fast_retries());
    let e = web
        .chat_post_message(&PostMessage::new("C", "x"))
        .unwrap_err();
    assert!(matches!(e, Error::HttpStatus { status: 502, .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("502 Bad Gateway"));
    server.join();

    // Idempotent: retried, then succeeds.
    let mut unavailable = Canned::text(503, page);
    unavailable.headers.push(("Retry-After", "0".into()));
    let server = RawServer::start(vec![
        unavailable,
        Canned::json(200, r#"{"ok":true,"user_id":"U1"}"#),
    ]);
    let web = server.client(fast_retries());
    assert_eq!(web.auth_test().unwrap().user_id, "U1");
    assert_eq!(server.requests.lock().unwrap().len(), 2);
    server.join();
}

#[test]
fn undecodable_answers() {
    let server = RawServer::start(vec![
        Canned::text(200, "<html>captive portal</html>"),
        Canned::json(200, r#"{"url":"no ok field"}"#),
        Canned::json(200, r#"{"ok":true,"user_id":42}"#),
    ]);
    let web = server.client(RetryPolicy::none());
    for _ in 0..3 {
        let e = web.auth_test().unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        assert!(!e.is_retryable());
    }
    server.join();
}

#[test]
fn request_head_carries_the_token_only_in_authorization() {
    let server = RawServer::start(vec![Canned::json(200, r#"{"ok":true}"#)]);
    let requests = std::sync::Arc::clone(&server.requests);
    let web = server.client(RetryPolicy::none());
    web.call("chat.postMessage", &json!({"channel":"C","text":"x"}))
        .unwrap();
    server.join();
    let req = requests.lock().unwrap()[0].clone();
    assert!(
        req.starts_with("POST /api/chat.postMessage HTTP/1.1\r\n"),
        "{req}"
    );
    let lower = req.to_ascii_lowercase();
    assert!(
        lower.contains("authorization: bearer xoxb-raw-secret\r\n"),
        "{req}"
    );
    assert!(
        lower.contains("content-type: application/json; charset=utf-8\r\n"),
        "{req}"
    );
    assert_eq!(req.matches("SECRET").count(), 1, "{req}");
    assert!(req.ends_with(r#"{"channel":"C","text":"x"}"#), "{req}");
}

#[test]
fn timeouts_are_transport_timeouts() {
    let server = RawServer::start(vec![Canned::hang(Duration::from_secs(1))]);
    let web = server.client(RetryPolicy::none()); // 500 ms timeout
    let e = web
        .chat_post_message(&PostMessage::new("C", "x"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_retryable() && !e.never_sent());
    server.join();
}

#[test]
fn refused_connections_are_retried_for_any_method_then_reported() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let web = WebClient::builder(BotToken::new("xoxb-1").unwrap())
        .base_url(format!("http://127.0.0.1:{port}/api/"))
        .allow_insecure_http(true)
        .proxy(ProxyConfig::None)
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let e = web
        .chat_post_message(&PostMessage::new("C", "x"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.never_sent() && e.is_retryable());
    assert_eq!(web.stats().requests, 3, "one try and two retries");
}

#[test]
fn unresolvable_host_is_a_dns_error() {
    let web = WebClient::builder(BotToken::new("xoxb-1").unwrap())
        .base_url("https://no-such-host.invalid/api/")
        .proxy(ProxyConfig::None)
        .retry_policy(RetryPolicy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let e = web.auth_test().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Dns,
                ..
            }
        ),
        "{e:?}"
    );
}
