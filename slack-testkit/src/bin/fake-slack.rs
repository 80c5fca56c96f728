//! `fake-slack`: the testkit's fake Slack as a process, driven by JSON lines on stdin and
//! reporting JSON lines on stdout. See the crate README for the commands.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use slack_testkit::{ConnId, FakeSlack, Fault, OpenError};

fn out(v: &Value) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{v}");
    let _ = stdout.flush();
}

fn usage() -> &'static str {
    "usage: fake-slack [--tls] [--port N] [--ack-timeout-ms N] [--refresh-grace-ms N] [--ca-out PATH] [--app-token T] [--bot-token T]
       fake-slack --help | --version

A fake Slack (Web API + Socket Mode) on 127.0.0.1. The first stdout line is a JSON object:
{\"event\":\"listening\",\"api_url\":…,\"port\":…,\"app_token\":…,\"bot_token\":…,\"bot_user_id\":…}
(plus \"ca_path\" with --tls). Then each stdin line is a JSON command (send_event, send_envelope,
send_slash_command, send_interactive, disconnect, fault, fail_connections_open, rate_limit,
stub, stub_error, unstub, add_channels, ws_url, status, shutdown) and each stdout line is a
JSON event. See the slack-testkit README."
}

/// What the command line asked for.
enum Parsed {
    Run(Args),
    Help,
    Version,
}

struct Args {
    tls: bool,
    port: u16,
    ack_timeout_ms: Option<u64>,
    refresh_grace_ms: Option<u64>,
    ca_out: Option<String>,
    app_token: Option<String>,
    bot_token: Option<String>,
}

fn parse_args() -> Result<Parsed, String> {
    let mut a = Args {
        tls: false,
        port: 0,
        ack_timeout_ms: None,
        refresh_grace_ms: None,
        ca_out: None,
        app_token: None,
        bot_token: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--tls" => a.tls = true,
            "--port" => {
                a.port = value("--port")?
                    .parse()
                    .map_err(|_| "invalid --port".to_string())?
            }
            "--ack-timeout-ms" => {
                a.ack_timeout_ms = Some(
                    value("--ack-timeout-ms")?
                        .parse()
                        .map_err(|_| "invalid --ack-timeout-ms".to_string())?,
                )
            }
            "--refresh-grace-ms" => {
                a.refresh_grace_ms = Some(
                    value("--refresh-grace-ms")?
                        .parse()
                        .map_err(|_| "invalid --refresh-grace-ms".to_string())?,
                )
            }
            "--ca-out" => a.ca_out = Some(value("--ca-out")?),
            "--app-token" => a.app_token = Some(value("--app-token")?),
            "--bot-token" => a.bot_token = Some(value("--bot-token")?),
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            other => return Err(format!("unknown argument `{other}`\n{}", usage())),
        }
    }
    Ok(Parsed::Run(a))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(stdout, "{}", usage());
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(stdout, "fake-slack {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = writeln!(io::stderr(), "{e}");
            return ExitCode::from(2);
        }
    };
    let mut b = FakeSlack::builder().tls(args.tls).port(args.port);
    if let Some(ms) = args.ack_timeout_ms {
        b = b.ack_timeout(Duration::from_millis(ms));
    }
    if let Some(ms) = args.refresh_grace_ms {
        b = b.refresh_grace(Duration::from_millis(ms));
    }
    if let Some(t) = args.app_token {
        b = b.app_token(t);
    }
    if let Some(t) = args.bot_token {
        b = b.bot_token(t);
    }
    let slack = match b.start() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(io::stderr(), "fake-slack: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut first = json!({
        "event": "listening",
        "api_url": slack.api_url(),
        "port": slack.addr().port(),
        "app_token": slack.app_token(),
        "bot_token": slack.bot_token(),
        "bot_user_id": slack.bot_user_id(),
    });
    if let Some(pem) = slack.ca_pem() {
        let path = args.ca_out.unwrap_or_else(|| {
            std::env::temp_dir()
                .join(format!("fake-slack-{}-ca.pem", slack.addr().port()))
                .to_string_lossy()
                .into_owned()
        });
        if let Err(e) = std::fs::write(&path, pem) {
            let _ = writeln!(
                io::stderr(),
                "fake-slack: could not write the CA to {path}: {e}"
            );
            return ExitCode::FAILURE;
        }
        if let Some(o) = first.as_object_mut() {
            o.insert("ca_path".into(), json!(path));
        }
    }
    let events = slack.subscribe();
    out(&first);
    let printer = std::thread::spawn(move || {
        for ev in events.iter() {
            out(&ev.to_json());
        }
    });
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(cmd) => {
                if cmd.get("cmd").and_then(Value::as_str) == Some("shutdown") {
                    break;
                }
                let answer = match run(&slack, &cmd) {
                    Ok(v) => v,
                    Err(e) => json!({"event": "error", "message": e}),
                };
                out(&answer);
            }
            Err(e) => {
                out(&json!({"event": "error", "message": format!("invalid json command: {e}")}))
            }
        }
    }
    slack.shutdown();
    let _ = printer.join();
    out(&json!({"event": "stopped"}));
    ExitCode::SUCCESS
}

