//! The frame header (RFC 6455 §5.2): parsing and encoding, nothing else.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! ```

use crate::error::ProtocolError;

/// The largest header: 2 bytes, 8 of extended length, 4 of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// What a frame carries (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: the next fragment of a message.
    Continuation,
    /// 0x1: the first frame of a UTF-8 text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: start or answer the closing handshake.
    Close,
    /// 0x9: a ping; the peer answers with a pong.
    Ping,
    /// 0xA: a pong.
    Pong,
}

impl OpCode {
    /// Control frames (close, ping, pong) have the high bit of the opcode set (RFC 6455 §5.5).
    #[inline]
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }

    /// The 4-bit wire value.
    #[inline]
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }
}

impl TryFrom<u8> for OpCode {
    type Error = ProtocolError;

    #[inline]
    fn try_from(value: u8) -> Result<Self, ProtocolError> {
        Ok(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            // RFC 6455 §5.2: receiving a reserved opcode MUST fail the connection.
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of its message.
    pub fin: bool,
    /// The three RSV bits, as `0b0RRR` (RSV1 is `0b100`).
    pub rsv: u8,
    /// The frame type.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the front of `buf`: `Ok(None)` until all of it is there,
    /// then the header and its length in bytes.
    ///
    /// Only rules that need nothing but the header itself are checked here (opcode, control
    /// frame rules, the 64-bit length's top bit); RSV bits, masking direction and limits depend
    /// on the connection and are checked by the decoder.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let opcode = OpCode::try_from(b0 & 0x0F)?;
        let (fin, masked) = (b0 & 0x80 != 0, b1 & 0x80 != 0);
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(None),
            },
            127 => match rest.first_chunk::<8>() {
                Some(bytes) => (u64::from_be_bytes(*bytes), 8),
                None => return Ok(None),
            },
            short => (u64::from(short), 0),
        };
        // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
        if payload_len >> 63 != 0 {
            return Err(ProtocolError::LengthTooLong);
        }
        if opcode.is_control() {
            // RFC 6455 §5.5: control frames MUST NOT be fragmented, payload MUST be ≤ 125.
            if !fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if payload_len > 125 {
                return Err(ProtocolError::ControlTooLong(payload_len));
            }
        }
        let mask = if masked {
            match rest[len_bytes..].first_chunk::<4>() {
                Some(key) => Some(*key),
                None => return Ok(None),
            }
        } else {
            None
        };
        let header = Self {
            fin,
            rsv: (b0 >> 4) & 0x7,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, 2 + len_bytes + if masked { 4 } else { 0 })))
    }

    /// Writes the header into `dst` and returns how many bytes it took (2 to 14).
    /// The shortest length encoding is used, as RFC 6455 §5.2 requires.
    #[inline]
    pub fn encode(&self, dst: &mut [u8; MAX_HEADER_LEN]) -> usize {
        dst[0] = u8::from(self.fin) << 7 | (self.rsv & 0x7) << 4 | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        match self.payload_len {
            n @ 0..=125 => dst[1] = mask_bit | n as u8,
            n @ 126..=0xFFFF => {
                dst[1] = mask_bit | 126;
                dst[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                len = 4;
            }
            n => {
                dst[1] = mask_bit | 127;
                dst[2..10].copy_from_slice(&n.to_be_bytes());
                len = 10;
            }
        }
        if let Some(key) = self.mask {
            dst[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::parse(bytes)
    }

    fn header(opcode: OpCode, fin: bool, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: len,
        }
    }

    // The examples of RFC 6455 §5.7.
    #[test]
    fn rfc_single_frame_unmasked_text() {
        let (h, n) = parse(&[0x81, 0x05, 0x48, 0x65])
            .expect("valid")
            .expect("complete");
        assert_eq!((h, n), (header(OpCode::Text, true, 5, None), 2));
    }

    #[test]
    fn rfc_single_frame_masked_text() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = parse(&bytes).expect("valid").expect("complete");
        assert_eq!(
            (h.mask, h.payload_len, n),
            (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
        );
    }

    #[test]
    fn rfc_fragmented_text_headers() {
        let (first, _) = parse(&[0x01, 0x03]).expect("valid").expect("complete");
        let (last, _) = parse(&[0x80, 0x02]).expect("valid").expect("complete");
        assert_eq!(first, header(OpCode::Text, false, 3, None));
        assert_eq!(last, header(OpCode::Continuation, true, 2, None));
    }

    #[test]
    fn rfc_ping_and_pong() {
        let (ping, _) = parse(&[0x89, 0x05]).expect("valid").expect("complete");
        assert_eq!(ping, header(OpCode::Ping, true, 5, None));
        let (pong, _) = parse(&[0x8a, 0x85, 1, 2, 3, 4])
            .expect("valid")
            .expect("complete");
        assert_eq!(pong, header(OpCode::Pong, true, 5, Some([1, 2, 3, 4])));
    }

    #[test]
    fn rfc_256_bytes_and_64_kib_lengths() {
        let (h, n) = parse(&[0x82, 0x7E, 0x01, 0x00])
            .expect("valid")
            .expect("complete");
        assert_eq!((h.payload_len, n), (256, 4));
        let bytes = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        let (h, n) = parse(&bytes).expect("valid").expect("complete");
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let bytes = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9];
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(parse(&bytes).expect("valid").expect("complete").1, 14);
    }

    #[test]
    fn header_rules() {
        assert_eq!(parse(&[0x83, 0x00]), Err(ProtocolError::ReservedOpcode(3)));
        assert_eq!(
            parse(&[0x8B, 0x00]),
            Err(ProtocolError::ReservedOpcode(0xB))
        );
        assert_eq!(parse(&[0x09, 0x00]), Err(ProtocolError::FragmentedControl));
        assert_eq!(
            parse(&[0x89, 0x7E, 0x00, 0x7E]),
            Err(ProtocolError::ControlTooLong(126))
        );
        let huge = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(&huge), Err(ProtocolError::LengthTooLong));
        let (h, _) = parse(&[0xF1, 0x00]).expect("parsed").expect("complete");
        assert_eq!(h.rsv, 0b111, "RSV bits are reported, the decoder decides");
    }

    #[test]
    fn encode_round_trips_with_shortest_length() {
        for (len, size) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (1 << 40, 10),
        ] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let h = header(OpCode::Binary, true, len, mask);
                let mut buf = [0u8; MAX_HEADER_LEN];
                let n = h.encode(&mut buf);
                assert_eq!(n, size + if mask.is_some() { 4 } else { 0 });
                assert_eq!(parse(&buf[..n]), Ok(Some((h, n))));
            }
        }
    }
}
