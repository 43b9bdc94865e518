//! yawc's echo server, as its users write one: hyper's HTTP/1.1 server upgrades the request
//! with `WebSocket::upgrade_with_options` (permessage-deflate at `CompressionLevel::fast()`,
//! level 1 like ours), and each text or binary frame is sent back. The one crates.io WebSocket
//! library here that ships permessage-deflate: the peer of `echo --deflate`.

use std::io;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use yawc::frame::OpCode;
use yawc::{CompressionLevel, Options, WebSocket};

/// Serves forever.
pub(super) async fn echo(listener: TcpListener) -> io::Result<()> {
    super::accept_loop(listener, |tcp| async move {
        let service = service_fn(upgrade);
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades()
            .await;
    })
    .await
}

async fn upgrade(mut request: Request<Incoming>) -> yawc::Result<Response<Empty<Bytes>>> {
    let options = Options::default()
        .with_compression_level(CompressionLevel::fast())
        .with_max_payload_read(64 << 20);
    let (response, upgrading) = WebSocket::upgrade_with_options(&mut request, options)?;
    tokio::spawn(async move {
        let Ok(mut ws) = upgrading.await else {
            return;
        };
        while let Some(frame) = ws.next().await {
            if matches!(frame.opcode(), OpCode::Text | OpCode::Binary)
                && ws.send(frame).await.is_err()
            {
                return;
            }
        }
    });
    Ok(response)
}
