//! Where to connect: a URL from the command line or `/connect` → [`Target`].
//!
//! | written | means |
//! | --- | --- |
//! | `ws://host:port/path` | WebSocket, JSON events (the default, `ws://127.0.0.1:8080/ws`) |
//! | `wss://host:port/path` | the same over TLS (port 443 unless given) |
//! | `tcp://host:port`, `host:port` | TCP, line protocol |
//! | `tls://host:port` | the line protocol over TLS |
//!
//! ```
//! use rustchat_client::Target;
//! let target: Target = "127.0.0.1:8080".parse()?;
//! assert_eq!(target.to_string(), "tcp://127.0.0.1:8080");
//! let secure: Target = "tls://chat.example:8080".parse()?;
//! assert!(secure.is_tls() && secure.is_lines());
//! let err = "http://chat.example/".parse::<Target>().unwrap_err();
//! assert!(err.to_string().contains("use ws://host:port/ws"));
//! # Ok::<(), rustchat_client::TargetError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use rustchat_ws::handshake::{HandshakeError, WsUrl};
use thiserror::Error;

/// The address `rustchat connect` uses when given none.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:8080/ws";

/// A server to connect to, and the wire format to speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The line protocol over TCP, or over TLS (`tls://`).
    Tcp {
        /// A name, an IPv4 address, or an IPv6 address without brackets.
        host: String,
        port: u16,
        /// Whether to speak TLS first.
        tls: bool,
    },
    /// WebSocket (JSON events when the server agrees to the `rustchat.json` subprotocol),
    /// over TLS for `wss://`.
    Ws(WsUrl),
}

/// A URL that names no server we can reach; each variant says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    #[error("no address given: expected ws://host:port/ws, tcp://host:port or host:port")]
    Empty,
    #[error(
        "`{url}`: unknown scheme `{scheme}`: use ws://host:port/ws or tcp://host:port (wss:// and tls:// over TLS)"
    )]
    UnknownScheme { url: String, scheme: String },
    #[error("`{url}`: {reason}")]
    InvalidWs { url: String, reason: String },
    #[error("`{url}`: {reason}: expected host:port, like 127.0.0.1:8080")]
    InvalidTcp { url: String, reason: &'static str },
}

