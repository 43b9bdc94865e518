//! The WebSocket connection state machine, sans-IO: bytes in, events out; calls in, bytes out.
//!
//! Every transition of the connection's [`State`] lives in this file. The adapters
//! ([`crate::blocking`], `crate::tokio`) only move bytes between a socket and this type:
//! they feed what they read to [`Connection::receive`], drain [`Connection::next_event`], and
//! write what [`Connection::outbound`] holds. Replies the peer is owed — a pong for a ping, the
//! echo of a Close — are queued here as outbound bytes, never sent as a side effect.

use bytes::{Bytes, BytesMut};

use crate::assembler::{Assembler, RSV1};
use crate::close::CloseFrame;
use crate::config::Config;
use crate::decoder::{FrameChunk, FrameDecoder};
use crate::deflate::{DeflateParams, Inflation, deflate_message};
use crate::error::{Error, ProtocolError, UsageError};
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask_source::MaskSource;
use crate::message::Message;
use crate::outbound::Outbound;
use crate::prepared::Prepared;
use crate::role::Role;

/// The least room a read gets ([`Connection::read_size`]): a burst of small frames takes few reads.
const MIN_READ: usize = 8 * 1024;
/// The least size of a fresh receive buffer: room for two least reads, so that small frames
/// are read into it many times over before it has to be reclaimed.
const MIN_BUFFER: usize = 2 * MIN_READ;
/// How far reads may move into the receive buffer before an empty buffer goes back to its
/// start ([`Connection::reserve_read`]): small frames reuse 1 KiB of it, which stays in cache.
const REWIND_AFTER: usize = 1024;
/// The most room a read gets while a frame is arriving. A larger frame arrives in several reads
/// and is gathered by the assembler anyway; bigger reads would only hold more memory.
const MAX_READ: usize = 64 * 1024;
/// The most room a read gets between frames, which is what a connection waiting for its next
/// message holds: an idle connection keeps at most this much for reading.
const MAX_IDLE_READ: usize = 32 * 1024;

/// Where the closing handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close frame and wait for the peer's; we still read what the peer sends.
    CloseSent,
    /// Both Close frames have been exchanged, or the connection was failed: nothing more is
    /// sent or read. The adapter flushes [`Connection::outbound`] and closes the transport.
    Closed,
}

/// Something the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete text or binary message.
    Message(Message),
    /// A ping; its pong is already queued (unless we are closing).
    Ping(Bytes),
    /// A pong (an answer to our ping, or unsolicited: RFC 6455 §5.5.3 allows both).
    Pong(Bytes),
    /// The peer's Close frame (`None`: it carried no code). Our answer is already queued.
    Close(Option<CloseFrame>),
}

/// One WebSocket connection, after the opening handshake.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    state: State,
    read_buf: BytesMut,
    /// The largest room `read_buf` is known to have had since it was last replaced (its
    /// allocation, as far as we can tell): lets `reserve_read` tell a buffer too big or too
    /// small for the coming read without asking the allocator.
    read_room: usize,
    decoder: FrameDecoder,
    assembler: Assembler,
    out: Outbound,
    /// Fresh mask keys for a client's frames (RFC 6455 §5.3); `None` for a server.
    masks: Option<Box<MaskSource>>,
    /// permessage-deflate, when negotiated: how we compress.
    deflate: Option<Box<Compression>>,
}

/// The sending half of permessage-deflate on one connection.
#[derive(Debug)]
struct Compression {
    params: DeflateParams,
    level: u8,
    threshold: usize,
    /// Our window, in bits.
    bits: u8,
    /// Our compressor, kept between messages only when we keep our context.
    kept: Option<Option<Box<flate2::Compress>>>,
}

impl Connection {
    /// A connection in the `Open` state, as the given end.
    pub fn new(role: Role, config: Config) -> Self {
        Self {
            role,
            state: State::Open,
            read_buf: BytesMut::new(),
            read_room: 0,
            decoder: FrameDecoder::new(role, config.max_frame_size),
            assembler: Assembler::new(config.max_message_size, config.max_fragments),
            out: Outbound::default(),
            masks: (role == Role::Client).then(Box::default),
            deflate: None,
        }
    }

