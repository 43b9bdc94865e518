//! The full-screen client: keys and server events → [`App`] → a ratatui frame.
//!
//! ```text
//! input thread (crossterm events) ─▶ channel ─┐
//!                                             ├─▶ select! ─▶ App (state) ─▶ draw ─▶ terminal
//! Link::next (socket, connect task, timers) ──┘        │
//!                                                      └─▶ Action ─▶ Link::send / connect / quit
//! ```
//!
//! The state ([`App`], in app.rs) knows nothing of terminals or sockets and is unit-tested;
//! drawing (draw.rs) only reads it; the connection and its reconnect policy live in link.rs;
//! terminal setup and restoration (also on panic) in terminal.rs. This file wires them.

mod app;
mod draw;
mod link;
mod terminal;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{self, Event};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

pub use app::{Action, App, CLIENT_HELP, Status};
pub use draw::{View, clock, draw, nick_color};
pub use terminal::{TerminalGuard, restore};

use crate::{ClientError, Incoming, Target, Transport, Trust};
use link::{Link, LinkEvent};

/// How the full-screen client starts.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// Sent as `/nick NAME` after connecting (and after every reconnect).
    pub nick: Option<String>,
    /// Sent as `/join ROOM` after connecting (and after every reconnect).
    pub room: Option<String>,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// Whom to trust for `wss://` and `tls://`.
    pub trust: Trust,
    /// Ring the terminal's bell on a mention or a private message.
    pub bell: bool,
    /// The password of the account `nick`: sign in with it at every connection (without
    /// one, the client asks when the server says the nick is registered).
    pub password: Option<rustchat_proto::Password>,
    /// An access token to sign in with at every connection (`--token-file`).
    pub token: Option<rustchat_proto::AccessToken>,
}

impl Default for TuiOptions {
    fn default() -> Self {
        Self {
            nick: None,
            room: None,
            connect_timeout: Duration::from_secs(10),
            trust: Trust::default(),
            bell: false,
            password: None,
            token: None,
        }
    }
}

/// Connects to `target`, then runs the full-screen client until `/quit`.
///
/// A first connection that fails is an error (nothing is drawn); later losses are shown and
/// retried. The terminal is restored on every way out.
pub async fn run(target: Target, options: TuiOptions) -> Result<(), ClientError> {
    let transport = Transport::connect(&target, options.connect_timeout, &options.trust).await?;
    let mut app = App::new(target, options.nick.clone(), options.room);
    if let (Some(nick), Some(password)) = (&options.nick, &options.password) {
        let client = std::mem::take(&mut app.client);
        app.client = client.with_credentials(nick, password.expose().to_owned());
    }
    if let Some(token) = &options.token {
        let client = std::mem::take(&mut app.client);
        app.client = client.with_token(token.expose().to_owned());
    }
    app.color = std::env::var_os("NO_COLOR").is_none();
    app.bell = options.bell;
    let mut link = Link::up(transport, options.connect_timeout, options.trust.clone());
    let (guard, mut terminal) = TerminalGuard::enter()?;
    let (events, input) = InputThread::spawn();
    let wire = link.wire().unwrap_or(crate::Wire::TcpLines);
    on_link_event(&mut app, &mut link, LinkEvent::Connected(wire)).await;
    let result = event_loop(&mut terminal, &mut app, &mut link, events).await;
    input.stop();
    drop(guard);
    result
}

async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    link: &mut Link,
    mut events: mpsc::UnboundedReceiver<Event>,
) -> Result<(), ClientError> {
    let mut signals = Signals::new()?;
    loop {
        let mut view = None;
        terminal.draw(|frame| view = Some(draw(frame, app)))?;
        if let Some(view) = view {
            app.page = view.page;
            app.max_scroll = view.max_scroll;
        }
        let action = tokio::select! {
            event = events.recv() => match event {
                Some(event) => app.on_event(&event, now_ms()),
                None => Some(Action::Quit("/quit".into())),
            },
            event = link.next() => {
                on_link_event(app, link, event).await;
                None
            }
            // SIGTERM or SIGHUP: leave as with /quit, so the terminal is restored.
            () = signals.recv() => Some(Action::Quit("/quit".into())),
        };
        if app.client.take_alerts() > 0 && app.bell {
            ring_bell();
        }
        match action {
            Some(Action::Quit(line)) => {
                link.disconnect(&line).await;
                return Ok(());
            }
            Some(Action::Send(line)) => send(app, link, &line).await,
            Some(Action::Connect(target)) => {
                link.disconnect("/quit").await;
                if let Some(target) = target {
                    app.target = target;
                }
                app.client
                    .notice(&format!("connecting to {}", app.target), now_ms());
                connect(app, link);
            }
            Some(Action::Disconnect) => {
                link.disconnect("/quit").await;
                app.client.on_disconnected();
                app.status = Status::Offline;
                app.rtt = None;
                app.client
                    .notice("disconnected; /connect to connect again", now_ms());
            }
            None => {}
        }
    }
}

