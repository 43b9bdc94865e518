//! The TUI's connection: offline → connecting → up → (lost) → waiting → connecting …
//!
//! One enum holds the state and [`Link::next`] awaits whatever the state waits for (the
//! socket, the connect task, the retry timer, the next ping), so the event loop needs a
//! single `select!` branch for the network. Every await in it is cancel-safe: the socket's
//! `recv`, a `&mut JoinHandle`, and timers re-created from stored instants.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{Backoff, ClientError, Incoming, Target, Transport, Trust, Wire, random_unit};

/// How often to ping the server for the round-trip time (WebSocket only).
const PING_EVERY: Duration = Duration::from_secs(5);
/// The first ping comes soon, so the status bar shows a round trip right away.
const FIRST_PING: Duration = Duration::from_millis(300);
/// How long `/quit` waits for the server's goodbye.
const QUIT_WAIT: Duration = Duration::from_millis(1500);

/// What happened on the network side.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    Incoming(Incoming),
    /// The connection is up, speaking this wire format.
    Connected(Wire),
    /// The connection failed or ended; the link is offline until [`Link::retry`].
    Lost(String),
    /// Time to ping.
    PingDue,
    /// The retry delay is over: time to connect again.
    RetryDue,
}

#[derive(Debug)]
enum State {
    Offline,
    Connecting(JoinHandle<Result<Transport, ClientError>>),
    Up(Transport),
    Waiting(Instant),
}

/// The connection and its reconnect policy.
#[derive(Debug)]
pub(crate) struct Link {
    state: State,
    backoff: Backoff,
    next_ping: Instant,
    connect_timeout: Duration,
    trust: Trust,
}

impl Link {
    /// A link that is up already.
    pub(crate) fn up(transport: Transport, connect_timeout: Duration, trust: Trust) -> Self {
        Self {
            state: State::Up(transport),
            backoff: Backoff::default(),
            next_ping: Instant::now() + FIRST_PING,
            connect_timeout,
            trust,
        }
    }

    /// Starts connecting to `target` in the background (dropping any current connection).
    pub(crate) fn connect(&mut self, target: &Target) {
        self.abort();
        let (target, timeout, trust) = (target.clone(), self.connect_timeout, self.trust.clone());
        let task = tokio::spawn(async move { Transport::connect(&target, timeout, &trust).await });
        self.state = State::Connecting(task);
    }

    /// A user asked to connect: forget earlier failures.
    pub(crate) fn reset_backoff(&mut self) {
        self.backoff.reset();
    }

    /// After a loss: wait, then [`LinkEvent::RetryDue`]. Returns the attempt number and delay.
    pub(crate) fn retry(&mut self) -> (u32, Duration) {
        let delay = self.backoff.next_delay(random_unit());
        self.state = State::Waiting(Instant::now() + delay);
        (self.backoff.attempts(), delay)
    }

    /// The wire format, if a connection is up.
    pub(crate) fn wire(&self) -> Option<Wire> {
        match &self.state {
            State::Up(transport) => Some(transport.wire()),
            _ => None,
        }
    }

    /// The next network event. Cancel-safe.
    pub(crate) async fn next(&mut self) -> LinkEvent {
        let event = match &mut self.state {
            State::Offline => std::future::pending().await,
            State::Waiting(at) => {
                tokio::time::sleep_until(*at).await;
                return LinkEvent::RetryDue;
            }
            State::Connecting(task) => match task.await {
                Ok(Ok(transport)) => {
                    let wire = transport.wire();
                    self.state = State::Up(transport);
                    self.backoff.reset();
                    self.next_ping = Instant::now() + FIRST_PING;
                    return LinkEvent::Connected(wire);
                }
                Ok(Err(e)) => LinkEvent::Lost(e.to_string()),
                Err(e) => LinkEvent::Lost(format!("the connect task failed: {e}")),
            },
            State::Up(transport) => {
                let ping = self.next_ping;
                tokio::select! {
                    item = transport.recv() => match item {
                        Ok(Some(item)) => return LinkEvent::Incoming(item),
                        Ok(None) => LinkEvent::Lost(format!(
                            "the server at {} closed the connection",
                            transport.addr()
                        )),
                        Err(e) => LinkEvent::Lost(e.to_string()),
                    },
                    () = tokio::time::sleep_until(ping) => {
                        self.next_ping = Instant::now() + PING_EVERY;
                        return LinkEvent::PingDue;
                    }
                }
            }
        };
        self.state = State::Offline;
        event
    }

    /// Sends a line; `Ok(false)` if not connected.
    pub(crate) async fn send(&mut self, line: &str) -> Result<bool, ClientError> {
        let State::Up(transport) = &mut self.state else {
            return Ok(false);
        };
        let result = transport.send_line(line).await;
        if result.is_err() {
            self.state = State::Offline;
        }
        result.map(|()| true)
    }

    /// Pings the server (WebSocket); an error means the connection is lost.
    pub(crate) async fn ping(&mut self) -> Result<(), ClientError> {
        let State::Up(transport) = &mut self.state else {
            return Ok(());
        };
        let result = transport.ping().await;
        if result.is_err() {
            self.state = State::Offline;
        }
        result
    }

    /// Leaves politely: sends `quit_line`, waits a little for the goodbye, closes. Offline after.
    pub(crate) async fn disconnect(&mut self, quit_line: &str) {
        match std::mem::replace(&mut self.state, State::Offline) {
            State::Up(mut transport) => {
                if transport.send_line(quit_line).await.is_ok() {
                    let goodbye = async {
                        while let Ok(Some(item)) = transport.recv().await {
                            if let Incoming::Event(rustchat_proto::ServerEvent::Bye { .. }) = item {
                                break;
                            }
                        }
                    };
                    let _ = tokio::time::timeout(QUIT_WAIT, goodbye).await;
                }
                transport.close().await;
            }
            State::Connecting(task) => task.abort(),
            State::Offline | State::Waiting(_) => {}
        }
    }

    fn abort(&mut self) {
        if let State::Connecting(task) = std::mem::replace(&mut self.state, State::Offline) {
            task.abort();
        }
    }
}
