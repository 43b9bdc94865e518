//! `--tls-self-signed`: a certificate for trying TLS out, made once with rcgen and kept in the
//! data directory, so a browser told to trust it keeps trusting it across restarts.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use super::load::load_pair;

/// Names the certificate is made for.
const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A certificate that expires within this long is made anew at start.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The self-signed pair's files under `data_dir`.
pub fn paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (
        dir.join("self-signed-cert.pem"),
        dir.join("self-signed-key.pem"),
    )
}

/// Why no self-signed certificate could be had.
#[derive(Debug, thiserror::Error)]
pub enum SelfSignedError {
    /// The files could not be written.
    #[error("cannot write the self-signed certificate to {}: {source}", path.display())]
    Write {
        /// Where.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// rcgen failed.
    #[error("cannot make a self-signed certificate: {0}")]
    Make(#[from] rcgen::Error),
}

/// Makes the self-signed pair under `data_dir` unless a usable one is there (it loads and has
/// more than 30 days left). Returns its paths and whether it was made now.
pub fn ensure(data_dir: &Path) -> Result<(PathBuf, PathBuf, bool), SelfSignedError> {
    let (cert, key) = paths(data_dir);
    if let Ok(loaded) = load_pair(&cert, &key) {
        let renew_at = now_secs() + RENEW_BEFORE.as_secs() as i64;
        if loaded.facts.not_after > renew_at {
            return Ok((cert, key, false));
        }
    }
    let (cert_pem, key_pem) = make()?;
    let dir = cert.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(dir).map_err(|source| SelfSignedError::Write {
        path: dir.to_owned(),
        source,
    })?;
    write_private(&key, key_pem.as_bytes())?;
    std::fs::write(&cert, cert_pem).map_err(|source| SelfSignedError::Write {
        path: cert.clone(),
        source,
    })?;
    Ok((cert, key, true))
}

/// A fresh certificate and key for [`NAMES`], valid from the start of this year for two years,
/// as PEM.
pub fn make() -> Result<(String, String), rcgen::Error> {
    // Names that parse as IP addresses become IP address SANs.
    let mut params = CertificateParams::new(NAMES.map(str::to_owned).to_vec())?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, "rustchat self-signed (localhost)");
    params.distinguished_name = subject;
    let year = 1970 + (now_secs() / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes the key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SelfSignedError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |source| SelfSignedError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key, made) = ensure(dir.path()).expect("made");
        assert!(made);
        let first = load_pair(&cert, &key).expect("loads").facts;
        assert!(first.not_after > now_secs() + 300 * 24 * 3600, "{first:?}");
        let (_, _, made_again) = ensure(dir.path()).expect("kept");
        assert!(!made_again, "a usable pair is kept across restarts");
        let second = load_pair(&cert, &key).expect("loads").facts;
        assert_eq!(first, second);
        let mode = std::fs::metadata(&key).expect("key").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
            0,
            "the key is private"
        );
    }

    #[test]
    fn a_broken_pair_is_made_anew() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, _, _) = ensure(dir.path()).expect("made");
        std::fs::write(&cert, "not a certificate").expect("broken");
        let (_, _, made) = ensure(dir.path()).expect("made again");
        assert!(made);
    }
}
