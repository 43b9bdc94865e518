//! `Hub`: the chat itself — who is connected under which nick, who is in which room, and what
//! was said lately. The only code that changes room state.
//!
//! Data path: a session parses a `Command` → [`Hub::handle`] → [`Outcome`]: first `record` (a
//! room message) is appended to the history database, then `deliveries` are fanned out to the
//! outboxes, then `close` is acted on. [`Hub::connect`] and [`Hub::disconnect`] bracket a
//! session.
//!
//! The hub is pure state (STYLE §11): no sockets, channels, locks, threads or clock — time
//! comes in as `now` (unix ms). Each concurrency model wraps it as it needs (a `Mutex`, or one
//! task owning it). Every event is built once and wrapped once in an `Arc<Encoded>` shared by
//! all its receivers, so a fan-out to a thousand members copies a thousand pointers.
//!
//! The rules, one file each: [`HubConfig`] (config.rs), arrivals and departures (presence.rs:
//! connect, join, part, quit, disconnect), talking (chat.rs: say, `/me`, `/msg`, `/nick`),
//! questions (queries.rs: `/who`, `/list`, `/history`), and the room bookkeeping (room.rs,
//! rooms.rs).
//!
//! ```
//! use rustchat_proto::{Command, RoomName, ServerEvent};
//! use rustchat_server::delivery::ConnId;
//! use rustchat_server::hub::{Hub, HubConfig};
//!
//! let mut hub = Hub::new(HubConfig::default());
//! let (alice, bob) = (ConnId(1), ConnId(2));
//! hub.connect(alice, 1_000);
//! hub.connect(bob, 1_000);
//!
//! let outcome = hub.handle(alice, Command::Say("hello".into()), 2_000);
//! let message = outcome.record.expect("room messages are recorded before fan-out");
//! assert_eq!((message.id, message.room), (1, RoomName::lobby()));
//! // Both lobby members receive the same encoded event, the sender as its confirmation.
//! assert_eq!(outcome.deliveries.len(), 2);
//! assert!(matches!(outcome.deliveries[0].event.event(), ServerEvent::Message(_)));
//! ```

mod accounts;
mod chat;
mod config;
mod moderation;
mod presence;
mod queries;
mod room;
mod rooms;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use rustchat_proto::{ChatMessage, Command, ErrorKind, HELP, Nick, RoomName, ServerEvent};

pub use self::config::HubConfig;
use self::rooms::Rooms;
use crate::accounts::store::Role;
use crate::delivery::{ConnId, Outcome};
use crate::rules::RoomRules;

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Connected sessions.
    pub connections: usize,
    /// Rooms with at least one member.
    pub rooms: usize,
    /// Message ids issued since this hub was created (room and private messages).
    pub messages: u64,
}

/// The chat state. See the module docs.
#[derive(Debug)]
pub struct Hub {
    /// Limits and greetings.
    config: HubConfig,
    /// Every connected session.
    sessions: HashMap<ConnId, Session>,
    /// Who holds each nick, by [`Nick::key`]: O(1) uniqueness checks and `/msg` lookups.
    nicks: HashMap<String, ConnId>,
    /// Every room, live or dormant.
    rooms: Rooms,
    /// The id the next room or private message gets.
    next_id: u64,
    /// Ids issued by this hub (for [`HubStats::messages`]).
    issued: u64,
    /// The number the next guest name is tried with.
    next_guest: u64,
    /// Names that belong to accounts, by [`Nick::key`] (told by the account service).
    registered: HashSet<String>,
    /// Rooms' rules (owner, roles, bans, mutes, topic, modes): only rooms that have any.
    rules: HashMap<RoomName, RoomRules>,
    /// Who was invited into which room (by identity key), until they join; not kept.
    invites: HashMap<RoomName, HashSet<String>>,
}

/// Who a session proved it is: an account, and its server role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub account: Nick,
    pub role: Option<Role>,
}

/// One connected client.
#[derive(Debug)]
struct Session {
    /// The nick, as the user spelled it.
    nick: Nick,
    /// The account it is signed in to (its nick is then the account's name).
    account: Option<Nick>,
    /// Its account's server role.
    role: Option<Role>,
    /// The rooms joined, oldest first (at most `max_rooms_per_conn`, so a scan is cheap).
    rooms: Vec<RoomName>,
    /// Where `Say` and `Me` go; always one of `rooms`, `None` when `rooms` is empty.
    current: Option<RoomName>,
}

