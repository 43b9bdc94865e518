//! `Opening`: one connection from its first byte to its session, sans-IO.
//!
//! Every concurrency model opens a connection the same way, so the rules live here once: the
//! first bytes decide the protocol (`detect`), an HTTP head is read within its limits and its
//! time (`Request::parse`, `--handshake-timeout`), the request is routed (`http`: the page,
//! `/healthz`, `/metrics`, the WebSocket upgrade, or a 4xx), and a client over
//! `--max-connections` is told so in the protocol its first bytes suggest. The model only
//! waits, reads into the opening and writes what a [`Step`] says:
//!
//! ```text
//!            ┌──────── Read { deadline } ◀──────┐
//!            ├──────── Send { bytes, deadline } ◀┤ (a TLS handshake flight: write, read on)
//! bytes ──▶ Opening ── Answer(bytes) ─▶ write, close
//!   time ──▶  │     └─ Gone ─▶ close
//!             └─ Session { preface, session, tls } ─▶ write the preface (a 101), run the
//!                session (over TLS if `tls`)
//! ```
//!
//! A first byte of 0x16 is a TLS handshake (with TLS configured): the opening runs it
//! (`tls::handshake`), then applies all of the above to the plaintext, and seals what it says.
//!
//! It owns no socket and reads no clock: time comes in as `now`.

pub(crate) mod detect;
pub(crate) mod http;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rustchat_ws::handshake::{Request, http_response};

use crate::admission::Refusal;
use crate::conn::driver;
use crate::opening::detect::{Kind, TLS_HANDSHAKE, classify};
use crate::opening::http::{HttpContext, Route, route};
use crate::session::Session;
use crate::shared::Shared;
use crate::tls::handshake::{Failure, Handshake};
use crate::tls::stream::TlsState;

/// How long a client over the connection limit may take to show what it speaks, so that it
/// is refused in its own protocol.
pub(crate) const REFUSAL_WAIT: Duration = Duration::from_millis(500);

/// What the model must do next for an opening connection.
#[derive(Debug)]
pub(crate) enum Step {
    /// Read more; call [`Opening::timeout`] if nothing arrives by `deadline`.
    Read {
        /// When waiting stops.
        deadline: Instant,
    },
    /// Write these bytes (a TLS handshake flight), then read as [`Step::Read`] says; close if
    /// they cannot be written by `deadline`.
    Send {
        /// The bytes.
        bytes: Bytes,
        /// When writing them, and then waiting for more, stops.
        deadline: Instant,
    },
    /// Write these bytes (within the shutdown grace), then close: an HTTP answer or a refusal.
    Answer(Bytes),
    /// The client hung up before a session began: close.
    Gone,
    /// Write `preface` (the 101 of a WebSocket upgrade; empty for the line protocol), then run
    /// `session` over a link that is TLS if `tls` is given.
    Session {
        /// Bytes to send before the session's own (encrypted already, over TLS).
        preface: Bytes,
        /// The chat session, already fed whatever came after the opening. Boxed: an async
        /// model's task would otherwise hold room for a whole session in every state of its
        /// opening, and again for the result it awaits (measured with `-Zprint-type-sizes`).
        session: Box<Session>,
        /// The connection's TLS state, when it is TLS (boxed for the same reason).
        tls: Option<Box<TlsState>>,
    },
}

/// Where an opening stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for the first bytes to tell the protocol (a silent client speaks the line
    /// protocol: it is greeted when the wait ends).
    Detect,
    /// In a TLS handshake, until it finishes (then `Detect`, inside TLS).
    Handshake,
    /// Reading an HTTP request head.
    Head,
    /// Refused at accept (a connection limit): waiting (briefly) for bytes to refuse it in its
    /// protocol.
    Refused(Refusal),
}

/// One connection's opening.
#[derive(Debug)]
pub(crate) struct Opening {
    phase: Phase,
    /// Everything received so far (inside TLS: the plaintext).
    buf: BytesMut,
    /// When the current wait ends.
    deadline: Instant,
    /// The TLS state, once the client started a handshake.
    tls: Option<Box<Handshake>>,
    /// Whether the client may go on without TLS (`--plaintext`; always, with TLS off).
    plaintext_ok: bool,
    /// Who it is, for the log of refusals (`None`: a refusal at accept, logged there).
    peer: Option<SocketAddr>,
}

impl Opening {
    /// A new connection from `peer` at `now`: the model reads until [`Opening::deadline`].
    pub(crate) fn new(shared: &Shared, now: Instant, peer: SocketAddr) -> Self {
        let mut opening = Self::waiting(Phase::Detect, now + shared.config.detect_timeout);
        opening.plaintext_ok = shared
            .tls
            .as_ref()
            .is_none_or(|tls| tls.allows_plaintext(peer.ip()));
        opening.peer = Some(peer);
        opening
    }

