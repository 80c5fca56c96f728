//! The blocking client: configuration, the request/answer cycle, retries.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, from_ureq};
use crate::limiter::{LimiterConfig, RateLimiter};
use crate::token::{ApiToken, AppToken};
use crate::types::{
    AuthTest, EphemeralRef, MessageRef, PostEphemeral, PostMessage, ResponseMessage, UpdateMessage,
    ViewId, ViewRef,
};

/// The default base URL of the Web API.
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api/";

use crate::encoding::{Encoding, JSON_CONTENT_TYPE, form_encode};

/// The name under which the byte upload of `upload_file` is reported (errors, logs).
pub(crate) const UPLOAD_METHOD: &str = "files.upload_url";

/// Answers larger than this are refused (Slack's are far smaller).
const MAX_ANSWER_BYTES: u64 = 8 * 1024 * 1024;

/// Used when a 429 carries no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Methods that may be retried after a server error or a transport failure that happened
/// after the request may have reached Slack: calling them twice has the same effect as once.
///
/// * `auth.test`, `apps.connections.open` (each call just hands out a fresh URL);
/// * `chat.update`, `views.update`, `views.publish` (they set a state);
/// * `chat.delete`, `reactions.add`, `reactions.remove` (a repeat fails harmlessly with
///   `message_not_found` / `already_reacted` / `no_reaction`);
/// * the read methods (`conversations.history`/`replies`/`info`/`list`/`members`,
///   `users.info`/`list`/`lookupByEmail`, `team.info`, `files.info`, `chat.getPermalink`) and
///   `conversations.join` (joining twice is a no-op).
///
/// Not idempotent (never retried after the request may have left): `chat.postMessage`,
/// `chat.postEphemeral` (a retry could post twice), `views.open` and `views.push` (trigger ids
/// are single-use), any `response_url` post (limited to 5 uses) and every method not listed.
/// Rate-limited calls (429) and failures before the request left (DNS, connect, proxy) are
/// retried for every method, since Slack never acted on them.
pub(crate) const IDEMPOTENT_METHODS: &[&str] = &[
    "auth.test",
    "apps.connections.open",
    "chat.update",
    "chat.delete",
    "reactions.add",
    "reactions.remove",
    "views.update",
    "views.publish",
    "conversations.history",
    "conversations.replies",
    "conversations.info",
    "conversations.list",
    "conversations.members",
    "conversations.join",
    "users.info",
    "users.list",
    "users.lookupByEmail",
    "team.info",
    "files.info",
    "chat.getPermalink",
];

/// Whether `method` is in `IDEMPOTENT_METHODS`.
pub(crate) fn is_idempotent(method: &str) -> bool {
    IDEMPOTENT_METHODS.contains(&method)
}

/// How calls are retried: [`RetryPolicy::default`] or [`RetryPolicy::none`], and the
/// chainable setters.
///
/// ```
/// use std::time::Duration;
/// let retry = slack_web::RetryPolicy::default()
///     .rate_limit_retries(1)
///     .backoff_initial(Duration::from_millis(100));
/// # let _ = retry;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    rate_limit_retries: u32,
    max_rate_limit_wait: Duration,
    transient_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
}

impl Default for RetryPolicy {
    /// Three 429 retries within 30 s of waiting; two transient retries from 250 ms up to 4 s.
    fn default() -> Self {
        RetryPolicy {
            rate_limit_retries: 3,
            max_rate_limit_wait: Duration::from_secs(30),
            transient_retries: 2,
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// How many times a rate-limited call (HTTP 429) is retried after waiting `Retry-After`
    /// (default 3).
    #[must_use]
    pub fn rate_limit_retries(mut self, n: u32) -> Self {
        self.rate_limit_retries = n;
        self
    }

    /// The most one call may spend waiting for rate limits in total (429 pauses and this
    /// client's own pacing; default 30 s). A longer wait is returned as
    /// [`Error::RateLimited`] instead.
    #[must_use]
    pub fn max_rate_limit_wait(mut self, d: Duration) -> Self {
        self.max_rate_limit_wait = d;
        self
    }

    /// How many times a server error (5xx, `internal_error`, …) or transport failure is
    /// retried (default 2), for idempotent methods only: `auth.test`,
    /// `apps.connections.open`, `chat.update`, `chat.delete`, `reactions.add`,
    /// `reactions.remove`, `views.update` and `views.publish` (calling them twice has the
    /// same effect as once). Failures before the request left (DNS, connect, proxy) are
    /// retried for every method.
    #[must_use]
    pub fn transient_retries(mut self, n: u32) -> Self {
        self.transient_retries = n;
        self
    }

    /// The first backoff before such a retry (default 250 ms); doubled each time, with
    /// jitter.
    #[must_use]
    pub fn backoff_initial(mut self, d: Duration) -> Self {
        self.backoff_initial = d;
        self
    }

    /// The longest backoff (default 4 s).
    #[must_use]
    pub fn backoff_max(mut self, d: Duration) -> Self {
        self.backoff_max = d;
        self
    }

    /// Never retry and never wait: every failure (and every needed wait) is returned at once.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            rate_limit_retries: 0,
            max_rate_limit_wait: Duration::ZERO,
            transient_retries: 0,
            backoff_initial: Duration::ZERO,
            backoff_max: Duration::ZERO,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_initial
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .min(self.backoff_max);
        // Jitter: 50..100 % of the delay, from the clock's low bits (no RNG dependency).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        exp / 2 + exp.mul_f64(f64::from(nanos % 1000) / 2000.0)
    }
}

pub use slack_envelope::proxy::{ProxyConfig, ProxyVars};
use slack_envelope::proxy::{ProxyRules, ProxyUrl};

/// The proxy decision of one client: the shared rules (`slack_envelope::proxy`, the same
/// as the socket's) and the ureq proxy for each proxy they can pick.
#[derive(Default)]
struct Proxies {
    rules: ProxyRules,
    ureq: Vec<(ProxyUrl, ureq::Proxy)>,
}

impl Proxies {
    fn new(config: &ProxyConfig, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let rules = ProxyRules::resolve(config, lookup).map_err(|e| Error::Config {
            detail: e.to_string(),
        })?;
        let mut ureq = Vec::new();
        for p in rules.proxies() {
            if !ureq.iter().any(|(u, _)| u == p) {
                ureq.push((p.clone(), to_ureq_proxy(p)?));
            }
        }
        Ok(Proxies { rules, ureq })
    }

