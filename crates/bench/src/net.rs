//! Opening client connections: TCP (optionally from several loopback source addresses) and the
//! WebSocket opening handshake (our ws crate's sans-IO client handshake).

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use rustchat_ws::DeflateConfig;
use rustchat_ws::handshake::ClientHandshake;
use tokio::net::{TcpSocket, TcpStream};

use crate::tls::{Connector, Stream};
use crate::wire::{Framing, Inbox};

/// Opens connections to one server, spreading them over source addresses when asked.
///
/// Each source address has its own ~28,000 ephemeral ports; binding before connecting to
/// 127.0.0.2, .3, … (all of 127.0.0.0/8 is loopback on Linux) multiplies that.
#[derive(Debug)]
pub struct Dialer {
    target: SocketAddr,
    sources: Vec<IpAddr>,
    next: Cell<usize>,
    tls: Option<Connector>,
}

impl Dialer {
    /// A dialer for `target`; `source_addrs` > 1 applies to IPv4 loopback targets only.
    pub fn new(target: SocketAddr, source_addrs: u8) -> Self {
        let spread = source_addrs > 1 && target.ip().is_loopback() && target.is_ipv4();
        let sources = if spread {
            (1..=source_addrs)
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            target,
            sources,
            next: Cell::new(0),
            tls: None,
        }
    }

    /// Runs a TLS handshake on every connection (`--tls`), if given a connector.
    pub fn tls(mut self, tls: Option<Connector>) -> Self {
        self.tls = tls;
        self
    }

    /// The server's address.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Connects (with `TCP_NODELAY`, as every server under test sets too), then runs the TLS
    /// handshake if the dialer speaks TLS.
    pub async fn connect(&self) -> io::Result<Stream> {
        let tcp = self.connect_tcp().await?;
        match &self.tls {
            Some(tls) => tls.connect(tcp).await,
            None => Ok(Stream::Plain(tcp)),
        }
    }

    async fn connect_tcp(&self) -> io::Result<TcpStream> {
        let socket = if self.target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if !self.sources.is_empty() {
            let i = self.next.get();
            self.next.set(i.wrapping_add(1));
            socket.bind(SocketAddr::new(self.sources[i % self.sources.len()], 0))?;
        }
        let tcp = socket.connect(self.target).await?;
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }
}

/// Runs the WebSocket opening handshake for `/ws` (offering permessage-deflate with no
/// context takeover either way if `deflate`); frames that came with the answer stay in
/// `inbox`, which is switched to WebSocket framing (and to inflating, if the server took it).
pub async fn ws_upgrade(
    tcp: &mut Stream,
    target: SocketAddr,
    inbox: &mut Inbox,
    deflate: bool,
) -> anyhow::Result<()> {
    let mut offer = DeflateConfig::enabled()
        .no_context_takeover(true)
        .peer_no_context_takeover(true);
    offer.enabled = deflate;
    let handshake = ClientHandshake::builder(format!("ws://{target}/ws"))
        .deflate(offer)
        .build()?;
    tcp.send(&handshake.request()).await?;
    loop {
        if let Some((response, used)) = handshake
            .parse_response(inbox.pending())
            .context("the server refused the WebSocket upgrade")?
        {
            inbox.consume(used);
            inbox.set_framing(Framing::Ws);
            if response.deflate().is_some() {
                inbox.inflate();
            }
            return Ok(());
        }
        if inbox.fill(tcp).await? == 0 {
            bail!("the server closed the connection during the WebSocket handshake");
        }
    }
}
