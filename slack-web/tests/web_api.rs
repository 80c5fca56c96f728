//! The client against the fake Slack of `slack-testkit`: request shapes, answers, errors,
//! retries, TLS and the proxy. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use serde_json::json;
use slack_testkit::{FakeSlack, OpenError, Proxy, WebCall};
use slack_web::{
    AppToken, BotToken, Error, Message, PostEphemeral, PostMessage, ProxyConfig, ProxyVars,
    ResponseMessage, RetryPolicy, TransportKind, UpdateMessage, ViewId, WebClient,
};
use support::{T, builder, client, fast_retries};

/// The shape every Web API request must have.
fn assert_shape(call: &WebCall, method: &str, token: &str) {
    assert_eq!(call.http_method, "POST", "{method}");
    assert_eq!(call.target, format!("/api/{method}"));
    assert_eq!(
        call.header("content-type"),
        Some(slack_web::encoding::Encoding::for_method(method).content_type()),
        "{method}"
    );
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "{method}"
    );
    assert_eq!(call.token.as_deref(), Some(token));
    assert!(
        !call.raw_body.contains(token),
        "token in the body of {method}"
    );
    assert!(!call.target.contains(token), "token in the url of {method}");
    assert!(call.body.get("token").is_none());
    assert_eq!(call.status, 200, "{method}: {}", call.response);
}

