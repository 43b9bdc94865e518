//! Client side: URL → request bytes; response head bytes → checked [`Response`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

use super::error::clip;
use super::{HandshakeError, HeadLimits, Headers, VERSION, WsUrl, accept_key, check_extra_header};
use super::{is_token, push_header};
use crate::deflate::{DeflateConfig, DeflateParams, check_response, offer};

/// Headers the client handshake writes itself; extensions are reserved until we negotiate them.
const RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];

/// How much of a refusal's body [`HandshakeError::UnexpectedStatus`] looks at.
const BODY_PREFIX: usize = 1024;
/// How many characters of its first line it keeps.
const BODY_LINE: usize = 200;

/// Builds a [`ClientHandshake`]; errors are reported by [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    /// `None`: draw one from the operating system's CSPRNG at `build`.
    nonce: Option<[u8; 16]>,
    limits: HeadLimits,
    deflate: DeflateConfig,
}

impl ClientBuilder {
    /// Offers these subprotocols, most preferred first (`Sec-WebSocket-Protocol`).
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols.extend(protocols.into_iter().map(Into::into));
        self
    }

    /// Adds a header to the request, e.g. `Origin` (browsers MUST send it, RFC 6455 §4.1; other
    /// clients may), `Authorization` or `Cookie`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Uses this nonce instead of a random one: for tests and test vectors only, since RFC 6455
    /// §4.1 says "The nonce MUST be selected randomly for each connection."
    pub fn nonce(mut self, nonce: [u8; 16]) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Limits for reading the server's response head.
    pub fn limits(mut self, limits: HeadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Offers permessage-deflate (RFC 7692) with these settings, if they are enabled; the
    /// server's choice is in [`Response::deflate`].
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        self.deflate = config;
        self
    }

    /// Checks the URL, subprotocols and headers, and draws the key.
    pub fn build(self) -> Result<ClientHandshake, HandshakeError> {
        let url = WsUrl::parse(&self.url)?;
        check_protocols(&self.protocols)?;
        for (name, value) in &self.headers {
            check_extra_header(name, value, RESERVED)?;
        }
        let nonce = match self.nonce {
            Some(nonce) => nonce,
            None => random_nonce()?,
        };
        let key = BASE64.encode(nonce);
        let accept = accept_key(key.as_bytes());
        let (protocols, headers, limits) = (self.protocols, self.headers, self.limits);
        Ok(ClientHandshake {
            url,
            key,
            accept,
            protocols,
            headers,
            limits,
            deflate: self.deflate,
        })
    }
}

/// RFC 6455 §4.1: the subprotocol elements "MUST be non-empty strings with characters in the
/// range U+0021 to U+007E not including separator characters ... and MUST all be unique".
fn check_protocols(protocols: &[String]) -> Result<(), HandshakeError> {
    for (i, name) in protocols.iter().enumerate() {
        let bad = |reason| {
            Err(HandshakeError::InvalidProtocolName {
                name: name.clone(),
                reason,
            })
        };
        if !is_token(name) {
            return bad("it must be non-empty visible ASCII without separators like `,` or ` `");
        }
        if protocols.iter().take(i).any(|earlier| earlier == name) {
            return bad("it is offered twice; each subprotocol may be offered once");
        }
    }
    Ok(())
}

/// RFC 6455 §4.1: the key is "a randomly selected 16-byte value" (§10.3: from a strong source).
fn random_nonce() -> Result<[u8; 16], HandshakeError> {
    let mut nonce = [0; 16];
    getrandom::fill(&mut nonce).map_err(|e| HandshakeError::Random(e.to_string()))?;
    Ok(nonce)
}

/// The client's half of the opening handshake: the request to send and the check of the answer.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    url: WsUrl,
    /// `Sec-WebSocket-Key`: base64 of the 16-byte nonce.
    key: String,
    /// The `Sec-WebSocket-Accept` the server must send back for `key`.
    accept: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    limits: HeadLimits,
    /// What we offer of permessage-deflate (nothing unless enabled).
    deflate: DeflateConfig,
}

impl ClientHandshake {
    /// A handshake for `url` with a random key, no subprotocol and no extra header.
    pub fn new(url: &str) -> Result<Self, HandshakeError> {
        Self::builder(url).build()
    }

