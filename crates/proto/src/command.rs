//! `Command`: what a client asks for, parsed at the edge from one line of text.
//!
//! Data path: `LineCodec` (or a WebSocket text frame) → line → [`Command::parse`] → `Command`
//! → the hub. The JSON protocol builds the same `Command` (see `json.rs`), so the hub sees one
//! language whatever the transport. [`Command::to_line`] goes the other way, for clients.
//!
//! A line not starting with `/` is a message to the current room. `//text` sends `/text`.
//! A blank line (empty or only whitespace) is no command: `parse` returns `Ok(None)` and the
//! server says nothing back. Command names are case-insensitive (`/JOIN` = `/join`).

use thiserror::Error;

use crate::error_kind::{ErrorKind, ErrorReply};
use crate::moderation::{ModeChange, RoomRole, duration_text};
use crate::password::{
    AccessToken, MAX_INVITE_BYTES, MAX_PASSWORD_BYTES, MAX_TOKEN_LABEL_CHARS, MIN_PASSWORD_BYTES,
    Password,
};
use crate::text::escape_breaks;
use crate::{NameError, Nick, RoomName};

/// Longest message text (also quit reason), in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most messages one `/history` asks for.
pub const MAX_HISTORY: u32 = 500;

/// The slash commands the server knows, as typed (for completion in clients).
pub const COMMANDS: [&str; 37] = [
    "/nick",
    "/join",
    "/part",
    "/msg",
    "/me",
    "/who",
    "/list",
    "/history",
    "/register",
    "/login",
    "/identify",
    "/logout",
    "/passwd",
    "/token",
    "/tokens",
    "/revoke",
    "/room",
    "/kick",
    "/ban",
    "/unban",
    "/mute",
    "/unmute",
    "/op",
    "/deop",
    "/voice",
    "/devoice",
    "/topic",
    "/mode",
    "/invite",
    "/redact",
    "/suspend",
    "/unsuspend",
    "/kline",
    "/unkline",
    "/klines",
    "/help",
    "/quit",
];

