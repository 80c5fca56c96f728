//! The `slack-bot` binary: the reference bot (see `slack_bot::reference`) for minimal hosts.
//! `slack-bot demo` runs the same bot against the embedded fake Slack and prints a transcript.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod demo;

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
    slack-bot demo               run against the built-in fake Slack and print a transcript
    slack-bot fleet              print a fleet's live replicas (builds with feature `fleet`)

OPTIONS:
    --connections <N>            connections to hold, 1 to 10 [env: SLACK_CONNECTIONS] [default: 1]
    --app-token-file <PATH>      read the xapp- token from a file (mode 600) [env: SLACK_APP_TOKEN_FILE]
    --bot-token-file <PATH>      read the xoxb- token from a file (mode 600) [env: SLACK_BOT_TOKEN_FILE]
    --ca-file <PATH>             also trust these PEM root certificates [env: SLACK_CA_FILE]
    --proxy <URL>                HTTP CONNECT proxy, http://[user:pass@]host:port
                                 [default: HTTPS_PROXY / https_proxy / ALL_PROXY, minus NO_PROXY]
    --debug-reconnects           ask Slack to refresh connections every ~6 minutes
    --redis-url <URL>            run as one replica of a fleet sharing state on Redis
                                 (redis:// or rediss://; feature `fleet`) [env: SLACK_REDIS_URL;
                                 also SLACK_REDIS_PASSWORD, SLACK_REDIS_PREFIX, SLACK_REDIS_TIMEOUT_MS]
    -h, --help                   this text
    -V, --version                the version

ENVIRONMENT:
    SLACK_APP_TOKEN              app-level token (xapp-…), needs connections:write
    SLACK_BOT_TOKEN              bot token (xoxb-…)
    BOT_USER_ID                  the bot's user id (else asked with auth.test)
    SLACK_API_URL                Web API base URL [default: https://slack.com/api/]
    SLACK_ALLOW_INSECURE=1       allow plain http:// and ws:// (a local fake Slack)
    RUST_LOG                     log filter [default: info]
    SLACK_DEBUG=1, WEBSOCKET_DEBUG=1   debug logging
";

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

/// Reads a token file, refusing one that others can read.
fn read_token_file(path: &Path, what: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "the {what} file {} can be read by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    let _ = meta;
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

fn token(
    env: Env<'_>,
    var: &str,
    file_flag: Option<PathBuf>,
    file_var: &str,
    prefix: &str,
) -> Result<String, String> {
    let file = file_flag.or_else(|| {
        env(file_var)
            .filter(|s| !s.trim().is_empty())
            .map(PathBuf::from)
    });
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

fn parse_settings(args: &[String], env: Env<'_>) -> Result<Settings, String> {
    let mut connections: Option<String> = None;
    let mut app_file = None;
    let mut bot_file = None;
    let mut ca_file = env("SLACK_CA_FILE").map(PathBuf::from);
    let mut proxy = None;
    let mut debug_reconnects = false;
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
            "--debug-reconnects" if inline.is_none() => debug_reconnects = true,
            "--debug-reconnects" => return Err("--debug-reconnects takes no value".to_owned()),
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
        Some(p) => check_proxy(p, "--proxy", true)?,
        None => {
            // The variables the libraries read (first set one wins), checked the same way.
            let from_env = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                .iter()
                .find_map(|v| env(v).filter(|p| !p.trim().is_empty()).map(|p| (*v, p)));
            if let Some((var, p)) = from_env {
                check_proxy(&p, var, false)?;
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
    }
    let ca_pem = match ca_file {
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
    Ok(Settings {
        app_token,
        bot_token,
        bot_user_id: env("BOT_USER_ID").filter(|s| !s.trim().is_empty()),
        connections,
        api_url,
        allow_insecure,
        ca_pem,
        proxy,
        debug_reconnects,
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

/// Checks a proxy URL the way the libraries will use it: `http://` (optional in the
/// environment variables, as curl allows), optional `user:pass@`, a host, and a port (required
/// with `--proxy`; from 1 to 65535). The message never repeats the URL (it may hold a password).
fn check_proxy(p: &str, name: &str, strict: bool) -> Result<(), String> {
    let bad = |why: &str| {
        format!(
            "{name} is not a valid proxy URL ({why}): it must look like http://[user:pass@]host:port (HTTP CONNECT)"
        )
    };
    let p = p.trim();
    let rest = match p.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _))
            if scheme.len() <= 10 && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            return Err(bad(&format!("unsupported scheme `{scheme}`")));
        }
        Some(_) => return Err(bad("unsupported scheme")),
        None if strict => return Err(bad("no http:// scheme")),
        None => p,
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains(['/', '?', '#']) {
        return Err(bad("a path is not allowed"));
    }
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, after)) => match after.strip_prefix(':') {
                Some(port) => (h, Some(port)),
                None => return Err(bad("junk after the IPv6 address")),
            },
            None => return Err(bad("unclosed `[`")),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, port)) => (h, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let host_ok = if hostport.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    if !host_ok {
        return Err(bad("invalid host"));
    }
    match port {
        None if strict => Err(bad("no port")),
        None => Ok(()),
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(bad("the port must be a number from 1 to 65535")),
        },
    }
}

fn init_logging() {
    let debug = ["SLACK_DEBUG", "WEBSOCKET_DEBUG"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|x| x == "1" || x == "true"));
    let default = if debug { "debug" } else { "info" };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_owned());
    let mut b = env_logger::Builder::new();
    b.parse_filters(&filter);
    if debug {
        b.filter_module("slack_bot", log::LevelFilter::Debug)
            .filter_module("slack_envelope", log::LevelFilter::Debug)
            .filter_module("slack_transport", log::LevelFilter::Debug)
            .filter_module("slack_web", log::LevelFilter::Debug);
    }
    quiet_secret_loggers(&mut b, &filter);
    let _ = b.try_init();
}

