//! The slash-command grammar: what follows the `/` of a line → `Command`.
//!
//! Data path: `Command::parse` (command.rs) sees a line starting with `/` → [`parse_slash`]
//! → `Command`, or a `CommandError` that names the command's usage. Each command takes its
//! arguments its own way; the small helpers below say which shape (one word, optional room,
//! free text) and refuse anything else with the usage line.

use crate::command::{Command, CommandError, checked_limit, checked_text};
use crate::moderation::{
    MAX_REASON_BYTES, MAX_TOPIC_BYTES, RoomRole, checked_key, checked_note, looks_like_duration,
    parse_address_range, parse_duration, parse_modes,
};
use crate::password::{AccessToken, Password, checked_invite, checked_label};
use crate::text::{EXCERPT_CHARS, excerpt};
use crate::{Nick, RoomName};

impl Command {
    /// Parses one line (without its line terminator). `Ok(None)` for a blank line.
    pub fn parse(line: &str) -> Result<Option<Self>, CommandError> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let parsed = match line.strip_prefix('/') {
            Some(rest) if rest.starts_with('/') => Self::Say(checked_text(rest)?),
            Some(rest) => parse_slash(rest)?,
            None => Self::Say(checked_text(line)?),
        };
        Ok(Some(parsed))
    }
}

const USAGE_NICK: &str = "/nick <name>";
const USAGE_JOIN: &str = "/join <#room> [key]";
const USAGE_PART: &str = "/part [#room]";
const USAGE_MSG: &str = "/msg <nick> <text>";
const USAGE_ME: &str = "/me <text>";
const USAGE_WHO: &str = "/who [#room]";
const USAGE_LIST: &str = "/list";
const USAGE_HISTORY: &str = "/history [#room] [N]";
const USAGE_HELP: &str = "/help";
const USAGE_REGISTER: &str =
    "/register <password> [invite-code] (a password with spaces: use the JSON protocol)";
const USAGE_LOGIN: &str = "/login <account> <password> (a password with spaces: use the JSON \
                           protocol), or /login <token>";
const USAGE_LOGOUT: &str = "/logout";
const USAGE_PASSWD: &str = "/passwd <old password> <new password>";
const USAGE_TOKENS: &str = "/tokens";
const USAGE_ROOM: &str = "/room register <#room>";
const USAGE_KICK: &str = "/kick <#room> <nick> [reason]";
const USAGE_BAN: &str = "/ban <#room> <nick> [duration like 10m, 2h, 7d] [reason]";
const USAGE_UNBAN: &str = "/unban <#room> <nick>";
const USAGE_MUTE: &str = "/mute <#room> <nick> [duration like 10m, 2h, 7d]";
const USAGE_UNMUTE: &str = "/unmute <#room> <nick>";
const USAGE_ROLE: &str = "/op, /deop, /voice or /devoice <#room> <nick>";
const USAGE_TOPIC: &str = "/topic <#room> [text, or - to clear]";
const USAGE_MODE: &str = "/mode <#room> [+i|-i|+k key|-k|+m|-m|+R|-R ...]";
const USAGE_INVITE: &str = "/invite <nick> [#room]";
const USAGE_REDACT: &str = "/redact <message id> [reason]";
const USAGE_SUSPEND: &str = "/suspend <account> [reason]";
const USAGE_UNSUSPEND: &str = "/unsuspend <account>";
const USAGE_KLINE: &str = "/kline <address or range> [duration like 10m, 2h, 7d] [reason]";
const USAGE_UNKLINE: &str = "/unkline <address or range>";
const USAGE_KLINES: &str = "/klines";
const USAGE_REVOKE: &str = "/revoke <id> (the number /tokens shows)";

