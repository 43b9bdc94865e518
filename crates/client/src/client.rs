//! The view model: [`Incoming`] items from the server → what a person sees ([`Entry`]s, who
//! and where we are, the room list) and what the client should send by itself (`/list`, and
//! after a reconnect the `/nick` and `/join` that restore the session).
//!
//! No I/O and no drawing here, so the whole conversation logic is tested with plain values.
//! Every text from the server is sanitised when it becomes an entry: what is stored can be
//! drawn as it is.

use std::collections::{HashMap, VecDeque};

use rustchat_proto::{ChatMessage, ServerEvent};

use crate::transport::{Incoming, Wire};
use rustchat_proto::sanitize;

/// How many entries the scrollback keeps.
pub const SCROLLBACK: usize = 5000;

/// One row (or a few, once wrapped) of the scrollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it happened, unix milliseconds; `None` for raw server lines, which carry their own.
    pub ts: Option<u64>,
    pub kind: EntryKind,
}

/// What an entry shows. All texts are sanitised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Said in a room; `own` when we said it.
    Chat {
        room: String,
        from: String,
        text: String,
        action: bool,
        own: bool,
    },
    /// A private message to us or from us.
    Private {
        from: String,
        to: String,
        text: String,
        own: bool,
    },
    /// Joins, leaves, nick changes: shown dimmed.
    Presence(String),
    /// The server informs (welcome, help, lists, history brackets).
    Info(String),
    /// The server refused something.
    Error(String),
    /// A line-protocol line, shown as it came (after sanitising).
    Line(String),
    /// The client itself speaking (connection state, its help).
    Local(String),
}

/// The conversation as the client knows it.
#[derive(Debug, Default)]
pub struct Client {
    wire: Option<Wire>,
    /// Our nick as the server knows it.
    nick: Option<String>,
    /// The room we talk in.
    room: Option<String>,
    /// The last `/list` answer: (room, members).
    rooms: Vec<(String, usize)>,
    /// The nick and room to restore after a reconnect (chosen by us, not given as a guest).
    wanted_nick: Option<String>,
    wanted_room: Option<String>,
    /// `/list` requests the client sent by itself: their answers fill the panel silently.
    silent_lists: usize,
    /// Highest message id seen per room: history replays repeat messages we already have.
    seen: HashMap<String, u64>,
    entries: VecDeque<Entry>,
}

impl Client {
    /// A client that has not connected yet; `nick` and `room` are wanted from the start.
    pub fn new(nick: Option<String>, room: Option<String>) -> Self {
        Self {
            wanted_nick: nick,
            wanted_room: room,
            ..Self::default()
        }
    }

    /// Our nick, once the server told us (or, over lines, once we asked for one).
    pub fn nick(&self) -> Option<&str> {
        self.nick.as_deref().or(self.wanted_nick.as_deref())
    }

    /// The room we talk in, if known.
    pub fn room(&self) -> Option<&str> {
        self.room.as_deref().or(self.wanted_room.as_deref())
    }

    /// The rooms of the last `/list` answer.
    pub fn rooms(&self) -> &[(String, usize)] {
        &self.rooms
    }

    /// The scrollback, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// A note from the client itself.
    pub fn notice(&mut self, text: &str, now_ms: u64) {
        self.push(Some(now_ms), EntryKind::Local(sanitize(text).into_owned()));
    }

    /// Just connected: forget the old session and return the lines that restore ours.
    pub fn on_connected(&mut self, wire: Wire) -> Vec<String> {
        self.wire = Some(wire);
        self.nick = None;
        self.room = None;
        self.silent_lists = 0;
        let mut lines = Vec::new();
        if let Some(nick) = &self.wanted_nick {
            lines.push(format!("/nick {nick}"));
        }
        match &self.wanted_room {
            Some(room) if !room.eq_ignore_ascii_case("#lobby") => {
                lines.push(format!("/join {room}"));
            }
            // Over JSON a join answers with `joined`, which asks for the list.
            _ => lines.push(self.silent_list()),
        }
        if wire != Wire::WsJson && lines.iter().any(|l| l.starts_with("/join")) {
            lines.push(self.silent_list());
        }
        lines
    }

