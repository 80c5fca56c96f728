//! The `slack-bot` binary: the reference bot (see `reference.rs`) for minimal hosts.
//! `slack-bot demo` runs the same bot against the embedded fake Slack and prints a transcript;
//! `slack-bot relay --to URL` puts Socket Mode in front of an HTTP-mode app.
//!
//! Exit codes: 0 after a shutdown, 78 (`EX_CONFIG`) for a configuration error a restart cannot
//! fix (bad arguments, a bad or revoked token, `link_disabled`), 1 for anything else.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod demo;
mod logging;
mod reference;

#[cfg(feature = "fleet")]
use slack_bot::fleet::FleetConfig;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use slack_bot::{Bot, BotEvent, Error};

const HELP: &str = "\
slack-bot: a Slack Socket Mode bot (the reference behaviours: eyes reaction, mention reply,
hello-shortcut modal, member welcome, file received)

USAGE:
    slack-bot [OPTIONS]          run against Slack
    slack-bot relay --to <URL> [OPTIONS]
                                 deliver every request to an HTTP-mode app (Bolt etc.) at URL,
                                 signed as Slack would sign it; its answer becomes the ack
    slack-bot demo               run against the built-in fake Slack and print a transcript
    slack-bot fleet              print a fleet's live replicas, connections and counters

OPTIONS:
    --connections <N>            connections to hold, 1 to 10 [env: SLACK_CONNECTIONS] [default: 1]
    --app-token-file <PATH>      read the xapp- token from a file (mode 600) [env: SLACK_APP_TOKEN_FILE]
    --bot-token-file <PATH>      read the xoxb- token from a file (mode 600) [env: SLACK_BOT_TOKEN_FILE]
    --ca-file <PATH>             also trust these PEM root certificates [env: SLACK_CA_FILE]
    --proxy <URL>                HTTP CONNECT proxy, http://[user:pass@]host:port
                                 [default: HTTPS_PROXY / https_proxy / ALL_PROXY, minus NO_PROXY]
    --debug-reconnects           ask Slack to refresh connections every ~6 minutes
    --no-eyes                    no eyes reaction on new messages
    --no-mention-reply           no reply to mentions
    --no-shortcut                no hello-shortcut modal
    --no-welcome                 no welcome for members who join (nor its Get Help button)
    --no-file-received           no \"File received: NAME\" on file_shared
    --spool-dir <PATH>           keep requests acked but not handled at shutdown here, and run
                                 them at the next start [env: SLACK_SPOOL_DIR]
                                 (without it, such requests are lost and the exit status is 1)
    --redis-url <URL>            run as one replica of a fleet sharing state on Redis
                                 (redis:// or rediss://; feature `fleet`) [env: SLACK_REDIS_URL;
                                 also SLACK_REDIS_PASSWORD, SLACK_REDIS_PREFIX, SLACK_REDIS_TIMEOUT_MS]
    -h, --help                   this text
    -V, --version                the version

RELAY OPTIONS:
    --to <URL>                   the app's request URL, e.g. http://127.0.0.1:3000/slack/events
                                 [env: SLACK_RELAY_TO]
    --signing-secret-file <PATH> read the signing secret from a file (mode 600)
                                 [env: SLACK_SIGNING_SECRET_FILE]
    --timeout <SECONDS>          one request to the app at most [default: 10]; answers after
                                 2.5 s miss the ack (a slash command's goes to its response_url)
    --workers <N>                requests to the app at once, at most [default: 10]

ENVIRONMENT:
    SLACK_APP_TOKEN              app-level token (xapp-…), needs connections:write
    SLACK_BOT_TOKEN              bot token (xoxb-…)
    SLACK_SIGNING_SECRET         the app's signing secret (relay only)
    CREDENTIALS_DIRECTORY        systemd credentials: slack-app-token, slack-bot-token and
                                 slack-signing-secret are read from there when not set otherwise
    SLACK_BOT_USER_ID            the bot's user id (else asked with auth.test); BOT_USER_ID too
    SSL_CERT_FILE, SSL_CERT_DIR  also trust these PEM root certificates (TLS inspection)
    SLACK_API_URL                Web API base URL [default: https://slack.com/api/]
    SLACK_ALLOW_INSECURE=1       allow plain http:// and ws:// to a loopback host only
                                 (a local fake Slack or relay on 127.0.0.1, ::1, localhost)
    RUST_LOG                     log filter [default: info]
    SLACK_DEBUG=1, WEBSOCKET_DEBUG=1   debug logging

EXIT CODES:
    0 stopped on request; 78 configuration error a restart cannot fix (bad arguments, bad or
    revoked token, link_disabled); 1 anything else (a restart may help)
";

/// `EX_CONFIG` (sysexits): a configuration error that a restart cannot fix. A systemd unit
/// with `RestartPreventExitStatus=78` does not restart in a loop.
const EX_CONFIG: u8 = 78;

/// The relay's settings (`slack-bot relay`).
struct RelaySettings {
    to: String,
    secret: slack_bot::relay::SigningSecret,
    timeout: Duration,
    workers: usize,
}

/// Everything the binary is configured with, read and checked before any network call.
struct Settings {
    app_token: String,
    bot_token: String,
    bot_user_id: Option<String>,
    connections: usize,
    api_url: Option<String>,
    allow_insecure: bool,
    ca_pem: Option<Vec<u8>>,
    proxy: Option<String>,
    debug_reconnects: bool,
    behaviours: reference::Behaviours,
    relay: Option<RelaySettings>,
    spool_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens, nor a proxy password.
        f.debug_struct("Settings")
            .field("bot_user_id", &self.bot_user_id)
            .field("connections", &self.connections)
            .field("api_url", &self.api_url)
            .field("allow_insecure", &self.allow_insecure)
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("proxy", &self.proxy.as_ref().map(|_| "…"))
            .field("debug_reconnects", &self.debug_reconnects)
            .field("behaviours", &self.behaviours)
            .field("relay_to", &self.relay.as_ref().map(|r| &r.to))
            .finish_non_exhaustive()
    }
}

/// Reads a variable from a lookup (the process environment, or a map in tests).
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The value of a flag: the `=value` part of `--flag=value`, else the next argument.
fn flag_value(
    args: &[String],
    i: &mut usize,
    name: &str,
    inline: Option<&str>,
) -> Result<String, String> {
    if let Some(v) = inline {
        return Ok(v.to_owned());
    }
    *i += 1;
    args.get(*i)
        .cloned()
        .ok_or_else(|| format!("{name} needs a value (see --help)"))
}

/// Why a secret file's permissions are refused, if they are: a file others can write is
/// always refused; one others can read only if it is not owned by root (a read-only secret
/// owned by root is how Kubernetes and Docker mount secrets, and only root could have put it
/// there).
fn file_mode_refusal(mode: u32, owner_uid: u32) -> Option<&'static str> {
    if mode & 0o022 != 0 {
        Some("can be written by others")
    } else if mode & 0o044 != 0 && owner_uid != 0 {
        Some("can be read by others")
    } else {
        None
    }
}

