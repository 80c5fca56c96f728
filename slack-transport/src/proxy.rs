//! HTTP CONNECT proxies: choosing one (explicit or from the environment, with `NO_PROXY`),
//! parsing its URL, and opening the tunnel. Hand-written (base64, percent-decoding, a tiny
//! HTTP response parser) to keep the dependency tree small.

use std::io::{Read, Write};
use std::net::IpAddr;

use crate::url::{WsUrl, host_port, split_host_port};
use crate::{Error, ProxyConfig};

/// A parsed `http://[user[:pass]@]host[:port]` proxy.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Decoded user name and password for Basic auth.
    pub(crate) auth: Option<(String, String)>,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.auth {
            Some((user, _)) => write!(
                f,
                "http://{user}:<redacted>@{}",
                host_port(&self.host, self.port)
            ),
            None => write!(f, "http://{}", host_port(&self.host, self.port)),
        }
    }
}

impl ProxyUrl {
    /// Parses a proxy URL. `http://` or no scheme; the port defaults to 80.
    pub(crate) fn parse(s: &str) -> Result<ProxyUrl, Error> {
        let invalid = |reason: &str| Error::InvalidProxy {
            reason: reason.to_owned(),
        };
        let s = s.trim();
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(Error::InvalidProxy {
                    reason: format!(
                        "unsupported proxy scheme {:?} (only http:// CONNECT proxies are supported)",
                        scheme.to_ascii_lowercase()
                    ),
                });
            }
            None => s,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).map_err(|r| invalid(&r))?;
        let auth = match userinfo {
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
            auth,
        })
    }

    /// `host:port` of the proxy itself.
    #[cfg(test)]
    pub(crate) fn authority(&self) -> String {
        host_port(&self.host, self.port)
    }
}

/// Picks the proxy for `target` according to `config`. `lookup` reads an environment
/// variable (injected so that tests never touch the process environment).
pub(crate) fn choose(
    config: &ProxyConfig,
    target: &WsUrl,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, Error> {
    match config {
        ProxyConfig::None => Ok(None),
        ProxyConfig::Explicit(url) => ProxyUrl::parse(url).map(Some),
        ProxyConfig::FromEnv => {
            let Some(proxy) = proxy_from_env(lookup, target.secure) else {
                return Ok(None);
            };
            let no_proxy = first_set(lookup, &["NO_PROXY", "no_proxy"]).unwrap_or_default();
            if no_proxy_matches(&no_proxy, &target.host, target.port) {
                log::debug!("NO_PROXY matches {}: connecting directly", target.host);
                return Ok(None);
            }
            ProxyUrl::parse(&proxy).map(Some)
        }
    }
}

fn first_set(lookup: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| lookup(n))
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
}

/// The proxy URL from the environment: `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `all_proxy`
/// for `wss://` (`HTTP_PROXY`/`http_proxy` then `ALL_PROXY`/`all_proxy` for `ws://`).
pub(crate) fn proxy_from_env(
    lookup: &dyn Fn(&str) -> Option<String>,
    secure: bool,
) -> Option<String> {
    if secure {
        first_set(
            lookup,
            &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
        )
    } else {
        first_set(
            lookup,
            &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"],
        )
    }
}

/// Whether a `NO_PROXY` list excludes `host:port` from proxying.
///
/// Entries are separated by commas or whitespace. `*` matches everything; `example.com` and
/// `.example.com` match that domain and its subdomains; `host:port` matches only that port;
/// IP addresses match exactly, and `addr/len` CIDR blocks match addresses inside them.
pub(crate) fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    no_proxy
        .split([',', ' ', '\t', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| entry_matches(entry, &host, host_ip, port))
}

fn entry_matches(entry: &str, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    // CIDR block.
    if let Some((net, len)) = entry.split_once('/') {
        let net = net.trim_start_matches('[').trim_end_matches(']');
        return match (net.parse::<IpAddr>(), len.parse::<u8>(), host_ip) {
            (Ok(net), Ok(len), Some(ip)) => cidr_contains(net, len, ip),
            _ => false,
        };
    }
    // Bare IP (v4 or v6 without brackets).
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return host_ip == Some(ip);
    }
    // host, .host, host:port, [v6]:port
    let (name, entry_port) = match split_host_port(entry.trim_start_matches('.')) {
        Ok((name, p)) => (name, p),
        Err(_) => return false,
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return host_ip == Some(ip);
    }
    let name = name.trim_end_matches('.');
    if name.is_empty() {
        return false;
    }
    host == name
        || host
            .strip_suffix(name)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