    /// The connection ended.
    pub fn on_disconnected(&mut self) {
        self.wire = None;
        self.silent_lists = 0;
    }

    /// We sent `line`: over the line protocol there are no structured events, so what we asked
    /// for is what we remember (and restore after a reconnect).
    pub fn on_sent(&mut self, line: &str) -> Vec<String> {
        if self.wire == Some(Wire::WsJson) {
            return Vec::new();
        }
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default().to_ascii_lowercase();
        match (command.as_str(), words.next(), words.next()) {
            ("/nick", Some(nick), None) => self.wanted_nick = Some(nick.to_owned()),
            ("/join", Some(room), None) => {
                let room = room.to_ascii_lowercase();
                let room = if room.starts_with('#') {
                    room
                } else {
                    format!("#{room}")
                };
                self.wanted_room = Some(room);
                return vec![self.silent_list()];
            }
            _ => {}
        }
        Vec::new()
    }

    fn silent_list(&mut self) -> String {
        self.silent_lists += 1;
        "/list".into()
    }

    /// Takes what the server sent; returns lines to send back by ourselves.
    pub fn on_incoming(&mut self, incoming: Incoming) -> Vec<String> {
        match incoming {
            Incoming::Event(event) => self.on_event(event),
            Incoming::Line(text) => {
                for line in text.split('\n') {
                    self.on_line(line);
                }
                Vec::new()
            }
            Incoming::Pong(_) => Vec::new(),
        }
    }

    fn on_line(&mut self, line: &str) {
        if let Some(rooms) = parse_rooms_line(line) {
            self.rooms = rooms;
            if self.silent_lists > 0 {
                self.silent_lists -= 1;
                return;
            }
        }
        let kind = if let Some(error) = line.strip_prefix("ERROR ") {
            EntryKind::Error(sanitize(error).into_owned())
        } else {
            EntryKind::Line(sanitize(line).into_owned())
        };
        self.push(None, kind);
    }

    fn on_event(&mut self, event: ServerEvent) -> Vec<String> {
        let mut send = Vec::new();
        match event {
            ServerEvent::Welcome { nick, room, motd } => {
                self.nick = Some(nick.to_string());
                self.room = Some(room.to_string());
                self.info(&format!("welcome, {nick}! you are in {room}"));
                if let Some(motd) = motd {
                    self.info(&motd);
                }
            }
            ServerEvent::Message(message) => self.chat(message),
            ServerEvent::Private {
                ts, from, to, text, ..
            } => {
                let own = self.is_me(&from.to_string());
                let kind = EntryKind::Private {
                    from: from.to_string(),
                    to: to.to_string(),
                    text: sanitize(&text).into_owned(),
                    own,
                };
                self.push(Some(ts), kind);
            }
            ServerEvent::Joined { room, nick, ts } => {
                if self.is_me(&nick.to_string()) {
                    self.room = Some(room.to_string());
                    self.wanted_room = Some(room.to_string());
                    send.push(self.silent_list());
                } else {
                    self.count_member(room.as_str(), 1);
                }
                self.presence(ts, format!("→ {nick} joined {room}"));
            }
            ServerEvent::Left {
                room,
                nick,
                ts,
                reason,
            } => {
                if self.is_me(&nick.to_string()) {
                    if self.room.as_deref() == Some(room.as_str()) {
                        self.room = None;
                    }
                    if self.wanted_room.as_deref() == Some(room.as_str()) {
                        self.wanted_room = None;
                    }
                    send.push(self.silent_list());
                } else {
                    self.count_member(room.as_str(), -1);
                }
                let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                self.presence(ts, format!("← {nick} left {room}{why}"));
            }
            ServerEvent::NickChanged { old, new, ts } => {
                if self.is_me(&old.to_string()) {
                    self.nick = Some(new.to_string());
                    self.wanted_nick = Some(new.to_string());
                }
                self.presence(ts, format!("~ {old} is now known as {new}"));
            }
            ServerEvent::Rooms { rooms } => {
                self.rooms = rooms
                    .iter()
                    .map(|r| (r.room.to_string(), r.members))
                    .collect();
                if self.silent_lists > 0 {
                    self.silent_lists -= 1;
                } else {
                    self.show_event_lines(&ServerEvent::Rooms { rooms });
                }
            }
            ServerEvent::History { room, messages } => self.history(&room.to_string(), messages),
            ServerEvent::Error { message, .. } => {
                self.push(None, EntryKind::Error(sanitize(&message).into_owned()));
            }
            other @ (ServerEvent::Members { .. }
            | ServerEvent::Info { .. }
            | ServerEvent::Bye { .. }) => self.show_event_lines(&other),
        }
        send
    }