/// The most a token file may hold (a token is under 100 bytes).
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// Reads a token file, refusing one that others can write, or read unless root owns it
/// (see [`file_mode_refusal`]).
///
/// The file is opened once, and the checks are made on the opened file (`fstat`), so it
/// cannot be swapped between the check and the read: a regular file with acceptable
/// permissions, at most 64 KiB. Symbolic links are followed (Kubernetes and Docker mount
/// secrets through links): what is checked is the file finally opened. Something that is not
/// a regular file (a directory, a FIFO, a device) is refused before it is opened, so that
/// opening it cannot block.
fn read_token_file(path: &Path, what: &str) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read the {what} file {}: {e}", path.display());
    let not_regular = || {
        format!(
            "cannot read the {what} file {}: it is not a regular file",
            path.display()
        )
    };
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode();
        if let Some(why) = file_mode_refusal(mode, meta.uid()) {
            return Err(format!(
                "the {what} file {} {why} (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_TOKEN_FILE {
        return Err(format!(
            "the {what} file {} is larger than {MAX_TOKEN_FILE} bytes: not a token",
            path.display()
        ));
    }
    Ok(text.trim().to_owned())
}

fn token(
    env: Env<'_>,
    var: &str,
    file_flag: Option<PathBuf>,
    file_var: &str,
    prefix: &str,
) -> Result<String, String> {
    let file = file_flag
        .or_else(|| {
            env(file_var)
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| credential(env, var));
    // What the messages name: the variable, or the file the token was read from.
    let (value, subject) = match file {
        Some(path) => (
            read_token_file(&path, var)?,
            format!("the {var} file {}", path.display()),
        ),
        None => (
            env(var).ok_or_else(|| {
                format!(
                    "{var} is not set: give the {prefix} token in {var} or in a file ({file_var})"
                )
            })?,
            var.to_owned(),
        ),
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(format!("{subject} is empty: it must be a {prefix} token"));
    }
    if !value.starts_with(prefix) {
        let looks_like = ["xapp-", "xoxb-", "xoxp-"]
            .iter()
            .find(|p| value.starts_with(**p))
            .map_or("an unknown kind of token".to_owned(), |p| {
                format!("a {p} token")
            });
        return Err(format!(
            "{subject} must be a {prefix} token, but it looks like {looks_like}"
        ));
    }
    // The library's own checks (nothing after the prefix, whitespace or control characters
    // inside), so that they too are reported here, before anything starts.
    let checked = if prefix == "xapp-" {
        slack_bot::slack_web::AppToken::new(&value).map(|_| ())
    } else {
        slack_bot::slack_web::BotToken::new(&value).map(|_| ())
    };
    checked.map_err(|e| format!("{subject} is not a valid token: {e}"))?;
    Ok(value)
}

/// The systemd credential for `var` (`LoadCredential=slack-app-token:…` puts it in
/// `$CREDENTIALS_DIRECTORY/slack-app-token`), when the variable itself is not set.
fn credential(env: Env<'_>, var: &str) -> Option<PathBuf> {
    if env(var).is_some_and(|v| !v.trim().is_empty()) {
        return None;
    }
    let dir = env("CREDENTIALS_DIRECTORY").filter(|d| !d.trim().is_empty())?;
    let name = var.to_ascii_lowercase().replace('_', "-");
    let path = Path::new(&dir).join(name);
    path.is_file().then_some(path)
}

/// The signing secret: `--signing-secret-file`, `SLACK_SIGNING_SECRET_FILE`,
/// `SLACK_SIGNING_SECRET`, or the `slack-signing-secret` credential.
fn signing_secret(
    env: Env<'_>,
    file_flag: Option<PathBuf>,
) -> Result<slack_bot::relay::SigningSecret, String> {
    const VAR: &str = "SLACK_SIGNING_SECRET";
    let file = file_flag
        .or_else(|| {
            env("SLACK_SIGNING_SECRET_FILE")
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| credential(env, VAR));
    let (value, subject) = match file {
        Some(path) => (
            read_token_file(&path, VAR)?,
            format!("the {VAR} file {}", path.display()),
        ),
        None => (
            env(VAR).ok_or_else(|| {
                format!(
                    "{VAR} is not set: the relay signs each request with the app's signing secret (in {VAR} or a file, SLACK_SIGNING_SECRET_FILE)"
                )
            })?,
            VAR.to_owned(),
        ),
    };
    slack_bot::relay::SigningSecret::new(value).map_err(|e| {
        let e = e.to_string();
        format!(
            "{subject}: {}",
            e.trim_start_matches("invalid configuration: ")
        )
    })
}

/// Extra trusted roots from `SSL_CERT_FILE` and the `*.pem`/`*.crt` files in `SSL_CERT_DIR`
/// (what OpenSSL-based tools read; hosts behind TLS inspection set them).
fn ssl_cert_env(env: Env<'_>) -> Result<Vec<u8>, String> {
    let mut pem = Vec::new();
    if let Some(f) = env("SSL_CERT_FILE").filter(|s| !s.trim().is_empty()) {
        let bytes = std::fs::read(&f).map_err(|e| format!("cannot read SSL_CERT_FILE {f}: {e}"))?;
        if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!(
                "SSL_CERT_FILE {f} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            ));
        }
        pem.extend_from_slice(&bytes);
        pem.push(b'\n');
    }
    if let Some(dir) = env("SSL_CERT_DIR").filter(|s| !s.trim().is_empty()) {
        // Several directories may be given, separated by `:` as OpenSSL allows.
        for d in dir.split(':').filter(|d| !d.is_empty()) {
            let entries =
                std::fs::read_dir(d).map_err(|e| format!("cannot read SSL_CERT_DIR {d}: {e}"))?;
            // Hash links (`abcd1234.0`) point to files of the same directory: each file once.
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter_map(|e| std::fs::canonicalize(e.path()).ok())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            files.dedup();
            for f in files {
                if let Ok(bytes) = std::fs::read(&f) {
                    if String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
                        pem.extend_from_slice(&bytes);
                        pem.push(b'\n');
                    }
                }
            }
        }
    }
    Ok(pem)
}

/// The PEM certificate blocks of `pem`, each one once (blocks compared without their
/// whitespace), in their first order; whatever is not a certificate block is left out.
fn unique_certificates(pem: &[u8]) -> Vec<u8> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else { break };
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        if seen.insert(body) {
            let block = rest
                .as_bytes()
                .get(start..start + BEGIN.len() + end + END.len())
                .unwrap_or_default();
            out.extend_from_slice(block);
            out.push(b'\n');
        }
        rest = &after[end + END.len()..];
    }
    out
}

