//! Proptest strategies for the crate's data, shared by the in-file tests.

use proptest::prelude::*;

use crate::command::{Command, MAX_HISTORY};
use crate::error_kind::ErrorKind;
use crate::event::{ChatMessage, RoomSummary, ServerEvent};
use crate::{Nick, Password, RoomName};

/// A password the line protocol can carry: 8 to 40 non-blank characters.
pub(crate) fn password() -> impl Strategy<Value = Password> {
    "[!-~é]{8,40}".prop_filter_map("8 bytes or more", |p| Password::parse(&p).ok())
}

/// A message text that survives a line round trip: no line break, no leading whitespace.
pub(crate) fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/!?.,#é][a-zA-Z0-9 /!?.,#é]{0,30}"
}

/// Any text a peer could send in JSON, line breaks and control characters included.
pub(crate) fn any_text() -> impl Strategy<Value = String> {
    "(\\PC|[\\n\\r\\t\\x1b])[\\PC\\n\\r]{0,40}"
}

/// A nick a user may pick.
pub(crate) fn nick() -> impl Strategy<Value = Nick> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,23}".prop_filter_map("reserved or guest", |n| Nick::parse(&n).ok())
}

/// A nick the server may send: picked or guest.
pub(crate) fn known_nick() -> impl Strategy<Value = Nick> {
    prop_oneof![nick(), any::<u64>().prop_map(Nick::guest)]
}

pub(crate) fn room() -> impl Strategy<Value = RoomName> {
    "[a-zA-Z0-9_-]{1,32}".prop_filter_map("valid", |r| RoomName::parse(&r).ok())
}

pub(crate) fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        text().prop_map(Command::Say),
        nick().prop_map(Command::Nick),
        room().prop_map(Command::Join),
        proptest::option::of(room()).prop_map(Command::Part),
        (known_nick(), text()).prop_map(|(to, text)| Command::Msg { to, text }),
        text().prop_map(Command::Me),
        proptest::option::of(room()).prop_map(Command::Who),
        Just(Command::List),
        (
            proptest::option::of(room()),
            proptest::option::of(1..=MAX_HISTORY)
        )
            .prop_map(|(room, limit)| Command::History { room, limit }),
        Just(Command::Help),
        proptest::option::of(text()).prop_map(Command::Quit),
        (password(), proptest::option::of("[a-zA-Z0-9_-]{1,64}"))
            .prop_map(|(password, invite)| Command::Register { password, invite }),
        (nick(), password()).prop_map(|(account, password)| Command::Login { account, password }),
        Just(Command::Logout),
        (password(), password()).prop_map(|(old, new)| Command::Passwd { old, new }),
        "rct_[0-9a-f]{64}"
            .prop_map(|t| Command::LoginToken(crate::AccessToken::parse(&t).expect("the form"))),
        proptest::option::of("[a-zA-Z0-9][a-zA-Z0-9 ]{0,20}[a-zA-Z0-9]").prop_map(Command::Token),
        Just(Command::Tokens),
        any::<u64>().prop_map(Command::Revoke),
        (room(), "[a-z0-9]{1,32}").prop_map(|(room, key)| Command::JoinKey { room, key }),
        room().prop_map(Command::RoomRegister),
        (room(), known_nick(), proptest::option::of(text())).prop_map(|(room, nick, reason)| {
            Command::Kick {
                room,
                nick,
                reason: reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
            }
        }),
        (
            room(),
            known_nick(),
            proptest::option::of(1u64..=365).prop_map(|d| d.map(|d| d * 86_400_000)),
            proptest::option::of("[a-z][a-z ]{0,20}[a-z]")
        )
            .prop_map(|(room, nick, duration, reason)| Command::Ban {
                room,
                nick,
                duration,
                reason
            }),
        (room(), known_nick()).prop_map(|(room, nick)| Command::Unban { room, nick }),
        (
            room(),
            known_nick(),
            proptest::option::of(1u64..=59).prop_map(|d| d.map(|d| d * 60_000))
        )
            .prop_map(|(room, nick, duration)| Command::Mute {
                room,
                nick,
                duration
            }),
        (room(), known_nick()).prop_map(|(room, nick)| Command::Unmute { room, nick }),
        (room(), known_nick(), any::<bool>(), any::<bool>()).prop_map(|(room, nick, op, on)| {
            Command::RoomRole {
                room,
                nick,
                role: if op {
                    crate::RoomRole::Operator
                } else {
                    crate::RoomRole::Voiced
                },
                on,
            }
        }),
        (
            room(),
            proptest::option::of(proptest::option::of("[a-z][a-z ]{0,20}[a-z]"))
        )
            .prop_map(|(room, text)| Command::Topic { room, text }),
        (room(), any::<bool>(), any::<bool>()).prop_map(|(room, invite, key)| Command::Mode {
            room,
            changes: [
                invite.then_some(crate::ModeChange {
                    mode: crate::Mode::InviteOnly,
                    on: true,
                    key: None
                }),
                key.then(|| crate::ModeChange {
                    mode: crate::Mode::Key,
                    on: true,
                    key: Some("k3y".into())
                }),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }),
        (known_nick(), proptest::option::of(room()))
            .prop_map(|(nick, room)| Command::Invite { nick, room }),
        (any::<u64>(), proptest::option::of("[a-z][a-z ]{0,20}[a-z]"))
            .prop_map(|(id, reason)| Command::Redact { id, reason }),
        (nick(), proptest::option::of("[a-z][a-z ]{0,20}[a-z]"))
            .prop_map(|(account, reason)| Command::Suspend { account, reason }),
        nick().prop_map(Command::Unsuspend),
        (any::<[u8; 4]>(), 8u8..=32, proptest::option::of(1u64..=30)).prop_map(
            |(octets, prefix, days)| Command::Kline {
                net: ipnet::IpNet::new(std::net::IpAddr::from(octets), prefix)
                    .map(|n| n.trunc())
                    .expect("a valid prefix"),
                duration: days.map(|d| d * 86_400_000),
                reason: None,
            }
        ),
        Just(Command::Klines),
    ]
}

