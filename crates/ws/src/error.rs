//! Errors of the protocol core, split the way they must be handled:
//! [`ProtocolError`] — the peer broke RFC 6455 (the connection is failed with a close code);
//! [`UsageError`] — this side asked for something the protocol does not allow (nothing is sent).

use crate::close::CloseCode;

/// The peer misbehaved. Each variant is one rule of RFC 6455 and knows the close code it is
/// reported with (see [`ProtocolError::close_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// RFC 6455 §5.2: opcodes 3–7 and 0xB–0xF are reserved.
    #[error("reserved opcode {0:#x}: expected 0x0-0x2 (data) or 0x8-0xA (control)")]
    ReservedOpcode(u8),
    /// RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them.
    #[error("reserved bits {0:#05b} set: no extension that uses them was negotiated")]
    ReservedBits(u8),
    /// RFC 6455 §5.5: control frames MUST NOT be fragmented.
    #[error("fragmented control frame: control frames must have FIN set")]
    FragmentedControl,
    /// RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less.
    #[error("control frame payload of {0} bytes: at most 125 allowed")]
    ControlTooLong(u64),
    /// RFC 6455 §5.1: a server MUST close the connection on an unmasked client frame.
    #[error("unmasked frame from a client: clients must mask every frame")]
    UnmaskedFrame,
    /// RFC 6455 §5.1: a client MUST close the connection on a masked server frame.
    #[error("masked frame from a server: servers must not mask frames")]
    MaskedFrame,
    /// RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    #[error("64-bit payload length with its top bit set: the length must be below 2^63")]
    LengthTooLong,
    /// RFC 6455 §5.4: a continuation frame belongs to a fragmented message.
    #[error("continuation frame with no message in progress: expected a text or binary frame")]
    UnexpectedContinuation,
    /// RFC 6455 §5.4: fragments of different messages MUST NOT interleave.
    #[error("new data frame inside a fragmented message: expected a continuation frame")]
    ExpectedContinuation,
    /// RFC 6455 §8.1: text messages MUST be valid UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// RFC 6455 §5.5.1: a close body is empty or at least two bytes (a code).
    #[error("close frame body of 1 byte: expected none or a 2-byte code")]
    CloseBodyTooShort,
    /// RFC 6455 §7.4: the code is reserved, unassigned or out of range.
    #[error("close code {0} may not be sent: expected 1000-1003, 1007-1014 or 3000-4999")]
    InvalidCloseCode(u16),
    /// RFC 6455 §5.5.1: the close reason is UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// The frame is larger than [`crate::Config::max_frame_size`].
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    FrameTooLarge {
        /// The length the frame header announced.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// The message is larger than [`crate::Config::max_message_size`].
    #[error("message of at least {len} bytes is over the limit of {max} bytes")]
    MessageTooLarge {
        /// The message length known so far, this frame included.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// The message has more frames than [`crate::Config::max_fragments`].
    #[error("message split into more than {max} frames")]
    TooManyFragments {
        /// The configured limit.
        max: usize,
    },
    /// RFC 7692 §6.1: only the first frame of a compressed message carries RSV1.
    #[error("RSV1 set on a continuation frame: only a compressed message's first frame has it")]
    CompressedContinuation,
    /// RFC 7692 §6.1: control frames are never compressed.
    #[error("RSV1 set on a control frame: control frames are never compressed")]
    CompressedControl,
    /// RFC 7692 §7.2.2: the payload of a compressed message is not valid DEFLATE data.
    #[error("invalid compressed data: {0}")]
    BadDeflate(String),
    /// A compressed message inflates past [`crate::Config::max_message_size`] (stopped there).
    #[error("compressed message inflates to more than {max} bytes, the limit")]
    InflatedTooLarge {
        /// The configured limit.
        max: usize,
    },
}

impl ProtocolError {
    /// The status code the connection is failed with (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::BadDeflate(_) => {
                CloseCode::INVALID_PAYLOAD
            }
            Self::FrameTooLarge { .. }
            | Self::MessageTooLarge { .. }
            | Self::TooManyFragments { .. }
            | Self::InflatedTooLarge { .. } => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL,
        }
    }
}

/// This side misused the API; nothing was queued for sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// Nothing may be sent after a Close frame (RFC 6455 §5.5.1).
    #[error("the connection is closing or closed: nothing more may be sent")]
    Closed,
    /// RFC 6455 §5.5: control frames carry at most 125 bytes.
    #[error("control frame payload of {0} bytes: at most 125 allowed")]
    ControlTooLong(usize),
    /// The close code may not be sent on the wire.
    #[error("close code {0} may not be sent: use 1000-1003, 1007-1014 or 3000-4999")]
    InvalidCloseCode(u16),
    /// The close reason must fit a control frame with its code: 123 bytes.
    #[error("close reason of {0} bytes: at most 123 allowed")]
    CloseReasonTooLong(usize),
    /// A pre-encoded frame only works for a server (client frames are masked per frame).
    #[error("a prepared message can only be sent by a server: client frames need a fresh mask")]
    PreparedOnClient,
    /// Fragment size zero would never finish the message.
    #[error("fragment size must be at least 1 byte")]
    ZeroFragmentSize,
}

/// Anything the protocol core can report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The peer broke the protocol; a Close frame with the matching code has been queued.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The API was misused.
    #[error("usage error: {0}")]
    Usage(#[from] UsageError),
}
