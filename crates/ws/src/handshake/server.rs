//! Server side: request head bytes → [`Request`] → [`Upgrade`] → `101` bytes (or a refusal).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

use super::error::clip;
use super::{HandshakeError, HeadLimits, Headers, VERSION, accept_key, check_extra_header};

/// A parsed HTTP/1.x request head: any request, not only upgrades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …, as sent (methods are case-sensitive).
    method: String,
    /// The request target, as sent: usually origin-form, `/chat?room=rust`.
    path: String,
    /// Minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0 (httparse reads only HTTP/1.x).
    version: u8,
    headers: Headers,
}

impl Request {
    /// Parses a request head from the start of `buf`.
    ///
    /// Returns the request and the bytes it used (anything after them belongs to the peer's next
    /// bytes: a body, or WebSocket frames sent early), `Ok(None)` if the head is not complete yet,
    /// or an error if it is malformed or outgrows `limits`, even while incomplete.
    pub fn parse(
        buf: &[u8],
        limits: &HeadLimits,
    ) -> Result<Option<(Request, usize)>, HandshakeError> {
        let window = limits.window(buf);
        let mut table = limits.header_table(window);
        let mut req = httparse::Request::new(&mut table);
        let Some(used) = limits.verdict(req.parse(window), buf.len())? else {
            return Ok(None);
        };
        // Complete: httparse has filled every part of the request line.
        let request = Request {
            method: req.method.unwrap_or_default().to_owned(),
            path: req.path.unwrap_or_default().to_owned(),
            version: req.version.unwrap_or_default(),
            headers: Headers::from_httparse(req.headers),
        };
        Ok(Some((request, used)))
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target, e.g. `/chat?room=rust`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The minor HTTP version: `1` for HTTP/1.1.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// All header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive) if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The first value of header `name` (case-insensitive), as raw bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.get_bytes(name)
    }

    /// A cheap look at whether the client asks for a WebSocket (its `Upgrade` header holds the
    /// token `websocket`); [`upgrade`](Self::upgrade) does the full check.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.headers.has_token("Upgrade", "websocket")
    }

    /// Checks every rule of RFC 6455 §4.2.1 and returns what the application needs to decide.
    ///
    /// RFC 6455 §4.2.1: a request that does not match "MUST stop processing the client's
    /// handshake and return an HTTP response with an appropriate error code (such as 400 Bad
    /// Request)": write [`HandshakeError::response`] and close.
    pub fn upgrade(&self) -> Result<Upgrade, HandshakeError> {
        // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        if self.method != "GET" {
            return Err(HandshakeError::NotGet {
                method: clip(&self.method, 32),
            });
        }
        if self.version < 1 {
            return Err(HandshakeError::BadHttpVersion {
                minor: self.version,
            });
        }
        // §4.2.1 item 2: "A |Host| header field containing the server's authority".
        // RFC 9110 §7.2: more than one Host is a 400 as well.
        let host = self.headers.single("Host")?.filter(|h| !h.is_empty());
        let host = String::from_utf8_lossy(host.ok_or(HandshakeError::MissingHost)?).into_owned();
        // §4.2.1 item 3: "An |Upgrade| header field containing the value "websocket", treated
        // as an ASCII case-insensitive value."
        if !self.is_websocket_upgrade() {
            return Err(HandshakeError::NoUpgradeHeader);
        }
        // §4.2.1 item 4: "A |Connection| header field that includes the token "Upgrade",
        // treated as an ASCII case-insensitive value."
        if !self.headers.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::NoConnectionUpgrade);
        }
        self.check_version()?;
        let key = self.key()?;
        Ok(Upgrade {
            key,
            host,
            path: self.path.clone(),
            origin: self
                .headers
                .get_bytes("Origin")
                .map(|o| String::from_utf8_lossy(o).into()),
            protocols: self
                .headers
                .list("Sec-WebSocket-Protocol")
                .map(str::to_owned)
                .collect(),
            extensions: self
                .headers
                .list("Sec-WebSocket-Extensions")
                .map(str::to_owned)
                .collect(),
        })
    }

    /// §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value of 13." §11.3.5: it
    /// "MUST NOT appear more than once in an HTTP request".
    fn check_version(&self) -> Result<(), HandshakeError> {
        let version = self.headers.single("Sec-WebSocket-Version")?;
        if version == Some(VERSION.as_bytes()) {
            return Ok(());
        }
        let found = version.map(|v| clip(&String::from_utf8_lossy(v), 64));
        Err(HandshakeError::UnsupportedVersion { found })
    }

    /// §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when
    /// decoded, is 16 bytes in length." §11.3.1: it "MUST NOT appear more than once".
    fn key(&self) -> Result<String, HandshakeError> {
        let key = self
            .headers
            .single("Sec-WebSocket-Key")?
            .ok_or(HandshakeError::MissingKey)?;
        let invalid = |reason: String| HandshakeError::InvalidKey { reason };
        let decoded = BASE64
            .decode(key)
            .map_err(|e| invalid(format!("not base64: {e}")))?;
        if decoded.len() != 16 {
            return Err(invalid(format!("it decodes to {} bytes", decoded.len())));
        }
        // Base64 text is ASCII, so this cannot fail; keep the key exactly as sent.
        String::from_utf8(key.to_vec()).map_err(|_| invalid("not ASCII".into()))
    }
}

