//! The local HTTP server (`coderipple up`, and any other process that serves the router on a
//! port; the Lambda Function URL does not come through here). `axum::serve` runs hyper without
//! a timer, so nothing a client is slow at ever times out; [`serve`] bounds every wait:
//!
//! - **headers**: hyper's `header_read_timeout` (with [`TokioTimer`]): the whole request head
//!   within `CODERIPPLE_HEADER_TIMEOUT_SECS` of the connection's start, or of the previous
//!   answer on a kept-alive connection; then the connection is closed without an answer.
//! - **bodies**: [`BodyGuard`] around every request body: the whole body within
//!   `CODERIPPLE_BODY_TIMEOUT_SECS` of its headers, and never more than
//!   `CODERIPPLE_BODY_IDLE_TIMEOUT_SECS` between two pieces; a body cut off is answered 408
//!   (`Connection: close`), and since the router verifies and stores only whole bodies,
//!   nothing of it is stored.
//! - **answers**: `WriteStall` closes a connection whose answer has waited
//!   `CODERIPPLE_WRITE_TIMEOUT_SECS` for a client that does not read it.
//! - **connections**: at most `CODERIPPLE_MAX_CONNECTIONS` are served at once; the next one is
//!   accepted when one ends (until then it waits in the listen backlog, costing nothing here).
//!   HTTP/1.1 runs one request per connection at a time, so this caps requests too.
//! - **memory**: a global budget of `CODERIPPLE_MAX_INFLIGHT_BODY_BYTES` body bytes held by
//!   all requests together. A request with a `Content-Length` reserves it before its body is
//!   read, and gets 503 + `Retry-After` at once when the budget cannot take it; a body without
//!   one is counted as it streams and gets the same 503 when it would go over. A reservation
//!   is returned when its request has been answered. The unread body of a 503 is read and
//!   dropped (within the body timeouts) so that the client gets to read the answer.
//! - **shutdown**: when the `shutdown` future resolves the listener is closed at once;
//!   connections that never handed a request to the router are closed; kept-alive idle ones
//!   close (hyper's graceful shutdown) and in-flight requests get
//!   `CODERIPPLE_SHUTDOWN_GRACE_SECS` to be answered; whatever is still running then is cut
//!   off, unanswered. A 202 is written only after the envelope is stored, so nothing cut off
//!   was acknowledged.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use coderipple_core::config::Settings;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::error::RETRY_AFTER_SECS;

/// How a [`serve`] ended.
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    /// When the shutdown began: the grace period (and any other work's) counts from here.
    pub since: Instant,
    /// Connections still busy when the grace period ran out, closed without an answer.
    pub cut_off: usize,
}

/// Serves `app` on `listener` under the limits of `settings.server` (see the module docs)
/// until `shutdown` resolves, then shuts down within `settings.server.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &Settings,
    shutdown: impl Future<Output = ()>,
) -> Stopped {
    let limits = &settings.server;
    let guard = Arc::new(Guard {
        budget: Budget {
            limit: limits.max_inflight_body_bytes,
            used: AtomicU64::new(0),
        },
        max_body_bytes: settings.max_body_bytes as u64,
        body_timeout: limits.body_timeout,
        body_idle_timeout: limits.body_idle_timeout,
    });
    let app = app.layer(middleware::from_fn_with_state(guard, guard_body));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let write_timeout = limits.write_timeout;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let closing = CancellationToken::new();
    let mut connections = JoinSet::new();
    let mut warned: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    warned = Some(Instant::now());
                    tracing::warn!(
                        max = limits.max_connections,
                        "connection limit reached; new connections wait to be accepted \
                         (CODERIPPLE_MAX_CONNECTIONS)"
                    );
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::error!(error = %e, "accept failed; retrying in a second");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            stream,
            app.clone(),
            http.clone(),
            write_timeout,
            closing.clone(),
            slot,
        ));
    }
    drop(listener);
    let since = Instant::now();
    closing.cancel();
    while connections.try_join_next().is_some() {}
    if !connections.is_empty() {
        tracing::info!(
            connections = connections.len(),
            grace_secs = limits.shutdown_grace.as_secs(),
            "stopped accepting; finishing in-flight requests"
        );
    }
    let grace = tokio::time::sleep_until(since + limits.shutdown_grace);
    tokio::pin!(grace);
    let cut_off = loop {
        tokio::select! {
            next = connections.join_next() => if next.is_none() { break 0 },
            () = &mut grace => {
                let n = connections.len();
                connections.shutdown().await;
                break n;
            }
        }
    };
    if cut_off > 0 {
        tracing::warn!(
            connections = cut_off,
            "shutdown grace period over (CODERIPPLE_SHUTDOWN_GRACE_SECS): closed unanswered"
        );
    }
    Stopped { since, cut_off }
}