/// Parses what follows the `/`: a command name, then its arguments.
pub(crate) fn parse_slash(rest: &str) -> Result<Command, CommandError> {
    let (name, args) = split_word(rest);
    match name.to_ascii_lowercase().as_str() {
        "nick" => Ok(Command::Nick(Nick::parse(one_arg(args, USAGE_NICK)?)?)),
        "join" => parse_join(args),
        "room" => match words::<2>(args, USAGE_ROOM)? {
            [sub, room] if sub.eq_ignore_ascii_case("register") => {
                Ok(Command::RoomRegister(RoomName::parse(room)?))
            }
            _ => Err(usage(USAGE_ROOM)),
        },
        "kick" => {
            let (room, nick, rest) = room_and_nick(args, USAGE_KICK)?;
            Ok(Command::Kick {
                room,
                nick,
                reason: checked_note(rest, MAX_REASON_BYTES)?,
            })
        }
        "ban" => {
            let (room, nick, rest) = room_and_nick(args, USAGE_BAN)?;
            let (first, after) = split_word(rest);
            let (duration, reason) = if looks_like_duration(first) {
                (Some(parse_duration(first)?), after)
            } else {
                (None, rest)
            };
            Ok(Command::Ban {
                room,
                nick,
                duration,
                reason: checked_note(reason, MAX_REASON_BYTES)?,
            })
        }
        "unban" => {
            let [room, nick] = words::<2>(args, USAGE_UNBAN)?;
            Ok(Command::Unban {
                room: RoomName::parse(room)?,
                nick: Nick::parse_known(nick)?,
            })
        }
        "mute" => {
            let (room, nick, rest) = room_and_nick(args, USAGE_MUTE)?;
            let duration = match rest.split_whitespace().collect::<Vec<_>>()[..] {
                [] => None,
                [word] => Some(parse_duration(word)?),
                _ => return Err(usage(USAGE_MUTE)),
            };
            Ok(Command::Mute {
                room,
                nick,
                duration,
            })
        }
        "unmute" => {
            let [room, nick] = words::<2>(args, USAGE_UNMUTE)?;
            Ok(Command::Unmute {
                room: RoomName::parse(room)?,
                nick: Nick::parse_known(nick)?,
            })
        }
        "op" | "deop" | "voice" | "devoice" => {
            let [room, nick] = words::<2>(args, USAGE_ROLE)?;
            let lower = name.to_ascii_lowercase();
            let role = if lower.ends_with("op") {
                RoomRole::Operator
            } else {
                RoomRole::Voiced
            };
            Ok(Command::RoomRole {
                room: RoomName::parse(room)?,
                nick: Nick::parse_known(nick)?,
                role,
                on: !lower.starts_with("de"),
            })
        }
        "topic" => {
            let (room, text) = split_word(args);
            if room.is_empty() {
                return Err(usage(USAGE_TOPIC));
            }
            let text = match text.trim() {
                "" => None,
                "-" => Some(None),
                text => Some(checked_note(text, MAX_TOPIC_BYTES)?),
            };
            Ok(Command::Topic {
                room: RoomName::parse(room)?,
                text,
            })
        }
        "mode" => {
            let words: Vec<&str> = args.split_whitespace().collect();
            let Some((room, changes)) = words.split_first() else {
                return Err(usage(USAGE_MODE));
            };
            Ok(Command::Mode {
                room: RoomName::parse(room)?,
                changes: parse_modes(changes)?,
            })
        }
        "redact" => {
            let (id, reason) = split_word(args);
            if id.is_empty() {
                return Err(usage(USAGE_REDACT));
            }
            Ok(Command::Redact {
                id: id.parse().map_err(|_| CommandError::BadMessageId {
                    got: excerpt(id, EXCERPT_CHARS),
                })?,
                reason: checked_note(reason, MAX_REASON_BYTES)?,
            })
        }
        "suspend" => {
            let (account, reason) = split_word(args);
            if account.is_empty() {
                return Err(usage(USAGE_SUSPEND));
            }
            Ok(Command::Suspend {
                account: Nick::parse(account)?,
                reason: checked_note(reason, MAX_REASON_BYTES)?,
            })
        }
        "unsuspend" => Ok(Command::Unsuspend(Nick::parse(one_arg(
            args,
            USAGE_UNSUSPEND,
        )?)?)),
        "kline" => {
            let (net, rest) = split_word(args);
            if net.is_empty() {
                return Err(usage(USAGE_KLINE));
            }
            let (first, after) = split_word(rest);
            let (duration, reason) = if looks_like_duration(first) {
                (Some(parse_duration(first)?), after)
            } else {
                (None, rest)
            };
            Ok(Command::Kline {
                net: parse_address_range(net)?,
                duration,
                reason: checked_note(reason, MAX_REASON_BYTES)?,
            })
        }
        "unkline" => Ok(Command::Unkline(parse_address_range(one_arg(
            args,
            USAGE_UNKLINE,
        )?)?)),
        "klines" => no_args(args, USAGE_KLINES, Command::Klines),
        "invite" => {
            let words: Vec<&str> = args.split_whitespace().collect();
            let (nick, room) = match words[..] {
                [nick] => (nick, None),
                [nick, room] => (nick, Some(RoomName::parse(room)?)),
                _ => return Err(usage(USAGE_INVITE)),
            };
            Ok(Command::Invite {
                nick: Nick::parse_known(nick)?,
                room,
            })
        }
        "part" => Ok(Command::Part(optional_room(args, USAGE_PART)?)),
        "msg" => parse_msg(args),
        "me" => Ok(Command::Me(required_text(args, USAGE_ME)?)),
        "who" => Ok(Command::Who(optional_room(args, USAGE_WHO)?)),
        "list" => no_args(args, USAGE_LIST, Command::List),
        "history" => parse_history(args),
        "help" => no_args(args, USAGE_HELP, Command::Help),
        "quit" => Ok(Command::Quit(optional_text(args)?)),
        "register" => parse_register(args),
        "login" | "identify" => parse_login(args),
        "token" if args.trim().is_empty() => Ok(Command::Token(None)),
        "token" => Ok(Command::Token(Some(checked_label(args)?))),
        "tokens" => no_args(args, USAGE_TOKENS, Command::Tokens),
        "revoke" => {
            let [id] = words::<1>(args, USAGE_REVOKE)?;
            id.parse()
                .map(Command::Revoke)
                .map_err(|_| CommandError::BadTokenId {
                    got: excerpt(id, EXCERPT_CHARS),
                })
        }
        "logout" => no_args(args, USAGE_LOGOUT, Command::Logout),
        "passwd" => match words::<2>(args, USAGE_PASSWD)? {
            [old, new] => Ok(Command::Passwd {
                old: Password::parse(old)?,
                new: Password::parse(new)?,
            }),
        },
        _ => Err(CommandError::Unknown {
            name: excerpt(name, EXCERPT_CHARS),
        }),
    }
}

