//! Bad input to the `slack-bot` binary: each mistake gets exactly one clear line on stderr
//! naming the problem, exit code 78, and no network call.
//!
//! The binary runs with a clean environment (only `PATH`), pointed at a fake Slack
//! (`SLACK_API_URL`, `SLACK_ALLOW_INSECURE=1`), which must see no request at all; a control
//! test shows that the same setup with good input does reach the fake.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slack_testkit::FakeSlack;

const APP_TOKEN: &str = "xapp-1-A111-444-cliSECRETapp";
const BOT_TOKEN: &str = "xoxb-111-444-cliSECRETbot";

/// What a run of the binary produced.
#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with only `PATH` and `vars` in its environment; fails past 30 s.
fn run(args: &[&str], vars: &[(&str, &str)]) -> Outcome {
    run_os(
        &args
            .iter()
            .map(std::ffi::OsString::from)
            .collect::<Vec<_>>(),
        vars,
    )
}

fn run_os(args: &[std::ffi::OsString], vars: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-bot"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "slack-bot {args:?} still running after 30 s; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fake Slack that must hear nothing, and the environment pointing the binary at it.
struct Target {
    slack: FakeSlack,
    api_url: String,
}

impl Target {
    fn new() -> Target {
        let slack = FakeSlack::builder()
            .app_token(APP_TOKEN)
            .bot_token(BOT_TOKEN)
            .start()
            .unwrap();
        let api_url = slack.api_url();
        Target { slack, api_url }
    }

    /// Good values for everything, with `vars` replacing or adding some.
    fn env<'a>(&'a self, vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all: Vec<(&str, &str)> = vec![
            ("SLACK_APP_TOKEN", APP_TOKEN),
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
            ("SLACK_API_URL", &self.api_url),
            ("SLACK_ALLOW_INSECURE", "1"),
            ("BOT_USER_ID", "U0BOT"),
        ];
        for (k, v) in vars {
            all.retain(|(name, _)| name != k);
            all.push((k, v));
        }
        all
    }

    /// Runs with good values overridden by `vars` and checks the refusal.
    fn refused(&self, args: &[&str], vars: &[(&str, &str)], expect: &[&str]) -> String {
        let vars = self.env(vars);
        self.refused_raw(args, &vars, expect)
    }

    /// Runs with exactly `vars` and checks: exit code 78 (EX_CONFIG), one line on stderr starting with
    /// `slack-bot:` and holding every `expect` string, nothing on stdout, no secret, and no
    /// request to the fake.
    fn refused_raw(&self, args: &[&str], vars: &[(&str, &str)], expect: &[&str]) -> String {
        let out = run(args, vars);
        self.check_refusal(&format!("{args:?} {vars:?}"), &out, expect)
    }

    fn check_refusal(&self, what: &str, out: &Outcome, expect: &[&str]) -> String {
        assert_eq!(out.code, Some(78), "{what}: {out:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: one line on stderr: {out:?}");
        let line = lines[0];
        assert!(line.starts_with("slack-bot: "), "{what}: {line}");
        for e in expect {
            assert!(line.contains(e), "{what}: {line:?} should mention {e:?}");
        }
        assert!(out.stdout.is_empty(), "{what}: {out:?}");
        for secret in [APP_TOKEN, BOT_TOKEN, "cliSECRET"] {
            assert!(
                !line.contains(secret),
                "{what}: the message repeats a token: {line}"
            );
        }
        assert!(
            self.slack.calls().is_empty(),
            "{what}: a request reached Slack: {:?}",
            self.slack.calls()
        );
        assert!(self.slack.connections().is_empty(), "{what}");
        println!("{line}");
        line.to_owned()
    }
}

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "slack-bot-cli-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `content` to `name` with this Unix mode; returns the path as a string.
    fn file(&self, name: &str, content: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

#[test]
fn good_input_reaches_slack_control() {
    // The control for every "no network call" check below: the same setup, good input.
    let t = Target::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slack-bot"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(t.env(&[]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let connected = t.slack.wait_for_connections(1, Duration::from_secs(30));
    // Ctrl-C: a graceful stop.
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the bot did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    connected.unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        t.slack
            .calls()
            .iter()
            .any(|c| c.method == "apps.connections.open")
    );
    for secret in [APP_TOKEN, BOT_TOKEN, "cliSECRET"] {
        assert!(!stderr.contains(secret), "{stderr}");
    }
}

