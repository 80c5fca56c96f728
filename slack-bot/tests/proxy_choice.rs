//! The socket (`slack-transport`) and the Web API (`slack-web`) make the same proxy choice
//! for the same URL: for each row of proxy variables, both really connect to the same fake
//! Slack (`https://` and `wss://` on one loopback port) and a fake proxy counts the tunnels.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::time::Duration;

use slack_bot::slack_envelope::proxy::{ProxyConfig, ProxyVars};
use slack_bot::slack_transport::{self, Incoming, Outgoing};
use slack_bot::slack_web::{BotToken, WebClient};
use slack_testkit::{FakeSlack, Proxy};

const T: Duration = Duration::from_secs(10);

/// Opens a socket to the fake with these proxy settings, waits for `hello`, closes it.
fn socket(slack: &FakeSlack, proxy: &ProxyConfig) {
    let config = slack_transport::Config::default()
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .proxy(proxy.clone());
    let (conn, threads) = slack_transport::connect(&slack.ws_url(), &config).unwrap();
    match conn.receiver.recv_timeout(T).unwrap() {
        Incoming::Text(hello) => assert!(hello.contains("hello")),
        other => panic!("{other:?}"),
    }
    let _ = conn.sender.send(Outgoing::Close {
        code: 1000,
        reason: String::new(),
    });
    while let Ok(event) = conn.receiver.recv_timeout(T) {
        if matches!(event, Incoming::Closed { .. }) {
            break;
        }
    }
    drop(conn);
    threads.join().unwrap();
}

/// Calls `auth.test` on the fake with these proxy settings.
fn web_api(slack: &FakeSlack, proxy: &ProxyConfig) {
    let web = WebClient::builder(BotToken::new(slack.bot_token()).unwrap())
        .base_url(slack.api_url())
        .add_root_certs_pem(slack.ca_pem().unwrap())
        .proxy(proxy.clone())
        .build()
        .unwrap();
    web.auth_test().unwrap();
}

#[test]
fn socket_and_web_api_choose_the_same_proxy_for_every_url() {
    let slack = FakeSlack::builder().tls(true).start().unwrap();
    let proxy = Proxy::start(None).unwrap();
    let port = slack.addr().port();
    let good = proxy.url();
    // A proxy nobody listens on: using it would fail the connection.
    let dead = "http://127.0.0.1:1".to_owned();
    let on_port = format!("127.0.0.1:{port}");
    let other_port = format!("127.0.0.1:{}", port.wrapping_add(1).max(1));
    // (variables, through the proxy?)
    let rows: Vec<(Vec<(&str, &str)>, bool)> = vec![
        (vec![("https_proxy", &good)], true),
        (vec![("HTTPS_PROXY", &good)], true),
        (vec![("ALL_PROXY", &good)], true),
        // Lowercase first, like curl: the dead uppercase proxy is not used.
        (vec![("https_proxy", &good), ("HTTPS_PROXY", &dead)], true),
        (vec![("https_proxy", &good), ("no_proxy", "")], true),
        (vec![("https_proxy", &good), ("no_proxy", "*")], false),
        (
            vec![("https_proxy", &good), ("no_proxy", "127.0.0.1")],
            false,
        ),
        (
            vec![("https_proxy", &good), ("no_proxy", "127.0.0.0/8")],
            false,
        ),
        (
            vec![("https_proxy", &good), ("NO_PROXY", "127.0.0.1/32")],
            false,
        ),
        (
            vec![("https_proxy", &good), ("no_proxy", "10.0.0.0/8")],
            true,
        ),
        (vec![("https_proxy", &good), ("no_proxy", &on_port)], false),
        (
            vec![("https_proxy", &good), ("no_proxy", &other_port)],
            true,
        ),
        (
            vec![("https_proxy", &good), ("no_proxy", "localhost")],
            true,
        ),
        (vec![("https_proxy", &good), ("no_proxy", "[::1]")], true),
        (
            vec![
                ("https_proxy", &good),
                ("no_proxy", " example.com, 127.0.0.0/8 "),
            ],
            false,
        ),
        // no_proxy wins over NO_PROXY.
        (
            vec![
                ("https_proxy", &good),
                ("no_proxy", "example.com"),
                ("NO_PROXY", "*"),
            ],
            true,
        ),
        // http_proxy is for http:// and ws:// only.
        (vec![("http_proxy", &dead)], false),
    ];
    for (vars, proxied) in rows {
        let read = ProxyVars::read(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        let config = ProxyConfig::Vars(read);
        let before = proxy.tunnels().len();
        socket(&slack, &config);
        let after_socket = proxy.tunnels().len();
        web_api(&slack, &config);
        let after_web = proxy.tunnels().len();
        let socket_proxied = after_socket > before;
        let web_proxied = after_web > after_socket;
        println!("{vars:?}: socket {socket_proxied}, web {web_proxied}");
        assert_eq!(
            (socket_proxied, web_proxied),
            (proxied, proxied),
            "{vars:?}: (socket, web) through the proxy"
        );
    }
    proxy.shutdown();
    slack.shutdown();
}
