//! What a serving thread waits on: its poll instance, the waker its connection's outbox rings,
//! and the buffer its reads land in.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Waker};

use super::{READ_CHUNK, SOCKET, WAKE};

/// What a thread waits on while it serves a connection: a poll instance and the waker the
/// connection's outbox rings. Made by a thread's first connection, kept for the next ones.
#[derive(Debug)]
pub(super) struct Poller {
    pub(super) poll: Poll,
    pub(super) waker: Arc<Waker>,
    pub(super) events: Events,
    /// Where reads land before the session takes them (zeroed once, not per read).
    pub(super) scratch: Box<[u8]>,
}

impl Poller {
    pub(super) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        Ok(Self {
            poll,
            waker,
            events: Events::with_capacity(8),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        })
    }

    /// Sleeps until the socket or the waker has news, at most `timeout` (`None`: no limit).
    pub(super) fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        poll_retrying(&mut self.poll, &mut self.events, timeout)
    }

    /// What the connection's socket is polled for (it is registered from start to end).
    pub(super) fn watch(&self, sock: &TcpStream, interest: Interest) -> io::Result<()> {
        self.poll
            .registry()
            .reregister(&mut SourceFd(&sock.as_raw_fd()), SOCKET, interest)
    }
}

/// `poll`, where a signal's interruption counts as a wake-up with no events.
pub(super) fn poll_retrying(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
) -> io::Result<()> {
    match poll.poll(events, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        other => other,
    }
}
