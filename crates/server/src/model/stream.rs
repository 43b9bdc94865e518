//! The transport seam: a connection's byte stream to its peer, as the models and the fan-out
//! use it — non-blocking reads, and non-blocking vectored writes that the fan-out may also make
//! from the committer thread while the connection is idle (see `outbox`, "Writing through").
//!
//! Plain TCP implements it (tokio's and mio's streams), and so does `tls::stream::Link`, which
//! keeps a connection's TLS state behind it: plaintext in and out of these calls, records on
//! the socket. Sessions, the hub and the fan-out only ever see a [`ByteStream`]; readiness
//! (which the models wait on) stays the socket's, plus [`ByteStream::has_pending`].

use std::io::{self, IoSlice, Read, Write};

use rustchat_ws::outbound::Outbound;

/// A connection's byte stream, shared by its model and the fan-out.
pub trait ByteStream: Send + Sync {
    /// Reads what has arrived; `WouldBlock` when nothing has, `Ok(0)` at the end of the stream.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes what the peer takes now; `WouldBlock` when it takes nothing.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Whether bytes the stream made itself wait for the socket (TLS records): the model must
    /// then wait for the socket to be writable even if it has nothing of its own to write.
    fn has_pending(&self) -> bool {
        false
    }

    /// Sends what [`has_pending`](Self::has_pending) holds: `true` once all of it is sent,
    /// `false` when the socket is full.
    fn send_pending(&self) -> io::Result<bool> {
        Ok(true)
    }

    /// The end of the stream is near: say so in the stream's own terms (TLS `close_notify`),
    /// sent with the next writes.
    fn close_notify(&self) {}

    /// Writes as much of `out` as the peer takes now, 64 slices per call, and leaves the rest
    /// queued: `Ok` when the stream is full or `out` is empty, an error only when the stream
    /// failed. The stream's own pending bytes go first.
    fn write_some(&self, out: &mut Outbound) -> io::Result<()> {
        if !self.send_pending()? {
            return Ok(());
        }
        while !out.is_empty() {
            let mut slices = [IoSlice::new(&[]); 64];
            let count = out.io_slices(&mut slices);
            match self.try_write_vectored(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
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

/// A byte stream in memory, for tests without sockets: it takes at most `room` more bytes
/// (then `WouldBlock`, like a full socket) and keeps what it took; reads say `WouldBlock`.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct MemoryStream {
    room: std::sync::Mutex<usize>,
    got: std::sync::Mutex<Vec<u8>>,
}

#[cfg(test)]
impl MemoryStream {
    /// A stream that takes `room` bytes before it is full.
    pub(crate) fn with_room(room: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            room: std::sync::Mutex::new(room),
            got: std::sync::Mutex::default(),
        })
    }

    /// Makes room for `more` bytes (the peer read some).
    pub(crate) fn open_up(&self, more: usize) {
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        *room = room.saturating_add(more);
    }

    /// Takes no more bytes until [`open_up`](Self::open_up) (the peer stopped reading).
    pub(crate) fn close_window(&self) {
        *self.room.lock().unwrap_or_else(|p| p.into_inner()) = 0;
    }

    /// Everything written so far.
    pub(crate) fn got(&self) -> Vec<u8> {
        self.got.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Everything written so far, as text (the line protocol).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.got()).into_owned()
    }
}

#[cfg(test)]
impl ByteStream for MemoryStream {
    fn try_read(&self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        if *room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut got = self.got.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(*room);
            got.extend_from_slice(&buf[..take]);
            *room -= take;
            n += take;
        }
        Ok(n)
    }
}