fn cidr_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Decodes `%XX` escapes; `None` on a malformed escape or invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = hex_val(bytes.next()?)?;
            let lo = hex_val(bytes.next()?)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Standard base64 with padding (RFC 4648), for `Proxy-Authorization: Basic`.
pub(crate) fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(TABLE.get((i & 63) as usize).copied().unwrap_or(b'='));
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = b(0) << 16 | b(1) << 8 | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

/// The CONNECT request for `target` (`host:port`).
pub(crate) fn connect_request(target: &str, auth: Option<&(String, String)>) -> String {
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, pass)) = auth {
        let token = base64(format!("{user}:{pass}").as_bytes());
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(&token);
        req.push_str("\r\n");
    }
    req.push_str("User-Agent: slack-transport\r\n\r\n");
    req
}

/// Parses the status line of a proxy's answer: `(status, reason)`.
pub(crate) fn parse_status_line(head: &[u8]) -> Result<(u16, String), Error> {
    let bad = |why: &str| Error::InvalidProxy {
        reason: format!("bad answer to CONNECT: {why}"),
    };
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = head.get(..line_end).unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| bad("status line is not utf-8"))?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x status line"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| bad("no status code"))?;
    let reason = parts.next().unwrap_or("").trim().to_owned();
    Ok((status, reason))
}

/// The maximum size of the proxy's response head.
const MAX_HEAD: usize = 16 * 1024;

/// Sends CONNECT over `stream` and reads the proxy's response head. Reads one byte at a time
/// so that nothing past the head (the tunnel's first bytes) is consumed.
pub(crate) fn tunnel<S: Read + Write>(
    stream: &mut S,
    target: &str,
    proxy: &ProxyUrl,
) -> Result<(), Error> {
    stream.write_all(connect_request(target, proxy.auth.as_ref()).as_bytes())?;
    stream.flush()?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(Error::InvalidProxy {
                reason: "answer to CONNECT is too long".to_owned(),
            });
        }
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(Error::InvalidProxy {
                    reason: "proxy closed the connection during CONNECT".to_owned(),
                });
            }
            Ok(_) => head.extend_from_slice(&byte),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    check_status(&head, proxy.auth.is_some())
}

