//! A backend outage on purpose, for the embedded backend: the SQLite file is held under an
//! exclusive write lock for a while. Ingest's writes wait out their busy timeout and fail,
//! so it must answer 503 (and acknowledge nothing it did not store); workers' writes fail
//! and are retried. When the lock is let go, everything must catch up with nothing lost.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

/// What the outage did.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct OutageReport {
    /// When it began (ms after the run's start).
    pub began_after_ms: f64,
    /// How long the lock was held.
    pub held_ms: f64,
}

/// Locks `db` after `after` for `hold`, on a thread of its own (rusqlite is blocking).
pub fn lock_sqlite(
    db: &Path,
    after: Duration,
    hold: Duration,
) -> tokio::task::JoinHandle<anyhow::Result<OutageReport>> {
    let db: PathBuf = db.to_path_buf();
    let start = Instant::now();
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(after);
        let conn = rusqlite::Connection::open(&db)
            .with_context(|| format!("outage: cannot open {}", db.display()))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let began = Instant::now();
        conn.execute_batch("BEGIN EXCLUSIVE")
            .context("outage: cannot take the write lock")?;
        std::thread::sleep(hold);
        conn.execute_batch("ROLLBACK")?;
        Ok(OutageReport {
            began_after_ms: (began - start).as_secs_f64() * 1000.0,
            held_ms: began.elapsed().as_secs_f64() * 1000.0,
        })
    })
}

/// A pausable TCP proxy on loopback, for an outage of a networked backend (the AWS endpoint,
/// moto in tests): while paused, open connections are cut and new ones are closed at once,
/// so every SDK call fails as it would with the service unreachable.
#[derive(Debug)]
pub struct TcpProxy {
    /// Where to connect instead of the upstream.
    pub addr: std::net::SocketAddr,
    paused: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free 127.0.0.1 port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (paused, watch) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    drop(inbound);
                    continue;
                }
                let (upstream, mut watch) = (upstream.clone(), watch.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|paused| *paused) => {}
                    }
                });
            }
        });
        Ok(Self { addr, paused, task })
    }

    /// Cuts every connection and refuses new ones until [`TcpProxy::resume`].
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Forwards again.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Pauses after `after` for `hold`.
    pub fn outage(
        self: &std::sync::Arc<Self>,
        after: Duration,
        hold: Duration,
    ) -> tokio::task::JoinHandle<anyhow::Result<OutageReport>> {
        let proxy = self.clone();
        let start = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let began = Instant::now();
            proxy.pause();
            tokio::time::sleep(hold).await;
            proxy.resume();
            Ok(OutageReport {
                began_after_ms: (began - start).as_secs_f64() * 1000.0,
                held_ms: began.elapsed().as_secs_f64() * 1000.0,
            })
        })
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(addr: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
            .await
            .map_err(|_| std::io::Error::other("timed out"))??;
        Ok(buf.to_vec())
    }

    #[tokio::test]
    async fn the_proxy_forwards_cuts_while_paused_and_recovers() {
        let proxy = TcpProxy::start(echo_server().await).await.unwrap();
        assert_eq!(round_trip(proxy.addr).await.unwrap(), b"ping");
        // An open connection is cut by the pause.
        let mut open = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        open.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        open.read_exact(&mut one).await.unwrap();
        proxy.pause();
        let mut rest = Vec::new();
        let cut = tokio::time::timeout(Duration::from_secs(2), open.read_to_end(&mut rest)).await;
        assert!(
            matches!(cut, Ok(Ok(0)) | Ok(Err(_))),
            "the open connection ends: {cut:?}"
        );
        assert!(
            round_trip(proxy.addr).await.is_err(),
            "new connections fail while paused"
        );
        proxy.resume();
        assert_eq!(round_trip(proxy.addr).await.unwrap(), b"ping");
    }
}
