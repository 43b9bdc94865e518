//! Interop: our WebSocket against implementations we did not write.
//!
//! The peers are `tungstenite` (Rust, blocking API, each in its own thread), the PyPI package
//! `websockets` (Python, run as a child process by `tests/interop/py_*.py`) and the npm package
//! `ws` (Node, `tests/node-peer/*.mjs`), the last two with permessage-deflate too. Everything runs on
//! 127.0.0.1 with OS-chosen ports, and every wait is bounded by [`LIMIT`] (timeouts on sockets,
//! on futures and on threads and processes), so a broken peer fails a test instead of hanging it.
//!
//! The Python and Node peers are optional: without them those tests print `SKIPPED: ...` and
//! pass, unless `RUSTCHAT_REQUIRE_PEERS=1` (CI), where a missing peer fails them.

#![cfg(feature = "tokio")]

use std::future::Future;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustchat_ws::blocking::WebSocket;
use rustchat_ws::handshake::{ClientHandshake, HandshakeError, Upgrade};
use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{
    CloseCode, CloseFrame, Config, DeflateConfig, DeflateParams, Event, Message, StreamError,
};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data as OpData, OpCode};

/// The bound on every single wait. A healthy test takes milliseconds; this only decides how
/// long a broken peer takes to fail one. (Above our client's 5 s wait for the server's TCP close,
/// so that wait shows up as a failed assertion, not as a timeout.)
const LIMIT: Duration = Duration::from_secs(10);

/// The subprotocol every client here offers and every server selects.
const PROTOCOL: &str = "chat";

// ---------------------------------------------------------------------------------------------
// Messages

/// The messages every test exchanges, one of each kind and length encoding (RFC 6455 §5.2: a
/// 7-bit length up to 125, 16-bit up to 65535, 64-bit beyond).
fn sample_messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        // 2-, 3- and 4-byte UTF-8 sequences (RFC 6455 §5.6: text is UTF-8).
        Message::text("héllo wörld ✓ 🚀"),
        Message::text(""),
        Message::binary((0..=255u8).collect::<Vec<_>>()),
        Message::binary(patterned(100_000)),
        Message::text(
            (0..70_000)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect::<String>(),
        ),
    ]
}

/// `len` bytes that are not all alike, so a shifted or dropped chunk shows.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A short description (large payloads would drown a failure message).
fn describe(message: &Message) -> String {
    let kind = if message.is_text() { "text" } else { "binary" };
    let head = &message.payload()[..message.len().min(24)];
    let head = String::from_utf8_lossy(head);
    format!(
        "{kind} message of {} bytes starting {head:?}",
        message.len()
    )
}

fn assert_echo(sent: &Message, echo: &Message) {
    assert!(
        sent == echo,
        "sent {}, the echo was {}",
        describe(sent),
        describe(echo)
    );
}

fn to_tungstenite(message: &Message) -> tungstenite::Message {
    match message {
        Message::Text(text) => tungstenite::Message::text(text.as_str()),
        Message::Binary(data) => tungstenite::Message::binary(data.clone()),
    }
}

fn from_tungstenite(message: tungstenite::Message) -> Message {
    match message {
        tungstenite::Message::Text(text) => Message::text(text.to_string()),
        tungstenite::Message::Binary(data) => Message::binary(data),
        other => panic!("expected a data message, got {other:?}"),
    }
}

fn bye() -> CloseFrame {
    CloseFrame::new(CloseCode::NORMAL, "bye")
}

fn tungstenite_bye() -> tungstenite::protocol::CloseFrame {
    tungstenite::protocol::CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded waits

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {LIMIT:?} waiting for {what}"))
}

/// Joins a thread, failing the test if it runs longer than [`LIMIT`]; a panic in the thread
/// (a failed assertion of a peer) is re-raised here with its message.
fn join_within<T>(what: &str, handle: JoinHandle<T>) -> T {
    let deadline = Instant::now() + LIMIT;
    while !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "timed out after {LIMIT:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// [`join_within`] from async code, without blocking a runtime worker.
async fn join_thread<T: Send + 'static>(what: &'static str, handle: JoinHandle<T>) -> T {
    tokio::task::spawn_blocking(move || join_within(what, handle))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Runs blocking peer code (tungstenite, a child process) off the runtime, bounded by [`LIMIT`].
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    join_thread(what, thread::spawn(f)).await
}

/// Read and write timeouts, so a blocking peer cannot wait forever on a socket.
fn bound(tcp: &StdStream) {
    tcp.set_read_timeout(Some(LIMIT))
        .expect("set a read timeout");
    tcp.set_write_timeout(Some(LIMIT))
        .expect("set a write timeout");
    tcp.set_nodelay(true).expect("set TCP_NODELAY");
}

// ---------------------------------------------------------------------------------------------
// Our servers (one connection each)

/// One of our servers, serving one connection in a task.
struct OurServer {
    addr: SocketAddr,
    /// The number of messages echoed, once `recv` returned `Ok(None)`: the closing handshake
    /// completed.
    done: tokio::task::JoinHandle<Result<usize, StreamError>>,
}

