use super::*;
use crate::config::{HistoryMode, ServerConfig};

/// What an idle connection costs is mostly its task: the future of `open` or of
/// `run_session`, whichever is bigger. 10,000 idle connections must fit in 4 KiB each
/// (issue 5), so these stay well under that — in a debug build, where futures are biggest.
#[test]
fn idle_task_stays_small() -> Result<(), Box<dyn std::error::Error>> {
    const BUDGET: usize = 1536;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let config = ServerConfig {
            history: HistoryMode::Memory,
            ..ServerConfig::default()
        };
        let (shared, _join) = Shared::open(config, None)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let _client = TcpStream::connect(listener.local_addr()?).await?;
        let (tcp, _) = listener.accept().await?;
        let session = crate::conn::driver::ws_session(&shared, None, None, b"");
        let peer = tcp.peer_addr()?;
        let running = run_session(Link::plain(tcp), peer, &shared, Box::new(session));
        let size = std::mem::size_of_val(&running);
        assert!(size <= BUDGET, "run_session's future is {size} bytes");
        drop(running);

        let _client = TcpStream::connect(listener.local_addr()?).await?;
        let (tcp, peer) = listener.accept().await?;
        let opening = open(tcp, peer, &shared);
        let size = std::mem::size_of_val(&opening);
        assert!(size <= BUDGET, "open's future is {size} bytes");
        Ok(())
    })
}

/// The last words to a client that reads nothing (an HTTP response, a goodbye, an error)
/// are given up after their time limit: such a client cannot keep its task forever.
#[test]
fn last_words_nobody_reads_are_given_up_in_time() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        client.set_recv_buffer_size(4096)?;
        client.connect(&listener.local_addr()?.into())?;
        let (server_side, _) = listener.accept()?;
        server_side.set_nonblocking(true)?;
        let tcp = TcpStream::from_std(server_side)?;
        // Far more than loopback buffers hold (a few MiB), so writing it must wait.
        let bytes = vec![b'x'; 32 << 20];
        let limit = Duration::from_millis(200);

        let started = Instant::now();
        let result = write_all(&tcp, &bytes, limit).await;
        let took = started.elapsed();
        assert_eq!(result.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut));
        assert!(took >= limit && took < limit * 4, "write_all took {took:?}");

        let mut out = Outbound::default();
        out.push_encoded(&bytes::Bytes::from(bytes));
        let started = Instant::now();
        finish(&tcp, &tcp, &mut out, limit).await;
        let took = started.elapsed();
        assert!(!out.is_empty(), "the write cannot have finished");
        // The grace, then at most half a second waiting for the client's end of the stream.
        assert!(
            took >= limit && took < limit + Duration::from_millis(1500),
            "finish took {took:?}"
        );
        drop(client);
        Ok(())
    })
}
