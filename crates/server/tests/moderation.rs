//! End to end: room moderation over real sockets — registering a room, operators, kick,
//! ban, mute, modes, invite, topic — over lines and JSON, under the models, and surviving a
//! restart.

#[macro_use]
mod common;

use std::time::Duration;

use rustchat_proto::{ErrorKind, ModAction, ServerEvent};
use rustchat_server::config::Model;

use common::{LineClient, WsClient, async_model, pool, sequential, serve, threads, untimed};

const HASH_WAIT: Duration = Duration::from_secs(20);

/// A line client named `nick`, registered and signed in.
fn account(addr: std::net::SocketAddr, nick: &str) -> LineClient {
    let mut client = LineClient::named(addr, nick);
    client.send(&format!("/register {nick}-password"));
    client.expect_within("signed in", HASH_WAIT, |l| {
        l.ends_with(&format!("signed in as {nick}"))
    });
    client
}

fn owners_and_operators_moderate_a_room(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let mut alice = account(addr, "alice");
    let mut bob = account(addr, "bob");
    let mut carol = LineClient::named(addr, "carol");
    for client in [&mut alice, &mut bob, &mut carol] {
        client.send("/join #club");
        client.expect("our join", |l| {
            untimed(l).starts_with("-> ") && l.ends_with("joined #club")
        });
    }
    carol.send("/room register #club");
    carol.expect_exact(
        "ERROR rooms are registered by accounts: /login first, then /room register #club",
    );
    alice.send("/room register #club");
    carol.expect_event("! alice registered #club and owns it");
    bob.send("/kick #club carol");
    bob.expect_exact("ERROR only its operators may do that in #club");
    alice.send("/op #club bob");
    bob.expect_event("! alice made operator bob in #club");
    bob.send("/who #club");
    bob.expect_exact("*** members of #club (3): @alice @bob carol");
    alice.send("/topic #club Rust, mostly");
    carol.expect_exact("*** topic of #club: Rust, mostly (set by alice)");

    // A timed ban puts carol out and keeps her out, saying for how long and why.
    bob.send("/ban #club carol 10m spam links");
    carol.expect("the ban", |l| {
        untimed(l).starts_with("! bob banned carol from #club until ")
            && l.ends_with("(spam links)")
    });
    carol.expect_event("<- carol left #club (banned by bob: spam links)");
    carol.send("/join #club");
    carol.expect_exact("ERROR you are banned from #club for another 10m, by bob (spam links)");
    bob.send("/unban #club carol");
    carol.expect_event("! bob unbanned carol in #club");
    carol.send("/join #club");
    carol.expect_exact("*** topic of #club: Rust, mostly (set by alice)");

    // Moderated: carol is quiet until voiced; a mute silences even the voiced.
    alice.send("/mode #club +m");
    carol.expect_exact("*** modes of #club: +m (set by alice)");
    carol.send("hello?");
    carol.expect_exact(
        "ERROR #club is moderated (+m): only voiced members and operators speak — ask an operator for /voice",
    );
    bob.send("/voice #club carol");
    carol.expect_event("! bob voiced carol in #club");
    carol.send("thanks");
    alice.expect_event("#club <carol> thanks");
    bob.send("/mute #club carol 5m");
    carol.expect("the mute", |l| {
        untimed(l).starts_with("! bob muted carol in #club until ")
    });
    carol.send("still here");
    carol.expect_exact("ERROR you are muted in #club for another 5m: nobody hears you there");
    bob.send("/mode #club +q");
    bob.expect("the refusal", |l| {
        l.starts_with("ERROR unknown mode +q: the modes are +i (invite only)")
    });
    bob.send("/deop #club alice");
    bob.expect_exact("ERROR only its owner or server staff may do that in #club");
}