/// Turns the response head into `Ok` (2xx) or the matching error.
pub(crate) fn check_status(head: &[u8], credentials_sent: bool) -> Result<(), Error> {
    let (status, reason) = parse_status_line(head)?;
    match status {
        200..=299 => Ok(()),
        407 => Err(Error::ProxyAuthRequired { credentials_sent }),
        _ => Err(Error::ProxyRefused { status, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn parses_proxy_urls() {
        let p = ProxyUrl::parse("http://proxy.corp:3128").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.auth.clone()),
            ("proxy.corp", 3128, None)
        );
        let p = ProxyUrl::parse("proxy.corp").unwrap();
        assert_eq!(p.port, 80);
        let p = ProxyUrl::parse("http://us%40er:p%3Ass@[::1]:8080/").unwrap();
        assert_eq!(p.host, "::1");
        assert_eq!(p.auth, Some(("us@er".to_owned(), "p:ss".to_owned())));
        assert_eq!(format!("{p:?}"), "http://us@er:<redacted>@[::1]:8080");
        let p = ProxyUrl::parse("http://user@h:1").unwrap();
        assert_eq!(p.auth, Some(("user".to_owned(), String::new())));
        assert!(matches!(
            ProxyUrl::parse("socks5://h:1080"),
            Err(Error::InvalidProxy { .. })
        ));
        assert!(matches!(
            ProxyUrl::parse("https://h:443"),
            Err(Error::InvalidProxy { .. })
        ));
        assert!(ProxyUrl::parse("http://:80").is_err());
        assert!(ProxyUrl::parse("http://u:%zz@h").is_err());
    }

    #[test]
    fn no_proxy_rules() {
        let list =
            "localhost, .internal.corp,example.com:8443 10.0.0.0/8,192.168.1.5,[::1], fd00::/8";
        let m = |h: &str, p: u16| no_proxy_matches(list, h, p);
        assert!(m("localhost", 443));
        assert!(m("a.internal.corp", 443));
        assert!(m("internal.corp", 443));
        assert!(!m("xinternal.corp", 443));
        assert!(m("example.com", 8443));
        assert!(!m("example.com", 443));
        assert!(m("api.example.com", 8443));
        assert!(!m("badexample.com", 8443));
        assert!(m("10.1.2.3", 443));
        assert!(!m("11.1.2.3", 443));
        assert!(m("192.168.1.5", 1));
        assert!(!m("192.168.1.6", 1));
        assert!(m("::1", 443));
        assert!(m("fd12::1", 443));
        assert!(!m("wss-primary.slack.com", 443));
        assert!(no_proxy_matches("*", "anything", 1));
        assert!(no_proxy_matches("slack.com", "WSS-PRIMARY.SLACK.COM.", 443));
        assert!(!no_proxy_matches("", "slack.com", 443));
        assert!(!no_proxy_matches(" , ,", "slack.com", 443));
        assert!(!no_proxy_matches("10.0.0.0/99", "10.0.0.1", 443));
    }

    #[test]
    fn chooses_proxy_from_injected_env() {
        let target = WsUrl::parse("wss://wss-primary.slack.com/link/?ticket=x").unwrap();
        let none = env(&[]);
        assert_eq!(choose(&ProxyConfig::FromEnv, &target, &none).unwrap(), None);
        let e = env(&[("https_proxy", "http://p:1"), ("HTTP_PROXY", "http://q:2")]);
        let p = choose(&ProxyConfig::FromEnv, &target, &e).unwrap().unwrap();
        assert_eq!(p.authority(), "p:1");
        let e = env(&[("HTTPS_PROXY", " "), ("ALL_PROXY", "http://all:3")]);
        let p = choose(&ProxyConfig::FromEnv, &target, &e).unwrap().unwrap();
        assert_eq!(p.authority(), "all:3");
        let e = env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", ".slack.com")]);
        assert_eq!(choose(&ProxyConfig::FromEnv, &target, &e).unwrap(), None);
        assert_eq!(choose(&ProxyConfig::None, &target, &e).unwrap(), None);
        let p = choose(&ProxyConfig::Explicit("http://x:9".into()), &target, &e)
            .unwrap()
            .unwrap();
        assert_eq!(p.authority(), "x:9");
        // ws:// uses HTTP_PROXY.
        let plain = WsUrl::parse("ws://h/").unwrap();
        let e = env(&[("HTTPS_PROXY", "http://p:1"), ("http_proxy", "http://q:2")]);
        let p = choose(&ProxyConfig::FromEnv, &plain, &e).unwrap().unwrap();
        assert_eq!(p.authority(), "q:2");
    }

    #[test]
    fn connect_request_has_basic_auth() {
        let auth = ("Aladdin".to_owned(), "open sesame".to_owned());
        let req = connect_request("slack.com:443", Some(&auth));
        assert!(req.starts_with("CONNECT slack.com:443 HTTP/1.1\r\nHost: slack.com:443\r\n"));
        assert!(req.contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
        assert!(!connect_request("h:1", None).contains("Proxy-Authorization"));
    }

    #[test]
    fn parses_proxy_answers() {
        assert!(check_status(b"HTTP/1.1 200 Connection established\r\n\r\n", false).is_ok());
        assert!(check_status(b"HTTP/1.0 200\r\n\r\n", false).is_ok());
        match check_status(b"HTTP/1.1 403 Forbidden by policy\r\nX: y\r\n\r\n", false) {
            Err(Error::ProxyRefused { status, reason }) => {
                assert_eq!((status, reason.as_str()), (403, "Forbidden by policy"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_status(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", true),
            Err(Error::ProxyAuthRequired {
                credentials_sent: true
            })
        ));
        for junk in [
            &b""[..],
            b"SSH-2.0\r\n\r\n",
            b"HTTP/1.1 abc\r\n\r\n",
            b"\xff\xfe",
        ] {
            assert!(matches!(
                check_status(junk, false),
                Err(Error::InvalidProxy { .. })
            ));
        }
    }

    #[test]
    fn tunnel_reads_exactly_the_head() {
        struct Fake {
            input: std::io::Cursor<Vec<u8>>,
            written: Vec<u8>,
        }
        impl Read for Fake {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.input.read(buf)
            }
        }
        impl Write for Fake {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.written.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut s = Fake {
            input: std::io::Cursor::new(b"HTTP/1.1 200 OK\r\n\r\nTLSDATA".to_vec()),
            written: Vec::new(),
        };
        let proxy = ProxyUrl::parse("http://p:1").unwrap();
        tunnel(&mut s, "h:443", &proxy).unwrap();
        let mut rest = String::new();
        s.input.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "TLSDATA");
        assert!(s.written.starts_with(b"CONNECT h:443 HTTP/1.1\r\n"));

        let mut s = Fake {
            input: std::io::Cursor::new(b"HTTP/1.1 200 OK\r\n".to_vec()),
            written: Vec::new(),
        };
        assert!(matches!(
            tunnel(&mut s, "h:443", &proxy),
            Err(Error::InvalidProxy { .. })
        ));
    }
}
