//! Tokio adapter: a [`Connection`] driven over any `AsyncRead + AsyncWrite`.
//!
//! [`WebSocketStream::recv`] is cancel-safe: the bytes read so far, any half-written output and
//! an event taken while the replies it owes are written live in the stream, not in the future,
//! so dropping a `recv` inside `tokio::select!` loses nothing. [`WebSocketStream::split`] gives a reader and a writer that work from two
//! tasks; pongs the reader owes are written through the writer's lock.
//!
//! Reads go straight into the connection's buffer with room for the rest of the frame being
//! received ([`Connection::reserve_read`]), so a frame usually takes one read and is handed out
//! without a copy; a waiting connection keeps at most 32 KiB for it. Writes: a queue that is
//! one piece (a small frame, or a burst of them) goes out with a plain `write`; a large payload
//! goes out uncopied, in one vectored write with its header.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use rustchat_ws::Message;
//! use rustchat_ws::tokio::WebSocketStream;
//!
//! // An echo server: a task per connection.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(async move {
//!     while let Ok((tcp, _)) = listener.accept().await {
//!         tokio::spawn(async move {
//!             let mut ws = WebSocketStream::accept(tcp).await?;
//!             while let Some(message) = ws.recv().await? {
//!                 ws.send(message).await?;
//!             }
//!             Ok::<_, rustchat_ws::StreamError>(())
//!         });
//!     }
//! });
//!
//! // A client.
//! let (mut ws, _response) = WebSocketStream::connect(&url).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.recv().await?, Some(Message::text("hello")));
//! ws.close(None).await?;
//! assert_eq!(ws.recv().await?, None);
//! # Ok(())
//! # }
//! ```

use std::io::IoSlice;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::Config;
use crate::connection::{Connection, Event};
use crate::deflate::DeflateParams;
use crate::error::Error;
use crate::handshake::{ClientHandshake, Response};
use crate::handshake::{HandshakeError, HeadLimits};
use crate::handshake::{Request, Upgrade};
use crate::message::Message;
use crate::outbound::Outbound;
use crate::prepared::Prepared;
use crate::role::Role;
use crate::stream_error::{StreamError, message_or_end, refuse_tls};

/// How long a client waits for the server to close TCP after the closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What [`Connection::next_event`] gave: kept by a reader until the replies it owes (a pong, a
/// close answer) are written, so that a read cancelled during that write loses nothing.
type Taken = Result<Option<Event>, Error>;

