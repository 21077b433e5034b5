//! A TCP proxy that can cut the network path to a service and restore it:
//! every open connection is dropped and new ones are closed on accept,
//! as a broken link or a service restart looks to a client.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

pub struct FaultProxy {
    addr: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    accept: JoinHandle<()>,
    from_target: Arc<AtomicU64>,
}

impl FaultProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(watch::channel(false).0);
        let from_target = Arc::new(AtomicU64::new(0));
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            cut.clone(),
            from_target.clone(),
        ));
        Self {
            addr,
            cut,
            accept,
            from_target,
        }
    }

    /// Bytes the target has sent back so far, over every connection: how
    /// much a client asked of it (each Postgres query costs its answer).
    pub fn bytes_from_target(&self) -> u64 {
        self.from_target.load(Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Drops every connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Ends the copying tasks too.
        self.cut.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    from_target: Arc<AtomicU64>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *cut.borrow() {
            drop(client);
            continue;
        }
        let mut cut = cut.subscribe();
        let from_target = from_target.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let uncounted = Arc::new(AtomicU64::new(0));
            tokio::select! {
                _ = async {
                    tokio::join!(
                        copy(&mut client_read, &mut server_write, &uncounted),
                        copy(&mut server_read, &mut client_write, &from_target),
                    )
                } => {}
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}

/// Copies until either side closes, adding what it copied to `counted`.
async fn copy(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    counted: &AtomicU64,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
        counted.fetch_add(read as u64, Ordering::SeqCst);
    }
    let _ = to.shutdown().await;
}
