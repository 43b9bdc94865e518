//! Incremental UTF-8 validation for text messages.
//!
//! RFC 6455 §8.1: when an endpoint finds that a text message is not valid UTF-8 it MUST _Fail the
//! WebSocket Connection_. We check each piece of a text message as it arrives (a fragment, or part
//! of a frame still in flight), so a bad byte fails the connection at once instead of after the
//! whole message has been buffered. The standard library's validator does the work; this type
//! only carries an incomplete code point (at most 3 bytes) from one piece to the next.

/// Why a text payload is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

/// Validates a byte stream piece by piece.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// Bytes of a code point split across pieces (a valid prefix, up to 3 bytes).
    partial: [u8; 4],
    partial_len: usize,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece; `Err` as soon as the stream so far cannot be UTF-8.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Utf8Error> {
        if self.partial_len > 0 {
            data = self.complete_partial(data)?;
            if self.partial_len > 0 {
                return Ok(()); // still waiting for the rest of the code point
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the input ends inside a code point that may yet be valid.
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len();
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// Ends the stream: `Err` if it stopped inside a code point.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let incomplete = self.partial_len > 0;
        self.partial_len = 0;
        if incomplete { Err(Utf8Error) } else { Ok(()) }
    }

    /// Appends bytes from `data` to the carried code point; returns what is left of `data`.
    fn complete_partial<'a>(&mut self, data: &'a [u8]) -> Result<&'a [u8], Utf8Error> {
        let need = sequence_len(self.partial[0]).ok_or(Utf8Error)?;
        let take = (need - self.partial_len).min(data.len());
        self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&data[..take]);
        self.partial_len += take;
        match std::str::from_utf8(&self.partial[..self.partial_len]) {
            Ok(_) => self.partial_len = 0,
            Err(e) if e.error_len().is_none() => {}
            Err(_) => return Err(Utf8Error),
        }
        Ok(&data[take..])
    }
}

/// The length of the sequence a lead byte starts (None for a byte that cannot lead).
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed_all(pieces: &[&[u8]]) -> Result<(), Utf8Error> {
        let mut v = Utf8Validator::new();
        for p in pieces {
            v.feed(p)?;
        }
        v.finish()
    }

    #[test]
    fn code_point_split_everywhere() {
        let text = "κόσμε 🚀".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(
                feed_all(&[&text[..cut], &text[cut..]]),
                Ok(()),
                "cut at {cut}"
            );
        }
        let mut v = Utf8Validator::new();
        for b in text {
            v.feed(std::slice::from_ref(b)).expect("valid byte");
        }
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn fails_fast_on_first_bad_byte() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(v.feed(&[0xce, 0xba, 0xe1, 0xbd]), Ok(())); // ends inside a code point
        assert_eq!(v.feed(&[0xff]), Err(Utf8Error)); // bad continuation: fail now
    }

    #[test]
    fn rejects_surrogates_overlongs_and_out_of_range() {
        for bad in [
            &[0xed, 0xa0, 0x80][..],
            &[0xc0, 0xaf],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0x80],
        ] {
            assert_eq!(feed_all(&[bad]), Err(Utf8Error), "{bad:x?}");
            // The same bytes one at a time must fail too, and no later than the whole.
            let mut v = Utf8Validator::new();
            let failed = bad.iter().any(|b| v.feed(std::slice::from_ref(b)).is_err());
            assert!(failed || v.finish().is_err(), "{bad:x?}");
        }
    }

    #[test]
    fn truncated_stream_fails_at_finish() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xf0, 0x9f]), Ok(()));
        assert_eq!(v.finish(), Err(Utf8Error));
    }

    proptest! {
        #[test]
        fn agrees_with_std(data in proptest::collection::vec(any::<u8>(), 0..64),
                           cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut v = Utf8Validator::new();
            let mut start = 0;
            let mut ok = true;
            for c in cuts.into_iter().chain([data.len()]) {
                ok &= v.feed(&data[start..c]).is_ok();
                start = c;
                if !ok { break; }
            }
            ok = ok && v.finish().is_ok();
            prop_assert_eq!(ok, std::str::from_utf8(&data).is_ok());
        }
    }
}
