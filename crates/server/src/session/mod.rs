//! One client's chat session, sans-IO: bytes in, [`Action`]s out; events in, bytes out.
//!
//! The session knows its transport's framing (lines, or WebSocket frames holding lines or
//! JSON) and the per-connection rules (HELLO handshake, flood control, keepalive). It knows no
//! socket, thread or runtime: every concurrency model drives the same type, and tests drive it
//! with plain byte slices.

use std::time::Instant;

use rustchat_proto::ServerEvent;
use rustchat_ws::outbound::Outbound;

use crate::session::action::Heard;
pub mod action;
pub mod flood;
pub mod line;
pub mod ws;

use crate::delivery::{Encoded, Wire};
use crate::session::flood::{TokenBucket, Verdict};
use crate::session::line::LineSession;
use crate::session::ws::WsSession;
pub use action::{Action, Ending};

/// The transport-specific half of a session.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per connection, kept in its task or thread: boxing the larger variant would \
              only add an allocation"
)]
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
    /// Asked to be closed ([`Action::Close`]): input is ignored until the driver ends it.
    closing: bool,
}

/// What a client over its flood budget is told, for each line or frame dropped.
pub const FLOOD_WARNING: &str = "flood control: that command was dropped — slow down to at \
                                 most a few commands per second";

impl Session {
    /// A session over `transport`, with flood control if given.
    pub fn new(transport: Transport, flood: Option<TokenBucket>) -> Self {
        Self {
            transport,
            flood,
            closing: false,
        }
    }

    /// The transport-specific half.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Feeds bytes read from the socket (ignored once the session asked to be closed).
    pub fn receive(&mut self, data: &[u8]) {
        if self.closing {
            return;
        }
        match &mut self.transport {
            Transport::Line(s) => s.receive(data),
            Transport::Ws(s) => s.receive(data),
        }
    }

    /// The next thing to do, from the bytes received so far (monotonic time `now`).
    ///
    /// Flood control: every line or frame the client sends costs a token — a command, a line
    /// that fails to parse, a blank line, a binary frame, a ping — so input answered with an
    /// error floods like any other. One over the budget is dropped with a warning (the
    /// warning replaces its answer); past the strikes, the session stops reading and asks to
    /// be closed *after* everything already owed to the client ([`Action::Close`]), so the
    /// client sees its echoes and warnings before `ERROR flooding`.
    pub fn next_action(&mut self, now: Instant) -> Option<Action> {
        if self.closing {
            return None;
        }
        loop {
            let heard = match &mut self.transport {
                Transport::Line(s) => s.next_action(),
                Transport::Ws(s) => s.next_action(now),
            }?;
            let action = match heard {
                Heard::Own(action) => return Some(action),
                Heard::Input(action) => action,
            };
            let verdict = self.flood.as_mut().map_or(Verdict::Allow, |b| b.check(now));
            match verdict {
                Verdict::Allow => match action {
                    Some(action) => return Some(action),
                    None => continue,
                },
                Verdict::Warn => {
                    return Some(Action::Reply(ServerEvent::error(
                        rustchat_proto::ErrorKind::Flood,
                        FLOOD_WARNING,
                    )));
                }
                Verdict::Disconnect => {
                    self.closing = true;
                    return Some(Action::Close(Ending::Flood));
                }
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

    /// Periodic duties (WebSocket keepalive) at time `now`.
    pub fn tick(&mut self, now: Instant) {
        if let Transport::Ws(s) = &mut self.transport {
            s.tick(now);
        }
    }

    /// When [`tick`](Self::tick) next has work, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.transport {
            Transport::Line(_) => None,
            Transport::Ws(s) => s.next_deadline(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::flood::FloodConfig;

    /// A line session that joined the chat, with a bucket of `burst` tokens and `strikes`.
    fn flooded_line_session(burst: f64, strikes: u32) -> Session {
        let flood = FloodConfig {
            rate: 1.0,
            burst,
            strikes,
        };
        let mut session = Session::new(
            Transport::Line(LineSession::new(4096)),
            Some(TokenBucket::new(flood, start())),
        );
        session.receive(b"\n");
        assert_eq!(session.next_action(start()), Some(Action::Register));
        assert_eq!(session.next_action(start()), None, "joining costs no token");
        session
    }

    /// One fixed instant: these tests let no time pass.
    fn start() -> Instant {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    fn actions(session: &mut Session) -> Vec<Action> {
        std::iter::from_fn(|| session.next_action(start())).collect()
    }

    fn is_warning(action: &Action) -> bool {
        matches!(action, Action::Reply(ServerEvent::Error { message, .. }) if message == FLOOD_WARNING)
    }

    #[test]
    fn every_line_costs_a_token_errors_and_blank_lines_too() {
        let mut session = flooded_line_session(3.0, 2);
        session.receive(b"/frobnicate\n\ncaf\xe9\n/frobnicate\n");
        let got = actions(&mut session);
        assert!(
            matches!(got[0], Action::Reply(ServerEvent::Error { .. })) && !is_warning(&got[0]),
            "the unknown command is answered: {got:?}"
        );
        assert!(
            !is_warning(&got[1]),
            "the blank line asks nothing, the bad line is answered"
        );
        assert!(
            is_warning(&got[2]),
            "the fourth line is over the burst of 3: {got:?}"
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn past_the_strikes_the_session_asks_to_close_and_stops_listening() {
        let mut session = flooded_line_session(1.0, 2);
        session.receive(b"a\nb\nc\nd\ne\n");
        let got = actions(&mut session);
        assert!(matches!(got[0], Action::Command(_)));
        assert!(is_warning(&got[1]) && is_warning(&got[2]));
        assert_eq!(got[3], Action::Close(Ending::Flood));
        assert_eq!(got.len(), 4, "nothing after the close: {got:?}");
        assert!(session.is_open(), "the driver ends it, after what is owed");
        session.receive(b"more\n");
        assert_eq!(
            session.next_action(start()),
            None,
            "input is ignored from now on"
        );
    }
}
