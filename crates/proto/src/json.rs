//! The JSON protocol, client side of the conversation: JSON objects ↔ `Command`, and
//! `JsonError` for both directions.
//!
//! Data path (server): WebSocket text frame → [`Command::from_json`] → `Command` → hub →
//! `ServerEvent` → `ServerEvent::to_json` (json_event.rs) → text frame. Clients use the other
//! two directions, [`Command::to_json`] and `ServerEvent::from_json`.
//!
//! Client objects are read by hand, not with a serde derive, so that each mistake gets its own
//! error naming the field and what it should hold. Unknown fields are ignored (newer clients
//! may send more); `null` counts as an absent optional field. Values go through the same
//! checks as the line protocol (`Nick::parse`, `RoomName::parse`, text and history limits).

use std::fmt::Write;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::command::{Command, CommandError, checked_limit, checked_text};
use crate::error_kind::{ErrorKind, ErrorReply};
use crate::moderation::{
    MAX_REASON_BYTES, MAX_TOPIC_BYTES, RoomRole, checked_key, checked_note, duration_text,
    parse_address_range, parse_duration, parse_modes,
};
use crate::password::{AccessToken, Password, checked_invite, checked_label};
use crate::text::{EXCERPT_CHARS, excerpt};
use crate::{NameError, Nick, RoomName};

/// Largest client JSON message read, in bytes. Transports set their own (smaller) limits; this
/// one keeps a misconfigured transport from parsing absurd input.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

const KNOWN_TYPES: &str = "say, nick, join, part, msg, me, who, list, history, help, quit, \
                           register, login, logout, passwd, token, tokens, revoke, \
                           room_register, kick, ban, unban, mute, unmute, op, deop, voice, \
                           devoice, topic, mode, invite, redact, suspend, unsuspend, kline, \
                           unkline, klines, command";

/// A JSON message could not be read. Each message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonError {
    #[error("message too large: {len} bytes, at most {MAX_JSON_BYTES}")]
    TooLarge { len: usize },
    #[error(
        "invalid JSON ({detail}): expected one object like {{\"type\":\"say\",\"text\":\"hi\"}}"
    )]
    Syntax { detail: String },
    #[error("expected a JSON object with a \"type\" field, got {found}")]
    NotObject { found: &'static str },
    #[error("missing field \"type\": expected one of {KNOWN_TYPES}")]
    MissingType,
    #[error("unknown type \"{found}\": expected one of {KNOWN_TYPES}")]
    UnknownType { found: String },
    #[error("missing field \"{field}\" in a \"{ty}\" message: expected {expected}")]
    MissingField {
        ty: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error("field \"{field}\" must be {expected}, got {found}")]
    FieldType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("invalid server event ({detail})")]
    Event { detail: String },
    #[error(transparent)]
    Command(#[from] CommandError),
}

impl From<NameError> for JsonError {
    fn from(err: NameError) -> Self {
        Self::Command(CommandError::Name(err))
    }
}

impl ErrorReply for JsonError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Command(err) => err.kind(),
            _ => ErrorKind::InvalidJson,
        }
    }
}

