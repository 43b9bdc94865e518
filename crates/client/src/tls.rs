//! TLS for `wss://` and `tls://`: whom the client trusts, and errors that say what failed and
//! what to do about it.
//!
//! By default the server's certificate must chain to one of Mozilla's root certificates
//! (`webpki-roots`, the same list browsers start from) and name the host connected to.
//! `--ca-file` trusts the certificates of one PEM file instead (a private CA, or a
//! self-signed certificate itself), like `curl --cacert`; `--insecure` checks nothing.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ConfigBuilder, DigitallySignedStruct, RootCertStore,
    SignatureScheme, WantsVerifier,
};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Whom to trust when connecting with TLS. Cheap to clone.
#[derive(Clone)]
pub struct Trust {
    config: Arc<ClientConfig>,
    insecure: bool,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// Why a `--ca-file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error(
        "{} holds no usable certificate ({detail}): expected PEM `-----BEGIN CERTIFICATE-----` blocks",
        path.display()
    )]
    Pem { path: PathBuf, detail: String },
}

impl Default for Trust {
    fn default() -> Self {
        Self::web_roots()
    }
}

impl Trust {
    /// Mozilla's root certificates (what public servers' certificates chain to).
    pub fn web_roots() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::with_roots(roots)
    }

    /// Only the certificates in the PEM file `path` (a CA, or a self-signed certificate).
    pub fn ca_file(path: &Path) -> Result<Self, TrustError> {
        let pem = std::fs::read(path).map_err(|error| TrustError::Read {
            path: path.to_owned(),
            error,
        })?;
        let fail = |detail: String| TrustError::Pem {
            path: path.to_owned(),
            detail,
        };
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("no CERTIFICATE block found".into()));
        }
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
        Ok(Self::with_roots(roots))
    }

    /// Trusts any certificate: the connection is encrypted but anyone on the path can read
    /// it by pretending to be the server. For tests against a server whose certificate you
    /// cannot get.
    pub fn insecure() -> Self {
        let verifier = Arc::new(AnyCertificate(provider()));
        let config = builder()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
            insecure: true,
        }
    }

    fn with_roots(roots: RootCertStore) -> Self {
        let config = builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
            insecure: false,
        }
    }

    /// Whether certificates go unchecked (`--insecure`).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// Runs the TLS handshake over `tcp` for `host`.
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| format!("`{host}` is not a host name or IP address"))?;
        TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| describe(&e, host))
    }
}

/// A client config builder with our provider and TLS 1.2 and 1.3.
fn builder() -> ConfigBuilder<ClientConfig, WantsVerifier> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider has cipher suites for TLS 1.2 and 1.3")
}

/// The crypto provider: ring with X25519 first, as the server's (see
/// `rustchat_server::tls::load::provider` for why not ring's own order, P-384 first).
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{default_provider, kx_group};
    Arc::new(CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..default_provider()
    })
}

/// A failed handshake as a person reads it: what failed, and what to do.
fn describe(error: &io::Error, host: &str) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return match error.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                "the server closed the connection during the TLS handshake — is TLS on there \
                 (rustchat serve --tls-cert … or --tls-self-signed)? Without it, use ws:// or tcp://"
                    .into()
            }
            _ => format!("TLS handshake failed: {error}"),
        };
    };
    use rustls::Error as E;
    match tls {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired — its operator must renew it \
                 (--insecure connects anyway, without any protection)"
                    .into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet — check this machine's clock".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server's certificate is not valid for `{host}` — connect with a name it \
                     was issued for"
                )
            }
            CertificateError::UnknownIssuer => {
                "the server's certificate is signed by an authority this client does not trust \
                 (self-signed?) — pass --ca-file with its CA's certificate (for `rustchat serve \
                 --tls-self-signed`: DATA_DIR/tls/self-signed-cert.pem), or --insecure to skip \
                 the check"
                    .into()
            }
            CertificateError::Revoked => "the server's certificate has been revoked".into(),
            other => format!("the server's certificate was refused: {other:?}"),
        },
        E::AlertReceived(alert) => format!("the server refused the TLS handshake ({alert:?})"),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the server did not answer in TLS — is TLS on there? Without it, use ws:// or tcp://"
                .into()
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

/// `--insecure`: any certificate is taken; handshake signatures are still checked (so the
/// handshake is sound), just not who signed the certificate.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
