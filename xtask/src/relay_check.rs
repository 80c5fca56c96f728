//! `cargo xtask relay-check`: an HTTP-mode app built on Bolt for Python (`xtask/relay_app.py`,
//! `slack_bolt` from PyPI) behind `slack-bot relay`, with the testkit's `fake-slack` playing
//! Slack. Proof with an app nobody here wrote the receiving side of: Bolt verifies the
//! signature, its event listener runs and calls the Web API, its slash command answer comes
//! back in the ack, its `view_submission` validation errors come back, and a relay with the
//! wrong signing secret is rejected by Bolt (the envelope is left for Slack to redeliver, and
//! is delivered once a relay with the right secret runs).
//!
//! Shares the interop check's virtualenv and helpers; like it, skipped loudly when Python or
//! PyPI is unavailable, and a failure under `CI=true`.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::interop::{self, Outcome, Scenario, field, number};

const SECRET: &str = "relay-check-signing-secret-0b1e";
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// Runs the check; returns true on success (or on a loud skip outside CI).
pub(crate) fn run(root: &Path) -> bool {
    interop::report(
        "relay-check",
        "Bolt for Python relay check",
        "Bolt verified the relay's signatures, its listener called the Web API, its slash command answer and view_submission errors came back in the acks, and a wrong secret was rejected (and redelivered)",
        run_inner(root),
    )
}