    /// The proxy for `url`, or `None` to connect directly.
    fn for_url(&self, url: &str) -> Result<Option<ureq::Proxy>, Error> {
        let chosen = self.rules.proxy_for_url(url).map_err(|e| Error::Config {
            detail: e.to_string(),
        })?;
        Ok(chosen.and_then(|p| {
            self.ureq
                .iter()
                .find(|(u, _)| u == p)
                .map(|(_, proxy)| proxy.clone())
        }))
    }
}

/// The ureq proxy (HTTP CONNECT) for a parsed proxy URL.
fn to_ureq_proxy(p: &ProxyUrl) -> Result<ureq::Proxy, Error> {
    let host = if p.host().contains(':') {
        format!("[{}]", p.host())
    } else {
        p.host().to_owned()
    };
    let mut b = ureq::Proxy::builder(ureq::ProxyProtocol::Http)
        .host(&host)
        .port(p.port());
    if let Some((user, pass)) = p.credentials() {
        b = b.username(user).password(pass);
    }
    b.build().map_err(|_| Error::Config {
        detail: format!("invalid proxy {p:?}"),
    })
}

/// Builder of a [`WebClient`]; see [`WebClient::builder`].
#[derive(Debug, Clone)]
pub struct WebClientBuilder {
    token: ApiToken,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    extra_roots: Vec<Vec<u8>>,
    proxy: ProxyConfig,
    retry: RetryPolicy,
    limiter: LimiterConfig,
    allow_http: bool,
    user_agent: String,
}

/// The read buffer of each connection (response headers must fit; bodies pass through it).
const INPUT_BUFFER: usize = 32 * 1024;
/// The write buffer of each connection (request headers must fit; bodies pass through it).
const OUTPUT_BUFFER: usize = 16 * 1024;

impl WebClientBuilder {
    /// The Web API base URL (default [`DEFAULT_BASE_URL`]); a missing trailing `/` is added.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The most one HTTP request may take, connect to last byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connecting (TCP, proxy) may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the certificates in this PEM text as roots, on top of the built-in Mozilla
    /// roots (corporate TLS inspection, test servers). May be called several times.
    pub fn add_root_certs_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_roots.push(pem.as_ref().to_vec());
        self
    }

    /// The proxy (default [`ProxyConfig::FromEnv`], read when the client is built). The
    /// choice is made for each request's URL with the same rules as `slack-transport`'s
    /// (`slack_envelope::proxy`): `https_proxy`/`HTTPS_PROXY`, minus `no_proxy`/`NO_PROXY`.
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = proxy;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// What the shared rate limiter enforces (default [`LimiterConfig::slack_defaults`]).
    pub fn rate_limits(mut self, limits: LimiterConfig) -> Self {
        self.limiter = limits;
        self
    }

