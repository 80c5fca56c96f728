//! Which HTTP CONNECT proxy to use for a URL: one reading of the proxy variables, one
//! `NO_PROXY` matcher and one decision, shared by the socket (`slack-transport`) and the Web
//! API (`slack-web`) so that both make the same choice for every URL.
//!
//! Pure: nothing here reads the environment. [`ProxyVars::read`] takes a lookup function
//! (`|name| std::env::var(name).ok()` at the edges, a map in tests).
//!
//! The variables, read the way curl reads them (the lowercase name first):
//!
//! * for `https://` and `wss://` URLs: `https_proxy`, `HTTPS_PROXY`, then `all_proxy`,
//!   `ALL_PROXY`;
//! * for `http://` and `ws://` URLs: `http_proxy` (never `HTTP_PROXY`, which a CGI program
//!   may get from a request header), then `all_proxy`, `ALL_PROXY`;
//! * exceptions: `no_proxy`, then `NO_PROXY` (see [`NoProxy`]).
//!
//! An empty variable counts as unset. A proxy URL is `http://[user[:password]@]host[:port]`
//! (the scheme may be left out; the port defaults to 80; user and password may be
//! %-encoded).
//!
//! ```
//! use slack_envelope::proxy::{ProxyConfig, ProxyRules};
//!
//! let env = |name: &str| match name {
//!     "https_proxy" => Some("http://proxy.corp:3128".to_owned()),
//!     "no_proxy" => Some("10.0.0.0/8, .internal".to_owned()),
//!     _ => None,
//! };
//! let rules = ProxyRules::resolve(&ProxyConfig::FromEnv, &env)?;
//! let proxy = rules.proxy_for_url("wss://wss-primary.slack.com/link/?ticket=x")?;
//! assert_eq!(proxy.map(|p| p.authority()), Some("proxy.corp:3128".to_owned()));
//! assert!(rules.proxy_for_url("https://10.1.2.3:8443/api/")?.is_none());
//! assert!(rules.proxy_for_url("https://slack.internal/api/")?.is_none());
//! # Ok::<(), slack_envelope::Error>(())
//! ```

use std::fmt;
use std::net::IpAddr;

use crate::Error;

/// Where the proxy comes from.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ProxyConfig {
    /// The proxy variables (see the [module documentation](self)). This is the default.
    #[default]
    FromEnv,
    /// No proxy, whatever the environment says.
    None,
    /// Always this proxy, for every URL: `http://[user[:password]@]host[:port]`.
    Explicit(String),
    /// The proxy variables with these values, read by the caller (from a configuration
    /// file, or through [`ProxyVars::read`] with a lookup of its own) instead of the
    /// process environment.
    Vars(ProxyVars),
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyConfig::FromEnv => f.write_str("FromEnv"),
            ProxyConfig::None => f.write_str("None"),
            ProxyConfig::Explicit(url) => match ProxyUrl::parse(url) {
                Ok(p) => write!(f, "Explicit({p:?})"),
                Err(_) => f.write_str("Explicit(<invalid>)"),
            },
            ProxyConfig::Vars(vars) => write!(f, "Vars({vars:?})"),
        }
    }
}

/// A parsed proxy URL. Its `Debug` output never shows the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.credentials {
            Some(_) => write!(f, "http://<credentials>@{}", self.authority()),
            None => write!(f, "http://{}", self.authority()),
        }
    }
}

