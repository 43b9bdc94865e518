//! The view model: [`Incoming`] items from the server → what a person sees ([`Entry`]s, who
//! and where we are, the room list) and what the client should send by itself (`/list`, and
//! after a reconnect the `/nick` and `/join` that restore the session).
//!
//! No I/O and no drawing here, so the whole conversation logic is tested with plain values.
//! Every text from the server is sanitised when it becomes an entry: what is stored can be
//! drawn as it is. Here too: which entries mention us, whose messages we ignore (client-side
//! `/ignore`), and the nicks seen lately, most recent first (for Tab completion).

use std::collections::{HashMap, VecDeque};

use rustchat_proto::{ChatMessage, ErrorKind, Nick, RoomName, ServerEvent, mentions};

use crate::transport::{Incoming, Wire};
use rustchat_proto::sanitize;

/// How many entries the scrollback keeps.
pub const SCROLLBACK: usize = 5000;
/// How many nicks the client remembers for completion.
pub const KNOWN_NICKS: usize = 1000;
/// How many nicks one can ignore.
pub const MAX_IGNORED: usize = 256;

/// One row (or a few, once wrapped) of the scrollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it happened, unix milliseconds; `None` for raw server lines, which carry their own.
    pub ts: Option<u64>,
    pub kind: EntryKind,
    /// Someone else's message that names us.
    pub mention: bool,
}

/// What an entry shows. All texts are sanitised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Said in a room; `own` when we said it.
    Chat {
        /// The message's id (a `redacted` event names it).
        id: u64,
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
    /// The rooms we are in, in the order we joined them (Alt-1… picks among them).
    joined: Vec<String>,
    /// The room the welcome put us in, until the server's own `joined` for it arrives: that
    /// join is the server's doing, not ours, and must not replace the room we asked for.
    welcomed_in: Option<String>,
    /// The nick and room to restore after a reconnect (chosen by us, not given as a guest).
    wanted_nick: Option<String>,
    wanted_room: Option<String>,
    /// `/list` requests the client sent by itself: their answers fill the panel silently.
    silent_lists: usize,
    /// Highest message id seen per room: history replays repeat messages we already have.
    seen: HashMap<String, u64>,
    entries: VecDeque<Entry>,
    /// Nicks seen lately (speaking, joining, in a member list), most recent first.
    known: VecDeque<String>,
    /// Nicks whose messages are not shown, as typed by the user.
    ignored: Vec<String>,
    /// Mentions and private messages from others not yet taken by [`Client::take_alerts`].
    alerts: usize,
    /// The account and password to sign in with (again after a reconnect): given at start,
    /// typed at the prompt, or seen in a `/login`, `/register` or `/passwd` the user sent.
    credentials: Option<(String, String)>,
    /// The account we are signed in to.
    account: Option<String>,
    /// An access token to sign in with on every connection (before any password).
    token: Option<String>,
    /// Each room's topic, as last told (sanitised).
    topics: HashMap<String, String>,
    /// The server refused our nick as registered and we have no password for it: the front end
    /// should ask for one ([`Client::take_password_request`]).
    password_wanted: Option<String>,
}

/// The nick in the server's "nick X is registered — …" refusal.
fn registered_nick(message: &str) -> Option<&str> {
    let (nick, _) = message
        .strip_prefix("nick ")?
        .split_once(" is registered")?;
    Some(nick)
}