fn parse_settings(args: &[String], env: Env<'_>) -> Result<Settings, String> {
    let (relay_mode, args) = match args.first().map(String::as_str) {
        Some("relay") => (true, args.get(1..).unwrap_or_default()),
        _ => (false, args),
    };
    let mut behaviours = reference::Behaviours::default();
    let mut to = env("SLACK_RELAY_TO").filter(|s| !s.trim().is_empty());
    let mut secret_file = None;
    let mut timeout: Option<String> = None;
    let mut workers: Option<String> = None;
    let mut connections: Option<String> = None;
    let mut app_file = None;
    let mut bot_file = None;
    let mut ca_file = env("SLACK_CA_FILE").map(PathBuf::from);
    let mut proxy = None;
    let mut debug_reconnects = false;
    let mut spool_dir = env("SLACK_SPOOL_DIR")
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from);
    let mut i = 0;
    while i < args.len() {
        let arg = args.get(i).map(String::as_str).unwrap_or("");
        let (a, inline) = match arg.split_once('=') {
            Some((flag, v)) if flag.starts_with("--") => (flag, Some(v)),
            _ => (arg, None),
        };
        match a {
            "--connections" => connections = Some(flag_value(args, &mut i, a, inline)?),
            "--app-token-file" => {
                app_file = Some(PathBuf::from(flag_value(args, &mut i, a, inline)?));
            }
            "--bot-token-file" => {
                bot_file = Some(PathBuf::from(flag_value(args, &mut i, a, inline)?));
            }
            "--ca-file" => ca_file = Some(PathBuf::from(flag_value(args, &mut i, a, inline)?)),
            "--proxy" => proxy = Some(flag_value(args, &mut i, a, inline)?),
            "--spool-dir" => spool_dir = Some(PathBuf::from(flag_value(args, &mut i, a, inline)?)),
            "--debug-reconnects" if inline.is_none() => debug_reconnects = true,
            "--debug-reconnects" => return Err("--debug-reconnects takes no value".to_owned()),
            "--no-eyes" | "--no-mention-reply" | "--no-shortcut" | "--no-welcome"
            | "--no-file-received"
                if relay_mode =>
            {
                return Err(format!(
                    "{a} is for the reference bot; the relay runs none of its behaviours"
                ));
            }
            "--no-eyes" | "--no-mention-reply" | "--no-shortcut" | "--no-welcome"
            | "--no-file-received"
                if inline.is_some() =>
            {
                return Err(format!("{a} takes no value"));
            }
            "--no-eyes" => behaviours.eyes = false,
            "--no-mention-reply" => behaviours.mention_reply = false,
            "--no-shortcut" => behaviours.shortcut = false,
            "--no-welcome" => behaviours.welcome = false,
            "--no-file-received" => behaviours.file_received = false,
            "--to" | "--signing-secret-file" | "--timeout" | "--workers" if !relay_mode => {
                return Err(format!("{a} is a relay option: `slack-bot relay {a} …`"));
            }
            "--to" => to = Some(flag_value(args, &mut i, a, inline)?),
            "--signing-secret-file" => {
                secret_file = Some(PathBuf::from(flag_value(args, &mut i, a, inline)?));
            }
            "--timeout" => timeout = Some(flag_value(args, &mut i, a, inline)?),
            "--workers" => workers = Some(flag_value(args, &mut i, a, inline)?),
            _ => {
                return Err(format!(
                    "unknown argument `{}` (see --help)",
                    shown_argument(arg)
                ));
            }
        }
        i += 1;
    }
    let connections = match connections {
        Some(v) => Some(("--connections", v)),
        None => env("SLACK_CONNECTIONS").map(|v| ("SLACK_CONNECTIONS", v)),
    };
    let connections = match connections {
        None => 1,
        Some((source, s)) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => {
                return Err(format!(
                    "{source} must be a number from 1 to 10 (Slack allows 10), not `{s}`"
                ));
            }
        },
    };
    let app_token = token(
        env,
        "SLACK_APP_TOKEN",
        app_file,
        "SLACK_APP_TOKEN_FILE",
        "xapp-",
    )?;
    let bot_token = token(
        env,
        "SLACK_BOT_TOKEN",
        bot_file,
        "SLACK_BOT_TOKEN_FILE",
        "xoxb-",
    )?;
    match &proxy {
        Some(p) => check_proxy(p, "--proxy")?,
        None => {
            // The variable the libraries will read, read the same way, checked the same way.
            let vars = slack_bot::slack_envelope::proxy::ProxyVars::read(env);
            if let Some((var, p)) = vars.https_proxy() {
                check_proxy(p, var)?;
            }
        }
    }
    let allow_insecure = env("SLACK_ALLOW_INSECURE").is_some_and(|v| v == "1" || v == "true");
    let api_url = env("SLACK_API_URL").filter(|s| !s.trim().is_empty());
    if let Some(url) = &api_url {
        let secure = url.starts_with("https://");
        let plain = url.starts_with("http://");
        if !secure && !plain {
            return Err(format!(
                "SLACK_API_URL must start with https:// (or http:// with SLACK_ALLOW_INSECURE=1), not `{url}`"
            ));
        }
        let host = url
            .split_once("://")
            .map_or("", |(_, rest)| rest)
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("");
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("SLACK_API_URL has no valid host: `{url}`"));
        }
        if plain && !allow_insecure {
            return Err(
                "SLACK_API_URL is plain http://: set SLACK_ALLOW_INSECURE=1 to allow that (tokens would travel unencrypted)"
                    .to_owned(),
            );
        }
        let hostname = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let hostname = match hostname.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => hostname.split(':').next().unwrap_or(""),
        };
        if plain && !slack_bot::slack_envelope::proxy::is_loopback_host(hostname) {
            return Err(format!(
                "SLACK_API_URL is plain http:// to {hostname}, which is not this machine: SLACK_ALLOW_INSECURE allows plain http:// and ws:// to a loopback host only (127.0.0.1, ::1, localhost)"
            ));
        }
    }
    let mut ca_pem = match ca_file {
        Some(p) => {
            let pem = std::fs::read(&p)
                .map_err(|e| format!("cannot read the CA file {}: {e}", p.display()))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(format!(
                    "the CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    p.display()
                ));
            }
            Some(pem)
        }
        None => None,
    };
    let system_extra = ssl_cert_env(env)?;
    if !system_extra.is_empty() {
        let mut all = ca_pem.unwrap_or_default();
        all.push(b'\n');
        all.extend_from_slice(&system_extra);
        // SSL_CERT_FILE is usually the bundle of SSL_CERT_DIR's own files (which holds it
        // too): each certificate once, not three times in every client that keeps them.
        ca_pem = Some(unique_certificates(&all));
    }
    let relay = if relay_mode {
        let to = to.ok_or_else(|| {
            "relay needs --to <URL> (or SLACK_RELAY_TO): the app's request URL, e.g. http://127.0.0.1:3000/slack/events".to_owned()
        })?;
        let secret = signing_secret(env, secret_file)?;
        // Checked here, so that a bad URL is a configuration error before anything starts.
        slack_bot::relay::Relay::new(to.clone(), secret.clone()).map_err(|e| {
            let e = e.to_string();
            e.trim_start_matches("invalid configuration: ").to_owned()
        })?;
        let timeout = match timeout {
            None => Duration::from_secs(10),
            Some(t) => match t.trim().parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
                _ => {
                    return Err(format!(
                        "--timeout must be a number of seconds from 0 to 3600, not `{t}`"
                    ));
                }
            },
        };
        let workers = match workers {
            None => 10,
            Some(w) => match w.trim().parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "--workers must be a number from 1 to 1000, not `{w}`"
                    ));
                }
            },
        };
        Some(RelaySettings {
            to,
            secret,
            timeout,
            workers,
        })
    } else {
        None
    };
    Ok(Settings {
        app_token,
        bot_token,
        bot_user_id: ["SLACK_BOT_USER_ID", "BOT_USER_ID"]
            .iter()
            .find_map(|v| env(v).filter(|s| !s.trim().is_empty())),
        connections,
        api_url,
        allow_insecure,
        ca_pem,
        proxy,
        debug_reconnects,
        behaviours,
        relay,
        spool_dir,
    })
}