    /// Keeps the room panel current between `/list` answers.
    fn count_member(&mut self, room: &str, change: isize) {
        if let Some((_, members)) = self.rooms.iter_mut().find(|(name, _)| name == room) {
            *members = members.saturating_add_signed(change);
        }
    }

    fn is_me(&self, nick: &str) -> bool {
        self.nick
            .as_deref()
            .is_some_and(|me| me.eq_ignore_ascii_case(nick))
    }

    fn info(&mut self, text: &str) {
        for line in text.lines() {
            self.push(None, EntryKind::Info(sanitize(line).into_owned()));
        }
    }

    /// Shows an event the way the line protocol writes it, one entry per line.
    fn show_event_lines(&mut self, event: &ServerEvent) {
        let text = event.to_line();
        for line in text.lines() {
            let line = line.strip_prefix("*** ").unwrap_or(line);
            self.push(None, EntryKind::Info(sanitize(line).into_owned()));
        }
    }

    fn presence(&mut self, ts: u64, text: String) {
        self.push(Some(ts), EntryKind::Presence(sanitize(&text).into_owned()));
    }

    fn chat(&mut self, message: ChatMessage) {
        let room = message.room.to_string();
        let seen = self.seen.entry(room.clone()).or_default();
        *seen = (*seen).max(message.id);
        let own = self.is_me(&message.from.to_string());
        let kind = EntryKind::Chat {
            room,
            from: message.from.to_string(),
            text: sanitize(&message.text).into_owned(),
            action: message.action,
            own,
        };
        self.push(Some(message.ts), kind);
    }

    /// A replay: only the messages we have not shown yet, between brackets.
    fn history(&mut self, room: &str, messages: Vec<ChatMessage>) {
        let seen = self.seen.get(room).copied().unwrap_or(0);
        let fresh: Vec<_> = messages.into_iter().filter(|m| m.id > seen).collect();
        if fresh.is_empty() {
            return;
        }
        let noun = if fresh.len() == 1 {
            "message"
        } else {
            "messages"
        };
        self.info(&format!("history of {room} ({} {noun})", fresh.len()));
        for message in fresh {
            self.chat(message);
        }
        self.info(&format!("end of history of {room}"));
    }

    fn push(&mut self, ts: Option<u64>, kind: EntryKind) {
        if self.entries.len() == SCROLLBACK {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { ts, kind });
    }
}

/// `*** rooms (2): #lobby (3), #rust (1)` → the rooms, for the panel over the line protocol.
fn parse_rooms_line(line: &str) -> Option<Vec<(String, usize)>> {
    let rest = line.strip_prefix("*** rooms (")?;
    let (_, list) = rest.split_once("): ")?;
    list.split(", ")
        .map(|item| {
            let (room, count) = item.split_once(" (")?;
            let count = count.strip_suffix(')')?.parse().ok()?;
            room.starts_with('#').then(|| (room.to_owned(), count))
        })
        .collect()
}

#[cfg(test)]
mod tests;
