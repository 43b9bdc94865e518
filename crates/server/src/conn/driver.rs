//! What every concurrency model does with a session, whatever drives its I/O: apply its
//! actions, pump its outbox into it, keep its deadlines, and settle the books when it ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::accounts::Ticket;
use crate::delivery::{ConnId, Wire};
use crate::fanout::outbox::{Drained, Outbox};
use crate::model::stream::ByteStream;
use crate::session::flood::TokenBucket;
use crate::session::line::LineSession;
use crate::session::ws::{Keepalive, WsSession};
use crate::session::{Action, Ending, Session, Transport};
use crate::shared::Shared;
use rustchat_proto::Command;
use rustchat_ws::DeflateParams;

#[cfg(test)]
mod tests;

/// Pending outbound bytes above which a connection stops taking events from its outbox: past
/// it, the outbox fills up and the slow-consumer policy decides.
pub(crate) const HIGH_WATER: usize = 256 * 1024;

/// One session's link to the shared state.
#[derive(Debug)]
pub(crate) struct Driver<'a> {
    shared: &'a Shared,
    conn: ConnId,
    outbox: Arc<Outbox>,
    /// When the session's handshake (HELLO) began, while one is under way.
    handshake_since: Option<Instant>,
    /// Who it is, and since when (for the log).
    peer: SocketAddr,
    opened: Instant,
    /// The nick it had when it sent `/quit` (the hub forgets it at once).
    quit_as: Option<String>,
    /// An account command the account service is deciding: until it is done, the session's
    /// further input waits (so it is handled in the order the client sent it).
    pending: Option<Arc<Ticket>>,
}

impl<'a> Driver<'a> {
    /// Registers the session's outbox, and logs the connection.
    pub(crate) fn open(shared: &'a Shared, session: &Session, peer: SocketAddr) -> Self {
        let (conn, outbox) = shared.open_conn(session.wire(), session.deflate());
        let protocol = session.wire().name();
        tracing::info!(target: "rustchat::conn", %conn, %peer, protocol, "connection opened");
        Self {
            shared,
            conn,
            outbox,
            handshake_since: None,
            peer,
            opened: shared.clock.now(),
            quit_as: None,
            pending: None,
        }
    }

    /// The outbox, for drivers that wait on it.
    pub(crate) fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Carries out everything the session has decided from the bytes it was fed.
    /// Stops, leaving the rest queued in the session, when an account command goes to the
    /// account service; [`pump`](Self::pump) goes on once it is decided.
    pub(crate) fn act(&mut self, session: &mut Session) {
        let now = self.shared.clock.now();
        if self
            .pending
            .as_ref()
            .is_some_and(|ticket| !ticket.is_done())
        {
            return;
        }
        self.pending = None;
        while let Some(action) = session.next_action(now) {
            match action {
                Action::Command(Command::Quit(_)) => {
                    self.quit_as = self.shared.nick_of(self.conn);
                }
                Action::Command(command) if command.is_for_accounts() => {
                    let ip = self.peer.ip();
                    self.pending = self
                        .shared
                        .submit_account(self.conn, ip, command, &self.outbox);
                    if self.pending.is_some() {
                        break;
                    }
                    continue;
                }
                // A token on the WebSocket upgrade: the client joins signed in, once the
                // account service has checked it.
                Action::Register if session.token().is_some() => {
                    if let Some(token) = session.take_token() {
                        let ip = self.peer.ip();
                        self.pending =
                            self.shared
                                .connect_with_token(self.conn, ip, token, &self.outbox);
                        if self.pending.is_some() {
                            break;
                        }
                    }
                    continue;
                }
                _ => {}
            }
            self.shared
                .apply(self.conn, self.peer.ip(), action, &self.outbox);
        }
        let delayed = session.take_delayed();
        if delayed > 0 {
            self.shared.metrics.add_flood_delayed(delayed);
        }
        self.handshake_since = match self.handshake_since {
            _ if !session.in_handshake() => None,
            Some(since) => Some(since),
            None => Some(now),
        };
    }

    /// Lets the fan-out write this session's events straight to `socket` while the driver is
    /// idle (see `outbox`: [`claim`](Self::claim) and [`release`](Self::release)).
    pub(crate) fn write_through(&self, socket: Arc<dyn ByteStream>) {
        self.outbox.set_socket(Some(socket));
    }

    /// Takes the socket back from the fan-out: call on every wake-up, before the session
    /// reads, ticks or takes events (anything that may produce bytes).
    pub(crate) fn claim(&self) {
        self.outbox.claim();
    }

    /// Lends the socket to the fan-out until the next [`claim`](Self::claim), if the session
    /// has nothing left to write and nothing is queued for it.
    pub(crate) fn release(&self, session: &mut Session) {
        if session.is_open() && session.outbound().is_empty() {
            self.outbox.release();
        }
    }

    /// Whether the session has room for more events (its socket is keeping up).
    pub(crate) fn wants_events(&self, session: &mut Session) -> bool {
        session.is_open() && session.outbound().len() < HIGH_WATER
    }