/// Errors of one connection that is gone, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection, holding its `slot` until it ends.
async fn connection(
    stream: TcpStream,
    app: Router,
    http: http1::Builder,
    write_timeout: Duration,
    closing: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // Whether a request of this connection ever reached the router: one that did not has
    // nothing to finish at shutdown (hyper would keep a half-sent first head until its
    // header timeout).
    let dispatched = Arc::new(AtomicBool::new(false));
    let seen = dispatched.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        seen.store(true, Ordering::Relaxed);
        app.clone().oneshot(req)
    });
    let io = TokioIo::new(WriteStall::new(stream, write_timeout));
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = closing.cancelled() => {
            if !dispatched.load(Ordering::Relaxed) {
                return;
            }
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        // Timeouts and clients that went away: routine on a public port.
        tracing::debug!(error = %e, "connection closed");
    }
}

/// The body limits shared by every request.
#[derive(Debug)]
struct Guard {
    budget: Budget,
    /// The router refuses larger declared bodies (413) without reading them.
    max_body_bytes: u64,
    body_timeout: Duration,
    body_idle_timeout: Duration,
}

/// The in-flight body bytes of all requests together.
#[derive(Debug)]
struct Budget {
    limit: u64,
    used: AtomicU64,
}

/// Why a body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Cut {
    None = 0,
    TimedOut = 1,
    OverBudget = 2,
}

/// One request's share of the [`Budget`], and why its body was cut off, if it was. Held by
/// the middleware until the answer is made and by the body until the router lets go of it;
/// the bytes return to the budget when both are done.
#[derive(Debug)]
struct Share {
    guard: Arc<Guard>,
    held: AtomicU64,
    cut: AtomicU8,
}

impl Share {
    fn new(guard: Arc<Guard>) -> Self {
        Self {
            guard,
            held: AtomicU64::new(0),
            cut: AtomicU8::new(Cut::None as u8),
        }
    }

    /// Takes `n` more bytes from the budget; false (and nothing taken) if it cannot.
    fn take(&self, n: u64) -> bool {
        let budget = &self.guard.budget;
        let taken = budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= budget.limit)
            })
            .is_ok();
        if taken {
            self.held.fetch_add(n, Ordering::AcqRel);
        }
        taken
    }

    fn cut(&self) -> Cut {
        match self.cut.load(Ordering::Acquire) {
            1 => Cut::TimedOut,
            2 => Cut::OverBudget,
            _ => Cut::None,
        }
    }

    fn set_cut(&self, why: Cut) {
        self.cut.store(why as u8, Ordering::Release);
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        self.guard.budget.used.fetch_sub(held, Ordering::AcqRel);
    }
}

