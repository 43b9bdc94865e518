//! How the adapters read: each read has room for the rest of the frame being received, so a
//! frame comes in one read and out of the buffer whole, without a copy; and a connection that
//! waits for its next message keeps no more than one modest read's worth of buffer.
//!
//! The sizes are checked on a bare [`Connection`] read the way an adapter reads (into
//! [`Connection::reserve_read`], at most [`Connection::read_size`] bytes), then through the
//! blocking and tokio adapters over in-memory streams that count their reads.

use std::io::{self, Read, Write};

use bytes::Bytes;
use rustchat_ws::{Config, Connection, Event, Message, Role};

/// A binary payload of 16 KiB, the size whose frame (16,392 bytes from a client) used to take
/// two reads of 16 KiB each.
const SIXTEEN_KIB: usize = 16 * 1024;

/// A client's (masked) binary frame of `len` payload bytes.
fn client_frame(len: usize) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    client
        .send(Message::binary(patterned(len)))
        .expect("an open connection");
    client.outbound().take_all().to_vec()
}

fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// One read from a socket that holds `wire`: as many bytes as the connection makes room for.
fn read_once(conn: &mut Connection, wire: &mut &[u8]) -> usize {
    let room = conn.read_size();
    let buf = conn.reserve_read();
    assert!(buf.capacity() - buf.len() >= room);
    let n = room.min(wire.len());
    buf.extend_from_slice(&wire[..n]);
    *wire = &wire[n..];
    n
}

/// Reads until the next event: how many reads it took, and the event.
fn reads_until_event(conn: &mut Connection, wire: &mut &[u8]) -> (usize, Event) {
    let mut reads = 0;
    loop {
        if let Some(event) = conn.next_event().expect("valid frames") {
            return (reads, event);
        }
        assert!(!wire.is_empty(), "the wire ran dry before an event");
        read_once(conn, wire);
        reads += 1;
    }
}

fn binary_len(event: &Event) -> usize {
    match event {
        Event::Message(Message::Binary(data)) => data.len(),
        other => panic!("expected a binary message, got {other:?}"),
    }
}

#[test]
fn a_16_kib_frame_after_another_comes_in_one_read_and_out_uncopied() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(SIXTEEN_KIB);
    // The first frame's size is not known before its header arrives.
    let (_, first) = reads_until_event(&mut conn, &mut &frame[..]);
    assert_eq!(binary_len(&first), SIXTEEN_KIB);
    drop(first);

    // The next one of the same size arrives in one read…
    assert!(conn.read_size() >= frame.len(), "{}", conn.read_size());
    let start = conn.reserve_read().as_ptr();
    let (reads, event) = reads_until_event(&mut conn, &mut &frame[..]);
    assert_eq!(reads, 1);
    // …and its payload is the read buffer itself, past the 8-byte header: no copy.
    let Event::Message(Message::Binary(payload)) = event else {
        panic!("expected a binary message, got {event:?}");
    };
    assert_eq!(payload.as_ptr(), start.wrapping_add(8));
    assert_eq!(payload, Bytes::from(patterned(SIXTEEN_KIB)));
}

#[test]
fn a_frame_whose_header_is_in_gets_room_for_the_rest() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(50_000);
    let mut wire = &frame[..];
    let first = read_once(&mut conn, &mut wire);
    assert_eq!(conn.next_event(), Ok(None));
    assert!(
        conn.read_size() >= frame.len() - first,
        "{}",
        conn.read_size()
    );
    read_once(&mut conn, &mut wire);
    assert!(wire.is_empty(), "the rest came in the second read");
    let event = conn.next_event().expect("valid").expect("the message");
    assert_eq!(binary_len(&event), 50_000);
}

#[test]
fn a_header_alone_waits_so_the_frame_still_comes_out_uncopied() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(1000);
    conn.receive(&frame[..8]);
    assert_eq!(conn.next_event(), Ok(None));
    assert_eq!(
        conn.read_buffer().len(),
        8,
        "the header is left in the buffer"
    );
    conn.receive(&frame[8..]);
    let start = conn.read_buffer().as_ptr();
    let Some(Event::Message(Message::Binary(payload))) = conn.next_event().expect("valid") else {
        panic!("expected the binary message");
    };
    assert_eq!(payload.as_ptr(), start.wrapping_add(8));
}

#[test]
fn reads_of_a_large_frame_are_at_most_64_kib() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(300_000);
    let mut wire = &frame[..];
    let mut reads = 0;
    let event = loop {
        if let Some(event) = conn.next_event().expect("valid") {
            break event;
        }
        assert!(read_once(&mut conn, &mut wire) <= 64 * 1024);
        reads += 1;
    };
    assert_eq!(binary_len(&event), 300_000);
    assert!(reads >= 5, "{reads} reads");
}

#[test]
fn a_waiting_connection_keeps_at_most_32_kib_after_a_large_frame() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(300_000);
    let mut wire = &frame[..];
    let (_, event) = reads_until_event(&mut conn, &mut wire);
    drop(event);
    // Between frames: the buffer is cut back to one read's room, at most 32 KiB.
    let buf = conn.reserve_read();
    assert!(buf.capacity() <= 32 * 1024, "{}", buf.capacity());
    assert!(conn.read_size() <= 32 * 1024);
}

