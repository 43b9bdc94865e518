//! End to end: room history — replay on join, `/history`, and what survives a restart of the
//! server on the same data directory (and what does not, with `--history memory`).

#[macro_use]
mod common;

use common::{LineClient, WsClient, config, metric, serve};
use rustchat_proto::ServerEvent;
use rustchat_server::config::{HistoryMode, Model, ServerConfig};
use rustchat_server::server::start;

/// Starts a server on `dir` (a fresh port each time).
fn start_on(
    dir: &std::path::Path,
    model: Model,
    tune: impl FnOnce(&mut ServerConfig),
) -> rustchat_server::server::RunningServer {
    let mut config = config(dir);
    config.flood = None;
    config.model = model;
    tune(&mut config);
    start(config).expect("the server starts")
}

fn a_joiner_is_replayed_the_recent_history_and_history_n_works(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.hub.replay_on_join = 3;
    });
    let mut alice = LineClient::named(server.addr(), "alice");
    alice.send("/join #rust");
    alice.expect_event("-> alice joined #rust");
    for i in 1..=5 {
        alice.send(&format!("rust {i}"));
        alice.expect_event(&format!("#rust <alice> rust {i}"));
    }
    alice.send("/me is done");
    alice.expect_event("#rust * alice is done");

    let (mut bob, nick) = LineClient::join(server.addr());
    bob.send("/join #rust");
    bob.expect_event(&format!("-> {nick} joined #rust"));
    // The last three, bracketed, oldest first.
    bob.next_is("*** history of #rust (3 messages)");
    for want in [
        "#rust <alice> rust 4",
        "#rust <alice> rust 5",
        "#rust * alice is done",
    ] {
        let line = bob.next_line().expect("a history line");
        assert_eq!(common::untimed(&line), want);
    }
    bob.next_is("*** end of history of #rust");
    bob.next_is(&format!("*** members of #rust (2): alice {nick}"));

    bob.send("/history 2");
    bob.next_is("*** history of #rust (2 messages)");
    bob.expect_event("#rust <alice> rust 5");
    bob.expect_event("#rust * alice is done");
    bob.next_is("*** end of history of #rust");
    bob.send("/history #rust 500");
    bob.next_is("*** history of #rust (6 messages)");
    bob.expect_event("#rust <alice> rust 1");
    bob.expect_exact("*** end of history of #rust");
    // Any room with history may be asked, member or not; an empty one says so.
    bob.send("/history #lobby");
    bob.next_is("*** no history in #lobby");
    bob.send("/history #nowhere 5");
    bob.next_is(
        "ERROR no such room: #nowhere has no members and no history — /list shows the rooms",
    );
}