/// Splits off the first word; the rest has its leading whitespace removed.
fn split_word(input: &str) -> (&str, &str) {
    match input.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (input, ""),
    }
}

fn usage(usage: &'static str) -> CommandError {
    CommandError::Usage { usage }
}

fn one_arg<'a>(args: &'a str, usage_text: &'static str) -> Result<&'a str, CommandError> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next()) {
        (Some(word), None) => Ok(word),
        _ => Err(usage(usage_text)),
    }
}

fn no_args(
    args: &str,
    usage_text: &'static str,
    command: Command,
) -> Result<Command, CommandError> {
    if args.trim().is_empty() {
        Ok(command)
    } else {
        Err(usage(usage_text))
    }
}

fn optional_room(args: &str, usage_text: &'static str) -> Result<Option<RoomName>, CommandError> {
    if args.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(RoomName::parse(one_arg(args, usage_text)?)?))
}

fn required_text(args: &str, usage_text: &'static str) -> Result<String, CommandError> {
    if args.trim().is_empty() {
        return Err(usage(usage_text));
    }
    checked_text(args)
}

fn optional_text(args: &str) -> Result<Option<String>, CommandError> {
    if args.trim().is_empty() {
        return Ok(None);
    }
    checked_text(args).map(Some)
}

fn parse_msg(args: &str) -> Result<Command, CommandError> {
    let (to, text) = split_word(args);
    if to.is_empty() || text.trim().is_empty() {
        return Err(usage(USAGE_MSG));
    }
    // The target may be a guest, so only the syntax of the nick is checked.
    Ok(Command::Msg {
        to: Nick::parse_known(to)?,
        text: checked_text(text)?,
    })
}

/// `/join #room` or `/join #room key`.
fn parse_join(args: &str) -> Result<Command, CommandError> {
    match args.split_whitespace().collect::<Vec<_>>()[..] {
        [room] => Ok(Command::Join(RoomName::parse(room)?)),
        [room, key] => Ok(Command::JoinKey {
            room: RoomName::parse(room)?,
            key: checked_key(key)?,
        }),
        _ => Err(usage(USAGE_JOIN)),
    }
}

/// A room, a nick, and the rest of the line.
fn room_and_nick<'a>(
    args: &'a str,
    usage_text: &'static str,
) -> Result<(RoomName, Nick, &'a str), CommandError> {
    let (room, rest) = split_word(args);
    let (nick, rest) = split_word(rest);
    if room.is_empty() || nick.is_empty() {
        return Err(usage(usage_text));
    }
    Ok((RoomName::parse(room)?, Nick::parse_known(nick)?, rest))
}