/// A valid upgrade request, waiting for the application to accept or refuse it.
///
/// Refuse with [`HandshakeError::Forbidden`] (say, for an unknown [`origin`](Self::origin)) and
/// write its [`response`](HandshakeError::response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key` as sent, trimmed: the accept value hashes this text.
    key: String,
    host: String,
    path: String,
    /// Browsers always send it (RFC 6455 §4.1); the server decides whether to trust it (§10.2).
    origin: Option<String>,
    /// Offered subprotocols, in the client's order of preference.
    protocols: Vec<String>,
    /// Offered extensions, one raw element each (`permessage-deflate; client_max_window_bits`).
    extensions: Vec<String>,
}

impl Upgrade {
    /// The `Sec-WebSocket-Key` the client sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Host` header the client sent.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The request target, e.g. `/chat?room=rust`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Origin` header, if any: the page that opened the connection, for the application to
    /// allow or refuse (RFC 6455 §4.2.2 step 4: refuse with "an appropriate HTTP error code (e.g.,
    /// 403 Forbidden)"). Not-UTF-8 bytes are replaced, so such an origin matches no allowed one.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The subprotocols offered, in the client's order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.protocols.iter().map(String::as_str)
    }

    /// The extension offers, raw (one comma-separated element each, parameters included).
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.extensions.iter().map(String::as_str)
    }

    /// The permessage-deflate offer this server takes, if `config` enables it and one of the
    /// client's offers can be honoured: answer with its `response` as
    /// `Sec-WebSocket-Extensions` ([`Upgrade::accept_with`]) and build the connection with its
    /// `params` ([`crate::Connection::with_deflate`]).
    pub fn negotiate_deflate(
        &self,
        config: &crate::DeflateConfig,
    ) -> Option<crate::deflate::Agreement> {
        crate::deflate::negotiate(config, self.extensions())
    }

    /// [`Upgrade::accept`] with permessage-deflate negotiated per `config`: the `101` (with
    /// `Sec-WebSocket-Extensions` when an offer was taken) and the parameters to build the
    /// connection with ([`crate::Connection::with_deflate`]).
    pub fn accept_negotiated(
        &self,
        protocol: Option<&str>,
        config: &crate::DeflateConfig,
    ) -> Result<(Bytes, Option<crate::DeflateParams>), HandshakeError> {
        let agreement = self.negotiate_deflate(config);
        let extensions = agreement
            .as_ref()
            .map(|a| ("Sec-WebSocket-Extensions", a.response.as_str()));
        let response = self.accept_with(protocol, extensions.as_slice())?;
        Ok((response, agreement.map(|a| a.params)))
    }

    /// The `101 Switching Protocols` response accepting this upgrade, with `protocol` chosen from
    /// [`protocols`](Self::protocols) (or none).
    pub fn accept(&self, protocol: Option<&str>) -> Result<Bytes, HandshakeError> {
        self.accept_with(protocol, &[])
    }

    /// Like [`accept`](Self::accept), adding `extra_headers` (e.g. `Sec-WebSocket-Extensions`
    /// once extensions are negotiated). Headers the handshake writes itself are refused.
    pub fn accept_with(
        &self,
        protocol: Option<&str>,
        extra_headers: &[(&str, &str)],
    ) -> Result<Bytes, HandshakeError> {
        // §4.2.2 step 4, /subprotocol/: "The value chosen MUST be derived from the client's
        // handshake, specifically by selecting one of the values from the
        // |Sec-WebSocket-Protocol| field".
        if let Some(chosen) = protocol.filter(|p| !self.protocols.iter().any(|o| o == p)) {
            let offered = self.protocols.join(", ");
            return Err(HandshakeError::ProtocolNotOffered {
                protocol: chosen.into(),
                offered,
            });
        }
        const RESERVED: &[&str] = &[
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Protocol",
        ];
        for (name, value) in extra_headers {
            check_extra_header(name, value, RESERVED)?;
        }
        // §4.2.2 step 5: "a valid HTTP response" with a 101 status line, "Upgrade" with value
        // "websocket", "Connection" with value "Upgrade" and the Sec-WebSocket-Accept value.
        let mut out = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        super::push_header(&mut out, "Upgrade", b"websocket");
        super::push_header(&mut out, "Connection", b"Upgrade");
        super::push_header(
            &mut out,
            "Sec-WebSocket-Accept",
            accept_key(self.key.as_bytes()).as_bytes(),
        );
        if let Some(protocol) = protocol {
            super::push_header(&mut out, "Sec-WebSocket-Protocol", protocol.as_bytes());
        }
        for (name, value) in extra_headers {
            super::push_header(&mut out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(out.into())
    }
}