impl Command {
    /// Reads one client JSON message, such as `{"type":"join","room":"#rust"}`.
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        if text.len() > MAX_JSON_BYTES {
            return Err(JsonError::TooLarge { len: text.len() });
        }
        let value: Value = serde_json::from_str(text).map_err(|err| JsonError::Syntax {
            detail: err.to_string(),
        })?;
        let Value::Object(object) = value else {
            return Err(JsonError::NotObject {
                found: describe(&value),
            });
        };
        let ty = match object.get("type") {
            None | Some(Value::Null) => return Err(JsonError::MissingType),
            Some(Value::String(ty)) => ty,
            Some(other) => return Err(wrong_type("type", "a string", other)),
        };
        Fields {
            ty,
            object: &object,
        }
        .command()
    }

    /// This command as a client JSON message: `"type"` first, absent options left out.
    pub fn to_json(&self) -> String {
        let (ty, fields) = self.json_fields();
        let mut json = format!("{{\"type\":{}", Value::from(ty));
        for (name, value) in fields {
            if let Some(value) = value {
                // `Value`'s `Display` writes JSON, escaping included.
                let _ = write!(json, ",\"{name}\":{value}");
            }
        }
        json.push('}');
        json
    }

    fn json_fields(&self) -> (&'static str, Vec<(&'static str, Option<Value>)>) {
        let string = |text: &str| Some(Value::from(text));
        let room = |room: &Option<RoomName>| room.as_ref().map(|room| Value::from(room.as_str()));
        match self {
            Self::Say(text) => ("say", vec![("text", string(text))]),
            Self::Nick(nick) => ("nick", vec![("nick", string(nick.as_str()))]),
            Self::Join(name) => ("join", vec![("room", string(name.as_str()))]),
            Self::Part(name) => ("part", vec![("room", room(name))]),
            Self::Msg { to, text } => (
                "msg",
                vec![("to", string(to.as_str())), ("text", string(text))],
            ),
            Self::Me(text) => ("me", vec![("text", string(text))]),
            Self::Who(name) => ("who", vec![("room", room(name))]),
            Self::List => ("list", vec![]),
            Self::History { room: name, limit } => (
                "history",
                vec![("room", room(name)), ("limit", limit.map(Value::from))],
            ),
            Self::Help => ("help", vec![]),
            Self::Quit(reason) => ("quit", vec![("reason", reason.as_deref().map(Value::from))]),
            Self::Register { password, invite } => (
                "register",
                vec![
                    ("password", string(password.expose())),
                    ("invite", invite.as_deref().map(Value::from)),
                ],
            ),
            Self::Login { account, password } => (
                "login",
                vec![
                    ("account", string(account.as_str())),
                    ("password", string(password.expose())),
                ],
            ),
            Self::Logout => ("logout", vec![]),
            Self::LoginToken(token) => ("login", vec![("token", string(token.expose()))]),
            Self::Token(label) => ("token", vec![("label", label.as_deref().map(Value::from))]),
            Self::Tokens => ("tokens", vec![]),
            Self::Revoke(id) => ("revoke", vec![("id", Some(Value::from(*id)))]),
            Self::JoinKey { room: name, key } => (
                "join",
                vec![("room", string(name.as_str())), ("key", string(key))],
            ),
            Self::RoomRegister(name) => ("room_register", vec![("room", string(name.as_str()))]),
            Self::Kick {
                room: name,
                nick,
                reason,
            } => (
                "kick",
                vec![
                    ("room", string(name.as_str())),
                    ("nick", string(nick.as_str())),
                    ("reason", reason.as_deref().map(Value::from)),
                ],
            ),
            Self::Ban {
                room: name,
                nick,
                duration,
                reason,
            } => (
                "ban",
                vec![
                    ("room", string(name.as_str())),
                    ("nick", string(nick.as_str())),
                    ("duration", duration.map(|d| Value::from(duration_text(d)))),
                    ("reason", reason.as_deref().map(Value::from)),
                ],
            ),
            Self::Unban { room: name, nick } => (
                "unban",
                vec![
                    ("room", string(name.as_str())),
                    ("nick", string(nick.as_str())),
                ],
            ),
            Self::Mute {
                room: name,
                nick,
                duration,
            } => (
                "mute",
                vec![
                    ("room", string(name.as_str())),
                    ("nick", string(nick.as_str())),
                    ("duration", duration.map(|d| Value::from(duration_text(d)))),
                ],
            ),
            Self::Unmute { room: name, nick } => (
                "unmute",
                vec![
                    ("room", string(name.as_str())),
                    ("nick", string(nick.as_str())),
                ],
            ),
            Self::RoomRole {
                room: name,
                nick,
                role,
                on,
            } => (
                match (role, on) {
                    (RoomRole::Operator, true) => "op",
                    (RoomRole::Operator, false) => "deop",
                    (RoomRole::Voiced, true) => "voice",
                    (RoomRole::Voiced, false) => "devoice",
                },
                vec![
                    ("room", string(name.as_str())),
                    ("nick", string(nick.as_str())),
                ],
            ),
            Self::Topic { room: name, text } => (
                "topic",
                vec![
                    ("room", string(name.as_str())),
                    (
                        "text",
                        text.as_ref()
                            .map(|t| Value::from(t.as_deref().unwrap_or_default())),
                    ),
                ],
            ),
            Self::Mode {
                room: name,
                changes,
            } => {
                let modes: Vec<String> = changes.iter().map(ToString::to_string).collect();
                let modes = (!modes.is_empty()).then(|| Value::from(modes.join(" ")));
                (
                    "mode",
                    vec![("room", string(name.as_str())), ("modes", modes)],
                )
            }
            Self::Invite { nick, room: name } => (
                "invite",
                vec![("nick", string(nick.as_str())), ("room", room(name))],
            ),
            Self::Redact { id, reason } => (
                "redact",
                vec![
                    ("id", Some(Value::from(*id))),
                    ("reason", reason.as_deref().map(Value::from)),
                ],
            ),
            Self::Suspend { account, reason } => (
                "suspend",
                vec![
                    ("account", string(account.as_str())),
                    ("reason", reason.as_deref().map(Value::from)),
                ],
            ),
            Self::Unsuspend(account) => ("unsuspend", vec![("account", string(account.as_str()))]),
            Self::Kline {
                net,
                duration,
                reason,
            } => (
                "kline",
                vec![
                    ("address", string(&net.to_string())),
                    ("duration", duration.map(|d| Value::from(duration_text(d)))),
                    ("reason", reason.as_deref().map(Value::from)),
                ],
            ),
            Self::Unkline(net) => ("unkline", vec![("address", string(&net.to_string()))]),
            Self::Klines => ("klines", vec![]),
            Self::Passwd { old, new } => (
                "passwd",
                vec![("old", string(old.expose())), ("new", string(new.expose()))],
            ),
        }
    }
}

