//! The hub's rules, one test per rule, with several connections talking in memory.

use std::sync::Arc;

use rustchat_proto::fixtures::{message, nick, room};
use rustchat_proto::{ChatMessage, Command, ErrorKind, HELP, Nick, RoomName, ServerEvent};

use super::{Hub, HubConfig, HubStats};
use crate::delivery::{ConnId, Outcome};
use crate::session::action::Ending;

const ALICE: ConnId = ConnId(1);
const BOB: ConnId = ConnId(2);
const CAROL: ConnId = ConnId(3);
const DAVE: ConnId = ConnId(4);

/// A hub with `conns` connected and named after them (alice, bob, carol, dave), all in #lobby.
fn hub_with(config: HubConfig, conns: &[ConnId]) -> Hub {
    let mut hub = Hub::new(config);
    for &conn in conns {
        hub.connect(conn, 0);
        let name = ["alice", "bob", "carol", "dave"][(conn.0 - 1) as usize];
        run(&mut hub, conn, Command::Nick(nick(name)));
    }
    hub
}

fn four() -> Hub {
    hub_with(HubConfig::default(), &[ALICE, BOB, CAROL, DAVE])
}

fn run(hub: &mut Hub, conn: ConnId, command: Command) -> Outcome {
    let outcome = hub.handle(conn, command, 1_000);
    assert!(hub.is_consistent(), "after {conn}: {hub:#?}");
    outcome
}

fn say(text: &str) -> Command {
    Command::Say(text.to_owned())
}

fn join(name: &str) -> Command {
    Command::Join(room(name))
}

/// The events `conn` receives, in order.
fn events_for(outcome: &Outcome, conn: ConnId) -> Vec<&ServerEvent> {
    let mine = outcome.deliveries.iter().filter(|d| d.to == conn);
    mine.map(|d| d.event.event()).collect()
}

/// The receivers, sorted.
fn receivers(outcome: &Outcome) -> Vec<ConnId> {
    let mut all: Vec<ConnId> = outcome.deliveries.iter().map(|d| d.to).collect();
    all.sort();
    all
}

/// The one event of a one-delivery outcome, checking its receiver.
fn only_event(outcome: &Outcome, conn: ConnId) -> &ServerEvent {
    assert_eq!(receivers(outcome), [conn], "{outcome:#?}");
    outcome.deliveries[0].event.event()
}

