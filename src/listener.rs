//! The TCP listener both HTTP servers (the node's REST API and the control plane) accept on:
//! at most `max_connections` at once (one more is answered `503 Too many connections` and
//! closed, so the node's own descriptors never run out), and a new connection that sends
//! nothing within `first_byte` is closed (hyper bounds a request head already under way,
//! 30 s; it does not bound a connection that never starts one).
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Connection limits (`server.max_connections`, `server.header_timeout_secs`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub first_byte: Duration,
}

pub struct Guarded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    limits: Limits,
}

impl Guarded {
    pub fn new(inner: TcpListener, limits: Limits) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            limits,
        }
    }

    /// This listener as axum's `TapIo`, for which axum provides `ConnectInfo<SocketAddr>` (it
    /// does so only for its own listener types; the tap itself does nothing).
    pub fn with_connect_info(self) -> axum::serve::TapIo<Self, fn(&mut GuardedIo)> {
        use axum::serve::ListenerExt;
        self.tap_io(|_| {})
    }
}

/// A refusal written straight into the new socket's empty send buffer (no task, no wait).
fn refuse(tcp: &TcpStream, max: usize) {
    let body =
        format!(r#"{{"error":"Too many connections","params":{{"max_connections":{max}}}}}"#);
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = tcp.try_write(format!("{head}{body}").as_bytes());
}

impl axum::serve::Listener for Guarded {
    type Io = GuardedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let mut warned = false;
        loop {
            let (tcp, addr) = match self.inner.accept().await {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or memory: wait a moment instead of spinning.
                    if !warned {
                        tracing::warn!(error = %e, "accept failed; retrying");
                        warned = true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Small streamed chunks must not wait for Nagle + delayed ACK (40 ms stalls).
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            match self.slots.clone().try_acquire_owned() {
                Ok(permit) => {
                    let first = Box::pin(tokio::time::sleep(self.limits.first_byte));
                    let io = GuardedIo {
                        tcp,
                        _permit: permit,
                        first: Some(first),
                    };
                    return (io, addr);
                }
                Err(_) => {
                    tracing::warn!(client = %addr, max = self.limits.max_connections, "connection refused: too many connections");
                    refuse(&tcp, self.limits.max_connections);
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One accepted connection: holds its slot until closed; errors its first read when no byte
/// arrives in time (hyper then closes it).
pub struct GuardedIo {
    tcp: TcpStream,
    _permit: OwnedSemaphorePermit,
    first: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut me.tcp).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before || r.is_err() {
                    me.first = None;
                }
                Poll::Ready(r)
            }
            Poll::Pending => match me.first.as_mut().map(|s| s.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    me.first = None;
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the header timeout",
                    )))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn guarded(max: usize, first_byte: Duration) -> (Guarded, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let g = Guarded::new(
            l,
            Limits {
                max_connections: max,
                first_byte,
            },
        );
        (g, addr)
    }

    #[tokio::test]
    async fn one_past_the_cap_is_answered_503_and_a_freed_slot_is_reused() {
        let (mut g, addr) = guarded(1, Duration::from_secs(60)).await;
        let _held = TcpStream::connect(addr).await.unwrap();
        let (io, _) = g.accept().await;
        // The second connection is refused by the accept loop while the first holds the slot.
        let mut second = TcpStream::connect(addr).await.unwrap();
        let accept = tokio::spawn(async move {
            let r = g.accept().await;
            (g, r)
        });
        let mut reply = String::new();
        second.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
        assert!(reply.contains(r#""max_connections":1"#), "{reply}");
        // Closing the first frees its slot: the next connection is accepted.
        drop(io);
        let _third = TcpStream::connect(addr).await.unwrap();
        let (_g, (_io3, _)) = accept.await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_connection_fails_its_first_read_and_a_talking_one_does_not() {
        let (mut g, addr) = guarded(4, Duration::from_millis(200)).await;
        let _silent = TcpStream::connect(addr).await.unwrap();
        let (mut io, _) = g.accept().await;
        let mut buf = [0u8; 16];
        let e = io.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);

        let mut talking = TcpStream::connect(addr).await.unwrap();
        let (mut io, _) = g.accept().await;
        talking.write_all(b"GET").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        // After the first byte the timeout is gone: a later read waits for data, not a clock.
        let later = tokio::time::timeout(Duration::from_millis(600), io.read(&mut buf)).await;
        assert!(later.is_err(), "the read kept waiting");
    }
}