/// Whether a typed line carries a password (`/login`, `/identify`, `/register`, `/passwd`):
/// such lines are never kept in the input history or shown.
pub fn holds_secret(line: &str) -> bool {
    let command = line.split_whitespace().next().unwrap_or_default();
    ["/login", "/identify", "/register", "/passwd"]
        .iter()
        .any(|c| command.eq_ignore_ascii_case(c))
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

    /// Signs in as `account` with `password` on every connection (the nick wanted becomes the
    /// account's).
    pub fn with_credentials(mut self, account: &str, password: String) -> Self {
        self.wanted_nick = Some(account.to_owned());
        self.credentials = Some((account.to_owned(), password));
        self
    }

    /// Signs in with an access token on every connection (`--token-file`).
    pub fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    /// The topic of `room`, if it has one.
    pub fn topic(&self, room: &str) -> Option<&str> {
        self.topics.get(room).map(String::as_str)
    }

    /// The account we are signed in to, if the server said so.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The account whose password the user should be asked for, once: the server refused our
    /// nick as registered.
    pub fn take_password_request(&mut self) -> Option<String> {
        self.password_wanted.take()
    }

    /// The user typed the password for `account`: the line to send (and kept for reconnects).
    pub fn sign_in_with(&mut self, account: &str, password: String) -> String {
        let line = format!("/login {account} {password}");
        self.credentials = Some((account.to_owned(), password));
        line
    }

    /// The server refused `nick` as registered: sign in if we can, else ask.
    fn nick_registered(&mut self, nick: &str) -> Vec<String> {
        match &self.credentials {
            Some((account, password)) if account.eq_ignore_ascii_case(nick) => {
                vec![format!("/login {account} {password}")]
            }
            _ => {
                self.password_wanted = Some(nick.to_owned());
                Vec::new()
            }
        }
    }

    /// Remembers the credentials in a line the user sent (before it goes out).
    fn remember_credentials(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let command = words.first().map(|w| w.to_ascii_lowercase());
        match (command.as_deref(), &words[1..]) {
            (Some("/login" | "/identify"), [account, password]) => {
                self.credentials = Some(((*account).to_owned(), (*password).to_owned()));
            }
            (Some("/register"), [password, ..]) => {
                if let Some(nick) = self.nick().map(str::to_owned) {
                    self.credentials = Some((nick, (*password).to_owned()));
                }
            }
            (Some("/passwd"), [_, new]) => {
                if let Some((_, password)) = &mut self.credentials {
                    *password = (*new).to_owned();
                }
            }
            (Some("/logout"), []) => self.credentials = None,
            _ => {}
        }
    }

    fn signed_in(&mut self, account: &str) {
        self.account = Some(account.to_owned());
        self.wanted_nick = Some(account.to_owned());
    }

    /// Signed out (by us, or from elsewhere): do not sign in again by ourselves.
    fn signed_out(&mut self) {
        self.account = None;
        self.credentials = None;
        self.token = None;
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

    /// The rooms we are in, in the order we joined them. Over the line protocol, the rooms we
    /// asked to join (there are no events to say so).
    pub fn joined_rooms(&self) -> &[String] {
        &self.joined
    }

    fn now_in(&mut self, room: &str) {
        if !self.joined.iter().any(|r| r == room) {
            self.joined.push(room.to_owned());
        }
    }

    /// The scrollback, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// Nicks seen lately, most recent first, without ours.
    pub fn known_nicks(&self) -> impl Iterator<Item = &str> {
        self.known
            .iter()
            .map(String::as_str)
            .filter(|n| !self.is_me(n))
    }

    /// Stops showing `nick`'s messages (room, action and private) from now on; `false` if it
    /// was already ignored. The server still sends them: this is a filter on this screen.
    pub fn ignore(&mut self, nick: &str) -> Result<bool, String> {
        let nick = Nick::parse_known(nick)
            .map_err(|e| e.to_string())?
            .to_string();
        if self.is_ignored(&nick) {
            return Ok(false);
        }
        if self.ignored.len() == MAX_IGNORED {
            return Err(format!(
                "you ignore {MAX_IGNORED} nicks already, the most there can be: /unignore one first"
            ));
        }
        self.ignored.push(nick);
        Ok(true)
    }

    /// Shows `nick`'s messages again; `false` if it was not ignored.
    pub fn unignore(&mut self, nick: &str) -> bool {
        let before = self.ignored.len();
        self.ignored.retain(|n| !n.eq_ignore_ascii_case(nick));
        self.ignored.len() != before
    }

    /// The nicks ignored, in the order they were.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    fn is_ignored(&self, nick: &str) -> bool {
        self.ignored.iter().any(|n| n.eq_ignore_ascii_case(nick))
    }

    /// How many mentions and private messages from others arrived since the last call.
    pub fn take_alerts(&mut self) -> usize {
        std::mem::take(&mut self.alerts)
    }

    /// Remembers that `nick` was just seen (moves it to the front).
    fn saw(&mut self, nick: &str) {
        if let Some(at) = self.known.iter().position(|n| n.eq_ignore_ascii_case(nick)) {
            self.known.remove(at);
        } else if self.known.len() == KNOWN_NICKS {
            self.known.pop_back();
        }
        self.known.push_front(nick.to_owned());
    }

    /// Whether someone else's `text` names us.
    /// (Over the line protocol, "us" is the nick we last asked for.)
    fn mentions_me(&self, from: &str, text: &str) -> bool {
        self.nick()
            .is_some_and(|me| !me.eq_ignore_ascii_case(from) && mentions(text, me))
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
        self.joined.clear();
        self.welcomed_in = None;
        if wire != Wire::WsJson {
            // Every line-protocol client starts in #lobby (JSON: the welcome says where).
            self.joined.push("#lobby".into());
            if let Some(room) = self.wanted_room.clone() {
                self.now_in(&room);
            }
        }
        self.account = None;
        let mut lines = Vec::new();
        match (&self.token, &self.wanted_nick, &self.credentials) {
            (Some(token), _, _) => lines.push(format!("/login {token}")),
            (None, Some(nick), Some((account, password))) if nick.eq_ignore_ascii_case(account) => {
                lines.push(format!("/login {account} {password}"));
            }
            (None, Some(nick), _) => lines.push(format!("/nick {nick}")),
            (None, None, _) => {}
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
        self.remember_credentials(line);
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
                self.now_in(&room);
                self.wanted_room = Some(room);
                return vec![self.silent_list()];
            }
            ("/part", room, None) => {
                let room = room
                    .and_then(|r| RoomName::parse(r).ok())
                    .map(|r| r.to_string())
                    .or_else(|| self.wanted_room.clone())
                    .unwrap_or_else(|| "#lobby".into());
                self.joined.retain(|r| *r != room);
                if self.wanted_room.as_deref() == Some(room.as_str()) {
                    self.wanted_room = self.joined.last().cloned();
                }
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
            Incoming::Line(text) => text.split('\n').flat_map(|l| self.on_line(l)).collect(),
            Incoming::Pong(_) => Vec::new(),
        }
    }

    fn on_line(&mut self, line: &str) -> Vec<String> {
        if let Some(account) = line.strip_prefix("*** you are signed in as ") {
            self.signed_in(account);
        } else if line.starts_with("*** you are signed out: ") {
            self.signed_out();
        } else if line == "ERROR wrong account name or password"
            || line.starts_with("ERROR unknown or revoked access token")
        {
            self.credentials = None;
            self.token = None;
        } else if let Some(nick) = line
            .strip_prefix("ERROR ")
            .and_then(registered_nick)
            .map(str::to_owned)
        {
            self.push(None, EntryKind::Error(sanitize(&line[6..]).into_owned()));
            return self.nick_registered(&nick);
        }
        self.show_line(line);
        Vec::new()
    }

    fn show_line(&mut self, line: &str) {
        if let Some(rooms) = parse_rooms_line(line) {
            self.rooms = rooms;
            if self.silent_lists > 0 {
                self.silent_lists -= 1;
                return;
            }
        }
        if let Some((from, text)) = line_sender(line) {
            if self.is_ignored(from) {
                return;
            }
            let from = from.to_owned();
            let mention = self.mentions_me(&from, text);
            if mention {
                self.alerts += 1;
            }
            self.saw(&from);
            self.push_marked(None, EntryKind::Line(sanitize(line).into_owned()), mention);
            return;
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
            ServerEvent::Welcome {
                nick,
                room,
                motd,
                account,
            } => {
                if let Some(account) = account {
                    self.signed_in(account.as_str());
                }
                self.nick = Some(nick.to_string());
                self.room = Some(room.to_string());
                self.joined = vec![room.to_string()];
                self.welcomed_in = Some(room.to_string());
                self.info(&format!("welcome, {nick}! you are in {room}"));
                if let Some(motd) = motd {
                    self.info(&motd);
                }
            }
            ServerEvent::Message(message) => self.chat(message, false),
            ServerEvent::Private {
                ts, from, to, text, ..
            } => {
                let own = self.is_me(from.as_str());
                if !own && self.is_ignored(from.as_str()) {
                    return send;
                }
                self.saw(if own { to.as_str() } else { from.as_str() });
                let kind = EntryKind::Private {
                    from: from.to_string(),
                    to: to.to_string(),
                    text: sanitize(&text).into_owned(),
                    own,
                };
                if !own {
                    self.alerts += 1;
                }
                self.push(Some(ts), kind);
            }
            ServerEvent::Joined { room, nick, ts } => {
                if self.is_me(&nick.to_string()) {
                    self.room = Some(room.to_string());
                    // The automatic join of the welcome room is not a choice: a room we asked
                    // for (and may not have been confirmed yet) stays the one to restore.
                    if self.welcomed_in.as_deref() == Some(room.as_str()) {
                        self.welcomed_in = None;
                    } else {
                        self.wanted_room = Some(room.to_string());
                    }
                    self.now_in(room.as_str());
                    send.push(self.silent_list());
                } else {
                    self.count_member(room.as_str(), 1);
                    self.saw(nick.as_str());
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
                    self.joined.retain(|r| r != room.as_str());
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
                } else if let Some(known) = self
                    .known
                    .iter_mut()
                    .find(|n| n.eq_ignore_ascii_case(old.as_str()))
                {
                    *known = new.to_string();
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
            ServerEvent::Error { message, kind } => {
                self.push(None, EntryKind::Error(sanitize(&message).into_owned()));
                match kind {
                    ErrorKind::AuthFailed => {
                        self.credentials = None;
                        self.token = None;
                    }
                    ErrorKind::NickRegistered => {
                        let nick = registered_nick(&message).map(str::to_owned);
                        if let Some(nick) = nick.or_else(|| self.wanted_nick.clone()) {
                            send.extend(self.nick_registered(&nick));
                        }
                    }
                    _ => {}
                }
            }
            ServerEvent::SignedIn { account } => {
                self.signed_in(account.as_str());
                self.info(&format!("you are signed in as {account}"));
            }
            ServerEvent::SignedOut { reason } => {
                self.signed_out();
                self.info(&format!("you are signed out: {reason}"));
            }
            ServerEvent::Members { ref nicks, .. } => {
                for nick in nicks {
                    if !self
                        .known
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(nick.as_str()))
                    {
                        if self.known.len() == KNOWN_NICKS {
                            break;
                        }
                        self.known.push_back(nick.to_string());
                    }
                }
                self.show_event_lines(&event);
            }
            ServerEvent::Info { ref text } => {
                // `/join` of a room we are in makes it current without a `joined` event.
                if let Some(room) = text
                    .split_once(" is now your current room")
                    .and_then(|(room, _)| RoomName::parse(room).ok())
                {
                    self.room = Some(room.to_string());
                    self.wanted_room = Some(room.to_string());
                    self.now_in(room.as_str());
                }
                self.show_event_lines(&event);
            }
            ServerEvent::Redacted {
                ref room,
                id,
                ref by,
                ref reason,
                ts,
            } => {
                // Gone from the screen as from the history.
                self.entries.retain(
                    |e| !matches!(&e.kind, EntryKind::Chat { id: gone, .. } if *gone == id),
                );
                let why = reason
                    .as_deref()
                    .map(|r| format!(" ({})", sanitize(r)))
                    .unwrap_or_default();
                self.presence(ts, format!("{by} removed a message from {room}{why}"));
            }
            ServerEvent::Topic {
                ref room, ref text, ..
            } => {
                match text {
                    Some(text) => {
                        self.topics
                            .insert(room.to_string(), sanitize(text).into_owned());
                    }
                    None => {
                        self.topics.remove(room.as_str());
                    }
                }
                self.show_event_lines(&event);
            }
            other @ (ServerEvent::Bye { .. }
            | ServerEvent::Token { .. }
            | ServerEvent::Tokens { .. }
            | ServerEvent::Moderated { .. }
            | ServerEvent::Modes { .. }
            | ServerEvent::Invited { .. }) => self.show_event_lines(&other),
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

    /// A room message, live or (`replay`) from a history replay.
    fn chat(&mut self, message: ChatMessage, replay: bool) {
        let room = message.room.to_string();
        let seen = self.seen.entry(room.clone()).or_default();
        *seen = (*seen).max(message.id);
        let from = message.from.as_str();
        let own = self.is_me(from);
        if !own && self.is_ignored(from) {
            return;
        }
        let mention = self.mentions_me(from, &message.text);
        if mention && !replay {
            self.alerts += 1;
        }
        if !replay {
            self.saw(from);
        }
        let kind = EntryKind::Chat {
            id: message.id,
            room,
            from: from.to_owned(),
            text: sanitize(&message.text).into_owned(),
            action: message.action,
            own,
        };
        self.push_marked(Some(message.ts), kind, mention);
    }

    /// A replay: only the messages we have not shown yet, between brackets.
    fn history(&mut self, room: &str, messages: Vec<ChatMessage>) {
        let seen = self.seen.get(room).copied().unwrap_or(0);
        let fresh: Vec<_> = messages
            .into_iter()
            .filter(|m| m.id > seen && !self.is_ignored(m.from.as_str()))
            .collect();
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
            self.chat(message, true);
        }
        self.info(&format!("end of history of {room}"));
    }

    fn push(&mut self, ts: Option<u64>, kind: EntryKind) {
        self.push_marked(ts, kind, false);
    }

    fn push_marked(&mut self, ts: Option<u64>, kind: EntryKind, mention: bool) {
        if self.entries.len() == SCROLLBACK {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { ts, kind, mention });
    }
}

/// Who said a line of the line protocol, and what: `[12:03:04] #lobby <alice> hi`,
/// `[12:03:04] #lobby * alice waves`, `[12:03:04] <alice -> bob> psst`. `None` for the
/// server's own lines (`***`, `ERROR`, joins and leaves).
fn line_sender(line: &str) -> Option<(&str, &str)> {
    let (_, rest) = line.strip_prefix('[')?.split_once("] ")?;
    let rest = match rest.strip_prefix('#') {
        Some(room) => room.split_once(' ')?.1,
        None => rest,
    };
    let (from, text) = match rest.strip_prefix("* ") {
        Some(action) => action.split_once(' ')?,
        None => {
            // `<alice> text`, or `<alice -> bob> text`, whose arrow holds a `> ` too.
            let inner = rest.strip_prefix('<')?;
            let end = inner.find("> ")?;
            match inner.find(" -> ") {
                Some(arrow) if arrow < end => {
                    (&inner[..arrow], inner[arrow + 4..].split_once("> ")?.1)
                }
                _ => (&inner[..end], &inner[end + 2..]),
            }
        }
    };
    Nick::parse_known(from).is_ok().then_some((from, text))
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
