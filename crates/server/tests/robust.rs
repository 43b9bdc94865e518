//! End to end: no input from a peer can panic the server or stop it serving others. Garbage,
//! bogus frames, half requests and abrupt disconnects, then a normal client still chats.

#[macro_use]
mod common;

use rustchat_server::config::Model;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{LineClient, RawWs, WsClient, client_frame, http_get, metric, serve};
use socket2::SockRef;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Resets the connection instead of closing it politely.
fn reset(stream: TcpStream) {
    let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn still_chats(addr: SocketAddr) {
    let mut alice = LineClient::named(addr, "survivor");
    alice.send("still standing");
    alice.expect_event("#lobby <survivor> still standing");
    let mut ws = WsClient::named_json(addr, "webbie");
    ws.send_text(r#"{"type":"say","text":"me too"}"#);
    alice.expect_event("#lobby <webbie> me too");
    assert_eq!(http_get(addr, "/healthz").body, "ok\n");
}

fn random_bytes_do_not_hurt(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.flood = None;
    });
    let addr = server.addr();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut watcher = LineClient::named(addr, "watcher");
    for round in 0..40 {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let len = 1 + (rng.next() % 8192) as usize;
        let mut junk = rng.bytes(len);
        if round % 4 == 0 {
            // Sometimes look like HTTP first.
            junk.splice(0..0, b"GET /ws HTTP/1.1\r\n".iter().copied());
        }
        let _ = stream.write_all(&junk);
        if round % 2 == 0 {
            reset(stream);
        }
    }
    // The room only saw guests come and go, and the watcher is fine.
    watcher.sync();
    still_chats(addr);
}

fn bogus_websocket_frames_get_the_right_close_codes(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "reserved bits",
            {
                let mut f = client_frame(true, 0x1, b"x");
                f[0] |= 0x40;
                f
            },
            &[1002],
        ),
        ("unknown opcode", client_frame(true, 0x3, b"x"), &[1002]),
        ("fragmented ping", client_frame(false, 0x9, b"x"), &[1002]),
        ("long ping", client_frame(true, 0x9, &[0; 126]), &[1002]),
        ("continuation first", client_frame(true, 0x0, b"x"), &[1002]),
        ("one-byte close", client_frame(true, 0x8, b"x"), &[1002]),
        (
            "close code 999",
            client_frame(true, 0x8, &999u16.to_be_bytes()),
            &[1002],
        ),
        ("invalid UTF-8", client_frame(true, 0x1, b"ab\xff"), &[1007]),
        (
            "new message inside a fragmented one",
            [
                client_frame(false, 0x1, b"a"),
                client_frame(true, 0x1, b"b"),
            ]
            .concat(),
            &[1002],
        ),
        (
            "a 2^63-byte length",
            vec![0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            &[1002, 1009],
        ),
        (
            "a 2^62-byte length",
            vec![0x81, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            &[1009],
        ),
    ];
    for (what, bytes, codes) in cases {
        let mut raw = RawWs::connect(addr);
        raw.send_raw(&bytes);
        let (code, reason) = raw.expect_close();
        assert!(
            codes.contains(&code),
            "{what}: close {code} {reason:?}, expected {codes:?}"
        );
        raw.expect_eof();
    }
    assert_eq!(
        metric(&server.metrics_text(), "rustchat_protocol_errors_total"),
        11
    );
    still_chats(addr);
}

fn half_requests_and_abrupt_disconnects_do_not_hurt(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.flood = None;
    });
    let addr = server.addr();
    let partials: [&[u8]; 8] = [
        b"G",
        b"GET",
        b"GET / HT",
        b"GET /ws HTTP/1.1\r\nHost",
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\nabc",
        b"HELLO 4",
        b"HELLO 41\n",
    ];
    for (i, bytes) in partials.iter().enumerate() {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let _ = stream.write_all(bytes);
        if i % 2 == 0 {
            reset(stream);
        }
    }
    // Upgraded, then half a frame, then gone.
    for cut in [1, 2, 5, 8] {
        let mut raw = RawWs::connect(addr);
        let frame = client_frame(true, 0x1, b"hello there");
        raw.send_raw(&frame[..cut]);
        reset(raw.stream);
    }
    // A line client that hangs up after a last line without a newline: the line counts.
    let mut talker = LineClient::named(addr, "talker");
    let mut half = LineClient::named(addr, "halfway");
    half.send_raw(b"no newline here");
    drop(half);
    talker.expect_event("#lobby <halfway> no newline here");
    // A client reset while events are queued for it.
    let (busy, _) = LineClient::join(addr);
    for i in 0..100 {
        talker.send(&format!("to a dying peer {i}"));
    }
    reset(busy.stream);
    talker.expect_event("#lobby <talker> to a dying peer 99");
    still_chats(addr);
}

fn http_garbage_gets_400_and_no_harm(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let requests: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET / HTTP/1.1\r\n\x00\x01\x02: x\r\n\r\n",
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
        b"GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ];
    for request in requests {
        let response = common::http_raw(addr, request);
        assert_eq!(
            response.status,
            400,
            "{:?} → {response:?}",
            String::from_utf8_lossy(request)
        );
    }
    still_chats(addr);
}

// Not `sequential`: every scenario here takes two clients at once, and it serves one at a time.
use common::{async_model, pool, threads};

scenarios!(async_model: random_bytes_do_not_hurt, bogus_websocket_frames_get_the_right_close_codes, half_requests_and_abrupt_disconnects_do_not_hurt, http_garbage_gets_400_and_no_harm);
scenarios!(threads: random_bytes_do_not_hurt, bogus_websocket_frames_get_the_right_close_codes, half_requests_and_abrupt_disconnects_do_not_hurt, http_garbage_gets_400_and_no_harm);
scenarios!(pool: random_bytes_do_not_hurt, bogus_websocket_frames_get_the_right_close_codes, half_requests_and_abrupt_disconnects_do_not_hurt, http_garbage_gets_400_and_no_harm);
