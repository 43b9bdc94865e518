use super::*;
use rustchat_proto::fixtures::{message, nick, room};
use rustchat_proto::{ErrorKind, RoomSummary};

fn event(client: &mut Client, event: ServerEvent) -> Vec<String> {
    client.on_incoming(Incoming::Event(event))
}

fn welcome(client: &mut Client, who: &str) {
    client.on_connected(Wire::WsJson);
    event(
        client,
        ServerEvent::Welcome {
            nick: nick(who),
            room: room("#lobby"),
            motd: Some("Be kind.\nReally.".into()),
            account: None,
        },
    );
}

fn kinds(client: &Client) -> Vec<&EntryKind> {
    client.entries().iter().map(|e| &e.kind).collect()
}

#[test]
fn welcome_sets_who_and_where_and_shows_the_motd() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "guest-1");
    assert_eq!(
        (client.nick(), client.room()),
        (Some("guest-1"), Some("#lobby"))
    );
    assert_eq!(
        kinds(&client),
        [
            &EntryKind::Info("welcome, guest-1! you are in #lobby".into()),
            &EntryKind::Info("Be kind.".into()),
            &EntryKind::Info("Really.".into()),
        ]
    );
}

#[test]
fn own_messages_are_marked_and_text_is_sanitised() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    event(
        &mut client,
        ServerEvent::Message(message(1, "#lobby", "Alice", "hi")),
    );
    event(
        &mut client,
        ServerEvent::Message(message(2, "#lobby", "bob", "\u{1b}[31mred\u{202e}")),
    );
    let entries = client.entries();
    let last = entries.len() - 1;
    assert!(matches!(
        &entries[last - 1].kind,
        EntryKind::Chat { own: true, .. }
    ));
    assert_eq!(
        entries[last],
        Entry {
            ts: Some(2000),
            kind: EntryKind::Chat {
                id: 2,
                room: "#lobby".into(),
                from: "bob".into(),
                text: "\\x1b[31mred\\u{202e}".into(),
                action: false,
                own: false,
            },
            mention: false,
        }
    );
}

#[test]
fn joining_asks_for_the_room_list_and_its_answer_is_silent() {
    let mut client = Client::new(None, None);
    // Connecting asks for the list once; the answer fills the panel without a scrollback line.
    assert_eq!(client.on_connected(Wire::WsJson), ["/list"]);
    welcome(&mut client, "alice");
    let rooms = |list: &[(&str, usize)]| ServerEvent::Rooms {
        rooms: list
            .iter()
            .map(|(name, members)| RoomSummary {
                room: room(name),
                members: *members,
            })
            .collect(),
    };
    let before = client.entries().len();
    event(&mut client, rooms(&[("#lobby", 2)]));
    assert_eq!(client.entries().len(), before);
    let send = event(
        &mut client,
        ServerEvent::Joined {
            room: room("#rust"),
            nick: nick("alice"),
            ts: 5,
        },
    );
    assert_eq!(send, ["/list"]);
    assert_eq!(client.room(), Some("#rust"));
    event(&mut client, rooms(&[("#lobby", 1), ("#rust", 1)]));
    assert_eq!(
        client.rooms(),
        [("#lobby".to_owned(), 1), ("#rust".to_owned(), 1)]
    );
    // A /list the user typed is shown.
    event(&mut client, rooms(&[("#lobby", 1), ("#rust", 1)]));
    assert!(
        matches!(kinds(&client).last(), Some(EntryKind::Info(t)) if t.starts_with("rooms (2)"))
    );
    // Someone else joining is a dimmed notice and asks for nothing.
    let send = event(
        &mut client,
        ServerEvent::Joined {
            room: room("#rust"),
            nick: nick("bob"),
            ts: 6,
        },
    );
    assert!(send.is_empty());
    assert_eq!(
        kinds(&client).last(),
        Some(&&EntryKind::Presence("→ bob joined #rust".into()))
    );
    assert_eq!(
        client.rooms(),
        [("#lobby".to_owned(), 1), ("#rust".to_owned(), 2)],
        "counted"
    );
    event(
        &mut client,
        ServerEvent::Left {
            room: room("#lobby"),
            nick: nick("bob"),
            ts: 7,
            reason: Some("bye".into()),
        },
    );
    assert_eq!(client.rooms()[0], ("#lobby".to_owned(), 0));
    assert_eq!(
        kinds(&client).last(),
        Some(&&EntryKind::Presence("← bob left #lobby (bye)".into()))
    );
}

