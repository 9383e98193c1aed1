//! A TCP proxy of ours on loopback, in front of an RPC endpoint: it can be cut (listener closed,
//! live connections dropped) and restored on the same port, and it counts HTTP requests and the
//! JSON-RPC methods they call.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub port: u16,
    upstream: SocketAddr,
    counts: Arc<Counts>,
    task: Option<JoinHandle<()>>,
}

/// What went upstream: HTTP requests, and JSON-RPC calls by method.
#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    methods: Mutex<HashMap<String, u64>>,
}

/// Counts "POST " request lines flowing upstream (JSON-RPC over HTTP is POST only).
fn count_posts(buf: &[u8]) -> u64 {
    buf.windows(5).filter(|w| w == b"POST ").count() as u64
}

const METHOD: &[u8] = b"\"method\":\"";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Counts the JSON-RPC calls (`"method":"NAME"`) in `buf`, the bytes of one connection not yet
/// scanned, and leaves in it only what may be a call split across reads.
fn count_methods(buf: &mut Vec<u8>, methods: &Mutex<HashMap<String, u64>>) {
    let mut from = 0;
    loop {
        let Some(at) = find(&buf[from..], METHOD) else {
            // Keep a tail that may be the start of the key.
            from = from.max(buf.len().saturating_sub(METHOD.len() - 1));
            break;
        };
        let name = from + at + METHOD.len();
        let Some(len) = buf[name..].iter().position(|&b| b == b'"') else {
            from += at; // the name goes on in the next read
            break;
        };
        if let Ok(mut m) = methods.lock() {
            *m.entry(String::from_utf8_lossy(&buf[name..name + len]).into_owned())
                .or_default() += 1;
        }
        from = name + len + 1;
    }
    buf.drain(..from);
}

async fn pipe(client: TcpStream, upstream: SocketAddr, counts: Arc<Counts>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut unscanned = Vec::new();
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Counted before they go upstream: a call counted is one the endpoint answers after.
            counts
                .requests
                .fetch_add(count_posts(&buf[..n]), Ordering::Relaxed);
            unscanned.extend_from_slice(&buf[..n]);
            count_methods(&mut unscanned, &counts.methods);
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
            counts: Arc::default(),
            task: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let (upstream, counts) = (self.upstream, self.counts.clone());
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.spawn(pipe(c, upstream, counts.clone()));
            }
            // Dropping the JoinSet (on abort) drops every live connection.
        }));
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::Relaxed)
    }

    /// JSON-RPC calls of `method` (e.g. "eth_getTransactionReceipt") sent upstream so far.
    pub fn calls(&self, method: &str) -> u64 {
        self.counts
            .methods
            .lock()
            .map(|m| m.get(method).copied().unwrap_or(0))
            .unwrap_or(0)
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
