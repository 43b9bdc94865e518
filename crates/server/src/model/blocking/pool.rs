//! The `pool:N` model's workers: N threads fed through a queue of accepted connections.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};

use mio::net::TcpStream;

use super::STACK;
use super::conn::serve_one;
use crate::shared::Shared;

/// A fixed set of workers fed through a queue of accepted connections.
#[derive(Debug)]
pub(super) struct Pool {
    queue: mpsc::Sender<TcpStream>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    pub(super) fn start(
        size: usize,
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let (queue, inbox) = mpsc::channel::<TcpStream>();
        let inbox = Arc::new(Mutex::new(inbox));
        let workers = (0..size)
            .map(|i| {
                let (inbox, shared, stop) = (inbox.clone(), shared.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("rustchat-worker-{i}"))
                    .stack_size(STACK)
                    .spawn(move || {
                        let mut poller = None;
                        loop {
                            let next = inbox.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            match next {
                                Ok(tcp) => serve_one(tcp, &shared, &stop, &mut poller),
                                Err(_) => return, // queue closed: shutting down
                            }
                        }
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self { queue, workers })
    }

    pub(super) fn queue(&self, tcp: TcpStream) {
        let _ = self.queue.send(tcp);
    }

    /// Closes the queue (queued connections are still served) and waits for the workers.
    pub(super) fn join(self) {
        drop(self.queue);
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}
