//! A TLS connection during its opening, sans-IO: ciphertext in, plaintext and ciphertext out.
//!
//! The opening feeds it what the socket gave ([`Handshake::receive`]), writes what it says
//! ([`Handshake::take_output`]: the server's handshake flight, an alert), and hands over its
//! state to the session's [`Link`](super::stream::Link) once a session starts.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rustls::{ServerConfig, ServerConnection};

/// Why a TLS handshake failed, as counted in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not a TLS handshake, or a broken one (garbage, a truncated or malformed record).
    Malformed,
    /// Nothing in common with the client: versions, cipher suites, ALPN.
    Incompatible,
    /// The client sent an alert: typically it does not trust our certificate.
    ClientAlert,
    /// The handshake did not finish within `--handshake-timeout`.
    Timeout,
    /// The client hung up in the middle of it.
    HungUp,
    /// Anything else rustls refused.
    Other,
}

impl Failure {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [Failure; 6] = [
        Failure::Malformed,
        Failure::Incompatible,
        Failure::ClientAlert,
        Failure::Timeout,
        Failure::HungUp,
        Failure::Other,
    ];

    /// The reason's label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::Incompatible => "incompatible",
            Failure::ClientAlert => "client_alert",
            Failure::Timeout => "timeout",
            Failure::HungUp => "hung_up",
            Failure::Other => "other",
        }
    }

    fn of(error: &rustls::Error) -> Self {
        use rustls::Error as E;
        match error {
            E::InvalidMessage(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::DecryptError => Failure::Malformed,
            E::PeerIncompatible(_) | E::NoApplicationProtocol => Failure::Incompatible,
            E::AlertReceived(_) => Failure::ClientAlert,
            _ => Failure::Other,
        }
    }
}

/// One connection's TLS state while it opens.
#[derive(Debug)]
pub struct Handshake {
    conn: ServerConnection,
}

impl Handshake {
    /// A server-side TLS connection with `config` (the pair in use when it began).
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        Ok(Self {
            conn: ServerConnection::new(config)?,
        })
    }

    /// Takes in what the socket gave, appending any plaintext it carried to `plain`. An error
    /// ends the connection: write [`take_output`](Self::take_output) (the alert) and close.
    pub fn receive(
        &mut self,
        mut bytes: &[u8],
        plain: &mut BytesMut,
    ) -> Result<(), (Failure, String)> {
        while !bytes.is_empty() {
            match self.conn.read_tls(&mut bytes) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err((Failure::Malformed, e.to_string())),
            }
            if let Err(e) = self.conn.process_new_packets() {
                return Err((Failure::of(&e), e.to_string()));
            }
            drain_plaintext(&mut self.conn, plain);
        }
        Ok(())
    }

    /// Whether the handshake is still under way (no plaintext can flow yet).
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// What must be sent to the client now (handshake messages, an alert); empty if nothing.
    pub fn take_output(&mut self) -> Bytes {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        Bytes::from(out)
    }

    /// `plain` encrypted for the client, followed by a `close_notify` if `close`.
    pub fn seal(&mut self, plain: &[u8], close: bool) -> Bytes {
        // The buffer limit applies to plaintext written before the handshake ends; ours is
        // written after it, and answers are small (a page, a 101, an error).
        self.conn.set_buffer_limit(None);
        let _ = io::Write::write_all(&mut self.conn.writer(), plain);
        if close {
            self.conn.send_close_notify();
        }
        self.take_output()
    }

    /// The connection, for the session's link.
    pub fn into_connection(mut self) -> ServerConnection {
        // Sessions bound what they queue themselves; rustls need not hold more than a
        // write's worth of records (see `Link`).
        self.conn
            .set_buffer_limit(Some(super::stream::RECORD_BUFFER));
        self.conn
    }
}

/// Moves every decrypted byte rustls holds into `plain`.
fn drain_plaintext(conn: &mut ServerConnection, plain: &mut BytesMut) {
    let mut chunk = [0u8; 4096];
    loop {
        match conn.reader().read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => plain.extend_from_slice(&chunk[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Handshake {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key, _) = super::super::self_signed::ensure(dir.path()).expect("a pair");
        let loaded = super::super::load::load_pair(&cert, &key).expect("loads");
        Handshake::new(loaded.config).expect("a connection")
    }

    #[test]
    fn garbage_is_malformed_and_answered_with_an_alert() {
        let mut tls = handshake();
        let mut plain = BytesMut::new();
        let (failure, detail) = tls
            .receive(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00", &mut plain)
            .expect_err("not a ClientHello");
        assert_eq!(failure, Failure::Malformed, "{detail}");
        let alert = tls.take_output();
        assert_eq!(
            alert.first(),
            Some(&0x15),
            "an alert record: {alert:?} ({detail})"
        );
        assert!(plain.is_empty());
    }

    #[test]
    fn half_a_hello_waits_for_more() {
        let mut tls = handshake();
        let mut plain = BytesMut::new();
        tls.receive(b"\x16\x03\x01\x00", &mut plain)
            .expect("not an error yet");
        assert!(tls.is_handshaking());
        assert!(tls.take_output().is_empty());
    }
}
