//! The `async` concurrency model: tokio, one task per connection.
//!
//! Each task owns its socket and its [`Session`], and waits on four things at once: the socket
//! becoming readable, the socket becoming writable (only while bytes are pending), its outbox
//! (only while the pending bytes are below a high-water mark — past it the outbox fills up and
//! the slow-consumer policy takes over), and a one-second tick for deadlines and keepalive.
//! Reads go through a per-thread scratch buffer, so an idle connection holds no read buffer.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use rustchat_ws::handshake::{HandshakeError, Request, http_response};
use rustchat_ws::outbound::Outbound;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, timeout};

use crate::detect::{Kind, classify};
use crate::driver::{self, Driver};
use crate::http::Route;
use crate::session::{Ending, Session};
use crate::state::Shared;

thread_local! {
    /// Read buffer shared by all connections of one runtime thread.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// Counts live connection tasks so shutdown can wait for them.
#[derive(Debug, Default)]
struct Live {
    count: AtomicUsize,
    idle: Notify,
}

/// Serves until `shutdown` turns true, then says goodbye to every client (bounded by the
/// configured grace period) and returns.
pub async fn serve(
    shared: Arc<Shared>,
    listeners: Vec<std::net::TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let live = Arc::new(Live::default());
    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let (shared, live, shutdown) = (shared.clone(), live.clone(), shutdown.clone());
        accept_loops.spawn(accept_loop(listener, shared, live, shutdown));
    }
    while accept_loops.join_next().await.is_some() {}
    let grace = shared.config.shutdown_grace + Duration::from_secs(1);
    let drained = async {
        while live.count.load(Ordering::Acquire) > 0 {
            live.idle.notified().await;
        }
    };
    if timeout(grace, drained).await.is_err() {
        tracing::warn!(
            "{} connections still open after the grace period",
            live.count.load(Ordering::Acquire)
        );
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    live: Arc<Live>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            () = stopped(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        shared.metrics.connection_opened();
        if shared.metrics.open_now() >= shared.config.max_connections as u64 {
            shared.metrics.connection_refused();
            tokio::spawn(refuse_full(tcp, shared.config.max_connections));
            continue;
        }
        // Counted here, at accept, so a burst cannot slip past the limit before tasks start.
        shared.metrics.open_connections(1);
        live.count.fetch_add(1, Ordering::AcqRel);
        let (shared, live, shutdown) = (shared.clone(), live.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(tcp, &shared, shutdown).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            shared.metrics.open_connections(-1);
            if live.count.fetch_sub(1, Ordering::AcqRel) == 1 {
                live.idle.notify_waiters();
            }
        });
    }
}