/// An argument as an error message may show it: a token pasted on the command line by
/// mistake is not repeated.
fn shown_argument(arg: &str) -> &str {
    let value = arg.split_once('=').map_or(arg, |(_, v)| v);
    if ["xapp-", "xoxb-", "xoxp-", "xoxa-", "xoxe"]
        .iter()
        .any(|p| value.trim().starts_with(p))
    {
        "<a token>"
    } else {
        arg
    }
}

/// Checks a proxy URL with the libraries' own parser (`slack_envelope::proxy`). The message
/// names the flag or variable and never repeats the URL (it may hold a password).
fn check_proxy(p: &str, name: &str) -> Result<(), String> {
    use slack_bot::slack_envelope::{Error as E, proxy::ProxyUrl};
    ProxyUrl::parse(p).map(drop).map_err(|e| {
        let why = match e {
            E::InvalidProxy { reason } => reason,
            other => other.to_string(),
        };
        format!(
            "{name} is not a valid proxy URL ({why}): it must look like http://[user:pass@]host[:port] (HTTP CONNECT)"
        )
    })
}

/// Runs the bot until it stops; returns how many acked requests were lost at shutdown.
fn run(
    mut settings: Settings,
    #[cfg(feature = "fleet")] fleet: Option<FleetConfig>,
) -> Result<usize, Error> {
    let mut builder = Bot::builder(&settings.app_token, &settings.bot_token)?
        .connections(settings.connections)
        .allow_insecure(settings.allow_insecure)
        .debug_reconnects(settings.debug_reconnects);
    if let Some(url) = &settings.api_url {
        builder = builder.api_url(url.clone());
    }
    // Not kept for the whole run: the bot keeps its own copy.
    if let Some(pem) = settings.ca_pem.take() {
        builder = builder.add_root_certs_pem(pem);
    }
    if let Some(p) = &settings.proxy {
        builder = builder.proxy(p.clone());
    }
    // fleet: one replica of a fleet sharing its state on Redis (relayed or not).
    #[cfg(feature = "fleet")]
    if let Some(cfg) = fleet {
        builder = builder.redis(cfg);
    }
    if let Some(dir) = &settings.spool_dir {
        builder = builder.spool_dir(dir);
    }
    if let Some(relay) = &settings.relay {
        log::info!(
            "relaying to {} ({} at once, {:.1}s timeout)",
            relay.to,
            relay.workers,
            relay.timeout.as_secs_f64()
        );
        if let Some(host) = plain_http_remote_host(&relay.to) {
            log::warn!(
                "relaying over plain http:// to {host}, which is not this machine: requests (not the signing secret) travel unencrypted; prefer https:// or a loopback address"
            );
        }
        let r = slack_bot::relay::Relay::new(relay.to.clone(), relay.secret.clone())?
            .timeout(relay.timeout);
        builder = r.install(builder.workers(relay.workers));
        return run_bot(builder);
    }
    // Without SLACK_BOT_USER_ID, `start()` asks `auth.test` who the bot is (a refused bot token
    // stops it there, with exit code 78).
    if let Some(id) = settings.bot_user_id.clone() {
        log::info!("bot user id: {id}");
        builder = builder.bot_user_id(id);
    }
    run_bot(reference::install_with(builder, settings.behaviours))
}

