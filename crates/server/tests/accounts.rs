//! End to end: accounts over real sockets — registering, signing in (line and JSON), nick
//! protection, `/passwd`, `/logout`, the order of what a client sends around a sign-in, the
//! throttle, restarts, and chat that stays quick while a burst of sign-ins is hashed.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use rustchat_proto::{ErrorKind, ServerEvent};
use rustchat_server::config::Model;

use common::{LineClient, WsClient, async_model, pool, sequential, serve, threads, untimed};

/// A registration or sign-in answer may take a hash's time (plus a busy machine's).
const HASH_WAIT: Duration = Duration::from_secs(20);

fn register_sign_in_and_protect_the_nick(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    alice.send("/register short");
    alice.expect_exact("ERROR password too short: 5 bytes, expected at least 8");
    alice.send("/register correct-horse");
    alice.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as alice"
    });
    alice.send("/register again-please");
    alice.expect_exact("ERROR you are signed in to alice already");

    // Somebody else cannot take the name, even after alice leaves.
    let (mut mallory, guest) = LineClient::join(server.addr());
    mallory.send("/nick Alice");
    mallory.expect_exact("ERROR nick Alice is registered — /login Alice <password> if it is yours");
    alice.send("/quit");
    alice.expect_eof();
    mallory.send("/nick alice");
    mallory.expect_exact("ERROR nick alice is registered — /login alice <password> if it is yours");
    mallory.send("/login alice wrong-horse");
    mallory.expect_within("refused", HASH_WAIT, |l| {
        l == "ERROR wrong account name or password"
    });

    // The owner comes back as a guest and signs in; the sign-in gives the nick.
    let (mut back, back_guest) = LineClient::join(server.addr());
    mallory.expect_event(&format!("-> {back_guest} joined #lobby"));
    back.send("/identify ALICE correct-horse");
    back.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as alice"
    });
    back.saw_or_expect("the rename", |l| {
        untimed(l) == format!("~ {back_guest} is now known as alice")
    });
    mallory.expect_event(&format!("~ {back_guest} is now known as alice"));

    // /passwd, /logout, and the new password.
    back.send("/passwd correct-horse battery-staple");
    back.expect_within("changed", HASH_WAIT, |l| {
        l == "*** the password of alice is changed"
    });
    back.send("/logout");
    back.expect_exact("*** you are signed out: you signed out");
    back.send("/passwd battery-staple another-one");
    back.expect_exact("ERROR you are not signed in: /login <account> <password> first");
    back.send("/login alice correct-horse");
    back.expect_within("refused", HASH_WAIT, |l| {
        l == "ERROR wrong account name or password"
    });
    back.send("/login alice battery-staple");
    back.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as alice"
    });
    let _ = guest;
}

/// A client that sends `/login` and then a message has the message said under the account's
/// nick: its input waits while the password is checked.
fn what_follows_a_sign_in_waits_for_it(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut owner = LineClient::named(server.addr(), "bob");
    owner.send("/register bobs-password");
    owner.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as bob"));
    owner.send("/logout");
    owner.expect_exact("*** you are signed out: you signed out");
    let (mut watcher, _) = LineClient::join(server.addr());
    owner.send_raw(b"/login bob bobs-password\nfirst words\n/who\n");
    owner.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as bob"));
    owner.expect_event("#lobby <bob> first words");
    watcher.expect_within("bob's words", HASH_WAIT, |l| {
        untimed(l) == "#lobby <bob> first words"
    });
}