#[test]
fn wrong_token_prefixes() {
    let t = Target::new();
    t.refused(
        &[],
        &[("SLACK_APP_TOKEN", BOT_TOKEN)],
        &["SLACK_APP_TOKEN", "xapp-", "xoxb-"],
    );
    t.refused(
        &[],
        &[("SLACK_BOT_TOKEN", APP_TOKEN)],
        &["SLACK_BOT_TOKEN", "xoxb-", "xapp-"],
    );
    t.refused(
        &[],
        &[("SLACK_BOT_TOKEN", "xoxp-1-cliSECRETuser")],
        &["SLACK_BOT_TOKEN", "xoxb-", "xoxp-"],
    );
    t.refused(
        &[],
        &[("SLACK_APP_TOKEN", "cliSECRET-no-prefix")],
        &["SLACK_APP_TOKEN", "xapp-"],
    );
    // Only the prefix, and whitespace inside.
    t.refused(
        &[],
        &[("SLACK_APP_TOKEN", "xapp-")],
        &["SLACK_APP_TOKEN", "nothing after"],
    );
    t.refused(
        &[],
        &[("SLACK_BOT_TOKEN", "xoxb-1 cliSECRET")],
        &["SLACK_BOT_TOKEN", "whitespace"],
    );
}

#[test]
fn empty_and_missing_tokens() {
    let t = Target::new();
    t.refused(
        &[],
        &[("SLACK_APP_TOKEN", "")],
        &["SLACK_APP_TOKEN", "empty"],
    );
    t.refused(
        &[],
        &[("SLACK_BOT_TOKEN", "  ")],
        &["SLACK_BOT_TOKEN", "empty"],
    );
    let without_app: Vec<(&str, &str)> = t
        .env(&[])
        .into_iter()
        .filter(|(k, _)| *k != "SLACK_APP_TOKEN")
        .collect();
    t.refused_raw(&[], &without_app, &["SLACK_APP_TOKEN is not set"]);
    let without_bot: Vec<(&str, &str)> = t
        .env(&[])
        .into_iter()
        .filter(|(k, _)| *k != "SLACK_BOT_TOKEN")
        .collect();
    t.refused_raw(&[], &without_bot, &["SLACK_BOT_TOKEN is not set"]);
}

#[test]
fn connections_out_of_range() {
    let t = Target::new();
    for n in ["0", "11", "abc", "-1", ""] {
        t.refused(&["--connections", n], &[], &["--connections", "1 to 10"]);
    }
    t.refused(&["--connections=11"], &[], &["--connections", "1 to 10"]);
    t.refused(&["--connections"], &[], &["--connections", "needs a value"]);
    t.refused(
        &[],
        &[("SLACK_CONNECTIONS", "0")],
        &["SLACK_CONNECTIONS", "1 to 10"],
    );
}

#[test]
fn token_files_missing_unreadable_or_readable_by_others() {
    let t = Target::new();
    let dir = TempDir::new("tokens");
    let missing = dir.path("missing-token");
    t.refused(
        &["--app-token-file", &missing],
        &[],
        &["SLACK_APP_TOKEN", &missing],
    );
    t.refused(
        &[],
        &[("SLACK_BOT_TOKEN_FILE", &missing)],
        &["SLACK_BOT_TOKEN", &missing],
    );
    // A directory cannot be read as a file (as root, a mode-000 file still can).
    let sub = dir.path("a-directory");
    std::fs::create_dir(&sub).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    t.refused(
        &["--bot-token-file", &sub],
        &[],
        &["cannot read", "SLACK_BOT_TOKEN", &sub],
    );
    if !is_root() {
        let locked = dir.file("locked", BOT_TOKEN, 0o000);
        t.refused(
            &["--bot-token-file", &locked],
            &[],
            &["cannot read", &locked],
        );
    }
    // Writable by others: always refused, whoever owns it.
    for (mode, name) in [(0o620, "group-w"), (0o602, "world-w"), (0o660, "group-rw")] {
        let f = dir.file(name, APP_TOKEN, mode);
        t.refused(
            &["--app-token-file", &f],
            &[],
            &["can be written by others", "chmod 600", &f],
        );
    }
    // Readable by others: refused unless root owns it (a read-only secret mounted by
    // Kubernetes or Docker); the rule itself is unit-tested in main.rs for both owners.
    if !is_root() {
        for (mode, name) in [(0o640, "group"), (0o604, "world")] {
            let f = dir.file(name, APP_TOKEN, mode);
            t.refused(
                &["--app-token-file", &f],
                &[],
                &["can be read by others", "chmod 600", &f],
            );
        }
    }
    let empty = dir.file("empty", "\n", 0o600);
    t.refused(
        &["--app-token-file", &empty],
        &[],
        &["file", &empty, "empty"],
    );
    let wrong = dir.file("wrong-kind", &format!("{BOT_TOKEN}\n"), 0o600);
    t.refused(
        &[&format!("--app-token-file={wrong}")],
        &[],
        &[&wrong, "xapp-", "xoxb-"],
    );
}

