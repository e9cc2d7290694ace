//! The local pipeline, started by the tester (`--spawn`): `coderipple up --workers 0` (ingest
//! only) and a separate `coderipple worker` process, so that the worker can be killed with
//! SIGKILL mid-run and restarted, and its memory watched (peak RSS from `/proc`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

/// How to start the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The `coderipple` binary.
    pub bin: PathBuf,
    /// The data dir.
    pub data_dir: PathBuf,
    /// The webhook secret given to ingest.
    pub secret: String,
    /// Worker tasks in the worker process (0: no worker process).
    pub workers: u16,
    /// Start ingest (HTTP target) or not (queue target).
    pub ingest: bool,
    /// `sqlite` or `aws` (AWS: the resources must exist; the environment names them).
    pub backend: String,
    /// Extra environment for both processes (`CODERIPPLE_MAX_BODY_BYTES`, …).
    pub env: Vec<(String, String)>,
    /// Extra environment for both processes, applied last (an outage proxy's endpoint).
    pub backend_env: Vec<(String, String)>,
    /// Extra environment for the ingest process (`up`) alone (GitHub, for its recovery).
    pub ingest_env: Vec<(String, String)>,
}

/// The running processes.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    ingest: Option<Child>,
    worker: Option<Child>,
    /// The webhook URL (when ingest runs).
    pub url: Option<String>,
    peak_rss_kib: Arc<AtomicU64>,
    /// Times the worker was killed.
    pub kills: u32,
}

impl Pipeline {
    /// Starts ingest (when configured) and the worker; returns once ingest listens.
    pub fn start(config: PipelineConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let mut pipeline = Self {
            ingest: None,
            worker: None,
            url: None,
            peak_rss_kib: Arc::new(AtomicU64::new(0)),
            kills: 0,
            config,
        };
        if pipeline.config.backend == "sqlite" {
            // The database first, so that ingest and the worker open the same one.
            let mut init = pipeline.command("init");
            let out = init
                .stderr(Stdio::piped())
                .output()
                .context("run coderipple init")?;
            if !out.status.success() {
                bail!(
                    "coderipple init failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        if pipeline.config.ingest {
            let (child, url) = pipeline.start_ingest()?;
            pipeline.ingest = Some(child);
            pipeline.url = Some(url);
        }
        pipeline.start_worker()?;
        Ok(pipeline)
    }

    fn command(&self, sub: &str) -> Command {
        let mut cmd = Command::new(&self.config.bin);
        cmd.arg(sub)
            .args(["--backend", &self.config.backend])
            .arg("--data-dir")
            .arg(&self.config.data_dir)
            .env("CODERIPPLE_WEBHOOK_SECRET", &self.config.secret)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in self.config.env.iter().chain(&self.config.backend_env) {
            cmd.env(k, v);
        }
        cmd
    }

    fn start_ingest(&self) -> anyhow::Result<(Child, String)> {
        let mut cmd = self.command("up");
        // No operator console: it would take a port of its own (127.0.0.1:8081).
        cmd.env("CODERIPPLE_CONSOLE_LISTEN", "off");
        cmd.envs(self.config.ingest_env.iter().map(|(k, v)| (k, v)));
        cmd.args(["--listen", "127.0.0.1:0", "--workers", "0"])
            .stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.config.bin.display()))?;
        let stdout = child.stdout.take().context("ingest stdout")?;
        // Read on a thread of its own (and keep draining there, so `up` never blocks on a
        // full pipe); give up if it neither listens nor exits within a minute.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(format!("{addr}/webhook"));
                    sent = true;
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("coderipple up did not start listening ({e})");
            }
        };
        Ok((child, url))
    }

    fn start_worker(&mut self) -> anyhow::Result<()> {
        if self.config.workers == 0 {
            return Ok(());
        }
        let mut cmd = self.command("worker");
        cmd.args(["--workers", &self.config.workers.to_string()])
            .stdout(Stdio::null());
        let child = cmd.spawn().context("cannot start coderipple worker")?;
        watch_rss(child.id(), self.peak_rss_kib.clone());
        self.worker = Some(child);
        Ok(())
    }

    /// Kills the worker with SIGKILL (no shutdown, no lease given back) and waits for it.
    pub fn kill_worker(&mut self) {
        if let Some(mut child) = self.worker.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    /// Starts a new worker process.
    pub fn restart_worker(&mut self) -> anyhow::Result<()> {
        self.start_worker()
    }

    /// The worker processes' peak resident set so far (MiB), sampled from `/proc`.
    pub fn worker_peak_rss_mib(&self) -> Option<f64> {
        let kib = self.peak_rss_kib.load(Ordering::Relaxed);
        (kib > 0).then(|| kib as f64 / 1024.0)
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Stops both processes (SIGKILL: the run's verification is over by then).
    pub fn stop(&mut self) {
        for child in [self.ingest.take(), self.worker.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Samples `VmHWM` (the process's own peak RSS) every 50 ms while the process lives.
fn watch_rss(pid: u32, peak: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        while let Ok(status) = std::fs::read_to_string(&path) {
            if let Some(kib) = vm_hwm_kib(&status) {
                peak.fetch_max(kib, Ordering::Relaxed);
            }
            if status.contains("State:\tZ") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

/// `VmHWM` of a `/proc/PID/status` text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_read_from_proc_status() {
        let status = "Name:\tcoderipple\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(super::vm_hwm_kib(status), Some(12345));
        assert_eq!(super::vm_hwm_kib("Name:\tx\n"), None);
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(super::vm_hwm_kib(&own).unwrap() > 0);
    }
}
