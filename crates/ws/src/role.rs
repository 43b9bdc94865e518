//! Which end of the connection we are.

/// The two ends of a WebSocket connection differ in masking (RFC 6455 §5.1) and in who closes
/// the TCP connection first (§7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends masked frames, expects unmasked ones.
    Client,
    /// Sends unmasked frames, expects masked ones; closes TCP first after the close handshake.
    Server,
}