/// The text the server sends for `/help` (as `ServerEvent::Info`, one line per command).
pub const HELP: &str = "\
commands:
  <text>                 say <text> in your current room (//text says /text)
  /nick <name>           change your nick
  /join <#room> [key]    join a room (created if new) and make it current
  /part [#room]          leave a room (default: the current one)
  /msg <nick> <text>     send a private message
  /me <text>             say an action: * you <text>
  /who [#room]           list who is in a room
  /list                  list rooms and how many are in each
  /history [#room] [N]   replay the last N messages of a room (N from 1 to 500)
  /register <password> [invite]  register your nick as an account (8 to 1024 bytes)
  /login <account> <password>    sign in, taking the account's nick (or /login <token>)
  /identify <account> <password> the same as /login
  /logout                sign out (you become a guest)
  /passwd <old> <new>    change your password
  /token [label]         make an access token for programs and the page (shown once)
  /tokens                list your access tokens
  /revoke <id>           revoke one of your access tokens
  /room register <#room> become the owner of a room (signed in)
  /kick <#room> <nick> [reason]           put someone out of a room (operators)
  /ban <#room> <nick> [10m|2h|7d] [reason] keep someone out (for a while)
  /unban <#room> <nick>  lift a ban
  /mute <#room> <nick> [duration]         keep someone quiet in a room
  /unmute <#room> <nick> let them speak again
  /op <#room> <nick>     make someone an operator (owner), /deop to undo
  /deop <#room> <nick>   take operator away
  /voice <#room> <nick>  let someone speak in a moderated room, /devoice to undo
  /devoice <#room> <nick> take voice away
  /topic <#room> [text|-] show, set or clear (-) a room's topic
  /mode <#room> [+i|-i|+k key|-k|+m|-m|+R|-R] show or change a room's modes
  /invite <nick> [#room] let someone into an invite-only room
  /redact <id> [reason]  remove a message from its room's history (yours; operators: any)
  /suspend <account> [reason]  sign an account out and keep it out (server staff)
  /unsuspend <account>   let a suspended account sign in again
  /kline <address or range> [duration] [reason]  refuse connections from it (server staff)
  /unkline <address or range>  lift an address ban
  /klines                list the address bans
  /help                  this help
  /quit [reason]         leave the server";

/// One request from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say text in the current room.
    Say(String),
    /// Change nick.
    Nick(Nick),
    /// Join a room and make it current.
    Join(RoomName),
    /// Leave a room; `None` is the current room.
    Part(Option<RoomName>),
    /// A private message.
    Msg { to: Nick, text: String },
    /// An action in the current room (`/me waves` → `* alice waves`).
    Me(String),
    /// Who is in a room; `None` is the current room.
    Who(Option<RoomName>),
    /// All rooms with their member counts.
    List,
    /// Replay past messages; `None` room is the current one, `None` limit the server default.
    History {
        room: Option<RoomName>,
        limit: Option<u32>,
    },
    /// The help text.
    Help,
    /// Leave the server, with an optional reason shown to others.
    Quit(Option<String>),
    /// Register the current nick as an account with this password; `invite` is a code from
    /// an admin, for servers that register by invitation only.
    Register {
        password: Password,
        invite: Option<String>,
    },
    /// Sign in to an account, taking its nick.
    Login { account: Nick, password: Password },
    /// Sign out: the session becomes a guest again.
    Logout,
    /// Change the signed-in account's password.
    Passwd { old: Password, new: Password },
    /// Sign in with an access token instead of a name and password.
    LoginToken(AccessToken),
    /// Make an access token for the signed-in account, with an optional label.
    Token(Option<String>),
    /// List the signed-in account's access tokens.
    Tokens,
    /// Revoke one of the signed-in account's access tokens, by its id.
    Revoke(u64),
    /// Join a room that has a key (`+k`).
    JoinKey { room: RoomName, key: String },
    /// Become the owner of a room (`/room register`).
    RoomRegister(RoomName),
    /// Put someone out of a room.
    Kick {
        room: RoomName,
        nick: Nick,
        reason: Option<String>,
    },
    /// Keep someone out of a room, for `duration` ms or until lifted.
    Ban {
        room: RoomName,
        nick: Nick,
        duration: Option<u64>,
        reason: Option<String>,
    },
    /// Lift a ban.
    Unban { room: RoomName, nick: Nick },
    /// Keep someone quiet in a room, for `duration` ms or until lifted.
    Mute {
        room: RoomName,
        nick: Nick,
        duration: Option<u64>,
    },
    /// Let someone speak again.
    Unmute { room: RoomName, nick: Nick },
    /// Give (`on`) or take a room role: `/op`, `/deop`, `/voice`, `/devoice`.
    RoomRole {
        room: RoomName,
        nick: Nick,
        role: RoomRole,
        on: bool,
    },
    /// Show a room's topic (`None`), or set it (`Some(Some(text))`) or clear it (`Some(None)`).
    Topic {
        room: RoomName,
        text: Option<Option<String>>,
    },
    /// Show a room's modes (no changes), or change them.
    Mode {
        room: RoomName,
        changes: Vec<ModeChange>,
    },
    /// Let someone into an invite-only room (default: the current one).
    Invite { nick: Nick, room: Option<RoomName> },
    /// Remove message `id` from its room's history, for everyone.
    Redact { id: u64, reason: Option<String> },
    /// Sign an account out everywhere and refuse its sign-ins (server staff).
    Suspend {
        account: Nick,
        reason: Option<String>,
    },
    /// Let a suspended account sign in again.
    Unsuspend(Nick),
    /// Refuse connections from an address or range, for `duration` ms or until lifted (server
    /// staff) — IRC's K-line.
    Kline {
        net: ipnet::IpNet,
        duration: Option<u64>,
        reason: Option<String>,
    },
    /// Lift an address ban.
    Unkline(ipnet::IpNet),
    /// List the address bans.
    Klines,
}

/// A line could not be read as a command. Each message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("unknown command /{name} — try /help")]
    Unknown { name: String },
    #[error("usage: {usage}")]
    Usage { usage: &'static str },
    #[error("empty message: expected some text")]
    EmptyText,
    #[error("message too long: {len} bytes, at most {MAX_TEXT_BYTES}")]
    TextTooLong { len: usize },
    #[error("history limit out of range: {got}, expected a number from 1 to {MAX_HISTORY}")]
    HistoryLimit { got: String },
    #[error("password too short: {len} bytes, expected at least {MIN_PASSWORD_BYTES}")]
    PasswordTooShort { len: usize },
    #[error("password too long: {len} bytes, expected at most {MAX_PASSWORD_BYTES}")]
    PasswordTooLong { len: usize },
    #[error("invalid invite code: expected 1 to {MAX_INVITE_BYTES} letters, digits, '-' or '_'")]
    BadInvite,
    #[error("invalid access token: expected rct_ and 64 hex digits, as /token made it")]
    BadToken,
    #[error(
        "invalid token label ({chars} characters): expected 1 to {MAX_TOKEN_LABEL_CHARS} characters, no control characters"
    )]
    BadTokenLabel { chars: usize },
    #[error("invalid token id {got}: expected the number /tokens shows")]
    BadTokenId { got: String },
    #[error("unknown mode {got}: the modes are {}", crate::moderation::KNOWN_MODES)]
    BadMode { got: String },
    #[error("mode +k needs a key: /mode #room +k <key>")]
    MissingKey,
    #[error(
        "invalid room key: expected 1 to {} characters without spaces",
        crate::moderation::MAX_KEY_CHARS
    )]
    BadKey,
    #[error("too long: {len} bytes, at most {max}")]
    NoteTooLong { len: usize, max: usize },
    #[error(
        "invalid duration {got}: expected a number and a unit, like 30s, 10m, 2h or 7d (at most 365d)"
    )]
    BadDuration { got: String },
    #[error("invalid message id {got}: expected the number of a message (its id)")]
    BadMessageId { got: String },
    #[error(
        "invalid address {got}: expected an IP address or a range like 203.0.113.0/24 or 2001:db8::/32"
    )]
    BadAddress { got: String },
    #[error(transparent)]
    Name(#[from] NameError),
}