    /// Allows plain `http://` base and `response_url` URLs to a loopback host (`127.0.0.0/8`,
    /// `::1`, `localhost`: tests, a local relay). Off by default: the token would travel in
    /// clear text. A plain `http://` URL to any other host is refused even when this is on.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// The `User-Agent` header (default `slack-web/VERSION`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Checks the configuration and builds the client (one `ureq::Agent`).
    pub fn build(self) -> Result<WebClient, Error> {
        let mut base_url = self.base_url.trim().to_owned();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        check_url(&base_url, self.allow_http)?;

        let tls = if self.extra_roots.is_empty() {
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::WebPki)
                .build()
        } else {
            // Borrowed from the static table, not copied (about 150 certificates).
            let mut roots: Vec<ureq::tls::Certificate<'static>> =
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|c| ureq::tls::Certificate::from_der(c.as_ref()))
                    .collect();
            for pem in &self.extra_roots {
                let mut found = false;
                for item in ureq::tls::parse_pem(pem) {
                    match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => {
                            found = true;
                            // A system store (SSL_CERT_FILE) mostly repeats the built-in
                            // roots: each certificate is kept once.
                            if !roots.iter().any(|r| r.der() == c.der()) {
                                roots.push(c);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            return Err(Error::Config {
                                detail: format!("bad root certificate pem: {e}"),
                            });
                        }
                    }
                }
                if !found {
                    return Err(Error::Config {
                        detail: "root certificate pem holds no certificate".into(),
                    });
                }
            }
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::from(roots))
                .build()
        };

        let proxies = Proxies::new(&self.proxy, &|name| std::env::var(name).ok())?;

        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(!self.allow_http)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout))
            .user_agent(self.user_agent.as_str())
            .tls_config(tls)
            // Each pooled connection keeps its buffers (128 KB each way by default, zeroed, so
            // resident): Slack's headers are a few KB, and bodies stream through in pieces.
            .input_buffer_size(INPUT_BUFFER)
            .output_buffer_size(OUTPUT_BUFFER)
            // Chosen for each request's URL (`Proxies::for_url`), as the socket chooses.
            .proxy(None)
            .build()
            .into();

        Ok(WebClient {
            inner: Arc::new(Inner {
                agent,
                proxies: Arc::new(proxies),
                token: self.token,
                base_url,
                retry: self.retry,
                allow_http: self.allow_http,
                limiter: Arc::new(Mutex::new(RateLimiter::new(self.limiter))),
                stats: Counters::default(),
            }),
        })
    }
}

/// Refuses URLs that are not https (unless allowed) and URLs that do not parse.
fn check_url(url: &str, allow_http: bool) -> Result<(), Error> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| Error::Config {
        detail: "invalid url".into(),
    })?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http")
            if !host.is_empty() && allow_http && slack_envelope::proxy::is_loopback_host(host) =>
        {
            Ok(())
        }
        Some("http") => Err(Error::InsecureUrl {
            url: format!("http://{host}"),
        }),
        _ => Err(Error::Config {
            detail: format!(
                "url must be https://host/…, got scheme {:?}",
                uri.scheme_str()
            ),
        }),
    }
}

/// Counters of one client (and its clones), for the bot's stats.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    rate_limit_waits: AtomicU64,
    messages_sent: AtomicU64,
}

/// A snapshot of a client's counters (shared by all its clones and its outboxes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebStats {
    /// HTTP requests sent (including retries).
    pub requests: u64,
    /// Retries after a 429, a server error or a transport failure.
    pub retries: u64,
    /// HTTP 429 (or `ratelimited`) answers received.
    pub rate_limited: u64,
    /// Times a call or the outbox waited for a rate limit (429 pause or pacing).
    pub rate_limit_waits: u64,
    /// Messages posted successfully with `chat.postMessage` (direct calls and outbox).
    pub messages_sent: u64,
}

struct Inner {
    agent: ureq::Agent,
    proxies: Arc<Proxies>,
    token: ApiToken,
    base_url: String,
    retry: RetryPolicy,
    allow_http: bool,
    limiter: Arc<Mutex<RateLimiter>>,
    stats: Counters,
}

/// A blocking Slack Web API client. Cheap to clone: clones share one connection pool, one
/// rate limiter and one set of counters.
///
/// The token is only ever sent in the `Authorization: Bearer` header.
#[derive(Clone)]
pub struct WebClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for WebClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebClient")
            .field("base_url", &self.inner.base_url)
            .field("token", &self.inner.token)
            .finish_non_exhaustive()
    }
}

/// Which token a request carries.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Api,
    App(&'a AppToken),
    None,
}

/// One prepared call.
struct Call<'a> {
    method: &'a str,
    url: String,
    auth: Auth<'a>,
    body: Vec<u8>,
    content_type: &'static str,
    channel: Option<String>,
    idempotent: bool,
    paced: bool,
}

impl WebClient {
    /// A client that shares this one's connection pool, TLS configuration (root
    /// certificates), proxy choice and rate limiter, but retries by `retry` and counts its
    /// calls apart ([`stats`](Self::stats)). Cheaper than a second
    /// [`build`](WebClientBuilder::build), which would hold its own copy of the roots.
    pub fn with_retry_policy(&self, retry: RetryPolicy) -> WebClient {
        let i = &self.inner;
        WebClient {
            inner: Arc::new(Inner {
                agent: i.agent.clone(),
                proxies: Arc::clone(&i.proxies),
                token: i.token.clone(),
                base_url: i.base_url.clone(),
                retry,
                allow_http: i.allow_http,
                limiter: Arc::clone(&i.limiter),
                stats: Counters::default(),
            }),
        }
    }