impl OurServer {
    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// How the connection ended: `Ok(echoed)` for a completed closing handshake.
    async fn finished(self) -> Result<usize, StreamError> {
        within("our server to finish", self.done)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// Selects `chat` if the client offers it (RFC 6455 §4.2.2: the server picks one of the offered
/// values, or none).
fn choose_chat(upgrade: &Upgrade) -> Result<Option<String>, HandshakeError> {
    Ok(upgrade
        .protocols()
        .find(|p| *p == PROTOCOL)
        .map(String::from))
}

/// Our tokio echo server, as in `examples/echo-server.rs`: echoes every message until the
/// closing handshake completes.
async fn start_our_echo_server() -> OurServer {
    start_our_echo_server_with(Config::default()).await
}

/// Our echo server with permessage-deflate on (library defaults otherwise).
async fn start_our_deflate_echo_server() -> OurServer {
    start_our_echo_server_with(Config::default().deflate(DeflateConfig::enabled())).await
}

async fn start_our_echo_server_with(config: Config) -> OurServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let done = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let mut ws = WebSocketStream::accept_with(tcp, config, choose_chat).await?;
        let mut echoed = 0;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
            echoed += 1;
        }
        Ok(echoed)
    });
    OurServer { addr, done }
}

/// Our tokio echo server with the connection split: a reader task answers pings and passes
/// messages to a writer task, which echoes them. Both share the one socket.
async fn start_our_split_echo_server() -> OurServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let done = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let ws = WebSocketStream::accept_with(tcp, Config::default(), choose_chat).await?;
        let (mut reader, writer) = ws.split();
        let (to_writer, mut from_reader) = tokio::sync::mpsc::channel::<Message>(8);
        let writing = tokio::spawn(async move {
            let mut echoed = 0;
            while let Some(message) = from_reader.recv().await {
                writer.send(message).await?;
                echoed += 1;
            }
            Ok::<_, StreamError>(echoed)
        });
        while let Some(message) = reader.recv().await? {
            if to_writer.send(message).await.is_err() {
                break; // the writer failed: its error is reported below
            }
        }
        drop(to_writer);
        writing
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    });
    OurServer { addr, done }
}

// ---------------------------------------------------------------------------------------------
// tungstenite clients

type TungsteniteClient = tungstenite::WebSocket<StdStream>;

/// A tungstenite client offering `chat` (plus `headers`), over a socket with timeouts.
fn tungstenite_connect(
    addr: SocketAddr,
    headers: &[(&str, &str)],
) -> Result<(TungsteniteClient, tungstenite::handshake::client::Response), tungstenite::Error> {
    let tcp = StdStream::connect(addr).expect("connect");
    bound(&tcp);
    let uri = format!("ws://{addr}/").parse().expect("a valid URI");
    let mut request = tungstenite::ClientRequestBuilder::new(uri).with_sub_protocol(PROTOCOL);
    for (name, value) in headers {
        request = request.with_header(*name, *value);
    }
    tungstenite::client(request, tcp).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => panic!("the handshake timed out"),
    })
}

/// A tungstenite client whose handshake must succeed and select `chat`.
fn tungstenite_client(addr: SocketAddr) -> TungsteniteClient {
    let (ws, response) = tungstenite_connect(addr, &[]).expect("the handshake succeeds");
    let protocol = response.headers().get("Sec-WebSocket-Protocol");
    assert_eq!(
        protocol.and_then(|v| v.to_str().ok()),
        Some(PROTOCOL),
        "the server selects the offered subprotocol"
    );
    ws
}

/// Sends each sample message and checks its echo.
fn tungstenite_echo_samples(ws: &mut TungsteniteClient) {
    for sent in sample_messages() {
        ws.send(to_tungstenite(&sent)).expect("send");
        let echo = ws.read().expect("read the echo");
        assert_echo(&sent, &from_tungstenite(echo));
    }
}

/// Sends a text message in three fragments, split inside a 4-byte UTF-8 character (RFC 6455
/// §5.6: only the whole message must be UTF-8), with a ping between fragments (§5.4: control
/// frames may be injected in the middle of a fragmented message). Expects the pong, then the
/// whole message echoed.
fn tungstenite_send_fragmented(ws: &mut TungsteniteClient) {
    let text = "fragments: 🚀 ✓ done";
    let inside_rocket = text.find('🚀').expect("a rocket") + 2;
    let (first, rest) = text.as_bytes().split_at(inside_rocket);
    let (middle, last) = rest.split_at(4);
    let frames = [
        Frame::message(first.to_vec(), OpCode::Data(OpData::Text), false),
        Frame::message(middle.to_vec(), OpCode::Data(OpData::Continue), false),
        Frame::message(last.to_vec(), OpCode::Data(OpData::Continue), true),
    ];
    let [first, middle, last] = frames;
    ws.send(tungstenite::Message::Frame(first)).expect("send");
    ws.send(tungstenite::Message::Ping("between fragments".into()))
        .expect("ping");
    ws.send(tungstenite::Message::Frame(middle)).expect("send");
    ws.send(tungstenite::Message::Frame(last)).expect("send");
    match ws.read().expect("read the pong") {
        tungstenite::Message::Pong(payload) => assert_eq!(&payload[..], b"between fragments"),
        other => panic!("expected the pong first, got {other:?}"),
    }
    let echo = ws.read().expect("read the echo");
    assert_echo(&Message::text(text), &from_tungstenite(echo));
}