fn invite_only_and_keyed_rooms_over_json(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let mut alice = account(addr, "alice");
    alice.send("/join #vault");
    alice.expect_event("-> alice joined #vault");
    alice.send("/room register #vault");
    alice.expect_event("! alice registered #vault and owns it");
    alice.send("/mode #vault +ik s3cret");
    alice.expect_exact("*** modes of #vault: +ik (set by alice)");
    let mut dave = WsClient::named_json(addr, "dave");
    dave.send_text(r##"{"type":"join","room":"#vault","key":"s3cret"}"##);
    let (_, refused) = dave.expect_json("refusal", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(
            refused,
            ServerEvent::Error {
                kind: ErrorKind::InviteOnly,
                ..
            }
        ),
        "{refused:?}"
    );
    alice.send("/invite dave #vault");
    alice.expect_exact("*** dave is invited to #vault");
    dave.expect_json("the invitation", |e| matches!(e, ServerEvent::Invited { room, by } if room.as_str() == "#vault" && by.as_str() == "alice"));
    dave.send_text(r##"{"type":"join","room":"#vault"}"##);
    dave.expect_json(
        "joined",
        |e| matches!(e, ServerEvent::Joined { room, .. } if room.as_str() == "#vault"),
    );
    dave.send_text(r##"{"type":"kick","room":"#vault","nick":"alice"}"##);
    let (_, refused) = dave.expect_json("refusal", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(
            refused,
            ServerEvent::Error {
                kind: ErrorKind::NotPermitted,
                ..
            }
        ),
        "{refused:?}"
    );
    alice.send("/kick #vault dave bye now");
    let (_, kicked) = dave.expect_json("the kick", |e| matches!(e, ServerEvent::Moderated { .. }));
    assert!(
        matches!(&kicked, ServerEvent::Moderated { action: ModAction::Kicked, by, reason: Some(r), .. } if by.as_str() == "alice" && r == "bye now"),
        "{kicked:?}"
    );
}

scenarios!(async_model: owners_and_operators_moderate_a_room, invite_only_and_keyed_rooms_over_json, the_same_rules_over_json, an_owner_alone);
scenarios!(threads: owners_and_operators_moderate_a_room, invite_only_and_keyed_rooms_over_json, the_same_rules_over_json, an_owner_alone);
scenarios!(pool: owners_and_operators_moderate_a_room, invite_only_and_keyed_rooms_over_json, the_same_rules_over_json, an_owner_alone);
// One connection at a time: what one client meets on its own.
scenarios!(sequential: an_owner_alone);

/// The room rules one client can meet alone (the `sequential` model serves one at a time):
/// registering, topic, modes, bans of someone offline, refusals, redaction of its own message.
fn an_owner_alone(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut owner = json_account(server.addr(), "olga");
    owner.send_text(r##"{"type":"join","room":"#den"}"##);
    owner.expect_json("joined", |e| matches!(e, ServerEvent::Joined { .. }));
    owner.send_text(r##"{"type":"kick","room":"#den","nick":"nobody"}"##);
    assert_eq!(
        refusal(&mut owner),
        ErrorKind::NotPermitted,
        "not registered yet"
    );
    owner.send_text(r##"{"type":"room_register","room":"#den"}"##);
    owner.expect_json("registered", did(ModAction::Registered));
    owner.send_text(r##"{"type":"room_register","room":"#den"}"##);
    assert_eq!(
        refusal(&mut owner),
        ErrorKind::NotPermitted,
        "registered already"
    );
    owner.send_text(r##"{"type":"topic","room":"#den","text":"quiet"}"##);
    owner.expect_json(
        "topic",
        |e| matches!(e, ServerEvent::Topic { text: Some(t), .. } if t == "quiet"),
    );
    owner.send_text(r##"{"type":"mode","room":"#den","modes":"+imR +k key"}"##);
    owner.expect_json(
        "modes",
        |e| matches!(e, ServerEvent::Modes { modes, .. } if modes == "+ikmR"),
    );
    owner.send_text(r#"{"type":"say","text":"owners speak under +m"}"#);
    let (_, said) = owner.expect_json("said", |e| matches!(e, ServerEvent::Message(_)));
    let ServerEvent::Message(said) = said else {
        unreachable!()
    };
    owner.send_text(&format!(
        r#"{{"type":"redact","id":{},"reason":"mine"}}"#,
        said.id
    ));
    owner.expect_json(
        "redacted",
        |e| matches!(e, ServerEvent::Redacted { id, .. } if *id == said.id),
    );
    owner.send_text(r##"{"type":"ban","room":"#den","nick":"mallory","duration":"1h"}"##);
    owner.expect_json("banned", did(ModAction::Banned));
    owner.send_text(r##"{"type":"kick","room":"#den","nick":"mallory"}"##);
    assert_eq!(
        refusal(&mut owner),
        ErrorKind::NoSuchNick,
        "not in the room"
    );
    owner.send_text(r##"{"type":"op","room":"#den","nick":"mallory"}"##);
    assert_eq!(refusal(&mut owner), ErrorKind::NotSignedIn);
    owner.send_text(r##"{"type":"kick","room":"#den","nick":"olga"}"##);
    assert_eq!(refusal(&mut owner), ErrorKind::NotPermitted, "not oneself");
    owner.send_text(r#"{"type":"redact","id":999999}"#);
    assert_eq!(refusal(&mut owner), ErrorKind::NoSuchMessage);
    owner.send_text(r#"{"type":"kline","address":"203.0.113.0/24"}"#);
    assert_eq!(refusal(&mut owner), ErrorKind::NotPermitted, "staff only");
    owner.send_text(r#"{"type":"suspend","account":"olga"}"#);
    assert_eq!(refusal(&mut owner), ErrorKind::NotPermitted, "staff only");
}

#[test]
fn rooms_rules_survive_a_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = rustchat_server::server::start(common::config(dir.path())).expect("starts");
    let mut alice = account(server.addr(), "alice");
    alice.send("/join #club");
    alice.expect_event("-> alice joined #club");
    alice.send("/room register #club");
    alice.expect_event("! alice registered #club and owns it");
    alice.send("/topic #club kept");
    alice.expect_exact("*** topic of #club: kept (set by alice)");
    alice.send("/mode #club +R");
    alice.expect_exact("*** modes of #club: +R (set by alice)");
    alice.send("/ban #club mallory");
    alice.expect_event("! alice banned mallory from #club");
    drop(alice);
    server.shutdown().expect("a clean shutdown");

    let server = rustchat_server::server::start(common::config(dir.path())).expect("restarts");
    let mut guest = LineClient::named(server.addr(), "mallory");
    guest.send("/join #club");
    guest.expect_exact("ERROR you are banned from #club, by alice");
    let mut other = LineClient::named(server.addr(), "erin");
    other.send("/join #club");
    other.expect_exact("ERROR #club is for signed-in users only (+R): /login or /register first");
    other.send("/topic #club");
    other.expect_exact("*** topic of #club: kept (set by alice)");
    other.send("/mode #club");
    other.expect_exact("*** modes of #club: +R");
    let mut back = LineClient::join(server.addr()).0;
    back.send("/login alice alice-password");
    back.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as alice"
    });
    back.send("/join #club");
    back.expect_exact("*** topic of #club: kept (set by alice)");
    back.send("/who #club");
    back.expect_exact("*** members of #club (1): @alice");
}

/// Creates an admin account in the data directory's database before the server starts (as
/// `rustchat admin create-account NAME --role admin` does).
fn make_admin(dir: &std::path::Path, name: &str, password: &str) {
    use rustchat_server::accounts::{hash, store};
    let mut accounts =
        store::AccountStore::open(&dir.join("history.sqlite3")).expect("the account store opens");
    let audit = store::AuditEntry {
        ts: 0,
        actor: "operator".into(),
        action: "create_account".into(),
        target: Some(name.into()),
        address: None,
        detail: None,
    };
    let nick = rustchat_proto::Nick::parse(name).expect("a valid name");
    let hashed = hash::hash(password).expect("hashed");
    accounts
        .create(&nick, &hashed, Some(store::Role::Admin), 0, &audit)
        .expect("created");
}

#[test]
fn staff_suspend_accounts_ban_addresses_and_redact_messages() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    make_admin(dir.path(), "boss", "boss-password");
    let server = rustchat_server::server::start(common::config(dir.path())).expect("starts");
    let addr = server.addr();
    let mut boss = LineClient::join(addr).0;
    boss.send("/login boss boss-password");
    boss.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as boss"
    });
    let mut mallory = WsClient::named_json(addr, "mallory");
    mallory.send_text(r#"{"type":"register","password":"mallorys-password"}"#);
    mallory.expect_json("signed in", |e| matches!(e, ServerEvent::SignedIn { .. }));

    // Redact: the message leaves everyone's screen and the history.
    mallory.send_text(r#"{"type":"say","text":"my password is hunter2"}"#);
    let (_, said) = mallory.expect_json("the echo", |e| matches!(e, ServerEvent::Message(_)));
    let ServerEvent::Message(said) = said else {
        unreachable!()
    };
    boss.expect_event("#lobby <mallory> my password is hunter2");
    boss.send(&format!("/redact {} leaked a password", said.id));
    boss.expect_event(&format!(
        "! boss removed message {} from #lobby (leaked a password)",
        said.id
    ));
    mallory.expect_json(
        "the redaction",
        |e| matches!(e, ServerEvent::Redacted { id, .. } if *id == said.id),
    );
    boss.send("/history #lobby");
    boss.expect_exact("*** no history in #lobby");
    boss.send(&format!("/redact {}", said.id));
    boss.expect("the refusal", |l| {
        l.starts_with(&format!("ERROR no message {} among", said.id))
    });

    // Suspend: signed out at once, refused at sign-in, until lifted.
    mallory.send_text(r#"{"type":"suspend","account":"boss"}"#);
    let (_, refused) = mallory.expect_json("refusal", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(
            refused,
            ServerEvent::Error {
                kind: ErrorKind::NotPermitted,
                ..
            }
        ),
        "{refused:?}"
    );
    boss.send("/suspend mallory spamming");
    boss.expect_within("done", HASH_WAIT, |l| {
        l == "*** mallory is suspended: signed out, and cannot sign in"
    });
    mallory.expect_json("signed out", |e| {
        matches!(e, ServerEvent::SignedOut { reason } if reason == "your account was suspended by boss: spamming")
    });
    mallory.send_text(r#"{"type":"login","account":"mallory","password":"mallorys-password"}"#);
    let (_, refused) = mallory.expect_json("refusal", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(
            refused,
            ServerEvent::Error {
                kind: ErrorKind::Suspended,
                ..
            }
        ),
        "{refused:?}"
    );
    boss.send("/unsuspend mallory");
    boss.expect_within("done", HASH_WAIT, |l| l == "*** mallory may sign in again");
    mallory.send_text(r#"{"type":"login","account":"mallory","password":"mallorys-password"}"#);
    mallory.expect_json("signed in", |e| matches!(e, ServerEvent::SignedIn { .. }));

    // Address bans: new connections from the range are refused, saying why; lifted, let in.
    boss.send("/kline 127.0.0.0/8 10m testing");
    boss.expect_exact("*** connections from 127.0.0.0/8 are refused now for 10m (those open stay)");
    let mut refused = LineClient::connect(addr);
    refused.send("");
    let lines = refused.expect_eof();
    assert_eq!(
        lines,
        ["ERROR your address is banned from this server for another 10 min"],
        "{lines:?}"
    );
    boss.send("/klines");
    boss.expect_exact("*** address bans (1):");
    boss.expect("the ban", |l| {
        l.starts_with("***   127.0.0.0/8 for another 10 min, by boss (testing)")
    });
    drop(mallory);
    drop(boss);
    server.shutdown().expect("a clean shutdown");

    // The ban holds after a restart; the audit log has every action.
    let server = rustchat_server::server::start(common::config(dir.path())).expect("restarts");
    let mut refused = LineClient::connect(server.addr());
    refused.send("");
    assert_eq!(
        refused.expect_eof(),
        ["ERROR your address is banned from this server for another 10 min"]
    );
    let log =
        rustchat_server::accounts::store::AccountStore::open(&dir.path().join("history.sqlite3"))
            .and_then(|s| s.audit_log(100))
            .expect("the audit log reads");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for action in ["redact", "suspend", "unsuspend", "kline", "sign_in"] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

/// A JSON client named `nick`, registered and signed in.
fn json_account(addr: std::net::SocketAddr, nick: &str) -> WsClient {
    let client = WsClient::named_json(addr, nick);
    client
        .ws
        .get_ref()
        .set_read_timeout(Some(HASH_WAIT))
        .expect("a timeout");
    let mut client = client;
    client.send_text(&format!(
        r#"{{"type":"register","password":"{nick}-password"}}"#
    ));
    client.expect_json("signed in", |e| matches!(e, ServerEvent::SignedIn { .. }));
    client
}

/// Whether an event is a `moderated` event for `action`.
fn did(action: ModAction) -> impl Fn(&ServerEvent) -> bool {
    move |e| matches!(e, ServerEvent::Moderated { action: a, .. } if *a == action)
}

/// The error kind of the next `error` event.
fn refusal(client: &mut WsClient) -> ErrorKind {
    let (_, event) = client.expect_json("an error", |e| matches!(e, ServerEvent::Error { .. }));
    match event {
        ServerEvent::Error { kind, .. } => kind,
        _ => unreachable!(),
    }
}

/// The rules of `owners_and_operators_moderate_a_room`, every one sent as a JSON object.
fn the_same_rules_over_json(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let mut alice = json_account(addr, "alice");
    let mut bob = json_account(addr, "bob");
    let mut carol = WsClient::named_json(addr, "carol");
    for client in [&mut alice, &mut bob, &mut carol] {
        client.send_text(r##"{"type":"join","room":"#club"}"##);
        client.expect_json(
            "joined",
            |e| matches!(e, ServerEvent::Joined { room, .. } if room.as_str() == "#club"),
        );
    }
    carol.send_text(r##"{"type":"room_register","room":"#club"}"##);
    assert_eq!(refusal(&mut carol), ErrorKind::NotSignedIn);
    alice.send_text(r##"{"type":"room_register","room":"#club"}"##);
    carol.expect_json("registered", did(ModAction::Registered));
    bob.send_text(r##"{"type":"kick","room":"#club","nick":"carol"}"##);
    assert_eq!(refusal(&mut bob), ErrorKind::NotPermitted);
    alice.send_text(r##"{"type":"op","room":"#club","nick":"bob"}"##);
    bob.expect_json("opped", did(ModAction::Opped));
    carol.send_text(r##"{"type":"who","room":"#club"}"##);
    let (_, members) = carol.expect_json("members", |e| matches!(e, ServerEvent::Members { .. }));
    assert!(
        matches!(&members, ServerEvent::Members { roles, .. } if roles.len() == 2 && roles.get("bob") == Some(&rustchat_proto::RoomRole::Operator)),
        "{members:?}"
    );
    bob.send_text(r##"{"type":"topic","room":"#club","text":"JSON, mostly"}"##);
    carol.expect_json(
        "topic",
        |e| matches!(e, ServerEvent::Topic { text: Some(t), .. } if t == "JSON, mostly"),
    );
    bob.send_text(
        r##"{"type":"ban","room":"#club","nick":"carol","duration":"10m","reason":"spam"}"##,
    );
    let (_, banned) = carol.expect_json("the ban", |e| matches!(e, ServerEvent::Moderated { .. }));
    assert!(
        matches!(&banned, ServerEvent::Moderated { action: ModAction::Banned, until: Some(_), reason: Some(r), .. } if r == "spam"),
        "{banned:?}"
    );
    carol.expect_json(
        "put out",
        |e| matches!(e, ServerEvent::Left { nick, .. } if nick.as_str() == "carol"),
    );
    carol.send_text(r##"{"type":"join","room":"#club"}"##);
    assert_eq!(refusal(&mut carol), ErrorKind::Banned);
    bob.send_text(r##"{"type":"unban","room":"#club","nick":"carol"}"##);
    carol.expect_json("unbanned", did(ModAction::Unbanned));
    carol.send_text(r##"{"type":"join","room":"#club"}"##);
    carol.expect_json("the topic on join", |e| {
        matches!(e, ServerEvent::Topic { .. })
    });
    alice.send_text(r##"{"type":"mode","room":"#club","modes":"+m"}"##);
    carol.expect_json(
        "modes",
        |e| matches!(e, ServerEvent::Modes { modes, .. } if modes == "+m"),
    );
    carol.send_text(r#"{"type":"say","text":"hello?"}"#);
    assert_eq!(refusal(&mut carol), ErrorKind::Moderated);
    bob.send_text(r##"{"type":"voice","room":"#club","nick":"carol"}"##);
    carol.expect_json("voiced", did(ModAction::Voiced));
    carol.send_text(r#"{"type":"say","text":"thanks"}"#);
    alice.expect_json(
        "carol's words",
        |e| matches!(e, ServerEvent::Message(m) if m.text == "thanks"),
    );
    bob.send_text(r##"{"type":"mute","room":"#club","nick":"carol","duration":"5m"}"##);
    carol.expect_json("muted", did(ModAction::Muted));
    carol.send_text(r#"{"type":"say","text":"still here"}"#);
    assert_eq!(refusal(&mut carol), ErrorKind::Muted);
    alice.send_text(r##"{"type":"mode","room":"#club","modes":"-m +R"}"##);
    alice.expect_json(
        "modes",
        |e| matches!(e, ServerEvent::Modes { modes, .. } if modes == "+R"),
    );
    bob.send_text(r##"{"type":"mode","room":"#club","modes":"+q"}"##);
    assert_eq!(refusal(&mut bob), ErrorKind::Usage);
    bob.send_text(r##"{"type":"deop","room":"#club","nick":"alice"}"##);
    assert_eq!(refusal(&mut bob), ErrorKind::NotPermitted);
    let mut dave = WsClient::named_json(addr, "dave");
    dave.send_text(r##"{"type":"join","room":"#club"}"##);
    assert_eq!(refusal(&mut dave), ErrorKind::RegisteredOnly);
}