/// Exactly `N` whitespace-separated words, or the usage.
fn words<'a, const N: usize>(
    args: &'a str,
    usage_text: &'static str,
) -> Result<[&'a str; N], CommandError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    words.try_into().map_err(|_| usage(usage_text))
}

/// `/register <password>` or `/register <password> <invite-code>`.
fn parse_register(args: &str) -> Result<Command, CommandError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let (password, invite) = match words.as_slice() {
        [password] => (password, None),
        [password, invite] => (password, Some(checked_invite(invite)?)),
        _ => return Err(usage(USAGE_REGISTER)),
    };
    Ok(Command::Register {
        password: Password::parse(password)?,
        invite,
    })
}

/// `/login <account> <password>` (an account's name is a nick a user could pick), or
/// `/login <token>`.
fn parse_login(args: &str) -> Result<Command, CommandError> {
    if let [token] = args.split_whitespace().collect::<Vec<_>>()[..]
        && AccessToken::looks_like(token)
    {
        return Ok(Command::LoginToken(AccessToken::parse(token)?));
    }
    let [account, password] = words::<2>(args, USAGE_LOGIN)?;
    Ok(Command::Login {
        account: Nick::parse(account)?,
        password: Password::parse(password)?,
    })
}

/// `/history`, `/history N`, `/history #room`, `/history #room N`.
fn parse_history(args: &str) -> Result<Command, CommandError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let (room, limit) = match words.as_slice() {
        [] => (None, None),
        [room] if room.starts_with('#') => (Some(*room), None),
        [limit] => (None, Some(*limit)),
        [room, limit] if room.starts_with('#') => (Some(*room), Some(*limit)),
        _ => return Err(usage(USAGE_HISTORY)),
    };
    let room = room.map(RoomName::parse).transpose()?;
    let limit = limit.map(parse_limit).transpose()?;
    Ok(Command::History { room, limit })
}