/// The kind and message of the one error `conn` got.
fn error_of(outcome: &Outcome, conn: ConnId) -> (ErrorKind, String) {
    match only_event(outcome, conn) {
        ServerEvent::Error { kind, message } => (*kind, message.clone()),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn info_of(outcome: &Outcome, conn: ConnId) -> String {
    match only_event(outcome, conn) {
        ServerEvent::Info { text } => text.clone(),
        other => panic!("expected info, got {other:?}"),
    }
}

fn all_share_one_event(outcome: &Outcome) -> bool {
    let first = &outcome.deliveries[0].event;
    outcome
        .deliveries
        .iter()
        .all(|d| Arc::ptr_eq(&d.event, first))
}

fn texts(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

/// The messages of the `History` event `conn` got in `outcome`.
fn history_for(outcome: &Outcome, conn: ConnId) -> Vec<ChatMessage> {
    let found = events_for(outcome, conn)
        .into_iter()
        .find_map(|event| match event {
            ServerEvent::History { messages, .. } => Some(messages.clone()),
            _ => None,
        });
    found.unwrap_or_else(|| panic!("no history for {conn} in {outcome:#?}"))
}

#[test]
fn connect_sends_welcome_joined_history_members_in_that_order() {
    let mut hub = Hub::new(HubConfig::default().motd("Be kind."));
    hub.restore(
        vec![
            message(1, "#lobby", "old", "one"),
            message(2, "#lobby", "old", "two"),
        ],
        3,
    );
    hub.connect(ALICE, 0);
    let outcome = hub.connect(BOB, 5);
    let guest = nick("guest-2");
    let lobby = RoomName::lobby();
    let bob_sees = events_for(&outcome, BOB);
    assert_eq!(bob_sees.len(), 4, "{bob_sees:#?}");
    let welcome = ServerEvent::Welcome {
        nick: guest.clone(),
        room: lobby.clone(),
        motd: Some("Be kind.".into()),
        account: None,
    };
    assert_eq!(bob_sees[0], &welcome);
    let joined = ServerEvent::Joined {
        room: lobby.clone(),
        nick: guest,
        ts: 5,
    };
    assert_eq!(bob_sees[1], &joined);
    assert_eq!(texts(&history_for(&outcome, BOB)), ["one", "two"]);
    let members = ServerEvent::Members {
        room: lobby,
        nicks: vec![nick("guest-1"), nick("guest-2")],
        roles: Default::default(),
    };
    assert_eq!(bob_sees[3], &members);
    assert_eq!(events_for(&outcome, ALICE), [&joined]);
    assert!(outcome.record.is_none() && outcome.close.is_none());
}

#[test]
fn connect_without_history_skips_it_and_guest_nicks_are_unique() {
    let mut hub = Hub::new(HubConfig::default());
    let outcome = hub.connect(ALICE, 0);
    let kinds: Vec<&str> = events_for(&outcome, ALICE)
        .iter()
        .map(|e| e.type_name())
        .collect();
    assert_eq!(kinds, ["welcome", "joined", "members"]);
    hub.connect(BOB, 0);
    assert_ne!(hub.nick(ALICE), hub.nick(BOB));
    assert!(hub.nick(ALICE).is_some_and(Nick::is_guest));
    assert_eq!(
        hub.connect(ALICE, 0).deliveries.len(),
        0,
        "connecting twice is a no-op"
    );
    assert!(hub.is_consistent());
}

#[test]
fn say_reaches_every_member_including_the_sender_and_nobody_else() {
    let mut hub = four();
    run(&mut hub, DAVE, join("#elsewhere"));
    run(&mut hub, DAVE, Command::Part(Some(RoomName::lobby())));
    let outcome = run(&mut hub, ALICE, say("hello"));
    assert_eq!(receivers(&outcome), [ALICE, BOB, CAROL]);
    assert!(
        all_share_one_event(&outcome),
        "one Encoded for all receivers"
    );
    let record = outcome.record.clone().expect("room messages are recorded");
    assert_eq!(
        record.from.as_str(),
        "alice",
        "the server stamps the sender"
    );
    assert_eq!(
        (record.room.as_str(), record.ts, record.action),
        ("#lobby", 1_000, false)
    );
    assert_eq!(only_shared_event(&outcome), &ServerEvent::Message(record));
}

fn only_shared_event(outcome: &Outcome) -> &ServerEvent {
    outcome.deliveries[0].event.event()
}

#[test]
fn me_is_an_action_in_the_current_room() {
    let mut hub = four();
    run(&mut hub, BOB, join("#rust"));
    let outcome = run(&mut hub, BOB, Command::Me("waves".into()));
    let record = outcome.record.clone().expect("recorded");
    assert!(record.action);
    assert_eq!(record.room, room("#rust"));
    assert_eq!(receivers(&outcome), [BOB]);
}

#[test]
fn ids_increase_across_rooms_and_private_messages() {
    let mut hub = four();
    let first = run(&mut hub, ALICE, say("a")).record.map(|m| m.id);
    let private = run(
        &mut hub,
        ALICE,
        Command::Msg {
            to: nick("bob"),
            text: "psst".into(),
        },
    );
    let ServerEvent::Private { id: private_id, .. } = only_shared_event(&private) else {
        panic!("{private:?}");
    };
    run(&mut hub, CAROL, join("#rust"));
    let second = run(&mut hub, CAROL, say("b")).record.map(|m| m.id);
    assert_eq!(first, Some(1));
    assert_eq!(*private_id, 2);
    assert_eq!(second, Some(3));
    assert_eq!(hub.stats().messages, 3);
}

#[test]
fn only_room_messages_are_recorded() {
    let mut hub = four();
    let commands = [
        Command::Nick(nick("alicia")),
        join("#x"),
        Command::Msg {
            to: nick("bob"),
            text: "hi".into(),
        },
        Command::Who(None),
        Command::List,
        Command::History {
            room: None,
            limit: None,
        },
        Command::Help,
        Command::Part(None),
        Command::Quit(None),
    ];
    for command in commands {
        assert!(
            run(&mut hub, ALICE, command.clone()).record.is_none(),
            "{command:?}"
        );
    }
}

#[test]
fn nicks_are_unique_case_insensitively() {
    let mut hub = four();
    let outcome = run(&mut hub, ALICE, Command::Nick(nick("BOB")));
    let (kind, text) = error_of(&outcome, ALICE);
    assert_eq!(kind, ErrorKind::NickTaken);
    assert_eq!(
        text,
        "nick taken: BOB is in use — pick another with /nick <name>"
    );
    assert_eq!(hub.nick(ALICE).map(Nick::as_str), Some("alice"));
}

#[test]
fn a_case_change_of_ones_own_nick_is_allowed_and_the_same_spelling_only_acknowledged() {
    let mut hub = four();
    let outcome = run(&mut hub, ALICE, Command::Nick(nick("Alice")));
    let changed = ServerEvent::NickChanged {
        old: nick("alice"),
        new: nick("Alice"),
        ts: 1_000,
    };
    assert_eq!(events_for(&outcome, BOB), [&changed]);
    assert_eq!(hub.nick(ALICE).map(Nick::as_str), Some("Alice"));
    let again = run(&mut hub, ALICE, Command::Nick(nick("Alice")));
    assert_eq!(info_of(&again, ALICE), "you are already called Alice");
}

#[test]
fn nick_change_notice_reaches_each_room_mate_exactly_once() {
    let mut hub = four();
    for conn in [ALICE, BOB] {
        run(&mut hub, conn, join("#rust"));
        run(&mut hub, conn, join("#go"));
    }
    run(&mut hub, DAVE, join("#other"));
    run(&mut hub, DAVE, Command::Part(Some(RoomName::lobby())));
    let outcome = run(&mut hub, ALICE, Command::Nick(nick("alicia")));
    assert_eq!(receivers(&outcome), [ALICE, BOB, CAROL]);
    assert!(all_share_one_event(&outcome));
    assert!(
        hub.handle(
            DAVE,
            Command::Msg {
                to: nick("ALICIA"),
                text: "x".into()
            },
            0
        )
        .record
        .is_none()
    );
}

#[test]
fn nick_change_alone_in_no_room_still_tells_the_user() {
    let mut hub = four();
    run(&mut hub, ALICE, Command::Part(None));
    let outcome = run(&mut hub, ALICE, Command::Nick(nick("zed")));
    assert!(matches!(
        only_event(&outcome, ALICE),
        ServerEvent::NickChanged { .. }
    ));
}

#[test]
fn guest_names_cannot_be_taken_even_by_a_hand_built_command() {
    let mut hub = four();
    let (kind, _) = error_of(&run(&mut hub, ALICE, Command::Nick(Nick::guest(99))), ALICE);
    assert_eq!(kind, ErrorKind::InvalidNick);
}

#[test]
fn private_messages_go_to_the_target_and_echo_to_the_sender() {
    let mut hub = four();
    let outcome = run(
        &mut hub,
        ALICE,
        Command::Msg {
            to: nick("BoB"),
            text: "psst".into(),
        },
    );
    assert_eq!(receivers(&outcome), [ALICE, BOB]);
    assert!(all_share_one_event(&outcome));
    let expected = ServerEvent::Private {
        id: 1,
        ts: 1_000,
        from: nick("alice"),
        to: nick("bob"),
        text: "psst".into(),
    };
    assert_eq!(only_shared_event(&outcome), &expected);
    assert_eq!(
        only_shared_event(&outcome).to_line(),
        "[00:00:01] <alice -> bob> psst\n"
    );
    assert!(
        outcome.record.is_none(),
        "private messages are not recorded"
    );
    let to_self = run(
        &mut hub,
        ALICE,
        Command::Msg {
            to: nick("alice"),
            text: "note".into(),
        },
    );
    assert_eq!(
        receivers(&to_self),
        [ALICE],
        "one delivery when messaging oneself"
    );
}

#[test]
fn private_message_to_an_unknown_nick_is_refused() {
    let mut hub = four();
    let outcome = run(
        &mut hub,
        ALICE,
        Command::Msg {
            to: nick("zed"),
            text: "hi".into(),
        },
    );
    let (kind, text) = error_of(&outcome, ALICE);
    assert_eq!(kind, ErrorKind::NoSuchNick);
    assert!(
        text.starts_with("no such nick: nobody called zed is connected"),
        "{text}"
    );
}

#[test]
fn join_creates_the_room_makes_it_current_and_tells_its_members_only() {
    let mut hub = four();
    run(&mut hub, BOB, join("#rust"));
    let outcome = run(&mut hub, ALICE, join("#Rust"));
    let joined = ServerEvent::Joined {
        room: room("#rust"),
        nick: nick("alice"),
        ts: 1_000,
    };
    assert_eq!(events_for(&outcome, BOB), [&joined]);
    assert_eq!(events_for(&outcome, ALICE)[0], &joined);
    assert!(events_for(&outcome, CAROL).is_empty());
    let said = run(&mut hub, ALICE, say("in rust"));
    assert_eq!(receivers(&said), [ALICE, BOB]);
}

#[test]
fn joining_a_room_again_only_makes_it_current() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#rust"));
    let again = run(&mut hub, ALICE, join("#rust"));
    assert_eq!(
        info_of(&again, ALICE),
        "you are already in #rust, your current room"
    );
    let back = run(&mut hub, ALICE, Command::Join(RoomName::lobby()));
    assert_eq!(
        info_of(&back, ALICE),
        "#lobby is now your current room (you were already in it)"
    );
    let said = run(&mut hub, ALICE, say("hi lobby"));
    assert_eq!(said.record.map(|m| m.room), Some(RoomName::lobby()));
}

#[test]
fn join_replays_at_most_replay_on_join_messages_bounded_by_history_cap() {
    let config = HubConfig::default().replay_on_join(3).history_cap(5);
    let mut hub = hub_with(config, &[ALICE, BOB]);
    run(&mut hub, ALICE, join("#rust"));
    for n in 1..=7 {
        run(&mut hub, ALICE, say(&n.to_string()));
    }
    let outcome = run(&mut hub, BOB, join("#rust"));
    assert_eq!(texts(&history_for(&outcome, BOB)), ["5", "6", "7"]);
    assert!(
        history_for(&outcome, BOB)
            .windows(2)
            .all(|w| w[0].id < w[1].id),
        "oldest first"
    );
    let all = run(
        &mut hub,
        BOB,
        Command::History {
            room: None,
            limit: Some(500),
        },
    );
    assert_eq!(
        texts(&history_for(&all, BOB)),
        ["3", "4", "5", "6", "7"],
        "capped at history_cap"
    );
    let default = run(
        &mut hub,
        BOB,
        Command::History {
            room: None,
            limit: None,
        },
    );
    assert_eq!(texts(&history_for(&default, BOB)), ["5", "6", "7"]);
    let two = run(
        &mut hub,
        BOB,
        Command::History {
            room: None,
            limit: Some(2),
        },
    );
    assert_eq!(texts(&history_for(&two, BOB)), ["6", "7"]);
}

#[test]
fn members_are_sent_on_join_only_to_small_rooms() {
    let mut hub = hub_with(
        HubConfig::default().members_on_join(2),
        &[ALICE, BOB, CAROL],
    );
    run(&mut hub, ALICE, join("#two"));
    let second = run(&mut hub, BOB, join("#two"));
    let members = ServerEvent::Members {
        room: room("#two"),
        nicks: vec![nick("alice"), nick("bob")],
        roles: Default::default(),
    };
    assert_eq!(events_for(&second, BOB).last(), Some(&&members));
    let third = run(&mut hub, CAROL, join("#two"));
    assert!(
        events_for(&third, CAROL)
            .iter()
            .all(|e| e.type_name() != "members")
    );
}

#[test]
fn part_leaves_the_current_room_tells_members_and_self_and_picks_another_current() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#rust"));
    run(&mut hub, BOB, join("#rust"));
    run(&mut hub, ALICE, join("#go"));
    run(&mut hub, ALICE, join("#rust"));
    let outcome = run(&mut hub, ALICE, Command::Part(None));
    let left = ServerEvent::Left {
        room: room("#rust"),
        nick: nick("alice"),
        ts: 1_000,
        reason: None,
    };
    assert_eq!(events_for(&outcome, BOB), [&left]);
    let alice_sees = events_for(&outcome, ALICE);
    assert_eq!(alice_sees[0], &left);
    assert_eq!(
        alice_sees[1],
        &ServerEvent::info("your current room is now #go")
    );
    let said = run(&mut hub, ALICE, say("go on"));
    assert_eq!(said.record.map(|m| m.room), Some(room("#go")));
}

#[test]
fn parting_another_room_keeps_the_current_one() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#rust"));
    let outcome = run(&mut hub, ALICE, Command::Part(Some(RoomName::lobby())));
    assert_eq!(receivers(&outcome), [ALICE, BOB, CAROL, DAVE]);
    assert!(all_share_one_event(&outcome));
    let said = run(&mut hub, ALICE, say("still here"));
    assert_eq!(said.record.map(|m| m.room), Some(room("#rust")));
}

