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
//!
//! Memory: ciphertext is read into a buffer of the thread's and decrypted there; a connection
//! keeps only what is unfinished (part of a record, plaintext its reader has not taken yet,
//! records the socket has not taken yet), so an idle TLS connection holds rustls' state and
//! no buffer at all.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::sync::{Mutex, MutexGuard};

use super::session::{MAX_RECORD, TlsSession};
use crate::model::stream::ByteStream;

/// Most plaintext one write encrypts: past it, the write takes nothing more until the socket
/// has taken the records made so far.
pub(crate) const RECORD_BUFFER: usize = 64 * 1024;

/// Most ciphertext one read takes from the socket.
const READ_CHUNK: usize = 32 * 1024;

thread_local! {
    /// Ciphertext read from a socket, decrypted in place (one per thread).
    static CIPHERTEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// A write's plaintext gathered into whole records, and the records sealed from it (one
    /// pair per thread).
    static WRITE: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A TLS connection's state between reads and writes.
#[derive(Debug)]
pub(crate) struct TlsState {
    session: TlsSession,
    /// Decrypted bytes a read had no room for, from `plain_at` on.
    plain: Vec<u8>,
    plain_at: usize,
}

impl TlsState {
    pub(crate) fn new(session: TlsSession) -> Self {
        Self {
            session,
            plain: Vec::new(),
            plain_at: 0,
        }
    }

    /// Copies held plaintext into `buf`; frees it once all is taken.
    fn take_plain(&mut self, buf: &mut [u8]) -> usize {
        let held = &self.plain[self.plain_at..];
        let n = held.len().min(buf.len());
        buf[..n].copy_from_slice(&held[..n]);
        self.plain_at += n;
        if self.plain_at == self.plain.len() {
            self.plain = Vec::new();
            self.plain_at = 0;
        }
        n
    }

    /// Sends pending records until none are left (`true`) or the socket is full (`false`).
    fn send_pending<S: ByteStream>(&mut self, sock: &S) -> io::Result<bool> {
        while !self.session.outgoing().is_empty() {
            match sock.try_write_vectored(&[IoSlice::new(self.session.outgoing())]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.session.sent(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// One read from the socket: `Ok(Some(n))` bytes of plaintext put in `buf` (maybe 0: the
    /// read held only part of a record, or no application data), `Ok(None)` at the end.
    fn read_socket<S: ByteStream>(
        &mut self,
        sock: &S,
        buf: &mut [u8],
    ) -> io::Result<Option<usize>> {
        CIPHERTEXT.with_borrow_mut(|incoming| {
            let keep = self.session.partial().len();
            // Grown once per thread, never cleared: every byte used is written first.
            if incoming.len() < keep + READ_CHUNK {
                incoming.resize(keep + READ_CHUNK, 0);
            }
            incoming[..keep].copy_from_slice(self.session.partial());
            let n = sock.try_read(&mut incoming[keep..keep + READ_CHUNK])?;
            if n == 0 {
                return Ok(None);
            }
            let total = keep + n;
            let mut put = 0;
            let (session, plain) = (&mut self.session, &mut self.plain);
            session
                .receive(&mut incoming[..total], &mut |data| {
                    let room = (buf.len() - put).min(data.len());
                    buf[put..put + room].copy_from_slice(&data[..room]);
                    put += room;
                    plain.extend_from_slice(&data[room..]);
                })
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            Ok(Some(put))
        })
    }
}

/// A connection's transport: plaintext, or TLS over the same kind of socket.
#[derive(Debug)]
pub(crate) struct Link<S> {
    sock: S,
    /// Boxed: a plaintext connection pays one pointer for TLS, not a whole TLS state.
    tls: Option<Box<Mutex<TlsState>>>,
}

impl<S: ByteStream> Link<S> {
    /// The socket as it is (plaintext).
    #[cfg(test)]
    pub(crate) fn plain(sock: S) -> Self {
        Self { sock, tls: None }
    }

    /// Plaintext or TLS over `sock`, as the opening ended.
    pub(crate) fn new(sock: S, tls: Option<Box<TlsState>>) -> Self {
        Self {
            sock,
            tls: tls.map(|state| Box::new(Mutex::new(*state))),
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

fn lock(tls: &Mutex<TlsState>) -> MutexGuard<'_, TlsState> {
    // The state is consistent between calls; a panicking holder leaves it usable.
    tls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: ByteStream> ByteStream for Link<S> {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.sock.try_read(buf);
        };
        let mut state = lock(tls);
        loop {
            if state.plain_at < state.plain.len() {
                return Ok(state.take_plain(buf));
            }
            if state.session.peer_closed() {
                return Ok(0);
            }
            // `WouldBlock` when the socket has nothing, which clears the model's readiness as
            // a plain read would.
            let read = state.read_socket(&self.sock, buf);
            // Whatever reading made (a key update's answer, an alert) goes out now, or waits
            // as pending.
            let sent = state.send_pending(&self.sock);
            match read? {
                None => return Ok(0),
                Some(0) => {}
                Some(n) => return Ok(n),
            }
            sent?;
        }
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.sock.try_write_vectored(bufs);
        };
        let mut state = lock(tls);
        // Records first: what was made earlier must reach the socket before anything new.
        if !state.send_pending(&self.sock)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let taken = WRITE.with_borrow_mut(|bufs_of_thread| -> io::Result<usize> {
            let (gather, sealed) = &mut *bufs_of_thread;
            sealed.clear();
            // Small slices (chat events) are gathered into whole records: one record and one
            // encryption per 16 KiB, not per event.
            let mut taken = 0;
            for buf in bufs {
                let mut rest = &buf[..buf.len().min(RECORD_BUFFER - taken)];
                taken += rest.len();
                while !rest.is_empty() {
                    let room = MAX_RECORD - gather.len();
                    let (now, later) = rest.split_at(room.min(rest.len()));
                    gather.extend_from_slice(now);
                    rest = later;
                    if gather.len() == MAX_RECORD {
                        seal(&mut state.session, gather, sealed)?;
                    }
                }
                if taken == RECORD_BUFFER {
                    break;
                }
            }
            seal(&mut state.session, gather, sealed)?;
            // Straight from the thread's buffer to the socket; only what the socket refuses
            // is copied into the connection's own.
            let mut written = 0;
            while written < sealed.len() {
                match self
                    .sock
                    .try_write_vectored(&[IoSlice::new(&sealed[written..])])
                {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            state.session.keep_outgoing(&sealed[written..]);
            Ok(taken)
        })?;
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    fn has_pending(&self) -> bool {
        self.tls
            .as_deref()
            .is_some_and(|tls| !lock(tls).session.outgoing().is_empty())
    }

    fn send_pending(&self) -> io::Result<bool> {
        match &self.tls {
            Some(tls) => lock(tls).send_pending(&self.sock),
            None => Ok(true),
        }
    }

    fn close_notify(&self) {
        if let Some(tls) = &self.tls {
            let _ = lock(tls).session.close_notify();
        }
    }
}

/// Encrypts what `gather` holds (if anything) into `sealed`, and empties it.
fn seal(session: &mut TlsSession, gather: &mut Vec<u8>, sealed: &mut Vec<u8>) -> io::Result<()> {
    if gather.is_empty() {
        return Ok(());
    }
    let result = session.encrypt(gather, sealed);
    gather.clear();
    result.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