#[test]
fn request_shape_of_every_method() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack);
    let bot = slack.bot_token();

    let app = AppToken::new(slack.app_token()).unwrap();
    let url = web.apps_connections_open(&app).unwrap();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let call = slack.wait_for_call("apps.connections.open", T).unwrap();
    assert_shape(&call, "apps.connections.open", &slack.app_token());
    assert_eq!(call.body, json!({}));

    let me = web.auth_test().unwrap();
    assert_eq!(me.user_id, slack.bot_user_id());
    assert_shape(
        &slack.wait_for_call("auth.test", T).unwrap(),
        "auth.test",
        &bot,
    );

    let blocks = json!([{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]);
    let msg = Message::text("hello")
        .blocks(blocks.clone())
        .thread_ts("1.000001")
        .reply_broadcast(true)
        .mrkdwn(true)
        .unfurl(false, false)
        .metadata(json!({"event_type":"greeting","event_payload":{"n":1}}));
    let posted = web.chat_post_message(&PostMessage::new("C1", msg)).unwrap();
    assert_eq!(posted.channel, "C1");
    assert!(!posted.ts.is_empty());
    let call = slack.wait_for_call("chat.postMessage", T).unwrap();
    assert_shape(&call, "chat.postMessage", &bot);
    assert_eq!(
        call.body,
        json!({"channel":"C1","text":"hello","blocks":blocks,"thread_ts":"1.000001",
               "reply_broadcast":true,"mrkdwn":true,"unfurl_links":false,"unfurl_media":false,
               "metadata":{"event_type":"greeting","event_payload":{"n":1}}})
    );

    let updated = web
        .chat_update(&UpdateMessage::new("C1", &posted.ts, "edited"))
        .unwrap();
    assert_eq!(updated.ts, posted.ts);
    let call = slack.wait_for_call("chat.update", T).unwrap();
    assert_shape(&call, "chat.update", &bot);
    assert_eq!(
        call.body,
        json!({"channel":"C1","ts":posted.ts,"text":"edited"})
    );

    let eph = web
        .chat_post_ephemeral(&PostEphemeral::new("C1", "U1", "psst"))
        .unwrap();
    assert!(!eph.message_ts.is_empty());
    let call = slack.wait_for_call("chat.postEphemeral", T).unwrap();
    assert_shape(&call, "chat.postEphemeral", &bot);
    assert_eq!(call.body, json!({"channel":"C1","user":"U1","text":"psst"}));

    web.reactions_add("C1", ":eyes:", &posted.ts).unwrap();
    let call = slack.wait_for_call("reactions.add", T).unwrap();
    assert_shape(&call, "reactions.add", &bot);
    assert_eq!(
        call.body,
        json!({"channel":"C1","name":"eyes","timestamp":posted.ts})
    );

    let modal =
        json!({"type":"modal","title":{"type":"plain_text","text":"Greetings!"},"blocks":[]});
    let opened = web.views_open("T-1", &modal).unwrap();
    let view_id = opened.id().unwrap().to_owned();
    let call = slack.wait_for_call("views.open", T).unwrap();
    assert_shape(&call, "views.open", &bot);
    assert_eq!(call.body, json!({"trigger_id":"T-1","view":modal}));

    web.views_push("T-2", &modal).unwrap();
    let call = slack.wait_for_call("views.push", T).unwrap();
    assert_shape(&call, "views.push", &bot);
    assert_eq!(call.body, json!({"trigger_id":"T-2","view":modal}));

    web.views_update(&ViewId::Id(view_id.clone()), &modal, Some("h1"))
        .unwrap();
    let call = slack.wait_for_call("views.update", T).unwrap();
    assert_shape(&call, "views.update", &bot);
    assert_eq!(
        call.body,
        json!({"view_id":view_id,"view":modal,"hash":"h1"})
    );

    let home = json!({"type":"home","blocks":[]});
    web.views_publish("U1", &home, None).unwrap();
    let call = slack.wait_for_call("views.publish", T).unwrap();
    assert_shape(&call, "views.publish", &bot);
    assert_eq!(call.body, json!({"user_id":"U1","view":home}));

    web.chat_delete("C1", &posted.ts).unwrap();
    let call = slack.wait_for_call("chat.delete", T).unwrap();
    assert_shape(&call, "chat.delete", &bot);
    assert_eq!(call.body, json!({"channel":"C1","ts":posted.ts}));

    // The generic call reaches any method with any Serialize arguments.
    let answer = web
        .call("chat.meMessage", &json!({"channel":"C2","text":"waves"}))
        .unwrap();
    assert_eq!(answer["ok"], true);
    let call = slack.wait_for_call("chat.meMessage", T).unwrap();
    assert_shape(&call, "chat.meMessage", &bot);

    // response_url: JSON, no token at all (the URL is the credential).
    let response_url = slack.response_url();
    web.post_response_url(
        &response_url,
        &ResponseMessage::ephemeral("done").replace_original(false),
    )
    .unwrap();
    let call = slack.wait_for_call("response_url", T).unwrap();
    assert_eq!(call.http_method, "POST");
    assert_eq!(
        call.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(call.header("authorization"), None);
    assert_eq!(call.token, None);
    assert_eq!(
        call.body,
        json!({"text":"done","response_type":"ephemeral","replace_original":false})
    );

    let stats = web.stats();
    assert_eq!(stats.messages_sent, 1);
    assert_eq!(stats.requests, slack.calls().len() as u64);
    slack.shutdown();
}

#[test]
fn slack_errors_are_mapped() {
    let slack = FakeSlack::start().unwrap();
    let web = builder(&slack)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let app = AppToken::new(slack.app_token()).unwrap();

    slack.fail_connections_open(1, OpenError::InvalidAuth);
    let e = web.apps_connections_open(&app).unwrap_err();
    assert!(e.is_fatal_auth() && !e.is_retryable(), "{e:?}");
    assert_eq!(e.slack_error(), Some("invalid_auth"));

    slack.fail_connections_open(1, OpenError::NotAllowedTokenType);
    assert!(web.apps_connections_open(&app).unwrap_err().is_fatal_auth());

    slack.fail_connections_open(1, OpenError::Other("missing_args".into()));
    assert!(web.apps_connections_open(&app).unwrap_err().is_fatal_auth());

    slack.fail_connections_open(1, OpenError::InternalError);
    let e = web.apps_connections_open(&app).unwrap_err();
    assert!(e.is_retryable() && !e.is_fatal_auth(), "{e:?}");

    slack.fail_connections_open(1, OpenError::ServiceUnavailable);
    let e = web.apps_connections_open(&app).unwrap_err();
    // The fake answers 503 with a Slack JSON error; an HTML 503 is covered in raw_answers.rs.
    assert!(
        matches!(e, Error::HttpStatus { status: 503, .. })
            || e.slack_error() == Some("service_unavailable"),
        "{e:?}"
    );
    assert!(e.is_retryable() && !e.is_fatal_auth());

    slack.fail_connections_open(
        1,
        OpenError::Ratelimited {
            retry_after_secs: 7,
        },
    );
    let e = web.apps_connections_open(&app).unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable() && !e.is_fatal_auth());

    // The 429 paused the method for this client: refused locally, no request made.
    let calls = slack.calls().len();
    let e = web.apps_connections_open(&app).unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(slack.calls().len(), calls);

    // A wrong app-level token and a wrong bot token (fresh client: no pause).
    let web = builder(&slack)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = web
        .apps_connections_open(&AppToken::new("xapp-1-wrong").unwrap())
        .unwrap_err();
    assert!(e.is_fatal_auth(), "{e:?}");
    let wrong = WebClient::builder(BotToken::new("xoxb-wrong-SECRET").unwrap())
        .base_url(slack.api_url())
        .allow_insecure_http(true)
        .proxy(ProxyConfig::None)
        .build()
        .unwrap();
    let e = wrong.auth_test().unwrap_err();
    assert!(e.is_fatal_auth(), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("SECRET"));

    // A Slack error with its details.
    let e = web
        .chat_post_message(&PostMessage::new("", "x"))
        .unwrap_err();
    match e {
        Error::Slack { method, error, .. } => {
            assert_eq!(
                (method.as_str(), error.as_str()),
                ("chat.postMessage", "channel_not_found")
            );
        }
        other => panic!("{other:?}"),
    }
    slack.shutdown();
}