fn json_clients_register_and_sign_in(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut carol = WsClient::named_json(server.addr(), "carol");
    carol.send_text(r#"{"type":"register","password":"a pass phrase with spaces"}"#);
    let (_, signed) = carol.expect_json("signed in", |e| matches!(e, ServerEvent::SignedIn { .. }));
    assert_eq!(
        signed,
        ServerEvent::SignedIn {
            account: rustchat_proto::Nick::parse("carol").expect("valid")
        }
    );
    carol.send_text(r#"{"type":"logout"}"#);
    carol.expect_json("signed out", |e| matches!(e, ServerEvent::SignedOut { .. }));
    carol.send_text(r#"{"type":"login","account":"carol","password":"wrong pass phrase"}"#);
    let (_, refused) = carol.expect_json("refused", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(
            refused,
            ServerEvent::Error {
                kind: ErrorKind::AuthFailed,
                ..
            }
        ),
        "{refused:?}"
    );
    carol.send_text(r#"{"type":"login","account":"Carol","password":"a pass phrase with spaces"}"#);
    carol.expect_json(
        "signed in",
        |e| matches!(e, ServerEvent::SignedIn { account } if account.as_str() == "carol"),
    );
    carol.send_text(r#"{"type":"register","password":"x"}"#);
    let (_, short) = carol.expect_json("refused", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(
            short,
            ServerEvent::Error {
                kind: ErrorKind::InvalidPassword,
                ..
            }
        ),
        "{short:?}"
    );
}

/// Guests cannot register their guest name, and a registered nick signs its holder's
/// replacement in: whoever holds the name gets a guest name.
fn guests_register_a_chosen_nick_and_the_owner_takes_it_back(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let (mut guest, name) = LineClient::join(server.addr());
    guest.send("/register long-enough");
    guest.expect_exact(&format!(
        "ERROR {name} is a guest name and cannot be registered: pick a nick with /nick <name>, then /register <password>"
    ));
    guest.send("/nick dave");
    guest.expect_event(&format!("~ {name} is now known as dave"));
    let mut dave = guest;
    dave.send("/register daves-secret");
    dave.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as dave"));
    // A second connection signs in to dave: the first is signed out, gets a guest name.
    let (mut second, _) = LineClient::join(server.addr());
    second.send("/login dave daves-secret");
    second.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as dave"));
    dave.expect_within("signed out", HASH_WAIT, |l| {
        l == "*** you are signed out: dave signed in from another connection"
    });
    dave.expect("a guest name", |l| {
        untimed(l).starts_with("~ dave is now known as guest-")
    });
}

fn the_throttle_stops_guessing_and_says_when(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut erin = LineClient::named(server.addr(), "erin");
    erin.send("/register erins-secret");
    erin.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as erin"));
    let (mut guesser, _) = LineClient::join(server.addr());
    for n in 1..=4 {
        guesser.send(&format!("/login erin guess-{n:04}"));
        guesser.expect_within("refused", HASH_WAIT, |l| {
            l == "ERROR wrong account name or password"
        });
    }
    guesser.send("/login erin guess-0005");
    guesser.expect_within("locked", HASH_WAIT, |l| {
        l == "ERROR wrong account name or password; too many failures: try again in 1 min 0 s"
    });
    guesser.send("/login erin erins-secret");
    let refusal = guesser.expect_within("throttled", HASH_WAIT, |l| l.starts_with("ERROR "));
    assert!(
        refusal.starts_with("ERROR too many failed sign-ins for erin: try again in "),
        "{refusal}"
    );
}

scenarios!(async_model: register_sign_in_and_protect_the_nick, what_follows_a_sign_in_waits_for_it, json_clients_register_and_sign_in, guests_register_a_chosen_nick_and_the_owner_takes_it_back, the_throttle_stops_guessing_and_says_when, tokens_sign_in_over_lines_json_and_the_upgrade, one_client_through_the_account_rules);
scenarios!(threads: register_sign_in_and_protect_the_nick, what_follows_a_sign_in_waits_for_it, json_clients_register_and_sign_in, guests_register_a_chosen_nick_and_the_owner_takes_it_back, the_throttle_stops_guessing_and_says_when, tokens_sign_in_over_lines_json_and_the_upgrade, one_client_through_the_account_rules);
scenarios!(pool: register_sign_in_and_protect_the_nick, what_follows_a_sign_in_waits_for_it, json_clients_register_and_sign_in, guests_register_a_chosen_nick_and_the_owner_takes_it_back, the_throttle_stops_guessing_and_says_when, tokens_sign_in_over_lines_json_and_the_upgrade, one_client_through_the_account_rules);
// One client at a time: what a single client can show.
scenarios!(sequential: json_clients_register_and_sign_in, one_client_through_the_account_rules);

#[test]
fn accounts_survive_a_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = rustchat_server::server::start(common::config(dir.path())).expect("starts");
    let mut frank = LineClient::named(server.addr(), "frank");
    frank.send("/register franks-secret");
    frank.expect_within("signed in", HASH_WAIT, |l| {
        l.ends_with("signed in as frank")
    });
    drop(frank);
    server.shutdown().expect("a clean shutdown");

    let server = rustchat_server::server::start(common::config(dir.path())).expect("restarts");
    let (mut other, _) = LineClient::join(server.addr());
    other.send("/nick frank");
    other.expect_exact("ERROR nick frank is registered — /login frank <password> if it is yours");
    other.send("/login frank franks-secret");
    other.expect_within("signed in", HASH_WAIT, |l| {
        l.ends_with("signed in as frank")
    });
}

/// Whether `client` has been told it is signed in (reading what has come, waiting 1 ms).
fn signed_in_yet(client: &mut LineClient, account: &str) -> bool {
    let want = format!("*** you are signed in as {account}");
    while let Some(Some(_)) = client.next_line_within(Duration::from_millis(1)) {}
    client.seen.contains(&want)
}

/// A burst of 100 sign-ins (each an argon2 hash, tens of milliseconds) does not hold up the
/// chat: 50 message round trips made during the burst are all done while most of the burst
/// is still waiting to be hashed — an order, not a timing. The round trips' p99 is printed
/// (measured in release in docs/PERFORMANCE.md).
#[test]
fn a_burst_of_sign_ins_does_not_delay_the_chat() {
    // Flood control would pace the talker at its rate (10 a second); this is about the hub.
    let (server, _dir) = serve(|c| {
        c.model = Model::Async;
        c.flood = None;
    });
    let mut owner = LineClient::named(server.addr(), "grace");
    owner.send("/register graces-secret");
    owner.expect_within("signed in", HASH_WAIT, |l| {
        l.ends_with("signed in as grace")
    });
    let mut talker = LineClient::named(server.addr(), "talker");
    // Connected, not in the chat yet: their first line joins and signs in.
    let mut burst: Vec<LineClient> = (0..100)
        .map(|_| LineClient::connect(server.addr()))
        .collect();
    let started = Instant::now();
    for client in &mut burst {
        client.send("/login grace graces-secret");
    }
    let mut round_trips = Vec::new();
    for n in 0..50 {
        let sent = Instant::now();
        talker.send(&format!("ping {n}"));
        talker.expect_event(&format!("#lobby <talker> ping {n}"));
        round_trips.push(sent.elapsed());
    }
    let chatting = started.elapsed();
    let mut done_while_chatting = 0;
    for client in &mut burst {
        done_while_chatting += usize::from(signed_in_yet(client, "grace"));
    }
    for client in &mut burst {
        if !signed_in_yet(client, "grace") {
            client.expect_within("a sign-in", Duration::from_secs(120), |l| {
                l.ends_with("signed in as grace")
            });
        }
    }
    let burst_took = started.elapsed();
    round_trips.sort();
    let p99 = round_trips[round_trips.len() * 99 / 100];
    eprintln!(
        "chat round trip p99 {p99:?} (50 in {chatting:?}) while 100 sign-ins took {burst_took:?}; \
         {done_while_chatting} were done when the chat was"
    );
    assert!(
        done_while_chatting < 50,
        "{done_while_chatting} of 100 sign-ins finished before 50 chat round trips: the chat \
         waited for them"
    );
}

/// A JSON WebSocket client that gives `token` on the upgrade, in the `Authorization` header
/// or (as a browser must) in the query.
fn token_upgrade(addr: std::net::SocketAddr, token: &str, in_header: bool) -> WsClient {
    let builder = if in_header {
        rustchat_ws::handshake::ClientHandshake::builder(format!("ws://{addr}/ws"))
            .header("Authorization", format!("Bearer {token}"))
    } else {
        rustchat_ws::handshake::ClientHandshake::builder(format!("ws://{addr}/ws?token={token}"))
    };
    let handshake = builder
        .protocols(["rustchat.json"])
        .build()
        .expect("a handshake");
    let (ws, _) =
        rustchat_ws::blocking::WebSocket::connect_with(&handshake, rustchat_ws::Config::default())
            .expect("upgraded");
    ws.get_ref()
        .set_read_timeout(Some(HASH_WAIT))
        .expect("a timeout");
    WsClient::over(ws, Some("rustchat.json".into()))
}

/// The token a `/token` answer shows (line protocol).
fn token_from(line: &str) -> String {
    let token = line
        .split_whitespace()
        .find(|w| w.starts_with("rct_"))
        .unwrap_or_else(|| panic!("no token in {line}"));
    token.to_owned()
}

fn tokens_sign_in_over_lines_json_and_the_upgrade(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut mia = LineClient::named(server.addr(), "mia");
    mia.send("/token");
    mia.expect_exact("ERROR you are not signed in: /login <account> <password> first — tokens belong to accounts");
    mia.send("/register mias-password");
    mia.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as mia"));
    mia.send("/token my laptop");
    let shown = mia.expect_within("a token", HASH_WAIT, |l| l.starts_with("*** token "));
    assert!(
        shown.starts_with("*** token 1 (my laptop): rct_"),
        "{shown}"
    );
    let token = token_from(&shown);
    mia.send("/token");
    let second =
        token_from(&mia.expect_within("a token", HASH_WAIT, |l| l.starts_with("*** token 2")));

    // A line client signs in with it.
    let (mut other, _) = LineClient::join(server.addr());
    other.send(&format!("/login {token}"));
    other.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as mia"
    });
    mia.expect_within("signed out", HASH_WAIT, |l| {
        l == "*** you are signed out: mia signed in from another connection"
    });

    // On the upgrade: the welcome itself names the account.
    for in_header in [true, false] {
        let mut page = token_upgrade(server.addr(), &token, in_header);
        let (_, welcome) =
            page.expect_json("welcome", |e| matches!(e, ServerEvent::Welcome { .. }));
        assert!(
            matches!(&welcome, ServerEvent::Welcome { nick, account: Some(account), .. } if nick.as_str() == "mia" && account.as_str() == "mia"),
            "{welcome:?}"
        );
        // It can list and revoke tokens.
        page.send_text(r#"{"type":"tokens"}"#);
        let (_, listed) = page.expect_json("tokens", |e| matches!(e, ServerEvent::Tokens { .. }));
        let ServerEvent::Tokens { tokens } = listed else {
            unreachable!()
        };
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0].label.as_deref(), Some("my laptop"));
        assert!(tokens[0].last_used.is_some(), "{tokens:?}");
    }

    // Revoked, the token signs nobody in: the upgrade joins as a guest, told why.
    mia.send("/login mia mias-password");
    mia.expect_within("signed in", HASH_WAIT, |l| l.ends_with("signed in as mia"));
    mia.send("/revoke 1");
    mia.expect_within("revoked", HASH_WAIT, |l| {
        l == "*** token 1 is revoked: it signs nobody in any more"
    });
    mia.send("/revoke 1");
    mia.expect_within("refused", HASH_WAIT, |l| {
        l == "ERROR you have no token 1: /tokens lists yours"
    });
    let mut stale = token_upgrade(server.addr(), &token, false);
    let (_, welcome) = stale.expect_json("welcome", |e| matches!(e, ServerEvent::Welcome { .. }));
    assert!(
        matches!(&welcome, ServerEvent::Welcome { account: None, nick, .. } if nick.is_guest()),
        "{welcome:?}"
    );
    let (_, refused) = stale.expect_json("why", |e| matches!(e, ServerEvent::Error { .. }));
    assert!(
        matches!(&refused, ServerEvent::Error { kind: ErrorKind::AuthFailed, message } if message.starts_with("unknown or revoked access token")),
        "{refused:?}"
    );
    // The second token still works.
    let mut again = LineClient::join(server.addr()).0;
    again.send(&format!("/login {second}"));
    again.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as mia"
    });
}

