//! A TCP proxy of ours on loopback, in front of an RPC endpoint: it can be cut (listener closed,
//! live connections dropped) and restored on the same port, and it counts HTTP requests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub port: u16,
    upstream: SocketAddr,
    requests: Arc<AtomicU64>,
    task: Option<JoinHandle<()>>,
}

/// Counts "POST " request lines flowing upstream (JSON-RPC over HTTP is POST only).
fn count_posts(buf: &[u8]) -> u64 {
    buf.windows(5).filter(|w| w == b"POST ").count() as u64
}

async fn pipe(client: TcpStream, upstream: SocketAddr, requests: Arc<AtomicU64>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            requests.fetch_add(count_posts(&buf[..n]), Ordering::Relaxed);
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mut p = Proxy {
            port,
            upstream,
            requests: Arc::new(AtomicU64::new(0)),
            task: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let (upstream, requests) = (self.upstream, self.requests.clone());
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.spawn(pipe(c, upstream, requests.clone()));
            }
            // Dropping the JoinSet (on abort) drops every live connection.
        }));
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Closes the port and drops every connection.
    pub async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind proxy");
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