fn chat_message() -> impl Strategy<Value = ChatMessage> {
    (
        any::<u64>(),
        any::<u64>(),
        room(),
        known_nick(),
        any_text(),
        any::<bool>(),
    )
        .prop_map(|(id, ts, room, from, text, action)| ChatMessage {
            id,
            ts,
            room,
            from,
            text,
            action,
        })
}

fn error_kind() -> impl Strategy<Value = ErrorKind> {
    prop_oneof![
        Just(ErrorKind::Handshake),
        Just(ErrorKind::LineTooLong),
        Just(ErrorKind::InvalidJson),
        Just(ErrorKind::NickTaken),
        Just(ErrorKind::SlowConsumer),
        Just(ErrorKind::NickRegistered),
        Just(ErrorKind::Throttled),
        Just(ErrorKind::Other),
    ]
}

pub(crate) fn event() -> impl Strategy<Value = ServerEvent> {
    let nicks = proptest::collection::vec(known_nick(), 0..4);
    let rooms = proptest::collection::vec(
        (room(), any::<usize>()).prop_map(|(room, members)| RoomSummary { room, members }),
        0..4,
    );
    prop_oneof![
        (
            known_nick(),
            room(),
            proptest::option::of(any_text()),
            proptest::option::of(nick())
        )
            .prop_map(|(nick, room, motd, account)| ServerEvent::Welcome {
                nick,
                room,
                motd,
                account
            }),
        nick().prop_map(|account| ServerEvent::SignedIn { account }),
        any_text().prop_map(|reason| ServerEvent::SignedOut { reason }),
        (
            any::<u64>(),
            "rct_[0-9a-f]{64}",
            proptest::option::of(text())
        )
            .prop_map(|(id, token, label)| ServerEvent::Token { id, token, label }),
        proptest::collection::vec(
            (
                any::<u64>(),
                proptest::option::of(text()),
                any::<u64>(),
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(id, label, created, last_used)| crate::TokenInfo {
                    id,
                    label,
                    created,
                    last_used
                }),
            0..3
        )
        .prop_map(|tokens| ServerEvent::Tokens { tokens }),
        chat_message().prop_map(ServerEvent::Message),
        (
            any::<u64>(),
            any::<u64>(),
            known_nick(),
            known_nick(),
            any_text()
        )
            .prop_map(|(id, ts, from, to, text)| ServerEvent::Private {
                id,
                ts,
                from,
                to,
                text
            }),
        (room(), known_nick(), any::<u64>()).prop_map(|(room, nick, ts)| ServerEvent::Joined {
            room,
            nick,
            ts
        }),
        (
            room(),
            known_nick(),
            any::<u64>(),
            proptest::option::of(any_text())
        )
            .prop_map(|(room, nick, ts, reason)| ServerEvent::Left {
                room,
                nick,
                ts,
                reason
            }),
        (known_nick(), known_nick(), any::<u64>())
            .prop_map(|(old, new, ts)| ServerEvent::NickChanged { old, new, ts }),
        (room(), nicks).prop_map(|(room, nicks)| {
            let roles = nicks
                .iter()
                .take(1)
                .map(|n| (n.to_string(), crate::RoomRole::Operator))
                .collect();
            ServerEvent::Members { room, nicks, roles }
        }),
        (
            room(),
            known_nick(),
            known_nick(),
            proptest::option::of(any_text()),
            proptest::option::of(any::<u64>()),
            any::<u64>()
        )
            .prop_map(
                |(room, target, by, reason, until, ts)| ServerEvent::Moderated {
                    room,
                    action: crate::ModAction::Banned,
                    target,
                    by,
                    reason,
                    until,
                    ts
                }
            ),
        (
            room(),
            proptest::option::of(any_text()),
            proptest::option::of(known_nick()),
            any::<u64>()
        )
            .prop_map(|(room, text, by, ts)| ServerEvent::Topic { room, text, by, ts }),
        (
            room(),
            "[+ikmR]{0,5}",
            proptest::option::of(known_nick()),
            any::<u64>()
        )
            .prop_map(|(room, modes, by, ts)| ServerEvent::Modes {
                room,
                modes,
                by,
                ts
            }),
        (room(), known_nick()).prop_map(|(room, by)| ServerEvent::Invited { room, by }),
        (
            room(),
            any::<u64>(),
            known_nick(),
            proptest::option::of(any_text()),
            any::<u64>()
        )
            .prop_map(|(room, id, by, reason, ts)| ServerEvent::Redacted {
                room,
                id,
                by,
                reason,
                ts
            }),
        rooms.prop_map(|rooms| ServerEvent::Rooms { rooms }),
        (room(), proptest::collection::vec(chat_message(), 0..3))
            .prop_map(|(room, messages)| ServerEvent::History { room, messages }),
        any_text().prop_map(ServerEvent::info),
        (error_kind(), any_text()).prop_map(|(kind, message)| ServerEvent::error(kind, message)),
        any_text().prop_map(|reason| ServerEvent::Bye { reason }),
    ]
}
