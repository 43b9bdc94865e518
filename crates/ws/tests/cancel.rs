//! The tokio adapter's reads are cancel-safe even when an event owes a reply: a ping taken from
//! the connection while its pong cannot be written yet is not lost when the read is dropped
//! (as `tokio::select!` and `timeout` do); the next read finishes the pong and returns it.

#![cfg(feature = "tokio")]

use std::time::Duration;

use bytes::Bytes;
use rustchat_ws::tokio::{WebSocketStream, WsReader};
use rustchat_ws::{Config, Connection, Event, Role, StreamError};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;

/// What the pipe between client and server holds each way: less than the pong.
const PIPE: usize = 64;
/// A ping payload whose pong (127 bytes) does not fit the pipe while nobody reads.
const PAYLOAD: &[u8] = &[b'p'; 125];
/// How long a read that cannot finish is given before it is dropped.
const GIVE_UP: Duration = Duration::from_millis(100);
/// Far longer than a read that can finish needs.
const PATIENCE: Duration = Duration::from_secs(5);

/// The client's side of the pipe: what the server writes comes out of `from_server`; a task
/// is writing a masked ping into the server's side.
struct Client {
    from_server: ReadHalf<DuplexStream>,
    _writing: JoinHandle<WriteHalf<DuplexStream>>,
}

/// The server's end of a pipe, and a client pinging it.
fn pinged() -> (DuplexStream, Client) {
    let (server_end, client_end) = tokio::io::duplex(PIPE);
    let (from_server, mut to_server) = tokio::io::split(client_end);
    let mut client = Connection::new(Role::Client, Config::default());
    client.ping(Bytes::from_static(PAYLOAD)).expect("open");
    let ping = client.outbound().take_all();
    let writing = tokio::spawn(async move {
        // More than the pipe holds: it goes in as the server reads.
        to_server.write_all(&ping).await.expect("the server reads");
        to_server // kept open: the server must not see the end of the stream
    });
    let client = Client {
        from_server,
        _writing: writing,
    };
    (server_end, client)
}

/// Reads what the server writes until it has been quiet for a while; decodes it as the client
/// would and returns the pongs.
async fn pongs(from_server: &mut ReadHalf<DuplexStream>) -> Vec<Bytes> {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut buf = [0u8; 512];
    let mut pongs = Vec::new();
    while let Ok(read) = tokio::time::timeout(GIVE_UP, from_server.read(&mut buf)).await {
        let n = read.expect("the pipe reads");
        if n == 0 {
            break;
        }
        client.receive(&buf[..n]);
        while let Some(event) = client.next_event().expect("valid frames from the server") {
            match event {
                Event::Pong(payload) => pongs.push(payload),
                other => panic!("expected only pongs, got {other:?}"),
            }
        }
    }
    pongs
}

/// The whole stream or its read half.
trait Reader {
    fn next(&mut self) -> impl Future<Output = Result<Option<Event>, StreamError>>;
}

impl Reader for WebSocketStream<DuplexStream> {
    fn next(&mut self) -> impl Future<Output = Result<Option<Event>, StreamError>> {
        self.next_event()
    }
}

impl Reader for WsReader<DuplexStream> {
    fn next(&mut self) -> impl Future<Output = Result<Option<Event>, StreamError>> {
        self.next_event()
    }
}

/// Drops a first read while it is stuck writing the pong, then reads again while the client
/// reads: the ping comes back once, and exactly one whole pong went out.
async fn check(server: &mut impl Reader, client: &mut Client) {
    let first = tokio::time::timeout(GIVE_UP, server.next()).await;
    assert!(first.is_err(), "the pong cannot be written yet: {first:?}");
    let (again, pongs) = tokio::join!(
        tokio::time::timeout(PATIENCE, server.next()),
        pongs(&mut client.from_server)
    );
    let event = again.expect("the ping is returned, not lost with the dropped read");
    match event.expect("no error") {
        Some(Event::Ping(payload)) => assert_eq!(payload, PAYLOAD),
        other => panic!("expected the ping, got {other:?}"),
    }
    assert_eq!(pongs, [Bytes::from_static(PAYLOAD)]);
}

#[tokio::test]
async fn a_stream_read_dropped_while_a_pong_is_written_loses_nothing() {
    let (server_end, mut client) = pinged();
    let mut server = WebSocketStream::from_raw(server_end, Role::Server, Config::default(), &[]);
    check(&mut server, &mut client).await;
}

#[tokio::test]
async fn a_split_read_dropped_while_a_pong_is_written_loses_nothing() {
    let (server_end, mut client) = pinged();
    let server = WebSocketStream::from_raw(server_end, Role::Server, Config::default(), &[]);
    let (mut reader, _writer) = server.split();
    check(&mut reader, &mut client).await;
}
