//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use slack_testkit::FakeSlack;
use slack_web::{BotToken, ProxyConfig, RetryPolicy, WebClient, WebClientBuilder};

/// Every wait in these tests is bounded by this.
pub const T: Duration = Duration::from_secs(10);

/// A client for the fake: plain http allowed, no proxy, short timeouts.
pub fn builder(slack: &FakeSlack) -> WebClientBuilder {
    WebClient::builder(BotToken::new(slack.bot_token()).unwrap())
        .base_url(slack.api_url())
        .allow_insecure_http(true)
        .proxy(ProxyConfig::None)
        .timeout(T)
}

pub fn client(slack: &FakeSlack) -> WebClient {
    builder(slack).build().unwrap()
}

/// A retry policy with fast backoff, for tests.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .backoff_initial(Duration::from_millis(10))
        .backoff_max(Duration::from_millis(20))
}

/// A canned answer of [`RawServer`].
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Do not answer at all (hold the connection open for this long).
    pub hang: Option<Duration>,
}

impl Canned {
    pub fn json(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("Content-Type", "application/json; charset=utf-8".into())],
            body: body.into(),
            hang: None,
        }
    }
    pub fn text(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("Content-Type", "text/html".into())],
            body: body.into(),
            hang: None,
        }
    }
    pub fn hang(d: Duration) -> Canned {
        Canned {
            status: 0,
            headers: vec![],
            body: String::new(),
            hang: Some(d),
        }
    }
}

/// A tiny HTTP/1.1 server answering each connection with the next canned answer, for shapes
/// the fake Slack does not produce (HTML errors, warnings, hangs). Records request heads.
pub struct RawServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    pub fn start(answers: Vec<Canned>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&requests);
        let thread = std::thread::spawn(move || {
            for answer in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                stream.set_read_timeout(Some(T)).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                head.push_str("\r\n");
                head.push_str(&String::from_utf8_lossy(&body));
                rec.lock().unwrap().push(head);
                if let Some(d) = answer.hang {
                    std::thread::sleep(d);
                    continue;
                }
                let mut out = stream;
                let mut text = format!("HTTP/1.1 {} X\r\n", answer.status);
                for (k, v) in &answer.headers {
                    text.push_str(&format!("{k}: {v}\r\n"));
                }
                text.push_str(&format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                    answer.body.len(),
                    answer.body
                ));
                let _ = out.write_all(text.as_bytes());
            }
        });
        RawServer {
            url,
            requests,
            thread: Some(thread),
        }
    }

    pub fn client(&self, retry: RetryPolicy) -> WebClient {
        WebClient::builder(BotToken::new("xoxb-raw-SECRET").unwrap())
            .base_url(&self.url)
            .allow_insecure_http(true)
            .proxy(ProxyConfig::None)
            .retry_policy(retry)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap()
    }

    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// A logger that keeps every record ("LEVEL target message"), to check that warnings are logged.
pub struct Capture(pub Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {} {}", r.level(), r.target(), r.args()));
    }
    fn flush(&self) {}
}

pub static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

pub fn capture_logs() {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Trace);
}
