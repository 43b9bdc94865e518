//! Blocking adapter: a [`Connection`] driven over any `std::io::Read + Write`.
//!
//! Each call reads or writes the stream until it has what it needs; pongs and close echoes the
//! core queued are flushed on the way. Use a thread per connection, or set timeouts on the
//! stream (`TcpStream::set_read_timeout`) to bound how long a call may wait. Each read has room
//! for the rest of the frame being received ([`Connection::reserve_read`]), so a frame usually
//! takes one read.
//!
//! ```no_run
//! use rustchat_ws::blocking::WebSocket;
//! use std::net::TcpListener;
//!
//! // An echo server, one thread per connection.
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     let mut ws = WebSocket::accept(stream?)?;
//!     std::thread::spawn(move || {
//!         while let Ok(Some(message)) = ws.recv() {
//!             if ws.send(message).is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{IoSlice, Read, Write};
use std::net::TcpStream;
use std::ops::ControlFlow;

use bytes::BytesMut;

use crate::close::CloseFrame;
use crate::config::Config;
use crate::connection::{Connection, Event};
use crate::deflate::DeflateParams;
use crate::handshake::{ClientHandshake, Response};
use crate::handshake::{HandshakeError, HeadLimits};
use crate::handshake::{Request, Upgrade};
use crate::message::Message;
use crate::prepared::Prepared;
use crate::role::Role;
use crate::stream_error::{StreamError, message_or_end, refuse_tls};

/// A WebSocket over a blocking stream.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
}