    /// Logs that the connection was refused, saying why (bounded: see `Shared::log_refusal`).
    fn log_refused(&self, shared: &Shared, why: &str) {
        if let Some(peer) = self.peer {
            shared.log_refusal(peer, why);
        }
    }

    /// A connection refused at accept (the server is full, or its address is over a limit):
    /// it is told why, in HTTP if its first bytes (within [`REFUSAL_WAIT`]) are a request, else
    /// as an `ERROR` line. A TLS client is closed without a word: refusals must stay cheap,
    /// and a handshake is not.
    pub(crate) fn refusing(now: Instant, refusal: Refusal) -> Self {
        Self::waiting(Phase::Refused(refusal), now + REFUSAL_WAIT)
    }

    fn waiting(phase: Phase, deadline: Instant) -> Self {
        Self {
            phase,
            buf: BytesMut::new(),
            deadline,
            tls: None,
            plaintext_ok: true,
            peer: None,
        }
    }

    /// When the current wait for bytes ends (a new opening waits from the start: its first
    /// step is `Step::Read` until this).
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Bytes arrived at `now`.
    pub(crate) fn read(&mut self, shared: &Shared, bytes: &[u8], now: Instant) -> Step {
        if self.phase == Phase::Detect
            && self.tls.is_none()
            && self.buf.is_empty()
            && bytes.first() == Some(&TLS_HANDSHAKE)
        {
            return match &shared.tls {
                Some(tls) => self.start_tls(shared, tls.config(), bytes, now),
                None => {
                    tracing::debug!("a TLS handshake on a plaintext-only port: closed");
                    shared.metrics.protocol_error();
                    Step::Gone
                }
            };
        }
        let Some(tls) = self.tls.as_mut() else {
            return self.advance(shared, bytes, now);
        };
        let mut plain = BytesMut::new();
        if let Err((failure, detail)) = tls.receive(bytes, &mut plain) {
            return self.tls_failed(shared, failure, &detail);
        }
        if self.phase == Phase::Handshake && !tls.is_handshaking() {
            if let Some(tls) = &shared.tls {
                tls.handshake_done();
            }
            // Inside TLS, as on a plaintext connection: HTTP speaks first, a person at a
            // terminal (`openssl s_client`) waits to be greeted.
            self.phase = Phase::Detect;
            self.deadline = now + shared.config.detect_timeout;
        }
        let step = if !plain.is_empty() {
            self.advance(shared, &plain, now)
        } else if tls.peer_closed() {
            // A close_notify before any request: as a plaintext client hanging up, but
            // answered in kind.
            return Step::Answer(tls.seal(&[], true));
        } else {
            self.wait()
        };
        self.seal(step)
    }

    /// The first bytes are a TLS handshake: it must finish within the head's time.
    fn start_tls(
        &mut self,
        shared: &Shared,
        config: std::sync::Arc<rustls::ServerConfig>,
        bytes: &[u8],
        now: Instant,
    ) -> Step {
        match Handshake::new(config) {
            Ok(handshake) => {
                self.tls = Some(Box::new(handshake));
                self.phase = Phase::Handshake;
                self.plaintext_ok = true;
                self.deadline = now + shared.config.handshake_timeout;
                self.read(shared, bytes, now)
            }
            Err(e) => {
                tracing::warn!("cannot start a TLS connection: {e}");
                Step::Gone
            }
        }
    }

    /// The TLS connection broke: count it, send its alert, close.
    fn tls_failed(&mut self, shared: &Shared, failure: Failure, detail: &str) -> Step {
        if let Some(tls) = &shared.tls {
            tls.handshake_failed(failure);
        }
        self.log_refused(
            shared,
            &format!("TLS handshake failed ({}): {detail}", failure.label()),
        );
        match self.tls.as_mut() {
            Some(tls) => Step::Answer(tls.take_output()),
            None => Step::Gone,
        }
    }

    /// Plaintext bytes (from the socket, or decrypted) for the protocol detection and the head.
    fn advance(&mut self, shared: &Shared, bytes: &[u8], now: Instant) -> Step {
        self.buf.extend_from_slice(bytes);
        match self.phase {
            Phase::Detect => match classify(&self.buf) {
                None => self.wait(),
                Some(Kind::Line) if !self.plaintext_ok => self.refuse_plaintext(shared),
                Some(Kind::Line) => self.line(shared),
                // TLS inside TLS is nobody's protocol; a line client would see it as noise.
                Some(Kind::Tls) => self.line(shared),
                Some(Kind::Http) => {
                    self.phase = Phase::Head;
                    self.deadline = now + shared.config.handshake_timeout;
                    self.head(shared)
                }
            },
            Phase::Head => self.head(shared),
            // Never here: handshake bytes go to `tls` until it finishes.
            Phase::Handshake => self.wait(),
            Phase::Refused(refusal) => match classify(&self.buf) {
                None => self.wait(),
                Some(_) => Step::Answer(refusal_response(&self.buf, refusal)),
            },
        }
    }