/// RFC 6455 §5.5.2/§5.5.3: a Ping is answered by a Pong with the same payload.
fn tungstenite_ping(ws: &mut TungsteniteClient) {
    ws.send(tungstenite::Message::Ping("are you there?".into()))
        .expect("ping");
    match ws.read().expect("read the pong") {
        tungstenite::Message::Pong(payload) => assert_eq!(&payload[..], b"are you there?"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

/// Closes with 1000 "bye": the server echoes the Close (RFC 6455 §5.5.1) and then closes the TCP
/// connection first (§7.1.1), which tungstenite reports as `ConnectionClosed`.
fn tungstenite_close(mut ws: TungsteniteClient) {
    ws.close(Some(tungstenite_bye())).expect("send the close");
    match ws.read().expect("read the close echo") {
        tungstenite::Message::Close(frame) => assert_eq!(frame, Some(tungstenite_bye())),
        other => panic!("expected the close echo, got {other:?}"),
    }
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        other => panic!("expected the server to close TCP, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// tungstenite servers (one connection each, in a thread)

type TungsteniteServer = tungstenite::WebSocket<StdStream>;

/// What a tungstenite server saw.
#[derive(Debug, PartialEq)]
struct Seen {
    echoed: usize,
    /// The Close frame received (ours, or our echo of the server's).
    close: Option<tungstenite::protocol::CloseFrame>,
}

/// Starts a tungstenite server for one connection: `serve` runs once the handshake (selecting
/// `chat` when offered, via the accept callback) is done.
fn start_tungstenite_server<T: Send + 'static>(
    serve: impl FnOnce(TungsteniteServer) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        bound(&tcp);
        #[expect(
            clippy::result_large_err,
            reason = "tungstenite's accept callback type, not ours"
        )]
        let select_chat = |request: &Request, mut response: Response| {
            let offered = request.headers().get_all("Sec-WebSocket-Protocol");
            let offered = offered.iter().filter_map(|v| v.to_str().ok());
            if offered
                .flat_map(|v| v.split(','))
                .any(|p| p.trim() == PROTOCOL)
            {
                let chat = HeaderValue::from_static(PROTOCOL);
                response
                    .headers_mut()
                    .insert("Sec-WebSocket-Protocol", chat);
            }
            Ok::<_, ErrorResponse>(response)
        };
        let ws = tungstenite::accept_hdr(tcp, select_chat).expect("tungstenite accepts us");
        serve(ws)
    });
    (addr, server)
}

/// Echoes data messages until the closing handshake completes. Pings are answered by
/// tungstenite itself (the pong goes out on the next `read`), as is the Close echo.
fn echo_until_closed(mut ws: TungsteniteServer) -> Seen {
    let mut seen = Seen {
        echoed: 0,
        close: None,
    };
    loop {
        match ws.read() {
            Ok(message @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))) => {
                ws.send(message).expect("echo");
                seen.echoed += 1;
            }
            Ok(tungstenite::Message::Close(frame)) => seen.close = frame,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return seen,
            Err(e) => panic!("tungstenite server: {e}"),
        }
    }
}

/// The server's own close: 1001 "server shutting down".
fn going_away() -> tungstenite::protocol::CloseFrame {
    tungstenite::protocol::CloseFrame {
        code: 1001.into(),
        reason: "server shutting down".into(),
    }
}