impl ProxyUrl {
    /// Parses `http://[user[:password]@]host[:port]` (or the same without `http://`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProxy`] for another scheme, a path, a bad host or port, or a bad
    /// %-escape. The reason never repeats the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<ProxyUrl, Error> {
        let invalid = |reason: &str| Error::InvalidProxy {
            reason: reason.to_owned(),
        };
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _))
                if scheme.len() <= 10 && scheme.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                return Err(Error::InvalidProxy {
                    reason: format!(
                        "unsupported scheme {:?} (only http:// CONNECT proxies)",
                        scheme.to_ascii_lowercase()
                    ),
                });
            }
            Some(_) => return Err(invalid("unsupported scheme")),
            None => url,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(invalid("a path is not allowed"));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport).map_err(invalid)?;
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let user = percent_decode(user).ok_or_else(|| invalid("bad %-escape in user"))?;
                let pass =
                    percent_decode(pass).ok_or_else(|| invalid("bad %-escape in password"))?;
                Some((user, pass))
            }
        };
        Ok(ProxyUrl {
            host,
            port: port.unwrap_or(80),
            credentials,
        })
    }

    /// The proxy's host (lowercase; an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, an IPv6 address in brackets: what a CONNECT request is sent to.
    pub fn authority(&self) -> String {
        host_port(&self.host, self.port)
    }

    /// The decoded user name and password for `Proxy-Authorization: Basic`, if any. Secret.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }
}

/// The values of the proxy variables, read once (lowercase name first, empty means unset).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyVars {
    https: Option<String>,
    https_from: &'static str,
    http: Option<String>,
    no_proxy: Option<String>,
}

impl fmt::Debug for ProxyVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The proxy URLs may hold passwords: only whether each is set.
        f.debug_struct("ProxyVars")
            .field("https", &self.https.is_some())
            .field("http", &self.http.is_some())
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyVars {
    /// Reads the variables through `lookup` (see the [module documentation](self)).
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> ProxyVars {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|n| {
                let v = lookup(n)?.trim().to_owned();
                (!v.is_empty()).then_some((*n, v))
            })
        };
        let https = first(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]);
        ProxyVars {
            https_from: https.as_ref().map_or("", |(n, _)| n),
            https: https.map(|(_, v)| v),
            http: first(&["http_proxy", "all_proxy", "ALL_PROXY"]).map(|(_, v)| v),
            no_proxy: first(&["no_proxy", "NO_PROXY"]).map(|(_, v)| v),
        }
    }

    /// The proxy URL for `https://` and `wss://` URLs, if set, with the name of the variable
    /// it came from (for a message that names it). Secret: the URL may hold a password.
    pub fn https_proxy(&self) -> Option<(&'static str, &str)> {
        self.https.as_deref().map(|v| (self.https_from, v))
    }
}

