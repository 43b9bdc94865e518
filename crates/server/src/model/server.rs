//! Starting and stopping a server: bind the listeners, open the history, run a model.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use crate::config::{HistoryMode, Model, ServerConfig};
use crate::data_dir::{DataDirError, DataDirLock};
use crate::fanout::committer::CommitterJoin;
use crate::history::HistoryError;
use crate::model::listener;
use crate::model::{blocking, tasks};
use crate::shared::Shared;
use crate::tls::{Tls, TlsError};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listening socket could not be made.
    #[error("{0}")]
    Listen(std::io::Error),
    /// The history database could not be opened.
    #[error("cannot open the history: {0}")]
    History(#[from] HistoryError),
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// Another server holds the data directory, or it cannot be locked.
    #[error("{0}")]
    DataDir(#[from] DataDirError),
    /// TLS was asked for and its certificate or key cannot be used.
    #[error("cannot serve TLS: {0}")]
    Tls(#[from] TlsError),
}

/// A server running on its own threads.
#[derive(Debug)]
pub struct RunningServer {
    addrs: Vec<SocketAddr>,
    /// The async model's stop signal.
    stop: watch::Sender<bool>,
    /// The blocking models' stop flag.
    stop_flag: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Looks at the TLS files every second (when TLS is on).
    tls_watch: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    history: Option<CommitterJoin>,
    /// Held until the history is closed (file history only).
    data_dir: Option<DataDirLock>,
}

/// Binds every `--listen` address, opens the history and starts serving. Returns once the
/// sockets listen, so a client may connect at once.
pub fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    // First: a server that must not run learns it before it binds or opens anything.
    let data_dir = match config.history {
        HistoryMode::File => Some(DataDirLock::acquire(&config.data_dir)?),
        HistoryMode::Memory => None,
    };
    let tls = config
        .tls
        .as_ref()
        .map(|tls| Tls::start(tls, &config.data_dir))
        .transpose()?;
    let listeners = config
        .listen
        .iter()
        .map(|addr| listener::bind(*addr, config.backlog))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StartError::Listen)?;
    let addrs = listeners
        .iter()
        .map(std::net::TcpListener::local_addr)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StartError::Listen)?;
    let model = config.model;
    let (shared, history) = Shared::open(config, tls)?;
    let (stop, stopped) = watch::channel(false);
    let stop_flag = Arc::new(AtomicBool::new(false));
    let serving = shared.clone();
    let thread = match model {
        Model::Async => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("rustchat-io")
                .build()
                .map_err(StartError::Runtime)?;
            std::thread::Builder::new()
                .name("rustchat-async".into())
                .spawn(move || {
                    if let Err(e) = runtime.block_on(tasks::serve(serving, listeners, stopped)) {
                        tracing::error!("server stopped: {e}");
                    }
                })
        }
        Model::Blocking(blocking) => {
            let flag = stop_flag.clone();
            std::thread::Builder::new()
                .name("rustchat-accept".into())
                .spawn(move || {
                    if let Err(e) = blocking::serve(serving, listeners, blocking, flag) {
                        tracing::error!("server stopped: {e}");
                    }
                })
        }
    }
    .map_err(StartError::Runtime)?;
    let tls_watch = match shared.tls {
        Some(_) => {
            Some(watch_tls_files(shared.clone(), stop_flag.clone()).map_err(StartError::Runtime)?)
        }
        None => None,
    };
    Ok(RunningServer {
        addrs,
        stop,
        stop_flag,
        thread: Some(thread),
        tls_watch,
        shared,
        history: Some(history),
        data_dir,
    })
}

/// How often the TLS certificate and key files are looked at for changes.
const TLS_WATCH: Duration = Duration::from_secs(1);

/// Reloads the TLS pair whenever its files change, until `stop`.
fn watch_tls_files(shared: Arc<Shared>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("rustchat-tls-watch".into())
        .spawn(move || {
            let step = Duration::from_millis(100);
            let mut waited = Duration::ZERO;
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(step);
                waited += step;
                if waited >= TLS_WATCH {
                    waited = Duration::ZERO;
                    if let Some(tls) = &shared.tls {
                        // Logged and counted inside; a failure keeps the pair in use.
                        let _ = tls.reload_if_changed();
                    }
                }
            }
        })
}

impl RunningServer {
    /// The server's TLS state, when TLS is on: [`Tls::reload`] on `SIGHUP`.
    pub fn tls(&self) -> Option<&Tls> {
        self.shared.tls.as_ref()
    }

    /// The addresses it listens on (with the ports the OS chose for `:0`).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The `/metrics` text, for tests and tools.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics_text()
    }

    /// Graceful shutdown: stop accepting, tell every client goodbye (WebSocket close 1001, a
    /// `BYE` line), let them flush within the grace period, commit the history, return.
    pub fn shutdown(mut self) -> Result<(), HistoryError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), HistoryError> {
        let _ = self.stop.send(true);
        self.stop_flag.store(true, Ordering::Release);
        self.shared.registry.shut_down_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(watch) = self.tls_watch.take() {
            let _ = watch.join();
        }
        self.shared.shutdown_history();
        let closed = match self.history.take() {
            Some(history) => history.join().map(|_| ()),
            None => Ok(()),
        };
        // The history is closed: another server may have the directory now.
        self.data_dir.take();
        closed
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_join() {
            tracing::error!("history did not close cleanly: {e}");
        }
    }
}
