//! `ServerEvent::to_line`: server events → human-readable lines of the line protocol.
//!
//! Data path: the hub's `ServerEvent` → [`ServerEvent::to_line`] (once per event) → the same
//! bytes written to every line-protocol receiver.
//!
//! Every output line ends with `\n`, and its first characters say what it is, so the stream is
//! easy to read and to grep:
//!
//! | starts with | what | example |
//! | --- | --- | --- |
//! | `[HH:MM:SS] #room ` | a room message (`<nick>`) or action (`* nick`) | `[12:03:04] #lobby <alice> hello` |
//! | `[HH:MM:SS] <` | a private message | `[12:03:04] <alice -> bob> psst` |
//! | `[HH:MM:SS] -> ` / `<- ` / `~ ` | join, leave, nick change | `[12:03:04] -> alice joined #lobby` |
//! | `*** ` | the server speaking: welcome, help, members, rooms, history brackets | `*** rooms (1): #lobby (3)` |
//! | `ERROR ` | an error reply | `ERROR unknown command /foo — try /help` |
//! | `BYE ` | the server closes the connection | `BYE server shutting down` |
//!
//! Times are UTC (`ts` modulo one day). Peer text is written as sent, except that a line break
//! inside it is written as the two characters `\n` (or `\r`): one event never splits into two
//! lines it did not mean. Server text that spans lines (help, message of the day) becomes
//! several `*** ` lines.

use std::fmt::Write;

use std::collections::BTreeMap;

use crate::event::{ChatMessage, ModAction, RoomSummary, ServerEvent, TokenInfo};
use crate::moderation::RoomRole;
use crate::sanitize::sanitize;
use crate::text::escape_breaks;
use crate::{Nick, RoomName};

impl ServerEvent {
    /// This event as line-protocol text: one or more lines, each ending with `\n`.
    pub fn to_line(&self) -> String {
        let mut out = String::new();
        match self {
            Self::Welcome {
                nick,
                room,
                motd,
                account,
            } => welcome(&mut out, nick, room, motd.as_deref(), account.as_ref()),
            Self::SignedIn { account } => {
                let _ = writeln!(out, "*** you are signed in as {account}");
            }
            Self::SignedOut { reason } => {
                server_lines(&mut out, &format!("you are signed out: {reason}"));
            }
            Self::Token { id, token, label } => {
                let label = label
                    .as_deref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                server_lines(
                    &mut out,
                    &format!(
                        "token {id}{label}: {token}\nkeep it secret: it signs in as you \
                         (/login {token}); it is not shown again; /revoke {id} ends it"
                    ),
                );
            }
            Self::Tokens { tokens } => token_list(&mut out, tokens),
            Self::Message(message) => chat_line(&mut out, message),
            Self::Private {
                ts, from, to, text, ..
            } => {
                timed(
                    &mut out,
                    *ts,
                    &format!("<{from} -> {to}> {}", sanitize(text)),
                );
            }
            Self::Joined { room, nick, ts } => {
                timed(&mut out, *ts, &format!("-> {nick} joined {room}"))
            }
            Self::Left {
                room,
                nick,
                ts,
                reason,
            } => left(&mut out, room, nick, *ts, reason.as_deref()),
            Self::NickChanged { old, new, ts } => {
                timed(&mut out, *ts, &format!("~ {old} is now known as {new}"));
            }
            Self::Members { room, nicks, roles } => members(&mut out, room, nicks, roles),
            Self::Moderated {
                room,
                action,
                target,
                by,
                reason,
                until,
                ts,
            } => {
                let mut body = match action {
                    ModAction::Registered => format!("! {target} registered {room} and owns it"),
                    ModAction::Kicked | ModAction::Banned => {
                        format!("! {by} {} {target} from {room}", action.verb())
                    }
                    _ => format!("! {by} {} {target} in {room}", action.verb()),
                };
                if let Some(until) = until {
                    body += &format!(" until {} UTC", date_time(*until));
                }
                if let Some(reason) = reason {
                    body += &format!(" ({})", sanitize(reason));
                }
                timed(&mut out, *ts, &body);
            }
            Self::Topic {
                room,
                text,
                by,
                ts: _,
            } => {
                let by = by
                    .as_ref()
                    .map(|b| format!(" (set by {b})"))
                    .unwrap_or_default();
                match text {
                    Some(text) => server_lines(
                        &mut out,
                        &format!("topic of {room}: {}{by}", escape_breaks(text)),
                    ),
                    None => server_lines(&mut out, &format!("{room} has no topic{by}")),
                }
            }
            Self::Modes {
                room, modes, by, ..
            } => {
                let by = by
                    .as_ref()
                    .map(|b| format!(" (set by {b})"))
                    .unwrap_or_default();
                let modes = if modes.is_empty() { "none" } else { modes };
                server_lines(&mut out, &format!("modes of {room}: {modes}{by}"));
            }
            Self::Redacted {
                room,
                id,
                by,
                reason,
                ts,
            } => {
                let reason = reason
                    .as_deref()
                    .map(|r| format!(" ({})", sanitize(r)))
                    .unwrap_or_default();
                timed(
                    &mut out,
                    *ts,
                    &format!("! {by} removed message {id} from {room}{reason}"),
                );
            }
            Self::Invited { room, by } => server_lines(
                &mut out,
                &format!("{by} invited you to {room}: /join {room}"),
            ),
            Self::Rooms { rooms } => room_list(&mut out, rooms),
            Self::History { room, messages } => history(&mut out, room, messages),
            Self::Info { text } => server_lines(&mut out, text),
            Self::Error { message, .. } => tagged(&mut out, "ERROR", message),
            Self::Bye { reason } => tagged(&mut out, "BYE", reason),
        }
        out
    }
}