/// The fields of one client object whose type is `ty`.
struct Fields<'a> {
    ty: &'a str,
    object: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn command(&self) -> Result<Command, JsonError> {
        Ok(match self.ty {
            "say" => Command::Say(checked_text(self.string("text")?)?),
            "nick" => Command::Nick(Nick::parse(self.string("nick")?)?),
            "join" => {
                let room = RoomName::parse(self.string("room")?)?;
                match self.optional_string("key")? {
                    Some(key) => Command::JoinKey {
                        room,
                        key: checked_key(key)?,
                    },
                    None => Command::Join(room),
                }
            }
            "room_register" => Command::RoomRegister(RoomName::parse(self.string("room")?)?),
            "kick" => Command::Kick {
                room: self.named_room()?,
                nick: self.target()?,
                reason: self.note("reason", MAX_REASON_BYTES)?,
            },
            "ban" => Command::Ban {
                room: self.named_room()?,
                nick: self.target()?,
                duration: self.duration()?,
                reason: self.note("reason", MAX_REASON_BYTES)?,
            },
            "unban" => Command::Unban {
                room: self.named_room()?,
                nick: self.target()?,
            },
            "mute" => Command::Mute {
                room: self.named_room()?,
                nick: self.target()?,
                duration: self.duration()?,
            },
            "unmute" => Command::Unmute {
                room: self.named_room()?,
                nick: self.target()?,
            },
            "op" | "deop" | "voice" | "devoice" => Command::RoomRole {
                room: self.named_room()?,
                nick: self.target()?,
                role: if self.ty.ends_with("op") {
                    RoomRole::Operator
                } else {
                    RoomRole::Voiced
                },
                on: !self.ty.starts_with("de"),
            },
            "topic" => Command::Topic {
                room: self.named_room()?,
                text: match self.optional_string("text")? {
                    None => None,
                    Some(text) => Some(checked_note(text, MAX_TOPIC_BYTES)?),
                },
            },
            "mode" => Command::Mode {
                room: self.named_room()?,
                changes: match self.optional_string("modes")? {
                    None => Vec::new(),
                    Some(modes) => parse_modes(&modes.split_whitespace().collect::<Vec<_>>())?,
                },
            },
            "redact" => Command::Redact {
                id: self.id()?,
                reason: self.note("reason", MAX_REASON_BYTES)?,
            },
            "suspend" => Command::Suspend {
                account: Nick::parse(self.string("account")?)?,
                reason: self.note("reason", MAX_REASON_BYTES)?,
            },
            "unsuspend" => Command::Unsuspend(Nick::parse(self.string("account")?)?),
            "kline" => Command::Kline {
                net: parse_address_range(self.string("address")?)?,
                duration: self.duration()?,
                reason: self.note("reason", MAX_REASON_BYTES)?,
            },
            "unkline" => Command::Unkline(parse_address_range(self.string("address")?)?),
            "klines" => Command::Klines,
            "invite" => Command::Invite {
                nick: self.target()?,
                room: self.room()?,
            },
            "part" => Command::Part(self.room()?),
            "msg" => Command::Msg {
                to: Nick::parse_known(self.string("to")?)?,
                text: checked_text(self.string("text")?)?,
            },
            "me" => Command::Me(checked_text(self.string("text")?)?),
            "who" => Command::Who(self.room()?),
            "list" => Command::List,
            "history" => Command::History {
                room: self.room()?,
                limit: self.limit()?,
            },
            "help" => Command::Help,
            "quit" => Command::Quit(self.reason()?),
            "register" => Command::Register {
                password: Password::parse(self.string("password")?)?,
                invite: self
                    .optional_string("invite")?
                    .map(checked_invite)
                    .transpose()?,
            },
            "login" => match self.optional_string("token")? {
                Some(token) => Command::LoginToken(AccessToken::parse(token)?),
                None => Command::Login {
                    account: Nick::parse(self.string("account")?)?,
                    password: Password::parse(self.string("password")?)?,
                },
            },
            "token" => Command::Token(
                self.optional_string("label")?
                    .map(checked_label)
                    .transpose()?,
            ),
            "tokens" => Command::Tokens,
            "revoke" => {
                let id = match self.object.get("id") {
                    Some(Value::Number(n)) => n
                        .as_u64()
                        .ok_or_else(|| CommandError::BadTokenId { got: n.to_string() })?,
                    Some(other) => return Err(wrong_type("id", "a number", other)),
                    None => {
                        return Err(JsonError::MissingField {
                            ty: self.ty.to_owned(),
                            field: "id",
                            expected: "a number",
                        });
                    }
                };
                Command::Revoke(id)
            }
            "logout" => Command::Logout,
            "passwd" => Command::Passwd {
                old: Password::parse(self.string("old")?)?,
                new: Password::parse(self.string("new")?)?,
            },
            "command" => Command::parse(self.string("line")?)?.ok_or(CommandError::EmptyText)?,
            other => {
                return Err(JsonError::UnknownType {
                    found: excerpt(other, EXCERPT_CHARS),
                });
            }
        })
    }

    /// The `id` field: a token's (`revoke`) or a message's (`redact`).
    fn id(&self) -> Result<u64, JsonError> {
        match self.object.get("id") {
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| CommandError::BadMessageId { got: n.to_string() }.into()),
            Some(other) => Err(wrong_type("id", "a number", other)),
            None => Err(JsonError::MissingField {
                ty: self.ty.to_owned(),
                field: "id",
                expected: "a number",
            }),
        }
    }

    fn named_room(&self) -> Result<RoomName, JsonError> {
        Ok(RoomName::parse(self.string("room")?)?)
    }

    fn target(&self) -> Result<Nick, JsonError> {
        Ok(Nick::parse_known(self.string("nick")?)?)
    }

    fn note(&self, field: &'static str, max: usize) -> Result<Option<String>, JsonError> {
        match self.optional_string(field)? {
            Some(text) => Ok(checked_note(text, max)?),
            None => Ok(None),
        }
    }

    fn duration(&self) -> Result<Option<u64>, JsonError> {
        Ok(self
            .optional_string("duration")?
            .map(parse_duration)
            .transpose()?)
    }

    fn string(&self, field: &'static str) -> Result<&str, JsonError> {
        match self.optional_string(field)? {
            Some(text) => Ok(text),
            None => Err(JsonError::MissingField {
                ty: self.ty.to_owned(),
                field,
                expected: "a string",
            }),
        }
    }

    fn optional_string(&self, field: &'static str) -> Result<Option<&str>, JsonError> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(wrong_type(field, "a string", other)),
        }
    }

    fn room(&self) -> Result<Option<RoomName>, JsonError> {
        Ok(self
            .optional_string("room")?
            .map(RoomName::parse)
            .transpose()?)
    }

    fn reason(&self) -> Result<Option<String>, JsonError> {
        match self.optional_string("reason")? {
            Some(reason) if !reason.trim().is_empty() => Ok(Some(checked_text(reason)?)),
            _ => Ok(None),
        }
    }

    fn limit(&self) -> Result<Option<u32>, JsonError> {
        let limit = match self.object.get("limit") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(number)) => number,
            Some(other) => return Err(wrong_type("limit", "a number", other)),
        };
        match limit.as_u64() {
            Some(limit) => Ok(Some(checked_limit(limit)?)),
            None => Err(CommandError::HistoryLimit {
                got: limit.to_string(),
            }
            .into()),
        }
    }
}