#[test]
fn parting_a_room_one_is_not_in_is_refused() {
    let mut hub = four();
    run(&mut hub, BOB, join("#rust"));
    let (kind, text) = error_of(
        &run(&mut hub, ALICE, Command::Part(Some(room("#rust")))),
        ALICE,
    );
    assert_eq!(kind, ErrorKind::NotInRoom);
    assert_eq!(
        text,
        "you are not in #rust, so you cannot leave it — your rooms: #lobby"
    );
}

#[test]
fn after_parting_the_last_room_talking_says_to_join_one() {
    let mut hub = four();
    let outcome = run(&mut hub, ALICE, Command::Part(None));
    assert_eq!(
        events_for(&outcome, ALICE)[1],
        &ServerEvent::info("you are in no room now: /join #room to talk again")
    );
    for command in [say("anyone?"), Command::Me("waves".into())] {
        let (kind, text) = error_of(&run(&mut hub, ALICE, command), ALICE);
        assert_eq!(kind, ErrorKind::NotInRoom);
        assert!(text.contains("/join #room"), "{text}");
    }
    for command in [
        Command::Part(None),
        Command::Who(None),
        Command::History {
            room: None,
            limit: None,
        },
    ] {
        let (kind, text) = error_of(&run(&mut hub, ALICE, command), ALICE);
        assert_eq!(kind, ErrorKind::NotInRoom);
        assert!(
            text.starts_with("you are in no room: name one, like /"),
            "{text}"
        );
    }
    assert_eq!(hub.stats().messages, 0, "refused messages use no id");
}

