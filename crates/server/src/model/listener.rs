//! The listening socket, made step by step with socket2 the way the Berkeley sockets API
//! spells it: socket → `SO_REUSEADDR` → `TCP_NODELAY` → bind → listen(backlog). Every model
//! accepts from it.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Whether accepted sockets inherit `TCP_NODELAY` from the listener (Linux copies the
/// listener's options into each accepted socket), saving a `setsockopt` per connection.
pub(crate) const NODELAY_INHERITED: bool = cfg!(target_os = "linux");

/// Opens a listening TCP socket on `addr` with room for `backlog` pending connections.
///
/// `SO_REUSEADDR` lets a restarted server bind at once even while connections of the previous
/// run linger in TIME_WAIT. An IPv6 address listens on IPv6 only, so `[::]` and `0.0.0.0` can be
/// given side by side. `TCP_NODELAY`: chat lines and frames are written whole, so nothing is
/// gained by holding them back (Nagle's algorithm) and latency is lost.
pub(crate) fn bind(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into()).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot listen on {addr}: {e} (is another server running there? pick another with --listen)"))
    })?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_an_ephemeral_port_and_accepts() {
        let listener = bind("127.0.0.1:0".parse().expect("address"), 16).expect("bind");
        let addr = listener.local_addr().expect("local address");
        assert_ne!(addr.port(), 0);
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        let (server_side, peer) = listener.accept().expect("accept");
        assert!(peer.ip().is_loopback());
        if NODELAY_INHERITED {
            assert!(server_side.nodelay().expect("TCP_NODELAY"), "not inherited");
        }
    }

    #[test]
    fn a_taken_port_is_a_clear_error() {
        let first = bind("127.0.0.1:0".parse().expect("address"), 16).expect("bind");
        let addr = first.local_addr().expect("local address");
        let err = bind(addr, 16).expect_err("the port is taken");
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}
