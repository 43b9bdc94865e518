//! One client's chat session, sans-IO: bytes in, [`Action`]s out; events in, bytes out.
//!
//! The session knows its transport's framing (lines, or WebSocket frames holding lines or
//! JSON) and the per-connection rules (HELLO handshake, flood control, keepalive). It knows no
//! socket, thread or runtime: every concurrency model drives the same type, and tests drive it
//! with plain byte slices.

use std::collections::VecDeque;
use std::time::Instant;

use rustchat_proto::ServerEvent;
use rustchat_ws::outbound::Outbound;

use crate::session::action::Heard;
pub mod action;
pub mod flood;
pub mod line;
pub mod ws;

use crate::delivery::{Encoded, Wire};
use crate::session::flood::{FloodConfig, TokenBucket};
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
    flood: Option<Box<Flood>>,
    /// Asked to be closed ([`Action::Close`]): input is ignored until the driver ends it.
    closing: bool,
    /// An access token the client gave on the WebSocket upgrade: it joins signed in.
    token: Option<rustchat_proto::AccessToken>,
}

/// Flood control's state: the bucket, and what waits for it (see `flood`).
#[derive(Debug)]
struct Flood {
    bucket: TokenBucket,
    /// Heard and waiting for a token, in order (`None`: input that asks for nothing, a blank
    /// line, but costs a token all the same).
    queue: VecDeque<Option<Action>>,
    /// Since when the queue has been full, while it is.
    full_since: Option<Instant>,
    /// The client was told its lines are being held back (once per time the queue fills).
    told: bool,
    /// Commands that had to wait, not yet counted in `/metrics`.
    delayed: u64,
}

/// What a client whose lines started waiting is told (once, when its queue first fills).
pub fn flood_notice(config: &FloodConfig) -> String {
    format!(
        "flood control: you are sending faster than {} commands a second, so they wait and are \
         handled at that pace, in order; keep this up for {} s and you will be disconnected",
        config.rate,
        config.patience.as_secs_f64()
    )
}

/// The transport's next heard input or own action.
fn next_heard(transport: &mut Transport, now: Instant) -> Option<Heard> {
    match transport {
        Transport::Line(s) => s.next_action(),
        Transport::Ws(s) => s.next_action(now),
    }
}

impl Session {
    /// A session over `transport`, with flood control if given.
    pub fn new(transport: Transport, flood: Option<TokenBucket>) -> Self {
        Self {
            transport,
            flood: flood.map(|bucket| {
                Box::new(Flood {
                    bucket,
                    queue: VecDeque::new(),
                    full_since: None,
                    told: false,
                    delayed: 0,
                })
            }),
            closing: false,
            token: None,
        }
    }

    /// This session joins signed in with `token` (given on the WebSocket upgrade).
    pub fn with_token(mut self, token: Option<rustchat_proto::AccessToken>) -> Self {
        self.token = token;
        self
    }

    /// The token the client joins with, if any.
    pub fn token(&self) -> Option<&rustchat_proto::AccessToken> {
        self.token.as_ref()
    }

