//! End to end: the HELLO handshake of the line protocol (docs/PROTOCOL.md).

#[macro_use]
mod common;

use rustchat_server::config::Model;

use std::time::{Duration, Instant};

use common::{LineClient, metric, serve};

fn hello_then_chat(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut client = LineClient::connect(server.addr());
    client.send("HELLO 41");
    client.next_is("HELLO 42");
    client.send("HELLO 43");
    client.next_is("*** welcome, guest-1! you are in #lobby; /help lists the commands");
    client.expect_exact("*** members of #lobby (1): guest-1");
    client.send("hello after the handshake");
    client.expect_event("#lobby <guest-1> hello after the handshake");
}

fn hello_tolerates_spaces_leading_zeros_and_the_largest_number(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut client = LineClient::connect(server.addr());
    client.send("  HELLO   007 ");
    client.next_is("HELLO 8");
    client.send("HELLO 9");
    client.expect("the welcome", |l| l.starts_with("*** welcome, "));

    let mut max = LineClient::connect(server.addr());
    max.send("HELLO 18446744073709551613");
    max.next_is("HELLO 18446744073709551614");
    max.send("HELLO 18446744073709551615");
    max.expect("the welcome", |l| l.starts_with("*** welcome, "));
}

fn hello_everyone_is_a_message_not_a_handshake(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut client = LineClient::connect(server.addr());
    client.send("HELLO everyone");
    client.next_is("*** welcome, guest-1! you are in #lobby; /help lists the commands");
    client.expect_event("#lobby <guest-1> HELLO everyone");
}

/// Sends `lines`, expects exactly `answer` (after any HELLO replies) and the server's close.
fn refused(model: Model, lines: &[&str], answer: &[&str]) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut client = LineClient::connect(server.addr());
    for line in lines {
        client.send(line);
    }
    let got = client.expect_eof();
    assert_eq!(got, answer, "after sending {lines:?}");
    // The server counted it and still serves others.
    assert_eq!(
        metric(&server.metrics_text(), "rustchat_protocol_errors_total"),
        1
    );
    let (mut other, _) = LineClient::join(server.addr());
    other.sync();
}

fn a_wrong_answer_is_refused_and_closed(model: Model) {
    refused(
        model,
        &["HELLO 41", "HELLO 44"],
        &[
            "HELLO 42",
            "ERROR handshake: expected HELLO 43, got HELLO 44",
        ],
    );
}

fn garbage_is_refused_and_closed(model: Model) {
    refused(
        model,
        &["HELLO 12x"],
        &["ERROR handshake: expected HELLO <n>, got HELLO 12x"],
    );
    refused(
        model,
        &["HELLO -1"],
        &["ERROR handshake: expected HELLO <n>, got HELLO -1"],
    );
    refused(
        model,
        &["HELLO 41", "hi there"],
        &[
            "HELLO 42",
            "ERROR handshake: expected HELLO 43, got hi there",
        ],
    );
}

fn an_overflowing_number_is_refused_not_wrapped(model: Model) {
    refused(
        model,
        &["HELLO 18446744073709551615"],
        &[
            "ERROR handshake: HELLO 18446744073709551615 is too large, expected a number at most \
             18446744073709551613",
        ],
    );
    refused(
        model,
        &["HELLO 99999999999999999999999"],
        &[
            "ERROR handshake: HELLO 99999999999999999999999 is too large, expected a number at \
             most 18446744073709551613",
        ],
    );
}

fn a_client_that_stops_halfway_is_dropped_after_the_handshake_timeout(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.handshake_timeout = Duration::from_secs(1);
    });
    let mut client = LineClient::connect(server.addr());
    let started = Instant::now();
    client.send("HELLO 5");
    client.next_is("HELLO 6");
    let rest = client.expect_eof();
    let waited = started.elapsed();
    assert_eq!(
        rest,
        ["BYE timeout: HELLO handshake not finished within 1 s"]
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "dropped after {waited:?}"
    );
    assert_eq!(metric(&server.metrics_text(), "rustchat_timeouts_total"), 1);
}

fn the_handshake_deadline_starts_with_the_hello(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.handshake_timeout = Duration::from_secs(1);
    });
    let mut client = LineClient::connect(server.addr());
    client.next_is(
        "*** rustchat: press Enter to join #lobby, type a message, or /help for the commands",
    );
    // A person reads the greeting for a while, then starts a handshake...
    std::thread::sleep(Duration::from_millis(1500));
    client.send("HELLO 5");
    client.next_is("HELLO 6");
    // ...and answers well within the timeout.
    std::thread::sleep(Duration::from_millis(600));
    client.send("HELLO 7");
    client.next_is("*** welcome, guest-1! you are in #lobby; /help lists the commands");
}

use common::{async_model, pool, sequential, threads};

scenarios!(async_model: hello_then_chat, hello_tolerates_spaces_leading_zeros_and_the_largest_number, hello_everyone_is_a_message_not_a_handshake, a_wrong_answer_is_refused_and_closed, garbage_is_refused_and_closed, an_overflowing_number_is_refused_not_wrapped, a_client_that_stops_halfway_is_dropped_after_the_handshake_timeout, the_handshake_deadline_starts_with_the_hello);
scenarios!(threads: hello_then_chat, hello_tolerates_spaces_leading_zeros_and_the_largest_number, hello_everyone_is_a_message_not_a_handshake, a_wrong_answer_is_refused_and_closed, garbage_is_refused_and_closed, an_overflowing_number_is_refused_not_wrapped, a_client_that_stops_halfway_is_dropped_after_the_handshake_timeout, the_handshake_deadline_starts_with_the_hello);
scenarios!(pool: hello_then_chat, hello_tolerates_spaces_leading_zeros_and_the_largest_number, hello_everyone_is_a_message_not_a_handshake, a_wrong_answer_is_refused_and_closed, garbage_is_refused_and_closed, an_overflowing_number_is_refused_not_wrapped, a_client_that_stops_halfway_is_dropped_after_the_handshake_timeout, the_handshake_deadline_starts_with_the_hello);
// The others take two clients at once, and `sequential` serves one at a time.
scenarios!(sequential: hello_then_chat, hello_everyone_is_a_message_not_a_handshake, a_wrong_answer_is_refused_and_closed, garbage_is_refused_and_closed, an_overflowing_number_is_refused_not_wrapped, a_client_that_stops_halfway_is_dropped_after_the_handshake_timeout, the_handshake_deadline_starts_with_the_hello);