/// A `slack-bot relay` process, killed when dropped; its stderr lines on a channel.
struct RelayProc {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl RelayProc {
    fn start(exe: &Path, env: &[(&str, &str)], to: &str) -> Result<RelayProc, Outcome> {
        let mut cmd = Command::new(exe);
        cmd.args(["relay", "--to", to, "--timeout", "5"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Outcome::Failed(format!("starting {}: {e}", exe.display())))?;
        let (tx, rx) = mpsc::channel();
        if let Some(err) = child.stderr.take() {
            let verbose = std::env::var_os("RELAY_CHECK_VERBOSE").is_some();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    if verbose {
                        println!("[relay] {line}");
                    }
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(RelayProc { child, stderr: rx })
    }

    fn wait_log(
        &self,
        what: &str,
        deadline: Instant,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, Outcome> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if pred(&line) => return Ok(line),
                Ok(_) => {}
                Err(_) => {
                    return Err(Outcome::Failed(format!(
                        "timed out waiting for the relay to log {what}"
                    )));
                }
            }
        }
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn build_relay(root: &Path) -> Result<PathBuf, Outcome> {
    let st = interop::run_bounded(
        crate::cargo()
            .args(["build", "--quiet", "-p", "slack-bot", "--bin", "slack-bot"])
            .current_dir(root),
        Duration::from_secs(900),
    );
    if !matches!(st, Ok(s) if s.success()) {
        return Err(Outcome::Failed(format!(
            "building slack-bot failed: {st:?}"
        )));
    }
    let exe = if cfg!(windows) {
        "slack-bot.exe"
    } else {
        "slack-bot"
    };
    Ok(interop::target_dir(root).join("debug").join(exe))
}

fn free_port() -> Result<u16, Outcome> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Outcome::Failed(format!("no free port: {e}")))
}

fn run_inner(root: &Path) -> Result<(), Outcome> {
    let py = interop::prepare_python_with(
        root,
        "relay-check",
        "import slack_bolt, slack_sdk",
        &["slack_bolt", "slack_sdk"],
    )?;
    let fake_exe = interop::build_fake(root)?;
    let relay_exe = build_relay(root)?;
    let app_py = root.join("xtask").join("relay_app.py");

    // Slack redelivers after 4 s here (3 s in real Slack): the wrong-secret step waits for it.
    let (mut sc, first) = Scenario::start(
        &fake_exe,
        &["--ack-timeout-ms", "4000"],
        SCENARIO_LIMIT,
        "RELAY_CHECK_VERBOSE",
    )?;
    let api_url = field(&first, "api_url").ok_or_else(|| Outcome::Failed("no api_url".into()))?;
    let app_token =
        field(&first, "app_token").ok_or_else(|| Outcome::Failed("no app_token".into()))?;
    let bot_token =
        field(&first, "bot_token").ok_or_else(|| Outcome::Failed("no bot_token".into()))?;

    // The Bolt app, in HTTP mode on a local port.
    let port = free_port()?;
    let bolt = Command::new(&py)
        .arg(&app_py)
        .env("SLACK_API_URL", &api_url)
        .env("BOLT_BOT_TOKEN", &bot_token)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| Outcome::Failed(format!("starting the Bolt app: {e}")))?;
    sc.python = Some(bolt);
    let listening = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > listening {
            return Err(Outcome::Failed(format!(
                "the Bolt app did not listen on port {port} within 30 s"
            )));
        }
        if let Some(Ok(Some(st))) = sc.python.as_mut().map(Child::try_wait) {
            return Err(Outcome::Failed(format!("the Bolt app exited: {st}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("[relay-check] Bolt app listening on 127.0.0.1:{port}");
    let to = format!("http://127.0.0.1:{port}/slack/events");
    let base_env = [
        ("SLACK_API_URL", api_url.as_str()),
        ("SLACK_APP_TOKEN", app_token.as_str()),
        ("SLACK_BOT_TOKEN", bot_token.as_str()),
        ("SLACK_ALLOW_INSECURE", "1"),
    ];

    // 1. A relay with the wrong signing secret: Bolt refuses each request (401), and the relay
    //    leaves the envelope un-acked for Slack to redeliver.
    let mut env = base_env.to_vec();
    env.push(("SLACK_SIGNING_SECRET", "not-the-apps-secret"));
    let wrong = RelayProc::start(&relay_exe, &env, &to)?;
    let hello = sc.wait("the wrong-secret relay's hello", |l| {
        l.contains("\"event\":\"hello_sent\"")
    })?;
    let wrong_conn = number(&hello, "conn").unwrap_or(0);
    let refused = sc.sent_id(
        r#"{"cmd":"send_event","event":{"type":"message","text":"signed with the wrong secret","user":"U111","channel":"C111","ts":"1700000000.000100"}}"#,
    )?;
    let line = wrong.wait_log("Bolt's refusal (HTTP 401)", sc.deadline, |l| {
        l.contains(&refused) && l.contains("HTTP 401")
    })?;
    println!("[relay-check] wrong secret: Bolt refused it; relay: {line}");
    if let Some(i) = sc_ack_seen(&mut sc, &refused) {
        return Err(Outcome::Failed(format!(
            "an envelope Bolt refused was acked anyway: {i}"
        )));
    }
    drop(wrong);
    sc.wait("the wrong-secret relay to go", move |l| {
        l.contains("\"event\":\"connection_closed\"") && number(l, "conn") == Some(wrong_conn)
    })?;

    // 2. The right secret.
    let mut env = base_env.to_vec();
    env.push(("SLACK_SIGNING_SECRET", SECRET));
    let _relay = RelayProc::start(&relay_exe, &env, &to)?;
    sc.wait("the relay's hello", move |l| {
        l.contains("\"event\":\"hello_sent\"") && number(l, "conn") != Some(wrong_conn)
    })?;
    // Slack's redelivery of the refused envelope now gets through.
    let redelivered = sc.wait_ack(&refused)?;
    if number(&redelivered, "retry_attempt").unwrap_or(0) < 1 {
        return Err(Outcome::Failed(format!(
            "the refused envelope was acked without a redelivery: {redelivered}"
        )));
    }
    println!("[relay-check] the refused envelope was redelivered and acked");

    // 3. An event: Bolt's listener runs and calls chat.postMessage.
    let ev = sc.sent_id(
        r#"{"cmd":"send_event","event":{"type":"app_mention","text":"<@U0BOT> hi relay","user":"U111","channel":"C111","ts":"1700000000.000200"}}"#,
    )?;
    sc.wait_ack(&ev)?;
    let post = sc.wait("Bolt's chat.postMessage", |l| {
        l.contains("\"event\":\"web_call\"")
            && l.contains("chat.postMessage")
            && l.contains("Bolt heard: <@U0BOT> hi relay")
    })?;
    if !post.contains("C111") {
        return Err(Outcome::Failed(format!(
            "Bolt posted to the wrong channel: {post}"
        )));
    }
    println!("[relay-check] event: acked; Bolt's listener called chat.postMessage");

    // 4. A slash command: Bolt's ack(text) comes back in the Socket Mode ack.
    let cmd = sc.sent_id(r#"{"cmd":"send_slash_command","command":"/relay-hello","text":"hi"}"#)?;
    let ack = sc.wait_ack(&cmd)?;
    if !ack.contains("from Bolt behind the relay") {
        return Err(Outcome::Failed(format!(
            "the slash command ack lacks Bolt's answer: {ack}"
        )));
    }
    println!("[relay-check] slash command: Bolt's answer is in the ack");

    // 5. A view_submission: Bolt's validation errors come back.
    let view = sc.sent_id(
        r#"{"cmd":"send_interactive","payload":{"type":"view_submission","team":{"id":"T111","domain":"testkit"},"user":{"id":"U111","username":"tester","team_id":"T111"},"api_app_id":"A111","token":"verification-token","trigger_id":"111.222.xxx","view":{"id":"V111","team_id":"T111","type":"modal","callback_id":"relay-modal","private_metadata":"","state":{"values":{"name_block":{"name":{"type":"plain_text_input","value":"ab"}}}},"hash":"1.x","title":{"type":"plain_text","text":"Relay"},"blocks":[]},"response_urls":[],"is_enterprise_install":false}}"#,
    )?;
    let ack = sc.wait_ack(&view)?;
    if !(ack.contains("\"response_action\":\"errors\"") && ack.contains("at least 3 characters")) {
        return Err(Outcome::Failed(format!(
            "the view_submission ack lacks Bolt's errors: {ack}"
        )));
    }
    println!("[relay-check] view_submission: Bolt's validation errors are in the ack");
    if let Some(mut bolt) = sc.python.take() {
        let _ = bolt.kill();
        let _ = bolt.wait();
    }
    Ok(())
}

/// An ack of `id` already seen (without waiting), if any.
fn sc_ack_seen(sc: &mut Scenario, id: &str) -> Option<String> {
    let saved = sc.deadline;
    sc.deadline = Instant::now() + Duration::from_millis(500);
    let r = sc.wait_ack(id).ok();
    sc.deadline = saved;
    r
}

/// `cargo xtask systemd-check`: `systemd-analyze verify` on `slack-bot/deploy/slack-bot.service`
/// (with `ExecStart` pointed at the freshly built binary, since verify checks that it exists).
/// Any warning fails the check; without `systemd-analyze` it is skipped with a message.
pub(crate) fn systemd_check(root: &Path) -> bool {
    let unit = root
        .join("slack-bot")
        .join("deploy")
        .join("slack-bot.service");
    let probe = Command::new("systemd-analyze")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        println!(
            "[systemd-check] SKIPPED: systemd-analyze is not available here; {} not verified",
            unit.display()
        );
        return true;
    }
    let text = match std::fs::read_to_string(&unit) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "[systemd-check] FAILED: cannot read {}: {e}",
                unit.display()
            );
            return false;
        }
    };
    let exe = match build_relay(root) {
        Ok(exe) => exe,
        Err(Outcome::Failed(why) | Outcome::Unavailable(why)) => {
            eprintln!("[systemd-check] FAILED: {why}");
            return false;
        }
    };
    let dir = interop::target_dir(root).join("systemd-check");
    let copy = dir.join("slack-bot.service");
    let text = text.replace("/usr/local/bin/slack-bot", &exe.to_string_lossy());
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&copy, text)) {
        eprintln!(
            "[systemd-check] FAILED: cannot write {}: {e}",
            copy.display()
        );
        return false;
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output();
    match out {
        Ok(o) if o.status.success() && o.stderr.is_empty() && o.stdout.is_empty() => {
            println!(
                "[systemd-check] OK: systemd-analyze verify accepts {}",
                unit.display()
            );
            true
        }
        Ok(o) => {
            eprintln!(
                "[systemd-check] FAILED: systemd-analyze verify {}: {}\n{}{}",
                unit.display(),
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("[systemd-check] FAILED: running systemd-analyze: {e}");
            false
        }
    }
}
