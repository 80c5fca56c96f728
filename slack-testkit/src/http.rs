//! A small hand-written HTTP/1.1 server side: read one request, write one response, over the
//! stream of a connection in its HTTP phase (plain TCP or TLS).

use std::io::{self, Read, Write};
use std::net::TcpStream;

use rustls::{ServerConnection, StreamOwned};

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One parsed HTTP request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub target: String,
    pub version_minor: u8,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path part of the target.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query part of the target (without `?`), or "".
    pub(crate) fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }

    /// Whether the connection should stay open after the response.
    pub(crate) fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.version_minor == 0 {
            conn.contains("keep-alive")
        } else {
            !conn.contains("close")
        }
    }
}

/// Why reading a request failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection cleanly between requests.
    Closed,
    /// Socket error (including timeouts).
    Io(io::Error),
    /// The request was malformed; the message says how.
    Bad(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads one request. `buf` carries bytes read past the previous request (pipelining).
pub(crate) fn read_request<S: Read>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Request, ReadError> {
    let mut chunk = [0u8; 8192];
    // Read the head.
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad("request head too large"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() {
                Err(ReadError::Closed)
            } else {
                Err(ReadError::Bad("connection closed mid-request"))
            };
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    };
    let head = buf.get(..head_end.saturating_sub(4)).unwrap_or(&[]);
    let (method, target, version_minor, headers) = parse_head(head)?;
    buf.drain(..head_end);
    let find_header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let chunked = find_header("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let body = if chunked {
        read_chunked(stream, buf)?
    } else {
        let len = match find_header("content-length") {
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| ReadError::Bad("invalid content-length"))?,
            None => 0,
        };
        if len > MAX_BODY {
            return Err(ReadError::Bad("request body too large"));
        }
        while buf.len() < len {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(ReadError::Bad("connection closed mid-body"));
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        }
        buf.drain(..len).collect()
    };
    Ok(Request {
        method,
        target,
        version_minor,
        headers,
        body,
    })
}

fn read_more<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk)?;
    if n == 0 {
        return Err(ReadError::Bad("connection closed mid-body"));
    }
    buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    Ok(())
}

fn read_chunked<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(p) = find(buf, b"\r\n") {
                break p;
            }
            if buf.len() > 1024 {
                return Err(ReadError::Bad("chunk size line too long"));
            }
            read_more(stream, buf)?;
        };
        let line = String::from_utf8_lossy(buf.get(..line_end).unwrap_or(&[])).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Bad("invalid chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Skip trailers up to the empty line.
            loop {
                if let Some(p) = find(buf, b"\r\n") {
                    buf.drain(..p + 2);
                    if p == 0 {
                        return Ok(body);
                    }
                } else {
                    read_more(stream, buf)?;
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad("request body too large"));
        }
        while buf.len() < size + 2 {
            read_more(stream, buf)?;
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

type Head = (String, String, u8, Vec<(String, String)>);

/// Parses the request line and the header lines (without the final CRLFCRLF).
fn parse_head(head: &[u8]) -> Result<Head, ReadError> {
    let text =
        std::str::from_utf8(head).map_err(|_| ReadError::Bad("request head is not utf-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let version = parts.next().unwrap_or("");
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || target.is_empty()
    {
        return Err(ReadError::Bad("malformed request line"));
    }
    let version_minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err(ReadError::Bad("unsupported http version")),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or(ReadError::Bad("malformed header line"))?;
        if k.is_empty() || k.contains(' ') {
            return Err(ReadError::Bad("malformed header name"));
        }
        headers.push((k.to_string(), v.trim().to_string()));
        if headers.len() > 100 {
            return Err(ReadError::Bad("too many headers"));
        }
    }
    Ok((
        method.to_string(),
        target.to_string(),
        version_minor,
        headers,
    ))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP response to write.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response with Slack's content type.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: value.to_string().into_bytes(),
        }
    }

    /// A plain-text response.
    pub(crate) fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The reason phrase for a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Writes a response with a Content-Length.
pub(crate) fn write_response<S: Write>(
    stream: &mut S,
    resp: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(resp.body.len() + 256);
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (k, v) in &resp.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&resp.body);
    stream.write_all(&out)?;
    stream.flush()
}

/// The stream of a connection in its HTTP phase.
pub(crate) enum HttpStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for HttpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            HttpStream::Plain(s) => s.read(buf),
            HttpStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for HttpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            HttpStream::Plain(s) => s.write(buf),
            HttpStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            HttpStream::Plain(s) => s.flush(),
            HttpStream::Tls(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_requests_and_chunked_bodies() {
        let raw = b"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /b?q=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n2\r\n12\r\n0\r\n\r\n";
        let mut s = &raw[..];
        let mut buf = Vec::new();
        let r = read_request(&mut s, &mut buf).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, b"abc");
        assert!(r.keep_alive());
        let r2 = read_request(&mut s, &mut buf).unwrap();
        assert_eq!(r2.path(), "/b");
        assert_eq!(r2.query(), "q=1");
        assert_eq!(r2.body, b"xyz12");
        assert!(matches!(
            read_request(&mut s, &mut buf),
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn rejects_garbage() {
        let mut s = &b"\x00\x01garbage\r\n\r\n"[..];
        assert!(matches!(
            read_request(&mut s, &mut Vec::new()),
            Err(ReadError::Bad(_))
        ));
        let mut s = &b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"[..];
        assert!(matches!(
            read_request(&mut s, &mut Vec::new()),
            Err(ReadError::Bad(_))
        ));
    }
}