#[test]
fn idempotent_calls_are_retried_after_server_errors() {
    let slack = FakeSlack::start().unwrap();
    let web = builder(&slack)
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let app = AppToken::new(slack.app_token()).unwrap();
    slack.fail_connections_open(2, OpenError::InternalError);
    assert!(web.apps_connections_open(&app).is_ok());
    assert_eq!(
        slack
            .wait_for_calls("apps.connections.open", 3, T)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(web.stats().retries, 2);
    // A fatal error is never retried.
    slack.fail_connections_open(1, OpenError::InvalidAuth);
    assert!(web.apps_connections_open(&app).unwrap_err().is_fatal_auth());
    assert_eq!(slack.calls().len(), 4);
    slack.shutdown();
}

#[test]
fn a_429_then_success() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack);
    slack.rate_limit("chat.postMessage", 1, 1);
    let posted = web
        .chat_post_message(&PostMessage::new("C1", "hi"))
        .unwrap();
    assert!(!posted.ts.is_empty());
    let calls = slack.wait_for_calls("chat.postMessage", 2, T).unwrap();
    assert_eq!((calls[0].status, calls[1].status), (429, 200));
    // Retry-After was respected (the second request came after the pause).
    assert!(calls[1].at.duration_since(calls[0].at) >= Duration::from_millis(900));
    let s = web.stats();
    assert_eq!((s.rate_limited, s.retries, s.messages_sent), (1, 1, 1));
    assert!(s.rate_limit_waits >= 1);
    slack.shutdown();
}

#[test]
fn a_429_beyond_the_limit() {
    let slack = FakeSlack::start().unwrap();
    let policy = RetryPolicy::default().rate_limit_retries(1);
    let web = builder(&slack).retry_policy(policy).build().unwrap();
    slack.rate_limit("reactions.add", 1, 5);
    let e = web.reactions_add("C1", "eyes", "1.1").unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(slack.calls().len(), 2, "one try and one retry");
    slack.shutdown();
}

