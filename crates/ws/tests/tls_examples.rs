//! The TLS examples, run: `examples/wss-echo-server.rs` with `examples/wss-client.rs` (tokio,
//! tokio-rustls), and `examples/blocking-wss.rs` (rustls' `StreamOwned`). Their code is
//! included here as it is, so what the documentation shows is what is tested.

#![cfg(feature = "tokio")]

#[path = "../examples/wss-echo-server.rs"]
#[allow(dead_code, unreachable_pub)]
mod wss_echo_server;

#[path = "../examples/wss-client.rs"]
#[allow(dead_code, unreachable_pub)]
mod wss_client;

#[path = "../examples/blocking-wss.rs"]
#[allow(dead_code, unreachable_pub)]
mod blocking_wss;

use std::time::Duration;

use rustchat_ws::Message;

const LIMIT: Duration = Duration::from_secs(10);

/// The wss echo example serving on a port of its own with a fresh self-signed certificate
/// (on the caller's runtime); the port and the certificate's PEM.
async fn start_example_server() -> (u16, String) {
    let (cert, key) = wss_echo_server::self_signed().expect("a certificate");
    let acceptor = wss_echo_server::acceptor(cert.as_bytes(), key.as_bytes()).expect("TLS");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(wss_echo_server::serve(listener, acceptor));
    (port, cert)
}

#[test]
fn the_tokio_wss_examples_echo() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (port, cert) = start_example_server().await;
        let connector = wss_client::connector(cert.as_bytes()).expect("trust");
        let talk = async {
            let url = format!("wss://localhost:{port}/");
            let mut ws = wss_client::connect(&url, &connector)
                .await
                .expect("connects");
            for text in ["hello over wss", "", "✓ 🚀"] {
                ws.send(Message::text(text)).await.expect("send");
                let echo = ws.recv().await.expect("recv").expect("an echo");
                assert_eq!(echo.as_text(), Some(text));
            }
            let big = vec![7u8; 200_000];
            ws.send(Message::binary(big.clone())).await.expect("send");
            let echo = ws.recv().await.expect("recv").expect("an echo");
            assert_eq!(echo.payload().as_ref(), big.as_slice());
            ws.close(None).await.expect("close");
            while ws.recv().await.expect("the close").is_some() {}
        };
        tokio::time::timeout(LIMIT, talk)
            .await
            .expect("within the limit");
    });
}

#[test]
fn the_tokio_client_refuses_a_certificate_it_does_not_trust() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (port, _) = start_example_server().await;
        let (other, _) = wss_echo_server::self_signed().expect("another certificate");
        let connector = wss_client::connector(other.as_bytes()).expect("trust");
        let url = format!("wss://localhost:{port}/");
        let refused = tokio::time::timeout(LIMIT, wss_client::connect(&url, &connector))
            .await
            .expect("within the limit");
        let err = match refused {
            Ok(_) => panic!("an untrusted certificate must be refused"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
            "{err}"
        );
    });
}

#[test]
fn the_blocking_wss_example_echoes() {
    let (server, client) = blocking_wss::configs().expect("TLS settings");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let thread = std::thread::spawn(move || {
        blocking_wss::serve_one(&listener, server).map_err(|e| e.to_string())
    });
    let echo = blocking_wss::echo_once(port, client, "hello over wss, blocking").expect("echo");
    assert_eq!(echo, "hello over wss, blocking");
    thread.join().expect("the server thread").expect("served");
}