    /// Whether the client's bytes should be read now. Not while the session owes the client
    /// [`HIGH_WATER`] bytes or more: what a client sends can make us owe it more (pongs,
    /// answers), so one that sends without reading is held back by TCP until it reads — it
    /// cannot grow our memory (issue 17, the ping flood).
    ///
    /// Nor while an account command is being decided: what the client sends meanwhile waits
    /// in the socket, not in our memory.
    pub(crate) fn wants_input(&self, session: &mut Session) -> bool {
        self.pending.is_none() && self.wants_events(session) && session.accepts_input()
    }

    /// Moves queued events into the session (a pointer copy each), or ends it as a slow
    /// consumer, or after `/quit`.
    pub(crate) fn pump(&mut self, session: &mut Session) {
        let drained = self.outbox.drain(|event, skip| match skip {
            0 => session.push_event(event),
            _ => session.push_rest(event, skip),
        });
        match drained {
            Drained::Overflowed => {
                self.shared.metrics.slow_consumer();
                session.end(Ending::SlowConsumer);
            }
            Drained::Closing(ending) => session.end(ending),
            Drained::Shutdown => session.end(Ending::Shutdown),
            Drained::Events => {}
        }
        // The outbox's signal: an account command was decided, so the input behind it goes on.
        if self.pending.as_ref().is_some_and(|ticket| ticket.is_done()) {
            self.act(session);
        }
    }

    /// The next moment [`tick`](Self::tick) has something to check, if any: a driver may
    /// sleep until then instead of ticking. Deadlines only move later as the client is heard
    /// from, so a driver may keep an earlier wake-up and call `tick` early.
    pub(crate) fn deadline(&self, session: &Session) -> Option<Instant> {
        let handshake = self
            .handshake_since
            .map(|since| since + self.shared.config.handshake_timeout);
        let keepalive = session.next_deadline();
        match (handshake, keepalive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Keepalive, and the deadline for finishing the HELLO handshake. Harmless to call early
    /// or often.
    pub(crate) fn tick(&mut self, session: &mut Session) {
        let now = self.shared.clock.now();
        session.tick(now);
        // Commands waiting for flood control's tokens, and the end of its patience.
        self.act(session);
        let limit = self.shared.config.handshake_timeout;
        let late = self
            .handshake_since
            .is_some_and(|since| now.saturating_duration_since(since) >= limit);
        if late && session.is_open() {
            self.shared.metrics.timeout();
            session.end(Ending::Timeout(format!(
                "HELLO handshake not finished within {} s",
                limit.as_secs_f64()
            )));
        }
    }

    /// The session is over: count why, tell its rooms, forget it. Its last bytes (a slow
    /// consumer's too: its goodbye comes after what its socket still holds) are then flushed
    /// within the grace period.
    pub(crate) fn close(self, session: &Session) {
        self.outbox.set_socket(None);
        let ending = session.ending().cloned();
        match &ending {
            Some(Ending::Protocol(_)) => self.shared.metrics.protocol_error(),
            Some(Ending::Flood) => self.shared.metrics.flood_disconnect(),
            _ => {}
        }
        let reason = ending
            .as_ref()
            .filter(|e| **e != Ending::Quit)
            .map(Ending::reason);
        let nick = self
            .shared
            .close_conn(self.conn, reason.clone())
            .or(self.quit_as);
        // Never the text of a message: who, how long, and why it ended.
        let seconds = self
            .shared
            .clock
            .now()
            .saturating_duration_since(self.opened);
        let ended = match &ending {
            Some(Ending::Quit) => "quit".to_owned(),
            Some(Ending::Peer) => "the client closed the connection".to_owned(),
            Some(_) => reason.unwrap_or_default(),
            None => "closed".to_owned(),
        };
        tracing::info!(
            target: "rustchat::conn",
            conn = %self.conn,
            peer = %self.peer,
            protocol = session.wire().name(),
            nick = nick.as_deref().unwrap_or("-"),
            seconds = (seconds.as_secs_f64() * 10.0).round() / 10.0,
            ended = %ended,
            "connection closed"
        );
    }
}

/// A line session for a client whose first bytes are `first` (none: it is silent, greet it).
pub(crate) fn line_session(shared: &Shared, first: &[u8]) -> Session {
    shared.metrics.line_session();
    let mut line = LineSession::new(shared.config.max_line);
    if first.is_empty() {
        line.greet();
    }
    line.receive(first);
    Session::new(Transport::Line(line), flood(shared))
}

/// A WebSocket session after a successful upgrade; `leftover` came with the request.
pub(crate) fn ws_session(
    shared: &Shared,
    wire: Option<Wire>,
    deflate: Option<DeflateParams>,
    leftover: &[u8],
) -> Session {
    shared.metrics.ws_session();
    if deflate.is_some() {
        shared.metrics.ws_deflate_session();
    }
    let config = &shared.config;
    let keepalive = Keepalive {
        interval: config.ping_interval,
        timeout: config.pong_timeout,
    };
    let ws = WsSession::new(
        config.ws_config(),
        wire,
        deflate,
        keepalive,
        shared.clock.now(),
        leftover,
    );
    Session::new(Transport::Ws(ws), flood(shared))
}

fn flood(shared: &Shared) -> Option<TokenBucket> {
    shared
        .config
        .flood
        .map(|f| TokenBucket::new(f, shared.clock.now()))
}
