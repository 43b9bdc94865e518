//! A TLS connection during its opening, sans-IO: ciphertext in, plaintext and ciphertext out.
//!
//! The opening feeds it what the socket gave ([`Handshake::receive`]), writes what it says
//! ([`Handshake::take_output`]: the server's handshake flight, an alert), and hands over its
//! state to the session's [`Link`](super::stream::Link) once a session starts. The ciphertext
//! of an unfinished message it holds is bounded ([`MAX_PENDING`]).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rustls::ServerConfig;

use super::session::TlsSession;
use super::stream::TlsState;

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

/// The most ciphertext an opening holds before its handshake completes: the largest
/// handshake message rustls accepts (64 KiB) and a record around it.
pub const MAX_PENDING: usize = 64 * 1024 + 2 * 1024;

/// One connection's TLS state while it opens.
#[derive(Debug)]
pub struct Handshake {
    session: TlsSession,
}

impl Handshake {
    /// A server-side TLS connection with `config` (the pair in use when it began).
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        Ok(Self {
            session: TlsSession::new(config)?,
        })
    }

    /// Takes in what the socket gave, appending any plaintext it carried to `plain`. An error
    /// ends the connection: write [`take_output`](Self::take_output) (the alert) and close.
    pub fn receive(&mut self, bytes: &[u8], plain: &mut BytesMut) -> Result<(), (Failure, String)> {
        let mut incoming = Vec::with_capacity(self.session.partial().len() + bytes.len());
        incoming.extend_from_slice(self.session.partial());
        incoming.extend_from_slice(bytes);
        self.session
            .receive(&mut incoming, &mut |data| plain.extend_from_slice(data))
            .map_err(|e| (Failure::of(&e), e.to_string()))?;
        let held = self.session.partial().len();
        if held > MAX_PENDING {
            return Err((
                Failure::Malformed,
                format!(
                    "{held} bytes of an unfinished handshake message: expected at most {MAX_PENDING}"
                ),
            ));
        }
        Ok(())
    }

    /// Whether the client said `close_notify`: nothing more will come.
    pub fn peer_closed(&self) -> bool {
        self.session.peer_closed()
    }

    /// Whether the handshake is still under way (no plaintext can flow yet).
    pub fn is_handshaking(&self) -> bool {
        self.session.is_handshaking()
    }

    /// What must be sent to the client now (handshake messages, an alert); empty if nothing.
    pub fn take_output(&mut self) -> Bytes {
        Bytes::from(self.session.take_outgoing())
    }

    /// `plain` encrypted for the client, followed by a `close_notify` if `close` (after what
    /// the handshake still had to say).
    pub fn seal(&mut self, plain: &[u8], close: bool) -> Bytes {
        let mut out = self.session.take_outgoing();
        if !plain.is_empty() && self.session.encrypt(plain, &mut out).is_err() {
            return Bytes::from(out);
        }
        if close {
            let _ = self.session.close_notify();
            out.extend_from_slice(self.session.outgoing());
            let _ = self.session.take_outgoing();
        }
        Bytes::from(out)
    }

    /// The connection's state, for the session's link.
    pub(crate) fn into_state(self) -> TlsState {
        TlsState::new(self.session)
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

    /// A TLS record of `len` body bytes (a handshake record, TLS 1.0 on the wire as
    /// ClientHellos say), filled with `fill`.
    fn record(body: &[u8]) -> Vec<u8> {
        let mut out = vec![0x16, 0x03, 0x01];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_handshake_message_over_64_kib_is_refused_before_it_is_held() {
        let mut tls = handshake();
        let mut plain = BytesMut::new();
        // A ClientHello announcing 16 MiB, then record after record of it.
        let mut first = vec![0x01, 0xff, 0xff, 0xff];
        first.resize(16 * 1024, 0x41);
        let mut result = tls.receive(&record(&first), &mut plain);
        let mut records = 1;
        while result.is_ok() && records < 10 {
            assert!(
                tls.session.partial().len() <= MAX_PENDING,
                "held {} bytes",
                tls.session.partial().len()
            );
            result = tls.receive(&record(&[0x41; 16 * 1024]), &mut plain);
            records += 1;
        }
        let (failure, detail) = result.expect_err("refused");
        assert_eq!(failure, Failure::Malformed, "{detail}");
        assert!(
            records * 16 * 1024 <= MAX_PENDING + 16 * 1024,
            "{records} records taken"
        );
    }
}