    /// Starts a handshake for `url` with subprotocols, headers or limits.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            protocols: Vec::new(),
            headers: Vec::new(),
            nonce: None,
            limits: HeadLimits::default(),
            deflate: DeflateConfig::default(),
        }
    }

    /// The parsed URL.
    pub fn url(&self) -> &WsUrl {
        &self.url
    }

    /// The host to connect to (IPv6 without brackets).
    pub fn host(&self) -> &str {
        self.url.host()
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.url.port()
    }

    /// Whether to connect with TLS (`wss`).
    pub fn is_secure(&self) -> bool {
        self.url.is_secure()
    }

    /// The resource name requested: path and query.
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The request head to write, once, before anything else.
    pub fn request(&self) -> Bytes {
        // RFC 6455 §4.1: "The method of the request MUST be GET, and the HTTP version MUST be at
        // least 1.1", with the /resource name/ as Request-URI.
        let mut out = format!("GET {} HTTP/1.1\r\n", self.url.path()).into_bytes();
        // §4.1: Host, "Upgrade" with "websocket", "Connection" with "Upgrade", the key and
        // "|Sec-WebSocket-Version|. The value of this header field MUST be 13."
        push_header(&mut out, "Host", self.url.host_header().as_bytes());
        push_header(&mut out, "Upgrade", b"websocket");
        push_header(&mut out, "Connection", b"Upgrade");
        push_header(&mut out, "Sec-WebSocket-Key", self.key.as_bytes());
        push_header(&mut out, "Sec-WebSocket-Version", VERSION.as_bytes());
        if !self.protocols.is_empty() {
            push_header(
                &mut out,
                "Sec-WebSocket-Protocol",
                self.protocols.join(", ").as_bytes(),
            );
        }
        if self.deflate.enabled {
            push_header(
                &mut out,
                "Sec-WebSocket-Extensions",
                offer(&self.deflate).as_bytes(),
            );
        }
        for (name, value) in &self.headers {
            push_header(&mut out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.into()
    }

    /// Reads the server's response head from the start of `buf` and checks it (RFC 6455 §4.1).
    ///
    /// Returns the response and the bytes it used (what follows is already WebSocket frames),
    /// `Ok(None)` if the head is not complete yet, or an error: the connection must then be
    /// failed. A status other than 101 gives [`HandshakeError::UnexpectedStatus`] with the body's
    /// start, as far as it is in `buf`, to show to the user.
    pub fn parse_response(&self, buf: &[u8]) -> Result<Option<(Response, usize)>, HandshakeError> {
        let window = self.limits.window(buf);
        let mut table = self.limits.header_table(window);
        let mut parsed = httparse::Response::new(&mut table);
        let Some(used) = self.limits.verdict(parsed.parse(window), buf.len())? else {
            return Ok(None);
        };
        let status = parsed.code.unwrap_or_default();
        let reason = parsed.reason.unwrap_or_default();
        let minor = parsed.version.unwrap_or_default();
        let headers = Headers::from_httparse(parsed.headers);
        // §4.1: "If the status code received from the server is not 101, the client handles the
        // response per HTTP procedures" — for us, the handshake failed: report what was said.
        if status != 101 {
            let body = body_prefix(buf.get(used..).unwrap_or_default(), &headers);
            let reason = clip(reason, 128);
            return Err(HandshakeError::UnexpectedStatus {
                status,
                reason,
                body,
            });
        }
        if minor < 1 {
            return Err(HandshakeError::BadHttpVersion { minor });
        }
        let (protocol, deflate) = self.check(&headers)?;
        let response = Response {
            headers,
            protocol,
            deflate,
        };
        Ok(Some((response, used)))
    }

    /// The checks of RFC 6455 §4.1 on a 101 response; returns the chosen subprotocol and the
    /// permessage-deflate parameters, if the server took our offer.
    fn check(
        &self,
        headers: &Headers,
    ) -> Result<(Option<String>, Option<DeflateParams>), HandshakeError> {
        // §4.1 (2): an |Upgrade| "value that is not an ASCII case-insensitive match for the value
        // "websocket"" and the client "MUST _Fail the WebSocket Connection_".
        let mut upgrade = headers.list("Upgrade");
        match (upgrade.next(), upgrade.next()) {
            (Some(only), None) if only.eq_ignore_ascii_case("websocket") => {}
            _ => return Err(HandshakeError::NoUpgradeHeader),
        }
        // §4.1 (3): a |Connection| without "a token that is an ASCII case-insensitive match for
        // the value "Upgrade"" MUST fail the connection.
        if !headers.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::NoConnectionUpgrade);
        }
        // §4.1 (4): an accept value other than base64(SHA-1(key + GUID)), "ignoring any leading
        // and trailing whitespace", MUST fail the connection. §11.3.3: at most once.
        let found = headers.single("Sec-WebSocket-Accept")?;
        if found != Some(self.accept.as_bytes()) {
            let found = found.map(|f| clip(&String::from_utf8_lossy(f), 64));
            return Err(HandshakeError::BadAccept {
                expected: self.accept.clone(),
                found,
            });
        }
        // §4.1 (5): an extension "that was not present in the client's handshake" MUST fail the
        // connection. We offer at most permessage-deflate.
        let extensions: Vec<&str> = headers.list("Sec-WebSocket-Extensions").collect();
        let deflate = if extensions.is_empty() {
            None
        } else if !self.deflate.enabled {
            let extensions = clip(&extensions.join(", "), 256);
            return Err(HandshakeError::UnrequestedExtension { extensions });
        } else {
            check_response(&self.deflate, &extensions).map_err(|reason| {
                HandshakeError::BadExtensionResponse {
                    extensions: clip(&extensions.join(", "), 256),
                    reason,
                }
            })?
        };
        Ok((self.check_protocol(headers)?, deflate))
    }

    /// §4.1 (6): a subprotocol "that was not present in the client's handshake" MUST fail the
    /// connection. §11.3.4: the header "MUST NOT appear more than once in an HTTP response".
    fn check_protocol(&self, headers: &Headers) -> Result<Option<String>, HandshakeError> {
        let Some(chosen) = headers.single("Sec-WebSocket-Protocol")? else {
            return Ok(None);
        };
        let chosen = String::from_utf8_lossy(chosen);
        if self.protocols.iter().any(|offered| *offered == chosen) {
            return Ok(Some(chosen.into_owned()));
        }
        let protocol = clip(&chosen, 64);
        Err(HandshakeError::UnofferedProtocol {
            protocol,
            offered: self.protocols.join(", "),
        })
    }
}