/// `[HH:MM:SS]` in UTC for a unix time in milliseconds.
fn clock(ts: u64) -> String {
    let seconds_of_day = (ts / 1000) % 86_400;
    let (hours, minutes, seconds) = (
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
    );
    format!("[{hours:02}:{minutes:02}:{seconds:02}]")
}

fn timed(out: &mut String, ts: u64, body: &str) {
    let _ = writeln!(out, "{} {body}", clock(ts));
}

fn tagged(out: &mut String, tag: &str, text: &str) {
    let _ = writeln!(out, "{tag} {}", sanitize(text));
}

/// Server-authored text: each of its lines becomes one `*** ` line.
fn server_lines(out: &mut String, text: &str) {
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let _ = writeln!(out, "*** {}", sanitize(line));
    }
}

fn welcome(
    out: &mut String,
    nick: &Nick,
    room: &RoomName,
    motd: Option<&str>,
    account: Option<&Nick>,
) {
    let signed_in = match account {
        Some(account) => format!(", signed in as {account}"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "*** welcome, {nick}! you are in {room}{signed_in}; /help lists the commands"
    );
    if let Some(motd) = motd {
        server_lines(out, motd);
    }
}

fn token_list(out: &mut String, tokens: &[TokenInfo]) {
    let _ = writeln!(out, "*** tokens ({}):", tokens.len());
    for token in tokens {
        let label = token.label.as_deref().unwrap_or("-");
        let used = token.last_used.map_or("never".to_owned(), date_time);
        let line = format!(
            "  {} {label} made {} last used {used}",
            token.id,
            date_time(token.created)
        );
        server_lines(out, &line);
    }
}

/// `2026-12-07 03:22` (UTC) for a unix time in milliseconds.
fn date_time(ts: u64) -> String {
    let minutes = ts / 60_000;
    let (hour, minute) = (minutes / 60 % 24, minutes % 60);
    let (year, month, day) = civil_date(minutes / (60 * 24));
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}")
}

/// The Gregorian date `days` after 1970-01-01: counted in 400-year eras of 146,097 days, each
/// year starting on 1 March so that the leap day falls last.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // 1970-01-01 is day 719,468 counted from 0000-03-01.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn chat_line(out: &mut String, message: &ChatMessage) {
    let ChatMessage {
        ts,
        room,
        from,
        text,
        action,
        ..
    } = message;
    let text = sanitize(text);
    let body = if *action {
        format!("{room} * {from} {text}")
    } else {
        format!("{room} <{from}> {text}")
    };
    timed(out, *ts, &body);
}

fn left(out: &mut String, room: &RoomName, nick: &Nick, ts: u64, reason: Option<&str>) {
    let body = match reason {
        Some(reason) => format!("<- {nick} left {room} ({})", sanitize(reason)),
        None => format!("<- {nick} left {room}"),
    };
    timed(out, ts, &body);
}