/// A WebSocket over an async stream.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    io: S,
    conn: Connection,
    /// An event taken from the connection and not yet returned (see [`Taken`]).
    taken: Option<Taken>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Wraps a stream whose opening handshake is done; `leftover` holds bytes read past it.
    pub fn from_raw(io: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        Self::from_negotiated(io, role, config, None, leftover)
    }

    /// [`WebSocketStream::from_raw`] for a connection that negotiated permessage-deflate.
    pub fn from_negotiated(
        io: S,
        role: Role,
        config: Config,
        deflate: Option<DeflateParams>,
        leftover: &[u8],
    ) -> Self {
        let mut conn = Connection::with_deflate(role, config, deflate);
        conn.receive(leftover);
        Self {
            io,
            conn,
            taken: None,
        }
    }

    /// Runs the server handshake with default limits, any origin, no subprotocol.
    pub async fn accept(io: S) -> Result<Self, StreamError> {
        Self::accept_with(io, Config::default(), |_| Ok(None)).await
    }

    /// Runs the server handshake; `decide` checks the upgrade (origin, path) and picks a
    /// subprotocol, or refuses with an error that is sent to the client as an HTTP answer.
    pub async fn accept_with(
        mut io: S,
        config: Config,
        decide: impl FnOnce(&Upgrade) -> Result<Option<String>, HandshakeError>,
    ) -> Result<Self, StreamError> {
        let mut buf = BytesMut::new();
        let (request, used) = loop {
            match Request::parse(&buf, &HeadLimits::default()) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => read_more(&mut io, &mut buf).await?,
                Err(e) => return Err(refuse(&mut io, e).await),
            }
        };
        let answer = request.upgrade().and_then(|up| {
            let protocol = decide(&up)?;
            up.accept_negotiated(protocol.as_deref(), &config.deflate)
        });
        let deflate = match answer {
            Ok((response, deflate)) => {
                io.write_all(&response).await?;
                deflate
            }
            Err(e) => return Err(refuse(&mut io, e).await),
        };
        Ok(Self::from_negotiated(
            io,
            Role::Server,
            config,
            deflate,
            &buf[used..],
        ))
    }

    /// Runs the client handshake over `io`.
    pub async fn client(
        mut io: S,
        handshake: &ClientHandshake,
        config: Config,
    ) -> Result<(Self, Response), StreamError> {
        io.write_all(&handshake.request()).await?;
        let mut buf = BytesMut::new();
        loop {
            if let Some((response, used)) = handshake.parse_response(&buf)? {
                let deflate = response.deflate();
                let ws = Self::from_negotiated(io, Role::Client, config, deflate, &buf[used..]);
                return Ok((ws, response));
            }
            read_more(&mut io, &mut buf).await?;
        }
    }

    /// The next message; `Ok(None)` once the closing handshake is complete. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<Message>, StreamError> {
        loop {
            if let ControlFlow::Break(message) = message_or_end(self.next_event().await?) {
                return Ok(message);
            }
        }
    }

    /// The next event, reading as needed; owed replies are flushed first. Cancel-safe.
    pub async fn next_event(&mut self) -> Result<Option<Event>, StreamError> {
        loop {
            // Held in `taken` across the writes below: if this future is dropped during them,
            // the next call finishes them and returns the same event.
            let event = match &self.taken {
                Some(event) => event,
                None => self.taken.insert(self.conn.next_event()),
            };
            let ends = matches!(event, Ok(Some(Event::Close(_))) | Err(_));
            if !self.conn.outbound().is_empty() {
                write_out(&mut self.io, self.conn.outbound()).await?;
            }
            if ends {
                self.finish_close().await;
            }
            match self.taken.take() {
                Some(Ok(Some(event))) => return Ok(Some(event)),
                Some(Ok(None)) if self.conn.is_closed() => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(None)) | None => {}
            }
            // Room for the rest of the frame: a frame comes in one read and out without a copy.
            if self.io.read_buf(self.conn.reserve_read()).await? == 0 {
                return Err(StreamError::ConnectionLost);
            }
        }
    }

    /// Sends a message (queued, then written).
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), StreamError> {
        self.conn.send(message)?;
        self.flush().await
    }

    /// Sends a pre-encoded message (servers only): no per-connection encoding.
    pub async fn send_prepared(&mut self, prepared: &Prepared) -> Result<(), StreamError> {
        self.conn.send_prepared(prepared)?;
        self.flush().await
    }

    /// Sends a ping.
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), StreamError> {
        self.conn.ping(payload)?;
        self.flush().await
    }

    /// Starts the closing handshake; keep calling `recv` until `Ok(None)` for the answer.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), StreamError> {
        self.conn.close(frame)?;
        self.flush().await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), StreamError> {
        Ok(write_out(&mut self.io, self.conn.outbound()).await?)
    }

    /// The protocol state machine (for queueing several messages before one flush).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Splits into a reader and a writer for two tasks.
    pub fn split(self) -> (WsReader<S>, WsWriter<S>) {
        let (read, write) = ::tokio::io::split(self.io);
        let shared = Arc::new(Shared {
            conn: Mutex::new(self.conn),
            writer: ::tokio::sync::Mutex::new(Writer {
                io: write,
                sending: Outbound::default(),
            }),
        });
        (
            WsReader {
                io: read,
                reading: None,
                taken: self.taken,
                flushing: false,
                shared: shared.clone(),
            },
            WsWriter { shared },
        )
    }

    /// RFC 6455 §7.1.1: the server closes TCP first; the client waits a moment for it.
    async fn finish_close(&mut self) {
        let _ = write_out(&mut self.io, self.conn.outbound()).await;
        match self.conn.role() {
            Role::Server => {
                let _ = self.io.shutdown().await;
            }
            Role::Client => {
                let mut sink = [0u8; 1024];
                let wait = async { while self.io.read(&mut sink).await.is_ok_and(|n| n > 0) {} };
                let _ = ::tokio::time::timeout(CLOSE_WAIT, wait).await;
            }
        }
    }
}

impl WebSocketStream<::tokio::net::TcpStream> {
    /// Connects to a `ws://` URL and runs the client handshake.
    pub async fn connect(url: &str) -> Result<(Self, Response), StreamError> {
        Self::connect_with(&ClientHandshake::new(url)?, Config::default()).await
    }

    /// Connects with a prepared handshake (subprotocols, headers) and config.
    pub async fn connect_with(
        handshake: &ClientHandshake,
        config: Config,
    ) -> Result<(Self, Response), StreamError> {
        refuse_tls(handshake, "WebSocketStream::client")?;
        let tcp = ::tokio::net::TcpStream::connect((handshake.host(), handshake.port())).await?;
        tcp.set_nodelay(true)?;
        Self::client(tcp, handshake, config).await
    }
}

/// What the two halves share: the state machine (short, non-async critical sections) and the
/// write half (held across writes, so frames from both halves never interleave).
#[derive(Debug)]
struct Shared<S> {
    conn: Mutex<Connection>,
    writer: ::tokio::sync::Mutex<Writer<S>>,
}

/// The write half and the bytes being written: taken out of the connection under the writer
/// lock, kept here until written, so a flush that is dropped half-way leaves the rest for the
/// next one instead of losing it (and cutting a frame).
#[derive(Debug)]
struct Writer<S> {
    io: WriteHalf<S>,
    sending: Outbound,
}