#[test]
fn an_emptied_room_disappears_but_keeps_its_history_for_a_rejoin() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#rust"));
    run(&mut hub, ALICE, say("remember me"));
    run(&mut hub, ALICE, Command::Part(None));
    let list = run(&mut hub, BOB, Command::List);
    let ServerEvent::Rooms { rooms } = only_event(&list, BOB) else {
        panic!("{list:?}")
    };
    assert_eq!(rooms.len(), 1, "only #lobby: {rooms:?}");
    let (kind, _) = error_of(&run(&mut hub, BOB, Command::Who(Some(room("#rust")))), BOB);
    assert_eq!(kind, ErrorKind::NoSuchRoom);
    let history = run(
        &mut hub,
        BOB,
        Command::History {
            room: Some(room("#rust")),
            limit: None,
        },
    );
    assert_eq!(texts(&history_for(&history, BOB)), ["remember me"]);
    let rejoin = run(&mut hub, BOB, join("#rust"));
    assert_eq!(texts(&history_for(&rejoin, BOB)), ["remember me"]);
}

#[test]
fn who_lists_sorted_members_of_any_room_and_refuses_unknown_ones() {
    let mut hub = four();
    for conn in [DAVE, BOB, CAROL] {
        run(&mut hub, conn, join("#rust"));
    }
    run(&mut hub, BOB, Command::Nick(nick("Zed")));
    let outcome = run(&mut hub, ALICE, Command::Who(Some(room("#rust"))));
    let expected = ServerEvent::Members {
        room: room("#rust"),
        nicks: vec![nick("carol"), nick("dave"), nick("Zed")],
        roles: Default::default(),
    };
    assert_eq!(only_event(&outcome, ALICE), &expected);
    let (kind, text) = error_of(
        &run(&mut hub, ALICE, Command::Who(Some(room("#nope")))),
        ALICE,
    );
    assert_eq!(kind, ErrorKind::NoSuchRoom);
    assert_eq!(
        text,
        "no such room: nobody is in #nope — /list shows the rooms"
    );
}

#[test]
fn list_gives_rooms_sorted_with_member_counts() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#zeta"));
    run(&mut hub, BOB, join("#alpha"));
    run(&mut hub, CAROL, join("#alpha"));
    let outcome = run(&mut hub, DAVE, Command::List);
    let ServerEvent::Rooms { rooms } = only_event(&outcome, DAVE) else {
        panic!("{outcome:?}")
    };
    let summary: Vec<(&str, usize)> = rooms.iter().map(|r| (r.room.as_str(), r.members)).collect();
    assert_eq!(summary, [("#alpha", 2), ("#lobby", 4), ("#zeta", 1)]);
}

#[test]
fn history_of_a_quiet_room_is_empty_and_of_an_unknown_room_an_error() {
    let mut hub = four();
    let quiet = run(
        &mut hub,
        ALICE,
        Command::History {
            room: None,
            limit: None,
        },
    );
    assert_eq!(
        only_event(&quiet, ALICE),
        &ServerEvent::History {
            room: RoomName::lobby(),
            messages: vec![]
        }
    );
    let unknown = Command::History {
        room: Some(room("#nope")),
        limit: Some(5),
    };
    let (kind, _) = error_of(&run(&mut hub, ALICE, unknown), ALICE);
    assert_eq!(kind, ErrorKind::NoSuchRoom);
}

#[test]
fn history_is_open_to_non_members() {
    let mut hub = four();
    run(&mut hub, BOB, join("#rust"));
    run(&mut hub, BOB, say("public"));
    let outcome = run(
        &mut hub,
        ALICE,
        Command::History {
            room: Some(room("#rust")),
            limit: None,
        },
    );
    assert_eq!(texts(&history_for(&outcome, ALICE)), ["public"]);
}

#[test]
fn help_answers_the_help_text() {
    let mut hub = four();
    assert_eq!(info_of(&run(&mut hub, ALICE, Command::Help), ALICE), HELP);
}

#[test]
fn quit_says_bye_tells_the_rooms_closes_and_then_disconnect_is_a_no_op() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#rust"));
    run(&mut hub, BOB, join("#rust"));
    let outcome = run(&mut hub, ALICE, Command::Quit(Some("bed".into())));
    assert_eq!(
        events_for(&outcome, ALICE),
        [&ServerEvent::Bye {
            reason: "goodbye (bed)".into()
        }]
    );
    let left = |r: &str| ServerEvent::Left {
        room: room(r),
        nick: nick("alice"),
        ts: 1_000,
        reason: Some("bed".into()),
    };
    let bob_sees = events_for(&outcome, BOB);
    assert_eq!(bob_sees.len(), 2);
    assert!(bob_sees.contains(&&left("#lobby")) && bob_sees.contains(&&left("#rust")));
    assert_eq!(events_for(&outcome, CAROL), [&left("#lobby")]);
    assert_eq!(outcome.close, Some((ALICE, Ending::Quit)));
    assert_eq!(hub.nick(ALICE), None);
    let later = hub.disconnect(ALICE, Some("reset".into()), 2_000);
    assert!(later.deliveries.is_empty() && later.close.is_none() && later.record.is_none());
    assert!(hub.handle(ALICE, say("ghost"), 0).deliveries.is_empty());
    assert!(hub.is_consistent());
}

#[test]
fn quit_without_a_reason() {
    let mut hub = four();
    let outcome = run(&mut hub, ALICE, Command::Quit(None));
    assert_eq!(
        events_for(&outcome, ALICE),
        [&ServerEvent::Bye {
            reason: "goodbye".into()
        }]
    );
    assert!(matches!(
        events_for(&outcome, BOB)[..],
        [ServerEvent::Left { reason: None, .. }]
    ));
}