fn members(out: &mut String, room: &RoomName, nicks: &[Nick], roles: &BTreeMap<String, RoomRole>) {
    let _ = write!(out, "*** members of {room} ({}):", nicks.len());
    for nick in nicks {
        match roles.get(nick.as_str()) {
            Some(role) => {
                let _ = write!(out, " {}{nick}", role.sigil());
            }
            None => {
                let _ = write!(out, " {nick}");
            }
        }
    }
    out.push('\n');
}

fn room_list(out: &mut String, rooms: &[RoomSummary]) {
    let _ = write!(out, "*** rooms ({}):", rooms.len());
    for (index, summary) in rooms.iter().enumerate() {
        let separator = if index == 0 { " " } else { ", " };
        let _ = write!(out, "{separator}{} ({})", summary.room, summary.members);
    }
    out.push('\n');
}

fn history(out: &mut String, room: &RoomName, messages: &[ChatMessage]) {
    if messages.is_empty() {
        let _ = writeln!(out, "*** no history in {room}");
        return;
    }
    let count = messages.len();
    let noun = if count == 1 { "message" } else { "messages" };
    let _ = writeln!(out, "*** history of {room} ({count} {noun})");
    for message in messages {
        chat_line(out, message);
    }
    let _ = writeln!(out, "*** end of history of {room}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_kind::ErrorKind;
    use crate::fixtures::{nick, room};

    /// 12:03:04 UTC on some day, plus 567 ms.
    const TS: u64 = 1_700_000_000_000 - (1_700_000_000 % 86_400) * 1000 + 43_384_567;

    fn said(text: &str, action: bool) -> ChatMessage {
        ChatMessage {
            id: 1,
            ts: TS,
            room: room("lobby"),
            from: nick("alice"),
            text: text.into(),
            action,
        }
    }

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(TS), "[12:03:04]");
        assert_eq!(clock(0), "[00:00:00]");
        assert_eq!(clock(86_399_999), "[23:59:59]");
        assert_eq!(clock(u64::MAX), "[14:25:51]");
    }

    #[test]
    fn timed_events() {
        let cases = [
            (
                ServerEvent::Message(said("hello", false)),
                "[12:03:04] #lobby <alice> hello\n",
            ),
            (
                ServerEvent::Message(said("waves", true)),
                "[12:03:04] #lobby * alice waves\n",
            ),
            (
                ServerEvent::Private {
                    id: 2,
                    ts: TS,
                    from: nick("alice"),
                    to: nick("Bob"),
                    text: "psst".into(),
                },
                "[12:03:04] <alice -> Bob> psst\n",
            ),
            (
                ServerEvent::Joined {
                    room: room("lobby"),
                    nick: nick("alice"),
                    ts: TS,
                },
                "[12:03:04] -> alice joined #lobby\n",
            ),
            (
                ServerEvent::Left {
                    room: room("lobby"),
                    nick: nick("alice"),
                    ts: TS,
                    reason: None,
                },
                "[12:03:04] <- alice left #lobby\n",
            ),
            (
                ServerEvent::Left {
                    room: room("lobby"),
                    nick: nick("alice"),
                    ts: TS,
                    reason: Some("bye".into()),
                },
                "[12:03:04] <- alice left #lobby (bye)\n",
            ),
            (
                ServerEvent::NickChanged {
                    old: nick("guest-1"),
                    new: nick("alice"),
                    ts: TS,
                },
                "[12:03:04] ~ guest-1 is now known as alice\n",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(event.to_line(), line);
        }
    }

    #[test]
    fn server_lines() {
        let welcome = ServerEvent::Welcome {
            nick: nick("guest-1"),
            room: room("lobby"),
            motd: Some("be nice\r\nno spam".into()),
            account: None,
        };
        assert_eq!(
            welcome.to_line(),
            "*** welcome, guest-1! you are in #lobby; /help lists the commands\n*** be nice\n*** no spam\n"
        );
        let signed = ServerEvent::Welcome {
            nick: nick("alice"),
            room: room("lobby"),
            motd: None,
            account: Some(nick("alice")),
        };
        assert_eq!(
            signed.to_line(),
            "*** welcome, alice! you are in #lobby, signed in as alice; /help lists the commands\n"
        );
        let account = ServerEvent::SignedIn {
            account: nick("Alice"),
        };
        assert_eq!(account.to_line(), "*** you are signed in as Alice\n");
        let out = ServerEvent::SignedOut {
            reason: "you signed out".into(),
        };
        assert_eq!(out.to_line(), "*** you are signed out: you signed out\n");
        let tokens = ServerEvent::Tokens {
            tokens: vec![
                TokenInfo {
                    id: 3,
                    label: Some("laptop".into()),
                    created: 1_796_613_720_000,
                    last_used: None,
                },
                TokenInfo {
                    id: 4,
                    label: None,
                    created: 951_782_400_000,
                    last_used: Some(1_709_164_800_000),
                },
            ],
        };
        assert_eq!(
            tokens.to_line(),
            "*** tokens (2):\n***   3 laptop made 2026-12-07 03:22 last used never\n\
             ***   4 - made 2000-02-29 00:00 last used 2024-02-29 00:00\n"
        );
        let members = ServerEvent::Members {
            room: room("rust"),
            nicks: vec![nick("alice"), nick("bob"), nick("carol")],
            roles: [
                ("alice".to_owned(), RoomRole::Operator),
                ("bob".to_owned(), RoomRole::Voiced),
            ]
            .into(),
        };
        assert_eq!(
            members.to_line(),
            "*** members of #rust (3): @alice +bob carol\n"
        );
        let banned = ServerEvent::Moderated {
            room: room("rust"),
            action: ModAction::Banned,
            target: nick("mallory"),
            by: nick("alice"),
            reason: Some("spam".into()),
            until: Some(1_796_613_720_000),
            ts: 43_384_000,
        };
        assert_eq!(
            banned.to_line(),
            "[12:03:04] ! alice banned mallory from #rust until 2026-12-07 03:22 UTC (spam)\n"
        );
        let topic = ServerEvent::Topic {
            room: room("rust"),
            text: Some("ownership".into()),
            by: Some(nick("alice")),
            ts: 0,
        };
        assert_eq!(
            topic.to_line(),
            "*** topic of #rust: ownership (set by alice)\n"
        );
        let rooms = vec![
            RoomSummary {
                room: room("lobby"),
                members: 3,
            },
            RoomSummary {
                room: room("rust"),
                members: 1,
            },
        ];
        assert_eq!(
            ServerEvent::Rooms { rooms }.to_line(),
            "*** rooms (2): #lobby (3), #rust (1)\n"
        );
        assert_eq!(
            ServerEvent::Rooms { rooms: vec![] }.to_line(),
            "*** rooms (0):\n"
        );
        assert_eq!(ServerEvent::info("a\nb").to_line(), "*** a\n*** b\n");
    }

    #[test]
    fn history_is_bracketed() {
        let event = ServerEvent::History {
            room: room("lobby"),
            messages: vec![said("hi", false), said("waves", true)],
        };
        assert_eq!(
            event.to_line(),
            "*** history of #lobby (2 messages)\n[12:03:04] #lobby <alice> hi\n\
             [12:03:04] #lobby * alice waves\n*** end of history of #lobby\n"
        );
        let one = ServerEvent::History {
            room: room("lobby"),
            messages: vec![said("hi", false)],
        };
        assert!(
            one.to_line()
                .starts_with("*** history of #lobby (1 message)\n")
        );
        let empty = ServerEvent::History {
            room: room("lobby"),
            messages: vec![],
        };
        assert_eq!(empty.to_line(), "*** no history in #lobby\n");
    }

    #[test]
    fn error_and_bye() {
        let error = ServerEvent::error(
            ErrorKind::NickTaken,
            "nick taken: bob is in use — pick another with /nick <name>",
        );
        assert_eq!(
            error.to_line(),
            "ERROR nick taken: bob is in use — pick another with /nick <name>\n"
        );
        assert_eq!(
            ServerEvent::Bye {
                reason: "server shutting down".into()
            }
            .to_line(),
            "BYE server shutting down\n"
        );
    }

    #[test]
    fn peer_line_breaks_never_split_an_event() {
        let event = ServerEvent::Message(said("line one\nERROR fake\r\n", false));
        let line = event.to_line();
        assert_eq!(
            line,
            "[12:03:04] #lobby <alice> line one\\nERROR fake\\r\\n\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
        let reason = ServerEvent::Bye {
            reason: "a\nb".into(),
        };
        assert_eq!(reason.to_line(), "BYE a\\nb\n");
    }
}
