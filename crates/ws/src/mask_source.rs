//! Mask keys for client frames, from the operating system's CSPRNG.
//!
//! RFC 6455 §5.3: the masking key MUST be unpredictable, from a strong source of entropy.
//! Asking the OS for 4 bytes per frame would be a system call per frame, so keys are drawn
//! from a 256-byte pool (64 keys) refilled from `getrandom`.

/// A pool of random mask keys.
#[derive(Debug)]
pub(crate) struct MaskSource {
    pool: [u8; 256],
    next: usize,
}

impl Default for MaskSource {
    fn default() -> Self {
        Self {
            pool: [0; 256],
            next: 256,
        }
    }
}

impl MaskSource {
    /// The next key.
    pub(crate) fn next_key(&mut self) -> [u8; 4] {
        if self.next + 4 > self.pool.len() {
            self.refill();
        }
        let mut key = [0u8; 4];
        key.copy_from_slice(&self.pool[self.next..self.next + 4]);
        self.next += 4;
        key
    }

    fn refill(&mut self) {
        if let Err(e) = getrandom::fill(&mut self.pool) {
            // The OS random source does not fail on supported platforms once the kernel is
            // seeded; if it ever does, masking with predictable keys would break RFC 6455 §10.3
            // quietly, so stop loudly instead.
            panic!("the operating system's random number generator failed: {e}");
        }
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_refill() {
        let mut source = MaskSource::default();
        let keys: Vec<[u8; 4]> = (0..200).map(|_| source.next_key()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert!(distinct.len() > 190, "random 32-bit keys rarely repeat");
    }
}