#[test]
fn disconnect_tells_the_rooms_and_frees_the_nick() {
    let mut hub = four();
    let outcome = hub.disconnect(BOB, Some("connection reset".into()), 7);
    let left = ServerEvent::Left {
        room: RoomName::lobby(),
        nick: nick("bob"),
        ts: 7,
        reason: Some("connection reset".into()),
    };
    assert_eq!(receivers(&outcome), [ALICE, CAROL, DAVE]);
    assert_eq!(only_shared_event(&outcome), &left);
    assert!(outcome.close.is_none());
    let gone = run(
        &mut hub,
        CAROL,
        Command::Msg {
            to: nick("bob"),
            text: "x".into(),
        },
    );
    assert_eq!(error_of(&gone, CAROL).0, ErrorKind::NoSuchNick);
    let taken = run(&mut hub, ALICE, Command::Nick(nick("Bob")));
    assert!(matches!(
        only_shared_event(&taken),
        ServerEvent::NickChanged { .. }
    ));
}

#[test]
fn commands_from_unknown_connections_get_nothing() {
    let mut hub = four();
    let stranger = ConnId(99);
    for command in [say("hi"), Command::List, Command::Quit(None), join("#x")] {
        let outcome = hub.handle(stranger, command, 0);
        assert!(
            outcome.deliveries.is_empty() && outcome.record.is_none() && outcome.close.is_none()
        );
    }
    assert!(hub.disconnect(stranger, None, 0).deliveries.is_empty());
    assert_eq!(hub.stats().connections, 4);
}

#[test]
fn restore_continues_ids_and_replays_restored_messages() {
    let mut hub = Hub::new(HubConfig::default().history_cap(2));
    let restored = vec![
        message(3, "#rust", "old", "a"),
        message(5, "#rust", "old", "b"),
        message(8, "#rust", "old", "c"),
    ];
    hub.restore(restored, 100);
    hub.connect(ALICE, 0);
    let joined = run(&mut hub, ALICE, join("#rust"));
    assert_eq!(
        texts(&history_for(&joined, ALICE)),
        ["b", "c"],
        "restore keeps history_cap"
    );
    let said = run(&mut hub, ALICE, say("d"));
    assert_eq!(said.record.map(|m| m.id), Some(100));
    let mut behind = Hub::new(HubConfig::default());
    behind.restore(vec![message(41, "#rust", "old", "x")], 7);
    behind.connect(BOB, 0);
    assert_eq!(
        run(&mut behind, BOB, say("y")).record.map(|m| m.id),
        Some(42),
        "ids never repeat"
    );
}

#[test]
fn max_rooms_refuses_a_new_room_at_the_limit_but_not_an_existing_one() {
    let mut hub = hub_with(HubConfig::default().max_rooms(3), &[ALICE, BOB]);
    run(&mut hub, ALICE, join("#a"));
    run(&mut hub, ALICE, join("#b"));
    assert_eq!(hub.stats().rooms, 3, "#lobby, #a, #b: at the limit");
    let (kind, text) = error_of(&run(&mut hub, ALICE, join("#c")), ALICE);
    assert_eq!(kind, ErrorKind::NoSuchRoom);
    assert!(
        text.starts_with("cannot create #c: the server already has 3 rooms"),
        "{text}"
    );
    assert!(
        run(&mut hub, BOB, join("#a")).deliveries.len() > 1,
        "joining an existing room is fine"
    );
    run(&mut hub, ALICE, Command::Part(Some(room("#b"))));
    let outcome = run(&mut hub, ALICE, join("#c"));
    assert!(matches!(
        events_for(&outcome, ALICE)[0],
        ServerEvent::Joined { .. }
    ));
}

#[test]
fn the_lobby_is_always_open_even_at_max_rooms() {
    let mut hub = hub_with(HubConfig::default().max_rooms(1), &[ALICE]);
    run(&mut hub, ALICE, join("#a"));
    run(&mut hub, ALICE, Command::Part(Some(RoomName::lobby())));
    let outcome = hub.connect(BOB, 0);
    assert!(
        events_for(&outcome, BOB)
            .iter()
            .any(|e| e.type_name() == "joined")
    );
    assert!(hub.is_consistent());
}

#[test]
fn max_rooms_per_conn_refuses_one_more_room() {
    let mut hub = hub_with(HubConfig::default().max_rooms_per_conn(3), &[ALICE]);
    run(&mut hub, ALICE, join("#a"));
    run(&mut hub, ALICE, join("#b"));
    let (kind, text) = error_of(&run(&mut hub, ALICE, join("#c")), ALICE);
    assert_eq!(kind, ErrorKind::Usage);
    assert_eq!(
        text,
        "too many rooms: you are in 3, at most 3 — /part one before joining #c"
    );
    run(&mut hub, ALICE, Command::Part(Some(room("#a"))));
    assert!(matches!(
        events_for(&run(&mut hub, ALICE, join("#c")), ALICE)[0],
        ServerEvent::Joined { .. }
    ));
}

#[test]
fn empty_rooms_kept_for_history_are_bounded_oldest_first() {
    let mut hub = hub_with(HubConfig::default().max_rooms(2), &[ALICE]);
    for name in ["#a", "#b", "#c"] {
        run(&mut hub, ALICE, join(name));
        run(&mut hub, ALICE, say(name));
        run(&mut hub, ALICE, Command::Part(None));
    }
    let history = |hub: &mut Hub, name: &str| {
        let outcome = run(
            hub,
            ALICE,
            Command::History {
                room: Some(room(name)),
                limit: None,
            },
        );
        outcome.deliveries[0].event.event().type_name()
    };
    assert_eq!(
        history(&mut hub, "#a"),
        "error",
        "the first to go quiet is forgotten"
    );
    assert_eq!(history(&mut hub, "#b"), "history");
    assert_eq!(history(&mut hub, "#c"), "history");
}