fn parse_limit(word: &str) -> Result<u32, CommandError> {
    let digits = word.strip_prefix('-').unwrap_or(word);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(USAGE_HISTORY));
    }
    match word.parse::<u64>() {
        Ok(limit) => checked_limit(limit),
        Err(_) => Err(CommandError::HistoryLimit {
            got: excerpt(word, EXCERPT_CHARS),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_kind::{ErrorKind, ErrorReply};
    use crate::fixtures::{nick, room};

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
    fn every_command_parses() {
        let cases = [
            ("/nick Alice", Command::Nick(nick("Alice"))),
            ("/JOIN Rust", Command::Join(room("#rust"))),
            ("/part", Command::Part(None)),
            ("/part #rust", Command::Part(Some(room("rust")))),
            (
                "/msg guest-3   hi there ",
                Command::Msg {
                    to: nick("guest-3"),
                    text: "hi there ".into(),
                },
            ),
            ("/me waves", Command::Me("waves".into())),
            ("/who", Command::Who(None)),
            ("/who lobby", Command::Who(Some(room("lobby")))),
            ("/list", Command::List),
            (
                "/history",
                Command::History {
                    room: None,
                    limit: None,
                },
            ),
            (
                "/history 20",
                Command::History {
                    room: None,
                    limit: Some(20),
                },
            ),
            (
                "/history #rust",
                Command::History {
                    room: Some(room("rust")),
                    limit: None,
                },
            ),
            (
                "/history #rust 5",
                Command::History {
                    room: Some(room("rust")),
                    limit: Some(5),
                },
            ),
            ("/help", Command::Help),
            ("/quit", Command::Quit(None)),
            (
                "/quit gone fishing",
                Command::Quit(Some("gone fishing".into())),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parsed(line), expected, "{line}");
        }
    }

    #[test]
    fn unknown_commands_point_to_help() {
        let err = error("/foo bar");
        assert_eq!(err.to_string(), "unknown command /foo — try /help");
        assert_eq!(err.kind(), ErrorKind::UnknownCommand);
        assert_eq!(error("/").to_string(), "unknown command / — try /help");
        let long = format!("/{}", "x".repeat(100));
        assert_eq!(
            error(&long),
            CommandError::Unknown {
                name: format!("{}…", "x".repeat(40))
            }
        );
    }

    #[test]
    fn missing_or_extra_arguments_give_the_usage() {
        let cases = [
            ("/nick", "usage: /nick <name>"),
            ("/nick a b", "usage: /nick <name>"),
            ("/join", "usage: /join <#room> [key]"),
            ("/join #a key more", "usage: /join <#room> [key]"),
            ("/kick #a", "usage: /kick <#room> <nick> [reason]"),
            (
                "/ban",
                "usage: /ban <#room> <nick> [duration like 10m, 2h, 7d] [reason]",
            ),
            (
                "/mute #a bob 10m extra",
                "usage: /mute <#room> <nick> [duration like 10m, 2h, 7d]",
            ),
            (
                "/op #a",
                "usage: /op, /deop, /voice or /devoice <#room> <nick>",
            ),
            ("/room open #a", "usage: /room register <#room>"),
            ("/topic", "usage: /topic <#room> [text, or - to clear]"),
            (
                "/mode",
                "usage: /mode <#room> [+i|-i|+k key|-k|+m|-m|+R|-R ...]",
            ),
            ("/invite", "usage: /invite <nick> [#room]"),
            ("/part #a #b", "usage: /part [#room]"),
            ("/msg", "usage: /msg <nick> <text>"),
            ("/msg bob", "usage: /msg <nick> <text>"),
            ("/msg bob   ", "usage: /msg <nick> <text>"),
            ("/me", "usage: /me <text>"),
            ("/me   ", "usage: /me <text>"),
            ("/who #a #b", "usage: /who [#room]"),
            ("/list all", "usage: /list"),
            ("/help me", "usage: /help"),
            ("/history abc", "usage: /history [#room] [N]"),
            ("/history 5 #rust", "usage: /history [#room] [N]"),
            ("/history #a 1 2", "usage: /history [#room] [N]"),
        ];
        for (line, message) in cases {
            let err = error(line);
            assert_eq!(err.to_string(), message, "{line}");
            assert_eq!(err.kind(), ErrorKind::Usage);
        }
    }

    #[test]
    fn history_limit_at_boundaries_and_past_them() {
        assert_eq!(
            parsed("/history 1"),
            Command::History {
                room: None,
                limit: Some(1)
            }
        );
        assert_eq!(
            parsed("/history 500"),
            Command::History {
                room: None,
                limit: Some(500)
            }
        );
        let err = error("/history 501");
        assert_eq!(
            err.to_string(),
            "history limit out of range: 501, expected a number from 1 to 500"
        );
        assert_eq!(
            error("/history 0"),
            CommandError::HistoryLimit { got: "0".into() }
        );
        assert_eq!(
            error("/history -1"),
            CommandError::HistoryLimit { got: "-1".into() }
        );
        let huge = "99999999999999999999999";
        assert_eq!(
            error(&format!("/history {huge}")),
            CommandError::HistoryLimit { got: huge.into() }
        );
    }

    fn password(text: &str) -> crate::Password {
        crate::Password::parse(text).expect("a valid password")
    }

    #[test]
    fn account_commands_parse() {
        assert_eq!(
            parsed("/register correct-horse"),
            Command::Register {
                password: password("correct-horse"),
                invite: None
            }
        );
        assert_eq!(
            parsed("/register correct-horse AbC-12_x"),
            Command::Register {
                password: password("correct-horse"),
                invite: Some("AbC-12_x".into())
            }
        );
        let login = Command::Login {
            account: nick("Alice"),
            password: password("correct-horse"),
        };
        assert_eq!(parsed("/login Alice correct-horse"), login);
        assert_eq!(parsed("/IDENTIFY Alice   correct-horse "), login);
        assert_eq!(parsed("/logout"), Command::Logout);
        assert_eq!(
            parsed("/passwd old-secret new-secret"),
            Command::Passwd {
                old: password("old-secret"),
                new: password("new-secret")
            }
        );
    }

    #[test]
    fn account_commands_refuse_bad_arguments_saying_what_is_expected() {
        assert_eq!(error("/register").kind(), ErrorKind::Usage);
        assert_eq!(error("/register a b c").kind(), ErrorKind::Usage);
        let short = error("/register short");
        assert_eq!(short.kind(), ErrorKind::InvalidPassword);
        assert_eq!(
            short.to_string(),
            "password too short: 5 bytes, expected at least 8"
        );
        assert_eq!(
            error("/register long-enough bad/code").kind(),
            ErrorKind::Usage
        );
        let usage = error("/login alice my secret pass");
        assert!(
            usage.to_string().contains("use the JSON protocol"),
            "{usage}"
        );
        assert_eq!(
            error("/login guest-3 password1").kind(),
            ErrorKind::InvalidNick
        );
        assert_eq!(error("/logout now").kind(), ErrorKind::Usage);
        assert_eq!(error("/passwd only-one").kind(), ErrorKind::Usage);
        assert_eq!(
            error("/passwd long-enough short").kind(),
            ErrorKind::InvalidPassword
        );
    }

    #[test]
    fn token_commands_parse() {
        let text = format!("rct_{}", "5f".repeat(32));
        let token = crate::AccessToken::parse(&text).expect("the form");
        assert_eq!(
            parsed(&format!("/login {text}")),
            Command::LoginToken(token)
        );
        assert_eq!(error("/login rct_123").kind(), ErrorKind::Usage);
        assert_eq!(parsed("/token"), Command::Token(None));
        assert_eq!(
            parsed("/token my laptop"),
            Command::Token(Some("my laptop".into()))
        );
        assert_eq!(parsed("/tokens"), Command::Tokens);
        assert_eq!(parsed("/revoke 12"), Command::Revoke(12));
        assert_eq!(
            error("/revoke twelve").to_string(),
            "invalid token id twelve: expected the number /tokens shows"
        );
        assert_eq!(error("/revoke").kind(), ErrorKind::Usage);
    }

    #[test]
    fn moderation_commands_parse() {
        use crate::{Mode, ModeChange, RoomRole};
        assert_eq!(
            parsed("/join #club s3cret"),
            Command::JoinKey {
                room: room("club"),
                key: "s3cret".into()
            }
        );
        assert_eq!(
            parsed("/room register #club"),
            Command::RoomRegister(room("club"))
        );
        assert_eq!(
            parsed("/kick #club guest-4 stop that"),
            Command::Kick {
                room: room("club"),
                nick: nick("guest-4"),
                reason: Some("stop that".into())
            }
        );
        assert_eq!(
            parsed("/ban #club bob 2h spam links"),
            Command::Ban {
                room: room("club"),
                nick: nick("bob"),
                duration: Some(7_200_000),
                reason: Some("spam links".into())
            }
        );
        assert_eq!(
            parsed("/ban #club bob"),
            Command::Ban {
                room: room("club"),
                nick: nick("bob"),
                duration: None,
                reason: None
            }
        );
        assert_eq!(
            parsed("/mute #club bob 10m"),
            Command::Mute {
                room: room("club"),
                nick: nick("bob"),
                duration: Some(600_000)
            }
        );
        assert_eq!(
            parsed("/devoice #club bob"),
            Command::RoomRole {
                room: room("club"),
                nick: nick("bob"),
                role: RoomRole::Voiced,
                on: false
            }
        );
        assert_eq!(
            parsed("/topic #club  Rust, mostly "),
            Command::Topic {
                room: room("club"),
                text: Some(Some("Rust, mostly".into()))
            }
        );
        assert_eq!(
            parsed("/topic #club -"),
            Command::Topic {
                room: room("club"),
                text: Some(None)
            }
        );
        assert_eq!(
            parsed("/mode #club +ik key -m"),
            Command::Mode {
                room: room("club"),
                changes: vec![
                    ModeChange {
                        mode: Mode::InviteOnly,
                        on: true,
                        key: None
                    },
                    ModeChange {
                        mode: Mode::Key,
                        on: true,
                        key: Some("key".into())
                    },
                    ModeChange {
                        mode: Mode::Moderated,
                        on: false,
                        key: None
                    },
                ]
            }
        );
        assert_eq!(
            error("/mode #club +q").to_string(),
            format!("unknown mode +q: the modes are {}", crate::KNOWN_MODES)
        );
        assert_eq!(
            error("/ban #club bob 400d").to_string(),
            "invalid duration 400d: expected a number and a unit, like 30s, 10m, 2h or 7d (at most 365d)"
        );
        let long = "x".repeat(crate::MAX_REASON_BYTES + 1);
        assert_eq!(
            error(&format!("/kick #club bob {long}")).kind(),
            ErrorKind::InvalidText
        );
        assert_eq!(
            parsed("/invite bob"),
            Command::Invite {
                nick: nick("bob"),
                room: None
            }
        );
    }
}