#[test]
fn reconnecting_restores_nick_and_room() {
    let mut client = Client::new(Some("alice".into()), None);
    assert_eq!(client.on_connected(Wire::WsJson), ["/nick alice", "/list"]);
    welcome(&mut client, "guest-3");
    event(
        &mut client,
        ServerEvent::NickChanged {
            old: nick("guest-3"),
            new: nick("carol"),
            ts: 1,
        },
    );
    event(
        &mut client,
        ServerEvent::Joined {
            room: room("#rust"),
            nick: nick("carol"),
            ts: 2,
        },
    );
    client.on_disconnected();
    assert_eq!(
        client.on_connected(Wire::WsJson),
        ["/nick carol", "/join #rust"]
    );
    // Leaving the room means not rejoining it.
    event(
        &mut client,
        ServerEvent::Welcome {
            nick: nick("carol"),
            room: room("#lobby"),
            motd: None,
            account: None,
        },
    );
    event(
        &mut client,
        ServerEvent::Left {
            room: room("#rust"),
            nick: nick("carol"),
            ts: 3,
            reason: None,
        },
    );
    assert_eq!(client.on_connected(Wire::WsJson), ["/nick carol", "/list"]);
}

#[test]
fn over_lines_what_we_asked_for_is_remembered() {
    let mut client = Client::new(None, None);
    assert_eq!(client.on_connected(Wire::TcpLines), ["/list"]);
    assert!(client.on_sent("/nick dave").is_empty());
    assert_eq!(client.on_sent("/JOIN Rust"), ["/list"]);
    assert!(client.on_sent("hello").is_empty());
    assert_eq!(
        (client.nick(), client.room()),
        (Some("dave"), Some("#rust"))
    );
    assert_eq!(
        client.on_connected(Wire::TcpLines),
        ["/nick dave", "/join #rust", "/list"]
    );
    // Our own /list answers fill the panel quietly; lines are sanitised; errors stand out.
    client.on_incoming(Incoming::Line(
        "*** rooms (2): #lobby (3), #rust (1)".into(),
    ));
    assert_eq!(
        client.rooms(),
        [("#lobby".to_owned(), 3), ("#rust".to_owned(), 1)]
    );
    assert!(client.entries().is_empty());
    client.on_incoming(Incoming::Line(
        "[12:00:00] #rust <eve> \u{1b}[2J\nERROR nope".into(),
    ));
    assert_eq!(
        kinds(&client),
        [
            &EntryKind::Line("[12:00:00] #rust <eve> \\x1b[2J".into()),
            &EntryKind::Error("nope".into()),
        ]
    );
}

#[test]
fn history_replays_skip_messages_already_shown() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    event(
        &mut client,
        ServerEvent::Message(message(7, "#lobby", "bob", "seen")),
    );
    let before = client.entries().len();
    let replay = |ids: &[u64]| ServerEvent::History {
        room: room("#lobby"),
        messages: ids
            .iter()
            .map(|id| message(*id, "#lobby", "bob", "m"))
            .collect(),
    };
    event(&mut client, replay(&[5, 6, 7]));
    assert_eq!(client.entries().len(), before, "all seen: nothing shown");
    event(&mut client, replay(&[6, 7, 8, 9]));
    assert_eq!(client.entries().len(), before + 4, "bracket, 8, 9, bracket");
    assert_eq!(
        client.entries()[before].kind,
        EntryKind::Info("history of #lobby (2 messages)".into())
    );
}

#[test]
fn errors_private_messages_and_the_rest() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    event(
        &mut client,
        ServerEvent::error(ErrorKind::NickTaken, "nick taken: bob"),
    );
    event(
        &mut client,
        ServerEvent::Private {
            id: 1,
            ts: 2,
            from: nick("bob"),
            to: nick("alice"),
            text: "psst".into(),
        },
    );
    event(
        &mut client,
        ServerEvent::Members {
            room: room("#lobby"),
            nicks: vec![nick("alice")],
            roles: Default::default(),
        },
    );
    event(
        &mut client,
        ServerEvent::Bye {
            reason: "bye\u{7}".into(),
        },
    );
    client.on_incoming(Incoming::Pong(std::time::Duration::ZERO));
    let kinds = kinds(&client);
    let n = kinds.len();
    assert_eq!(kinds[n - 4], &EntryKind::Error("nick taken: bob".into()));
    assert!(matches!(
        kinds[n - 3],
        EntryKind::Private { own: false, .. }
    ));
    assert_eq!(
        kinds[n - 2],
        &EntryKind::Info("members of #lobby (1): alice".into())
    );
    assert_eq!(kinds[n - 1], &EntryKind::Info("BYE bye\\x07".into()));
}