#[test]
fn a_revived_room_is_not_evicted_by_its_stale_queue_entry() {
    let mut hub = hub_with(HubConfig::default().max_rooms(2), &[ALICE, BOB]);
    for name in ["#a", "#b"] {
        run(&mut hub, ALICE, join(name));
        run(&mut hub, ALICE, say(name));
        run(&mut hub, ALICE, Command::Part(None));
    }
    run(&mut hub, BOB, join("#a"));
    for name in ["#c", "#d"] {
        run(&mut hub, ALICE, join(name));
        run(&mut hub, ALICE, say(name));
        run(&mut hub, ALICE, Command::Part(None));
    }
    let replay = run(&mut hub, ALICE, join("#a"));
    assert_eq!(texts(&history_for(&replay, ALICE)), ["#a"]);
}

#[test]
fn stats_count_connections_live_rooms_and_issued_ids() {
    let mut hub = four();
    run(&mut hub, ALICE, join("#rust"));
    run(&mut hub, ALICE, say("x"));
    assert_eq!(
        hub.stats(),
        HubStats {
            connections: 4,
            rooms: 2,
            messages: 1
        }
    );
    hub.disconnect(ALICE, None, 0);
    assert_eq!(
        hub.stats(),
        HubStats {
            connections: 3,
            rooms: 1,
            messages: 1
        }
    );
}

fn signed(account: Nick) -> super::Signed {
    super::Signed {
        account,
        role: None,
    }
}

#[test]
fn a_registered_nick_is_only_for_its_account() {
    let mut hub = hub_with(HubConfig::default(), &[ALICE, BOB]);
    hub.set_accounts(
        [crate::accounts::store::AccountSummary {
            key: "zed".to_owned(),
            role: None,
            suspended: false,
        }],
        0,
    );
    let refused = run(&mut hub, BOB, Command::Nick(nick("Zed")));
    assert!(
        matches!(only_event(&refused, BOB), ServerEvent::Error { kind: ErrorKind::NickRegistered, message } if message == "nick Zed is registered — /login Zed <password> if it is yours"),
        "{refused:?}"
    );
    // Signed in to it, the session may take it (in any case).
    let outcome = hub.sign_in(BOB, signed(nick("Zed")), 2_000);
    assert!(hub.is_consistent());
    assert_eq!(hub.nick(BOB).map(Nick::as_str), Some("Zed"));
    assert_eq!(hub.account(BOB).map(Nick::as_str), Some("Zed"));
    let bob_sees = events_for(&outcome, BOB);
    assert!(
        matches!(
            bob_sees[..],
            [
                ServerEvent::NickChanged { .. },
                ServerEvent::SignedIn { .. }
            ]
        ),
        "{bob_sees:?}"
    );
    assert!(matches!(
        events_for(&outcome, ALICE)[..],
        [ServerEvent::NickChanged { .. }]
    ));
    let recased = run(&mut hub, BOB, Command::Nick(nick("zed")));
    assert!(
        matches!(
            events_for(&recased, ALICE)[..],
            [ServerEvent::NickChanged { .. }]
        ),
        "{recased:?}"
    );
}

#[test]
fn signing_in_takes_the_nick_from_a_guest_or_an_older_sign_in() {
    let mut hub = hub_with(HubConfig::default(), &[ALICE, BOB, CAROL]);
    // bob holds "bob" unregistered; its owner registers elsewhere and signs in from CAROL.
    let outcome = hub.sign_in(CAROL, signed(nick("Bob")), 2_000);
    assert!(hub.is_consistent());
    assert_eq!(hub.nick(CAROL).map(Nick::as_str), Some("Bob"));
    let renamed = hub.nick(BOB).cloned().expect("still connected");
    assert!(renamed.is_guest(), "{renamed}");
    let bob_sees = events_for(&outcome, BOB);
    assert!(
        matches!(bob_sees[0], ServerEvent::Info { text } if text.contains("registered nick")),
        "{bob_sees:?}"
    );
    // A second sign-in to the same account signs the first one out.
    let outcome = hub.sign_in(ALICE, signed(nick("bob")), 3_000);
    assert!(hub.is_consistent());
    assert_eq!(hub.account(CAROL), None);
    assert!(hub.nick(CAROL).is_some_and(Nick::is_guest));
    assert!(
        matches!(events_for(&outcome, CAROL)[0], ServerEvent::SignedOut { reason } if reason == "bob signed in from another connection"),
        "{outcome:?}"
    );
    assert_eq!(hub.account(ALICE).map(Nick::as_str), Some("bob"));
    // Gone meanwhile: nothing happens.
    assert!(
        hub.sign_in(ConnId(99), signed(nick("carol")), 4_000)
            .deliveries
            .is_empty()
    );
}

#[test]
fn logout_makes_a_guest_and_needs_a_sign_in() {
    let mut hub = hub_with(HubConfig::default(), &[ALICE, BOB]);
    let refused = run(&mut hub, ALICE, Command::Logout);
    assert!(matches!(
        only_event(&refused, ALICE),
        ServerEvent::Error {
            kind: ErrorKind::NotSignedIn,
            ..
        }
    ));
    hub.sign_in(ALICE, signed(nick("alice")), 2_000);
    let outcome = run(&mut hub, ALICE, Command::Logout);
    assert_eq!(hub.account(ALICE), None);
    assert!(hub.nick(ALICE).is_some_and(Nick::is_guest));
    assert!(
        matches!(events_for(&outcome, ALICE)[0], ServerEvent::SignedOut { reason } if reason == "you signed out")
    );
    assert!(matches!(
        events_for(&outcome, BOB)[..],
        [ServerEvent::NickChanged { .. }]
    ));
    // The name stays protected: bob cannot take it.
    let taken = run(&mut hub, BOB, Command::Nick(nick("alice")));
    assert!(matches!(
        only_event(&taken, BOB),
        ServerEvent::Error {
            kind: ErrorKind::NickRegistered,
            ..
        }
    ));
}