/// Sends "welcome", then starts the closing handshake itself and waits for the client's echo.
fn welcome_then_close(mut ws: TungsteniteServer) -> Seen {
    ws.send(tungstenite::Message::text("welcome"))
        .expect("send");
    ws.close(Some(going_away())).expect("send the close");
    let mut seen = Seen {
        echoed: 0,
        close: None,
    };
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(frame)) => seen.close = frame,
            Ok(other) => panic!("expected only the close echo, got {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => return seen,
            Err(e) => panic!("tungstenite server: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Our clients

type OurClient = WebSocketStream<tokio::net::TcpStream>;

/// Our tokio client offering `chat`; the server must select it.
async fn our_tokio_client(url: &str) -> OurClient {
    our_tokio_client_with(url, DeflateConfig::default()).await.0
}

/// Our tokio client offering `chat` and, if enabled, permessage-deflate; with what the
/// server made of the offer.
async fn our_tokio_client_with(
    url: &str,
    deflate: DeflateConfig,
) -> (OurClient, Option<DeflateParams>) {
    let handshake = ClientHandshake::builder(url)
        .protocols([PROTOCOL])
        .deflate(deflate)
        .build()
        .expect("a valid handshake");
    let connecting = WebSocketStream::connect_with(&handshake, Config::default().deflate(deflate));
    let (ws, response) = within("our handshake", connecting)
        .await
        .expect("the handshake succeeds");
    assert_eq!(response.protocol(), Some(PROTOCOL));
    let mut ws = ws;
    assert_eq!(ws.connection().deflate(), response.deflate().as_ref());
    (ws, response.deflate())
}

async fn our_tokio_recv(ws: &mut OurClient) -> Message {
    within("a message", ws.recv())
        .await
        .expect("recv")
        .expect("a message, not the end of the connection")
}

async fn our_tokio_echo_samples(ws: &mut OurClient) {
    for sent in sample_messages() {
        within("send", ws.send(sent.clone())).await.expect("send");
        assert_echo(&sent, &our_tokio_recv(ws).await);
    }
}

/// Sends the 100 000-byte message in 4 KiB fragments (RFC 6455 §5.4); the peer reassembles it.
async fn our_tokio_echo_fragmented(ws: &mut OurClient) {
    let sent = Message::binary(patterned(100_000));
    ws.connection()
        .send_fragmented(sent.clone(), 4096)
        .expect("queue the fragments");
    within("flush", ws.flush()).await.expect("flush");
    assert_echo(&sent, &our_tokio_recv(ws).await);
}

/// RFC 6455 §5.5.3: the Pong carries the Ping's payload.
async fn our_tokio_ping(ws: &mut OurClient) {
    within("ping", ws.ping("are you there?"))
        .await
        .expect("ping");
    let event = within("the pong", ws.next_event()).await.expect("an event");
    assert_eq!(event, Some(Event::Pong("are you there?".into())));
}

/// Our client closes with 1000 "bye"; the peer echoes it; then `recv` reports the end.
async fn our_tokio_close(ws: &mut OurClient) {
    within("close", ws.close(Some(bye()))).await.expect("close");
    let event = within("the close echo", ws.next_event()).await;
    assert_eq!(event.expect("an event"), Some(Event::Close(Some(bye()))));
    let end = within("the end", ws.recv()).await.expect("a clean end");
    assert_eq!(end, None);
}

type OurBlockingClient = WebSocket<StdStream>;

/// Our blocking client offering `chat`, with socket timeouts set once connected.
fn our_blocking_client(url: &str) -> OurBlockingClient {
    let handshake = ClientHandshake::builder(url)
        .protocols([PROTOCOL])
        .build()
        .expect("a valid handshake");
    let (ws, response) =
        WebSocket::connect_with(&handshake, Config::default()).expect("the handshake succeeds");
    assert_eq!(response.protocol(), Some(PROTOCOL));
    bound(ws.get_ref());
    ws
}

fn our_blocking_echo_samples(ws: &mut OurBlockingClient) {
    for sent in sample_messages() {
        ws.send(sent.clone()).expect("send");
        let echo = ws.recv().expect("recv").expect("a message");
        assert_echo(&sent, &echo);
    }
}

fn our_blocking_ping(ws: &mut OurBlockingClient) {
    ws.ping("are you there?").expect("ping");
    let event = ws.next_event().expect("an event");
    assert_eq!(event, Some(Event::Pong("are you there?".into())));
}

fn our_blocking_close(ws: &mut OurBlockingClient) {
    ws.close(Some(bye())).expect("close");
    let event = ws.next_event().expect("an event");
    assert_eq!(event, Some(Event::Close(Some(bye()))));
    assert_eq!(ws.recv().expect("a clean end"), None);
}

// =============================================================================================
// 1. Our tokio server ↔ tungstenite client

#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_client_gets_every_message_echoed_by_our_server() {
    let server = start_our_echo_server().await;
    let addr = server.addr;
    blocking("the tungstenite client", move || {
        let mut ws = tungstenite_client(addr);
        tungstenite_echo_samples(&mut ws);
        tungstenite_close(ws);
    })
    .await;
    let echoed = server.finished().await.expect("a clean close");
    assert_eq!(echoed, sample_messages().len());
}

#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_client_fragmented_message_is_reassembled_by_our_server() {
    let server = start_our_echo_server().await;
    let addr = server.addr;
    blocking("the tungstenite client", move || {
        let mut ws = tungstenite_client(addr);
        tungstenite_send_fragmented(&mut ws);
        tungstenite_close(ws);
    })
    .await;
    assert_eq!(server.finished().await.expect("a clean close"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_client_ping_is_answered_by_our_server() {
    let server = start_our_echo_server().await;
    let addr = server.addr;
    blocking("the tungstenite client", move || {
        let mut ws = tungstenite_client(addr);
        tungstenite_ping(&mut ws);
        tungstenite_close(ws);
    })
    .await;
    assert_eq!(server.finished().await.expect("a clean close"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_client_close_completes_with_our_server() {
    let server = start_our_echo_server().await;
    let addr = server.addr;
    // The client asserts the echo of 1000 "bye" and that our server closed TCP (§7.1.1) ...
    blocking("the tungstenite client", move || {
        tungstenite_close(tungstenite_client(addr));
    })
    .await;
    // ... and our server's `recv` returned Ok(None).
    assert_eq!(server.finished().await.expect("a clean close"), 0);
}

// =============================================================================================
// 2. Our clients ↔ tungstenite server

#[tokio::test(flavor = "multi_thread")]
async fn our_tokio_client_gets_every_message_echoed_by_tungstenite() {
    let (addr, server) = start_tungstenite_server(echo_until_closed);
    let mut ws = our_tokio_client(&format!("ws://{addr}/")).await;
    our_tokio_echo_samples(&mut ws).await;
    our_tokio_echo_fragmented(&mut ws).await;
    our_tokio_close(&mut ws).await;
    let seen = join_thread("the tungstenite server", server).await;
    assert_eq!(seen.echoed, sample_messages().len() + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn our_tokio_client_ping_is_answered_by_tungstenite() {
    let (addr, server) = start_tungstenite_server(echo_until_closed);
    let mut ws = our_tokio_client(&format!("ws://{addr}/")).await;
    our_tokio_ping(&mut ws).await;
    our_tokio_close(&mut ws).await;
    join_thread("the tungstenite server", server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn our_tokio_client_close_completes_with_tungstenite() {
    let (addr, server) = start_tungstenite_server(echo_until_closed);
    let mut ws = our_tokio_client(&format!("ws://{addr}/")).await;
    our_tokio_close(&mut ws).await;
    let seen = join_thread("the tungstenite server", server).await;
    let expected = Seen {
        echoed: 0,
        close: Some(tungstenite_bye()),
    };
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_server_close_completes_with_our_tokio_client() {
    let (addr, server) = start_tungstenite_server(welcome_then_close);
    let mut ws = our_tokio_client(&format!("ws://{addr}/")).await;
    assert_echo(&Message::text("welcome"), &our_tokio_recv(&mut ws).await);
    // RFC 6455 §5.5.1: we answer the server's Close with the same code and reason.
    let event = within("the server's close", ws.next_event()).await;
    let going_away = CloseFrame::new(CloseCode::GOING_AWAY, "server shutting down");
    assert_eq!(
        event.expect("an event"),
        Some(Event::Close(Some(going_away)))
    );
    let end = within("the end", ws.recv()).await.expect("a clean end");
    assert_eq!(end, None);
    let seen = join_thread("the tungstenite server", server).await;
    assert_eq!(seen.close, Some(self::going_away()));
}

#[test]
fn our_blocking_client_exchanges_messages_with_tungstenite() {
    let (addr, server) = start_tungstenite_server(echo_until_closed);
    let client = thread::spawn(move || {
        let mut ws = our_blocking_client(&format!("ws://{addr}/"));
        our_blocking_echo_samples(&mut ws);
        our_blocking_ping(&mut ws);
        our_blocking_close(&mut ws);
    });
    join_within("our blocking client", client);
    let seen = join_within("the tungstenite server", server);
    let expected = Seen {
        echoed: sample_messages().len(),
        close: Some(tungstenite_bye()),
    };
    assert_eq!(seen, expected);
}

#[test]
fn tungstenite_server_close_completes_with_our_blocking_client() {
    let (addr, server) = start_tungstenite_server(welcome_then_close);
    let client = thread::spawn(move || {
        let mut ws = our_blocking_client(&format!("ws://{addr}/"));
        let welcome = ws.recv().expect("recv").expect("a message");
        assert_echo(&Message::text("welcome"), &welcome);
        let going_away = CloseFrame::new(CloseCode::GOING_AWAY, "server shutting down");
        let event = ws.next_event().expect("an event");
        assert_eq!(event, Some(Event::Close(Some(going_away))));
        assert_eq!(ws.recv().expect("a clean end"), None);
    });
    join_within("our blocking client", client);
    let seen = join_within("the tungstenite server", server);
    assert_eq!(seen.close, Some(going_away()));
}

// =============================================================================================
// 3. Our blocking server ↔ tungstenite client

#[test]
fn tungstenite_client_exchanges_messages_with_our_blocking_server() {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        bound(&tcp);
        let mut ws = WebSocket::accept_with(tcp, Config::default(), choose_chat)?;
        let mut echoed = 0;
        while let Some(message) = ws.recv()? {
            ws.send(message)?;
            echoed += 1;
        }
        Ok::<_, StreamError>(echoed)
    });
    let client = thread::spawn(move || {
        let mut ws = tungstenite_client(addr);
        tungstenite_echo_samples(&mut ws);
        tungstenite_send_fragmented(&mut ws);
        tungstenite_ping(&mut ws);
        tungstenite_close(ws);
    });
    join_within("the tungstenite client", client);
    let echoed = join_within("our blocking server", server).expect("a clean close");
    assert_eq!(echoed, sample_messages().len() + 1);
}

// =============================================================================================
// 4. Split halves under concurrent traffic

/// How many messages the client streams, and every how many messages it pings.
const STREAMED: usize = 300;
const PING_EVERY: usize = 7;

/// Message `i` of the stream: text or binary, up to ~20 KB, each distinct.
fn streamed(i: usize) -> Message {
    let len = i * 997 % 20_000;
    if i.is_multiple_of(2) {
        Message::text(format!("{i}:{}", "x".repeat(len)))
    } else {
        let mut data = (i as u32).to_be_bytes().to_vec();
        data.extend(patterned(len));
        Message::binary(data)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn our_split_server_echoes_in_order_and_answers_every_ping() {
    let server = start_our_split_echo_server().await;
    let addr = server.addr;
    blocking("the tungstenite client", move || {
        let mut reading = tungstenite_client(addr);
        // A second tungstenite endpoint over a clone of the socket writes while the first reads.
        let socket = reading.get_ref().try_clone().expect("clone the socket");
        let role = tungstenite::protocol::Role::Client;
        let mut writing = tungstenite::WebSocket::from_raw_socket(socket, role, None);
        let writer = thread::spawn(move || {
            for i in 0..STREAMED {
                writing.send(to_tungstenite(&streamed(i))).expect("send");
                if i % PING_EVERY == 0 {
                    let ping = tungstenite::Message::Ping(format!("ping {i}").into());
                    writing.send(ping).expect("ping");
                }
            }
            writing
        });
        // Every message comes back in order; every ping's pong comes back, in order too.
        let (mut echoes, mut pongs) = (0, Vec::new());
        while echoes < STREAMED || pongs.len() < STREAMED.div_ceil(PING_EVERY) {
            match reading.read().expect("read") {
                tungstenite::Message::Pong(payload) => pongs.push(payload),
                other => {
                    assert_echo(&streamed(echoes), &from_tungstenite(other));
                    echoes += 1;
                }
            }
        }
        let expected_pongs: Vec<_> = (0..STREAMED)
            .step_by(PING_EVERY)
            .map(|i| format!("ping {i}"))
            .collect();
        let pongs: Vec<_> = pongs.iter().map(|p| String::from_utf8_lossy(p)).collect();
        assert_eq!(pongs, expected_pongs);
        // Close from the writing endpoint; the reading one sees the echo. (It would queue a reply
        // of its own, which is never flushed: the handshake is already complete.)
        let mut writing = join_within("the writer thread", writer);
        writing.close(Some(tungstenite_bye())).expect("close");
        match reading.read().expect("read the close echo") {
            tungstenite::Message::Close(frame) => assert_eq!(frame, Some(tungstenite_bye())),
            other => panic!("expected the close echo, got {other:?}"),
        }
        // §7.1.1: then the server closes TCP.
        let read = reading
            .get_mut()
            .read(&mut [0; 16])
            .expect("read the TCP close");
        assert_eq!(
            read, 0,
            "the server closes the connection after the handshake"
        );
    })
    .await;
    assert_eq!(server.finished().await.expect("a clean close"), STREAMED);
}

/// RFC 6455 §7.1.1: after the closing handshake the server closes TCP first. With a split
/// connection, the reader completes the handshake while the writer may live on elsewhere (in a
/// chat room's member list, say): the TCP close must not wait for the writer to be dropped.
#[tokio::test(flavor = "multi_thread")]
async fn our_split_server_closes_tcp_after_the_closing_handshake() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let ws = WebSocketStream::accept_with(tcp, Config::default(), choose_chat).await?;
        let (mut reader, writer) = ws.split();
        while let Some(message) = reader.recv().await? {
            writer.send(message).await?;
        }
        // The writer outlives the handshake: it is returned, and held until the test ends.
        Ok::<_, StreamError>(writer)
    });
    blocking("the tungstenite client", move || {
        let ws = tungstenite_client(addr);
        let patience = Duration::from_secs(2);
        ws.get_ref()
            .set_read_timeout(Some(patience))
            .expect("set a read timeout");
        tungstenite_close(ws);
    })
    .await;
    let writer = within("our server", server).await.expect("no panic");
    drop(writer.expect("a clean close"));
}

// =============================================================================================
// 5. Python `websockets` (a non-Rust peer)

/// The venv python with `websockets` importable, or `None` (after a loud SKIPPED line) when the
/// peer is not installed. With `RUSTCHAT_REQUIRE_PEERS=1` a missing peer fails the test instead.
fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("RUSTCHAT_PYENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/rustchat/pyenv")
        },
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    let missing = if !python.exists() {
        Some(format!("{} does not exist", python.display()))
    } else {
        let mut check = Command::new(&python);
        check.args(["-c", "import websockets"]);
        let output = run_bounded("python -c 'import websockets'", check);
        let stderr = String::from_utf8_lossy(&output.stderr);
        (!output.status.success()).then(|| format!("`import websockets` failed: {stderr}"))
    };
    let Some(missing) = missing else {
        return Some(python);
    };
    if std::env::var("RUSTCHAT_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "the python websockets peer is required (RUSTCHAT_REQUIRE_PEERS=1) but missing: \
             {missing}; install it with scripts/setup-python-peer"
        );
    }
    eprintln!(
        "SKIPPED: python websockets peer not installed — run scripts/setup-python-peer \
         ({missing})"
    );
    None
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// Runs `command` to completion with its output captured, killing it after [`LIMIT`].
fn run_bounded(what: &str, mut command: Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            let stderr = String::from_utf8_lossy(&stderr);
            panic!("{what} did not finish within {LIMIT:?}; killed it. Its stderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The Node peer (`tests/node-peer`, npm `ws`): `node` and the directory, or `None` (with a
/// loud SKIPPED) when `scripts/setup-node-peer` has not run. With `RUSTCHAT_REQUIRE_PEERS=1`
/// a missing peer fails the test instead.
fn node_peer() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node-peer");
    let installed = dir.join("node_modules/ws/package.json").exists();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed && node {
        return Some(dir);
    }
    let missing = if node {
        "tests/node-peer/node_modules/ws"
    } else {
        "node"
    };
    if std::env::var("RUSTCHAT_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "the Node ws peer is required (RUSTCHAT_REQUIRE_PEERS=1) but {missing} is missing: run scripts/setup-node-peer"
        );
    }
    eprintln!("*** SKIPPED: the Node ws peer is missing ({missing}); run scripts/setup-node-peer");
    None
}

/// `tests/node-peer/echo-server.mjs` as a child process, like [`PyEchoServer`].
struct NodeEchoServer {
    child: Child,
    port: u16,
}

impl NodeEchoServer {
    fn start(dir: &PathBuf) -> Self {
        let mut child = Command::new("node")
            .arg(dir.join("echo-server.mjs"))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start echo-server.mjs");
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self { child, port: 0 };
        let line = rx
            .recv_timeout(LIMIT)
            .expect("echo-server.mjs prints `LISTENING <port>` in time");
        server.port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("expected `LISTENING <port>`, got {line:?}"));
        server
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }
}

impl Drop for NodeEchoServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn node_ws_client_with_deflate_exchanges_messages_with_our_deflate_server() {
    let Some(dir) = node_peer() else { return };
    let server = start_our_deflate_echo_server().await;
    let mut client = Command::new("node");
    client
        .arg(dir.join("client.mjs"))
        .arg(server.url())
        .current_dir(&dir);
    let output = blocking("client.mjs", move || run_bounded("client.mjs", client)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client.mjs failed ({}): {stdout}{stderr}",
        output.status
    );
    // ws offers `permessage-deflate; client_max_window_bits`; we answer with the defaults.
    assert_eq!(
        stdout.trim(),
        "OK 6 messages, extensions: permessage-deflate"
    );
    assert_eq!(server.finished().await.expect("a clean close"), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn our_deflate_client_exchanges_messages_with_node_ws_server() {
    let Some(dir) = node_peer() else { return };
    let server = NodeEchoServer::start(&dir);
    let (mut ws, params) = our_tokio_client_with(&server.url(), DeflateConfig::enabled()).await;
    assert!(params.is_some(), "the ws server takes permessage-deflate");
    our_tokio_echo_samples(&mut ws).await;
    our_tokio_echo_fragmented(&mut ws).await;
    our_tokio_ping(&mut ws).await;
    our_tokio_close(&mut ws).await;
}

/// `py_echo_server.py` as a child process; it exits when its stdin closes, and is killed if it
/// does not (on drop, so a failing test cleans up too).
struct PyEchoServer {
    child: Child,
    port: u16,
}

impl PyEchoServer {
    fn start(python: &PathBuf) -> Self {
        let mut child = Command::new(python)
            .arg(script("py_echo_server.py"))
            .stdin(Stdio::piped()) // kept open: EOF tells the server to exit
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start py_echo_server.py");
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self { child, port: 0 };
        let line = rx
            .recv_timeout(LIMIT)
            .expect("py_echo_server.py prints `LISTENING <port>` in time");
        server.port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("expected `LISTENING <port>`, got {line:?}"));
        server
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PyEchoServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_client_exchanges_messages_with_our_tokio_server() {
    let Some(python) = python() else { return };
    let server = start_our_echo_server().await;
    let mut client = Command::new(python);
    client.arg(script("py_client.py")).arg(server.url());
    let output = blocking("py_client.py", move || run_bounded("py_client.py", client)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "py_client.py failed ({}): {stdout}{stderr}",
        output.status
    );
    assert_eq!(stdout.trim(), "OK 6 messages, extensions: none");
    assert_eq!(server.finished().await.expect("a clean close"), 6);
}

/// The Python client's three kinds of permessage-deflate offer against our deflate server:
/// what it answered, and every message echoed through compression both ways.
#[tokio::test(flavor = "multi_thread")]
async fn python_client_with_deflate_exchanges_messages_with_our_deflate_server() {
    let Some(python) = python() else { return };
    for (offer, answer) in [
        ("default", "permessage-deflate"),
        (
            "window-bits",
            "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10",
        ),
        (
            "no-context",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
    ] {
        let server = start_our_deflate_echo_server().await;
        let mut client = Command::new(&python);
        client
            .arg(script("py_client.py"))
            .arg(server.url())
            .arg(offer);
        let output = blocking("py_client.py", move || run_bounded("py_client.py", client)).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "py_client.py {offer} failed ({}): {stdout}{stderr}",
            output.status
        );
        assert_eq!(
            stdout.trim(),
            format!("OK 6 messages, extensions: {answer}"),
            "offer {offer}"
        );
        assert_eq!(server.finished().await.expect("a clean close"), 6);
    }
}

/// Python's server answers our offer with 2^12 windows both ways (its default): we compress
/// within that window and inflate what it sends.
#[tokio::test(flavor = "multi_thread")]
async fn our_deflate_client_exchanges_messages_with_python_server() {
    let Some(python) = python() else { return };
    let server = PyEchoServer::start(&python);
    let (mut ws, params) = our_tokio_client_with(&server.url(), DeflateConfig::enabled()).await;
    let params = params.expect("the Python server takes permessage-deflate");
    assert_eq!(
        (params.server_max_window_bits, params.client_max_window_bits),
        (12, 12)
    );
    our_tokio_echo_samples(&mut ws).await;
    our_tokio_echo_fragmented(&mut ws).await;
    our_tokio_close(&mut ws).await;
}

/// tungstenite has no permessage-deflate: our server does without it when offered nothing,
/// and our client does without it when the server ignores the offer.
#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_without_deflate_meets_our_deflate_side_cleanly() {
    let server = start_our_deflate_echo_server().await;
    let addr = server.addr;
    let seen = blocking("the tungstenite client", move || {
        let (mut ws, response) = tungstenite_connect(addr, &[]).expect("handshake");
        assert!(response.headers().get("Sec-WebSocket-Extensions").is_none());
        tungstenite_echo_samples(&mut ws);
        tungstenite_close(ws);
    })
    .await;
    let () = seen;
    assert_eq!(
        server.finished().await.expect("a clean close"),
        sample_messages().len()
    );
    let (addr, server) = start_tungstenite_server(echo_until_closed);
    let (mut ws, params) =
        our_tokio_client_with(&format!("ws://{addr}/"), DeflateConfig::enabled()).await;
    assert_eq!(
        params, None,
        "declined: the server did not answer the offer"
    );
    our_tokio_echo_samples(&mut ws).await;
    our_tokio_close(&mut ws).await;
    join_thread("the tungstenite server", server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn our_tokio_client_exchanges_messages_with_python_server() {
    let Some(python) = python() else { return };
    let server = PyEchoServer::start(&python);
    let mut ws = our_tokio_client(&server.url()).await;
    our_tokio_echo_samples(&mut ws).await;
    our_tokio_echo_fragmented(&mut ws).await;
    our_tokio_ping(&mut ws).await;
    our_tokio_close(&mut ws).await;
}

#[test]
fn our_blocking_client_exchanges_messages_with_python_server() {
    let Some(python) = python() else { return };
    let server = PyEchoServer::start(&python);
    let url = server.url();
    let client = thread::spawn(move || {
        let mut ws = our_blocking_client(&url);
        our_blocking_echo_samples(&mut ws);
        our_blocking_ping(&mut ws);
        our_blocking_close(&mut ws);
    });
    join_within("our blocking client", client);
}

// =============================================================================================
// 6. Handshake refusals, as a real client sees them

#[tokio::test(flavor = "multi_thread")]
async fn tungstenite_client_sees_our_403_for_a_refused_origin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("a local address");
    // RFC 6455 §4.2.2 step 4 / §10.2: a server may refuse an Origin with 403 Forbidden.
    let only_our_site = |upgrade: &Upgrade| match upgrade.origin() {
        Some("http://chat.example") => Ok(None),
        other => Err(HandshakeError::Forbidden {
            reason: format!("origin {} is not allowed", other.unwrap_or("(none)")),
        }),
    };
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        WebSocketStream::accept_with(tcp, Config::default(), only_our_site)
            .await
            .map(drop)
    });
    let refused = blocking("the tungstenite client", move || {
        tungstenite_connect(addr, &[("Origin", "http://evil.example")]).map(drop)
    })
    .await;
    let Err(tungstenite::Error::Http(response)) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status().as_u16(), 403);
    let body = response.body().as_deref().unwrap_or_default();
    let body = String::from_utf8_lossy(body);
    assert!(
        body.contains("origin http://evil.example is not allowed"),
        "the 403 body says why: {body:?}"
    );
    let ours = within("our server", server).await.expect("no panic");
    assert!(
        matches!(
            ours,
            Err(StreamError::Handshake(HandshakeError::Forbidden { .. }))
        ),
        "our server reports the refusal: {ours:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn version_8_request_gets_426_naming_version_13() {
    let server = start_our_echo_server().await;
    let addr = server.addr;
    let answer = blocking("the raw client", move || {
        let mut tcp = StdStream::connect(addr).expect("connect");
        bound(&tcp);
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).expect("send the request");
        let mut answer = String::new();
        tcp.read_to_string(&mut answer)
            .expect("read the answer up to the server's close");
        answer
    })
    .await;
    // RFC 6455 §4.2.2: on a version it does not speak, the server answers with the version(s)
    // it does (and 426 Upgrade Required, RFC 9110 §15.5.22).
    let (head, _body) = answer.split_once("\r\n\r\n").expect("a complete HTTP head");
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.1 426"),
        "status line: {status:?}"
    );
    let version = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("Sec-WebSocket-Version"))
        .map(|(_, value)| value.trim());
    assert_eq!(version, Some("13"), "in the head:\n{head}");
    let ours = server.finished().await;
    assert!(
        matches!(
            ours,
            Err(StreamError::Handshake(
                HandshakeError::UnsupportedVersion { .. }
            ))
        ),
        "our server reports the refusal: {ours:?}"
    );
}