#[test]
fn scrollback_is_bounded() {
    let mut client = Client::new(None, None);
    for n in 0..SCROLLBACK + 5 {
        client.notice(&n.to_string(), 0);
    }
    assert_eq!(client.entries().len(), SCROLLBACK);
    assert_eq!(client.entries()[0].kind, EntryKind::Local("5".into()));
}

#[test]
fn rooms_lines_parse_or_not() {
    assert_eq!(
        parse_rooms_line("*** rooms (1): #a (2)"),
        Some(vec![("#a".into(), 2)])
    );
    assert_eq!(parse_rooms_line("*** rooms (1): a (2)"), None);
    assert_eq!(parse_rooms_line("*** rooms (1): #a (x)"), None);
    assert_eq!(
        parse_rooms_line("[12:00:00] #a <b> *** rooms (1): #a (2)"),
        None
    );
}

fn said(client: &mut Client, id: u64, room_name: &str, from: &str, text: &str) {
    event(
        client,
        ServerEvent::Message(message(id, room_name, from, text)),
    );
}

#[test]
fn messages_naming_us_are_marked_and_counted_once() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    said(&mut client, 1, "#lobby", "bob", "ALICE: look at this");
    said(&mut client, 2, "#lobby", "bob", "malice aforethought");
    said(&mut client, 3, "#lobby", "alice", "I am alice");
    let marks: Vec<bool> = client.entries().iter().map(|e| e.mention).collect();
    assert_eq!(&marks[marks.len() - 3..], [true, false, false]);
    event(
        &mut client,
        ServerEvent::Private {
            id: 4,
            ts: 4,
            from: nick("carol"),
            to: nick("alice"),
            text: "psst".into(),
        },
    );
    assert_eq!(client.take_alerts(), 2, "one mention, one private message");
    assert_eq!(client.take_alerts(), 0);
    // A replay marks the mention again but does not alert again.
    event(
        &mut client,
        ServerEvent::History {
            room: room("#rust"),
            messages: vec![message(5, "#rust", "bob", "alice?")],
        },
    );
    assert!(
        client
            .entries()
            .iter()
            .rev()
            .nth(1)
            .is_some_and(|e| e.mention)
    );
    assert_eq!(client.take_alerts(), 0);
}

#[test]
fn ignored_nicks_are_hidden_everywhere_until_unignored() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    assert_eq!(client.ignore("Mallory"), Ok(true));
    assert_eq!(client.ignore("mallory"), Ok(false));
    assert!(client.ignore("no spaces").is_err());
    let before = client.entries().len();
    said(&mut client, 1, "#lobby", "mallory", "spam alice");
    event(
        &mut client,
        ServerEvent::Private {
            id: 2,
            ts: 2,
            from: nick("MALLORY"),
            to: nick("alice"),
            text: "spam".into(),
        },
    );
    event(
        &mut client,
        ServerEvent::History {
            room: room("#rust"),
            messages: vec![message(3, "#rust", "mallory", "old spam")],
        },
    );
    assert_eq!(client.entries().len(), before, "nothing from mallory shows");
    assert_eq!(client.take_alerts(), 0);
    assert_eq!(client.ignored(), ["Mallory"]);
    assert!(client.unignore("MALLORY"));
    assert!(!client.unignore("mallory"));
    said(&mut client, 4, "#lobby", "mallory", "back");
    assert_eq!(client.entries().len(), before + 1);
    for n in 0..MAX_IGNORED {
        assert_eq!(client.ignore(&format!("n{n}")), Ok(true));
    }
    let full = client.ignore("one-more").expect_err("the list is bounded");
    assert!(full.contains("/unignore one first"), "{full}");
}

