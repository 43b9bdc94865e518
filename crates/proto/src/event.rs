//! `ServerEvent`: everything the server says to a client.
//!
//! Data path: the hub handles a `Command` and returns deliveries of `ServerEvent`s → each event
//! is encoded once per wire format ([`ServerEvent::to_line`] for the line protocol,
//! [`ServerEvent::to_json`] for JSON) and the bytes are shared by all its receivers.
//!
//! The set is small and complete for a client that keeps its own view of the chat: who it is
//! (`Welcome`, `NickChanged`), where it is (`Joined`/`Left` for its own nick too), what was said
//! (`Message`, `Private`, `History`), who is around (`Members`, `Rooms`, `Joined`, `Left`), and
//! what the server has to say (`Info`, `Error`, `Bye`). Times are unix milliseconds (`ts`),
//! given by the caller: this crate reads no clock. Message ids grow with time, so a client can
//! drop a message it already has (for example one replayed by `History`).
//!
//! In JSON every event is an object with a `"type"` field in `snake_case`; all fields are always
//! present (`null` for an absent option).

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::error_kind::ErrorKind;
use crate::moderation::RoomRole;
use crate::{Nick, RoomName};

/// A message said in a room, live or replayed from history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Unique per server, increasing: the order of the room's history.
    pub id: u64,
    /// When the server accepted it, unix milliseconds.
    pub ts: u64,
    /// Where it was said.
    pub room: RoomName,
    /// Who said it, as spelled then.
    pub from: Nick,
    /// What was said, as sent (it may hold any character but is never empty).
    pub text: String,
    /// `true` for `/me`: show as `* from text`.
    pub action: bool,
}

/// One room in a `/list` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The room.
    pub room: RoomName,
    /// How many are in it now.
    pub members: usize,
}

/// One access token in a `/tokens` answer (never the token itself: it is shown once, when
/// made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// What `/revoke` takes.
    pub id: u64,
    /// The label given to `/token`, if any.
    pub label: Option<String>,
    /// When it was made, unix milliseconds.
    pub created: u64,
    /// When it last signed someone in, if ever.
    pub last_used: Option<u64>,
}

/// What a moderator (or the room's owner) did, in a `moderated` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModAction {
    /// `target` registered the room and owns it (`by` is `target`).
    Registered,
    /// `target` was put out of the room.
    Kicked,
    /// `target` was banned (until `until`, if set) and put out.
    Banned,
    /// `target`'s ban was lifted.
    Unbanned,
    /// `target` may not speak in the room (until `until`, if set).
    Muted,
    /// `target` may speak again.
    Unmuted,
    /// `target` became an operator.
    Opped,
    /// `target` is no longer an operator.
    Deopped,
    /// `target` may speak in the moderated room.
    Voiced,
    /// `target` lost voice.
    Devoiced,
    /// A newer server's action this version does not know.
    #[serde(other)]
    Other,
}

impl ModAction {
    /// The words the line protocol uses (`kicked`, `banned`…).
    pub fn verb(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Kicked => "kicked",
            Self::Banned => "banned",
            Self::Unbanned => "unbanned",
            Self::Muted => "muted",
            Self::Unmuted => "unmuted",
            Self::Opped => "made operator",
            Self::Deopped => "took operator from",
            Self::Voiced => "voiced",
            Self::Devoiced => "took voice from",
            Self::Other => "acted on",
        }
    }
}