fn wrong_type(field: &'static str, expected: &'static str, found: &Value) -> JsonError {
    JsonError::FieldType {
        field,
        expected,
        found: describe(found),
    }
}

/// What a JSON value is, for error messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{nick, room};
    use crate::strategies;
    use proptest::prelude::*;

    fn parsed(json: &str) -> Command {
        Command::from_json(json).unwrap_or_else(|err| panic!("{json}: {err}"))
    }

    fn error(json: &str) -> JsonError {
        match Command::from_json(json) {
            Err(err) => err,
            Ok(command) => panic!("{json} gave {command:?}"),
        }
    }

    #[test]
    fn every_client_type_parses() {
        let cases = [
            (
                r#"{"type":"say","text":"hi\nthere"}"#,
                Command::Say("hi\nthere".into()),
            ),
            (
                r#"{"type":"nick","nick":"Alice"}"#,
                Command::Nick(nick("Alice")),
            ),
            (
                r#"{"type":"join","room":"Rust"}"#,
                Command::Join(room("rust")),
            ),
            (r#"{"type":"part"}"#, Command::Part(None)),
            (
                r##"{"type":"part","room":"#x"}"##,
                Command::Part(Some(room("x"))),
            ),
            (
                r#"{"type":"msg","to":"guest-1","text":"psst"}"#,
                Command::Msg {
                    to: nick("guest-1"),
                    text: "psst".into(),
                },
            ),
            (
                r#"{"type":"me","text":"waves"}"#,
                Command::Me("waves".into()),
            ),
            (r#"{"type":"who","room":null}"#, Command::Who(None)),
            (r#"{"type":"list","extra":[1,2]}"#, Command::List),
            (
                r#"{"type":"history","limit":500}"#,
                Command::History {
                    room: None,
                    limit: Some(500),
                },
            ),
            (r#"{"type":"help"}"#, Command::Help),
            (r#"{"type":"quit","reason":"  "}"#, Command::Quit(None)),
            (
                r#"{"type":"quit","reason":"bye"}"#,
                Command::Quit(Some("bye".into())),
            ),
            (
                r##"{"type":"command","line":"/join #x"}"##,
                Command::Join(room("x")),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(parsed(json), expected, "{json}");
        }
    }

    #[test]
    fn shape_errors_say_what_is_expected() {
        let known = "expected one of say, nick, join, part, msg, me, who, list, history, help, quit, register, login, logout, passwd, token, tokens, revoke, room_register, kick, ban, unban, mute, unmute, op, deop, voice, devoice, topic, mode, invite, redact, suspend, unsuspend, kline, unkline, klines, command";
        assert_eq!(
            error(r#"{"type":"dance"}"#).to_string(),
            format!("unknown type \"dance\": {known}")
        );
        assert_eq!(
            error(r#"{"text":"hi"}"#).to_string(),
            format!("missing field \"type\": {known}")
        );
        assert_eq!(
            error(r#"{"type":7}"#).to_string(),
            "field \"type\" must be a string, got a number"
        );
        assert_eq!(
            error("[1]").to_string(),
            "expected a JSON object with a \"type\" field, got an array"
        );
        assert_eq!(error("null"), JsonError::NotObject { found: "null" });
        let syntax = error("{\"type\":");
        assert!(syntax.to_string().starts_with("invalid JSON ("), "{syntax}");
        assert!(
            syntax
                .to_string()
                .ends_with(r#"expected one object like {"type":"say","text":"hi"}"#)
        );
        assert_eq!(syntax.kind(), ErrorKind::InvalidJson);
    }

    #[test]
    fn field_errors_name_the_field() {
        let missing = error(r#"{"type":"msg","to":"bob"}"#);
        assert_eq!(
            missing.to_string(),
            "missing field \"text\" in a \"msg\" message: expected a string"
        );
        let wrong = error(r##"{"type":"join","room":["#a"]}"##);
        assert_eq!(
            wrong.to_string(),
            "field \"room\" must be a string, got an array"
        );
        let limit = error(r#"{"type":"history","limit":"5"}"#);
        assert_eq!(
            limit.to_string(),
            "field \"limit\" must be a number, got a string"
        );
    }

    #[test]
    fn values_are_checked_like_the_line_protocol() {
        let nick_err = error(r#"{"type":"nick","nick":"root"}"#);
        assert_eq!(
            nick_err.to_string(),
            "nick root is reserved: pick another with /nick <name>"
        );
        assert_eq!(nick_err.kind(), ErrorKind::InvalidNick);
        assert_eq!(
            error(r#"{"type":"say","text":" "}"#),
            JsonError::Command(CommandError::EmptyText)
        );
        assert_eq!(
            error(r#"{"type":"command","line":""}"#).to_string(),
            "empty message: expected some text"
        );
        assert_eq!(
            error(r#"{"type":"command","line":"/foo"}"#).kind(),
            ErrorKind::UnknownCommand
        );
        let too_long = format!(r#"{{"type":"me","text":"{}"}}"#, "x".repeat(4097));
        assert_eq!(
            error(&too_long),
            JsonError::Command(CommandError::TextTooLong { len: 4097 })
        );
    }

    #[test]
    fn history_limit_at_boundaries_and_past_them() {
        assert_eq!(
            parsed(r#"{"type":"history","limit":1}"#),
            Command::History {
                room: None,
                limit: Some(1)
            }
        );
        for bad in ["0", "501", "-1", "1.5", "1e30"] {
            let err = error(&format!(r#"{{"type":"history","limit":{bad}}}"#));
            assert!(
                matches!(err, JsonError::Command(CommandError::HistoryLimit { .. })),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn size_limit_at_boundary_and_past_it() {
        let head = r#"{"type":"list"}"#;
        let exact = format!("{head}{}", " ".repeat(MAX_JSON_BYTES - head.len()));
        assert_eq!(parsed(&exact), Command::List);
        let over = format!("{exact} ");
        assert_eq!(
            error(&over).to_string(),
            "message too large: 65537 bytes, at most 65536"
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!(
            r#"{{"type":"list","x":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(matches!(error(&deep), JsonError::Syntax { .. }));
    }

    #[test]
    fn commands_encode_type_first_and_leave_out_absent_options() {
        let msg = Command::Msg {
            to: nick("bob"),
            text: "say \"hi\"".into(),
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"msg","to":"bob","text":"say \"hi\""}"#
        );
        let history = Command::History {
            room: None,
            limit: Some(20),
        };
        assert_eq!(history.to_json(), r#"{"type":"history","limit":20}"#);
        assert_eq!(Command::Part(None).to_json(), r#"{"type":"part"}"#);
    }

    proptest! {
        #[test]
        fn commands_round_trip(command in strategies::command()) {
            prop_assert_eq!(Command::from_json(&command.to_json()), Ok(command));
        }

    }

    #[test]
    fn account_objects_parse_and_passwords_may_hold_spaces() {
        let password = |p: &str| crate::Password::parse(p).expect("valid");
        assert_eq!(
            parsed(r#"{"type":"register","password":"a long pass phrase"}"#),
            Command::Register {
                password: password("a long pass phrase"),
                invite: None
            }
        );
        assert_eq!(
            parsed(r#"{"type":"login","account":"alice","password":"a long pass phrase"}"#),
            Command::Login {
                account: nick("alice"),
                password: password("a long pass phrase")
            }
        );
        assert_eq!(parsed(r#"{"type":"logout"}"#), Command::Logout);
        assert_eq!(
            error(r#"{"type":"login","account":"alice"}"#).to_string(),
            "missing field \"password\" in a \"login\" message: expected a string"
        );
        assert_eq!(
            error(r#"{"type":"passwd","old":"12345678","new":"1234"}"#).kind(),
            ErrorKind::InvalidPassword
        );
        assert_eq!(
            error(r#"{"type":"register","password":"12345678","invite":"a b"}"#).kind(),
            ErrorKind::Usage
        );
    }

    #[test]
    fn token_objects_parse() {
        let text = format!("rct_{}", "5f".repeat(32));
        let token = crate::AccessToken::parse(&text).expect("the form");
        assert_eq!(
            parsed(&format!(r#"{{"type":"login","token":"{text}"}}"#)),
            Command::LoginToken(token)
        );
        assert_eq!(
            parsed(r#"{"type":"token","label":"page"}"#),
            Command::Token(Some("page".into()))
        );
        assert_eq!(parsed(r#"{"type":"tokens"}"#), Command::Tokens);
        assert_eq!(parsed(r#"{"type":"revoke","id":7}"#), Command::Revoke(7));
        assert_eq!(
            error(r#"{"type":"revoke","id":"7"}"#).to_string(),
            "field \"id\" must be a number, got a string"
        );
        assert_eq!(
            error(r#"{"type":"login","token":"nope"}"#).kind(),
            ErrorKind::Usage
        );
    }
}