#[test]
fn a_malformed_token_on_the_upgrade_is_a_400_saying_why() {
    let (server, _dir) = serve(|_| {});
    let response = common::http_raw(
        server.addr(),
        common::upgrade_request(server.addr(), "Authorization: Bearer nope\r\n").as_bytes(),
    );
    assert_eq!(response.status, 400, "{response:?}");
    assert!(
        response
            .body
            .contains("invalid access token: expected rct_ and 64 hex digits"),
        "{response:?}"
    );
    let basic = common::http_raw(
        server.addr(),
        common::upgrade_request(server.addr(), "Authorization: Basic YTpi\r\n").as_bytes(),
    );
    assert!(
        basic
            .body
            .contains("Authorization scheme \"Basic\" is not supported"),
        "{basic:?}"
    );
}

/// Every account rule one client can meet on its own, over lines — the scenario `sequential`
/// (one connection at a time) can play.
fn one_client_through_the_account_rules(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let (mut client, guest) = LineClient::join(server.addr());
    client.send("/register long-enough");
    client.expect_exact(&format!(
        "ERROR {guest} is a guest name and cannot be registered: pick a nick with /nick <name>, then /register <password>"
    ));
    client.send("/passwd old-secret new-secret");
    client.expect_exact("ERROR you are not signed in: /login <account> <password> first");
    client.send("/token");
    client.expect_exact("ERROR you are not signed in: /login <account> <password> first — tokens belong to accounts");
    client.send("/nick solo");
    client.expect_event(&format!("~ {guest} is now known as solo"));
    client.send("/register solo-secret");
    client.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as solo"
    });
    client.send("/token cli");
    let token = token_from(&client.expect_within("a token", HASH_WAIT, |l| {
        l.starts_with("*** token 1 (cli): ")
    }));
    client.send("/tokens");
    client.expect_within("the list", HASH_WAIT, |l| l == "*** tokens (1):");
    client.send("/passwd solo-secret solo-secret-2");
    client.expect_within("changed", HASH_WAIT, |l| {
        l == "*** the password of solo is changed"
    });
    client.send("/logout");
    client.expect_exact("*** you are signed out: you signed out");
    client.send("/nick solo");
    client.expect_exact("ERROR nick solo is registered — /login solo <password> if it is yours");
    client.send(&format!("/login {token}"));
    client.expect_within("signed in", HASH_WAIT, |l| {
        l == "*** you are signed in as solo"
    });
    client.send("/revoke 1");
    client.expect_within("revoked", HASH_WAIT, |l| {
        l == "*** token 1 is revoked: it signs nobody in any more"
    });
    client.send("/logout");
    client.expect_exact("*** you are signed out: you signed out");
    client.send(&format!("/login {token}"));
    client.expect_within("refused", HASH_WAIT, |l| {
        l == "ERROR unknown or revoked access token: sign in with /login <account> <password>"
    });
    // The revoked token was this address's first failure: three more are free, the fifth locks.
    for n in 1..=3 {
        client.send(&format!("/login solo wrong-{n:04}"));
        client.expect_within("refused", HASH_WAIT, |l| {
            l == "ERROR wrong account name or password"
        });
    }
    client.send("/login solo wrong-0004");
    client.expect_within("locked", HASH_WAIT, |l| {
        l == "ERROR wrong account name or password; too many failures: try again in 1 min 0 s"
    });
    client.send("/login solo solo-secret-2");
    client.expect_within("throttled", HASH_WAIT, |l| {
        l.starts_with("ERROR too many failed sign-ins from your address: try again in ")
    });
}