    /// A builder for a client authenticating with `token` (a [`BotToken`](crate::BotToken)
    /// or a [`UserToken`](crate::UserToken)).
    pub fn builder(token: impl Into<ApiToken>) -> WebClientBuilder {
        WebClientBuilder {
            token: token.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            extra_roots: Vec::new(),
            proxy: ProxyConfig::default(),
            retry: RetryPolicy::default(),
            limiter: LimiterConfig::default(),
            allow_http: false,
            user_agent: concat!("slack-web/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// A client with the default configuration (`https://slack.com/api/`, proxy from the
    /// environment).
    pub fn new(token: impl Into<ApiToken>) -> Result<WebClient, Error> {
        WebClient::builder(token).build()
    }

    /// The base URL, with a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The token this client authenticates with (redacted when printed).
    pub fn token(&self) -> &ApiToken {
        &self.inner.token
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WebStats {
        let c = &self.inner.stats;
        WebStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            rate_limit_waits: c.rate_limit_waits.load(Ordering::Relaxed),
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
        }
    }

    /// Calls any Web API method and returns Slack's whole answer (which had `"ok": true`).
    ///
    /// The arguments (any `Serialize` value that is a JSON object) are sent the way Slack
    /// reads them for this method: a JSON body for the write methods that take JSON, a form
    /// otherwise (see [`encoding`](crate::encoding)); [`call_json`](Self::call_json) and
    /// [`call_form`](Self::call_form) force one. Retries and pacing follow the client's
    /// policy; whether server errors are retried depends on the method (see
    /// [`RetryPolicy::transient_retries`]).
    pub fn call(&self, method: &str, args: &impl Serialize) -> Result<Value, Error> {
        self.call_encoded(method, args, Encoding::for_method(method))
    }

    /// Like [`call`](Self::call), always with a JSON body.
    pub fn call_json(&self, method: &str, args: &impl Serialize) -> Result<Value, Error> {
        self.call_encoded(method, args, Encoding::Json)
    }

    /// Like [`call`](Self::call), always form-encoded (arrays and objects as JSON text).
    pub fn call_form(&self, method: &str, args: &impl Serialize) -> Result<Value, Error> {
        self.call_encoded(method, args, Encoding::Form)
    }

    fn call_encoded(
        &self,
        method: &str,
        args: &impl Serialize,
        encoding: Encoding,
    ) -> Result<Value, Error> {
        let call = self.prepare(method, Auth::Api, args, channel_of(args), encoding)?;
        self.execute(call)
    }

    /// Like [`call`](Self::call), decoding the answer into `T`.
    pub fn call_typed<T: DeserializeOwned>(
        &self,
        method: &str,
        args: &impl Serialize,
    ) -> Result<T, Error> {
        let value = self.call(method, args)?;
        decode(method, value)
    }

    /// `apps.connections.open` with the app-level token: a fresh Socket Mode WebSocket URL.
    ///
    /// Errors to tell apart: [`Error::is_fatal_auth`] (stop and report), otherwise
    /// [`Error::is_retryable`] with [`Error::retry_after`] (back off and try again).
    pub fn apps_connections_open(&self, app_token: &AppToken) -> Result<String, Error> {
        let method = "apps.connections.open";
        let call = self.prepare(
            method,
            Auth::App(app_token),
            &serde_json::json!({}),
            None,
            Encoding::for_method(method),
        )?;
        let answer = self.execute(call)?;
        match answer.get("url").and_then(Value::as_str) {
            Some(url) if !url.is_empty() => Ok(url.to_owned()),
            _ => Err(Error::Decode {
                method: method.into(),
                detail: "answer has no url".into(),
            }),
        }
    }

    /// `auth.test`: who the token belongs to (the bot's own user id is `user_id`).
    pub fn auth_test(&self) -> Result<AuthTest, Error> {
        self.call_typed("auth.test", &serde_json::json!({}))
    }

    /// `chat.postMessage`. Paced per channel by the shared rate limiter.
    pub fn chat_post_message(&self, msg: &PostMessage) -> Result<MessageRef, Error> {
        self.call_typed("chat.postMessage", msg)
    }

    /// `chat.postEphemeral`: a message only `user` sees.
    pub fn chat_post_ephemeral(&self, msg: &PostEphemeral) -> Result<EphemeralRef, Error> {
        self.call_typed("chat.postEphemeral", msg)
    }

    /// `chat.update`.
    pub fn chat_update(&self, msg: &UpdateMessage) -> Result<MessageRef, Error> {
        self.call_typed("chat.update", msg)
    }

    /// `chat.delete` of message `ts` in `channel`.
    pub fn chat_delete(&self, channel: &str, ts: &str) -> Result<MessageRef, Error> {
        self.call_typed(
            "chat.delete",
            &serde_json::json!({ "channel": channel, "ts": ts }),
        )
    }

    /// `reactions.add`: reacts with emoji `name` (without colons) to message `timestamp`.
    pub fn reactions_add(&self, channel: &str, name: &str, timestamp: &str) -> Result<(), Error> {
        let name = name.trim_matches(':');
        self.call(
            "reactions.add",
            &serde_json::json!({ "channel": channel, "name": name, "timestamp": timestamp }),
        )
        .map(drop)
    }

    /// `views.open`: opens a modal with a (single-use, short-lived) `trigger_id`.
    pub fn views_open(&self, trigger_id: &str, view: &impl Serialize) -> Result<ViewRef, Error> {
        let view = to_value("views.open", view)?;
        self.call_typed(
            "views.open",
            &serde_json::json!({ "trigger_id": trigger_id, "view": view }),
        )
    }

    /// `views.push`: pushes a view onto the open modal's stack.
    pub fn views_push(&self, trigger_id: &str, view: &impl Serialize) -> Result<ViewRef, Error> {
        let view = to_value("views.push", view)?;
        self.call_typed(
            "views.push",
            &serde_json::json!({ "trigger_id": trigger_id, "view": view }),
        )
    }

    /// `views.update` of the view `id`; with `hash`, Slack refuses a stale update.
    pub fn views_update(
        &self,
        id: &ViewId,
        view: &impl Serialize,
        hash: Option<&str>,
    ) -> Result<ViewRef, Error> {
        let mut args = serde_json::Map::new();
        match id {
            ViewId::Id(v) => args.insert("view_id".into(), v.as_str().into()),
            ViewId::External(v) => args.insert("external_id".into(), v.as_str().into()),
        };
        args.insert("view".into(), to_value("views.update", view)?);
        if let Some(h) = hash {
            args.insert("hash".into(), h.into());
        }
        self.call_typed("views.update", &args)
    }

    /// `views.publish`: sets `user_id`'s App Home tab.
    pub fn views_publish(
        &self,
        user_id: &str,
        view: &impl Serialize,
        hash: Option<&str>,
    ) -> Result<ViewRef, Error> {
        let mut args = serde_json::Map::new();
        args.insert("user_id".into(), user_id.into());
        args.insert("view".into(), to_value("views.publish", view)?);
        if let Some(h) = hash {
            args.insert("hash".into(), h.into());
        }
        self.call_typed("views.publish", &args)
    }

    /// Posts `msg` to a `response_url` (from a slash command or an interaction). No token is
    /// sent: the URL is the credential, so it must be https (unless insecure http is
    /// allowed). Never retried after it may have been delivered (each URL works 5 times).
    pub fn post_response_url(&self, url: &str, msg: &ResponseMessage) -> Result<(), Error> {
        self.post_response_url_json(url, msg)
    }

    /// Like [`post_response_url`](Self::post_response_url) with any JSON body.
    pub fn post_response_url_json(&self, url: &str, body: &impl Serialize) -> Result<(), Error> {
        let method = "response_url";
        check_url(url, self.allow_http())?;
        let body = serde_json::to_vec(body).map_err(|e| Error::Encode {
            method: method.into(),
            detail: e.to_string(),
        })?;
        let call = Call {
            method,
            url: url.to_owned(),
            auth: Auth::None,
            body,
            content_type: JSON_CONTENT_TYPE,
            channel: None,
            idempotent: false,
            paced: false,
        };
        self.execute(call).map(drop)
    }

    /// POSTs raw bytes to an upload URL handed out by `files.getUploadURLExternal` (no
    /// token: the URL is pre-signed). Never retried once it may have arrived.
    pub(crate) fn post_upload(&self, url: &str, bytes: Vec<u8>) -> Result<(), Error> {
        check_url(url, self.allow_http())?;
        let call = Call {
            method: UPLOAD_METHOD,
            url: url.to_owned(),
            auth: Auth::None,
            body: bytes,
            content_type: "application/octet-stream",
            channel: None,
            idempotent: false,
            paced: false,
        };
        self.execute(call).map(drop)
    }

    /// The rate limiter shared by every clone of this client and its outboxes.
    pub(crate) fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        lock(&self.inner.limiter)
    }

    pub(crate) fn shared_limiter(&self) -> Arc<Mutex<RateLimiter>> {
        Arc::clone(&self.inner.limiter)
    }

    pub(crate) fn count_message_sent(&self) {
        self.inner
            .stats
            .messages_sent
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_rate_limit_wait(&self) {
        self.inner
            .stats
            .rate_limit_waits
            .fetch_add(1, Ordering::Relaxed);
    }

    /// One `chat.postMessage` request: no pacing, no waiting, no retry (the outbox does
    /// those itself, under the shared limiter).
    pub(crate) fn post_message_once(&self, msg: &PostMessage) -> Result<MessageRef, Error> {
        let method = "chat.postMessage";
        let mut call = self.prepare(method, Auth::Api, msg, None, Encoding::for_method(method))?;
        call.paced = false;
        let value = self.send_once(&call)?;
        decode(method, value)
    }

    fn allow_http(&self) -> bool {
        self.inner.allow_http
    }

    fn prepare<'a>(
        &self,
        method: &'a str,
        auth: Auth<'a>,
        args: &impl Serialize,
        channel: Option<String>,
        encoding: Encoding,
    ) -> Result<Call<'a>, Error> {
        if method.is_empty()
            || !method
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err(Error::Config {
                detail: format!("invalid method name {method:?}"),
            });
        }
        let encode_error = |detail: String| Error::Encode {
            method: method.into(),
            detail,
        };
        let body = match encoding {
            Encoding::Json => serde_json::to_vec(args).map_err(|e| encode_error(e.to_string()))?,
            Encoding::Form => {
                let value = serde_json::to_value(args).map_err(|e| encode_error(e.to_string()))?;
                form_encode(&value)
                    .ok_or_else(|| encode_error("form arguments must be a json object".into()))?
                    .into_bytes()
            }
        };
        Ok(Call {
            method,
            url: format!("{}{}", self.inner.base_url, method),
            auth,
            body,
            content_type: encoding.content_type(),
            channel,
            idempotent: is_idempotent(method),
            paced: true,
        })
    }