/// The proxy decision for every URL: which proxy, if any, for `https`/`wss` and for
/// `http`/`ws`, and the `NO_PROXY` exceptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyRules {
    secure: Option<ProxyUrl>,
    plain: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl ProxyRules {
    /// The rules of `config`, with the environment read through `lookup` (used only for
    /// [`ProxyConfig::FromEnv`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProxy`] when a proxy URL that could be used does not parse.
    pub fn resolve(
        config: &ProxyConfig,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ProxyRules, Error> {
        match config {
            ProxyConfig::None => Ok(ProxyRules::default()),
            ProxyConfig::Explicit(url) => {
                let proxy = ProxyUrl::parse(url)?;
                Ok(ProxyRules {
                    secure: Some(proxy.clone()),
                    plain: Some(proxy),
                    no_proxy: NoProxy::default(),
                })
            }
            ProxyConfig::FromEnv => ProxyRules::from_vars(&ProxyVars::read(lookup)),
            ProxyConfig::Vars(vars) => ProxyRules::from_vars(vars),
        }
    }

    /// The rules the variables give.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProxy`] when a proxy variable does not parse.
    pub fn from_vars(vars: &ProxyVars) -> Result<ProxyRules, Error> {
        let parse = |v: &Option<String>| v.as_deref().map(ProxyUrl::parse).transpose();
        Ok(ProxyRules {
            secure: parse(&vars.https)?,
            plain: parse(&vars.http)?,
            no_proxy: NoProxy::parse(vars.no_proxy.as_deref().unwrap_or("")),
        })
    }

    /// The proxy for a target: `secure` for `https`/`wss`; `host` as in the URL (an IPv6
    /// address with or without brackets). `None`: connect directly.
    pub fn proxy_for(&self, secure: bool, host: &str, port: u16) -> Option<&ProxyUrl> {
        let proxy = if secure { &self.secure } else { &self.plain };
        let proxy = proxy.as_ref()?;
        if self.no_proxy.matches(host, port) {
            return None;
        }
        Some(proxy)
    }

    /// The proxies these rules can pick (none, one, or one for `https`/`wss` and another for
    /// `http`/`ws`).
    pub fn proxies(&self) -> impl Iterator<Item = &ProxyUrl> {
        self.secure.iter().chain(self.plain.iter())
    }

    /// The proxy for `url` (`https`, `wss`, `http` or `ws`; the port defaults to the
    /// scheme's). `None`: connect directly.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProxy`] when `url` has another scheme or no valid host.
    pub fn proxy_for_url(&self, url: &str) -> Result<Option<&ProxyUrl>, Error> {
        let (secure, host, port) = url_target(url)?;
        Ok(self.proxy_for(secure, &host, port))
    }
}

/// `(secure, host, port)` of an `https`, `wss`, `http` or `ws` URL.
fn url_target(url: &str) -> Result<(bool, String, u16), Error> {
    let invalid = |reason: &str| Error::InvalidProxy {
        reason: format!("cannot choose a proxy for this url: {reason}"),
    };
    let (scheme, rest) = url
        .trim()
        .split_once("://")
        .ok_or_else(|| invalid("no scheme"))?;
    let (secure, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => (true, 443),
        "http" | "ws" => (false, 80),
        _ => return Err(invalid("unsupported scheme")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_host_port(hostport).map_err(invalid)?;
    Ok((secure, host, port.unwrap_or(default_port)))
}

/// A parsed `NO_PROXY` list: the hosts to reach directly.
///
/// Entries are separated by commas or whitespace. `*` matches everything; `example.com`,
/// `.example.com` and `*.example.com` match that domain and its subdomains; `host:port`
/// matches only that port; an IP address (IPv6 with or without brackets) matches that
/// address, and `addr/len` (CIDR) the addresses inside the block. Names are compared without
/// case and without a trailing dot. Entries that do not parse are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    All,
    Cidr(IpAddr, u8),
    Ip(IpAddr, Option<u16>),
    Domain(String, Option<u16>),
}

impl NoProxy {
    /// Parses a list.
    pub fn parse(list: &str) -> NoProxy {
        let entries = list
            .split([',', ' ', '\t', '\n', '\r'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(Entry::parse)
            .collect();
        NoProxy { entries }
    }

    /// Whether `host:port` is reached directly.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.entries.iter().any(|e| e.matches(&host, ip, port))
    }
}

impl Entry {
    fn parse(entry: &str) -> Option<Entry> {
        if entry == "*" {
            return Some(Entry::All);
        }
        if let Some((net, len)) = entry.split_once('/') {
            let net = net.trim_start_matches('[').trim_end_matches(']');
            let net: IpAddr = net.parse().ok()?;
            let len: u8 = len.parse().ok()?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            return (len <= max).then_some(Entry::Cidr(net, len));
        }
        if let Ok(ip) = entry.parse::<IpAddr>() {
            return Some(Entry::Ip(ip, None));
        }
        let name = entry
            .strip_prefix("*.")
            .or_else(|| entry.strip_prefix('.'))
            .unwrap_or(entry);
        let (name, port) = split_host_port(name).ok()?;
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Some(Entry::Ip(ip, port));
        }
        let name = name.trim_end_matches('.');
        (!name.is_empty()).then(|| Entry::Domain(name.to_owned(), port))
    }

    fn matches(&self, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
        match self {
            Entry::All => true,
            Entry::Cidr(net, len) => host_ip.is_some_and(|ip| cidr_contains(*net, *len, ip)),
            Entry::Ip(ip, p) => host_ip == Some(*ip) && p.is_none_or(|p| p == port),
            Entry::Domain(name, p) => {
                p.is_none_or(|p| p == port)
                    && (host == name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|prefix| prefix.ends_with('.')))
            }
        }
    }
}

fn cidr_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Whether `host` (a name, or an IP address with or without brackets) is this machine's
/// loopback: `localhost` or a name under `.localhost`, `127.0.0.0/8`, `::1`. Plain-text
/// connections (`http://`, `ws://`) are allowed to such hosts only.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

/// Formats `host:port`, an IPv6 address in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; the host comes back lowercase and
/// without brackets.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed '[' in host")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("invalid IPv6 address");
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("junk after IPv6 address")?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    if host.contains(':') && !authority.starts_with('[') {
        return Err("IPv6 addresses must be in brackets");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
    {
        return Err("invalid characters in host");
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("invalid port")?,
        ),
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Decodes `%XX` escapes; `None` on a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi << 4 | lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn parses_proxy_urls_and_hides_credentials() {
        let p = ProxyUrl::parse("http://proxy.corp:3128").unwrap();
        assert_eq!(
            (p.host(), p.port(), p.credentials()),
            ("proxy.corp", 3128, None)
        );
        assert_eq!(ProxyUrl::parse("proxy.corp").unwrap().port(), 80);
        let p = ProxyUrl::parse("HTTP://us%40er:p%3Ass@[::1]:8080/").unwrap();
        assert_eq!(p.host(), "::1");
        assert_eq!(p.credentials(), Some(("us@er", "p:ss")));
        assert_eq!(p.authority(), "[::1]:8080");
        assert_eq!(format!("{p:?}"), "http://<credentials>@[::1]:8080");
        let dbg = format!(
            "{:?}",
            ProxyConfig::Explicit("http://bob:hunter2@p:1".into())
        );
        assert!(!dbg.contains("hunter2") && !dbg.contains("bob"), "{dbg}");
        let vars = ProxyVars::read(&env(&[("https_proxy", "http://bob:hunter2@p:1")]));
        assert!(!format!("{vars:?}").contains("hunter2"));
        assert_eq!(
            ProxyUrl::parse("http://user@h:1").unwrap().credentials(),
            Some(("user", ""))
        );
        for bad in [
            "socks5://h:1080",
            "https://h:443",
            "http://",
            "http://:80",
            "http://u:%zz@h",
            "http://h:0",
            "http://h:99999",
            "http://h/path",
            "http://ho st:1",
            "http://[::1:1",
        ] {
            let e = ProxyUrl::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidProxy { .. }), "{bad}");
            assert!(!e.to_string().contains("%zz"), "{e}");
        }
    }

    #[test]
    fn lowercase_variables_win_like_curl() {
        let v = ProxyVars::read(&env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("NO_PROXY", "upper.example"),
            ("no_proxy", "lower.example"),
        ]));
        let rules = ProxyRules::from_vars(&v).unwrap();
        let p = rules.proxy_for(true, "slack.com", 443).unwrap();
        assert_eq!(p.authority(), "lower:2");
        assert!(rules.proxy_for(true, "lower.example", 443).is_none());
        assert!(rules.proxy_for(true, "upper.example", 443).is_some());
        // Uppercase alone is read; empty counts as unset; ALL_PROXY is the last resort.
        let v = ProxyVars::read(&env(&[("https_proxy", " "), ("HTTPS_PROXY", "http://u:1")]));
        assert_eq!(v.https_proxy(), Some(("HTTPS_PROXY", "http://u:1")));
        let v = ProxyVars::read(&env(&[("ALL_PROXY", "http://all:1")]));
        assert_eq!(v.https_proxy(), Some(("ALL_PROXY", "http://all:1")));
        // Plain http: http_proxy, never HTTP_PROXY.
        let v = ProxyVars::read(&env(&[("HTTP_PROXY", "http://cgi:1")]));
        let rules = ProxyRules::from_vars(&v).unwrap();
        assert!(rules.proxy_for(false, "h", 80).is_none());
    }

    #[test]
    fn no_proxy_rules() {
        let list = "localhost, .internal.corp,*.wild.example example.com:8443 10.0.0.0/8,\
                    192.168.1.5,[::1], fd00::/8, 172.16.0.1:8080, [fe80::1]:443";
        let n = NoProxy::parse(list);
        for (host, port, direct) in [
            ("localhost", 443, true),
            ("a.internal.corp", 443, true),
            ("internal.corp", 443, true),
            ("xinternal.corp", 443, false),
            ("a.wild.example", 1, true),
            ("example.com", 8443, true),
            ("example.com", 443, false),
            ("api.example.com", 8443, true),
            ("badexample.com", 8443, false),
            ("10.1.2.3", 443, true),
            ("11.1.2.3", 443, false),
            ("192.168.1.5", 1, true),
            ("192.168.1.6", 1, false),
            ("::1", 443, true),
            ("[::1]", 443, true),
            ("fd12::1", 443, true),
            ("172.16.0.1", 8080, true),
            ("172.16.0.1", 443, false),
            ("fe80::1", 443, true),
            ("fe80::1", 80, false),
            ("wss-primary.slack.com", 443, false),
            ("LOCALHOST.", 1, true),
        ] {
            assert_eq!(n.matches(host, port), direct, "{host}:{port}");
        }
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(NoProxy::parse("slack.com").matches("WSS-PRIMARY.SLACK.COM.", 443));
        assert!(!NoProxy::parse("").matches("slack.com", 443));
        assert!(!NoProxy::parse(" , ,").matches("slack.com", 443));
        assert!(!NoProxy::parse("10.0.0.0/99").matches("10.0.0.1", 443));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8", 443));
    }

    #[test]
    fn decisions_per_url() {
        let rules = ProxyRules::resolve(
            &ProxyConfig::FromEnv,
            &env(&[
                ("https_proxy", "http://p:3128"),
                ("no_proxy", "10.0.0.0/8,.corp"),
            ]),
        )
        .unwrap();
        let via = |url: &str| rules.proxy_for_url(url).unwrap().map(ProxyUrl::authority);
        assert_eq!(
            via("wss://wss-primary.slack.com/link/?ticket=x"),
            Some("p:3128".into())
        );
        assert_eq!(via("https://slack.com/api/"), Some("p:3128".into()));
        assert_eq!(via("https://10.2.3.4:8443/api/"), None);
        assert_eq!(via("https://api.corp/api/"), None);
        assert_eq!(via("http://127.0.0.1:1/api/"), None);
        assert!(rules.proxy_for_url("ftp://x/").is_err());
        assert!(rules.proxy_for_url("nonsense").is_err());
        let explicit = ProxyRules::resolve(
            &ProxyConfig::Explicit("http://e:1".into()),
            &env(&[("no_proxy", "*")]),
        )
        .unwrap();
        assert!(
            explicit
                .proxy_for_url("http://10.0.0.1/")
                .unwrap()
                .is_some()
        );
        let none = ProxyRules::resolve(&ProxyConfig::None, &env(&[("https_proxy", "http://p:1")]))
            .unwrap();
        assert!(none.proxy_for_url("https://slack.com/").unwrap().is_none());
        assert!(
            ProxyRules::resolve(
                &ProxyConfig::FromEnv,
                &env(&[("https_proxy", "socks5://s:1")])
            )
            .is_err()
        );
    }

    #[test]
    fn loopback_hosts() {
        for (host, loopback) in [
            ("127.0.0.1", true),
            ("127.1.2.3", true),
            ("[::1]", true),
            ("::1", true),
            ("localhost", true),
            ("LOCALHOST.", true),
            ("a.localhost", true),
            ("10.0.0.1", false),
            ("localhost.example.com", false),
            ("example.com", false),
            ("0.0.0.0", false),
        ] {
            assert_eq!(is_loopback_host(host), loopback, "{host}");
        }
    }
}