impl Hub {
    /// An empty hub: no rooms, no sessions, message ids from 1.
    pub fn new(config: HubConfig) -> Self {
        let rooms = Rooms::new(config.history_cap, config.max_rooms);
        Self {
            config,
            sessions: HashMap::new(),
            nicks: HashMap::new(),
            rooms,
            next_id: 1,
            issued: 0,
            next_guest: 1,
            registered: HashSet::new(),
            rules: HashMap::new(),
            invites: HashMap::new(),
        }
    }

    /// Seeds the in-memory recent history with messages loaded from the database at startup
    /// (oldest first; each room keeps its last `history_cap`) and sets the next message id.
    /// Ids never go backwards: the next id is past both `next_id` and every restored id.
    /// Rooms that only have history are dormant (they show in no `/list` until someone joins).
    /// Call it before the first `connect`.
    pub fn restore(&mut self, messages: Vec<ChatMessage>, next_id: u64) {
        let past_last = messages.iter().map(|m| m.id.saturating_add(1)).max();
        self.next_id = self.next_id.max(next_id).max(past_last.unwrap_or(0));
        self.rooms.restore(messages);
    }

    /// Handles one command from a connected client. A `conn` that is not connected (never was,
    /// or already quit) gets an empty [`Outcome`], never a panic.
    ///
    /// - `Say` / `Me`: a message in the current room, id and `ts = now` stamped by the server,
    ///   `from` the sender's nick (nobody can forge a name); it is put in `record` (persist it
    ///   before fan-out), kept in the room's recent history, and sent to every member, the
    ///   sender included (its confirmation), as one shared event. In no room: `NotInRoom`,
    ///   saying to `/join #room`.
    /// - `Nick`: unique case-insensitively (taken: `NickTaken`), and an account's name only for
    ///   a session signed in to it (`NickRegistered`); a change of case of one's own nick is
    ///   allowed; the same spelling again is only acknowledged (`Info`). Success sends
    ///   `NickChanged` once to the user and once to everyone sharing a room with them.
    /// - `Join`: joins (creating the room; refused past `max_rooms` or `max_rooms_per_conn`)
    ///   and makes it current; `Joined` to all members, joiner included, then to the joiner
    ///   `History` (the last `replay_on_join` messages, if any) and `Members` (if the room has
    ///   at most `members_on_join`). Joining a room one is in only makes it current (`Info`).
    /// - `Part`: leaves the named room (default: the current one), `Left` to its members and
    ///   the leaver; if it was current, the most recently joined remaining room becomes
    ///   current (`Info` says which, or that there is none). Not a member: `NotInRoom`.
    /// - `Msg`: `Private` to the connected holder of the nick (any case) and the echo to the
    ///   sender, one shared event (one delivery when messaging oneself); not recorded. Unknown
    ///   nick: `NoSuchNick`.
    /// - `Who`: `Members` of a room with members (anyone may ask), sorted; else `NoSuchRoom`.
    /// - `List`: `Rooms`, the rooms with members, sorted by name, with their member counts.
    /// - `History`: the last `limit` (default `replay_on_join`, at most `history_cap`) messages
    ///   of a room, oldest first. Rooms are public (anyone may join and be replayed), so any
    ///   room with members or kept history may be asked, member or not; else `NoSuchRoom`.
    /// - `Help`: `Info` with [`HELP`].
    /// - `Logout`: see [`Hub::sign_in`] (accounts.rs); `Register`, `Login` and `Passwd` are
    ///   the account service's, which tells the hub their outcome.
    /// - `Quit`: `Left` with the reason to the members of each room, `Bye` to the quitter (its
    ///   only event: it is leaving everything), `close = Some(conn)`; the session is gone, so
    ///   a later [`Hub::disconnect`] of `conn` is a no-op.
    ///
    /// `Who`, `Part` and `History` without a room use the current one; with none: `NotInRoom`.
    pub fn handle(&mut self, conn: ConnId, command: Command, now: u64) -> Outcome {
        if !self.sessions.contains_key(&conn) {
            return Outcome::default();
        }
        match command {
            Command::Say(text) => self.say(conn, text, false, now),
            Command::Me(text) => self.say(conn, text, true, now),
            Command::Nick(nick) => self.change_nick(conn, nick, now),
            Command::Join(room) => self.join(conn, room, None, now),
            Command::JoinKey { room, key } => self.join(conn, room, Some(&key), now),
            command @ (Command::RoomRegister(_)
            | Command::Kick { .. }
            | Command::Ban { .. }
            | Command::Unban { .. }
            | Command::Mute { .. }
            | Command::Unmute { .. }
            | Command::RoomRole { .. }
            | Command::Topic { .. }
            | Command::Mode { .. }
            | Command::Invite { .. }
            | Command::Redact { .. }) => self.moderate(conn, command, now),
            // Address bans are the server's (they act at accept), not the hub's.
            Command::Kline { .. } | Command::Unkline(_) | Command::Klines => refuse(
                conn,
                ErrorKind::Internal,
                "internal error: address bans are answered by the server",
            ),
            Command::Part(room) => self.part(conn, room, now),
            Command::Msg { to, text } => self.private(conn, &to, text, now),
            Command::Who(room) => self.who(conn, room),
            Command::List => self.list(conn),
            Command::History { room, limit } => self.history(conn, room, limit, now),
            Command::Help => Outcome::reply(conn, ServerEvent::info(HELP)),
            Command::Quit(reason) => self.quit(conn, reason, now),
            Command::Logout => self.sign_out(conn, now),
            // Credentials are checked by the account service, which then calls `sign_in`;
            // these never reach the hub from the server.
            Command::Register { .. }
            | Command::Login { .. }
            | Command::Passwd { .. }
            | Command::LoginToken(_)
            | Command::Token(_)
            | Command::Tokens
            | Command::Revoke(_)
            | Command::Suspend { .. }
            | Command::Unsuspend(_) => refuse(
                conn,
                ErrorKind::Internal,
                "internal error: account commands are answered by the account service",
            ),
        }
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> HubStats {
        HubStats {
            connections: self.sessions.len(),
            rooms: self.rooms.live_count(),
            messages: self.issued,
        }
    }

    /// The nick of a connected client.
    pub fn nick(&self, conn: ConnId) -> Option<&Nick> {
        self.sessions.get(&conn).map(|session| &session.nick)
    }

    /// Hands out the next message id.
    fn issue_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.issued += 1;
        id
    }