#[test]
fn invalid_proxy_urls() {
    let t = Target::new();
    for p in [
        "socks5://proxy:1080",
        "https://proxy:3128",
        "http://",
        "http://:8080",
        "http://proxy:notaport",
        "http://proxy:0",
        "http://proxy:70000",
        "http://proxy:3128/some/path",
        "http://pro xy:3128",
    ] {
        let line = t.refused(&["--proxy", p], &[], &["--proxy", "proxy URL"]);
        assert!(!line.contains("cliSECRET"));
    }
    // The password of a proxy URL is not repeated either.
    let line = t.refused(
        &["--proxy", "http://user:cliSECRETpw@:3128"],
        &[],
        &["--proxy", "no host"],
    );
    assert!(!line.contains("cliSECRETpw"), "{line}");
    // The environment's proxy variables are checked too, and named.
    t.refused(
        &[],
        &[("HTTPS_PROXY", "socks5://proxy:1080")],
        &["HTTPS_PROXY", "proxy URL"],
    );
    t.refused(
        &[],
        &[("https_proxy", "http://proxy:port")],
        &["https_proxy", "proxy URL"],
    );
    t.refused(
        &[],
        &[("ALL_PROXY", "http://:1")],
        &["ALL_PROXY", "proxy URL"],
    );
    // The lowercase variable wins, as with curl and the libraries.
    t.refused(
        &[],
        &[
            ("HTTPS_PROXY", "http://good:3128"),
            ("https_proxy", "socks5://proxy:1080"),
        ],
        &["https_proxy", "proxy URL"],
    );
}

#[test]
fn unknown_flags_and_arguments() {
    let t = Target::new();
    for arg in ["--nope", "-x", "--connection", "run"] {
        t.refused(&[arg], &[], &["unknown argument", arg]);
    }
    t.refused(
        &["--debug-reconnects=1"],
        &[],
        &["--debug-reconnects", "no value"],
    );
    t.refused(&["--connections", "2", "--verbose"], &[], &["--verbose"]);
    t.refused(&["demo", "--nope"], &[], &["--nope", "demo"]);
    // A token pasted as an argument is not echoed.
    let line = t.refused(&[BOT_TOKEN], &[], &["unknown argument"]);
    assert!(!line.contains("cliSECRET"), "{line}");
    // Not UTF-8.
    use std::os::unix::ffi::OsStringExt;
    let out = run_os(
        &[std::ffi::OsString::from_vec(vec![b'-', b'-', 0xff, 0xfe])],
        &t.env(&[]),
    );
    t.check_refusal("a non-UTF-8 argument", &out, &["UTF-8"]);
}

#[test]
fn bad_api_url_and_ca_file() {
    let t = Target::new();
    t.refused(
        &[],
        &[("SLACK_API_URL", "ftp://127.0.0.1/api/")],
        &["SLACK_API_URL", "https://"],
    );
    t.refused(&[], &[("SLACK_API_URL", "https://")], &["SLACK_API_URL"]);
    let plain: Vec<(&str, &str)> = t
        .env(&[])
        .into_iter()
        .filter(|(k, _)| *k != "SLACK_ALLOW_INSECURE")
        .collect();
    t.refused_raw(&[], &plain, &["SLACK_API_URL", "SLACK_ALLOW_INSECURE"]);
    let dir = TempDir::new("ca");
    let missing = dir.path("missing-ca.pem");
    t.refused(&["--ca-file", &missing], &[], &["CA file", &missing]);
    let not_pem = dir.file("not-a-ca.pem", "hello\n", 0o644);
    t.refused(
        &[],
        &[("SLACK_CA_FILE", &not_pem)],
        &["CA file", &not_pem, "no PEM certificate"],
    );
}

