//! A small parser for `ws://` and `wss://` URLs, and redaction for logs.

use crate::Error;

/// A parsed WebSocket URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct WsUrl {
    /// `true` for `wss://`.
    pub(crate) secure: bool,
    /// Host without brackets (an IPv6 literal is stored bare).
    pub(crate) host: String,
    /// Explicit port, or 443 / 80.
    pub(crate) port: u16,
    /// Path and query, starting with `/` (secret: the query holds the ticket).
    pub(crate) path_and_query: String,
}

impl std::fmt::Debug for WsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl WsUrl {
    /// Parses `ws[s]://host[:port][/path][?query]`. Userinfo and fragments are refused.
    pub(crate) fn parse(url: &str) -> Result<WsUrl, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            reason: reason.to_owned(),
        };
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("missing scheme (expected wss://)"))?;
        let secure = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(invalid("scheme must be wss:// or ws://"));
        };
        let split_at = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split_at);
        if tail.contains('#') {
            return Err(invalid("fragments are not allowed"));
        }
        if authority.contains('@') {
            return Err(invalid("credentials in the url are not supported"));
        }
        let (host, port) = split_host_port(authority).map_err(|r| invalid(&r))?;
        let port = port.unwrap_or(if secure { 443 } else { 80 });
        let path_and_query = if tail.is_empty() {
            "/".to_owned()
        } else if tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_owned()
        };
        if path_and_query
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err(invalid("control characters or spaces in the path"));
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            path_and_query,
        })
    }

    /// `host:port` as used in a `Host` header or a CONNECT request (IPv6 in brackets).
    pub(crate) fn authority(&self) -> String {
        host_port(&self.host, self.port)
    }

    /// The full URL, secret query included: only for the handshake request. A default port
    /// is left out, so that the `Host` header is the bare host name.
    pub(crate) fn full(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        let default_port = if self.secure { 443 } else { 80 };
        let authority = if self.port == default_port {
            host_port(&self.host, self.port)
                .rsplit_once(':')
                .map_or_else(|| self.host.clone(), |(h, _)| h.to_owned())
        } else {
            self.authority()
        };
        format!("{scheme}://{authority}{}", self.path_and_query)
    }

    /// The URL with its query replaced by `?<redacted>`: safe for logs.
    pub(crate) fn redacted(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        let path = match self.path_and_query.split_once('?') {
            Some((path, _)) => format!("{path}?<redacted>"),
            None => self.path_and_query.clone(),
        };
        format!("{scheme}://{}{path}", self.authority())
    }
}

/// Formats `host:port`, bracketing IPv6 literals.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`. The host is returned lowercase and
/// without brackets.
pub(crate) fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in host".to_owned())?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("invalid IPv6 address".to_owned());
        }
        let port = if after.is_empty() {
            None
        } else {
            Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| "junk after IPv6 address".to_owned())?,
            )
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("empty host".to_owned());
    }
    if host.contains(':') && !authority.starts_with('[') {
        return Err("IPv6 addresses must be in brackets".to_owned());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err("invalid characters in host".to_owned());
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| "invalid port".to_owned())?,
        ),
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slack_url() {
        let u = WsUrl::parse("wss://wss-primary.slack.com/link/?ticket=abc&app_id=A1").unwrap();
        assert!(u.secure);
        assert_eq!(u.host, "wss-primary.slack.com");
        assert_eq!(u.port, 443);
        assert_eq!(u.path_and_query, "/link/?ticket=abc&app_id=A1");
        assert_eq!(
            u.redacted(),
            "wss://wss-primary.slack.com:443/link/?<redacted>"
        );
        assert!(!format!("{u:?}").contains("abc"));
        assert_eq!(
            u.full(),
            "wss://wss-primary.slack.com/link/?ticket=abc&app_id=A1"
        );
        assert_eq!(
            WsUrl::parse("ws://[::1]:80/").unwrap().full(),
            "ws://[::1]/"
        );
        assert_eq!(WsUrl::parse("ws://h:81/").unwrap().full(), "ws://h:81/");
    }

    #[test]
    fn parses_ports_ipv6_and_defaults() {
        let u = WsUrl::parse("ws://127.0.0.1:8080").unwrap();
        assert!(!u.secure);
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 8080));
        assert_eq!(u.path_and_query, "/");
        let u = WsUrl::parse("WSS://[::1]:9000?x=1").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.path_and_query, "/?x=1");
        assert_eq!(u.authority(), "[::1]:9000");
        let u = WsUrl::parse("ws://Example.COM/a").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("example.com", 80));
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "",
            "wss:/x",
            "https://slack.com/",
            "wss://",
            "wss://:443/",
            "wss://host:0/",
            "wss://host:99999/",
            "wss://host:abc/",
            "wss://user:pw@host/",
            "wss://host/a#frag",
            "wss://[::1/",
            "wss://::1/",
            "wss://ho st/",
            "wss://host/a b",
        ] {
            assert!(
                matches!(WsUrl::parse(bad), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
