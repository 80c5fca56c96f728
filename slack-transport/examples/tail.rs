//! Connects to a WebSocket URL and prints every event until the connection closes.
//!
//! ```text
//! cargo run -p slack-transport --example tail -- [--insecure] [--ca FILE.pem] URL
//! ```
//!
//! With a Slack URL from `apps.connections.open` it prints the `hello` and then envelopes
//! (without acking them: this is the transport alone, so Slack will redeliver). Type a line
//! on stdin to send it as a text frame; end stdin (Ctrl-D) to close with code 1000.
//! `RUST_LOG=debug` shows the transport's logs (URLs redacted).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use slack_transport::{Config, Incoming, Outgoing};

fn main() -> ExitCode {
    env_logger::init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    let mut url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--insecure" => config = config.allow_insecure_ws(true),
            "--ca" => {
                let path = args.next().ok_or("--ca needs a file")?;
                config = config.add_root_certs_pem(std::fs::read(path)?);
            }
            _ if url.is_none() => url = Some(arg),
            _ => return Err("usage: tail [--insecure] [--ca FILE.pem] URL".into()),
        }
    }
    let url = url.ok_or("usage: tail [--insecure] [--ca FILE.pem] URL")?;
    let (conn, threads) = slack_transport::connect(&url, &config)?;

    // Lines from stdin become text frames; end of input closes.
    let sender = conn.sender.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send(Outgoing::Text(line)).is_err() {
                return;
            }
        }
        let _ = sender.send(Outgoing::Close {
            code: 1000,
            reason: String::new(),
        });
    });

    let mut out = std::io::stdout().lock();
    for event in conn.receiver.iter() {
        match event {
            Incoming::Text(text) => writeln!(out, "text: {text}")?,
            Incoming::Binary(data) => writeln!(out, "binary: {} bytes", data.len())?,
            Incoming::Ping { .. } => writeln!(out, "ping")?,
            Incoming::Pong { payload, .. } => writeln!(out, "pong: {} bytes", payload.len())?,
            Incoming::Error(e) => writeln!(out, "error: {e}")?,
            Incoming::Closed { code, reason, by } => {
                writeln!(out, "closed by {by:?}: code {code:?} {reason}")?;
            }
        }
    }
    drop(conn);
    threads.join()?;
    Ok(())
}