impl ErrorReply for CommandError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unknown { .. } => ErrorKind::UnknownCommand,
            Self::Usage { .. }
            | Self::HistoryLimit { .. }
            | Self::BadInvite
            | Self::BadToken
            | Self::BadTokenLabel { .. }
            | Self::BadTokenId { .. }
            | Self::BadMode { .. }
            | Self::MissingKey
            | Self::BadKey
            | Self::BadDuration { .. }
            | Self::BadMessageId { .. }
            | Self::BadAddress { .. } => ErrorKind::Usage,
            Self::NoteTooLong { .. } => ErrorKind::InvalidText,
            Self::PasswordTooShort { .. } | Self::PasswordTooLong { .. } => {
                ErrorKind::InvalidPassword
            }
            Self::EmptyText | Self::TextTooLong { .. } => ErrorKind::InvalidText,
            Self::Name(err) => err.kind(),
        }
    }
}

impl Command {
    /// Whether the server's account service answers this command (it checks or makes
    /// credentials): `/register`, `/login`, `/passwd`, `/token`, `/tokens`, `/revoke`.
    /// (`/suspend` and `/unsuspend` too: they change an account.) `/logout` needs no
    /// credentials and is the hub's.
    pub fn is_for_accounts(&self) -> bool {
        matches!(
            self,
            Self::Register { .. }
                | Self::Login { .. }
                | Self::Passwd { .. }
                | Self::LoginToken(_)
                | Self::Token(_)
                | Self::Tokens
                | Self::Revoke(_)
                | Self::Suspend { .. }
                | Self::Unsuspend(_)
        )
    }

