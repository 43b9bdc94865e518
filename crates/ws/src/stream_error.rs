//! The error of the I/O adapters: the core's errors plus what sockets and handshakes add.

use std::ops::ControlFlow;

use crate::connection::Event;
use crate::error::{Error, ProtocolError, UsageError};
use crate::handshake::{ClientHandshake, HandshakeError};
use crate::message::Message;

/// Everything a blocking or async WebSocket can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading or writing the transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The opening handshake was refused or malformed.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The peer broke the protocol; we sent it a Close frame with the matching code.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// This side misused the API.
    #[error("usage error: {0}")]
    Usage(#[from] UsageError),
    /// The transport ended before the closing handshake (RFC 6455 §7.1.5: code 1006).
    #[error("the peer closed the connection without a WebSocket close handshake (1006)")]
    ConnectionLost,
    /// The transport ended in the middle of the opening handshake.
    #[error("the connection ended during the opening handshake: expected a complete HTTP head")]
    HandshakeIncomplete,
}

impl From<Error> for StreamError {
    fn from(e: Error) -> Self {
        match e {
            Error::Protocol(p) => Self::Protocol(p),
            Error::Usage(u) => Self::Usage(u),
        }
    }
}

/// What every adapter's `recv` makes of an event: a message or the end is returned
/// (`Break`), pings and pongs are skipped (`Continue`).
#[inline]
pub(crate) fn message_or_end(event: Option<Event>) -> ControlFlow<Option<Message>> {
    match event {
        Some(Event::Message(message)) => ControlFlow::Break(Some(message)),
        Some(Event::Close(_)) | None => ControlFlow::Break(None),
        Some(Event::Ping(_) | Event::Pong(_)) => ControlFlow::Continue(()),
    }
}

/// The adapters' `connect` speaks plain TCP; a `wss://` URL gets an error naming what to call
/// instead (`client_fn`, which takes any stream, e.g. a TLS one).
pub(crate) fn refuse_tls(handshake: &ClientHandshake, client_fn: &str) -> Result<(), StreamError> {
    if !handshake.is_secure() {
        return Ok(());
    }
    Err(HandshakeError::InvalidUrl {
        url: format!("wss://{}", handshake.host()),
        reason: format!(
            "wss:// needs TLS, which this adapter does not provide: wrap a TLS stream yourself \
             and call {client_fn}"
        ),
    }
    .into())
}
