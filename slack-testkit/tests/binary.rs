//! The `fake-slack` binary: JSON lines in, JSON lines out, driven with raw tungstenite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

struct Bin {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
}

impl Bin {
    fn start(args: &[&str]) -> (Bin, Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-slack"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut bin = Bin {
            child,
            stdin,
            lines: rx,
        };
        let first = bin.next();
        (bin, first)
    }

    fn next(&mut self) -> Value {
        self.lines.recv_timeout(T).expect("a line from fake-slack")
    }

    /// Waits for a line with this `event`.
    fn expect(&mut self, event: &str) -> Value {
        loop {
            let v = self.next();
            if v["event"] == event {
                return v;
            }
        }
    }

    fn cmd(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").unwrap();
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn binary_drives_the_fake_over_json_lines() {
    let (mut bin, first) = Bin::start(&["--ack-timeout-ms", "5000"]);
    assert_eq!(first["event"], "listening");
    let api = first["api_url"].as_str().unwrap().to_string();
    let app_token = first["app_token"].as_str().unwrap().to_string();
    let r = api_json(&api, "apps.connections.open", &app_token, &json!({}));
    let url = r.json()["url"].as_str().unwrap().to_string();
    bin.expect("web_call");
    let (mut ws, hello) = ws_connect(&url);
    assert_eq!(hello["type"], "hello");
    let opened = bin.expect("connection_opened");
    assert_eq!(opened["conn"], 1);
    assert!(
        !opened.to_string().contains("ticket="),
        "tickets are not printed"
    );

    bin.cmd(json!({"cmd":"send_event","event":{"type":"message","text":"hi"}}));
    let sent = bin.expect("sent");
    let env = read_json(&mut ws);
    assert_eq!(env["envelope_id"], sent["envelope_id"]);
    ws.send(tungstenite::Message::text(
        json!({"envelope_id": env["envelope_id"], "payload": {"a": 1}}).to_string(),
    ))
    .unwrap();
    let a = bin.expect("ack");
    assert_eq!(a["envelope_id"], env["envelope_id"]);
    assert_eq!(a["payload"], json!({"a": 1}));

    bin.cmd(json!({"cmd":"fail_connections_open","times":1,"error":"invalid_auth"}));
    bin.expect("done");
    assert_eq!(
        api_json(&api, "apps.connections.open", &app_token, &json!({})).json()["error"],
        "invalid_auth"
    );
    let call = bin.expect("web_call");
    assert_eq!(call["response"]["error"], "invalid_auth");

    bin.cmd(json!({"cmd":"fault","conn":1,"fault":"invalid_json"}));
    bin.expect("done");
    assert!(ws.read().unwrap().to_text().unwrap().starts_with("{this"));

    bin.cmd(json!({"cmd":"disconnect","reason":"link_disabled"}));
    assert_eq!(read_json(&mut ws)["reason"], "link_disabled");
    let closed = bin.expect("connection_closed");
    assert_eq!(closed["conn"], 1);

    bin.cmd(json!({"cmd":"nope"}));
    assert_eq!(bin.expect("error")["message"], "unknown command `nope`");
    bin.cmd(json!({"cmd":"shutdown"}));
    bin.expect("stopped");
    let status = bin.child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn binary_with_tls_writes_the_ca() {
    let dir = std::env::temp_dir().join(format!("fake-slack-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    let (mut bin, first) = Bin::start(&["--tls", "--ca-out", ca_path.to_str().unwrap()]);
    assert!(first["api_url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(first["ca_path"], ca_path.to_str().unwrap());
    let pem = std::fs::read_to_string(&ca_path).unwrap();
    let addr = authority(first["api_url"].as_str().unwrap());
    let mut s = tls_connect(&addr, "localhost", &pem).unwrap();
    write!(
        s,
        "GET /api/api.test HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut s).json()["ok"], true);
    bin.cmd(json!({"cmd":"shutdown"}));
    loop {
        if bin.lines.recv_timeout(Duration::from_secs(5)).unwrap()["event"] == "stopped" {
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_first_line_help_version_and_stubs() {
    let (mut bin, first) = Bin::start(&[]);
    // Exactly what the README documents.
    let mut keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "api_url",
            "app_token",
            "bot_token",
            "bot_user_id",
            "event",
            "port"
        ]
    );
    let api = first["api_url"].as_str().unwrap().to_string();
    let bot = first["bot_token"].as_str().unwrap().to_string();
    bin.cmd(json!({"cmd": "stub", "method": "chat.postMessage",
        "response": {"ok": true, "channel": "C9", "ts": "9.9", "stubbed": true}}));
    assert_eq!(bin.expect("done")["cmd"], "stub");
    let r = api_json(
        &api,
        "chat.postMessage",
        &bot,
        &json!({"channel": "C1", "text": "x"}),
    );
    assert_eq!(r.json()["stubbed"], true);
    bin.cmd(
        json!({"cmd": "stub_error", "method": "chat.postMessage", "error": "channel_not_found"}),
    );
    bin.expect("done");
    let r = api_json(
        &api,
        "chat.postMessage",
        &bot,
        &json!({"channel": "C1", "text": "x"}),
    );
    assert_eq!(r.json(), json!({"ok": false, "error": "channel_not_found"}));
    bin.cmd(json!({"cmd": "unstub", "method": "chat.postMessage"}));
    bin.expect("done");
    let r = api_json(
        &api,
        "chat.postMessage",
        &bot,
        &json!({"channel": "C1", "text": "x"}),
    );
    assert_eq!(r.json()["ok"], true);
    bin.cmd(json!({"cmd": "stub"}));
    assert!(
        bin.expect("error")["message"]
            .as_str()
            .unwrap()
            .contains("method")
    );

    for (flag, expect) in [
        ("--help", "usage: fake-slack"),
        ("--version", "fake-slack "),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fake-slack"))
            .arg(flag)
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(expect), "{flag}: {text}");
        assert!(out.stderr.is_empty(), "{flag}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_fake-slack"))
        .arg("--nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