#[test]
fn a_long_retry_after_is_returned_and_pauses_the_method_for_every_clone() {
    let slack = FakeSlack::start().unwrap();
    let web = client(&slack); // waits at most 30 s in total
    slack.rate_limit("chat.postMessage", 120, 1);
    let e = web
        .chat_post_message(&PostMessage::new("C1", "a"))
        .unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    // A clone (another handler thread) does not hammer Slack: refused locally.
    let other = web.clone();
    let e = other
        .chat_post_message(&PostMessage::new("C2", "b"))
        .unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert!(e.retry_after().unwrap() > Duration::from_secs(100));
    assert_eq!(slack.calls().len(), 1);
    // Other methods still go.
    web.auth_test().unwrap();
    slack.shutdown();
}

#[test]
fn response_url_errors_and_limits() {
    let slack = FakeSlack::start().unwrap();
    let web = builder(&slack)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let url = slack.response_url();
    for _ in 0..5 {
        web.post_response_url(&url, &ResponseMessage::in_channel("x"))
            .unwrap();
    }
    let e = web
        .post_response_url(&url, &ResponseMessage::in_channel("x"))
        .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(e.slack_error(), Some("used_url"));
    slack.shutdown();
}

#[test]
fn tls_with_the_testkit_ca() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    assert!(slack.api_url().starts_with("https://"));
    let ca = slack.ca_pem().unwrap();
    let web = WebClient::builder(BotToken::new(slack.bot_token()).unwrap())
        .base_url(slack.api_url())
        .add_root_certs_pem(&ca)
        .proxy(ProxyConfig::None)
        .build()
        .unwrap();
    assert_eq!(web.auth_test().unwrap().user_id, slack.bot_user_id());

    // Without the CA the certificate is refused: a TLS error, a configuration problem.
    let untrusting = WebClient::builder(BotToken::new(slack.bot_token()).unwrap())
        .base_url(slack.api_url())
        .proxy(ProxyConfig::None)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = untrusting.auth_test().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Tls,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_fatal_config() && !e.is_retryable());
    slack.shutdown();
}

#[test]
fn through_a_proxy_with_basic_auth() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let proxy = Proxy::start(Some(("user", "p@ss"))).unwrap();
    let port = slack.addr().port();
    let web = WebClient::builder(BotToken::new(slack.bot_token()).unwrap())
        .base_url(slack.api_url())
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .proxy(ProxyConfig::Explicit(proxy.url()))
        .build()
        .unwrap();
    web.auth_test().unwrap();
    let tunnels = proxy.wait_for_tunnels(1, T).unwrap();
    assert_eq!(tunnels[0].method, "CONNECT");
    assert_eq!(tunnels[0].target, format!("127.0.0.1:{port}"));
    assert!(tunnels[0].had_credentials);
    assert_eq!(tunnels[0].status, 200);

    // Proxy settings read through an injected environment; NO_PROXY bypasses it.
    let url = proxy.url();
    let via_env = builder(&slack)
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .proxy(ProxyConfig::Vars(ProxyVars::read(&move |name| {
            (name == "HTTPS_PROXY").then(|| url.clone())
        })))
        .build()
        .unwrap();
    via_env.auth_test().unwrap();
    let before = proxy.wait_for_tunnels(2, T).unwrap().len();
    let url = proxy.url();
    let bypass = builder(&slack)
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .proxy(ProxyConfig::Vars(ProxyVars::read(
            &move |name| match name {
                "https_proxy" => Some(url.clone()),
                "no_proxy" => Some("localhost,127.0.0.1".into()),
                _ => None,
            },
        )))
        .build()
        .unwrap();
    bypass.auth_test().unwrap();
    assert_eq!(proxy.tunnels().len(), before);

    // A proxy that refuses the tunnel: a proxy error, retried (never sent) then reported.
    proxy.refuse_tunnels(Some(403));
    let refused = WebClient::builder(BotToken::new(slack.bot_token()).unwrap())
        .base_url(slack.api_url())
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .proxy(ProxyConfig::Explicit(proxy.url()))
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let e = refused.auth_test().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Proxy,
                ..
            }
        ),
        "{e:?}"
    );
    proxy.shutdown();
    slack.shutdown();
}
