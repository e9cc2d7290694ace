//! A real git server over HTTP on loopback, behind Basic authentication: git's own
//! `git http-backend` (smart HTTP, push enabled) run as a CGI program per request by a small
//! axum server, over bare repositories in a temp dir. Every request without the right user and
//! password gets `401`, as a hosted remote answers.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tokio::io::AsyncWriteExt;
use tokio_util::task::AbortOnDropHandle;

use crate::git_server::create_bare;

/// Largest request body taken (a push of docs is far smaller).
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug)]
struct Served {
    root: PathBuf,
    /// `Basic base64(user:password)`.
    expected: String,
}

/// `git http-backend` at `http://127.0.0.1:<port>/<owner>/<repo>.git`; stopped when dropped.
#[derive(Debug)]
pub struct GitHttpServer {
    /// Where the bare repositories are.
    pub root: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
    _task: AbortOnDropHandle<()>,
}

impl GitHttpServer {
    /// Starts a server that lets in `user` with `password` only.
    pub async fn start(user: &str, password: &str) -> Self {
        let root = tempfile::tempdir().expect("a temp dir");
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let served = Arc::new(Served {
            root: root.path().to_path_buf(),
            expected: format!("Basic {credentials}"),
        });
        let app = axum::Router::new().fallback(cgi).with_state(served);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            root,
            port,
            _task: AbortOnDropHandle::new(task),
        }
    }

    /// The URL of `repo` (`owner/name`), without credentials.
    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}.git", self.port)
    }

    /// The bare repository of `repo` on disk.
    pub fn path(&self, repo: &str) -> PathBuf {
        self.root.path().join(format!("{repo}.git"))
    }

    /// Creates `repo` as [`super::GitServer::create`] does; the head of `main`.
    pub fn create(&self, repo: &str, empty: bool) -> String {
        create_bare(&self.path(repo), empty)
    }
}

async fn cgi(State(served): State<Arc<Served>>, request: Request) -> Response {
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(served.expected.as_str());
    if !authorized {
        let mut refused = (StatusCode::UNAUTHORIZED, "authentication required\n").into_response();
        refused.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"git\""),
        );
        return refused;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    match run_backend(&served, &parts.method, &parts.uri, &parts.headers, body).await {
        Ok(response) => response,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn run_backend(
    served: &Served,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> std::io::Result<Response> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &served.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("a piped stdin");
    let write = async move {
        stdin.write_all(&body).await?;
        drop(stdin);
        Ok::<_, std::io::Error>(())
    };
    let (written, out) = tokio::join!(write, child.wait_with_output());
    written?;
    Ok(cgi_response(&out?.stdout))
}

/// A CGI program's output (headers, a blank line, the body) as an HTTP response.
fn cgi_response(out: &[u8]) -> Response {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else {
        return (StatusCode::BAD_GATEWAY, "no CGI headers\n").into_response();
    };
    let mut response = Response::new(axum::body::Body::from(out[end + gap..].to_vec()));
    for line in String::from_utf8_lossy(&out[..end]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split(' ').next().and_then(|c| c.parse().ok());
            if let Some(status) = code.and_then(|c| StatusCode::from_u16(c).ok()) {
                *response.status_mut() = status;
            }
        } else if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name.trim()),
            HeaderValue::try_from(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
