//! TLS on the chat port: `https://`, `wss://` and the TLS line protocol, beside plaintext.
//!
//! A connection whose first byte is `0x16` (a TLS handshake record) is TLS; the opening drives
//! its handshake sans-IO ([`handshake`]) and then detects HTTP or the line protocol in the
//! plaintext, as it does on a plaintext connection. The session then reads and writes through
//! a [`Link`](stream::Link), the transport seam's TLS implementation, so sessions, the hub
//! and the fan-out (write-through included) are the same for both.
//!
//! The certificate and key are loaded at start ([`load`]) and again on `SIGHUP` and whenever
//! their files change ([`Tls::reload_if_changed`], looked at every second): new handshakes
//! get the new pair, open connections keep theirs, and a pair that fails to load leaves the
//! old one in use. `--tls-self-signed` makes a pair for `localhost` once and keeps it in the
//! data directory ([`self_signed`]).

pub mod handshake;
pub mod load;
pub mod self_signed;
pub mod session;
pub(crate) mod stream;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::ServerConfig;

use handshake::Failure;
pub use load::{CertFacts, LoadError, Loaded};
use self_signed::SelfSignedError;

/// TLS settings (`--tls-cert`/`--tls-key` or `--tls-self-signed`, and `--plaintext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Where the certificate comes from.
    pub identity: Identity,
    /// Who may still speak plaintext on the port.
    pub plaintext: Plaintext,
}

/// The server's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// PEM files: the certificate (then its chain) and the private key.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key (PKCS#8, RSA or SEC1; RSA, ECDSA or Ed25519).
        key: PathBuf,
    },
    /// A self-signed certificate for `localhost`, made once and kept in the data directory.
    SelfSigned,
}

/// Who may connect without TLS while TLS is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaintext {
    /// Anyone.
    Allow,
    /// Loopback addresses only (a proxy or a person on the machine itself); the default.
    Loopback,
    /// Nobody.
    Refuse,
}

impl Plaintext {
    /// Parses `allow`, `loopback` or `refuse`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "allow" => Ok(Self::Allow),
            "loopback" => Ok(Self::Loopback),
            "refuse" => Ok(Self::Refuse),
            other => Err(format!(
                "unknown plaintext policy {other:?}: expected allow, loopback or refuse"
            )),
        }
    }

    /// Whether a plaintext connection from `ip` is served.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            Self::Allow => true,
            Self::Loopback => ip.is_loopback() || ip.to_canonical().is_loopback(),
            Self::Refuse => false,
        }
    }
}

/// Why TLS could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The pair did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The self-signed pair could not be made.
    #[error(transparent)]
    SelfSigned(#[from] SelfSignedError),
}

/// The pair in use and when its files were last looked at.
#[derive(Debug)]
struct Current {
    config: Arc<ServerConfig>,
    facts: CertFacts,
}

/// The server's TLS state: the pair new handshakes get, its files, and its counters.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    /// Whether the pair was made by the server (`--tls-self-signed`).
    self_signed: bool,
    /// Whether the self-signed pair was made at this start (not found from an earlier one).
    made_now: bool,
    plaintext: Plaintext,
    current: RwLock<Current>,
    /// Modification times of (cert, key) when a load was last tried.
    tried: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
    metrics: TlsMetrics,
}

impl Tls {
    /// Loads the pair `config` names (making the self-signed one under `data_dir` if asked).
    pub fn start(config: &TlsConfig, data_dir: &Path) -> Result<Self, TlsError> {
        let (cert, key, self_signed, made_now) = match &config.identity {
            Identity::Files { cert, key } => (cert.clone(), key.clone(), false, false),
            Identity::SelfSigned => {
                let (cert, key, made) = self_signed::ensure(data_dir)?;
                (cert, key, true, made)
            }
        };
        let stamps = stamps(&cert, &key);
        let Loaded { config: tls, facts } = load::load_pair(&cert, &key)?;
        Ok(Self {
            cert,
            key,
            self_signed,
            made_now,
            plaintext: config.plaintext,
            current: RwLock::new(Current { config: tls, facts }),
            tried: Mutex::new(stamps),
            metrics: TlsMetrics::default(),
        })
    }