/// What of a refusal's body is worth showing a person, as far as it is in `rest` (up to
/// `Content-Length` and [`BODY_PREFIX`] bytes): its first line, at most [`BODY_LINE`]
/// characters (then `…`), control characters escaped — and nothing of an HTML page, which is
/// a web server's page, not an error message (a client pointed at the wrong path would print
/// the whole page).
fn body_prefix(rest: &[u8], headers: &Headers) -> String {
    let html = headers.get("Content-Type").is_some_and(|t| {
        t.trim_start()
            .get(..9)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    }) || rest.trim_ascii_start().starts_with(b"<");
    if html {
        return String::new();
    }
    let declared = headers
        .get("Content-Length")
        .and_then(|l| l.parse::<usize>().ok());
    let len = rest
        .len()
        .min(declared.unwrap_or(usize::MAX))
        .min(BODY_PREFIX);
    let text = String::from_utf8_lossy(rest.get(..len).unwrap_or_default());
    let line = text.lines().next().unwrap_or_default().trim_end();
    let mut shown = String::new();
    for (i, c) in line.chars().enumerate() {
        if i == BODY_LINE {
            shown.push('…');
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// A server's accepted `101 Switching Protocols` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    headers: Headers,
    /// The subprotocol the server chose, one of those offered.
    protocol: Option<String>,
    /// permessage-deflate, if we offered it and the server took it.
    deflate: Option<DeflateParams>,
}

impl Response {
    /// The subprotocol the server chose, if any (always one we offered).
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters the server chose, if it took our offer: give them to
    /// [`crate::Connection::with_deflate`] (the adapters do).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// All header fields of the response.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive) if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}