/// A hub where alice, bob, carol, dave are connected; alice and bob signed in to their
/// accounts, alice owns #club, and everyone is in it.
fn club() -> Hub {
    let mut hub = four();
    hub.sign_in(ALICE, signed(nick("alice")), 1_000);
    hub.sign_in(BOB, signed(nick("bob")), 1_000);
    for conn in [ALICE, BOB, CAROL, DAVE] {
        run(&mut hub, conn, join("club"));
    }
    let registered = run(&mut hub, ALICE, Command::RoomRegister(room("club")));
    assert!(
        matches!(
            events_for(&registered, DAVE)[..],
            [ServerEvent::Moderated {
                action: rustchat_proto::ModAction::Registered,
                ..
            }]
        ),
        "{registered:?}"
    );
    assert!(matches!(
        registered.state[..],
        [
            crate::rules::StateChange::Rules { .. },
            crate::rules::StateChange::Audit { .. }
        ]
    ));
    hub
}

fn error_kind_for(outcome: &Outcome, conn: ConnId) -> Option<ErrorKind> {
    events_for(outcome, conn).iter().find_map(|e| match e {
        ServerEvent::Error { kind, .. } => Some(*kind),
        _ => None,
    })
}

#[test]
fn only_operators_moderate_and_nobody_outranks_the_owner() {
    let mut hub = club();
    let kick = |nick_name: &str| Command::Kick {
        room: room("club"),
        nick: nick(nick_name),
        reason: None,
    };
    let refused = run(&mut hub, CAROL, kick("dave"));
    assert_eq!(
        error_kind_for(&refused, CAROL),
        Some(ErrorKind::NotPermitted)
    );
    // Operators need accounts; the owner makes bob one.
    let op = |nick_name: &str| Command::RoomRole {
        room: room("club"),
        nick: nick(nick_name),
        role: rustchat_proto::RoomRole::Operator,
        on: true,
    };
    assert_eq!(
        error_kind_for(&run(&mut hub, ALICE, op("carol")), ALICE),
        Some(ErrorKind::NotSignedIn)
    );
    run(&mut hub, ALICE, op("bob"));
    let who = run(&mut hub, CAROL, Command::Who(Some(room("club"))));
    assert!(
        matches!(only_event(&who, CAROL), ServerEvent::Members { roles, .. } if roles.get("alice") == Some(&rustchat_proto::RoomRole::Operator) && roles.get("bob") == Some(&rustchat_proto::RoomRole::Operator)),
        "{who:?}"
    );
    // bob may kick carol, not the owner, and may not hand out operator.
    let kicked = run(
        &mut hub,
        BOB,
        Command::Kick {
            room: room("club"),
            nick: nick("carol"),
            reason: Some("off topic".into()),
        },
    );
    let carol_sees = events_for(&kicked, CAROL);
    assert!(
        matches!(
            carol_sees[0],
            ServerEvent::Moderated {
                action: rustchat_proto::ModAction::Kicked,
                ..
            }
        ),
        "{carol_sees:?}"
    );
    assert!(
        matches!(carol_sees[1], ServerEvent::Left { reason: Some(r), .. } if r == "kicked by bob: off topic"),
        "{carol_sees:?}"
    );
    assert_eq!(
        error_kind_for(&run(&mut hub, BOB, kick("alice")), BOB),
        Some(ErrorKind::NotPermitted)
    );
    assert_eq!(
        error_kind_for(&run(&mut hub, BOB, op("dave")), BOB),
        Some(ErrorKind::NotPermitted)
    );
    assert_eq!(
        error_kind_for(&run(&mut hub, BOB, kick("carol")), BOB),
        Some(ErrorKind::NoSuchNick),
        "carol is out already"
    );
}

#[test]
fn a_ban_puts_out_and_keeps_out_until_it_ends_or_is_lifted() {
    let mut hub = club();
    let ban = Command::Ban {
        room: room("club"),
        nick: nick("dave"),
        duration: Some(60_000),
        reason: Some("spam".into()),
    };
    let outcome = hub.handle(ALICE, ban, 10_000);
    assert!(hub.is_consistent());
    assert!(matches!(
        events_for(&outcome, DAVE)[1],
        ServerEvent::Left { .. }
    ));
    let again = hub.handle(DAVE, join("club"), 20_000);
    assert!(
        matches!(only_event(&again, DAVE), ServerEvent::Error { kind: ErrorKind::Banned, message } if message == "you are banned from #club for another 50s, by alice (spam)"),
        "{again:?}"
    );
    // A new nick does not help a guest... it changes its key, so +R is the way to keep guests
    // out; the ban ends on its own.
    let later = hub.handle(DAVE, join("club"), 70_001);
    assert!(
        matches!(events_for(&later, DAVE)[0], ServerEvent::Joined { .. }),
        "{later:?}"
    );
    hub.handle(
        ALICE,
        Command::Ban {
            room: room("club"),
            nick: nick("dave"),
            duration: None,
            reason: None,
        },
        80_000,
    );
    hub.handle(
        ALICE,
        Command::Unban {
            room: room("club"),
            nick: nick("dave"),
        },
        81_000,
    );
    let back = hub.handle(DAVE, join("club"), 82_000);
    assert!(
        matches!(events_for(&back, DAVE)[0], ServerEvent::Joined { .. }),
        "{back:?}"
    );
}

#[test]
fn mutes_and_the_moderated_mode_keep_people_quiet_until_voiced() {
    let mut hub = club();
    hub.handle(
        ALICE,
        Command::Mute {
            room: room("club"),
            nick: nick("carol"),
            duration: None,
        },
        2_000,
    );
    let quiet = hub.handle(CAROL, say("hi"), 3_000);
    assert!(matches!(
        only_event(&quiet, CAROL),
        ServerEvent::Error {
            kind: ErrorKind::Muted,
            ..
        }
    ));
    assert!(quiet.record.is_none());
    hub.handle(
        ALICE,
        Command::Unmute {
            room: room("club"),
            nick: nick("carol"),
        },
        4_000,
    );
    assert!(hub.handle(CAROL, say("hi"), 5_000).record.is_some());
    let plus_m = Command::Mode {
        room: room("club"),
        changes: vec![rustchat_proto::ModeChange {
            mode: rustchat_proto::Mode::Moderated,
            on: true,
            key: None,
        }],
    };
    let modes = hub.handle(ALICE, plus_m, 6_000);
    assert!(
        matches!(events_for(&modes, DAVE)[..], [ServerEvent::Modes { modes, .. }] if modes == "+m")
    );
    let refused = hub.handle(DAVE, say("hello?"), 7_000);
    assert!(matches!(
        only_event(&refused, DAVE),
        ServerEvent::Error {
            kind: ErrorKind::Moderated,
            ..
        }
    ));
    hub.handle(
        ALICE,
        Command::RoomRole {
            room: room("club"),
            nick: nick("dave"),
            role: rustchat_proto::RoomRole::Voiced,
            on: true,
        },
        8_000,
    );
    assert!(hub.handle(DAVE, say("thanks"), 9_000).record.is_some());
    assert!(
        hub.handle(ALICE, say("ops always speak"), 9_000)
            .record
            .is_some()
    );
}