    /// The room a command names, or else the sender's current room.
    fn target_room(&self, conn: ConnId, room: Option<RoomName>) -> Option<RoomName> {
        room.or_else(|| self.sessions.get(&conn)?.current.clone())
    }

    /// Checks the hub's bookkeeping (tests only): nick map and sessions agree, every session
    /// is a member of exactly its rooms, its current room is one of them, and every member of
    /// a room is connected.
    #[cfg(test)]
    fn is_consistent(&self) -> bool {
        let nicks_ok = self.nicks.len() == self.sessions.len()
            && self
                .sessions
                .iter()
                .all(|(conn, session)| self.nicks.get(session.nick.key()) == Some(conn));
        let sessions_ok = self.sessions.iter().all(|(&conn, session)| {
            session.rooms.len() <= self.config.max_rooms_per_conn.max(1)
                && session
                    .current
                    .as_ref()
                    .is_none_or(|c| session.rooms.contains(c))
                && session.current.is_some() != session.rooms.is_empty()
                && session.rooms.iter().all(|name| {
                    self.rooms
                        .live(name)
                        .is_some_and(|room| room.contains(conn))
                })
        });
        let members_ok = self.rooms.iter_live().all(|(name, room)| {
            room.members().iter().all(|conn| {
                self.sessions
                    .get(conn)
                    .is_some_and(|s| s.rooms.contains(name))
            })
        });
        nicks_ok && sessions_ok && members_ok && self.rooms.is_consistent()
    }
}

/// An outcome with one error for `conn`.
fn refuse(conn: ConnId, kind: ErrorKind, message: impl Into<String>) -> Outcome {
    Outcome::reply(conn, ServerEvent::error(kind, message))
}

/// An outcome with one `Info` for `conn`.
fn inform(conn: ConnId, text: impl Into<String>) -> Outcome {
    Outcome::reply(conn, ServerEvent::info(text))
}

/// The refusal for a command that needs a room from a client in none; `example` is the
/// command to show, like `/who #lobby`.
fn no_room(conn: ConnId, example: &str) -> Outcome {
    let message = format!("you are in no room: name one, like {example}, or /join #room first");
    refuse(conn, ErrorKind::NotInRoom, message)
}