impl<S: Read + Write> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done. `leftover` holds bytes read past the
    /// handshake (frames the peer sent early).
    pub fn from_raw(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        Self::from_negotiated(stream, role, config, None, leftover)
    }

    /// [`WebSocket::from_raw`] for a connection that negotiated permessage-deflate.
    pub fn from_negotiated(
        stream: S,
        role: Role,
        config: Config,
        deflate: Option<DeflateParams>,
        leftover: &[u8],
    ) -> Self {
        let mut conn = Connection::with_deflate(role, config, deflate);
        conn.receive(leftover);
        Self { stream, conn }
    }

    /// Runs the server side of the opening handshake with default limits, accepting any
    /// origin and no subprotocol.
    pub fn accept(stream: S) -> Result<Self, StreamError> {
        Self::accept_with(stream, Config::default(), |_| Ok(None))
    }

    /// Runs the server side of the opening handshake. `decide` sees the validated upgrade
    /// request (path, origin, offered subprotocols) and returns the subprotocol to select, or an
    /// error (e.g. [`HandshakeError::Forbidden`]) that is sent to the client as an HTTP answer.
    pub fn accept_with(
        mut stream: S,
        config: Config,
        decide: impl FnOnce(&Upgrade) -> Result<Option<String>, HandshakeError>,
    ) -> Result<Self, StreamError> {
        let mut buf = BytesMut::new();
        let (request, used) = loop {
            match Request::parse(&buf, &HeadLimits::default()) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => read_more(&mut stream, &mut buf)?,
                Err(e) => return Err(refuse(&mut stream, e)),
            }
        };
        let answer = request.upgrade().and_then(|up| {
            let protocol = decide(&up)?;
            up.accept_negotiated(protocol.as_deref(), &config.deflate)
        });
        let deflate = match answer {
            Ok((response, deflate)) => {
                stream.write_all(&response)?;
                deflate
            }
            Err(e) => return Err(refuse(&mut stream, e)),
        };
        stream.flush()?;
        Ok(Self::from_negotiated(
            stream,
            Role::Server,
            config,
            deflate,
            &buf[used..],
        ))
    }

    /// Runs the client side of the opening handshake over `stream`.
    pub fn client(
        mut stream: S,
        handshake: &ClientHandshake,
        config: Config,
    ) -> Result<(Self, Response), StreamError> {
        stream.write_all(&handshake.request())?;
        stream.flush()?;
        let mut buf = BytesMut::new();
        loop {
            if let Some((response, used)) = handshake.parse_response(&buf)? {
                let deflate = response.deflate();
                let ws = Self::from_negotiated(stream, Role::Client, config, deflate, &buf[used..]);
                return Ok((ws, response));
            }
            read_more(&mut stream, &mut buf)?;
        }
    }

    /// The next message: `Ok(None)` once the closing handshake is complete. Pings are
    /// answered and pongs skipped on the way; use [`WebSocket::next_event`] to see them.
    pub fn recv(&mut self) -> Result<Option<Message>, StreamError> {
        loop {
            if let ControlFlow::Break(message) = message_or_end(self.next_event()?) {
                return Ok(message);
            }
        }
    }

    /// The next event, reading as needed. After `Event::Close` (or an error) the answer has
    /// been flushed; a client has also waited for the server to close the TCP connection.
    pub fn next_event(&mut self) -> Result<Option<Event>, StreamError> {
        loop {
            let event = self.conn.next_event();
            self.flush()?;
            match event {
                Ok(Some(event)) => {
                    if matches!(event, Event::Close(_)) {
                        self.await_server_close();
                    }
                    return Ok(Some(event));
                }
                Ok(None) if self.conn.is_closed() => return Ok(None),
                Ok(None) => {}
                Err(e) => return Err(e.into()),
            }
            if !self.read_some()? {
                return Err(StreamError::ConnectionLost);
            }
        }
    }

    /// Sends a message.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), StreamError> {
        self.conn.send(message)?;
        Ok(self.flush()?)
    }

    /// Sends a pre-encoded message (servers only).
    pub fn send_prepared(&mut self, prepared: &Prepared) -> Result<(), StreamError> {
        self.conn.send_prepared(prepared)?;
        Ok(self.flush()?)
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: impl Into<bytes::Bytes>) -> Result<(), StreamError> {
        self.conn.ping(payload)?;
        Ok(self.flush()?)
    }

    /// Starts the closing handshake; keep calling [`WebSocket::recv`] until it returns
    /// `Ok(None)` to read the peer's answer.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), StreamError> {
        self.conn.close(frame)?;
        Ok(self.flush()?)
    }

    /// Writes everything queued; several pieces go out in one vectored write.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let out = self.conn.outbound();
        while !out.is_empty() {
            let written = if out.is_contiguous() {
                // One piece (the usual small frame): a plain write is cheaper for the kernel.
                self.stream.write(out.first_chunk())?
            } else {
                let mut slices = [IoSlice::new(&[]); 16];
                let count = out.io_slices(&mut slices);
                self.stream.write_vectored(&slices[..count])?
            };
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            out.advance(written);
        }
        self.stream.flush()
    }

    /// The protocol state machine.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Reads once into the connection, with room for the rest of the frame being received
    /// ([`Connection::read_size`]); `false` on end of stream.
    fn read_some(&mut self) -> std::io::Result<bool> {
        let room = self.conn.read_size();
        let buf = self.conn.reserve_read();
        let len = buf.len();
        // `Read` wants initialised memory: the room is zeroed first (safe code cannot skip it).
        buf.resize(len + room, 0);
        let result = self.stream.read(&mut buf[len..]);
        buf.truncate(len + result.as_ref().map_or(0, |n| *n));
        Ok(result? > 0)
    }

    /// RFC 6455 §7.1.1: after the closing handshake the server closes TCP first; a client
    /// waits for that (bounded: it stops at the first error or after 64 KiB of stray bytes).
    fn await_server_close(&mut self) {
        if self.conn.role() != Role::Client {
            return;
        }
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            match self.stream.read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

impl WebSocket<TcpStream> {
    /// Connects to a `ws://` URL over TCP and runs the client handshake.
    pub fn connect(url: &str) -> Result<(Self, Response), StreamError> {
        Self::connect_with(&ClientHandshake::new(url)?, Config::default())
    }

    /// Connects with a prepared handshake (subprotocols, headers) and config.
    pub fn connect_with(
        handshake: &ClientHandshake,
        config: Config,
    ) -> Result<(Self, Response), StreamError> {
        refuse_tls(handshake, "WebSocket::client")?;
        let stream = TcpStream::connect((handshake.host(), handshake.port()))?;
        stream.set_nodelay(true)?;
        Self::client(stream, handshake, config)
    }
}

/// Reads more handshake bytes; the end of the stream here is an error.
fn read_more(stream: &mut impl Read, buf: &mut BytesMut) -> Result<(), StreamError> {
    let mut chunk = [0u8; 2048];
    match stream.read(&mut chunk)? {
        0 => Err(StreamError::HandshakeIncomplete),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// Sends the HTTP answer for a refused handshake (best effort) and returns the error.
fn refuse(stream: &mut impl Write, error: HandshakeError) -> StreamError {
    let _ = stream
        .write_all(&error.response())
        .and_then(|()| stream.flush());
    error.into()
}
