//! HTTP CONNECT proxies: the choice (shared with `slack-web`, in `slack_envelope::proxy`)
//! and the tunnel. Hand-written (base64, a tiny HTTP response parser) to keep the dependency
//! tree small.

use std::io::{Read, Write};

use slack_envelope::proxy::{ProxyRules, ProxyUrl};

use crate::url::WsUrl;
use crate::{Error, ProxyConfig};

/// Picks the proxy for `target` according to `config`. `lookup` reads an environment
/// variable (injected so that tests never touch the process environment).
pub(crate) fn choose(
    config: &ProxyConfig,
    target: &WsUrl,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, Error> {
    let rules = ProxyRules::resolve(config, lookup).map_err(from_envelope)?;
    let proxy = rules.proxy_for(target.secure, &target.host, target.port);
    if proxy.is_none() && *config == ProxyConfig::FromEnv {
        log::debug!("no proxy for {}: connecting directly", target.host);
    }
    Ok(proxy.cloned())
}

/// The shared resolver's error as this crate's.
fn from_envelope(e: slack_envelope::Error) -> Error {
    match e {
        slack_envelope::Error::InvalidProxy { reason } => Error::InvalidProxy { reason },
        other => Error::InvalidProxy {
            reason: other.to_string(),
        },
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
pub(crate) fn connect_request(target: &str, auth: Option<(&str, &str)>) -> String {
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
    stream.write_all(connect_request(target, proxy.credentials()).as_bytes())?;
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
    check_status(&head, proxy.credentials().is_some())
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
        // Lowercase first, like curl.
        let e = env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
        ]);
        let p = choose(&ProxyConfig::FromEnv, &target, &e).unwrap().unwrap();
        assert_eq!(p.authority(), "lower:2");
        // ws:// uses http_proxy.
        let plain = WsUrl::parse("ws://h/").unwrap();
        let e = env(&[("HTTPS_PROXY", "http://p:1"), ("http_proxy", "http://q:2")]);
        let p = choose(&ProxyConfig::FromEnv, &plain, &e).unwrap().unwrap();
        assert_eq!(p.authority(), "q:2");
    }

    #[test]
    fn connect_request_has_basic_auth() {
        let req = connect_request("slack.com:443", Some(("Aladdin", "open sesame")));
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