#[test]
fn the_nicks_seen_lately_come_first_and_ours_never() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    event(
        &mut client,
        ServerEvent::Members {
            room: room("#lobby"),
            nicks: vec![nick("alice"), nick("bob"), nick("carol"), nick("dave")],
            roles: Default::default(),
        },
    );
    said(&mut client, 1, "#lobby", "carol", "hi");
    event(
        &mut client,
        ServerEvent::NickChanged {
            old: nick("dave"),
            new: nick("david"),
            ts: 2,
        },
    );
    let known: Vec<&str> = client.known_nicks().collect();
    assert_eq!(known, ["carol", "bob", "david"]);
    for n in 0..KNOWN_NICKS + 5 {
        said(&mut client, 10 + n as u64, "#lobby", &format!("u{n}"), "x");
    }
    assert_eq!(client.known_nicks().count(), KNOWN_NICKS);
    assert_eq!(
        client.known_nicks().next(),
        Some(format!("u{}", KNOWN_NICKS + 4).as_str())
    );
}

#[test]
fn the_rooms_we_are_in_follow_joins_parts_and_switches() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    for name in ["#rust", "#go"] {
        event(
            &mut client,
            ServerEvent::Joined {
                room: room(name),
                nick: nick("alice"),
                ts: 1,
            },
        );
    }
    event(
        &mut client,
        ServerEvent::Joined {
            room: room("#perl"),
            nick: nick("bob"),
            ts: 1,
        },
    );
    assert_eq!(client.joined_rooms(), ["#lobby", "#rust", "#go"]);
    event(
        &mut client,
        ServerEvent::Left {
            room: room("#rust"),
            nick: nick("alice"),
            ts: 2,
            reason: None,
        },
    );
    assert_eq!(client.joined_rooms(), ["#lobby", "#go"]);
    event(
        &mut client,
        ServerEvent::info("#lobby is now your current room (you were already in it)"),
    );
    assert_eq!(client.room(), Some("#lobby"));
    // Over lines, what we asked for.
    let mut lines = Client::new(None, Some("#rust".into()));
    lines.on_connected(Wire::TcpLines);
    assert_eq!(lines.joined_rooms(), ["#lobby", "#rust"]);
    lines.on_sent("/join go");
    lines.on_sent("/part #rust");
    assert_eq!(lines.joined_rooms(), ["#lobby", "#go"]);
    lines.on_sent("/part");
    assert_eq!(lines.joined_rooms(), ["#lobby"]);
    assert_eq!(lines.room(), Some("#lobby"));
}

#[test]
fn over_lines_senders_are_read_for_mentions_ignores_and_completion() {
    let mut client = Client::new(Some("dave".into()), None);
    client.on_connected(Wire::TcpLines);
    for line in [
        "[12:00:00] #lobby <eve> dave: ping",
        "[12:00:01] #lobby * frank waves at Dave",
        "[12:00:02] <gina -> dave> psst",
        "[12:00:03] -> hank joined #lobby",
        "[12:00:04] <- ivan left #lobby (bye> dave)",
        "*** dave is here",
    ] {
        client.on_incoming(Incoming::Line(line.into()));
    }
    let marks: Vec<bool> = client.entries().iter().map(|e| e.mention).collect();
    assert_eq!(marks, [true, true, false, false, false, false]);
    let known: Vec<&str> = client.known_nicks().collect();
    assert_eq!(known, ["gina", "frank", "eve"]);
    assert_eq!(client.ignore("eve"), Ok(true));
    client.on_incoming(Incoming::Line("[12:00:05] #lobby <eve> again".into()));
    assert_eq!(client.entries().len(), 6, "eve's line is hidden");
}

/// The connection drops after the welcome but before the server confirmed the room we asked
/// for: the welcome's automatic join of #lobby must not make us forget it.
#[test]
fn an_unconfirmed_room_survives_the_welcome_s_own_join() {
    let mut client = Client::new(Some("tester".into()), Some("#rust".into()));
    assert_eq!(
        client.on_connected(Wire::WsJson),
        ["/nick tester", "/join #rust"]
    );
    welcome(&mut client, "guest-1");
    event(
        &mut client,
        ServerEvent::Joined {
            room: room("#lobby"),
            nick: nick("guest-1"),
            ts: 1,
        },
    );
    assert_eq!(client.room(), Some("#lobby"));
    client.on_disconnected();
    assert_eq!(
        client.on_connected(Wire::WsJson),
        ["/nick tester", "/join #rust"]
    );
    // Joining the lobby ourselves later is a choice, and is remembered.
    welcome(&mut client, "guest-2");
    for r in ["#lobby", "#rust", "#lobby"] {
        event(
            &mut client,
            ServerEvent::Joined {
                room: room(r),
                nick: nick("guest-2"),
                ts: 2,
            },
        );
    }
    client.on_disconnected();
    assert_eq!(client.on_connected(Wire::WsJson), ["/nick tester", "/list"]);
}