fn conns(slack: &FakeSlack, cmd: &Value) -> Vec<ConnId> {
    match cmd.get("conn").and_then(Value::as_u64) {
        Some(id) => vec![ConnId(id)],
        None => slack.open_connections(),
    }
}

fn run(slack: &FakeSlack, cmd: &Value) -> Result<Value, String> {
    let name = cmd.get("cmd").and_then(Value::as_str).unwrap_or("");
    let sent = |r: Result<String, slack_testkit::Error>| {
        r.map(|id| json!({"event": "sent", "envelope_id": id}))
            .map_err(|e| e.to_string())
    };
    match name {
        "send_envelope" => {
            sent(slack.send_envelope(cmd.get("frame").cloned().unwrap_or(Value::Null)))
        }
        "send_event" => sent(slack.send_event(cmd.get("event").cloned().unwrap_or(json!({})))),
        "send_slash_command" => sent(
            slack.send_slash_command(
                cmd.get("command")
                    .and_then(Value::as_str)
                    .unwrap_or("/testkit"),
                cmd.get("text").and_then(Value::as_str).unwrap_or(""),
            ),
        ),
        "send_interactive" => {
            sent(slack.send_interactive(cmd.get("payload").cloned().unwrap_or(json!({}))))
        }
        "disconnect" => {
            let reason = cmd
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("refresh_requested");
            let ids = conns(slack, cmd);
            for id in &ids {
                slack.disconnect(*id, reason).map_err(|e| e.to_string())?;
            }
            Ok(
                json!({"event": "done", "cmd": name, "conns": ids.iter().map(|c| c.0).collect::<Vec<_>>()}),
            )
        }
        "fault" => {
            let fname = cmd.get("fault").and_then(Value::as_str).unwrap_or("");
            let fault = Fault::from_name(fname, cmd.get("arg").and_then(Value::as_u64))
                .ok_or_else(|| format!("unknown fault `{fname}`"))?;
            let ids = conns(slack, cmd);
            for id in &ids {
                slack.fault(*id, fault.clone()).map_err(|e| e.to_string())?;
            }
            Ok(
                json!({"event": "done", "cmd": name, "conns": ids.iter().map(|c| c.0).collect::<Vec<_>>()}),
            )
        }
        "fail_connections_open" => {
            let times = cmd.get("times").and_then(Value::as_u64).unwrap_or(1);
            let error = cmd
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("internal_error");
            let retry = cmd.get("retry_after").and_then(Value::as_u64).unwrap_or(1);
            slack.fail_connections_open(
                usize::try_from(times).unwrap_or(1),
                OpenError::from_name(error, retry),
            );
            Ok(json!({"event": "done", "cmd": name}))
        }
        "rate_limit" => {
            let method = cmd
                .get("method")
                .and_then(Value::as_str)
                .ok_or("rate_limit needs `method`")?;
            let retry = cmd.get("retry_after").and_then(Value::as_u64).unwrap_or(1);
            let times = cmd.get("times").and_then(Value::as_u64).unwrap_or(1);
            slack.rate_limit(method, retry, usize::try_from(times).unwrap_or(1));
            Ok(json!({"event": "done", "cmd": name}))
        }
        "stub" => {
            let method = cmd
                .get("method")
                .and_then(Value::as_str)
                .ok_or("stub needs `method`")?;
            let response = cmd
                .get("response")
                .cloned()
                .ok_or("stub needs `response`")?;
            slack.stub(method, response);
            Ok(json!({"event": "done", "cmd": name}))
        }
        "stub_error" => {
            let method = cmd
                .get("method")
                .and_then(Value::as_str)
                .ok_or("stub_error needs `method`")?;
            let error = cmd
                .get("error")
                .and_then(Value::as_str)
                .ok_or("stub_error needs `error`")?;
            slack.stub_error(method, error);
            Ok(json!({"event": "done", "cmd": name}))
        }
        "unstub" => {
            let method = cmd
                .get("method")
                .and_then(Value::as_str)
                .ok_or("unstub needs `method`")?;
            slack.unstub(method);
            Ok(json!({"event": "done", "cmd": name}))
        }
        "add_channels" => {
            let n = cmd.get("count").and_then(Value::as_u64).unwrap_or(1);
            slack.add_channels(usize::try_from(n).unwrap_or(1).min(10_000));
            Ok(json!({"event": "done", "cmd": name}))
        }
        "ws_url" => Ok(json!({"event": "ws_url", "url": slack.ws_url()})),
        "status" => {
            let c: Vec<Value> = slack
                .connections()
                .iter()
                .map(|c| {
                    json!({"conn": c.id.0, "open": c.open, "refused": c.refused,
                    "close_reason": c.close_reason, "envelopes_sent": c.envelopes_sent})
                })
                .collect();
            Ok(
                json!({"event": "status", "connections": c, "acks": slack.acks().len(), "calls": slack.calls().len()}),
            )
        }
        other => Err(format!("unknown command `{other}`")),
    }
}
