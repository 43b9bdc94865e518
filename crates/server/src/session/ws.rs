//! The WebSocket session: each text frame is one JSON object (the JSON protocol) or one line
//! (the line protocol), so a browser and `websocat` are both at home.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rustchat_proto::{Command, ErrorKind, ErrorReply, ServerEvent};
use rustchat_ws::outbound::Outbound;
use rustchat_ws::{
    CloseCode, CloseFrame, Connection, DeflateConfig, DeflateParams, Event, Message, Role,
};

use crate::delivery::{Encoded, Wire};
use crate::session::action::{Action, Ending, Heard};

/// Keepalive timings.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    /// Ping a client that has been quiet this long.
    pub interval: Duration,
    /// Drop it if the pong takes longer than this.
    pub timeout: Duration,
}

/// A WebSocket chat session.
#[derive(Debug)]
pub struct WsSession {
    conn: Connection,
    wire: Wire,
    /// Fixed by a negotiated subprotocol; otherwise the client's first JSON message switches
    /// the session to JSON.
    wire_fixed: bool,
    keepalive: Keepalive,
    /// When we last heard from the client.
    last_heard: Instant,
    /// When our unanswered ping went out.
    ping_sent: Option<Instant>,
    /// Pings sent so far: the payload of the next one.
    pings: u64,
    /// The last measured round trip.
    rtt: Option<Duration>,
    pending: VecDeque<Heard>,
    ending: Option<Ending>,
    /// permessage-deflate as negotiated so that this client takes events compressed once for
    /// all (no context kept on our side, our full window): the settings they are made with.
    shared_deflate: Option<DeflateConfig>,
}

impl WsSession {
    /// A session after a successful upgrade. `leftover` holds frames that came with the request.
    pub fn new(
        config: rustchat_ws::Config,
        wire: Option<Wire>,
        deflate: Option<DeflateParams>,
        keepalive: Keepalive,
        now: Instant,
        leftover: &[u8],
    ) -> Self {
        let mut conn = Connection::with_deflate(Role::Server, config, deflate);
        conn.receive(leftover);
        let shared_deflate = deflate
            .filter(|p| {
                p.server_no_context_takeover
                    && p.server_max_window_bits >= config.deflate.max_window_bits
            })
            .map(|_| config.deflate);
        Self {
            conn,
            wire: wire.unwrap_or(Wire::WsLine),
            wire_fixed: wire.is_some(),
            keepalive,
            last_heard: now,
            ping_sent: None,
            pings: 0,
            rtt: None,
            pending: VecDeque::from([Heard::Own(Action::Register)]),
            ending: None,
            shared_deflate,
        }
    }

    /// Feeds socket bytes.
    pub fn receive(&mut self, data: &[u8]) {
        self.conn.receive(data);
    }

