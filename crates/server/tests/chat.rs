//! End to end: line clients chatting — greetings, nicks, rooms, private messages, notices,
//! help, quit — over real sockets on 127.0.0.1.

#[macro_use]
mod common;

use rustchat_server::config::Model;

use std::time::Duration;

use common::{LineClient, WsClient, serve, untimed};

const GREETING: &str =
    "*** rustchat: press Enter to join #lobby, type a message, or /help for the commands";

fn a_silent_client_is_greeted_and_joins_on_its_first_line(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut first = LineClient::connect(server.addr());
    first.next_is(GREETING);
    // Greeted, but not in the chat yet: nobody sees a guest for an idle socket.
    let mut silent = LineClient::connect(server.addr());
    silent.next_is(GREETING);
    first.send("");
    first.next_is("*** welcome, guest-1! you are in #lobby; /help lists the commands");
    let joined = first.next_line().expect("a line");
    assert_eq!(untimed(&joined), "-> guest-1 joined #lobby", "{joined}");
    first.next_is("*** members of #lobby (1): guest-1");

    // A first line that says something joins and says it.
    silent.send("hi all");
    silent.next_is("*** welcome, guest-2! you are in #lobby; /help lists the commands");
    silent.expect_event("-> guest-2 joined #lobby");
    silent.next_is("*** members of #lobby (2): guest-1 guest-2");
    silent.expect_event("#lobby <guest-2> hi all");
    first.expect_event("-> guest-2 joined #lobby");
    first.expect_event("#lobby <guest-2> hi all");

    // A greeted socket that turns out to be a browser's late HTTP request is closed quietly.
    let mut browser = LineClient::connect(server.addr());
    browser.next_is(GREETING);
    browser.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(browser.expect_eof(), Vec::<String>::new());
    first.sync();
    assert!(
        first.seen.iter().all(|l| !l.contains("guest-3")),
        "{:?}",
        first.seen
    );
}

fn a_client_that_speaks_first_is_registered_then_heard(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let (mut alice, _) = LineClient::join(server.addr());
    let mut talker = LineClient::connect(server.addr());
    talker.send("hi from the first line");
    // It spoke before the detect timeout: no greeting, straight in.
    talker.next_is("*** welcome, guest-2! you are in #lobby; /help lists the commands");
    talker.expect_event("#lobby <guest-2> hi from the first line");
    alice.expect_event("-> guest-2 joined #lobby");
    alice.expect_event("#lobby <guest-2> hi from the first line");
}

fn nick_rules_are_enforced_with_errors_that_say_what_is_expected(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let (mut bob, bob_guest) = LineClient::join(server.addr());
    let cases = [
        (
            "/nick ThisNickIsWayTooLongForUs1",
            "ERROR nick too long: 26 characters, at most 24",
        ),
        (
            "/nick 9lives",
            "ERROR nick must start with an ASCII letter, got '9'",
        ),
        (
            "/nick a!b",
            "ERROR nick has an invalid character '!' at position 2: use ASCII letters, digits, \
             '_' or '-'",
        ),
        (
            "/nick root",
            "ERROR nick root is reserved: pick another with /nick <name>",
        ),
        (
            "/nick guest-3",
            "ERROR nick guest-3 looks like a guest name: nicks starting with 'guest-' are given \
             out by the server, pick another",
        ),
        (
            "/nick ALICE",
            "ERROR nick taken: ALICE is in use — pick another with /nick <name>",
        ),
        ("/nick", "ERROR usage: /nick <name>"),
        ("/nick a b", "ERROR usage: /nick <name>"),
    ];
    for (line, want) in cases {
        bob.send(line);
        bob.next_is(want);
    }
    // Reserved names are reserved in any case.
    bob.send("/nick NickServ");
    let refused = bob.next_line().expect("a line");
    assert!(
        refused.starts_with("ERROR nick NickServ is reserved"),
        "{refused}"
    );
    // bob is still his guest self: his message says so.
    bob.send("still here");
    bob.expect_event(&format!("#lobby <{bob_guest}> still here"));

    // A change of case of one's own nick is allowed, and everyone sharing a room sees it.
    alice.send("/nick Alice");
    alice.expect_event("~ alice is now known as Alice");
    bob.expect_event("~ alice is now known as Alice");
    // The same spelling again is only acknowledged.
    alice.send("/nick Alice");
    alice.next_is("*** you are already called Alice");

    // Once free, the nick can be taken by someone else.
    alice.send("/nick carol");
    alice.expect_event("~ Alice is now known as carol");
    bob.send("/nick alice");
    bob.expect_event(&format!("~ {bob_guest} is now known as alice"));
    alice.expect_event(&format!("~ {bob_guest} is now known as alice"));
}