impl<S> Shared<S> {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding this lock leaves no half-updated state we rely on.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: AsyncWrite> Shared<S> {
    /// Writes what the connection has queued, under the writer lock: first what an earlier,
    /// interrupted flush left, then what is queued now, so the order on the wire is queue
    /// order. Cancel-safe.
    async fn flush(&self) -> std::io::Result<()> {
        let mut guard = self.writer.lock().await;
        let writer = &mut *guard;
        loop {
            if writer.sending.is_empty() {
                writer.sending = std::mem::take(self.conn().outbound());
                if writer.sending.is_empty() {
                    return Ok(());
                }
            }
            write_out(&mut writer.io, &mut writer.sending).await?;
        }
    }
}

impl<S: AsyncWrite> Shared<S> {
    /// After the closing handshake a server closes TCP first (RFC 6455 §7.1.1); a client
    /// leaves that to the server.
    async fn close_transport(&self) {
        if self.conn().role() == Role::Server {
            let _ = self.writer.lock().await.io.shutdown().await;
        }
    }
}

/// The receiving half of a split [`WebSocketStream`].
#[derive(Debug)]
pub struct WsReader<S> {
    io: ReadHalf<S>,
    /// The connection's receive buffer, taken out while a read into it is pending (the lock
    /// is not held across the read). If the read is cancelled its bytes stay here; the next
    /// call gives the buffer back.
    reading: Option<BytesMut>,
    /// An event taken from the connection and not yet returned (see [`Taken`]).
    taken: Option<Taken>,
    /// A flush of owed replies was started and has not finished (it was dropped).
    flushing: bool,
    shared: Arc<Shared<S>>,
}

impl<S: AsyncRead + AsyncWrite> WsReader<S> {
    /// The next message; `Ok(None)` after the closing handshake. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<Message>, StreamError> {
        loop {
            if let ControlFlow::Break(message) = message_or_end(self.next_event().await?) {
                return Ok(message);
            }
        }
    }

    /// The next event. Owed pongs and close answers are written through the writer's lock.
    /// Cancel-safe, like [`WebSocketStream::next_event`].
    pub async fn next_event(&mut self) -> Result<Option<Event>, StreamError> {
        loop {
            let (owes, closed) = {
                let mut conn = self.shared.conn();
                if let Some(buf) = self.reading.take() {
                    *conn.read_buffer() = buf;
                }
                if self.taken.is_none() {
                    self.taken = Some(conn.next_event());
                }
                (!conn.outbound().is_empty(), conn.is_closed())
            };
            if owes || self.flushing {
                self.flushing = true;
                self.shared.flush().await?;
                self.flushing = false;
            }
            if closed {
                self.shared.close_transport().await;
            }
            match self.taken.take() {
                Some(Ok(Some(event))) => return Ok(Some(event)),
                Some(Ok(None)) if closed => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(None)) | None => {}
            }
            // Room for the rest of the frame, in the connection's own buffer: no copy.
            let buf = std::mem::take(self.shared.conn().reserve_read());
            if self.io.read_buf(self.reading.insert(buf)).await? == 0 {
                return Err(StreamError::ConnectionLost);
            }
        }
    }
}

/// The sending half of a split [`WebSocketStream`].
#[derive(Debug)]
pub struct WsWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S: AsyncWrite> WsWriter<S> {
    /// Sends a message.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), StreamError> {
        self.shared.conn().send(message)?;
        Ok(self.shared.flush().await?)
    }

    /// Sends a pre-encoded message (servers only).
    pub async fn send_prepared(&self, prepared: &Prepared) -> Result<(), StreamError> {
        self.shared.conn().send_prepared(prepared)?;
        Ok(self.shared.flush().await?)
    }

    /// Sends a ping.
    pub async fn ping(&self, payload: impl Into<Bytes>) -> Result<(), StreamError> {
        self.shared.conn().ping(payload)?;
        Ok(self.shared.flush().await?)
    }

    /// Starts the closing handshake; the reader sees the peer's answer.
    pub async fn close(&self, frame: Option<CloseFrame>) -> Result<(), StreamError> {
        self.shared.conn().close(frame)?;
        self.shared.flush().await?;
        if self.shared.conn().is_closed() {
            self.shared.close_transport().await;
        }
        Ok(())
    }
}

/// Writes all of `out`, several pieces with one vectored write. If cancelled, what was not
/// written stays in `out`.
async fn write_out<W: AsyncWrite + Unpin + ?Sized>(
    io: &mut W,
    out: &mut Outbound,
) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    while !out.is_empty() {
        let written = if out.is_contiguous() {
            // One piece (the usual small frame): a plain write, which the kernel handles with
            // less work than a vectored one.
            io.write(out.first_chunk()).await?
        } else {
            let mut slices = [IoSlice::new(&[]); 16];
            let count = out.io_slices(&mut slices);
            io.write_vectored(&slices[..count]).await?
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        out.advance(written);
    }
    io.flush().await
}

async fn read_more<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
) -> Result<(), StreamError> {
    buf.reserve(2048);
    match io.read_buf(buf).await? {
        0 => Err(StreamError::HandshakeIncomplete),
        _ => Ok(()),
    }
}

async fn refuse<W: AsyncWrite + Unpin>(io: &mut W, error: HandshakeError) -> StreamError {
    let _ = io.write_all(&error.response()).await;
    let _ = io.shutdown().await;
    error.into()
}
