//! `Conn`: one connection's whole logic once its opening is done, sans-IO.
//!
//! A concurrency model owns the socket and the waiting; everything else about a connection is
//! here, the same for every model: feeding what was read to the session and acting on it,
//! pumping the outbox, keepalive and handshake deadlines from the server's clock, lending the
//! socket to the fan-out while idle, and settling the books at the end. The model's loop is
//!
//! ```text
//! loop {
//!     write conn.poll_transmit()            (what the socket takes now)
//!     if conn.is_done() { break }
//!     conn.sleep()                           (before waiting: lend the socket if nothing is left)
//!     wait for: readable (if conn.wants_read()), writable (if conn.wants_write()),
//!               the outbox (conn.wants_events()), the clock (conn.poll_timeout())
//!     conn.wake()                            (take the socket back before anything else)
//!     conn.handle_read(bytes) / handle_eof() / handle_outbox() / handle_timeout()
//! }
//! write conn.close() within the grace
//! ```
//!
//! as `quinn-proto`'s `Connection` is driven by quinn's runtimes.

pub(crate) mod driver;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustchat_ws::outbound::Outbound;

use crate::conn::driver::Driver;
use crate::fanout::outbox::Outbox;
use crate::model::stream::ByteStream;
use crate::session::{Ending, Session};
use crate::shared::Shared;

/// One connection after its opening: its session and its link to the shared state.
#[derive(Debug)]
pub(crate) struct Conn<'a> {
    driver: Driver<'a>,
    session: Session,
}

impl<'a> Conn<'a> {
    /// Registers `session`'s connection (the fan-out may write to `socket` while it is idle)
    /// and acts on whatever the session already holds (a WebSocket session joins at once; a
    /// line session may hold the first lines).
    pub(crate) fn new(
        shared: &'a Shared,
        session: Session,
        socket: Arc<dyn ByteStream>,
        peer: SocketAddr,
    ) -> Self {
        let driver = Driver::open(shared, &session, peer);
        driver.write_through(socket);
        let mut conn = Self { driver, session };
        conn.act();
        conn
    }

    /// The connection's outbox, for models that wait on it (a task's waker, a poller's).
    pub(crate) fn outbox(&self) -> &Arc<Outbox> {
        self.driver.outbox()
    }

    fn act(&mut self) {
        self.driver.act(&mut self.session);
    }

    /// Bytes read from the socket.
    pub(crate) fn handle_read(&mut self, bytes: &[u8]) {
        self.session.receive(bytes);
        self.act();
    }

    /// The socket reached the end of the stream.
    pub(crate) fn handle_eof(&mut self) {
        self.session.eof();
        self.act();
    }

    /// The outbox has news: events, or an overflow, a close or the shutdown.
    pub(crate) fn handle_outbox(&mut self) {
        self.driver.pump(&mut self.session);
    }

    /// The deadline of [`Conn::poll_timeout`] came (harmless early or twice).
    pub(crate) fn handle_timeout(&mut self) {
        self.driver.tick(&mut self.session);
    }

    /// The server is stopping: say goodbye (for models that learn it from a flag; the outbox
    /// carries it too).
    pub(crate) fn handle_shutdown(&mut self) {
        self.session.end(Ending::Shutdown);
    }

    /// The bytes to write now; advance it by what the socket took.
    pub(crate) fn poll_transmit(&mut self) -> &mut Outbound {
        self.session.outbound()
    }

    /// When [`Conn::handle_timeout`] has something to do next, if ever.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.driver.deadline(&self.session)
    }

    /// Whether the session is over: write [`Conn::close`]'s last bytes and close.
    pub(crate) fn is_done(&self) -> bool {
        !self.session.is_open()
    }

    /// Whether to read the socket now (not while the client is owed too much).
    pub(crate) fn wants_read(&mut self) -> bool {
        self.driver.wants_input(&mut self.session)
    }

    /// Whether bytes wait for the socket.
    pub(crate) fn wants_write(&mut self) -> bool {
        !self.session.outbound().is_empty()
    }

    /// Whether to take events from the outbox now (not while the socket is not keeping up;
    /// an overflow or the shutdown still count as news then).
    pub(crate) fn wants_events(&mut self) -> bool {
        self.driver.wants_events(&mut self.session)
    }

    /// Whether the outbox has news this connection should act on now (for models that look
    /// rather than wait: see [`Outbox::poll_ready`] for those that wait).
    pub(crate) fn outbox_has_news(&mut self) -> bool {
        let taking = self.wants_events();
        self.session.is_open() && self.driver.outbox().has_news(taking)
    }

    /// About to wait: if nothing is left to write, the fan-out may write this connection's
    /// events itself until [`Conn::wake`].
    pub(crate) fn sleep(&mut self) {
        if !self.wants_write() {
            self.driver.release(&mut self.session);
        }
    }

    /// Woken: take the socket back from the fan-out before anything can produce bytes.
    pub(crate) fn wake(&self) {
        self.driver.claim();
    }

    /// The session is over: tell its rooms and forget it. Returns its last bytes (its
    /// goodbye), to write within the shutdown grace before closing.
    pub(crate) fn close(mut self) -> Outbound {
        self.driver.close(&self.session);
        std::mem::take(self.session.outbound())
    }
}
