//! Password hashing: argon2id with a per-password random salt, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), so the parameters travel with each hash
//! and can be raised later without breaking the old ones.
//!
//! The cost is OWASP's first recommended setting for argon2id — 19 MiB of memory, 2 passes,
//! 1 lane — about 20–40 ms of one core here: slow enough that a stolen database costs an
//! attacker that much per guess, cheap enough that a burst of sign-ins is a few seconds of one
//! thread. It runs on the account workers, never under the hub's lock or on a runtime thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// argon2id's memory cost, in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// argon2id's passes over the memory.
pub const PASSES: u32 = 2;
/// argon2id's lanes.
pub const LANES: u32 = 1;

/// The hasher with the parameters above.
fn argon2() -> Argon2<'static> {
    // These constants are valid argon2 parameters; `Params::new` only refuses out-of-range ones.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string for `password`, with a fresh 16-byte salt from the operating system.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("hashing failed: {e}"))
}

/// Whether `password` matches `phc` (compared in constant time by `argon2`). A stored hash
/// that does not parse matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // The parameters come from the stored string, so old hashes keep working.
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification on nothing, so that a sign-in to an account that does
/// not exist takes as long as a wrong password (no telling which accounts exist by timing).
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not a password of anyone").unwrap_or_default());
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_their_password_only_and_are_salted() -> Result<(), String> {
        let one = hash("correct horse")?;
        let two = hash("correct horse")?;
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "each hash has its own salt");
        assert!(verify("correct horse", &one));
        assert!(verify("correct horse", &two));
        assert!(!verify("correct horsE", &one));
        assert!(!verify("correct horse", "not a hash"));
        assert!(
            !one.contains("correct"),
            "the hash never holds the password"
        );
        Ok(())
    }
}