/// Runs the bot until it stops: Ctrl-C/SIGTERM stop it gracefully, a stats line every minute.
fn run_bot(builder: slack_bot::BotBuilder) -> Result<usize, Error> {
    let bot = builder.start()?;
    let stopper = bot.stopper();
    if let Err(e) = ctrlc::set_handler(move || stopper.stop()) {
        log::warn!("cannot catch Ctrl-C ({e}); stop with SIGKILL only");
    }
    let events = bot.events();
    // Sleep until an event or the next stats line: no other periodic wake-up.
    let mut next_stats = std::time::Instant::now() + STATS_EVERY;
    loop {
        match events.recv_deadline(next_stats) {
            Ok(BotEvent::Stopped(_)) => break,
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        let now = std::time::Instant::now();
        if now >= next_stats {
            next_stats = now + STATS_EVERY;
            let s = bot.stats();
            log::info!(
                "stats: {} connected, {} reconnects, rtt {}, up {}s, received {}, acked {}, delivered {}, duplicates {}, queue full {}, declined {}, sent {}, rate-limit waits {}",
                s.connections,
                s.reconnects,
                s.last_ping_rtt
                    .map_or("-".to_owned(), |d| format!("{}ms", d.as_millis())),
                s.uptime.as_secs(),
                s.received,
                s.acked,
                s.delivered,
                s.duplicates,
                s.queue_full,
                s.declined,
                s.messages_sent,
                s.rate_limit_waits
            );
        }
    }
    let s = bot.stats();
    if s.declined > 0 {
        log::info!(
            "{} request(s) were declined (left un-acked for Slack to redeliver)",
            s.declined
        );
    }
    let report = bot.wait()?;
    if !report.unsent.is_empty() {
        log::warn!(
            "{} message(s) could not be sent before shutdown",
            report.unsent.len()
        );
    }
    log::info!("stopped");
    Ok(report.dropped)
}

/// The host of a plain `http://` URL that is not a loopback address, if it is one.
fn plain_http_remote_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => hostport.split(':').next().unwrap_or(""),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| host.to_owned())
}