impl Target {
    /// Parses a URL or `host:port` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let url = text.trim();
        if url.is_empty() {
            return Err(TargetError::Empty);
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return parse_tcp(url, url, false);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "tcp" => parse_tcp(url, rest, false),
            "tls" => parse_tcp(url, rest, true),
            "ws" | "wss" => WsUrl::parse(url)
                .map(Self::Ws)
                .map_err(|e| TargetError::InvalidWs {
                    url: url.to_owned(),
                    reason: match e {
                        HandshakeError::InvalidUrl { reason, .. } => reason,
                        other => other.to_string(),
                    },
                }),
            _ => Err(TargetError::UnknownScheme {
                url: url.to_owned(),
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// `host:port` (IPv6 in brackets), for messages such as "cannot connect to …".
    pub fn addr(&self) -> String {
        let (host, port) = match self {
            Self::Tcp { host, port, .. } => (host.as_str(), *port),
            Self::Ws(url) => (url.host(), url.port()),
        };
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    /// Whether this speaks the line protocol (over TCP or TLS).
    pub fn is_lines(&self) -> bool {
        matches!(self, Self::Tcp { .. })
    }

    /// Whether this connects with TLS (`wss://`, `tls://`).
    pub fn is_tls(&self) -> bool {
        match self {
            Self::Tcp { tls, .. } => *tls,
            Self::Ws(url) => url.is_secure(),
        }
    }
}

fn parse_tcp(url: &str, authority: &str, tls: bool) -> Result<Target, TargetError> {
    let fail = |reason| TargetError::InvalidTcp {
        url: url.to_owned(),
        reason,
    };
    if authority.contains(['/', '?', '#', '@']) {
        return Err(fail("a tcp address has no path, query or user"));
    }
    let (host, port) = authority.rsplit_once(':').ok_or(fail("missing :port"))?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .ok_or(fail("unclosed [ in an IPv6 address"))?,
        None if host.contains(':') => return Err(fail("an IPv6 address needs brackets")),
        None => host,
    };
    if host.is_empty() {
        return Err(fail("missing host"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(fail("the port must be a number from 1 to 65535")),
        Ok(port) => Ok(Target::Tcp {
            host: host.to_owned(),
            port,
            tls,
        }),
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Self, TargetError> {
        Self::parse(text)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { tls: false, .. } => write!(f, "tcp://{}", self.addr()),
            Self::Tcp { tls: true, .. } => write!(f, "tls://{}", self.addr()),
            Self::Ws(url) => write!(f, "{url}"),
        }
    }
}

impl Default for Target {
    fn default() -> Self {
        Self::parse(DEFAULT_URL).unwrap_or(Self::Tcp {
            host: "127.0.0.1".into(),
            port: 8080,
            tls: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Target {
        Target::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn tcp(host: &str, port: u16) -> Target {
        Target::Tcp {
            host: host.into(),
            port,
            tls: false,
        }
    }

    #[test]
    fn bare_and_tcp_addresses_are_the_line_protocol() {
        assert_eq!(parse("127.0.0.1:8080"), tcp("127.0.0.1", 8080));
        assert_eq!(parse(" tcp://localhost:7 "), tcp("localhost", 7));
        assert_eq!(parse("TCP://[::1]:8080"), tcp("::1", 8080));
        assert_eq!(parse("[::1]:9").to_string(), "tcp://[::1]:9");
        assert!(parse("example.org:1").is_lines());
    }

    #[test]
    fn ws_urls_keep_their_path() {
        let target = parse("ws://127.0.0.1:9000/ws");
        assert_eq!(target.to_string(), "ws://127.0.0.1:9000/ws");
        assert_eq!(target.addr(), "127.0.0.1:9000");
        assert!(!target.is_lines());
        assert_eq!(parse("ws://[::1]/").addr(), "[::1]:80");
        assert_eq!(Target::default().to_string(), DEFAULT_URL);
    }

    #[test]
    fn tls_urls_are_tls() {
        let wss = parse("wss://chat.example/ws");
        assert!(wss.is_tls() && !wss.is_lines());
        assert_eq!(wss.addr(), "chat.example:443");
        assert_eq!(wss.to_string(), "wss://chat.example/ws");
        let lines = parse("TLS://[::1]:8080");
        assert!(lines.is_tls() && lines.is_lines());
        assert_eq!(lines.to_string(), "tls://[::1]:8080");
        assert!(!parse("ws://a:1/").is_tls() && !parse("a:1").is_tls());
        assert!(matches!(
            Target::parse("tls://a:1/path"),
            Err(TargetError::InvalidTcp { .. })
        ));
    }

    #[test]
    fn bad_addresses_say_what_is_expected() {
        let message = |text: &str| Target::parse(text).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            message("localhost"),
            Err("`localhost`: missing :port: expected host:port, like 127.0.0.1:8080".into())
        );
        assert_eq!(
            message("http://x:1/"),
            Err(
                "`http://x:1/`: unknown scheme `http`: use ws://host:port/ws or tcp://host:port (wss:// and tls:// over TLS)"
                    .into()
            )
        );
        assert!(message("").is_err_and(|m| m.starts_with("no address given")));
        for bad in [
            "host:0",
            "host:99999",
            "host:http",
            ":80",
            "tcp://a:1/x",
            "::1:80",
            "[::1:80",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(TargetError::InvalidTcp { .. })),
                "{bad}"
            );
        }
        let ws = message("ws://a:b/");
        assert!(
            ws.as_ref().is_err_and(|m| m.starts_with("`ws://a:b/`: ")),
            "{ws:?}"
        );
        assert!(matches!(
            Target::parse("ws://x/#frag"),
            Err(TargetError::InvalidWs { .. })
        ));
    }
}
