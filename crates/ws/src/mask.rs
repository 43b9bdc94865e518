//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is XOR-ed with a 4-byte key; the server undoes it. The same
//! function masks and unmasks. It runs over every payload byte a server receives, so it works
//! eight bytes at a time on `u64` words (which LLVM turns into SIMD) instead of byte by byte.

/// XORs `buf` with the repeating 4-byte `key`, starting `offset` bytes into the key stream.
///
/// `offset` lets a payload be unmasked in pieces as it arrives: pass the number of payload
/// bytes already unmasked.
///
/// ```
/// use rustchat_ws::mask::apply_mask;
/// // RFC 6455 §5.7: "Hello", masked with 37 fa 21 3d.
/// let mut data = *b"\x7f\x9f\x4d\x51\x58";
/// apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(&data, b"Hello");
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // The word loop consumed a multiple of 8 (so of 4) bytes: the key phase is unchanged.
    let mut rest = chunks.into_remainder();
    if rest.len() >= 4 {
        let (word, tail) = rest.split_at_mut(4);
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u32::from_ne_bytes(bytes) ^ u32::from_ne_bytes(key)).to_ne_bytes());
        rest = tail;
    }
    for (byte, k) in rest.iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// The byte-at-a-time definition, kept as the reference the fast path is tested against.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(i + offset) & 3];
    }
}

/// The key as seen from `offset` bytes into the key stream.
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian: the byte at index 1 is bits 8..16, so rotating the bytes left by one is
    // rotating the number right by 8 bits. One instruction instead of a slice rotation.
    u32::from_le_bytes(key)
        .rotate_right(8 * (offset & 3) as u32)
        .to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_example_hello() {
        let mut data = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&data, b"Hello");
    }

    #[test]
    fn masking_twice_restores() {
        let original: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut data = original.clone();
        apply_mask(&mut data, [1, 2, 3, 4], 0);
        assert_ne!(data, original);
        apply_mask(&mut data, [1, 2, 3, 4], 0);
        assert_eq!(data, original);
    }

    proptest! {
        #[test]
        fn fast_path_matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..200),
                                      key in any::<[u8; 4]>(), offset in 0usize..16) {
            let mut fast = data.clone();
            let mut slow = data;
            apply_mask(&mut fast, key, offset);
            apply_mask_bytewise(&mut slow, key, offset);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn pieces_match_whole(data in proptest::collection::vec(any::<u8>(), 0..200),
                              key in any::<[u8; 4]>(), cut in 0usize..200) {
            let cut = cut.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut pieces = data;
            let (a, b) = pieces.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            prop_assert_eq!(whole, pieces);
        }
    }
}