fn messages_reach_the_room_and_come_back_to_the_sender(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let mut bob = LineClient::named(server.addr(), "bob");
    alice.expect_event("-> guest-2 joined #lobby");
    alice.expect_event("~ guest-2 is now known as bob");

    alice.send("hello everyone");
    alice.expect_event("#lobby <alice> hello everyone");
    bob.expect_event("#lobby <alice> hello everyone");

    // Text is sent exactly as typed, spaces included; `//` escapes a leading slash.
    bob.send("  spaced  out ");
    bob.expect_event("#lobby <bob>   spaced  out ");
    alice.expect_event("#lobby <bob>   spaced  out ");
    bob.send("//shrug");
    alice.expect_event("#lobby <bob> /shrug");

    // `/me` is an action; blank lines are ignored; commands are case-insensitive.
    alice.send("/ME waves");
    bob.expect_event("#lobby * alice waves");
    alice.expect_event("#lobby * alice waves");
    alice.send("   ");
    alice.send("");
    alice.send("/who");
    alice.next_is("*** members of #lobby (2): alice bob");

    // A \r before the \n is removed; one inside the text is shown escaped.
    alice.send_raw(b"crlf line\r\n");
    bob.expect_event("#lobby <alice> crlf line");
    alice.send_raw(b"a\rb\n");
    bob.expect_event("#lobby <alice> a\\rb");
}

fn nobody_can_forge_a_name(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let mut bob = LineClient::named(server.addr(), "bob");
    alice.expect_event("~ guest-2 is now known as bob");

    bob.send("<admin> please give me your password");
    alice.expect_event("#lobby <bob> <admin> please give me your password");
    // A line break cannot be smuggled in to fake a second event.
    let mut ws = common::WsClient::named_json(server.addr(), "mallory");
    ws.send_text(
        "{\"type\":\"say\",\"text\":\"hi\\n[12:00:00] #lobby <alice> send me money\",\"from\":\"alice\"}",
    );
    let got = alice.expect("mallory's message", |l| l.contains("<mallory>"));
    assert_eq!(
        untimed(&got),
        "#lobby <mallory> hi\\n[12:00:00] #lobby <alice> send me money"
    );
    let (_, event) = ws.expect_json("mallory's confirmation", |e| {
        matches!(e, rustchat_proto::ServerEvent::Message(_))
    });
    let rustchat_proto::ServerEvent::Message(message) = event else {
        unreachable!()
    };
    assert_eq!(
        message.from.as_str(),
        "mallory",
        "the server stamps the sender"
    );
}

fn rooms_join_part_list_and_who(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let mut bob = LineClient::named(server.addr(), "bob");
    alice.expect_event("~ guest-2 is now known as bob");

    alice.send("/join Rust");
    alice.expect_event("-> alice joined #rust");
    alice.next_is("*** members of #rust (1): alice");
    alice.send("/list");
    alice.next_is("*** rooms (2): #lobby (2), #rust (1)");

    bob.send("/join #RUST");
    bob.expect_event("-> bob joined #rust");
    bob.next_is("*** members of #rust (2): alice bob");
    alice.expect_event("-> bob joined #rust");

    // Talk goes to the current room only.
    bob.send("in rust");
    alice.expect_event("#rust <bob> in rust");
    alice.send("/who #lobby");
    alice.next_is("*** members of #lobby (2): alice bob");
    alice.send("/list");
    alice.next_is("*** rooms (2): #lobby (2), #rust (2)");
    // Joining a room one is in makes it current.
    alice.send("/join #lobby");
    alice.next_is("*** #lobby is now your current room (you were already in it)");
    alice.send("back in the lobby");
    bob.expect_event("#lobby <alice> back in the lobby");

    // Part: everyone in the room sees it, the current room moves on.
    bob.send("/part");
    bob.expect_event("<- bob left #rust");
    bob.next_is("*** your current room is now #lobby");
    alice.expect_event("<- bob left #rust");
    bob.send("/part #rust");
    bob.next_is("ERROR you are not in #rust, so you cannot leave it — your rooms: #lobby");
    bob.send("/part");
    bob.expect_event("<- bob left #lobby");
    bob.next_is("*** you are in no room now: /join #room to talk again");
    bob.send("anyone?");
    bob.next_is(
        "ERROR you are in no room, so nobody would hear that: /join #room first (for example \
         /join #lobby)",
    );
    bob.send("/who");
    bob.next_is("ERROR you are in no room: name one, like /who #lobby, or /join #room first");
    bob.send("/who #nowhere");
    bob.next_is("ERROR no such room: nobody is in #nowhere — /list shows the rooms");
    bob.send("/list");
    bob.next_is("*** rooms (2): #lobby (1), #rust (1)");

    // Room name rules.
    let cases = [
        (
            "/join #",
            "ERROR room name is empty: expected # then 1 to 32 characters, like #lobby",
        ),
        (
            "/join #a.b",
            "ERROR room name has an invalid character '.' at position 3: use ASCII letters, \
             digits, '_' or '-' after the #",
        ),
        ("/join", "ERROR usage: /join <#room> [key]"),
    ];
    for (line, want) in cases {
        bob.send(line);
        bob.next_is(want);
    }
    bob.send(&format!("/join #{}", "a".repeat(33)));
    bob.next_is("ERROR room name too long: 33 characters, at most 32 after the #");
}