    /// Over TLS: what the opening says is encrypted, and what the handshake made is sent.
    fn seal(&mut self, step: Step) -> Step {
        let Some(tls) = self.tls.as_mut() else {
            return step;
        };
        match step {
            Step::Read { deadline } => {
                let bytes = tls.take_output();
                if bytes.is_empty() {
                    Step::Read { deadline }
                } else {
                    Step::Send { bytes, deadline }
                }
            }
            Step::Answer(bytes) => Step::Answer(tls.seal(&bytes, true)),
            Step::Session {
                preface, session, ..
            } => {
                let preface = tls.seal(&preface, false);
                let tls = self.tls.take().map(|tls| Box::new(tls.into_state()));
                Step::Session {
                    preface,
                    session,
                    tls,
                }
            }
            other => other,
        }
    }

    /// The client hung up before a session began.
    pub(crate) fn eof(&mut self, shared: &Shared) -> Step {
        if self.phase == Phase::Handshake
            && let Some(tls) = &shared.tls
        {
            tls.handshake_failed(Failure::HungUp);
        }
        Step::Gone
    }

    /// The deadline of the last [`Step::Read`] passed with nothing (or not enough) read.
    pub(crate) fn timeout(&mut self, shared: &Shared, now: Instant) -> Step {
        if now < self.deadline {
            return self.seal(self.wait());
        }
        let step = match self.phase {
            // Silent (or half a method name): a person at a terminal; greet them.
            Phase::Detect if !self.plaintext_ok => self.refuse_plaintext(shared),
            Phase::Detect => self.line(shared),
            Phase::Handshake => {
                shared.metrics.timeout();
                return self.tls_failed(shared, Failure::Timeout, "no complete handshake in time");
            }
            Phase::Head => {
                shared.metrics.timeout();
                let answer = head_timeout_response(shared.config.handshake_timeout);
                self.log_refused(shared, &status_and_reason(&answer));
                Step::Answer(answer)
            }
            Phase::Refused(refusal) => Step::Answer(refusal_response(&self.buf, refusal)),
        };
        self.seal(step)
    }

    fn wait(&self) -> Step {
        Step::Read {
            deadline: self.deadline,
        }
    }

    fn line(&mut self, shared: &Shared) -> Step {
        Step::Session {
            preface: Bytes::new(),
            session: Box::new(driver::line_session(shared, &std::mem::take(&mut self.buf))),
            tls: None,
        }
    }

    /// A line client without TLS where TLS is required (`--plaintext`).
    fn refuse_plaintext(&mut self, shared: &Shared) -> Step {
        if let Some(tls) = &shared.tls {
            tls.plaintext_refused();
        }
        self.log_refused(shared, "plaintext where TLS is required (--plaintext)");
        Step::Answer(Bytes::from_static(REQUIRES_TLS_LINE.as_bytes()))
    }

    fn head(&mut self, shared: &Shared) -> Step {
        let (request, used) = match Request::parse(&self.buf, &shared.config.head_limits()) {
            Ok(Some(done)) => done,
            Ok(None) => return self.wait(),
            Err(e) => {
                shared.metrics.protocol_error();
                let answer = e.response();
                self.log_refused(shared, &status_and_reason(&answer));
                return Step::Answer(answer);
            }
        };
        if !self.plaintext_ok {
            if let Some(tls) = &shared.tls {
                tls.plaintext_refused();
            }
            self.log_refused(shared, "plaintext HTTP where TLS is required (--plaintext)");
            return Step::Answer(http::requires_tls(&request));
        }
        match route_request(shared, &request) {
            Route::Respond(bytes) => {
                shared.metrics.http_request();
                if bytes.starts_with(b"HTTP/1.1 4") || bytes.starts_with(b"HTTP/1.1 5") {
                    self.log_refused(
                        shared,
                        // Never the query: it may hold an access token.
                        &format!(
                            "{} {}",
                            request.path().split('?').next().unwrap_or_default(),
                            status_and_reason(&bytes)
                        ),
                    );
                }
                Step::Answer(bytes)
            }
            Route::Upgrade {
                response,
                wire,
                deflate,
                token,
            } => Step::Session {
                preface: response,
                session: Box::new(
                    driver::ws_session(shared, wire, deflate, &self.buf[used..]).with_token(token),
                ),
                tls: None,
            },
        }
    }
}