    /// The retry loop: pacing, 429 pauses, backoff for transient errors.
    fn execute(&self, call: Call<'_>) -> Result<Value, Error> {
        let policy = &self.inner.retry;
        let method = call.method;
        let mut waited = Duration::ZERO;
        let mut rl_retries = 0u32;
        let mut transient = 0u32;
        loop {
            if call.paced {
                let now = Instant::now();
                let acquired = self
                    .limiter()
                    .try_acquire(method, call.channel.as_deref(), now);
                if let Err(wait) = acquired {
                    if waited.saturating_add(wait) > policy.max_rate_limit_wait {
                        return Err(Error::RateLimited {
                            method: method.into(),
                            retry_after: wait,
                        });
                    }
                    log::debug!("slack-web: {method} paced, waiting {wait:?}");
                    self.count_rate_limit_wait();
                    std::thread::sleep(wait);
                    waited = waited.saturating_add(wait);
                    continue;
                }
            }
            let err = match self.send_once(&call) {
                Ok(v) => {
                    if method == "chat.postMessage" {
                        self.inner
                            .stats
                            .messages_sent
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(v);
                }
                Err(e) => e,
            };
            match &err {
                Error::RateLimited { retry_after, .. } => {
                    let retry_after = *retry_after;
                    if call.paced {
                        self.limiter()
                            .on_rate_limited(method, retry_after, Instant::now());
                    }
                    if rl_retries >= policy.rate_limit_retries
                        || waited.saturating_add(retry_after) > policy.max_rate_limit_wait
                    {
                        return Err(err);
                    }
                    log::warn!("slack-web: {method} rate limited, retrying in {retry_after:?}");
                    rl_retries += 1;
                    self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    if !call.paced {
                        // Paced calls wait in the limiter at the top of the loop.
                        self.count_rate_limit_wait();
                        std::thread::sleep(retry_after);
                        waited = waited.saturating_add(retry_after);
                    }
                }
                e if e.is_retryable()
                    && (call.idempotent || e.never_sent())
                    && transient < policy.transient_retries =>
                {
                    let delay = policy.backoff(transient);
                    log::warn!("slack-web: {method} failed ({e}), retrying in {delay:?}");
                    transient += 1;
                    self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(delay);
                }
                _ => return Err(err),
            }
        }
    }

    /// One HTTP request and the interpretation of its answer.
    fn send_once(&self, call: &Call<'_>) -> Result<Value, Error> {
        let method = call.method;
        let mut req = self
            .inner
            .agent
            .post(call.url.as_str())
            .header("Content-Type", call.content_type)
            .header("Accept", "application/json");
        if let Some(proxy) = self.inner.proxies.for_url(&call.url)? {
            req = req.config().proxy(Some(proxy)).build();
        }
        let bearer = match call.auth {
            Auth::Api => Some(self.inner.token.expose_secret()),
            Auth::App(t) => Some(t.expose_secret()),
            Auth::None => None,
        };
        if let Some(secret) = bearer {
            req = req.header("Authorization", format!("Bearer {secret}"));
        }
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        log::debug!("slack-web: calling {method}");
        let mut resp = req
            .send(call.body.as_slice())
            .map_err(|e| from_ureq(method, e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| from_ureq(method, e))?;
        log::trace!("slack-web: {method} answered {status}");
        let result = interpret(method, status, retry_after, &body);
        if matches!(result, Err(Error::RateLimited { .. })) {
            self.inner
                .stats
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// Locks a mutex, ignoring poisoning (the limiter's state stays consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The channel of a call's arguments, for per-channel pacing.
fn channel_of(args: &impl Serialize) -> Option<String> {
    // Cheap for our typed args; a generic `call` pays one extra serialization.
    serde_json::to_value(args)
        .ok()?
        .get("channel")?
        .as_str()
        .map(str::to_owned)
}

fn to_value(method: &str, v: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Encode {
        method: method.into(),
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(method: &str, value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Decode {
        method: method.into(),
        detail: e.to_string(),
    })
}

/// `Retry-After` in seconds (integer or decimal); HTTP dates are not used by Slack.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        Duration::try_from_secs_f64(secs.min(86_400.0)).ok()
    } else {
        None
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Warnings (`warning`, `warnings`, `response_metadata.warnings`) and messages
/// (`response_metadata.messages`) of an answer, deduplicated.
fn warnings_and_messages(answer: &Value) -> (Vec<String>, Vec<String>) {
    let meta = answer.get("response_metadata");
    let mut warnings = strings(answer.get("warning"));
    for w in strings(answer.get("warnings"))
        .into_iter()
        .chain(strings(meta.and_then(|m| m.get("warnings"))))
    {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    let messages = strings(meta.and_then(|m| m.get("messages")));
    (warnings, messages)
}

fn snippet(body: &str) -> String {
    let s: String = body.chars().take(200).collect();
    s.trim().to_owned()
}

/// Turns an HTTP answer into Slack's JSON or an [`Error`]. Pure, for tests.
pub(crate) fn interpret(
    method: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<Value, Error> {
    if status == 429 {
        return Err(Error::RateLimited {
            method: method.into(),
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        });
    }
    let success = (200..300).contains(&status);
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let ok = parsed
        .as_ref()
        .and_then(|v| v.get("ok"))
        .and_then(Value::as_bool);
    match (parsed, ok) {
        (Some(answer), Some(true)) if success => {
            let (warnings, messages) = warnings_and_messages(&answer);
            if !warnings.is_empty() || !messages.is_empty() {
                log::warn!(
                    "slack-web: {method} succeeded with warnings [{}] {}",
                    warnings.join(", "),
                    messages.join("; ")
                );
            }
            Ok(answer)
        }
        (Some(answer), Some(false)) => {
            let error = answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown_error")
                .to_owned();
            if error == "ratelimited" {
                return Err(Error::RateLimited {
                    method: method.into(),
                    retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                });
            }
            let (warnings, messages) = warnings_and_messages(&answer);
            Err(Error::Slack {
                method: method.into(),
                error,
                warnings,
                messages,
            })
        }
        // response_url answers may be plain text ("ok") or JSON without "ok".
        (parsed, _) if success && (method == "response_url" || method == UPLOAD_METHOD) => {
            Ok(parsed.unwrap_or(Value::Null))
        }
        _ if !success => Err(Error::HttpStatus {
            method: method.into(),
            status,
            retry_after,
            body: snippet(body),
        }),
        (None, _) => Err(Error::Decode {
            method: method.into(),
            detail: format!("not json (http {status}): {}", snippet(body)),
        }),
        (Some(_), _) => Err(Error::Decode {
            method: method.into(),
            detail: "answer has no boolean \"ok\"".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S3: Option<Duration> = Some(Duration::from_secs(3));

    #[test]
    fn interpret_success_and_warnings() {
        let ok = include_str!("../tests/fixtures/web_chat_postMessage_ok.json");
        assert_eq!(
            interpret("chat.postMessage", 200, None, ok).unwrap()["ts"],
            "1503435956.000247"
        );
        let warn = include_str!("../tests/fixtures/web_warning_missing_charset.json");
        let v = interpret("chat.postMessage", 200, None, warn).unwrap();
        let (w, m) = warnings_and_messages(&v);
        assert_eq!(w, vec!["missing_charset"]);
        assert_eq!(m.len(), 1);
        let (w, _) = warnings_and_messages(
            &json!({"ok":true,"warning":"a,b","response_metadata":{"warnings":["b","c"]}}),
        );
        assert_eq!(w, vec!["a", "b", "c"]);
    }

    #[test]
    fn interpret_errors() {
        let rl = include_str!("../tests/fixtures/web_error_ratelimited_429.json");
        assert_eq!(
            interpret("chat.postMessage", 429, S3, rl),
            Err(Error::RateLimited {
                method: "chat.postMessage".into(),
                retry_after: Duration::from_secs(3)
            })
        );
        // 429 without Retry-After: a default wait, never zero-spin.
        assert_eq!(
            interpret("m", 429, None, "").unwrap_err().retry_after(),
            Some(DEFAULT_RETRY_AFTER)
        );
        // ok:false ratelimited with 200.
        assert!(matches!(
            interpret("m", 200, S3, rl),
            Err(Error::RateLimited { .. })
        ));
        let e = interpret(
            "apps.connections.open",
            200,
            None,
            r#"{"ok":false,"error":"invalid_auth","response_metadata":{"messages":["[ERROR] bad"]}}"#,
        )
        .unwrap_err();
        assert!(e.is_fatal_auth());
        assert_eq!(
            e.to_string(),
            "slack refused apps.connections.open: invalid_auth ([ERROR] bad)"
        );
        // Slack error with a 5xx keeps Slack's code.
        assert_eq!(
            interpret(
                "m",
                503,
                None,
                r#"{"ok":false,"error":"service_unavailable"}"#
            )
            .unwrap_err()
            .slack_error(),
            Some("service_unavailable")
        );
        let e = interpret("m", 502, S3, "<html>bad gateway</html>").unwrap_err();
        assert!(matches!(e, Error::HttpStatus { status: 502, .. }));
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), S3);
        assert!(matches!(
            interpret("m", 200, None, "<html>"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            interpret("m", 200, None, "{}"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            interpret("m", 404, None, "{}"),
            Err(Error::HttpStatus { status: 404, .. })
        ));
        // response_url: plain "ok" is success; 404 "expired_url" is an http status error.
        assert!(interpret("response_url", 200, None, "ok").is_ok());
        assert!(matches!(
            interpret("response_url", 404, None, "expired_url"),
            Err(Error::HttpStatus { status: 404, ref body, .. }) if body == "expired_url"
        ));
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("1e99"), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            let d = p.backoff(attempt);
            let full =
                (p.backoff_initial * 2u32.saturating_pow(attempt.min(20))).min(p.backoff_max);
            assert!(d >= full / 2 && d <= full, "{attempt} {d:?}");
        }
    }

    #[test]
    fn urls_are_checked() {
        let token = crate::BotToken::new("xoxb-1").unwrap();
        let refused = WebClient::builder(token.clone())
            .base_url("http://127.0.0.1:1/api")
            .proxy(ProxyConfig::None)
            .build()
            .unwrap_err();
        assert_eq!(
            refused,
            Error::InsecureUrl {
                url: "http://127.0.0.1".into()
            }
        );
        let c = WebClient::builder(token.clone())
            .base_url("http://127.0.0.1:1/api")
            .allow_insecure_http(true)
            .proxy(ProxyConfig::None)
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:1/api/");
        // Plain http only to a loopback host, even when allowed.
        for url in ["http://10.0.0.1/api/", "http://localhost.example.com/api/"] {
            assert!(matches!(
                WebClient::builder(token.clone())
                    .base_url(url)
                    .allow_insecure_http(true)
                    .proxy(ProxyConfig::None)
                    .build(),
                Err(Error::InsecureUrl { .. })
            ));
        }
        assert!(matches!(
            c.post_response_url("http://hooks.example/commands/T/1/secret", &ResponseMessage::default()),
            Err(Error::InsecureUrl { ref url }) if url == "http://hooks.example"
        ));
        assert!(matches!(
            WebClient::builder(token.clone())
                .base_url("ftp://x/")
                .proxy(ProxyConfig::None)
                .build(),
            Err(Error::Config { .. })
        ));
        // response_url over http is refused by a strict client, before any network call.
        let strict = WebClient::builder(token)
            .proxy(ProxyConfig::None)
            .build()
            .unwrap();
        assert!(matches!(
            strict.post_response_url("http://hooks.example/commands/T/1/secret", &ResponseMessage::default()),
            Err(Error::InsecureUrl { ref url }) if url == "http://hooks.example"
        ));
        assert!(matches!(
            strict.call("../../evil", &json!({})),
            Err(Error::Config { .. })
        ));
        let dbg = format!("{strict:?}");
        assert!(
            dbg.contains("xoxb-…(redacted)") && !dbg.contains("xoxb-1\""),
            "{dbg}"
        );
    }

    #[test]
    fn proxy_chosen_per_url_from_injected_variables() {
        use slack_envelope::proxy::ProxyVars;
        let vars = |v: &'static [(&'static str, &'static str)]| {
            ProxyConfig::Vars(ProxyVars::read(&|name| {
                v.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }))
        };
        let env = |_: &str| None;
        let none = Proxies::new(&vars(&[]), &env).unwrap();
        assert!(none.for_url("https://slack.com/api/").unwrap().is_none());
        let p = Proxies::new(
            &vars(&[
                ("https_proxy", "http://u:pw@p:3128"),
                ("HTTPS_PROXY", "http://other:1"),
                ("no_proxy", "a.com, 10.0.0.0/8, b.org:8443"),
            ]),
            &env,
        )
        .unwrap();
        let via = |url: &str| {
            p.for_url(url)
                .unwrap()
                .map(|x| (x.host().to_owned(), x.port()))
        };
        assert_eq!(via("https://slack.com/api/"), Some(("p".into(), 3128)));
        assert_eq!(via("https://x.a.com/api/"), None);
        assert_eq!(via("https://10.9.8.7:8443/api/"), None);
        assert_eq!(via("https://b.org:8443/api/"), None);
        assert_eq!(via("https://b.org/api/"), Some(("p".into(), 3128)));
        assert_eq!(p.ureq.len(), 1);
        let explicit =
            Proxies::new(&ProxyConfig::Explicit("http://[::1]:8080".into()), &env).unwrap();
        assert!(explicit.for_url("https://slack.com/").unwrap().is_some());
        let dbg = format!(
            "{:?}",
            ProxyConfig::Explicit("http://user:secret@proxy:8080".into())
        );
        assert!(
            !dbg.contains("secret") && dbg.contains("proxy:8080"),
            "{dbg}"
        );
        assert!(matches!(
            Proxies::new(&ProxyConfig::Explicit("socks5://s:1".into()), &env),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn bad_pem_is_a_config_error() {
        let token = crate::BotToken::new("xoxb-1").unwrap();
        let e = WebClient::builder(token)
            .proxy(ProxyConfig::None)
            .add_root_certs_pem("not a pem")
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e}");
    }

    #[test]
    fn idempotent_list() {
        assert!(is_idempotent("chat.update") && is_idempotent("apps.connections.open"));
        assert!(!is_idempotent("chat.postMessage") && !is_idempotent("views.open"));
    }
}