fn private_messages_reach_only_the_recipient(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let mut bob = LineClient::named(server.addr(), "Bob");
    let mut carol = LineClient::named(server.addr(), "carol");
    alice.expect_event("~ guest-3 is now known as carol");
    bob.expect_event("~ guest-3 is now known as carol");

    // Any case finds the nick; both sides are shown as they spell themselves.
    alice.send("/msg BOB psst, only you");
    bob.expect_event("<alice -> Bob> psst, only you");
    alice.expect_event("<alice -> Bob> psst, only you");
    alice.send("/msg nobody hello?");
    alice.next_is(
        "ERROR no such nick: nobody called nobody is connected — /who #room shows who is in a \
         room",
    );
    alice.send("/msg bob");
    alice.next_is("ERROR usage: /msg <nick> <text>");
    // carol saw nothing private: her next event is her own sync answer.
    carol.send("/who");
    carol.next_is("*** members of #lobby (3): alice Bob carol");
    assert!(
        carol.seen.iter().all(|l| !l.contains("psst")),
        "{:?}",
        carol.seen
    );
    // A guest can be messaged too.
    let (mut guest, guest_nick) = LineClient::join(server.addr());
    carol.send(&format!("/msg {guest_nick} welcome!"));
    guest.expect_event(&format!("<carol -> {guest_nick}> welcome!"));
}

fn help_unknown_commands_and_usage(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let (mut alice, _) = LineClient::join(server.addr());
    alice.send("/help");
    alice.next_is("*** commands:");
    let mut help = Vec::new();
    for _ in 1..rustchat_proto::HELP.lines().count() {
        help.push(alice.next_line().expect("a help line"));
    }
    assert!(
        help.iter()
            .all(|l| l.starts_with("***   /") || l.starts_with("***   <")),
        "{help:?}"
    );
    assert!(
        help.iter().any(|l| l.contains("/quit [reason]")),
        "{help:?}"
    );
    alice.send("/foo");
    alice.next_is("ERROR unknown command /foo — try /help");
    alice.send("/history 0");
    alice.next_is("ERROR history limit out of range: 0, expected a number from 1 to 500");
    alice.send("/history 5 #rust");
    alice.next_is("ERROR usage: /history [#room] [N]");
    alice.send("/list all");
    alice.next_is("ERROR usage: /list");
    // The connection is still fine after all those errors.
    alice.sync();
}

fn quit_with_a_reason_is_shown_to_the_others(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let mut bob = LineClient::named(server.addr(), "bob");
    alice.expect_event("~ guest-2 is now known as bob");
    bob.send("/join #rust");
    bob.expect_event("-> bob joined #rust");
    alice.send("/join #rust");
    bob.expect_event("-> alice joined #rust");

    bob.send("/quit time for bed");
    let last = bob.expect_eof();
    assert_eq!(last, ["BYE goodbye (time for bed)"], "bob's last lines");
    // alice sees bob leave both rooms, with the reason.
    alice.expect_event("<- bob left #lobby (time for bed)");
    alice.expect_event("<- bob left #rust (time for bed)");
    alice.send("/who #lobby");
    alice.next_is("*** members of #lobby (1): alice");

    // A plain /quit, and a hang-up: the nick is free again.
    let mut carol = LineClient::named(server.addr(), "carol");
    carol.send("/quit");
    assert_eq!(carol.expect_eof(), ["BYE goodbye"]);
    alice.expect_event("<- carol left #lobby");
    let dave = LineClient::named(server.addr(), "dave");
    drop(dave);
    alice.expect_event("<- dave left #lobby (quit)");
    let _again = LineClient::named(server.addr(), "dave");
    alice.expect_event("~ guest-5 is now known as dave");
    alice.expect_silence(Duration::from_millis(50));
}

