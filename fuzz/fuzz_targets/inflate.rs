//! Compressed messages → a `Connection` with permessage-deflate (the inflating path).
//!
//! Two modes:
//! * `Bytes`: any payloads, sent as compressed messages (RSV1 on the first frame, any
//!   fragmentation) to a server under any negotiated parameters and message limit. Only
//!   "no panic", every message within the limit (a decompression bomb stops there), text UTF-8.
//! * `RoundTrip`: any messages compressed by our own client under any parameters and level,
//!   inflated by the server: the same messages come out.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rustchat_ws::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

#[derive(Debug, Arbitrary)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_bits: u8,
    client_bits: u8,
}

impl Params {
    fn get(&self) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: 8 + self.server_bits % 8,
            client_max_window_bits: 8 + self.client_bits % 8,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Compressed {
    text: bool,
    payload: Vec<u8>,
    /// Fragment sizes (0 = the rest).
    pieces: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum Input {
    Bytes { params: Params, max_message: u16, messages: Vec<Compressed> },
    RoundTrip { params: Params, level: u8, threshold: u8, messages: Vec<(bool, Vec<u8>)> },
}

/// A masked client frame (mask 1, 2, 3, 4).
fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [1u8, 2, 3, 4];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn drain(server: &mut Connection, limit: usize) -> Vec<Message> {
    let mut got = Vec::new();
    while let Ok(Some(event)) = server.next_event() {
        if let Event::Message(m) = event {
            assert!(m.len() <= limit, "a message of {} bytes, limit {limit}", m.len());
            if m.is_text() {
                assert!(std::str::from_utf8(m.payload()).is_ok(), "text is not UTF-8");
            }
            got.push(m);
        }
    }
    got
}

fuzz_target!(|input: Input| match input {
    Input::Bytes { params, max_message, messages } => {
        let limit = usize::from(max_message);
        let config = Config::default()
            .max_message_size(limit)
            .max_frame_size(1 << 20)
            .deflate(DeflateConfig::enabled());
        let mut server = Connection::with_deflate(Role::Server, config, Some(params.get()));
        for m in messages {
            let mut at = 0usize;
            let mut pieces = m.pieces.iter();
            let mut first = true;
            loop {
                let size = pieces.next().map_or(usize::MAX, |&p| if p == 0 { usize::MAX } else { usize::from(p) });
                let end = at.saturating_add(size).min(m.payload.len());
                let fin = end == m.payload.len();
                let opcode = if !first { 0 } else if m.text { 1 } else { 2 };
                server.receive(&frame(fin, first, opcode, &m.payload[at..end]));
                drain(&mut server, limit);
                if fin {
                    break;
                }
                first = false;
                at = end;
            }
        }
    }
    Input::RoundTrip { params, level, threshold, messages } => {
        let deflate = DeflateConfig::enabled().level(level % 10).threshold(usize::from(threshold));
        let config = Config::default().deflate(deflate).max_message_size(1 << 22).max_frame_size(1 << 22);
        let mut client = Connection::with_deflate(Role::Client, config, Some(params.get()));
        let mut server = Connection::with_deflate(Role::Server, config, Some(params.get()));
        let sent: Vec<Message> = messages
            .into_iter()
            .map(|(text, bytes)| match (text, String::from_utf8(bytes)) {
                (true, Ok(s)) => Message::text(s),
                (_, Ok(s)) => Message::binary(s.into_bytes()),
                (_, Err(e)) => Message::binary(e.into_bytes()),
            })
            .collect();
        for m in &sent {
            client.send(m.clone()).expect("open");
        }
        server.receive(&client.outbound().take_all());
        assert_eq!(drain(&mut server, 1 << 22), sent);
    }
});
