//! The transport seam: a connection's byte stream to its peer, as the models and the fan-out
//! use it — non-blocking reads, and non-blocking vectored writes that the fan-out may also make
//! from the committer thread while the connection is idle (see `outbox`, "Writing through").
//!
//! Plain TCP implements it (tokio's and mio's streams). TLS will be a second implementation
//! that keeps the TLS state behind it: plaintext in and out of these calls, records on the
//! socket. Sessions, the hub and the fan-out only ever see a [`ByteStream`], so they do not
//! change when it comes; readiness (which the models wait on) stays the socket's.

use std::io::{self, IoSlice, Read, Write};

/// A connection's byte stream, shared by its model and the fan-out.
pub trait ByteStream: Send + Sync {
    /// Reads what has arrived; `WouldBlock` when nothing has, `Ok(0)` at the end of the stream.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes what the peer takes now; `WouldBlock` when it takes nothing.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

impl std::fmt::Debug for dyn ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteStream")
    }
}

impl ByteStream for tokio::net::TcpStream {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        tokio::net::TcpStream::try_read(self, buf)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        tokio::net::TcpStream::try_write_vectored(self, bufs)
    }
}

impl ByteStream for mio::net::TcpStream {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&mut &*self).write_vectored(bufs)
    }
}
