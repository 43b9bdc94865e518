//! `ws://` and `wss://` URLs (RFC 6455 §3): where a client connects and what it asks for.

use std::fmt;
use std::net::Ipv6Addr;

use super::HandshakeError;

/// A parsed WebSocket URL: `ws[s]://host[:port][/path][?query]`.
///
/// ```
/// # use rustchat_ws::handshake::WsUrl;
/// let url = WsUrl::parse("wss://[::1]:9443/chat?room=rust")?;
/// assert_eq!((url.host(), url.port(), url.is_secure()), ("::1", 9443, true));
/// assert_eq!(url.path(), "/chat?room=rust");
/// # Ok::<(), rustchat_ws::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss`: the adapter must run TLS before the handshake (RFC 6455 §4.1).
    secure: bool,
    /// A name or an IPv4 address, or an IPv6 address without its brackets.
    host: String,
    /// As given, or the scheme's default: 80 for `ws`, 443 for `wss` (RFC 6455 §3).
    port: u16,
    /// RFC 6455 §3 /resource name/: path (at least `/`) and `?query`, for the request line.
    resource: String,
}

impl WsUrl {
    /// Parses `url` (surrounding whitespace ignored).
    pub fn parse(url: &str) -> Result<WsUrl, HandshakeError> {
        let fail = |reason: &str| HandshakeError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let text = url.trim();
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            fail("expected `ws://host[:port][/path]` or `wss://…` (no `://` found)")
        })?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(fail(&format!(
                "scheme `{scheme}` is not `ws` or `wss` (use `ws` for http, `wss` for https)"
            )));
        };
        // RFC 6455 §3: "Fragment identifiers ... MUST NOT be used on these URIs", and "#" when
        // not a fragment "MUST be escaped as %23".
        if rest.contains('#') {
            return Err(fail(
                "a WebSocket URL has no #fragment; write a literal # as %23",
            ));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let (host, port) = parse_authority(authority).map_err(|reason| fail(&reason))?;
        let resource = parse_resource(tail).map_err(fail)?;
        let port = port.unwrap_or(if secure { 443 } else { 80 });
        Ok(WsUrl {
            secure,
            host,
            port,
            resource,
        })
    }

    /// Whether this is `wss`: connect with TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to: a name, an IPv4 address, or an IPv6 address without brackets
    /// (ready for `(host, port)` socket address lookup).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to (80 for `ws`, 443 for `wss` unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The resource name for the request line: the path (at least `/`) and `?query`.
    pub fn path(&self) -> &str {
        &self.resource
    }

    /// The `Host` header value. RFC 6455 §4.1: "The request MUST contain a |Host| header field
    /// whose value contains /host/ plus optionally ":" followed by /port/ (when not using the
    /// default port)."
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn default_port(&self) -> u16 {
        if self.secure { 443 } else { 80 }
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.resource)
    }
}

/// `host[:port]` or `[v6]` `[:port]` → (host, port if given).
fn parse_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    if authority.contains('@') {
        return Err("user info (`user@`) is not supported in a WebSocket URL".into());
    }
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 address opened with `[` must be closed with `]`")?;
        if literal.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`[{literal}]` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected `:port` after `]`")
                    .and_then(port)?,
            ),
        };
        return Ok((literal.to_owned(), port));
    }
    if authority.matches(':').count() > 1 {
        return Err("an IPv6 address must be written in brackets: `ws://[::1]:port/`".into());
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, p)) => (host, Some(port(p)?)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err("the host is missing: expected `ws://host[:port]/path`".into());
    }
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if !host.bytes().all(ok) {
        return Err(format!(
            "host `{host}` may hold only letters, digits, `-`, `.`, `_` and `~` \
             (IPv6 goes in brackets, international names in punycode `xn--…`)"
        ));
    }
    Ok((host.to_owned(), port))
}

/// The digits after `:`, a port from 1 to 65535.
fn port(digits: &str) -> Result<u16, &'static str> {
    const EXPECTED: &str = "the port must be a number from 1 to 65535";
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED);
    }
    match digits.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(EXPECTED),
    }
}