    /// The line that [`Command::parse`] (in `slash.rs`, with the other line parsing) reads back
    /// as this command (no line terminator). Line breaks inside texts are written as `\n` /
    /// `\r` so the result stays one line. Account commands hold their passwords in the clear:
    /// send the line, never show or log it.
    pub fn to_line(&self) -> String {
        match self {
            Self::Say(text) if text.starts_with('/') => format!("/{}", escape_breaks(text)),
            Self::Say(text) => escape_breaks(text).into_owned(),
            Self::Nick(nick) => format!("/nick {nick}"),
            Self::Join(room) => format!("/join {room}"),
            Self::Part(room) => with_optional("/part", room.as_ref()),
            Self::Msg { to, text } => format!("/msg {to} {}", escape_breaks(text)),
            Self::Me(text) => format!("/me {}", escape_breaks(text)),
            Self::Who(room) => with_optional("/who", room.as_ref()),
            Self::List => "/list".to_owned(),
            Self::History { room, limit } => {
                with_optional(&with_optional("/history", room.as_ref()), limit.as_ref())
            }
            Self::Help => "/help".to_owned(),
            Self::Quit(reason) => {
                with_optional("/quit", reason.as_deref().map(escape_breaks).as_ref())
            }
            // Passwords go as typed: the line protocol splits them on whitespace, so one
            // holding any has to use JSON (`Command::to_json`).
            Self::Register { password, invite } => {
                with_optional(&format!("/register {}", password.expose()), invite.as_ref())
            }
            Self::Login { account, password } => {
                format!("/login {account} {}", password.expose())
            }
            Self::Logout => "/logout".to_owned(),
            Self::Passwd { old, new } => format!("/passwd {} {}", old.expose(), new.expose()),
            Self::LoginToken(token) => format!("/login {}", token.expose()),
            Self::Token(label) => with_optional("/token", label.as_ref()),
            Self::Tokens => "/tokens".to_owned(),
            Self::Revoke(id) => format!("/revoke {id}"),
            Self::JoinKey { room, key } => format!("/join {room} {key}"),
            Self::RoomRegister(room) => format!("/room register {room}"),
            Self::Kick { room, nick, reason } => {
                with_optional(&format!("/kick {room} {nick}"), reason.as_ref())
            }
            Self::Ban {
                room,
                nick,
                duration,
                reason,
            } => with_optional(
                &with_optional(
                    &format!("/ban {room} {nick}"),
                    duration.map(duration_text).as_ref(),
                ),
                reason.as_ref(),
            ),
            Self::Unban { room, nick } => format!("/unban {room} {nick}"),
            Self::Mute {
                room,
                nick,
                duration,
            } => with_optional(
                &format!("/mute {room} {nick}"),
                duration.map(duration_text).as_ref(),
            ),
            Self::Unmute { room, nick } => format!("/unmute {room} {nick}"),
            Self::RoomRole {
                room,
                nick,
                role,
                on,
            } => {
                let name = match (role, on) {
                    (RoomRole::Operator, true) => "op",
                    (RoomRole::Operator, false) => "deop",
                    (RoomRole::Voiced, true) => "voice",
                    (RoomRole::Voiced, false) => "devoice",
                };
                format!("/{name} {room} {nick}")
            }
            Self::Topic { room, text: None } => format!("/topic {room}"),
            Self::Topic {
                room,
                text: Some(None),
            } => format!("/topic {room} -"),
            Self::Topic {
                room,
                text: Some(Some(text)),
            } => format!("/topic {room} {}", escape_breaks(text)),
            Self::Mode { room, changes } => {
                let mut line = format!("/mode {room}");
                for change in changes {
                    line.push(' ');
                    line.push_str(&change.to_string());
                }
                line
            }
            Self::Invite { nick, room } => with_optional(&format!("/invite {nick}"), room.as_ref()),
            Self::Redact { id, reason } => with_optional(&format!("/redact {id}"), reason.as_ref()),
            Self::Suspend { account, reason } => {
                with_optional(&format!("/suspend {account}"), reason.as_ref())
            }
            Self::Unsuspend(account) => format!("/unsuspend {account}"),
            Self::Kline {
                net,
                duration,
                reason,
            } => with_optional(
                &with_optional(
                    &format!("/kline {net}"),
                    duration.map(duration_text).as_ref(),
                ),
                reason.as_ref(),
            ),
            Self::Unkline(net) => format!("/unkline {net}"),
            Self::Klines => "/klines".to_owned(),
        }
    }
}

fn with_optional(head: &str, arg: Option<&impl std::fmt::Display>) -> String {
    match arg {
        Some(arg) => format!("{head} {arg}"),
        None => head.to_owned(),
    }
}