fn connect(app: &mut App, link: &mut Link) {
    link.reset_backoff();
    link.connect(&app.target);
    app.status = Status::Connecting;
    app.rtt = None;
}

async fn on_link_event(app: &mut App, link: &mut Link, event: LinkEvent) {
    match event {
        LinkEvent::Incoming(Incoming::Pong(rtt)) => app.rtt = Some(rtt),
        LinkEvent::Incoming(item) => {
            for line in app.client.on_incoming(item) {
                send_quietly(app, link, &line).await;
            }
            app.ask_for_password(now_ms());
        }
        LinkEvent::Connected(wire) => {
            app.status = Status::Connected(wire);
            app.client
                .notice(&format!("connected to {}", app.target), now_ms());
            for line in app.client.on_connected(wire) {
                send_quietly(app, link, &line).await;
            }
        }
        LinkEvent::PingDue => {
            if let Err(e) = link.ping().await {
                lost(app, link, &e.to_string());
            }
        }
        LinkEvent::RetryDue => {
            link.connect(&app.target);
            app.status = Status::Connecting;
        }
        LinkEvent::Lost(reason) => lost(app, link, &reason),
    }
}

/// A line the user typed.
async fn send(app: &mut App, link: &mut Link, line: &str) {
    match link.send(line).await {
        Ok(true) => {
            for extra in app.client.on_sent(line) {
                send_quietly(app, link, &extra).await;
            }
        }
        Ok(false) => app.client.notice(
            "not connected, the line was not sent (/connect to connect)",
            now_ms(),
        ),
        Err(e) => lost(app, link, &e.to_string()),
    }
}

/// A line the client sends by itself.
async fn send_quietly(app: &mut App, link: &mut Link, line: &str) {
    if let Err(e) = link.send(line).await {
        lost(app, link, &e.to_string());
    }
}

/// The connection is gone: say so, and schedule the next attempt.
fn lost(app: &mut App, link: &mut Link, reason: &str) {
    app.client.on_disconnected();
    app.rtt = None;
    let (attempt, delay) = link.retry();
    app.status = Status::Retrying { attempt, delay };
    app.client.notice(
        &format!("{reason}; reconnecting in {:.1} s", delay.as_secs_f32()),
        now_ms(),
    );
}

/// BEL to the terminal (which beeps, flashes or marks the window, as its user set it).
fn ring_bell() {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
}

/// Unix time in milliseconds (0 if the clock is before 1970).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The signals that end the client politely (Unix: SIGTERM, SIGHUP).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.hangup.recv() => {}
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// Reads terminal events on a thread of its own (crossterm's reads block) into a channel.
struct InputThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl InputThread {
    fn spawn() -> (mpsc::UnboundedReceiver<Event>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(50)) {
                    Ok(false) => {}
                    Ok(true) => {
                        let sent = event::read().map(|event| tx.send(event));
                        if !matches!(sent, Ok(Ok(()))) {
                            return;
                        }
                    }
                    Err(_) => return, // dropping `tx` tells the loop to quit
                }
            }
        });
        (rx, Self { stop, handle })
    }

    /// Stops reading (within one poll interval) before the terminal is restored. If the
    /// thread does not stop in time — crossterm can spin inside `poll` on a terminal that has
    /// hung up — it is left behind: the process is about to exit, which ends it. (Joining it
    /// kept such a client alive forever, at 100% CPU.)
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = std::time::Instant::now() + Duration::from_millis(500);
        while !self.handle.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.handle.is_finished() {
            let _ = self.handle.join();
        }
    }
}