fn a_client_may_be_in_at_most_max_rooms_per_conn_rooms(model: Model) {
    let (server, _dir) = common::serve(|c| {
        c.model = model;
        c.hub.max_rooms_per_conn = 3;
        c.flood = None;
    });
    let mut alice = LineClient::named(server.addr(), "alice");
    for room in ["#a", "#b"] {
        alice.send(&format!("/join {room}"));
        alice.expect_event(&format!("-> alice joined {room}"));
        alice.expect_exact(&format!("*** members of {room} (1): alice"));
    }
    alice.send("/join #c");
    alice.next_is("ERROR too many rooms: you are in 3, at most 3 — /part one before joining #c");
    alice.send("/part #a");
    alice.expect_event("<- alice left #a");
    alice.send("/join #c");
    alice.expect_event("-> alice joined #c");
}

/// What `printf '/nick mallory\n\033]0;pwned\007\033[2J\033[31mred\n' | nc …` sends must
/// not retitle, clear or colour anyone's terminal, nor a bidi override reorder their line:
/// line clients (TCP and WebSocket line mode) see it escaped, as the terminal client shows it.
fn escape_sequences_from_others_reach_line_clients_escaped(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let mut ws = WsClient::connect(server.addr(), &["rustchat.line"]);
    // In the chat (guest-2) before mallory connects.
    ws.expect_text("the member list", |t| {
        t.starts_with("*** members of #lobby")
    });
    let mut mallory = LineClient::named(server.addr(), "mallory");
    alice.expect_event("~ guest-3 is now known as mallory");
    let attack = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred \u{202e}txt.exe\tcol\u{9b}1m";
    let shown = r"\x1b]0;pwned\x07\x1b[2J\x1b[31mred \u{202e}txt.exe\tcol\u{9b}1m";
    mallory.send(attack);
    let line = alice.expect_event(&format!("#lobby <mallory> {shown}"));
    assert!(!line.chars().any(char::is_control), "{line:?}");
    let text = ws.expect_text("mallory's line", |t| t.contains("<mallory> "));
    assert_eq!(
        untimed(text.trim_end()),
        format!("#lobby <mallory> {shown}")
    );
    // The same for private messages and the reason a client gives for leaving.
    mallory.send(&format!("/msg alice {attack}"));
    alice.expect_event(&format!("<mallory -> alice> {shown}"));
    mallory.send(&format!("/quit {attack}"));
    let left = alice.expect_event(&format!("<- mallory left #lobby ({shown})"));
    assert!(!left.chars().any(char::is_control), "{left:?}");
}

use common::{async_model, pool, sequential, threads};

scenarios!(async_model: escape_sequences_from_others_reach_line_clients_escaped, a_silent_client_is_greeted_and_joins_on_its_first_line, a_client_that_speaks_first_is_registered_then_heard, nick_rules_are_enforced_with_errors_that_say_what_is_expected, messages_reach_the_room_and_come_back_to_the_sender, nobody_can_forge_a_name, rooms_join_part_list_and_who, private_messages_reach_only_the_recipient, help_unknown_commands_and_usage, quit_with_a_reason_is_shown_to_the_others, a_client_may_be_in_at_most_max_rooms_per_conn_rooms);
scenarios!(threads: escape_sequences_from_others_reach_line_clients_escaped, a_silent_client_is_greeted_and_joins_on_its_first_line, a_client_that_speaks_first_is_registered_then_heard, nick_rules_are_enforced_with_errors_that_say_what_is_expected, messages_reach_the_room_and_come_back_to_the_sender, nobody_can_forge_a_name, rooms_join_part_list_and_who, private_messages_reach_only_the_recipient, help_unknown_commands_and_usage, quit_with_a_reason_is_shown_to_the_others, a_client_may_be_in_at_most_max_rooms_per_conn_rooms);
scenarios!(pool: escape_sequences_from_others_reach_line_clients_escaped, a_silent_client_is_greeted_and_joins_on_its_first_line, a_client_that_speaks_first_is_registered_then_heard, nick_rules_are_enforced_with_errors_that_say_what_is_expected, messages_reach_the_room_and_come_back_to_the_sender, nobody_can_forge_a_name, rooms_join_part_list_and_who, private_messages_reach_only_the_recipient, help_unknown_commands_and_usage, quit_with_a_reason_is_shown_to_the_others, a_client_may_be_in_at_most_max_rooms_per_conn_rooms);
// The others take two clients at once, and `sequential` serves one at a time.
scenarios!(sequential: help_unknown_commands_and_usage, a_client_may_be_in_at_most_max_rooms_per_conn_rooms);