/// Checks a message text: not blank, at most [`MAX_TEXT_BYTES`].
pub(crate) fn checked_text(text: &str) -> Result<String, CommandError> {
    if text.trim().is_empty() {
        return Err(CommandError::EmptyText);
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(CommandError::TextTooLong { len: text.len() });
    }
    Ok(text.to_owned())
}

/// Checks a `/history` limit: 1 to [`MAX_HISTORY`].
pub(crate) fn checked_limit(limit: u64) -> Result<u32, CommandError> {
    match u32::try_from(limit) {
        Ok(limit @ 1..=MAX_HISTORY) => Ok(limit),
        _ => Err(CommandError::HistoryLimit {
            got: limit.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::room;
    use crate::strategies;
    use proptest::prelude::*;

    fn parsed(line: &str) -> Command {
        match Command::parse(line) {
            Ok(Some(command)) => command,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    fn error(line: &str) -> CommandError {
        match Command::parse(line) {
            Err(err) => err,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn every_listed_command_is_known_and_in_the_help() {
        for name in COMMANDS {
            assert!(HELP.contains(&format!("  {name}")), "{name} is not in HELP");
            let unknown = matches!(Command::parse(name), Err(CommandError::Unknown { .. }));
            assert!(!unknown, "{name} is not a command");
        }
        let in_help = HELP.lines().filter(|l| l.starts_with("  /")).count();
        assert_eq!(
            in_help,
            COMMANDS.len(),
            "HELP lists a command COMMANDS does not"
        );
    }

    #[test]
    fn blank_lines_are_no_command() {
        for line in ["", " ", "\t  "] {
            assert_eq!(Command::parse(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn plain_text_is_said_as_is_and_double_slash_escapes() {
        assert_eq!(parsed("  hello  "), Command::Say("  hello  ".into()));
        assert_eq!(
            parsed("//join is a command"),
            Command::Say("/join is a command".into())
        );
        assert_eq!(parsed("//"), Command::Say("/".into()));
    }

    #[test]
    fn text_limit_at_boundary_and_past_it() {
        let max = "x".repeat(MAX_TEXT_BYTES);
        assert_eq!(parsed(&max), Command::Say(max.clone()));
        assert_eq!(parsed(&format!("/me {max}")), Command::Me(max.clone()));
        let err = error(&format!("{max}y"));
        assert_eq!(
            err.to_string(),
            "message too long: 4097 bytes, at most 4096"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidText);
        assert_eq!(
            error(&format!("/msg bob {max}y")),
            CommandError::TextTooLong { len: 4097 }
        );
    }

    #[test]
    fn name_errors_pass_through_with_their_kind() {
        let err = error("/nick 1abc");
        assert_eq!(
            err.to_string(),
            "nick must start with an ASCII letter, got '1'"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidNick);
        assert_eq!(error("/nick guest-1").kind(), ErrorKind::InvalidNick);
        assert_eq!(error("/join #a.b").kind(), ErrorKind::InvalidRoom);
        assert_eq!(error("/msg 9x hi").kind(), ErrorKind::InvalidNick);
    }

    #[test]
    fn to_line_escapes_slashes_and_line_breaks() {
        assert_eq!(Command::Say("/shrug".into()).to_line(), "//shrug");
        assert_eq!(Command::Say("a\nb".into()).to_line(), "a\\nb");
        assert_eq!(
            Command::History {
                room: Some(room("x")),
                limit: Some(3)
            }
            .to_line(),
            "/history #x 3"
        );
    }

    proptest! {
        #[test]
        fn to_line_round_trips(command in strategies::command()) {
            prop_assert_eq!(Command::parse(&command.to_line()), Ok(Some(command)));
        }

        #[test]
        fn whatever_parses_reparses_from_its_line(line in "(/(nick|join|part|msg|me|who|list|history|help|quit|x) ?)?\\PC{0,40}") {
            if let Ok(Some(command)) = Command::parse(&line) {
                prop_assert_eq!(Command::parse(&command.to_line()), Ok(Some(command)));
            }
        }
    }
}
