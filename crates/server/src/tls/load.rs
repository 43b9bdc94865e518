//! Loading a certificate chain and its private key from PEM files, with errors that name the
//! file and say what was wrong with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate and key could not be used. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM `CERTIFICATE` block, or a broken one.
    #[error(
        "{} holds no usable certificate ({detail}): expected PEM `-----BEGIN CERTIFICATE-----` blocks, the server's certificate first, then its chain",
        path.display()
    )]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The key file holds no PEM private key, or a broken one.
    #[error(
        "{} holds no usable private key ({detail}): expected one PEM `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` or `EC PRIVATE KEY` block",
        path.display()
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The key is not the certificate's, or its kind is not supported.
    #[error("{} cannot be used with {}: {detail}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        detail: String,
    },
}

/// A pair that loaded: the TLS settings made from it, and what the operator may want to know.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Settings for new handshakes.
    pub config: Arc<ServerConfig>,
    /// What the server's certificate says about itself.
    pub facts: CertFacts,
}

/// Facts about the server's (first) certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Its serial number, in hex.
    pub serial: String,
    /// When it expires, in seconds since the Unix epoch.
    pub not_after: i64,
    /// When it expires, as a date for people.
    pub expires: String,
    /// SHA-256 of its DER encoding, as colon-separated hex (what browsers show).
    pub fingerprint: String,
}

/// Reads `cert` (the server's certificate, then its chain) and `key`, and makes the TLS
/// settings for them: TLS 1.2 and 1.3, no client certificates, ALPN `http/1.1` when the client
/// asks for it.
pub fn load_pair(cert: &Path, key: &Path) -> Result<Loaded, LoadError> {
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LoadError::Certificate {
            path: cert.to_owned(),
            detail: e.to_string(),
        })?;
    let Some(first) = chain.first() else {
        return Err(LoadError::Certificate {
            path: cert.to_owned(),
            detail: "no CERTIFICATE block found".into(),
        });
    };
    let facts = cert_facts(first).map_err(|detail| LoadError::Certificate {
        path: cert.to_owned(),
        detail,
    })?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| LoadError::Key {
        path: key.to_owned(),
        detail: e.to_string(),
    })?;
    let config = server_config(chain, private).map_err(|e| LoadError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        detail: match e {
            rustls::Error::InconsistentKeys(_) => {
                "the private key does not belong to the certificate".into()
            }
            other => other.to_string(),
        },
    })?;
    Ok(Loaded {
        config: Arc::new(config),
        facts,
    })
}

/// The crypto provider every TLS config of ours uses: ring, passed explicitly, with X25519
/// as the preferred key exchange.
///
/// rustls 0.23.48 deprecated its ring provider because it has no post-quantum key exchange
/// (X25519MLKEM768 needs aws-lc-rs). We keep ring on purpose: aws-lc-rs needs a C toolchain
/// and CMake and adds minutes to every clean build, and X25519, P-256 and P-384 are what
/// ring offers and what every client we serve supports.
///
/// The ring provider's own default order puts P-384 first, which ring computes with generic
/// big-number code: profiled under `rustchat bench idle --tls`, P-384 was over half of the
/// server's CPU for each new connection. X25519 (what browsers offer first) costs a small
/// fraction of it, so it goes first, then P-256, then P-384.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{default_provider, kx_group};
    Arc::new(CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..default_provider()
    })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // Chosen only when the client offers it (browsers do); a client that offers no ALPN at
    // all (openssl s_client, most libraries) is served as well.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Serial, expiry and fingerprint of a DER certificate.
pub fn cert_facts(der: &CertificateDer<'_>) -> Result<CertFacts, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    Ok(CertFacts {
        serial: parsed.tbs_certificate.raw_serial_as_string(),
        not_after: parsed.validity().not_after.timestamp(),
        expires: parsed.validity().not_after.to_string(),
        fingerprint: hex_colons(digest.as_ref()),
    })
}

fn hex_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate for `localhost` with a fresh key of `alg`, written to `dir` as
    /// `NAME-cert.pem` and `NAME-key.pem`.
    fn pair(
        dir: &Path,
        name: &str,
        alg: &'static rcgen::SignatureAlgorithm,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let key = rcgen::KeyPair::generate_for(alg).expect("a key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("a certificate");
        let (cert_path, key_path) = (
            dir.join(format!("{name}-cert.pem")),
            dir.join(format!("{name}-key.pem")),
        );
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        (cert_path, key_path)
    }

    #[test]
    fn ecdsa_and_ed25519_keys_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, alg) in [
            ("p256", &rcgen::PKCS_ECDSA_P256_SHA256),
            ("p384", &rcgen::PKCS_ECDSA_P384_SHA384),
            ("ed25519", &rcgen::PKCS_ED25519),
        ] {
            let (cert, key) = pair(dir.path(), name, alg);
            let loaded = load_pair(&cert, &key).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(loaded.facts.fingerprint.len(), 32 * 3 - 1, "{name}");
            assert_eq!(
                loaded.config.alpn_protocols,
                vec![b"http/1.1".to_vec()],
                "{name}"
            );
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, _) = pair(dir.path(), "one", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, other_key) = pair(dir.path(), "two", &rcgen::PKCS_ECDSA_P256_SHA256);
        let err = load_pair(&cert, &other_key).expect_err("a mismatch");
        let text = err.to_string();
        assert!(matches!(err, LoadError::Mismatch { .. }), "{text}");
        assert!(
            text.contains("does not belong to the certificate"),
            "{text}"
        );
        assert!(
            text.contains("one-cert.pem") && text.contains("two-key.pem"),
            "{text}"
        );
    }

    #[test]
    fn broken_and_missing_files_say_which_and_what_was_expected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = pair(dir.path(), "good", &rcgen::PKCS_ECDSA_P256_SHA256);
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello\n").expect("write");

        let no_cert = load_pair(&junk, &key).expect_err("no certificate");
        assert!(
            matches!(no_cert, LoadError::Certificate { .. }),
            "{no_cert}"
        );
        assert!(
            no_cert.to_string().contains("BEGIN CERTIFICATE"),
            "{no_cert}"
        );

        let no_key = load_pair(&cert, &junk).expect_err("no key");
        assert!(matches!(no_key, LoadError::Key { .. }), "{no_key}");
        assert!(no_key.to_string().contains("PRIVATE KEY"), "{no_key}");

        let missing = load_pair(&dir.path().join("nope.pem"), &key).expect_err("missing");
        assert!(missing.to_string().starts_with("cannot read "), "{missing}");
        assert!(missing.to_string().contains("nope.pem"), "{missing}");
    }

    #[test]
    fn x25519_is_offered_first() {
        let groups: Vec<_> = provider().kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups.first(),
            Some(&rustls::NamedGroup::X25519),
            "{groups:?}"
        );
    }
}