#[test]
fn help_and_version_anywhere() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--connections", "2", "--help"],
        &["--version"],
    ] {
        let out = run(args, &[]);
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}

#[test]
fn tokens_refused_by_slack_stop_the_bot_with_a_clear_message() {
    // Well-formed tokens that Slack refuses: found out by the first call, not retried.
    let t = Target::new();
    let out = run(
        &[],
        &t.env(&[
            ("SLACK_BOT_TOKEN", "xoxb-111-444-cliSECRETother"),
            ("BOT_USER_ID", ""),
        ]),
    );
    println!("{out:?}");
    assert_eq!(out.code, Some(78), "a refused token is EX_CONFIG: {out:?}");
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("slack-bot: ")
            && last.contains("SLACK_BOT_TOKEN")
            && last.contains("invalid_auth"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("cliSECRET"), "{out:?}");
    let out = run(
        &[],
        &t.env(&[("SLACK_APP_TOKEN", "xapp-1-A111-444-cliSECRETother")]),
    );
    println!("{out:?}");
    assert_eq!(out.code, Some(78), "a refused token is EX_CONFIG: {out:?}");
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("slack-bot: ")
            && last.contains("invalid_auth")
            && last.contains("SLACK_APP_TOKEN"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("cliSECRET"), "{out:?}");
    let opens = t
        .slack
        .calls()
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .count();
    assert_eq!(opens, 1, "a refused app token is not retried");
}

#[test]
fn link_disabled_exits_78_so_systemd_does_not_restart() {
    let t = Target::new();
    let vars: Vec<(String, String)> = t
        .env(&[])
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let bin = std::thread::spawn(move || {
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run(&[], &v)
    });
    t.slack
        .wait_for_connections(1, Duration::from_secs(20))
        .unwrap();
    let conn = t.slack.open_connections()[0];
    t.slack.disconnect(conn, "link_disabled").unwrap();
    let out = bin.join().unwrap();
    assert_eq!(out.code, Some(78), "{out:?}");
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("slack-bot: ") && last.contains("link_disabled"),
        "{out:?}"
    );
}

#[test]
fn relay_settings_are_checked_before_anything_starts() {
    let t = Target::new();
    t.refused(&["relay"], &[], &["--to"]);
    t.refused(
        &["relay", "--to", "http://127.0.0.1:3000/slack/events"],
        &[],
        &["SLACK_SIGNING_SECRET"],
    );
    let secret = [("SLACK_SIGNING_SECRET", "cliSECRETsigning")];
    t.refused(&["relay", "--to", "ftp://x/"], &secret, &["http://"]);
    t.refused(
        &["relay", "--to", "http://127.0.0.1:3000/", "--no-eyes"],
        &secret,
        &["--no-eyes"],
    );
    t.refused(&["--to", "http://127.0.0.1:3000/"], &secret, &["relay"]);
    t.refused(&["--no-eyes=yes"], &[], &["--no-eyes"]);
    let dir = TempDir::new("signing");
    let f = dir.file("secret", "cliSECRETsigning", 0o622);
    t.refused(
        &[
            "relay",
            "--to",
            "http://127.0.0.1:3000/",
            "--signing-secret-file",
            &f,
        ],
        &[],
        &["can be written by others", &f],
    );
}

#[test]
fn ssl_cert_file_and_dir_are_trusted() {
    // Slack over TLS with a CA only SSL_CERT_FILE knows (as behind TLS inspection), next to a
    // whole system certificate directory in SSL_CERT_DIR.
    let slack = FakeSlack::builder()
        .tls(true)
        .app_token(APP_TOKEN)
        .bot_token(BOT_TOKEN)
        .start()
        .unwrap();
    let dir = TempDir::new("ssl-cert");
    let ca = dir.file("ca.pem", &slack.ca_pem().unwrap(), 0o644);
    let api_url = slack.api_url();
    let mut vars = vec![
        ("SLACK_APP_TOKEN", APP_TOKEN),
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SLACK_API_URL", api_url.as_str()),
        ("SLACK_BOT_USER_ID", "U0BOT"),
        ("SSL_CERT_FILE", ca.as_str()),
    ];
    if std::path::Path::new("/etc/ssl/certs").is_dir() {
        vars.push(("SSL_CERT_DIR", "/etc/ssl/certs"));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_slack-bot"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let connected = slack.wait_for_connections(1, Duration::from_secs(30));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the bot did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    connected.unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