/// How often the binary logs its stats line.
const STATS_EVERY: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<Vec<String>, _>>()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!(
                "slack-bot: argument `{}` is not valid UTF-8",
                bad.to_string_lossy()
            );
            return ExitCode::from(EX_CONFIG);
        }
    };
    if args.iter().any(|a| a == "-h" || a == "--help") || args.first().is_some_and(|a| a == "help")
    {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("slack-bot {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if args.first().is_some_and(|a| a == "demo") {
        if let Some(extra) = args.get(1) {
            eprintln!(
                "slack-bot: unknown argument `{}` for demo (it takes none)",
                shown_argument(extra)
            );
            return ExitCode::from(EX_CONFIG);
        }
        logging::init_quiet();
        return match demo::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let env = |k: &str| std::env::var(k).ok();
    // fleet: `--redis-url`/`SLACK_REDIS_URL`, and `slack-bot fleet` (see slack_bot::fleet::cli).
    #[cfg(feature = "fleet")]
    let (args, fleet) = match slack_bot::fleet::cli::take_args(args, &env) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("slack-bot: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    // Built without the fleet: refuse rather than run alone, unshared, next to replicas that
    // share their claims (events would be handled twice).
    #[cfg(not(feature = "fleet"))]
    if args.first().is_some_and(|a| a == "fleet")
        || args.iter().any(|a| a.starts_with("--redis-url"))
        || env("SLACK_REDIS_URL").is_some_and(|u| !u.trim().is_empty())
    {
        eprintln!(
            "slack-bot: this binary was built without the `fleet` feature: --redis-url, SLACK_REDIS_URL and `slack-bot fleet` are not available"
        );
        return ExitCode::from(EX_CONFIG);
    }
    #[cfg(feature = "fleet")]
    if args.first().is_some_and(|a| a == "fleet") {
        let Some(cfg) = fleet else {
            eprintln!("slack-bot: `fleet` needs --redis-url or SLACK_REDIS_URL");
            return ExitCode::from(EX_CONFIG);
        };
        return match slack_bot::fleet::cli::status_text(&cfg) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("slack-bot fleet: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match parse_settings(&args, &env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("slack-bot: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    logging::init();
    match run(
        settings,
        #[cfg(feature = "fleet")]
        fleet,
    ) {
        Ok(0) => ExitCode::SUCCESS,
        // Acked requests were lost (logged by the bot): not a clean stop.
        Ok(_dropped) => ExitCode::FAILURE,
        Err(e) => {
            // Only here: a log line too would say it twice on the same stderr.
            eprintln!("slack-bot: {e}{}", hint(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// 78 for what a restart cannot fix (systemd's `RestartPreventExitStatus=78`), else 1.
fn exit_code(e: &Error) -> u8 {
    match e {
        // `Web`: the client could not be built from the settings (roots, proxy, URL).
        Error::Token(_)
        | Error::Auth(_)
        | Error::Config(_)
        | Error::Web(_)
        | Error::Stopped(
            slack_bot::slack_envelope::StopReason::Fatal(_)
            | slack_bot::slack_envelope::StopReason::LinkDisabled,
        ) => EX_CONFIG,
        _ => 1,
    }
}

/// Which setting to check when Slack refused the app-level token (the library's message names
/// the method, not the variable).
fn hint(e: &Error) -> &'static str {
    const AUTH: [&str; 7] = [
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
    ];
    match e {
        Error::Stopped(slack_bot::slack_envelope::StopReason::Fatal(m))
            if m.contains("apps.connections.open") && AUTH.iter().any(|c| m.contains(c)) =>
        {
            " (check SLACK_APP_TOKEN: an app-level xapp- token with the connections:write scope)"
        }
        Error::Auth(_) => {
            " (check SLACK_BOT_TOKEN: the bot's xoxb- token from OAuth & Permissions)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(args: &[&str], vars: &[(&str, &str)]) -> Result<Settings, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| map.get(k).cloned();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_settings(&args, &env)
    }

    const OK: [(&str, &str); 2] = [
        ("SLACK_APP_TOKEN", "xapp-1-A1-1-abc"),
        ("SLACK_BOT_TOKEN", "xoxb-1-abc"),
    ];

    #[test]
    fn good_settings() {
        let s = parse(&["--connections", "3"], &OK).unwrap();
        assert_eq!(s.connections, 3);
        assert!(!format!("{:?}", s.api_url).contains("xoxb"));
        let s = parse(&["--connections=4", "--proxy=http://u:pw@proxy:3128"], &OK).unwrap();
        assert_eq!(s.connections, 4);
        // Debug output holds neither token nor the proxy password.
        let debug = format!("{s:?}");
        for secret in ["xapp-", "xoxb-", "abc", "pw@"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn bad_tokens_name_the_variable_and_the_prefix() {
        let e = parse(&[], &[("SLACK_BOT_TOKEN", "xoxb-1")]).unwrap_err();
        assert!(e.contains("SLACK_APP_TOKEN") && e.contains("xapp-"), "{e}");
        let e = parse(
            &[],
            &[("SLACK_APP_TOKEN", "xoxb-1"), ("SLACK_BOT_TOKEN", "xoxb-1")],
        )
        .unwrap_err();
        assert!(e.contains("SLACK_APP_TOKEN must be a xapp- token"), "{e}");
        assert!(e.contains("xoxb-"), "{e}");
        let e = parse(
            &[],
            &[("SLACK_APP_TOKEN", "xapp-1"), ("SLACK_BOT_TOKEN", "  ")],
        )
        .unwrap_err();
        assert!(e.contains("SLACK_BOT_TOKEN is empty"), "{e}");
        // The message never repeats the token's secret part.
        let e = parse(
            &[],
            &[
                ("SLACK_APP_TOKEN", "xoxp-SECRET"),
                ("SLACK_BOT_TOKEN", "xoxb-1"),
            ],
        )
        .unwrap_err();
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn connections_out_of_range() {
        for n in ["0", "11", "x", "-1"] {
            let e = parse(&["--connections", n], &OK).unwrap_err();
            assert!(e.contains("1 to 10"), "{e}");
        }
        assert!(parse(&["--connections"], &OK).is_err());
    }

    #[test]
    fn insecure_api_url_needs_opt_in() {
        let mut vars = OK.to_vec();
        vars.push(("SLACK_API_URL", "http://127.0.0.1:1/api/"));
        assert!(
            parse(&[], &vars)
                .unwrap_err()
                .contains("SLACK_ALLOW_INSECURE")
        );
        vars.push(("SLACK_ALLOW_INSECURE", "1"));
        assert!(parse(&[], &vars).is_ok());
        // Only to this machine.
        for url in ["http://10.0.0.1/api/", "http://user@slack.example:80/api/"] {
            let mut vars = OK.to_vec();
            vars.push(("SLACK_API_URL", url));
            vars.push(("SLACK_ALLOW_INSECURE", "1"));
            let e = parse(&[], &vars).unwrap_err();
            assert!(e.contains("loopback"), "{url}: {e}");
        }
        for url in ["http://localhost:8080/api/", "http://[::1]:1/api/"] {
            let mut vars = OK.to_vec();
            vars.push(("SLACK_API_URL", url));
            vars.push(("SLACK_ALLOW_INSECURE", "1"));
            assert!(parse(&[], &vars).is_ok(), "{url}");
        }
    }

    #[test]
    fn invalid_proxy_url() {
        for p in ["socks5://h:1", "http://", "http://h/path"] {
            let e = parse(&["--proxy", p], &OK).unwrap_err();
            assert!(e.contains("proxy URL"), "{p}: {e}");
        }
        assert!(parse(&["--proxy", "http://u:p@proxy:3128"], &OK).is_ok());
    }

    #[test]
    fn unknown_flag() {
        assert!(parse(&["--nope"], &OK).unwrap_err().contains("--nope"));
    }

    #[cfg(unix)]
    #[test]
    fn token_files_must_be_private_and_missing_ones_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("slack-bot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("app-token");
        std::fs::write(&f, "xapp-1-file\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
        let path = f.to_string_lossy().to_string();
        let vars = [("SLACK_BOT_TOKEN", "xoxb-1")];
        let e = parse(&["--app-token-file", &path], &vars).unwrap_err();
        assert!(e.contains("chmod 600") && e.contains(&path), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = parse(&["--app-token-file", &path], &vars).unwrap();
        assert_eq!(s.app_token, "xapp-1-file");
        let missing = dir.join("missing").to_string_lossy().to_string();
        let e = parse(&["--app-token-file", &missing], &vars).unwrap_err();
        assert!(e.contains(&missing), "{e}");

        // Links are followed and the file they lead to is checked (group-writable: refused
        // whoever owns it, so the check holds when the tests run as root).
        let link = dir.join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let link_path = link.to_string_lossy().to_string();
        assert_eq!(
            parse(&["--app-token-file", &link_path], &vars)
                .unwrap()
                .app_token,
            "xapp-1-file"
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o660)).unwrap();
        let e = parse(&["--app-token-file", &link_path], &vars).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");

        // Not a regular file: refused, without blocking on a FIFO.
        let d = dir.to_string_lossy().to_string();
        let e = parse(&["--app-token-file", &d], &vars).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg("-m")
            .arg("600")
            .arg(&fifo)
            .status();
        if made.is_ok_and(|s| s.success()) {
            let fifo = fifo.to_string_lossy().to_string();
            let e = parse(&["--app-token-file", &fifo], &vars).unwrap_err();
            assert!(e.contains("not a regular file"), "{e}");
        }

        // A huge file is not read whole.
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; 70 * 1024]).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = parse(&["--app-token-file", &big.to_string_lossy()], &vars).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secret_file_permission_rule() {
        // Others may never write it.
        for mode in [0o620, 0o602, 0o666, 0o622] {
            assert_eq!(file_mode_refusal(mode, 0), Some("can be written by others"));
            assert_eq!(
                file_mode_refusal(mode, 1000),
                Some("can be written by others")
            );
        }
        // Readable by others: only a root-owned file (Kubernetes/Docker secrets) is accepted.
        for mode in [0o644, 0o444, 0o640, 0o604] {
            assert_eq!(file_mode_refusal(mode, 0), None, "{mode:o}");
            assert_eq!(
                file_mode_refusal(mode, 1000),
                Some("can be read by others"),
                "{mode:o}"
            );
        }
        for mode in [0o600, 0o400] {
            assert_eq!(file_mode_refusal(mode, 1000), None);
        }
    }

    #[test]
    fn relay_settings() {
        let mut vars = OK.to_vec();
        let e = parse(&["relay"], &vars).unwrap_err();
        assert!(e.contains("--to"), "{e}");
        let e = parse(
            &["relay", "--to", "http://127.0.0.1:3000/slack/events"],
            &vars,
        )
        .unwrap_err();
        assert!(e.contains("SLACK_SIGNING_SECRET"), "{e}");
        vars.push(("SLACK_SIGNING_SECRET", "sEcReT123"));
        let s = parse(
            &[
                "relay",
                "--to=http://127.0.0.1:3000/slack/events",
                "--timeout",
                "4",
            ],
            &vars,
        )
        .unwrap();
        let r = s.relay.as_ref().unwrap();
        assert_eq!(r.timeout, Duration::from_secs(4));
        assert!(!format!("{s:?}").contains("sEcReT123"));
        assert!(!format!("{:?}", r.secret).contains("sEcReT123"));
        assert!(parse(&["relay", "--to", "ftp://x/"], &vars).is_err());
        assert!(parse(&["relay", "--to", "http://x/", "--no-eyes"], &vars).is_err());
        assert!(parse(&["--to", "http://x/"], &vars).is_err());
        assert!(parse(&["relay", "--to", "http://x/", "--workers", "0"], &vars).is_err());
    }

    #[test]
    fn behaviours_and_bot_user_id() {
        let s = parse(&["--no-eyes", "--no-file-received"], &OK).unwrap();
        assert!(!s.behaviours.eyes && !s.behaviours.file_received);
        assert!(s.behaviours.mention_reply && s.behaviours.shortcut && s.behaviours.welcome);
        assert!(parse(&["--no-eyes=1"], &OK).is_err());
        let mut vars = OK.to_vec();
        vars.push(("BOT_USER_ID", "UOLD"));
        assert_eq!(
            parse(&[], &vars).unwrap().bot_user_id.as_deref(),
            Some("UOLD")
        );
        vars.push(("SLACK_BOT_USER_ID", "UNEW"));
        assert_eq!(
            parse(&[], &vars).unwrap().bot_user_id.as_deref(),
            Some("UNEW")
        );
    }

    #[cfg(unix)]
    #[test]
    fn credentials_directory_and_ssl_cert_env() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("slack-bot-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, value) in [
            ("slack-app-token", "xapp-1-cred"),
            ("slack-bot-token", "xoxb-cred"),
            ("slack-signing-secret", "credsecret"),
        ] {
            let f = dir.join(name);
            std::fs::write(&f, format!("{value}\n")).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        }
        let d = dir.to_string_lossy().to_string();
        let s = parse(
            &["relay", "--to", "http://127.0.0.1:1/"],
            &[("CREDENTIALS_DIRECTORY", &d)],
        )
        .unwrap();
        assert_eq!(s.app_token, "xapp-1-cred");
        assert_eq!(s.bot_token, "xoxb-cred");
        // The variable wins over the credential.
        let s = parse(
            &[],
            &[
                ("CREDENTIALS_DIRECTORY", &d),
                ("SLACK_BOT_TOKEN", "xoxb-env"),
            ],
        )
        .unwrap();
        assert_eq!(s.bot_token, "xoxb-env");
        // SSL_CERT_FILE / SSL_CERT_DIR add roots; a file with no certificate is refused.
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.join("ca.pem"), pem).unwrap();
        let f = dir.join("ca.pem").to_string_lossy().to_string();
        let s = parse(&[], &[OK[0], OK[1], ("SSL_CERT_FILE", &f)]).unwrap();
        assert!(s.ca_pem.is_some());
        let s = parse(&[], &[OK[0], OK[1], ("SSL_CERT_DIR", &d)]).unwrap();
        assert!(String::from_utf8_lossy(&s.ca_pem.unwrap()).contains("BEGIN CERTIFICATE"));
        let bad = dir.join("slack-app-token").to_string_lossy().to_string();
        assert!(parse(&[], &[OK[0], OK[1], ("SSL_CERT_FILE", &bad)]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn certificates_are_kept_once() {
        let a = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\nBBBB\n-----END CERTIFICATE-----\n";
        let a_rewrapped =
            "-----BEGIN CERTIFICATE-----\r\nMIIBAAAABBBB\r\n-----END CERTIFICATE-----";
        let b = "# comment\n-----BEGIN CERTIFICATE-----\nMIIBCCCC\n-----END CERTIFICATE-----\n";
        let all = format!("{a}{b}junk\n{a_rewrapped}\n{a}");
        let out = String::from_utf8(unique_certificates(all.as_bytes())).unwrap();
        assert_eq!(out.matches("BEGIN CERTIFICATE").count(), 2, "{out}");
        assert!(
            out.contains("MIIBAAAA") && out.contains("MIIBCCCC"),
            "{out}"
        );
        assert!(!out.contains("junk") && !out.contains("comment"), "{out}");
        // An unterminated block is left out, without a panic.
        assert!(unique_certificates(b"-----BEGIN CERTIFICATE-----\nMIIB").is_empty());
        assert!(unique_certificates(b"").is_empty());
    }

    #[test]
    fn exit_codes() {
        use slack_bot::slack_envelope::StopReason;
        assert_eq!(exit_code(&Error::Stopped(StopReason::LinkDisabled)), 78);
        assert_eq!(
            exit_code(&Error::Stopped(StopReason::Fatal("invalid_auth".into()))),
            78
        );
        assert_eq!(exit_code(&Error::Config("x".into())), 78);
        assert_eq!(exit_code(&Error::Panicked), 1);
        assert_eq!(
            exit_code(&Error::Thread(std::io::Error::other("no threads"))),
            1
        );
    }

    #[test]
    fn plain_http_to_another_host_is_noticed() {
        for local in [
            "http://127.0.0.1:3000/slack/events",
            "http://localhost:3000/",
            "http://[::1]:3000/x",
            "https://app.example/slack/events",
        ] {
            assert_eq!(plain_http_remote_host(local), None, "{local}");
        }
        assert_eq!(
            plain_http_remote_host("http://app:3000/slack/events").as_deref(),
            Some("app")
        );
        assert_eq!(
            plain_http_remote_host("http://10.0.0.5/").as_deref(),
            Some("10.0.0.5")
        );
    }
}
