//! [`TlsSession`]: one server-side TLS connection on rustls' unbuffered API, sans-IO.
//!
//! Why unbuffered: rustls' buffered `ServerConnection` keeps a read buffer of at least 4 KiB
//! per connection for as long as it lives, which more than doubled what an idle TLS client
//! costs (measured with `rustchat bench idle --tls`: 11.1 KiB per connection against 3.8 KiB
//! plaintext). Here the caller passes the ciphertext in (decrypted in place, in the caller's
//! buffer) and takes the records out, so an idle connection holds only rustls' state: the
//! keys, no buffers ([`TlsSession::outgoing`] is freed whenever it is sent).

use std::sync::Arc;

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, EncryptError, UnbufferedStatus, WriteTraffic,
};
use rustls::{Error, ServerConfig};

/// Most plaintext put in one record (RFC 8446 §5.1: 2^14).
pub(crate) const MAX_RECORD: usize = 16 * 1024;

/// One TLS connection, server side.
pub struct TlsSession {
    conn: UnbufferedServerConnection,
    /// Ciphertext received but not used up: the start of a record still to come, or records
    /// of a handshake message still to come (rustls keeps its place in them, so they must be
    /// passed again as they are).
    partial: Vec<u8>,
    /// Records ready for the socket, from `sent` on.
    outgoing: Vec<u8>,
    sent: usize,
    /// The peer's `close_notify` arrived.
    peer_closed: bool,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("outgoing", &self.outgoing().len())
            .field("peer_closed", &self.peer_closed)
            .finish()
    }
}

impl TlsSession {
    /// A new server-side connection with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, Error> {
        Ok(Self {
            conn: UnbufferedServerConnection::new(config)?,
            partial: Vec::new(),
            outgoing: Vec::new(),
            sent: 0,
            peer_closed: false,
        })
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the peer said `close_notify`: no more data will come.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The ciphertext not used up by the last [`receive`](Self::receive): what the next
    /// call's `incoming` must start with.
    pub fn partial(&self) -> &[u8] {
        &self.partial
    }

    /// Processes `incoming` — [`partial`](Self::partial), then what the socket gave —
    /// decrypting it in place: application data goes to `sink`, handshake messages are
    /// answered into [`outgoing`](Self::outgoing), and what is not used up is kept as the
    /// next [`partial`](Self::partial). On an error the connection is over; the alert that
    /// says why is in `outgoing`.
    pub fn receive(
        &mut self,
        incoming: &mut [u8],
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Error> {
        let used = self.run(incoming, sink, None)?;
        // Usually nothing is left, and nothing is allocated.
        self.partial = incoming[used..].to_vec();
        Ok(())
    }

    /// Encrypts `plain` into records appended to `out` (after the handshake). Call it with
    /// [`outgoing`](Self::outgoing) empty (sent, or taken into `out`): anything rustls has to
    /// say first (a key update) is put in `out` before the records, so `out` is in wire order.
    /// Sealing into the caller's buffer lets a write go from a buffer of the thread's to the
    /// socket, with nothing allocated per connection unless the socket refuses some of it.
    pub fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        debug_assert!(
            self.outgoing().is_empty(),
            "records still wait for the socket"
        );
        let start = out.len();
        let result = self.write(Job::Seal(plain, out));
        if !self.outgoing.is_empty() {
            let said: Vec<u8> = self.take_outgoing();
            out.splice(start..start, said);
        }
        result
    }

    /// Queues a `close_notify` in [`outgoing`](Self::outgoing): the end of what we send.
    pub fn close_notify(&mut self) -> Result<(), Error> {
        self.write(Job::CloseNotify)
    }

    /// Runs `job` with the kept ciphertext as input (rustls' place in it must not move; no
    /// new record is complete in it, so nothing is decrypted).
    fn write(&mut self, job: Job<'_>) -> Result<(), Error> {
        let mut partial = std::mem::take(&mut self.partial);
        let mut stray = Vec::new();
        let result = self.run(
            &mut partial,
            &mut |data| stray.extend_from_slice(data),
            Some(job),
        );
        if let Ok(used) = result {
            partial.drain(..used);
        }
        self.partial = partial;
        debug_assert!(stray.is_empty(), "a write decrypted application data");
        result.map(|_| ())
    }

    /// The records waiting for the socket.
    pub fn outgoing(&self) -> &[u8] {
        &self.outgoing[self.sent..]
    }