    /// A connection that negotiated permessage-deflate with `params` (from
    /// [`crate::deflate::negotiate`] on a server, `Response::deflate` on a client); `None` is
    /// [`Connection::new`]. The level and threshold come from `config.deflate`.
    ///
    /// ```
    /// use rustchat_ws::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};
    /// let config = Config::default().deflate(DeflateConfig::enabled().threshold(0));
    /// let params = Some(DeflateParams::default());
    /// let mut client = Connection::with_deflate(Role::Client, config, params);
    /// let mut server = Connection::with_deflate(Role::Server, config, params);
    /// let text = "hello hello hello hello hello hello";
    /// client.send(Message::text(text)).unwrap();
    /// let wire = client.outbound().take_all();
    /// assert!(wire.len() < text.len(), "compressed");
    /// server.receive(&wire);
    /// assert_eq!(server.next_event().unwrap(), Some(Event::Message(Message::text(text))));
    /// ```
    pub fn with_deflate(role: Role, config: Config, params: Option<DeflateParams>) -> Self {
        let mut conn = Self::new(role, config);
        let Some(params) = params else {
            return conn;
        };
        let peer = match role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        conn.decoder.allow_rsv(RSV1);
        conn.assembler.inflate_with(Inflation::new(
            params.keeps_context(peer),
            params.window_bits(peer),
        ));
        conn.deflate = Some(Box::new(Compression {
            params,
            level: config.deflate.level,
            threshold: config.deflate.threshold,
            bits: params.window_bits(role),
            kept: params.keeps_context(role).then_some(None),
        }));
        conn
    }