/// Dependencies that log secrets at trace level, capped whatever `RUST_LOG` says: ureq's
/// protocol layer dumps raw request headers (the bearer token), and tungstenite logs the
/// handshake request (the socket URL's single-use ticket) and every received frame (payloads
/// carry Slack's verification `token`).
fn quiet_secret_loggers(b: &mut env_logger::Builder, filter: &str) {
    b.filter_module("ureq_proto", log::LevelFilter::Off);
    // Only a cap: setting it when trace is not asked for would raise tungstenite to debug.
    if filter.to_ascii_lowercase().contains("trace") {
        b.filter_module("tungstenite", log::LevelFilter::Debug);
    }
}

fn run(
    settings: Settings,
    #[cfg(feature = "fleet")] fleet: Option<FleetConfig>,
) -> Result<(), Error> {
    let mut builder = Bot::builder(&settings.app_token, &settings.bot_token)?
        .connections(settings.connections)
        .allow_insecure(settings.allow_insecure)
        .debug_reconnects(settings.debug_reconnects);
    if let Some(url) = &settings.api_url {
        builder = builder.api_url(url.clone());
    }
    if let Some(pem) = &settings.ca_pem {
        builder = builder.add_root_certs_pem(pem);
    }
    if let Some(p) = &settings.proxy {
        builder = builder.proxy(p.clone());
    }
    // fleet: one replica of a fleet sharing its state on Redis.
    #[cfg(feature = "fleet")]
    if let Some(cfg) = fleet {
        builder = builder.redis(cfg);
    }
    let bot_user_id = match settings.bot_user_id.clone() {
        Some(id) => Some(id),
        None => {
            // Ask Slack who we are (so mentions and our own messages are recognised).
            let web = builder_web(&settings)?;
            match web.auth_test() {
                Ok(me) => Some(me.user_id),
                Err(e) if e.is_fatal_auth() => {
                    return Err(Error::Stopped(
                        slack_bot::slack_envelope::StopReason::Fatal(format!(
                            "SLACK_BOT_TOKEN was refused by auth.test: {e}"
                        )),
                    ));
                }
                Err(e) => {
                    log::warn!("auth.test failed ({e}); set BOT_USER_ID to recognise mentions");
                    None
                }
            }
        }
    };
    if let Some(id) = bot_user_id {
        log::info!("bot user id: {id}");
        builder = builder.bot_user_id(id);
    }
    let bot = slack_bot::reference::install(builder).start()?;
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
                "stats: {} connected, {} reconnects, rtt {}, up {}s, received {}, acked {}, delivered {}, duplicates {}, queue full {}, sent {}, rate-limit waits {}",
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
                s.messages_sent,
                s.rate_limit_waits
            );
        }
    }
    let report = bot.wait()?;
    if !report.unsent.is_empty() {
        log::warn!(
            "{} message(s) could not be sent before shutdown",
            report.unsent.len()
        );
    }
    log::info!("stopped");
    Ok(())
}

/// How often the binary logs its stats line.
const STATS_EVERY: Duration = Duration::from_secs(60);

fn builder_web(settings: &Settings) -> Result<slack_bot::slack_web::WebClient, Error> {
    let token = slack_bot::slack_web::BotToken::new(&settings.bot_token).map_err(Error::Token)?;
    let mut b = slack_bot::slack_web::WebClient::builder(token)
        .allow_insecure_http(settings.allow_insecure);
    if let Some(url) = &settings.api_url {
        b = b.base_url(url.clone());
    }
    if let Some(pem) = &settings.ca_pem {
        b = b.add_root_certificates_pem(pem);
    }
    if let Some(p) = &settings.proxy {
        b = b.proxy(slack_bot::slack_web::ProxyConfig::url(p.clone()));
    }
    b.build().map_err(Error::Web)
}

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
            return ExitCode::from(2);
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
            return ExitCode::from(2);
        }
        init_logging_quiet();
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
            return ExitCode::from(2);
        }
    };
    #[cfg(feature = "fleet")]
    if args.first().is_some_and(|a| a == "fleet") {
        let Some(cfg) = fleet else {
            eprintln!("slack-bot: `fleet` needs --redis-url or SLACK_REDIS_URL");
            return ExitCode::from(2);
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
            return ExitCode::from(2);
        }
    };
    init_logging();
    match run(
        settings,
        #[cfg(feature = "fleet")]
        fleet,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Only here: a log line too would say it twice on the same stderr.
            eprintln!("slack-bot: {e}{}", hint(&e));
            ExitCode::FAILURE
        }
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
        _ => "",
    }
}

/// The demo prints its own transcript; logs only show warnings unless RUST_LOG says otherwise.
fn init_logging_quiet() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let mut b = env_logger::Builder::new();
    b.parse_filters(&filter);
    quiet_secret_loggers(&mut b, &filter);
    let _ = b.try_init();
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
    }

    #[test]
    fn invalid_proxy_url() {
        for p in ["socks5://h:1", "http://", "proxy:8080"] {
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
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
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
        let _ = std::fs::remove_dir_all(&dir);
    }
}