/// The middleware: reserves the declared body (or 503 before reading anything), wraps the
/// body in a [`BodyGuard`], and answers for a body it cut off.
async fn guard_body(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let share = Arc::new(Share::new(guard.clone()));
    let streamed = match declared {
        Some(n) if n <= guard.max_body_bytes => {
            if !share.take(n) {
                // A client waiting for `100 Continue` sends no body: nothing to discard.
                let waits = req
                    .headers()
                    .get(header::EXPECT)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
                if !waits {
                    discard(
                        req.into_body(),
                        started + guard.body_timeout,
                        guard.body_idle_timeout,
                    );
                }
                return over_budget(n);
            }
            false
        }
        // No length (chunked), or one the router refuses unread: count what is read.
        _ => true,
    };
    let (parts, inner) = req.into_parts();
    let body = BodyGuard {
        inner,
        share: share.clone(),
        streamed,
        deadline: Box::pin(tokio::time::sleep_until(started + guard.body_timeout)),
        idle: Box::pin(tokio::time::sleep(guard.body_idle_timeout)),
        idle_timeout: guard.body_idle_timeout,
    };
    let resp = next.run(Request::from_parts(parts, Body::new(body))).await;
    match share.cut() {
        Cut::None => resp,
        Cut::TimedOut => {
            tracing::debug!("request body not received in time; connection closed");
            let mut resp = (
                StatusCode::REQUEST_TIMEOUT,
                Json(json!({"error": "request body not received in time"})),
            )
                .into_response();
            close(&mut resp);
            resp
        }
        Cut::OverBudget => over_budget(share.held.load(Ordering::Acquire)),
    }
}

/// 503 + `Retry-After` for a request the body budget cannot take now.
fn over_budget(bytes: u64) -> Response {
    tracing::warn!(
        bytes,
        "in-flight body budget full (CODERIPPLE_MAX_INFLIGHT_BODY_BYTES): answered 503"
    );
    let mut resp = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "temporarily unavailable, retry later"})),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    close(&mut resp);
    resp
}

/// Reads and drops the rest of a body answered without being read, so that the client gets
/// to read the answer: closing a socket with unread bytes resets the connection, and a reset
/// can destroy the answer before the client reads it. Nothing is kept, and it stops at the
/// body timeouts (or when the connection goes).
fn discard(mut body: Body, deadline: Instant, idle: Duration) {
    // No runtime (a body dropped while the process winds down): nobody is left to answer.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let drain =
            async { while let Ok(Some(Ok(_))) = tokio::time::timeout(idle, body.frame()).await {} };
        let _ = tokio::time::timeout_at(deadline, drain).await;
    });
}

/// The rest of the body is not read, so the connection cannot carry another request.
fn close(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// A request body that must keep coming: whole within the body timeout, never silent longer
/// than the idle timeout, and (when it declared no length) within the budget as it streams.
#[derive(Debug)]
struct BodyGuard {
    inner: Body,
    share: Arc<Share>,
    /// Counted against the budget as it streams (nothing was reserved up front).
    streamed: bool,
    deadline: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
}

/// The error a cut-off body ends with.
#[derive(Debug)]
struct BodyCut(&'static str);

impl std::fmt::Display for BodyCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BodyCut {}

impl BodyGuard {
    fn cut(&self, why: Cut) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        self.share.set_cut(why);
        let reason = match why {
            Cut::OverBudget => "in-flight body budget exceeded",
            _ => "request body not received in time",
        };
        Poll::Ready(Some(Err(Box::new(BodyCut(reason)))))
    }
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        // Over the budget mid-stream: the client is still sending; let it read the 503.
        if self.share.cut() == Cut::OverBudget {
            let rest = std::mem::take(&mut self.inner);
            discard(rest, self.deadline.deadline(), self.idle_timeout);
        }
    }
}

impl HttpBody for BodyGuard {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let already = this.share.cut();
        if already != Cut::None {
            return this.cut(already);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if this.deadline.is_elapsed() {
                    return this.cut(Cut::TimedOut);
                }
                if let Some(data) = frame.data_ref()
                    && this.streamed
                    && !this.share.take(data.len() as u64)
                {
                    return this.cut(Cut::OverBudget);
                }
                let next = Instant::now() + this.idle_timeout;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready()
                    || this.idle.as_mut().poll(cx).is_ready()
                {
                    return this.cut(Cut::TimedOut);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

mod write_stall;

use write_stall::WriteStall;

#[cfg(test)]
mod tests;