/// Resolves once the shutdown flag is set (never, if its sender is gone without setting it).
async fn stopped(flag: &mut watch::Receiver<bool>) {
    loop {
        if *flag.borrow_and_update() {
            return;
        }
        if flag.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Tells a client the server is full, in its own protocol, and closes.
async fn refuse_full(tcp: TcpStream, max: usize) {
    let mut first = BytesMut::new();
    let _ = timeout(Duration::from_millis(500), read_into(&tcp, &mut first)).await;
    let bytes = driver::server_full_response(&first, max);
    let _ = write_all(&tcp, &bytes).await;
}

/// One client, from its first byte to its last.
async fn connection(
    tcp: TcpStream,
    shared: &Shared,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let config = &shared.config;
    let mut first = BytesMut::new();
    let deadline = Instant::now() + config.detect_timeout;
    let kind = loop {
        match tokio::time::timeout_at(deadline, read_into(&tcp, &mut first)).await {
            Err(_) => break Kind::Line, // silent: a person at a terminal, greet them
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {
                if let Some(kind) = classify(&first) {
                    break kind;
                }
            }
            Ok(Err(e)) => return Err(e),
        }
    };
    match kind {
        Kind::Line => {
            let session = driver::line_session(shared, &first);
            // The session copied what it needs: hold no detection buffer while idle.
            drop(first);
            run_session(tcp, shared, session, shutdown).await
        }
        Kind::Http => http(tcp, shared, first, shutdown).await,
    }
}

async fn http(
    tcp: TcpStream,
    shared: &Shared,
    mut buf: BytesMut,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let config = &shared.config;
    let limits = config.head_limits();
    let parsed = timeout(config.handshake_timeout, read_head(&tcp, &mut buf, &limits)).await;
    let (request, used) = match parsed {
        Ok(Ok(Some(done))) => done,
        Ok(Ok(None)) => return Ok(()), // hung up mid-request
        Ok(Err(HeadError::Io(e))) => return Err(e),
        Ok(Err(HeadError::Bad(e))) => return refuse_http(&tcp, shared, &e).await,
        Err(_) => {
            shared.metrics.timeout();
            let body = format!(
                "request head not complete within {} s: send the whole head at once\n",
                config.handshake_timeout.as_secs()
            );
            let response = http_response(408, "Request Timeout", &[], body.as_bytes());
            return write_all(&tcp, &response).await;
        }
    };
    let routed = driver::route_request(shared, &request);
    match routed {
        Route::Respond(bytes) => {
            shared.metrics.http_request();
            let mut out = Outbound::default();
            out.push_encoded(&bytes);
            finish(&tcp, &mut out, config.shutdown_grace).await;
            Ok(())
        }
        Route::Upgrade { response, wire } => {
            write_all(&tcp, &response).await?;
            let session = driver::ws_session(shared, wire, &buf[used..]);
            // The session copied the leftover bytes: hold no head buffer while idle.
            drop(buf);
            drop(request);
            run_session(tcp, shared, session, shutdown).await
        }
    }
}

/// Why a request head could not be read.
#[derive(Debug)]
enum HeadError {
    Io(io::Error),
    Bad(HandshakeError),
}

/// Reads until a complete request head is buffered: `Ok(None)` if the client hung up first.
async fn read_head(
    tcp: &TcpStream,
    buf: &mut BytesMut,
    limits: &rustchat_ws::handshake::HeadLimits,
) -> Result<Option<(Request, usize)>, HeadError> {
    loop {
        match Request::parse(buf, limits) {
            Ok(Some(done)) => return Ok(Some(done)),
            Ok(None) => {}
            Err(e) => return Err(HeadError::Bad(e)),
        }
        if read_into(tcp, buf).await.map_err(HeadError::Io)? == 0 {
            return Ok(None);
        }
    }
}

async fn refuse_http(tcp: &TcpStream, shared: &Shared, e: &HandshakeError) -> io::Result<()> {
    shared.metrics.protocol_error();
    write_all(tcp, &e.response()).await
}

/// Drives a session until it ends, then flushes its goodbye (bounded) and leaves the hub.
async fn run_session(
    tcp: TcpStream,
    shared: &Shared,
    mut session: Session,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut driver = Driver::open(shared, &session);
    let outbox = driver.outbox().clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        driver.act(&mut session);
        if let Err(e) = write_some(&tcp, session.outbound()) {
            break Err(e);
        }
        if !session.is_open() {
            break Ok(());
        }
        let want_write = !session.outbound().is_empty();
        let want_events = driver.wants_events(&mut session);
        tokio::select! {
            () = stopped(&mut shutdown) => session.end(Ending::Shutdown),
            ready = tcp.readable() => {
                if let Err(e) = ready.and_then(|()| read_some(&tcp, &mut session)) {
                    break Err(e);
                }
            }
            ready = tcp.writable(), if want_write => {
                if let Err(e) = ready {
                    break Err(e);
                }
            }
            () = outbox.wait(), if want_events => driver.pump(&mut session),
            // Not taking events (the socket is stuck): still notice an overflow at once.
            () = outbox.wait_overflow(), if !want_events => driver.pump(&mut session),
            _ = tick.tick() => driver.tick(&mut session),
        }
    };
    let flush = driver.close(&session);
    if result.is_ok() && flush {
        finish(&tcp, session.outbound(), shared.config.shutdown_grace).await;
    }
    result
}

/// Flushes the last bytes (bounded by `grace`), then closes our side first and waits briefly
/// for the client to close its side (RFC 6455 §7.1.1: the server closes TCP first).
async fn finish(tcp: &TcpStream, out: &mut Outbound, grace: Duration) {
    let flush = async {
        while !out.is_empty() {
            if tcp.writable().await.is_err() || write_some(tcp, out).is_err() {
                return;
            }
        }
    };
    let _ = timeout(grace, flush).await;
    let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Write);
    let mut sink = BytesMut::new();
    let _ = timeout(Duration::from_millis(500), async {
        while read_into(tcp, &mut sink).await.is_ok_and(|n| n > 0) {
            sink.clear();
        }
    })
    .await;
}

/// Reads what is available into `buf` (waiting for readability).
async fn read_into(tcp: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        tcp.readable().await?;
        buf.reserve(4096);
        match tcp.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// One non-blocking read through the thread's scratch buffer into the session.
fn read_some(tcp: &TcpStream, session: &mut Session) -> io::Result<()> {
    SCRATCH.with_borrow_mut(|buf| match tcp.try_read(buf) {
        Ok(0) => {
            session.eof();
            Ok(())
        }
        Ok(n) => {
            session.receive(&buf[..n]);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    })
}

/// Writes as much of `out` as the socket takes now, with vectored writes.
fn write_some(tcp: &TcpStream, out: &mut Outbound) -> io::Result<()> {
    while !out.is_empty() {
        let mut slices = [IoSlice::new(&[]); 64];
        let count = out.io_slices(&mut slices);
        match tcp.try_write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn write_all(tcp: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let mut out = Outbound::default();
    out.push_encoded(&bytes::Bytes::copy_from_slice(bytes));
    while !out.is_empty() {
        tcp.writable().await?;
        write_some(tcp, &mut out)?;
    }
    Ok(())
}