/// `/path?query` (either part may be missing) → the resource name, at least `/`.
fn parse_resource(tail: &str) -> Result<String, &'static str> {
    // Visible ASCII only: anything else would break the request line or needs %-encoding.
    if !tail.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("spaces, control and non-ASCII characters in the path must be %-encoded");
    }
    Ok(match tail.as_bytes().first() {
        None => "/".to_owned(),
        Some(b'?') => format!("/{tail}"),
        Some(_) => tail.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (bool, String, u16, String) {
        let u = WsUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (
            u.is_secure(),
            u.host().to_owned(),
            u.port(),
            u.path().to_owned(),
        )
    }

    fn reason(url: &str) -> String {
        match WsUrl::parse(url) {
            Err(HandshakeError::InvalidUrl { reason, .. }) => reason,
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_explicit_parts() {
        let own = |s: bool, h: &str, p: u16, r: &str| (s, h.to_owned(), p, r.to_owned());
        assert_eq!(
            parts("ws://example.com"),
            own(false, "example.com", 80, "/")
        );
        assert_eq!(
            parts("wss://example.com"),
            own(true, "example.com", 443, "/")
        );
        assert_eq!(parts("ws://h:8080/chat"), own(false, "h", 8080, "/chat"));
        assert_eq!(
            parts("WSS://h/a/b?x=1&y"),
            own(true, "h", 443, "/a/b?x=1&y")
        );
        assert_eq!(parts("ws://h?x=1"), own(false, "h", 80, "/?x=1"));
        assert_eq!(
            parts("  ws://127.0.0.1:9000/  "),
            own(false, "127.0.0.1", 9000, "/")
        );
        assert_eq!(parts("ws://[::1]/"), own(false, "::1", 80, "/"));
        assert_eq!(
            parts("wss://[2001:db8::7]:8443/c"),
            own(true, "2001:db8::7", 8443, "/c")
        );
    }

    #[test]
    fn host_header_carries_the_port_only_when_not_default() {
        let header = |url: &str| WsUrl::parse(url).map(|u| u.host_header()).ok();
        assert_eq!(header("ws://h:80/").as_deref(), Some("h"));
        assert_eq!(header("wss://h:443/").as_deref(), Some("h"));
        assert_eq!(header("ws://h:443/").as_deref(), Some("h:443"));
        assert_eq!(header("ws://[::1]:8080").as_deref(), Some("[::1]:8080"));
        assert_eq!(header("wss://[::1]").as_deref(), Some("[::1]"));
        let url = WsUrl::parse("ws://[::1]:8080?q")
            .map(|u| u.to_string())
            .ok();
        assert_eq!(url.as_deref(), Some("ws://[::1]:8080/?q"));
    }

    #[test]
    fn errors_say_what_is_expected() {
        assert!(reason("http://h/").contains("scheme `http` is not `ws` or `wss`"));
        assert!(reason("example.com/chat").contains("no `://`"));
        assert!(reason("ws:///chat").contains("host is missing"));
        assert!(reason("ws://").contains("host is missing"));
        assert!(reason("ws://h:/").contains("port must be a number"));
        assert!(reason("ws://h:0/").contains("port must be a number"));
        assert!(reason("ws://h:65536/").contains("port must be a number"));
        assert!(reason("ws://h:8o/").contains("port must be a number"));
        assert!(reason("ws://h:+80/").contains("port must be a number"));
        assert!(reason("ws://h/#top").contains("%23"));
        assert!(reason("ws://user:pw@h/").contains("user info"));
        assert!(reason("ws://[::1/").contains("closed with `]`"));
        assert!(reason("ws://[zz::1]/").contains("not an IPv6 address"));
        assert!(reason("ws://[::1]x/").contains("`:port` after `]`"));
        assert!(reason("ws://::1/").contains("in brackets"));
        assert!(reason("ws://ex ample/").contains("only letters"));
        assert!(reason("ws://bücher.de/").contains("punycode"));
        assert!(reason("ws://h/a b").contains("%-encoded"));
        assert!(reason("ws://h/\r\nX: y").contains("%-encoded"));
    }
}
