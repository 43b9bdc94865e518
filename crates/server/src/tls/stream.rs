//! [`Link`]: a connection's byte stream as its session sees it — the socket itself, or TLS
//! over the socket — behind the transport seam ([`ByteStream`]).
//!
//! With TLS, plaintext goes in and out of the seam's calls and records go to the socket.
//! Two things are not visible from the socket's readiness, and the link says them:
//! - decrypted bytes already taken off the socket: a read returns them without touching the
//!   socket, and says `WouldBlock` only after the socket did, so a model that reads until
//!   `WouldBlock` (or whose readiness flag stays set until then, like tokio's) misses nothing;
//! - records made but not yet taken by the socket (a write's tail, a handshake or alert
//!   message made while reading): [`ByteStream::has_pending`] says so, the model waits for the
//!   socket to be writable, and [`ByteStream::write_some`] sends them before anything new.
//!   The fan-out's write-through may leave records pending too; it then hands the connection
//!   back to its driver, as it does when the socket refuses bytes.

use std::io::{self, IoSlice, Read, Write};
use std::sync::{Mutex, MutexGuard};

use rustls::ServerConnection;

use crate::model::stream::ByteStream;

/// Most bytes of records rustls holds for the socket: one write's worth. Past it, a write
/// takes nothing more until the socket has taken what is pending.
pub(crate) const RECORD_BUFFER: usize = 64 * 1024;

/// A connection's transport: plaintext, or TLS over the same kind of socket.
#[derive(Debug)]
pub(crate) struct Link<S> {
    sock: S,
    /// Boxed: a plaintext connection pays one pointer for TLS, not a whole TLS state.
    tls: Option<Box<Mutex<ServerConnection>>>,
}

impl<S: ByteStream> Link<S> {
    /// The socket as it is (plaintext).
    pub(crate) fn plain(sock: S) -> Self {
        Self { sock, tls: None }
    }

    /// TLS over the socket, with the state of its finished handshake.
    pub(crate) fn tls(sock: S, conn: ServerConnection) -> Self {
        Self {
            sock,
            tls: Some(Box::new(Mutex::new(conn))),
        }
    }

    /// Plaintext or TLS over `sock`, as the opening ended.
    pub(crate) fn new(sock: S, tls: Option<ServerConnection>) -> Self {
        match tls {
            Some(conn) => Self::tls(sock, conn),
            None => Self::plain(sock),
        }
    }

    /// The socket underneath, for readiness.
    pub(crate) fn socket(&self) -> &S {
        &self.sock
    }

    /// Whether the link is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

fn lock(tls: &Mutex<ServerConnection>) -> MutexGuard<'_, ServerConnection> {
    // rustls' state is consistent between calls; a panicking holder leaves it usable.
    tls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The socket as `std::io`, for rustls.
struct Io<'a, S>(&'a S);

impl<S: ByteStream> Read for Io<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl<S: ByteStream> Write for Io<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends pending records until none are left (`true`) or the socket is full (`false`).
fn send_pending<S: ByteStream>(conn: &mut ServerConnection, sock: &S) -> io::Result<bool> {
    while conn.wants_write() {
        match conn.write_tls(&mut Io(sock)) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl<S: ByteStream> ByteStream for Link<S> {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.sock.try_read(buf);
        };
        let mut conn = lock(tls);
        loop {
            match conn.reader().read(buf) {
                // Ok(0): the client's close_notify.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The socket ended without a close_notify: a chat client hanging up is not
                // an attack on a response's length (there is none), so it is an end too.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // Nothing decrypted is left: more records from the socket (`WouldBlock` when it
            // has none, which clears the model's readiness as a plain read would).
            if conn.read_tls(&mut Io(&self.sock))? == 0 {
                return Ok(0);
            }
            let processed = conn.process_new_packets();
            // Whatever processing made (a key update's answer, an alert) goes out now, or
            // waits as pending.
            let sent = send_pending(&mut conn, &self.sock);
            if let Err(e) = processed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            sent?;
        }
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.sock.try_write_vectored(bufs);
        };
        let mut conn = lock(tls);
        // Records first: what was made earlier must reach the socket before anything new.
        if !send_pending(&mut conn, &self.sock)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let taken = conn.writer().write_vectored(bufs)?;
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        send_pending(&mut conn, &self.sock)?;
        Ok(taken)
    }

    fn has_pending(&self) -> bool {
        self.tls
            .as_deref()
            .is_some_and(|tls| lock(tls).wants_write())
    }

    fn send_pending(&self) -> io::Result<bool> {
        match &self.tls {
            Some(tls) => send_pending(&mut lock(tls), &self.sock),
            None => Ok(true),
        }
    }

    fn close_notify(&self) {
        if let Some(tls) = &self.tls {
            lock(tls).send_close_notify();
        }
    }
}