    /// The socket took `n` bytes of [`outgoing`](Self::outgoing).
    pub fn sent(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.outgoing.len());
        if self.sent == self.outgoing.len() {
            // Freed, not kept: an idle connection holds no buffer.
            self.outgoing = Vec::new();
            self.sent = 0;
        }
    }

    /// Keeps `records` (sealed by [`encrypt`](Self::encrypt), refused by the socket) to send
    /// after whatever already waits.
    pub fn keep_outgoing(&mut self, records: &[u8]) {
        self.outgoing.extend_from_slice(records);
    }

    /// Takes every record waiting for the socket.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.outgoing);
        out.drain(..self.sent);
        self.sent = 0;
        out
    }

    /// Walks rustls' states until it needs more input or is idle, doing `job` when writing
    /// becomes possible.
    fn run(
        &mut self,
        incoming: &mut [u8],
        sink: &mut dyn FnMut(&[u8]),
        mut job: Option<Job<'_>>,
    ) -> Result<usize, Error> {
        let mut used = 0;
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(&mut incoming[used..]);
            let state = match state {
                Ok(state) => state,
                Err(e) => {
                    // The alert rustls queued for this error is encoded on the next call.
                    self.encode_alert(&mut incoming[used..]);
                    return Err(e);
                }
            };
            match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    let mut failed = None;
                    while let Some(record) = traffic.next_record() {
                        match record {
                            Ok(record) => {
                                discard += record.discard;
                                sink(record.payload);
                            }
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = failed {
                        self.encode_alert(&mut incoming[used..]);
                        return Err(e);
                    }
                }
                ConnectionState::EncodeTlsData(mut data) => encode(&mut data, &mut self.outgoing)?,
                ConnectionState::TransmitTlsData(data) => data.done(),
                ConnectionState::WriteTraffic(mut traffic) => {
                    used += discard;
                    match job.take() {
                        Some(Job::Seal(plain, out)) => seal(&mut traffic, plain, out)?,
                        Some(Job::CloseNotify) => close(&mut traffic, &mut self.outgoing)?,
                        None => return Ok(used),
                    }
                    continue;
                }
                ConnectionState::BlockedHandshake => {
                    if job.is_some() {
                        return Err(Error::HandshakeNotComplete);
                    }
                    return Ok(used + discard);
                }
                ConnectionState::PeerClosed => self.peer_closed = true,
                ConnectionState::Closed => {
                    self.peer_closed = true;
                    if matches!(job, Some(Job::Seal(..))) {
                        return Err(Error::General("the TLS connection is closed".into()));
                    }
                    return Ok(used + discard);
                }
                // Early data is off (the server config allows none).
                _ => return Err(Error::General("unexpected TLS state".into())),
            }
            used += discard;
        }
    }

    /// After an error: encodes the alert rustls queued for it (with the same input, so that
    /// rustls' place in it holds), then stops — the connection is over.
    fn encode_alert(&mut self, incoming: &mut [u8]) {
        let UnbufferedStatus { state, .. } = self.conn.process_tls_records(incoming);
        if let Ok(ConnectionState::EncodeTlsData(mut data)) = state {
            let _ = encode(&mut data, &mut self.outgoing);
        }
    }
}

/// What to do once rustls lets us write.
enum Job<'a> {
    /// Encrypt this into that.
    Seal(&'a [u8], &'a mut Vec<u8>),
    CloseNotify,
}

/// Appends a handshake record to `out`.
fn encode(
    data: &mut EncodeTlsData<'_, rustls::server::ServerConnectionData>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut room = 1024;
    loop {
        let start = out.len();
        out.resize(start + room, 0);
        match data.encode(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(need)) => {
                out.truncate(start);
                room = need.required_size;
            }
            Err(e) => {
                out.truncate(start);
                return Err(Error::General(format!("cannot encode a TLS record: {e}")));
            }
        }
    }
}

/// Appends the records of `plain` to `out`.
fn seal(
    traffic: &mut WriteTraffic<'_, rustls::server::ServerConnectionData>,
    plain: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    // Each record adds at most a header, a content type, padding-free, and a tag (TLS 1.3:
    // 5 + 1 + 16; TLS 1.2 GCM: 5 + 8 + 16).
    let records = plain.len() / MAX_RECORD + 1;
    let mut room = plain.len() + records * 64;
    loop {
        let start = out.len();
        out.resize(start + room, 0);
        match traffic.encrypt(plain, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(EncryptError::InsufficientSize(need)) => {
                out.truncate(start);
                room = need.required_size;
            }
            Err(e) => {
                out.truncate(start);
                return Err(Error::General(format!("cannot encrypt: {e}")));
            }
        }
    }
}

/// Appends a `close_notify` alert to `out`.
fn close(
    traffic: &mut WriteTraffic<'_, rustls::server::ServerConnectionData>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    out.resize(start + 64, 0);
    match traffic.queue_close_notify(&mut out[start..]) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(Error::General(format!("cannot encrypt close_notify: {e}")))
        }
    }
}