#[test]
fn invite_only_keyed_and_registered_only_rooms() {
    let mut hub = club();
    let mode = |letter: rustchat_proto::Mode, key: Option<&str>| Command::Mode {
        room: room("club"),
        changes: vec![rustchat_proto::ModeChange {
            mode: letter,
            on: true,
            key: key.map(str::to_owned),
        }],
    };
    for conn in [CAROL, DAVE] {
        run(&mut hub, conn, Command::Part(Some(room("club"))));
    }
    run(
        &mut hub,
        ALICE,
        mode(rustchat_proto::Mode::RegisteredOnly, None),
    );
    assert_eq!(
        error_kind_for(&run(&mut hub, CAROL, join("club")), CAROL),
        Some(ErrorKind::RegisteredOnly)
    );
    run(
        &mut hub,
        ALICE,
        Command::Mode {
            room: room("club"),
            changes: vec![rustchat_proto::ModeChange {
                mode: rustchat_proto::Mode::RegisteredOnly,
                on: false,
                key: None,
            }],
        },
    );
    run(
        &mut hub,
        ALICE,
        mode(rustchat_proto::Mode::Key, Some("s3cret")),
    );
    assert_eq!(
        error_kind_for(&run(&mut hub, CAROL, join("club")), CAROL),
        Some(ErrorKind::BadKey)
    );
    let keyed = run(
        &mut hub,
        CAROL,
        Command::JoinKey {
            room: room("club"),
            key: "s3cret".into(),
        },
    );
    assert!(matches!(
        events_for(&keyed, CAROL)[0],
        ServerEvent::Joined { .. }
    ));
    run(
        &mut hub,
        ALICE,
        mode(rustchat_proto::Mode::InviteOnly, None),
    );
    assert_eq!(
        error_kind_for(
            &run(
                &mut hub,
                DAVE,
                Command::JoinKey {
                    room: room("club"),
                    key: "s3cret".into()
                }
            ),
            DAVE
        ),
        Some(ErrorKind::InviteOnly)
    );
    let invited = run(
        &mut hub,
        ALICE,
        Command::Invite {
            nick: nick("dave"),
            room: Some(room("club")),
        },
    );
    assert!(matches!(
        events_for(&invited, DAVE)[..],
        [ServerEvent::Invited { .. }]
    ));
    let joined = run(&mut hub, DAVE, join("club"));
    assert!(
        matches!(events_for(&joined, DAVE)[0], ServerEvent::Joined { .. }),
        "an invitation needs no key: {joined:?}"
    );
    let shown = run(
        &mut hub,
        DAVE,
        Command::Mode {
            room: room("club"),
            changes: vec![],
        },
    );
    assert!(
        matches!(only_event(&shown, DAVE), ServerEvent::Modes { modes, by: None, .. } if modes == "+ik")
    );
}

#[test]
fn the_topic_is_set_by_operators_and_shown_on_join() {
    let mut hub = club();
    let refused = run(
        &mut hub,
        CAROL,
        Command::Topic {
            room: room("club"),
            text: Some(Some("mine".into())),
        },
    );
    assert_eq!(
        error_kind_for(&refused, CAROL),
        Some(ErrorKind::NotPermitted)
    );
    let set = run(
        &mut hub,
        ALICE,
        Command::Topic {
            room: room("club"),
            text: Some(Some("Rust, mostly".into())),
        },
    );
    assert!(
        matches!(events_for(&set, CAROL)[..], [ServerEvent::Topic { text: Some(t), .. }] if t == "Rust, mostly")
    );
    run(&mut hub, CAROL, Command::Part(Some(room("club"))));
    let joined = run(&mut hub, CAROL, join("club"));
    assert!(
        events_for(&joined, CAROL).iter().any(|e| matches!(e, ServerEvent::Topic { text: Some(t), by: Some(b), .. } if t == "Rust, mostly" && b.as_str() == "alice")),
        "{joined:?}"
    );
}

#[test]
fn server_staff_moderate_everywhere_but_a_moderator_not_an_admin() {
    let mut hub = four();
    hub.sign_in(
        ALICE,
        super::Signed {
            account: nick("alice"),
            role: Some(crate::accounts::store::Role::Admin),
        },
        1_000,
    );
    hub.sign_in(
        BOB,
        super::Signed {
            account: nick("bob"),
            role: Some(crate::accounts::store::Role::Moderator),
        },
        1_000,
    );
    // An unregistered room: staff may still kick.
    let kicked = run(
        &mut hub,
        BOB,
        Command::Kick {
            room: RoomName::lobby(),
            nick: nick("carol"),
            reason: None,
        },
    );
    assert!(
        matches!(events_for(&kicked, CAROL)[0], ServerEvent::Moderated { .. }),
        "{kicked:?}"
    );
    let refused = run(
        &mut hub,
        BOB,
        Command::Ban {
            room: RoomName::lobby(),
            nick: nick("alice"),
            duration: None,
            reason: None,
        },
    );
    assert_eq!(error_kind_for(&refused, BOB), Some(ErrorKind::NotPermitted));
    let banned = run(
        &mut hub,
        ALICE,
        Command::Ban {
            room: RoomName::lobby(),
            nick: nick("bob"),
            duration: None,
            reason: None,
        },
    );
    assert!(error_kind_for(&banned, ALICE).is_none(), "{banned:?}");
    // Staff are never kept out by a ban (an admin unbans themselves if need be).
    run(&mut hub, ALICE, Command::Part(None));
    assert!(matches!(
        events_for(
            &run(&mut hub, ALICE, Command::Join(RoomName::lobby())),
            ALICE
        )[0],
        ServerEvent::Joined { .. }
    ));
}
