//! A TCP proxy that can cut the network path to a service and restore it:
//! every open connection is dropped and new ones are closed on accept,
//! as a broken link or a service restart looks to a client.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

pub struct FaultProxy {
    addr: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(watch::channel(false).0);
        let accept = tokio::spawn(accept_loop(listener, target, cut.clone()));
        Self { addr, cut, accept }
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

async fn accept_loop(listener: TcpListener, target: SocketAddr, cut: Arc<watch::Sender<bool>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *cut.borrow() {
            drop(client);
            continue;
        }
        let mut cut = cut.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(target).await else {
                return;
            };
            let mut client = client;
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}
