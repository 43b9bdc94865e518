//! The transport: a [`Target`] → a connected socket that sends typed lines and yields
//! [`Incoming`] items.
//!
//! Data path: typed line → [`Transport::send_line`] → a `\n`-terminated line (TCP), a
//! `{"type":"command","line":…}` text frame (WebSocket JSON) or a text frame holding the line
//! (WebSocket, if the server did not agree to JSON) → socket. Socket bytes →
//! [`Transport::recv`] → `Incoming::Event` (JSON) or `Incoming::Line` (lines).
//!
//! [`Transport::recv`] is cancel-safe on both transports: bytes read so far live in the
//! transport (the TCP read buffer, the WebSocket connection), not in the future, so it can sit
//! in a `tokio::select!` next to the keyboard.

use std::io;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustchat_proto::{LineCodec, LineError, ServerEvent};
use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{CloseCode, CloseFrame, Config, DeflateConfig, Event, Message, StreamError};
use std::pin::Pin;
use std::task::{Context, Poll};
use thiserror::Error;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::Target;
use crate::tls::Trust;

/// The WebSocket subprotocol for JSON events (the server's `PROTOCOL_JSON`).
pub const JSON_PROTOCOL: &str = "rustchat.json";
/// Longest server line accepted over TCP: a 4 KiB message plus its prefix fits many times.
const MAX_SERVER_LINE: usize = 256 * 1024;
/// Largest WebSocket message accepted from the server (a history replay can be large).
const MAX_WS_MESSAGE: usize = 16 << 20;

/// Something the server sent, as the transport reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A structured event (WebSocket with JSON).
    Event(ServerEvent),
    /// A line of the line protocol, without its terminator (TCP, or WebSocket without JSON).
    Line(String),
    /// The answer to our ping arrived after this long (WebSocket only).
    Pong(Duration),
}

/// What the client can fail with. Messages name the address and say what to do.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {}", describe_io(error))]
    Connect { addr: String, error: io::Error },
    #[error("cannot connect to {addr}: no answer within {} s", timeout.as_secs_f32())]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("cannot connect to {addr}: the WebSocket handshake failed: {error}")]
    Handshake { addr: String, error: StreamError },
    #[error("cannot connect to {addr} with TLS: {detail}")]
    Tls { addr: String, detail: String },
    #[error("connection to {addr} lost: {detail}")]
    Lost { addr: String, detail: String },
    /// The terminal, standard input or standard output failed.
    #[error("local I/O failed")]
    Local(#[from] io::Error),
}

/// An I/O error as a person reads it, with a hint where there is one.
fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => {
            "connection refused — is rustchat serve running?".into()
        }
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        io::ErrorKind::NotFound => "no such host".into(),
        _ => error.to_string(),
    }
}

/// The wire format a transport speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Line protocol over TCP.
    TcpLines,
    /// WebSocket text frames holding JSON objects.
    WsJson,
    /// WebSocket text frames holding lines (the server refused JSON).
    WsLines,
}

/// A connected socket and what it needs to read and write its wire format.
#[derive(Debug)]
pub struct Transport {
    addr: String,
    link: Link,
}

#[derive(Debug)]
enum Link {
    Tcp {
        stream: Stream,
        /// Bytes read but not yet split into lines (kept here for cancel safety).
        buf: BytesMut,
        codec: LineCodec,
        eof: bool,
    },
    Ws {
        ws: Box<WebSocketStream<Stream>>,
        json: bool,
        /// When our unanswered ping went out.
        ping_sent: Option<Instant>,
    },
}