fn history_survives_a_restart_on_the_same_data_directory(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start_on(dir.path(), model, |_| {});
    let mut alice = LineClient::named(server.addr(), "alice");
    alice.send("/join #keep");
    alice.expect_event("-> alice joined #keep");
    let mut ids = Vec::new();
    let mut ws = WsClient::named_json(server.addr(), "bob");
    ws.send_text(r##"{"type":"join","room":"#keep"}"##);
    ws.expect_json("joined", |e| matches!(e, ServerEvent::Joined { .. }));
    for i in 0..20 {
        alice.send(&format!("kept {i}"));
        let (_, event) = ws.expect_json("a message", |e| matches!(e, ServerEvent::Message(_)));
        let ServerEvent::Message(m) = event else {
            unreachable!()
        };
        assert_eq!(m.text, format!("kept {i}"));
        ids.push(m.id);
    }
    alice.send("/join #other");
    alice.send("elsewhere");
    alice.expect_event("#other <alice> elsewhere");
    drop((alice, ws));
    server.shutdown().expect("a clean shutdown");

    // A new server, a new port, the same directory.
    let server = start_on(dir.path(), model, |c| c.hub.replay_on_join = 5);
    let mut carol = WsClient::named_json(server.addr(), "carol");
    carol.send_text(r##"{"type":"join","room":"#keep"}"##);
    let (_, event) = carol.expect_json("the replay", |e| matches!(e, ServerEvent::History { .. }));
    let ServerEvent::History { room, messages } = event else {
        unreachable!()
    };
    assert_eq!(room.as_str(), "#keep");
    let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["kept 15", "kept 16", "kept 17", "kept 18", "kept 19"]
    );
    let replayed: Vec<_> = messages.iter().map(|m| m.id).collect();
    assert_eq!(replayed, ids[15..], "the same ids as before the restart");
    assert!(messages.iter().all(|m| m.from.as_str() == "alice"));

    carol.send_text(r#"{"type":"history","limit":500}"#);
    let (_, event) = carol.expect_json("history", |e| matches!(e, ServerEvent::History { .. }));
    let ServerEvent::History { messages, .. } = event else {
        unreachable!()
    };
    assert_eq!(
        messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids,
        "/history 500 has all twenty"
    );
    carol.send_text(r##"{"type":"history","room":"#other"}"##);
    let (_, event) = carol.expect_json("history", |e| matches!(e, ServerEvent::History { .. }));
    assert!(
        matches!(&event, ServerEvent::History { messages, .. } if messages.len() == 1 && messages[0].text == "elsewhere"),
        "{event:?}"
    );
    // New messages continue the numbering, never reuse an id.
    carol.send_text(r#"{"type":"say","text":"after the restart"}"#);
    let (_, event) = carol.expect_json("a message", |e| matches!(e, ServerEvent::Message(_)));
    let ServerEvent::Message(m) = event else {
        unreachable!()
    };
    assert!(m.id > ids[19] + 1, "id {} after {}", m.id, ids[19]);
    drop(carol);

    // And a line client sees it the line way, after a second restart.
    server.shutdown().expect("a clean shutdown");
    let server = start_on(dir.path(), model, |_| {});
    let (mut dave, _) = LineClient::join(server.addr());
    dave.send("/history #keep 2");
    dave.next_is("*** history of #keep (2 messages)");
    dave.expect_event("#keep <alice> kept 19");
    dave.expect_event("#keep <carol> after the restart");
    dave.next_is("*** end of history of #keep");
}

fn memory_history_does_not_survive_a_restart(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let memory = |c: &mut ServerConfig| c.history = HistoryMode::Memory;
    let server = start_on(dir.path(), model, memory);
    let (mut alice, nick) = LineClient::join(server.addr());
    alice.send("fleeting");
    alice.expect_event(&format!("#lobby <{nick}> fleeting"));
    alice.send("/history");
    alice.next_is("*** history of #lobby (1 message)");
    drop(alice);
    server.shutdown().expect("shutdown");
    assert!(
        !dir.path().join("history.sqlite3").exists(),
        "memory mode writes no file"
    );

    let server = start_on(dir.path(), model, memory);
    let (mut bob, _) = LineClient::join(server.addr());
    bob.send("/history");
    bob.next_is("*** no history in #lobby");
    drop(bob);
    server.shutdown().expect("shutdown");

    // A file server on the same directory starts empty too.
    let server = start_on(dir.path(), model, |_| {});
    let (mut carol, _) = LineClient::join(server.addr());
    carol.send("/history");
    carol.next_is("*** no history in #lobby");
    assert_eq!(
        metric(&server.metrics_text(), "rustchat_history_appended_total"),
        0
    );
}

/// Two servers on one history would hand out the same message ids: the second one is refused
/// before it listens, with an error naming the directory and the first server's PID; the first
/// goes on unharmed, and once it stops the directory is free again.
fn a_second_server_on_the_same_data_directory_is_refused(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = start_on(dir.path(), model, |_| {});
    let mut second = config(dir.path());
    second.model = model;
    let said = start(second)
        .expect_err("a second server on the same directory")
        .to_string();
    let pid = std::process::id();
    assert!(
        said.contains(&dir.path().display().to_string())
            && said.contains(&format!("PID {pid}"))
            && said.contains("--data-dir"),
        "{said}"
    );
    let (mut alice, nick) = LineClient::join(first.addr());
    alice.send("still the only one");
    alice.expect_event(&format!("#lobby <{nick}> still the only one"));
    drop(alice);
    first.shutdown().expect("a clean shutdown");
    let again = start_on(dir.path(), model, |_| {});
    let (mut bob, _) = LineClient::join(again.addr());
    bob.send("/history");
    bob.expect("the message kept", |l| l.ends_with("still the only one"));
}

use common::{async_model, pool, sequential, threads};

/// `--history-keep 5`: the database keeps each room's last 5 to 10 messages; after a restart a
/// joiner sees exactly the last 5 (rooms over the bound are cut when the server starts), and
/// `/metrics` counts what was cut and the database's size.
fn history_keep_bounds_each_room_across_a_restart(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start_on(dir.path(), model, |c| c.history_keep = Some(5));
    let mut alice = LineClient::named(server.addr(), "alice");
    for i in 0..12 {
        alice.send(&format!("kept? {i}"));
    }
    alice.expect_event("#lobby <alice> kept? 11");
    let text = server.metrics_text();
    assert_eq!(
        metric(&text, "rustchat_history_cut_total"),
        5,
        "one cut, at the 10th"
    );
    assert!(metric(&text, "rustchat_history_db_bytes") > 0);
    drop(alice);
    server.shutdown().expect("a clean shutdown");

    let server = start_on(dir.path(), model, |c| c.history_keep = Some(5));
    let mut bob = LineClient::named(server.addr(), "bob");
    bob.send("/history 50");
    bob.next_is("*** history of #lobby (5 messages)");
    for i in 7..12 {
        bob.expect_event(&format!("#lobby <alice> kept? {i}"));
    }
    bob.next_is("*** end of history of #lobby");
}

/// `--history-max-age`: a message older than the age is no longer replayed nor shown by
/// `/history`, and the committer deletes it from the database (counted in `/metrics`).
fn history_max_age_hides_then_deletes_old_messages(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start_on(dir.path(), model, |c| {
        c.history_max_age = Some(std::time::Duration::from_millis(800));
        c.history_expire_every = std::time::Duration::from_millis(100);
    });
    let mut alice = LineClient::named(server.addr(), "alice");
    alice.send("soon forgotten");
    alice.expect_event("#lobby <alice> soon forgotten");
    alice.send("/history");
    alice.next_is("*** history of #lobby (1 message)");
    alice.expect_event("#lobby <alice> soon forgotten");
    alice.next_is("*** end of history of #lobby");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    alice.send("/history");
    alice.next_is("*** no history in #lobby");
    common::eventually("the old message deleted", common::TIMEOUT, || {
        metric(&server.metrics_text(), "rustchat_history_expired_total") == 1
    });
    alice.send("fresh");
    alice.expect_event("#lobby <alice> fresh");
    alice.send("/history");
    alice.next_is("*** history of #lobby (1 message)");
    alice.expect_event("#lobby <alice> fresh");
}

scenarios!(async_model: history_keep_bounds_each_room_across_a_restart, history_max_age_hides_then_deletes_old_messages, a_second_server_on_the_same_data_directory_is_refused, a_joiner_is_replayed_the_recent_history_and_history_n_works, history_survives_a_restart_on_the_same_data_directory, memory_history_does_not_survive_a_restart);
scenarios!(threads: history_keep_bounds_each_room_across_a_restart, history_max_age_hides_then_deletes_old_messages, a_second_server_on_the_same_data_directory_is_refused, a_joiner_is_replayed_the_recent_history_and_history_n_works, history_survives_a_restart_on_the_same_data_directory, memory_history_does_not_survive_a_restart);
scenarios!(pool: a_second_server_on_the_same_data_directory_is_refused, a_joiner_is_replayed_the_recent_history_and_history_n_works, history_survives_a_restart_on_the_same_data_directory, memory_history_does_not_survive_a_restart);
// The others take two clients at once, and `sequential` serves one at a time.
scenarios!(sequential: history_keep_bounds_each_room_across_a_restart, history_max_age_hides_then_deletes_old_messages, a_second_server_on_the_same_data_directory_is_refused, memory_history_does_not_survive_a_restart);