    /// Takes the token the client joins with.
    pub fn take_token(&mut self) -> Option<rustchat_proto::AccessToken> {
        self.token.take()
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
    /// error floods like any other. Input that finds no token waits in a bounded queue and is
    /// handled, in order, when tokens come ([`Session::next_deadline`] says when); while the
    /// queue is full, [`Session::accepts_input`] is false and the socket is not read. The
    /// first time the queue fills, the client is told; if it stays full for the patience, the
    /// session stops reading and asks to be closed *after* everything already owed to the
    /// client ([`Action::Close`]).
    pub fn next_action(&mut self, now: Instant) -> Option<Action> {
        if self.closing {
            return None;
        }
        let Some(flood) = self.flood.as_deref_mut() else {
            return loop {
                match next_heard(&mut self.transport, now)? {
                    Heard::Own(action) | Heard::Input(Some(action)) => break Some(action),
                    Heard::Input(None) => {}
                }
            };
        };
        let room = flood.bucket.config().queue.max(1);
        loop {
            // Kept full for the whole patience: the client sends faster than the rate, on end.
            if flood.full_since.is_some_and(|since| {
                now.saturating_duration_since(since) >= flood.bucket.config().patience
            }) {
                self.closing = true;
                return Some(Action::Close(Ending::Flood));
            }
            // The oldest waiting input goes first, when a token allows.
            if !flood.queue.is_empty() && flood.bucket.take(now) {
                flood.delayed += 1;
                match flood.queue.pop_front().flatten() {
                    Some(action) => return Some(action),
                    None => continue,
                }
            }
            // More input, while there is room to hold it.
            if flood.queue.len() < room {
                match next_heard(&mut self.transport, now) {
                    Some(Heard::Own(action)) => return Some(action),
                    Some(Heard::Input(action)) => {
                        if flood.queue.is_empty() && flood.bucket.take(now) {
                            match action {
                                Some(action) => return Some(action),
                                None => continue,
                            }
                        }
                        flood.queue.push_back(action);
                        continue;
                    }
                    None => {}
                }
            }
            // Nothing can go now: what waits, waits for a token.
            if flood.queue.len() >= room {
                flood.full_since.get_or_insert(now);
                if !flood.told {
                    flood.told = true;
                    return Some(Action::Reply(ServerEvent::error(
                        rustchat_proto::ErrorKind::Flood,
                        flood_notice(flood.bucket.config()),
                    )));
                }
            } else {
                flood.full_since = None;
                if flood.queue.is_empty() {
                    flood.told = false;
                }
            }
            return None;
        }
    }

    /// Whether to read more from the socket (not while flood control's queue is full).
    pub fn accepts_input(&self) -> bool {
        self.flood
            .as_deref()
            .is_none_or(|flood| flood.queue.len() < flood.bucket.config().queue.max(1))
    }

    /// Commands that waited for flood control since the last call (for `/metrics`).
    pub fn take_delayed(&mut self) -> u64 {
        self.flood
            .as_deref_mut()
            .map_or(0, |flood| std::mem::take(&mut flood.delayed))
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
        let bytes = event.bytes(self.wire(), self.deflate().as_ref());
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

    /// When [`tick`](Self::tick) (or [`next_action`](Self::next_action)) next has work, if
    /// ever: keepalive, a token for a waiting command, the end of flood control's patience.
    pub fn next_deadline(&self) -> Option<Instant> {
        let keepalive = match &self.transport {
            Transport::Line(_) => None,
            Transport::Ws(s) => s.next_deadline(),
        };
        let flood = self.flood.as_deref().and_then(|flood| {
            if self.closing || flood.queue.is_empty() {
                return None;
            }
            let token = flood.bucket.next_token();
            let patience = flood
                .full_since
                .map(|since| since + flood.bucket.config().patience);
            Some(patience.map_or(token, |end| end.min(token)))
        });
        match (keepalive, flood) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
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

    /// The settings of the compressed events the client takes (permessage-deflate), if any.
    pub fn deflate(&self) -> Option<rustchat_ws::DeflateConfig> {
        match &self.transport {
            Transport::Line(_) => None,
            Transport::Ws(s) => s.shared_deflate(),
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

    /// A line session that joined the chat: 1 token a second, bursts of `burst`, `queue`
    /// waiting, 10 s of patience.
    fn flooded_line_session(burst: f64, queue: usize) -> Session {
        let flood = FloodConfig {
            rate: 1.0,
            burst,
            queue,
            patience: std::time::Duration::from_secs(10),
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

    /// One fixed instant, and later ones.
    fn start() -> Instant {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    fn actions_at(session: &mut Session, now: Instant) -> Vec<Action> {
        std::iter::from_fn(|| session.next_action(now)).collect()
    }

    fn is_notice(action: &Action) -> bool {
        matches!(action, Action::Reply(ServerEvent::Error { message, .. }) if message.starts_with("flood control: you are sending faster"))
    }

    #[test]
    fn every_line_costs_a_token_errors_and_blank_lines_too() {
        let mut session = flooded_line_session(3.0, 4);
        session.receive(b"/frobnicate\n\ncaf\xe9\n/frobnicate\n");
        let got = actions_at(&mut session, start());
        assert!(
            matches!(got[0], Action::Reply(ServerEvent::Error { .. })) && !is_notice(&got[0]),
            "the unknown command is answered: {got:?}"
        );
        assert_eq!(
            got.len(),
            2,
            "the blank line asks nothing, the bad line is answered: {got:?}"
        );
        assert!(
            session.next_deadline().is_some(),
            "the fourth line waits for a token"
        );
        let later = actions_at(&mut session, start() + std::time::Duration::from_secs(1));
        assert_eq!(later.len(), 1, "…and is answered a second later: {later:?}");
    }

    #[test]
    fn a_full_queue_is_told_once_and_kept_full_for_the_patience_is_closed() {
        let mut session = flooded_line_session(1.0, 2);
        session.receive(b"a\nb\nc\nd\ne\n");
        let got = actions_at(&mut session, start());
        assert!(matches!(got[0], Action::Command(_)), "{got:?}");
        assert!(is_notice(&got[1]), "{got:?}");
        assert_eq!(got.len(), 2, "then nothing until a token: {got:?}");
        assert!(!session.accepts_input());
        let patience = start() + std::time::Duration::from_secs(10);
        // Still full at the end of the patience (one line a second out, one in): closed.
        for s in 1..10 {
            let now = start() + std::time::Duration::from_secs(s);
            let got = actions_at(&mut session, now);
            assert!(matches!(got[..], [Action::Command(_)]), "{s} s: {got:?}");
            session.receive(b"more\n");
        }
        assert_eq!(
            session.next_action(patience),
            Some(Action::Close(Ending::Flood))
        );
        assert!(session.is_open(), "the driver ends it, after what is owed");
        session.receive(b"more\n");
        assert_eq!(
            session.next_action(patience),
            None,
            "input is ignored from now on"
        );
    }
}