impl Transport {
    /// Connects (and for TLS and WebSocket runs their handshakes, checking the server's
    /// certificate as `trust` says) within `timeout`.
    pub async fn connect(
        target: &Target,
        timeout: Duration,
        trust: &Trust,
    ) -> Result<Self, ClientError> {
        let addr = target.addr();
        match tokio::time::timeout(timeout, Self::open(target, &addr, trust)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::ConnectTimeout { addr, timeout }),
        }
    }

    async fn open(target: &Target, addr: &str, trust: &Trust) -> Result<Self, ClientError> {
        let connect_error = |error| ClientError::Connect {
            addr: addr.to_owned(),
            error,
        };
        let (host, port) = match target {
            Target::Tcp { host, port, .. } => (host.as_str(), *port),
            Target::Ws(url) => (url.host(), url.port()),
        };
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(connect_error)?;
        let _ = tcp.set_nodelay(true);
        let stream = if target.is_tls() {
            let tls = trust
                .connect(tcp, host)
                .await
                .map_err(|detail| ClientError::Tls {
                    addr: addr.to_owned(),
                    detail,
                })?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        let link = match target {
            Target::Tcp { .. } => Link::Tcp {
                stream,
                buf: BytesMut::new(),
                codec: LineCodec::with_max_length(MAX_SERVER_LINE),
                eof: false,
            },
            Target::Ws(url) => {
                // permessage-deflate: the server compresses each event once for everyone.
                let deflate = DeflateConfig::enabled();
                let handshake = ClientHandshake::builder(url.to_string())
                    .protocols([JSON_PROTOCOL])
                    .deflate(deflate)
                    .build()
                    .map_err(|e| ClientError::Handshake {
                        addr: addr.to_owned(),
                        error: e.into(),
                    })?;
                let config = Config::default()
                    .max_frame_size(MAX_WS_MESSAGE)
                    .max_message_size(MAX_WS_MESSAGE)
                    .deflate(deflate);
                let (ws, response) = WebSocketStream::client(stream, &handshake, config)
                    .await
                    .map_err(|error| match error {
                        StreamError::Io(error) => connect_error(error),
                        error => ClientError::Handshake {
                            addr: addr.to_owned(),
                            error,
                        },
                    })?;
                Link::Ws {
                    ws: Box::new(ws),
                    json: response.protocol() == Some(JSON_PROTOCOL),
                    ping_sent: None,
                }
            }
        };
        Ok(Self {
            addr: addr.to_owned(),
            link,
        })
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The wire format in use.
    pub fn wire(&self) -> Wire {
        match &self.link {
            Link::Tcp { .. } => Wire::TcpLines,
            Link::Ws { json: true, .. } => Wire::WsJson,
            Link::Ws { json: false, .. } => Wire::WsLines,
        }
    }

    /// Sends one typed line (a message or a `/command`), as the wire format wants it.
    pub async fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        let result = match &mut self.link {
            Link::Tcp { stream, .. } => {
                let mut bytes = Vec::with_capacity(line.len() + 1);
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
                stream.write_all(&bytes).await.map_err(StreamError::from)
            }
            Link::Ws { ws, json, .. } => {
                let frame = if *json {
                    let line = serde_json::Value::from(line);
                    format!(r#"{{"type":"command","line":{line}}}"#)
                } else {
                    line.to_owned()
                };
                ws.send(Message::from(frame)).await
            }
        };
        result.map_err(|e| self.lost(e))
    }

    /// Sends a WebSocket ping to measure the round trip (a no-op over TCP).
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        let Link::Ws { ws, ping_sent, .. } = &mut self.link else {
            return Ok(());
        };
        if ping_sent.is_some() {
            return Ok(()); // one at a time: the answer tells the round trip of that one
        }
        *ping_sent = Some(Instant::now());
        let result = ws.ping(&b"rtt"[..]).await;
        result.map_err(|e| self.lost(e))
    }

    /// The next item from the server; `Ok(None)` once the server closed. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<Incoming>, ClientError> {
        let result = match &mut self.link {
            Link::Tcp {
                stream,
                buf,
                codec,
                eof,
            } => recv_line(stream, buf, codec, eof).await,
            Link::Ws {
                ws,
                json,
                ping_sent,
            } => recv_ws(ws, *json, ping_sent).await,
        };
        result.map_err(|e| self.lost(e))
    }

    /// Closes politely: a WebSocket close handshake, or a TCP shutdown; errors are ignored.
    pub async fn close(mut self) {
        match &mut self.link {
            Link::Tcp { stream, .. } => {
                let _ = stream.shutdown().await;
            }
            Link::Ws { ws, .. } => {
                let frame = CloseFrame::new(CloseCode::NORMAL, "bye");
                if ws.close(Some(frame)).await.is_ok() {
                    let drain = async { while let Ok(Some(_)) = ws.recv().await {} };
                    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
                }
            }
        }
    }

    fn lost(&self, error: StreamError) -> ClientError {
        let detail = match error {
            StreamError::Io(e) => describe_io(&e),
            other => other.to_string(),
        };
        ClientError::Lost {
            addr: self.addr.clone(),
            detail,
        }
    }
}

async fn recv_line(
    stream: &mut Stream,
    buf: &mut BytesMut,
    codec: &mut LineCodec,
    eof: &mut bool,
) -> Result<Option<Incoming>, StreamError> {
    loop {
        let decoded = if *eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match decoded {
            Ok(Some(line)) => return Ok(Some(Incoming::Line(line))),
            Ok(None) if *eof => return Ok(None),
            Ok(None) => {}
            Err(e @ (LineError::TooLong { .. } | LineError::InvalidUtf8 { .. })) => {
                return Ok(Some(Incoming::Line(format!(
                    "(rustchat connect: a server line was dropped: {e})"
                ))));
            }
        }
        buf.reserve(8 * 1024);
        if stream.read_buf(buf).await? == 0 {
            *eof = true;
        }
    }
}

async fn recv_ws(
    ws: &mut WebSocketStream<Stream>,
    json: bool,
    ping_sent: &mut Option<Instant>,
) -> Result<Option<Incoming>, StreamError> {
    loop {
        match ws.next_event().await? {
            Some(Event::Message(Message::Text(text))) if json => {
                // Unknown event types are skipped: later servers may add some (PROTOCOL.md).
                if let Ok(event) = ServerEvent::from_json(text.as_str()) {
                    return Ok(Some(Incoming::Event(event)));
                }
            }
            Some(Event::Message(Message::Text(text))) => {
                let line = text.as_str().strip_suffix('\n').unwrap_or(text.as_str());
                return Ok(Some(Incoming::Line(line.to_owned())));
            }
            Some(Event::Pong(_)) => {
                if let Some(sent) = ping_sent.take() {
                    return Ok(Some(Incoming::Pong(sent.elapsed())));
                }
            }
            Some(Event::Message(Message::Binary(_)) | Event::Ping(_)) => {}
            Some(Event::Close(_)) | None => return Ok(None),
        }
    }
}

/// The socket under a transport: TCP, or TLS over TCP.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
