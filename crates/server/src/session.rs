//! One client's chat session, sans-IO: bytes in, [`Action`]s out; events in, bytes out.
//!
//! The session knows its transport's framing (lines, or WebSocket frames holding lines or
//! JSON) and the per-connection rules (HELLO handshake, flood control, keepalive). It knows no
//! socket, thread or runtime: every concurrency model drives the same type, and tests drive it
//! with plain byte slices.

use bytes::Bytes;
use rustchat_proto::{Command, ServerEvent};
use rustchat_ws::outbound::Outbound;

use crate::delivery::{Encoded, Wire};
use crate::flood::{TokenBucket, Verdict};
use crate::line_session::LineSession;
use crate::ws_session::WsSession;

/// What the driver must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Join the chat (the hub's `connect`): the client is ready for its welcome.
    Register,
    /// Hand a command to the hub.
    Command(Command),
    /// Send this event to the client itself, in order with its other events.
    Reply(ServerEvent),
    /// The client changed how it wants events (a WebSocket client that spoke JSON).
    Wire(Wire),
}

/// Why a session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client quit, closed, or hung up.
    Peer,
    /// The client broke the protocol (details in the text).
    Protocol(String),
    /// The client read too slowly: its queue overflowed.
    SlowConsumer,
    /// The client sent too fast for too long.
    Flood,
    /// A handshake or keepalive deadline passed.
    Timeout(String),
    /// The server is shutting down.
    Shutdown,
    /// The server asked it to close after its last events (`/quit`).
    Quit,
}

impl Ending {
    /// The text shown to the client (and to its rooms as the quit reason).
    pub fn reason(&self) -> String {
        match self {
            Self::Peer | Self::Quit => "quit".into(),
            Self::Protocol(why) => format!("protocol error: {why}"),
            Self::SlowConsumer => "slow consumer: you read too slowly and fell more than the \
                                   outbound limit behind"
                .into(),
            Self::Flood => "flooding: too many commands too fast".into(),
            Self::Timeout(why) => format!("timeout: {why}"),
            Self::Shutdown => "server shutting down".into(),
        }
    }
}

/// The transport-specific half of a session.
#[derive(Debug)]
pub enum Transport {
    /// Lines over TCP.
    Line(LineSession),
    /// WebSocket frames.
    Ws(WsSession),
}

/// A client's session: its transport plus the rules common to all transports.
#[derive(Debug)]
pub struct Session {
    transport: Transport,
    flood: Option<TokenBucket>,
}

impl Session {
    /// A session over `transport`, with flood control if given.
    pub fn new(transport: Transport, flood: Option<TokenBucket>) -> Self {
        Self { transport, flood }
    }

    /// Feeds bytes read from the socket.
    pub fn receive(&mut self, data: &[u8]) {
        match &mut self.transport {
            Transport::Line(s) => s.receive(data),
            Transport::Ws(s) => s.receive(data),
        }
    }

    /// The next thing to do, from the bytes received so far (time `now_ms`).
    pub fn next_action(&mut self, now_ms: u64) -> Option<Action> {
        let action = match &mut self.transport {
            Transport::Line(s) => s.next_action(),
            Transport::Ws(s) => s.next_action(now_ms),
        }?;
        let Action::Command(_) = &action else {
            return Some(action);
        };
        match self
            .flood
            .as_mut()
            .map_or(Verdict::Allow, |b| b.check(now_ms))
        {
            Verdict::Allow => Some(action),
            Verdict::Warn => Some(Action::Reply(ServerEvent::error(
                rustchat_proto::ErrorKind::Flood,
                "flood control: that command was dropped — slow down to at most a few \
                 commands per second",
            ))),
            Verdict::Disconnect => {
                self.end(Ending::Flood);
                None
            }
        }
    }

    /// Queues an event for the client (already encoded, shared with other receivers).
    pub fn push_event(&mut self, event: &Encoded) {
        match &mut self.transport {
            Transport::Line(s) => s.push_event(event),
            Transport::Ws(s) => s.push_event(event),
        }
    }

    /// Queues the rest of an event whose first `skip` bytes were written through by the
    /// fan-out (see `outbox`): those bytes are on the wire, so they must not go again.
    pub fn push_rest(&mut self, event: &Encoded, skip: usize) {
        let bytes = event.bytes(self.wire());
        if skip < bytes.len() {
            let rest = bytes.slice(skip..);
            self.outbound().push_encoded(&rest);
        }
    }

    /// Ends the session: queues the goodbye the client is owed (an `ERROR`/`BYE` line, or a
    /// Close frame with the matching code) and stops reading.
    pub fn end(&mut self, ending: Ending) {
        match &mut self.transport {
            Transport::Line(s) => s.end(ending),
            Transport::Ws(s) => s.end(ending),
        }
    }

    /// Periodic duties (WebSocket keepalive) at time `now_ms`.
    pub fn tick(&mut self, now_ms: u64) {
        if let Transport::Ws(s) = &mut self.transport {
            s.tick(now_ms);
        }
    }

    /// When [`tick`](Self::tick) next has work (epoch ms), if ever.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        match &self.transport {
            Transport::Line(_) => None,
            Transport::Ws(s) => s.next_deadline_ms(),
        }
    }

    /// Whether a handshake with a deadline is under way (the line protocol's HELLO).
    pub fn in_handshake(&self) -> bool {
        match &self.transport {
            Transport::Line(s) => s.in_handshake(),
            Transport::Ws(_) => false,
        }
    }

    /// Bytes waiting for the socket.
    pub fn outbound(&mut self) -> &mut Outbound {
        match &mut self.transport {
            Transport::Line(s) => s.outbound(),
            Transport::Ws(s) => s.outbound(),
        }
    }

    /// Why the session ended, once it has.
    pub fn ending(&self) -> Option<&Ending> {
        match &self.transport {
            Transport::Line(s) => s.ending(),
            Transport::Ws(s) => s.ending(),
        }
    }

    /// Whether the session still wants to read.
    pub fn is_open(&self) -> bool {
        self.ending().is_none()
    }

    /// How the client wants events.
    pub fn wire(&self) -> Wire {
        match &self.transport {
            Transport::Line(_) => Wire::Line,
            Transport::Ws(s) => s.wire(),
        }
    }

    /// The socket reached end of file.
    pub fn eof(&mut self) {
        match &mut self.transport {
            Transport::Line(s) => s.eof(),
            Transport::Ws(s) => s.eof(),
        }
    }
}

/// A raw line, `\n`-terminated, as bytes.
pub(crate) fn line_bytes(text: &str) -> Bytes {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    Bytes::from(line)
}
