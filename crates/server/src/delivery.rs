//! What the hub hands to the rest of the server: who gets which event, and what to persist.
//!
//! Each event is wrapped once in an [`Encoded`], which encodes it lazily, at most once per
//! wire format — and compresses it at most once per wire format, for the WebSocket clients
//! that negotiated permessage-deflate — and is shared (`Arc`) by every receiver: fanning a
//! message out to a thousand connections copies a thousand pointers, not a thousand encodings
//! or compressions.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::session::action::Ending;
use rustchat_proto::{ChatMessage, ServerEvent};
use rustchat_ws::{DeflateConfig, Message, Prepared};

/// Identifies one client connection for the life of the server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// How a connection wants to receive events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// Text lines on a TCP stream (`nc`, `telnet`, the HELLO handshake).
    Line,
    /// WebSocket text frames, each holding one line of an event (`websocat`).
    WsLine,
    /// WebSocket text frames, each holding one event as a JSON object (browser, programs).
    WsJson,
}

impl Wire {
    /// How the log names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::WsLine => "websocket/line",
            Self::WsJson => "websocket/json",
        }
    }
}

/// A server event with its encodings, computed on first use and then shared.
#[derive(Debug)]
pub struct Encoded {
    event: ServerEvent,
    line: OnceLock<Bytes>,
    /// The WebSocket messages of each format, made once for the plain and compressed frames.
    ws_lines: OnceLock<Vec<Message>>,
    ws_json_message: OnceLock<Message>,
    ws_line: OnceLock<Prepared>,
    ws_json: OnceLock<Prepared>,
    /// The same frames with their compressed form (for permessage-deflate receivers).
    ws_line_deflated: OnceLock<Prepared>,
    ws_json_deflated: OnceLock<Prepared>,
}

impl Encoded {
    /// Wraps an event; nothing is encoded yet.
    pub fn new(event: ServerEvent) -> Arc<Self> {
        Arc::new(Self {
            event,
            line: OnceLock::new(),
            ws_lines: OnceLock::new(),
            ws_json_message: OnceLock::new(),
            ws_line: OnceLock::new(),
            ws_json: OnceLock::new(),
            ws_line_deflated: OnceLock::new(),
            ws_json_deflated: OnceLock::new(),
        })
    }

    /// The event.
    pub fn event(&self) -> &ServerEvent {
        &self.event
    }

    /// The line-protocol bytes (one line, `\n`-terminated).
    pub fn line(&self) -> &Bytes {
        self.line.get_or_init(|| Bytes::from(self.event.to_line()))
    }

    /// The complete WebSocket frame for a connection on `wire` (`Line` has no frame: `None`),
    /// with its compressed form too when `deflate` is given (a receiver that shares it).
    pub fn frame(&self, wire: Wire, deflate: Option<&DeflateConfig>) -> Option<&Prepared> {
        // One line per message, as a line reader (websocat) expects: a history, a member
        // list or a welcome with its MOTD is several.
        let lines = || {
            self.ws_lines.get_or_init(|| {
                let text = self.event.to_line();
                text.lines().map(|l| Message::text(l.to_owned())).collect()
            })
        };
        let json = || {
            self.ws_json_message
                .get_or_init(|| Message::from(self.event.to_json()))
        };
        let line_frames = || self.ws_line.get_or_init(|| Prepared::batch(lines()));
        let json_frame = || self.ws_json.get_or_init(|| Prepared::new(json()));
        // The compressed form is added to the plain one: each is encoded once.
        match (wire, deflate) {
            (Wire::Line, _) => None,
            (Wire::WsLine, None) => Some(line_frames()),
            (Wire::WsJson, None) => Some(json_frame()),
            (Wire::WsLine, Some(config)) => Some(
                self.ws_line_deflated
                    .get_or_init(|| line_frames().clone().with_deflated(lines(), config)),
            ),
            (Wire::WsJson, Some(config)) => Some(
                self.ws_json_deflated
                    .get_or_init(|| json_frame().clone().with_deflated([json()], config)),
            ),
        }
    }

    /// The bytes a connection on `wire` is sent for this event: compressed for a receiver
    /// that shares compressed frames (`deflate`), when the event is worth compressing.
    pub fn bytes(&self, wire: Wire, deflate: Option<&DeflateConfig>) -> &Bytes {
        match self.frame(wire, deflate) {
            Some(frame) => frame
                .deflated_bytes()
                .map_or(frame.as_bytes(), |(compressed, _)| compressed),
            None => self.line(),
        }
    }
}

/// One event for one connection.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The receiver.
    pub to: ConnId,
    /// The event, shared with its other receivers.
    pub event: Arc<Encoded>,
}

/// The result of one hub call, in the order things must happen: first `record` is made durable
/// (appended to the history), then `deliveries` are fanned out, then `close` is acted on.
#[derive(Debug, Default)]
pub struct Outcome {
    /// A room message to append to the history before anyone receives it.
    pub record: Option<ChatMessage>,
    /// Rules and audit entries to make durable, like `record`, before anyone receives a word.
    pub state: Vec<crate::rules::StateChange>,
    /// Events to send, in order (per receiver, the order is the order here).
    pub deliveries: Vec<Delivery>,
    /// A connection the server should close after its deliveries are flushed, and why
    /// (`/quit`; a flooding client).
    pub close: Option<(ConnId, Ending)>,
}

impl Outcome {
    /// Adds one event for one receiver.
    pub fn push(&mut self, to: ConnId, event: &Arc<Encoded>) {
        self.deliveries.push(Delivery {
            to,
            event: Arc::clone(event),
        });
    }

    /// Adds one event for each receiver (the event is shared, not copied).
    pub fn push_all(&mut self, to: impl IntoIterator<Item = ConnId>, event: &Arc<Encoded>) {
        self.deliveries.extend(to.into_iter().map(|to| Delivery {
            to,
            event: Arc::clone(event),
        }));
    }

    /// An outcome that only closes `conn`, after everything submitted before it.
    pub fn close(conn: ConnId, ending: Ending) -> Self {
        Self {
            close: Some((conn, ending)),
            ..Self::default()
        }
    }

    /// An outcome with one event for one receiver.
    pub fn reply(to: ConnId, event: ServerEvent) -> Self {
        let mut outcome = Self::default();
        outcome.push(to, &Encoded::new(event));
        outcome
    }
}