    /// The settings a handshake starting now gets.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.read().config.clone()
    }

    /// What the certificate in use says about itself.
    pub fn facts(&self) -> CertFacts {
        self.read().facts.clone()
    }

    /// The certificate and key files.
    pub fn files(&self) -> (&Path, &Path) {
        (&self.cert, &self.key)
    }

    /// Whether the server made the pair itself, and whether it did so at this start.
    pub fn self_signed(&self) -> Option<bool> {
        self.self_signed.then_some(self.made_now)
    }

    /// Whether a plaintext connection from `ip` is served.
    pub fn allows_plaintext(&self, ip: IpAddr) -> bool {
        self.plaintext.allows(ip)
    }

    /// Loads the files again: new handshakes get the new pair; on failure the pair in use
    /// stays. Either way it is logged and counted.
    pub fn reload(&self) -> Result<CertFacts, LoadError> {
        *self.tried.lock().unwrap_or_else(|p| p.into_inner()) = stamps(&self.cert, &self.key);
        match load::load_pair(&self.cert, &self.key) {
            Ok(Loaded { config, facts }) => {
                tracing::info!(
                    serial = %facts.serial,
                    fingerprint = %facts.fingerprint,
                    "TLS: new handshakes get the certificate loaded from {} (open connections keep theirs)",
                    self.cert.display()
                );
                let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
                *current = Current {
                    config,
                    facts: facts.clone(),
                };
                self.metrics.reloads.fetch_add(1, Relaxed);
                Ok(facts)
            }
            Err(e) => {
                tracing::error!("TLS: the certificate in use stays: {e}");
                self.metrics.failed_reloads.fetch_add(1, Relaxed);
                Err(e)
            }
        }
    }

    /// [`reload`](Self::reload)s if either file's modification time changed since the last
    /// try; `None` if neither did.
    pub fn reload_if_changed(&self) -> Option<Result<CertFacts, LoadError>> {
        let now = stamps(&self.cert, &self.key);
        let changed = *self.tried.lock().unwrap_or_else(|p| p.into_inner()) != now;
        changed.then(|| self.reload())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A handshake finished.
    pub(crate) fn handshake_done(&self) {
        self.metrics.handshakes.fetch_add(1, Relaxed);
    }

    /// A handshake failed.
    pub(crate) fn handshake_failed(&self, failure: Failure) {
        self.metrics.failed[failure as usize].fetch_add(1, Relaxed);
    }

    /// A plaintext connection was refused (`--plaintext`).
    pub(crate) fn plaintext_refused(&self) {
        self.metrics.plaintext_refused.fetch_add(1, Relaxed);
    }

    /// Appends the TLS metrics to a `/metrics` text.
    pub(crate) fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let _ = writeln!(
            out,
            "# HELP rustchat_tls_handshakes_total TLS handshakes, by result (ok, or why they failed).\n\
             # TYPE rustchat_tls_handshakes_total counter\n\
             rustchat_tls_handshakes_total{{result=\"ok\"}} {}",
            m.handshakes.load(Relaxed)
        );
        for failure in Failure::ALL {
            let _ = writeln!(
                out,
                "rustchat_tls_handshakes_total{{result=\"{}\"}} {}",
                failure.label(),
                m.failed[failure as usize].load(Relaxed)
            );
        }
        let expiry = self.read().facts.not_after;
        let rows = [
            (
                "rustchat_tls_certificate_expiry_seconds",
                "When the certificate in use expires, in seconds since the Unix epoch.",
                "gauge",
                u64::try_from(expiry).unwrap_or(0),
            ),
            (
                "rustchat_tls_reloads_total",
                "Certificate reloads that took effect (SIGHUP or changed files).",
                "counter",
                m.reloads.load(Relaxed),
            ),
            (
                "rustchat_tls_failed_reloads_total",
                "Certificate reloads refused (the pair in use stayed).",
                "counter",
                m.failed_reloads.load(Relaxed),
            ),
            (
                "rustchat_tls_plaintext_refusals_total",
                "Plaintext connections refused by --plaintext.",
                "counter",
                m.plaintext_refused.load(Relaxed),
            ),
        ];
        for (name, help, kind, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
}

#[derive(Debug, Default)]
struct TlsMetrics {
    handshakes: AtomicU64,
    failed: [AtomicU64; Failure::ALL.len()],
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
    plaintext_refused: AtomicU64,
}

fn stamps(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}