    /// The next thing heard from the frames received: every message, ping and pong is one
    /// [`Heard::Input`].
    pub(crate) fn next_action(&mut self, now: Instant) -> Option<Heard> {
        loop {
            if let Some(action) = self.pending.pop_front() {
                return Some(action);
            }
            if self.ending.is_some() {
                return None;
            }
            let event = match self.conn.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => {
                    self.conn.release_idle_buffer();
                    return None;
                }
                Err(e) => {
                    self.ending = Some(Ending::Protocol(e.to_string()));
                    return None;
                }
            };
            self.last_heard = now;
            self.on_event(event, now);
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Message(Message::Text(text)) => self.on_text(text.as_str()),
            Event::Message(Message::Binary(_)) => {
                self.pending
                    .push_back(Heard::Input(Some(Action::Reply(ServerEvent::error(
                        ErrorKind::Usage,
                        "binary frames are not understood: send text frames holding a JSON \
                         object or a line",
                    )))))
            }
            // The pong is already queued by the connection.
            Event::Ping(_) => self.pending.push_back(Heard::Input(None)),
            Event::Pong(_) => {
                if let Some(sent) = self.ping_sent.take() {
                    self.rtt = Some(now.saturating_duration_since(sent));
                }
                self.pending.push_back(Heard::Input(None));
            }
            Event::Close(_) => self.ending = Some(Ending::Peer),
        }
    }

    fn on_text(&mut self, text: &str) {
        // A `rustchat.json` client's every text is JSON (`[]` gets the error the protocol
        // documents, not a line to post); other clients send lines or objects, and one without
        // a subprotocol switches its events to JSON with its first object.
        let json_only = self.wire_fixed && self.wire == Wire::WsJson;
        let is_json = json_only || text.trim_start().starts_with('{');
        if is_json && !self.wire_fixed && self.wire != Wire::WsJson {
            self.wire = Wire::WsJson;
            self.pending
                .push_back(Heard::Own(Action::Wire(Wire::WsJson)));
        }
        if is_json {
            self.heard(Command::from_json(text).map(Some).map_err(|e| e.to_event()));
            return;
        }
        // A line per frame, the way websocat sends them: with its line break, which ends the
        // line rather than belonging to it. A frame holding several lines is several, each
        // charged to flood control like a line of the line protocol.
        // As in the line protocol, `\r\n` ends a line too; a lone `\r` is text.
        if text.is_empty() {
            self.heard(Ok(None));
        }
        for piece in text.split_inclusive('\n') {
            let line = match piece.strip_suffix('\n') {
                Some(line) => line.strip_suffix('\r').unwrap_or(line),
                None => piece,
            };
            self.heard(Command::parse(line).map_err(|e| e.to_event()));
        }
    }

    fn heard(&mut self, parsed: Result<Option<Command>, ServerEvent>) {
        let action = match parsed {
            Ok(Some(command)) => Some(Action::Command(command)),
            Ok(None) => None,
            Err(event) => Some(Action::Reply(event)),
        };
        self.pending.push_back(Heard::Input(action));
    }

    /// Queues an event: its frame, encoded once for all receivers, costs a pointer copy.
    pub fn push_event(&mut self, event: &Encoded) {
        if let Some(frame) = event.frame(self.wire, self.shared_deflate.as_ref()) {
            // Fails only after our Close went out, when nothing more may be sent.
            let _ = self.conn.send_prepared(frame);
        }
    }

    /// Ends the session with a Close frame whose code says why.
    pub fn end(&mut self, ending: Ending) {
        if self.ending.is_some() {
            return;
        }
        let code = match &ending {
            Ending::Peer | Ending::Quit => CloseCode::NORMAL,
            Ending::Protocol(_) => CloseCode::PROTOCOL,
            Ending::SlowConsumer | Ending::Flood => CloseCode::POLICY,
            // ARCHITECTURE.md: an unanswered keepalive closes with 1011.
            Ending::Timeout(_) => CloseCode::INTERNAL,
            Ending::Shutdown => CloseCode::GOING_AWAY,
        };
        let mut reason = ending.reason();
        truncate(&mut reason, 123);
        let _ = self.conn.close(Some(CloseFrame::new(code, reason)));
        self.ending = Some(ending);
    }

    /// Keepalive: ping a quiet client; give up on one that does not answer.
    pub fn tick(&mut self, now: Instant) {
        if self.ending.is_some() {
            return;
        }
        match self.ping_sent {
            Some(sent) if now.saturating_duration_since(sent) >= self.keepalive.timeout => {
                let waited = now.saturating_duration_since(sent).as_secs();
                self.end(Ending::Timeout(format!(
                    "no pong to our ping in {waited} s"
                )));
            }
            None if now.saturating_duration_since(self.last_heard) >= self.keepalive.interval
                && self.conn.ping(self.pings.to_be_bytes().to_vec()).is_ok() =>
            {
                self.pings += 1;
                self.ping_sent = Some(now);
            }
            Some(_) | None => {}
        }
    }

    /// When [`tick`](Self::tick) next has something to check: the pong deadline while a ping
    /// is out, else when the client will have been quiet for a ping interval.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.ending.is_some() {
            return None;
        }
        Some(match self.ping_sent {
            Some(sent) => sent + self.keepalive.timeout,
            None => self.last_heard + self.keepalive.interval,
        })
    }

    /// Bytes for the socket.
    pub fn outbound(&mut self) -> &mut Outbound {
        self.conn.outbound()
    }

    /// Why it ended, if it has.
    pub fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    /// How the client wants events.
    pub fn wire(&self) -> Wire {
        self.wire
    }

    /// The settings of the compressed events this client takes, if it takes them.
    pub fn shared_deflate(&self) -> Option<DeflateConfig> {
        self.shared_deflate
    }

    /// The last keepalive round trip.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The socket hit end of file without a Close frame.
    pub fn eof(&mut self) {
        if self.ending.is_none() {
            self.ending = Some(Ending::Peer);
        }
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}