/// "403 Forbidden: origin … is not allowed …": an HTTP answer's status line and the first line
/// of its body, for the log.
fn status_and_reason(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .unwrap_or("?");
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| body.lines().next())
        .unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    format!("{status}: {body}")
}

/// What a line client without TLS is told where TLS is required.
pub(crate) const REQUIRES_TLS_LINE: &str = "ERROR this server requires TLS from your address — \
     connect to the same host and port with TLS: rustchat connect tls://HOST:PORT, or \
     openssl s_client -quiet -connect HOST:PORT\n";

/// For a connection still waiting for a `pool` worker: if `first` (its bytes so far, not yet
/// taken from the socket) holds a whole HTTP request that needs no session — the page,
/// `/healthz`, `/metrics`, a 4xx — the answer, and how many bytes of `first` the request
/// used. Such a request is answered at once instead of waiting its turn (so `/metrics` can
/// show a full queue). `None` for anything else: an upgrade, a line client, half a head.
pub(crate) fn answer_without_session(shared: &Shared, first: &[u8]) -> Option<(usize, Bytes)> {
    if classify(first) != Some(Kind::Http) {
        return None;
    }
    match Request::parse(first, &shared.config.head_limits()) {
        Ok(Some((request, used))) => match route_request(shared, &request) {
            Route::Respond(bytes) => {
                shared.metrics.http_request();
                Some((used, bytes))
            }
            Route::Upgrade { .. } => None,
        },
        Ok(None) => None,
        Err(e) => {
            shared.metrics.protocol_error();
            Some((first.len(), e.response()))
        }
    }
}

/// What a connection that waited `waited` for a `pool` worker (all `workers` stayed taken) is
/// told before it is closed, in the protocol its first bytes suggest.
pub(crate) fn server_busy_response(first: &[u8], workers: usize, waited: Duration) -> Bytes {
    let text = format!(
        "server busy: all {workers} workers stayed taken for the {} s you waited — try again later\n",
        waited.as_secs_f64().round()
    );
    unavailable(first, &text)
}

/// The notice for a line client waiting for a `pool` worker: it is `place`-th in line and is
/// let in when a worker frees up, or refused after `limit`.
pub(crate) fn queued_notice(place: usize, workers: usize, limit: Duration) -> Bytes {
    Bytes::from(format!(
        "*** rustchat is busy: all {workers} workers are taken and you are number {place} in line — \
         you are let in as soon as one is free, or told to come back later after {} s\n",
        limit.as_secs_f64().round()
    ))
}

/// Routes an HTTP request with the server's metrics and origin rules.
fn route_request(shared: &Shared, request: &Request) -> Route {
    let metrics = || shared.metrics_text();
    let deflate = shared.config.ws_deflate();
    let ctx = HttpContext {
        metrics: &metrics,
        allowed_origins: &shared.config.allowed_origins,
        deflate: &deflate,
    };
    route(request, &ctx)
}

/// The 408 for a request head that did not arrive within `limit` (the metric is the caller's).
fn head_timeout_response(limit: Duration) -> Bytes {
    let body = format!(
        "request head not complete within {} s: send the whole head at once\n",
        limit.as_secs_f64()
    );
    http_response(408, "Request Timeout", &[], body.as_bytes())
}

/// What a client refused at accept is told, in the protocol its first bytes suggest.
fn refusal_response(first: &[u8], refusal: Refusal) -> Bytes {
    let (status, reason, retry) = refusal.http();
    answer_in_kind(
        first,
        &format!("{}\n", refusal.text()),
        status,
        reason,
        retry,
    )
}

/// `text` as an `ERROR` line for a line client, else as a 503 that says when to come back.
fn unavailable(first: &[u8], text: &str) -> Bytes {
    answer_in_kind(first, text, 503, "Service Unavailable", "5")
}

/// `text` as an `ERROR` line for a line client, else as an HTTP `status` with `Retry-After`.
fn answer_in_kind(first: &[u8], text: &str, status: u16, reason: &str, retry: &str) -> Bytes {
    match classify(first) {
        Some(Kind::Line) => Bytes::from(format!("ERROR {text}")),
        // Nothing a TLS client could read without a handshake: it is closed.
        Some(Kind::Tls) => Bytes::new(),
        Some(Kind::Http) | None => {
            http_response(status, reason, &[("Retry-After", retry)], text.as_bytes())
        }
    }
}

#[cfg(test)]
mod tests;