#[test]
fn a_connection_that_only_sees_small_frames_keeps_one_16_kib_buffer() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(20);
    for _ in 0..2000 {
        let (reads, event) = reads_until_event(&mut conn, &mut &frame[..]);
        assert_eq!((reads, binary_len(&event)), (1, 20));
        assert_eq!(conn.read_size(), 8 * 1024);
        let buf = conn.reserve_read();
        let room = buf.capacity() - buf.len();
        assert!((8 * 1024..=16 * 1024).contains(&room), "{room}");
    }
}

/// Where the next read goes, as an offset from `start`.
fn read_offset(conn: &mut Connection, start: *const u8) -> usize {
    (conn.reserve_read().as_ptr() as usize).wrapping_sub(start as usize)
}

#[test]
fn small_frames_keep_landing_near_the_start_of_the_buffer() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(20);
    let start = conn.reserve_read().as_ptr();
    let mut furthest = 0;
    for _ in 0..1000 {
        let (_, event) = reads_until_event(&mut conn, &mut &frame[..]);
        assert_eq!(binary_len(&event), 20);
        drop(event);
        furthest = furthest.max(read_offset(&mut conn, start));
    }
    assert!(
        furthest <= 1024 + frame.len(),
        "reads went {furthest} bytes in"
    );
}

#[test]
fn a_message_still_held_keeps_its_bytes_and_reads_carry_on_past_it() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(20);
    let start = conn.reserve_read().as_ptr();
    let (_, held) = reads_until_event(&mut conn, &mut &frame[..]);
    let mut last = read_offset(&mut conn, start);
    for _ in 0..200 {
        let (_, event) = reads_until_event(&mut conn, &mut &frame[..]);
        drop(event);
        let at = read_offset(&mut conn, start);
        assert!(
            at > last,
            "the buffer went back under a held message: {at} after {last}"
        );
        last = at;
    }
    assert!(last < 16 * 1024, "still the same allocation: {last}");
    let Event::Message(Message::Binary(payload)) = held else {
        panic!("expected a binary message, got {held:?}");
    };
    assert_eq!(payload, Bytes::from(patterned(20)));
}

#[test]
fn release_idle_buffer_frees_the_read_buffer() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = client_frame(20);
    reads_until_event(&mut conn, &mut &frame[..]);
    conn.release_idle_buffer();
    assert_eq!(conn.read_buffer().capacity(), 0);
    // The next read makes its room afresh.
    assert!(conn.reserve_read().capacity() >= 16 * 1024);
}

/// A stream over in-memory bytes that counts the reads that returned data, and swallows
/// what is written.
struct Counted {
    input: Vec<u8>,
    pos: usize,
    reads: usize,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        self.reads += usize::from(n > 0);
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn blocking_adapter_reads_a_16_kib_frame_in_one_read() {
    use rustchat_ws::blocking::WebSocket;

    let frame = client_frame(SIXTEEN_KIB);
    let stream = Counted {
        input: [frame.clone(), frame].concat(),
        pos: 0,
        reads: 0,
    };
    let mut ws = WebSocket::from_raw(stream, Role::Server, Config::default(), &[]);
    let first = ws.recv().expect("valid").expect("a message");
    let reads_before = ws.get_ref().reads;
    let second = ws.recv().expect("valid").expect("a message");
    assert_eq!((first.len(), second.len()), (SIXTEEN_KIB, SIXTEEN_KIB));
    assert_eq!(ws.get_ref().reads - reads_before, 1);
}

#[cfg(feature = "tokio")]
mod tokio_adapter {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use rustchat_ws::tokio::WebSocketStream;
    use rustchat_ws::{Config, Role};
    use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

    use super::{SIXTEEN_KIB, client_frame};

    /// A stream that counts the reads that returned data.
    struct Counted {
        io: DuplexStream,
        reads: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let before = buf.filled().len();
            let poll = Pin::new(&mut self.io).poll_read(cx, buf);
            if buf.filled().len() > before {
                self.reads.fetch_add(1, Ordering::Relaxed);
            }
            poll
        }
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.io).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// Writes one 16 KiB frame at a time (the next only after the previous was received) and
    /// returns how many reads each took.
    async fn reads_per_frame(split: bool) -> Vec<usize> {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let reads = Arc::new(AtomicUsize::new(0));
        let server = Counted {
            io: server,
            reads: reads.clone(),
        };
        let ws = WebSocketStream::from_raw(server, Role::Server, Config::default(), &[]);
        let (mut ws, mut reader) = if split {
            let (reader, _writer) = ws.split();
            (None, Some(reader))
        } else {
            (Some(ws), None)
        };
        let frame = client_frame(SIXTEEN_KIB);
        let mut per_frame = Vec::new();
        for _ in 0..3 {
            let before = reads.load(Ordering::Relaxed);
            client.write_all(&frame).await.expect("in-memory write");
            let message = match (&mut ws, &mut reader) {
                (Some(ws), _) => ws.recv().await,
                (_, Some(reader)) => reader.recv().await,
                _ => unreachable!("one of the two is set"),
            };
            let message = message.expect("valid").expect("a message");
            assert_eq!(message.len(), SIXTEEN_KIB);
            per_frame.push(reads.load(Ordering::Relaxed) - before);
        }
        per_frame
    }

    #[tokio::test]
    async fn a_16_kib_frame_after_the_first_takes_one_read() {
        let reads = reads_per_frame(false).await;
        assert_eq!(reads[1..], [1, 1], "reads per frame: {reads:?}");
    }

    #[tokio::test]
    async fn the_split_reader_reads_a_16_kib_frame_in_one_read_too() {
        let reads = reads_per_frame(true).await;
        assert_eq!(reads[1..], [1, 1], "reads per frame: {reads:?}");
    }
}