    /// The permessage-deflate parameters, if it was negotiated.
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.deflate.as_deref().map(|d| &d.params)
    }

    /// Whether this connection holds a compressor or decompressor right now: only when a side
    /// keeps its context, or while a compressed message arrives in pieces. (What idle
    /// connections cost: see [`crate::deflate`].)
    pub fn holds_compression_state(&self) -> bool {
        let compressor = self
            .deflate
            .as_deref()
            .is_some_and(|d| matches!(d.kept, Some(Some(_))));
        compressor || self.assembler.holds_inflate_state()
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The closing-handshake state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether messages may still be sent (only while `Open`).
    pub fn can_send(&self) -> bool {
        self.state == State::Open
    }

    /// Whether the connection is over: the adapter should flush and close the transport.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether more bytes from the peer are of any use.
    pub fn wants_read(&self) -> bool {
        self.state != State::Closed
    }

    /// Feeds bytes read from the transport.
    pub fn receive(&mut self, data: &[u8]) {
        if self.wants_read() {
            self.read_buf.extend_from_slice(data);
        }
    }

    /// The receive buffer, for adapters that read straight into it (saves a copy).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// How many bytes the next read should have room for: the rest of the frame being
    /// received and the next header (at least 8 KiB, at most 64 KiB), or, between frames,
    /// a frame as large as the last one (at least 8 KiB, at most 32 KiB).
    ///
    /// Sized like this, a frame usually arrives in one read, and a frame that is whole in the
    /// buffer is handed out without a copy; read in fixed pieces, a frame just over the piece
    /// size would take two reads and be copied together from its parts.
    #[inline]
    pub fn read_size(&self) -> usize {
        let missing = self.decoder.read_hint(&self.read_buf);
        missing
            .saturating_add(MAX_HEADER_LEN)
            .clamp(MIN_READ, self.most_room())
    }

    /// The most room for one read: less between frames, where a connection may wait long.
    #[inline]
    fn most_room(&self) -> usize {
        if self.decoder.is_between_frames() {
            MAX_IDLE_READ
        } else {
            MAX_READ
        }
    }

    /// The receive buffer with room for at least [`Connection::read_size`] more bytes, for
    /// adapters that read straight into it.
    ///
    /// A fresh buffer is at least 16 KiB, so small frames take no work here but a length check.
    /// When nothing is pending, a buffer more than twice as large as the coming read needs
    /// (left by a large frame) or too small for it is replaced by one of the right size: a
    /// waiting connection holds 16 KiB, or up to 32 KiB after frames that large, and an empty
    /// buffer never grows by doubling. An empty buffer that no received message still shares
    /// goes back to its start once reads have moved 1 KiB into it, so a connection's small
    /// frames keep arriving on the same few cache lines.
    ///
    /// ```
    /// use rustchat_ws::{Config, Connection, Role};
    ///
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// let room = conn.read_size();
    /// let buf = conn.reserve_read();
    /// assert!(buf.capacity() - buf.len() >= room);
    /// ```
    pub fn reserve_read(&mut self) -> &mut BytesMut {
        let room = self.read_size();
        let size = room.max(MIN_BUFFER);
        let keep = (2 * room).clamp(MIN_BUFFER, self.most_room());
        let buf = &mut self.read_buf;
        if buf.is_empty() && (self.read_room < size || self.read_room > keep) {
            *buf = BytesMut::with_capacity(size);
            self.read_room = buf.capacity();
            return buf;
        }
        if buf.is_empty() && buf.capacity() + REWIND_AFTER <= self.read_room {
            // Everything read is consumed. Unless a message handed out still shares the buffer,
            // go back to its start, so reads keep landing on the same few (cached) lines
            // instead of walking through the whole buffer; if one does, carry on from here.
            let _rewound = buf.try_reclaim(self.read_room);
        }
        if buf.capacity() - buf.len() < room {
            buf.reserve(size);
            self.read_room = self.read_room.max(buf.capacity());
        }
        buf
    }

    /// Releases the receive buffer's memory when nothing is pending in it (idle connections).
    pub fn release_idle_buffer(&mut self) {
        if self.read_buf.is_empty() {
            self.drop_read_buffer();
        }
    }

    fn drop_read_buffer(&mut self) {
        self.read_buf = BytesMut::new();
        self.read_room = 0;
    }

    /// The bytes waiting to be written to the transport.
    pub fn outbound(&mut self) -> &mut Outbound {
        &mut self.out
    }

    /// The next event from the bytes received so far: `Ok(None)` when more bytes are needed
    /// (or the connection is closed).
    ///
    /// On `Err(Error::Protocol(_))` the connection has been failed: a Close frame with the
    /// rule's code is queued, the state is `Closed`, and further calls return `Ok(None)`.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.read_buf.is_empty() {
            // Every frame, even an empty one, starts with two header bytes: nothing to decode.
            return Ok(None);
        }
        while self.wants_read() {
            let chunk = match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            match self.handle_chunk(chunk) {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(None)
    }

    #[inline]
    fn handle_chunk(&mut self, chunk: FrameChunk) -> Result<Option<Event>, ProtocolError> {
        if chunk.first && chunk.header.rsv & RSV1 != 0 {
            // RFC 7692 §6.1: RSV1 marks a compressed message's first frame, and nothing else.
            match chunk.header.opcode {
                OpCode::Continuation => return Err(ProtocolError::CompressedContinuation),
                op if op.is_control() => return Err(ProtocolError::CompressedControl),
                _ => {}
            }
        }
        match chunk.header.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                Ok(self.assembler.push(chunk)?.map(Event::Message))
            }
            OpCode::Ping => {
                // RFC 6455 §5.5.2: a Ping MUST be answered with a Pong carrying the same
                // data, unless a Close has already been sent.
                if self.state == State::Open {
                    self.queue_pong(&chunk.payload);
                }
                Ok(Some(Event::Ping(chunk.payload)))
            }
            OpCode::Pong => Ok(Some(Event::Pong(chunk.payload))),
            OpCode::Close => self.on_close(&chunk.payload).map(Some),
        }
    }

    /// Queues the pong owed for a ping. RFC 6455 §5.5.3: an endpoint that has not yet sent
    /// the pongs for earlier pings MAY send a pong for only the most recent one. We take back
    /// our previous pong when none of it is written and it is still the last thing queued, so
    /// a peer that floods pings and reads nothing makes us hold one pong, not millions.
    fn queue_pong(&mut self, payload: &Bytes) {
        self.out.replace_last_frame();
        let header = self.header(OpCode::Pong, true, payload);
        self.out.push_replaceable_frame(&header, payload);
    }

    fn on_close(&mut self, payload: &[u8]) -> Result<Event, ProtocolError> {
        let frame = CloseFrame::parse(payload)?;
        if self.state == State::Open {
            // RFC 6455 §5.5.1: on a Close, an endpoint that has not sent one MUST answer with
            // a Close. We echo the peer's (validated) body: its code and reason.
            let echo = frame.as_ref().map(CloseFrame::encode).unwrap_or_default();
            self.queue(OpCode::Close, true, &echo);
        }
        self.state = State::Closed;
        self.drop_read_buffer();
        Ok(Event::Close(frame))
    }

    /// RFC 6455 §7.1.7 _Fail the WebSocket Connection_: send a Close with the error's code
    /// (if we have not sent one) and stop processing the peer's data.
    fn fail(&mut self, error: ProtocolError) -> Error {
        if self.state == State::Open {
            let text = error.to_string();
            let body = CloseFrame::new(error.close_code(), truncate_reason(&text)).encode();
            self.queue(OpCode::Close, true, &body);
        }
        self.state = State::Closed;
        self.drop_read_buffer();
        self.assembler.abandon();
        Error::Protocol(error)
    }

    /// Queues a message as one frame (compressed, if permessage-deflate was negotiated and
    /// the message is at least the threshold long).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), UsageError> {
        self.ensure_open()?;
        let message = message.into();
        let (payload, rsv) = self.compressed(message.payload());
        self.queue_rsv(data_opcode(&message), true, rsv, &payload);
        Ok(())
    }

    /// The payload to send and its RSV bits: compressed, or as it is.
    fn compressed(&mut self, payload: &Bytes) -> (Bytes, u8) {
        let Some(deflate) = self.deflate.as_deref_mut() else {
            return (payload.clone(), 0);
        };
        if payload.len() < deflate.threshold {
            return (payload.clone(), 0);
        }
        let out = deflate_message(payload, deflate.level, deflate.bits, deflate.kept.as_mut());
        (Bytes::from(out), RSV1)
    }

    /// Queues a message split into frames of at most `fragment_size` payload bytes
    /// (RFC 6455 §5.4), e.g. to interleave pings with a very large message.
    pub fn send_fragmented(
        &mut self,
        message: impl Into<Message>,
        fragment_size: usize,
    ) -> Result<(), UsageError> {
        self.ensure_open()?;
        if fragment_size == 0 {
            return Err(UsageError::ZeroFragmentSize);
        }
        let message = message.into();
        let (payload, mut rsv) = self.compressed(message.payload());
        let mut opcode = data_opcode(&message);
        let mut offset = 0;
        loop {
            let end = (offset + fragment_size).min(payload.len());
            let fin = end == payload.len();
            self.queue_rsv(opcode, fin, rsv, &payload.slice(offset..end));
            if fin {
                return Ok(());
            }
            // RFC 7692 §6.1: RSV1 on the first frame only.
            (opcode, rsv) = (OpCode::Continuation, 0);
            offset = end;
        }
    }

    /// Queues a message encoded once for many connections (servers only): a pointer copy.
    ///
    /// Its compressed form goes to a connection that negotiated permessage-deflate without
    /// context takeover on our side and with a window at least as large as the one it was
    /// compressed with; every other connection gets the plain form.
    pub fn send_prepared(&mut self, prepared: &Prepared) -> Result<(), UsageError> {
        self.ensure_open()?;
        if self.role == Role::Client {
            return Err(UsageError::PreparedOnClient);
        }
        let bytes = match (prepared.deflated_bytes(), self.deflate.as_deref()) {
            (Some((frames, bits)), Some(d)) if d.kept.is_none() && d.bits >= bits => frames,
            _ => prepared.as_bytes(),
        };
        self.out.push_encoded(bytes);
        Ok(())
    }

    /// Queues a ping (at most 125 bytes), e.g. for keepalive or to measure the round trip.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_control(OpCode::Ping, payload.into())
    }

    /// Queues an unsolicited pong (a heartbeat that needs no answer; RFC 6455 §5.5.3).
    pub fn pong(&mut self, payload: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_control(OpCode::Pong, payload.into())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), UsageError> {
        self.ensure_open()?;
        if payload.len() > 125 {
            return Err(UsageError::ControlTooLong(payload.len()));
        }
        self.queue(opcode, true, &payload);
        Ok(())
    }

    /// Starts the closing handshake (`None`: a Close with no code). Messages that arrive
    /// before the peer's answer are still delivered.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), UsageError> {
        self.ensure_open()?;
        let body = match frame {
            None => Bytes::new(),
            Some(f) if !f.code.is_sendable() => return Err(UsageError::InvalidCloseCode(f.code.0)),
            Some(f) if f.reason.len() > 123 => {
                return Err(UsageError::CloseReasonTooLong(f.reason.len()));
            }
            Some(f) => f.encode(),
        };
        self.queue(OpCode::Close, true, &body);
        self.state = State::CloseSent;
        Ok(())
    }

    #[inline]
    fn ensure_open(&self) -> Result<(), UsageError> {
        // RFC 6455 §5.5.1: after sending a Close frame, the endpoint MUST NOT send more data.
        if self.state == State::Open {
            Ok(())
        } else {
            Err(UsageError::Closed)
        }
    }

    #[inline]
    fn queue(&mut self, opcode: OpCode, fin: bool, payload: &Bytes) {
        self.queue_rsv(opcode, fin, 0, payload);
    }

    #[inline]
    fn queue_rsv(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &Bytes) {
        let mut header = self.header(opcode, fin, payload);
        header.rsv = rsv;
        self.out.push_frame(&header, payload);
    }

    #[inline]
    fn header(&mut self, opcode: OpCode, fin: bool, payload: &Bytes) -> FrameHeader {
        // RFC 6455 §5.3: a client MUST pick a fresh, unpredictable mask for each frame.
        let mask = self.masks.as_mut().map(|m| m.next_key());
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        }
    }
}

fn data_opcode(message: &Message) -> OpCode {
    if message.is_text() {
        OpCode::Text
    } else {
        OpCode::Binary
    }
}

/// Cuts a reason to the 123 bytes a Close frame has room for, on a character boundary.
fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