/// Something the server tells a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// First event of a session: the nick you have (a guest name until you pick one), the room
    /// you are in, the operator's message of the day, and the account you are signed in to
    /// (`null` for a guest; absent from older servers).
    Welcome {
        nick: Nick,
        room: RoomName,
        motd: Option<String>,
        #[serde(default)]
        account: Option<Nick>,
    },
    /// You are signed in to this account (after `/login`, `/register`): your nick is the
    /// account's, and nobody else can take it.
    SignedIn { account: Nick },
    /// A new access token for your account (after `/token`): the only time it is shown.
    Token {
        id: u64,
        token: String,
        label: Option<String>,
    },
    /// Your account's access tokens (after `/tokens`), oldest first.
    Tokens { tokens: Vec<TokenInfo> },
    /// You are signed out (after `/logout`, or signed in from another connection, or
    /// suspended): you are a guest now, and why.
    SignedOut { reason: String },
    /// Someone (maybe you) said something in a room you are in.
    Message(ChatMessage),
    /// A private message to you, or the echo of one you sent.
    Private {
        id: u64,
        ts: u64,
        from: Nick,
        to: Nick,
        text: String,
    },
    /// Someone (maybe you) joined a room you are in.
    Joined { room: RoomName, nick: Nick, ts: u64 },
    /// Someone (maybe you) left a room you are in; `reason` is a quit reason.
    Left {
        room: RoomName,
        nick: Nick,
        ts: u64,
        reason: Option<String>,
    },
    /// Someone (maybe you) who shares a room with you changed nick.
    NickChanged { old: Nick, new: Nick, ts: u64 },
    /// Answer to `/who`: who is in a room, sorted by nick, and the roles of those who have one
    /// (`{"alice":"operator"}`; absent from older servers).
    Members {
        room: RoomName,
        nicks: Vec<Nick>,
        #[serde(default)]
        roles: BTreeMap<String, RoomRole>,
    },
    /// Someone moderated a room you are in (or you): `by` did `action` to `target`.
    Moderated {
        room: RoomName,
        action: ModAction,
        target: Nick,
        by: Nick,
        reason: Option<String>,
        /// When a ban or mute ends (unix ms); `null`: until lifted.
        until: Option<u64>,
        ts: u64,
    },
    /// A room's topic (on join, on `/topic`, and when it changes); `text` `null`: none.
    Topic {
        room: RoomName,
        text: Option<String>,
        by: Option<Nick>,
        ts: u64,
    },
    /// A room's modes (on `/mode`, and when they change): like `+imR` (the key is not shown),
    /// `""` for none.
    Modes {
        room: RoomName,
        modes: String,
        by: Option<Nick>,
        ts: u64,
    },
    /// `by` invited you into an invite-only room: `/join` it.
    Invited { room: RoomName, by: Nick },
    /// Message `id` of `room` was removed by `by`: stop showing it (it is gone from the
    /// history too).
    Redacted {
        room: RoomName,
        id: u64,
        by: Nick,
        reason: Option<String>,
        ts: u64,
    },
    /// Answer to `/list`: the rooms, sorted by name.
    Rooms { rooms: Vec<RoomSummary> },
    /// Past messages of a room, oldest first: sent after joining and for `/history`.
    History {
        room: RoomName,
        messages: Vec<ChatMessage>,
    },
    /// Text for people: help, notices. May span several lines.
    Info { text: String },
    /// Your last request failed, or the server warns you: a kind for programs, a message for
    /// people that says what was wrong and what is expected.
    Error { kind: ErrorKind, message: String },
    /// The server is closing this connection, and why.
    Bye { reason: String },
}

impl ServerEvent {
    /// An `Error` event.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::Error {
            kind,
            message: message.into(),
        }
    }

    /// An `Info` event.
    pub fn info(text: impl Into<String>) -> Self {
        Self::Info { text: text.into() }
    }

    /// The `type` tag of this event in JSON (`"nick_changed"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::SignedIn { .. } => "signed_in",
            Self::SignedOut { .. } => "signed_out",
            Self::Token { .. } => "token",
            Self::Moderated { .. } => "moderated",
            Self::Topic { .. } => "topic",
            Self::Modes { .. } => "modes",
            Self::Invited { .. } => "invited",
            Self::Redacted { .. } => "redacted",
            Self::Tokens { .. } => "tokens",
            Self::Message(_) => "message",
            Self::Private { .. } => "private",
            Self::Joined { .. } => "joined",
            Self::Left { .. } => "left",
            Self::NickChanged { .. } => "nick_changed",
            Self::Members { .. } => "members",
            Self::Rooms { .. } => "rooms",
            Self::History { .. } => "history",
            Self::Info { .. } => "info",
            Self::Error { .. } => "error",
            Self::Bye { .. } => "bye",
        }
    }
}