#[test]
fn a_registered_nick_asks_for_a_password_once_and_signs_in_with_it() {
    let mut client = Client::new(Some("alice".into()), None);
    assert_eq!(client.on_connected(Wire::WsJson), ["/nick alice", "/list"]);
    let refusal = ServerEvent::error(
        ErrorKind::NickRegistered,
        "nick alice is registered — /login alice <password> if it is yours",
    );
    assert!(event(&mut client, refusal).is_empty());
    assert_eq!(client.take_password_request().as_deref(), Some("alice"));
    assert_eq!(client.take_password_request(), None, "asked once");
    let line = client.sign_in_with("alice", "correct-horse".into());
    assert_eq!(line, "/login alice correct-horse");
    event(
        &mut client,
        ServerEvent::SignedIn {
            account: nick("alice"),
        },
    );
    assert_eq!(client.account(), Some("alice"));
    // A reconnect signs in again by itself, instead of asking for the nick.
    client.on_disconnected();
    assert_eq!(
        client.on_connected(Wire::WsJson),
        ["/login alice correct-horse", "/list"]
    );
    assert_eq!(client.account(), None, "until the server says so again");
}

#[test]
fn credentials_are_forgotten_on_a_wrong_password_or_a_sign_out() {
    let mut client =
        Client::new(Some("bob".into()), None).with_credentials("bob", "old-pass".into());
    assert_eq!(
        client.on_connected(Wire::TcpLines)[0],
        "/login bob old-pass"
    );
    client.on_incoming(Incoming::Line(
        "ERROR wrong account name or password".into(),
    ));
    client.on_disconnected();
    assert_eq!(client.on_connected(Wire::TcpLines)[0], "/nick bob");
    // Over lines: the refusal asks for the password, the confirmation is read from the line.
    let sent = client.on_incoming(Incoming::Line(
        "ERROR nick bob is registered — /login bob <password> if it is yours".into(),
    ));
    assert!(sent.is_empty());
    assert_eq!(client.take_password_request().as_deref(), Some("bob"));
    client.on_sent("/login bob new-pass1");
    client.on_incoming(Incoming::Line("*** you are signed in as bob".into()));
    assert_eq!(client.account(), Some("bob"));
    client.on_sent("/passwd new-pass1 newer-pass");
    client.on_disconnected();
    assert_eq!(
        client.on_connected(Wire::TcpLines)[0],
        "/login bob newer-pass"
    );
    client.on_incoming(Incoming::Line(
        "*** you are signed out: you signed out".into(),
    ));
    assert_eq!(client.account(), None);
    client.on_disconnected();
    assert_eq!(client.on_connected(Wire::TcpLines)[0], "/nick bob");
}

#[test]
fn lines_with_passwords_are_marked_secret() {
    for line in ["/login a b", "/IDENTIFY a b", "/register x", "/passwd a b"] {
        assert!(holds_secret(line), "{line}");
    }
    for line in ["hello /login", "/nick bob", "/logout"] {
        assert!(!holds_secret(line), "{line}");
    }
}

#[test]
fn a_redacted_message_leaves_the_screen() {
    let mut client = Client::new(None, None);
    welcome(&mut client, "alice");
    event(
        &mut client,
        ServerEvent::Message(message(7, "#lobby", "bob", "oops, a password")),
    );
    event(
        &mut client,
        ServerEvent::Message(message(8, "#lobby", "bob", "fine")),
    );
    event(
        &mut client,
        ServerEvent::Redacted {
            room: room("#lobby"),
            id: 7,
            by: nick("bob"),
            reason: Some("typo".into()),
            ts: 9,
        },
    );
    let texts: Vec<&str> = client
        .entries()
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Chat { text, .. } => Some(text.as_str()),
            EntryKind::Presence(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["fine", "bob removed a message from #lobby (typo)"]);
}
