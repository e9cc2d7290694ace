//! The local server under slow and greedy clients, and its bounded shutdown: the real
//! `coderipple up` on port 0, raw TCP clients on 127.0.0.1 (a bounded number of them).
//! Every bound here is generous: it proves that nothing waits forever, never how fast
//! anything is.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::common::*;
use coderipple_core::signature::sign;
use futures::future::join_all;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};

/// Longest a request that should be answered may take.
const ANSWER: Duration = Duration::from_secs(10);
/// Longest the server may take to cut off what it must cut off (its timeouts are seconds).
const CUT_OFF: Duration = Duration::from_secs(60);

fn addr(server: &Server) -> String {
    server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .to_owned()
}

/// The request head of a signed push of `body` (its length declared) under `delivery`.
fn signed_head(delivery: &str, body: &str, extra: &str) -> String {
    format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {}\r\n\
         Content-Length: {}\r\n{extra}\r\n",
        sign(SECRET.as_bytes(), body.as_bytes()),
        body.len()
    )
}

/// A push that would be queued if it ever arrived whole.
fn push_for(n: u64) -> String {
    push_body("slow/repo", &sha(42, n), "feat: arrives slowly")
}

/// A fresh client (no pooled connection) that gives up after [`ANSWER`].
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ANSWER)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn signed_push(url: &str, delivery: &str, body: &str) -> (u16, Value) {
    post(&client(), url, "push", delivery, body)
        .await
        .unwrap_or_else(|e| panic!("{delivery}: no answer within {ANSWER:?}: {e}"))
}

/// Connects, sends `first`, then one byte of `rest` every `every`, until the server closes
/// the connection; returns everything the server sent. Reports on `connected` once `first`
/// is written.
async fn trickle(
    addr: String,
    first: Vec<u8>,
    rest: Vec<u8>,
    every: Duration,
    connected: mpsc::UnboundedSender<()>,
) -> String {
    let stream = TcpStream::connect(&addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(&first).await.expect("first bytes");
    let _ = connected.send(());
    let reader = async {
        let mut got = Vec::new();
        // A reset ends it too: what arrived before is kept.
        let _ = rd.read_to_end(&mut got).await;
        String::from_utf8_lossy(&got).into_owned()
    };
    let writer = async {
        for b in rest {
            sleep(every).await;
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        got = reader => got,
        () = writer => unreachable!(),
    }
}

/// Reads up to the end of a response head (or the end of the stream).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(ANSWER, read)
        .await
        .expect("a response head in time");
    String::from_utf8_lossy(&got).to_lowercase()
}

/// Reads everything until the server closes the connection, within [`CUT_OFF`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = timeout(CUT_OFF, stream.read_to_end(&mut got))
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

/// All deliveries the store has a record of, whatever their status.
fn recorded_deliveries(server: &Server) -> u64 {
    let s = status(&server.data_dir);
    s["deliveries"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

fn has_record(server: &Server, delivery: &str) -> bool {
    cli(&server.data_dir, &["status", "--delivery", delivery]).0
}

fn sigterm(server: &Server) {
    let pid = server.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
}

/// Waits for the server process to exit, within `limit`.
fn wait_exit(server: &mut Server, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            return exit;
        }
        assert!(
            start.elapsed() < limit,
            "`coderipple up` still running {limit:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_slow_connections_do_not_starve_a_signed_push_and_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("CODERIPPLE_HEADER_TIMEOUT_SECS", "3"),
            ("CODERIPPLE_BODY_TIMEOUT_SECS", "4"),
            ("CODERIPPLE_BODY_IDLE_TIMEOUT_SECS", "2"),
        ],
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let every = Duration::from_millis(500);
    let mut silent = Vec::new();
    let mut heads = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..20 {
        // Connects and sends nothing.
        silent.push(tokio::spawn(trickle(
            addr(&server),
            Vec::new(),
            Vec::new(),
            every,
            tx.clone(),
        )));
    }
    for _ in 0..90 {
        // A head that never ends: one more byte of a header value every half second.
        let first = b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ".to_vec();
        heads.push(tokio::spawn(trickle(
            addr(&server),
            first,
            vec![b'a'; 1000],
            every,
            tx.clone(),
        )));
    }
    for i in 0..90u64 {
        // A whole signed head, then its body one byte every half second.
        let body = push_for(i);
        let mut first = signed_head(&format!("slow-body-{i}"), &body, "").into_bytes();
        first.extend_from_slice(&body.as_bytes()[..10]);
        let rest = body.as_bytes()[10..].to_vec();
        bodies.push(tokio::spawn(trickle(
            addr(&server),
            first,
            rest,
            every,
            tx.clone(),
        )));
    }
    drop(tx);
    for _ in 0..200 {
        timeout(ANSWER, rx.recv())
            .await
            .expect("slow clients connect")
            .expect("a slow client failed to connect");
    }

    // While all 200 are open, a normal signed push is answered.
    let (status, json) = signed_push(
        &server.url,
        "normal-1",
        &push_body("acme/api", &sha(1, 1), "feat: fine"),
    )
    .await;
    assert_eq!(
        (status, json["status"].as_str()),
        (202, Some("queued")),
        "{json}"
    );

    // Then every slow connection is cut off by the server, none of them with a success.
    let all = async {
        (
            join_all(silent).await,
            join_all(heads).await,
            join_all(bodies).await,
        )
    };
    let (silent, heads, bodies) = timeout(CUT_OFF, all)
        .await
        .expect("the server closes every slow connection");
    for got in silent {
        assert_eq!(got.unwrap(), "", "a silent connection is closed unanswered");
    }
    for got in heads {
        let got = got.unwrap();
        assert!(!got.contains("HTTP/1.1 2"), "an endless head: {got}");
    }
    for got in bodies {
        let got = got.unwrap();
        assert!(got.starts_with("HTTP/1.1 408"), "a trickling body: {got}");
    }
    assert_eq!(recorded_deliveries(&server), 1, "only the normal push");
    assert!(!has_record(&server, "slow-body-0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_or_stalled_body_is_cut_off_with_408_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("CODERIPPLE_BODY_TIMEOUT_SECS", "3"),
            ("CODERIPPLE_BODY_IDLE_TIMEOUT_SECS", "1"),
        ],
    );
    let (tx, _rx) = mpsc::unbounded_channel();
    // Bytes keep coming (faster than the idle timeout), but the whole body never does.
    let body = push_for(1);
    let mut first = signed_head("trickle", &body, "").into_bytes();
    first.extend_from_slice(&body.as_bytes()[..10]);
    let trickling = trickle(
        addr(&server),
        first,
        body.as_bytes()[10..].to_vec(),
        Duration::from_millis(200),
        tx.clone(),
    );
    // Half a body, then silence.
    let body2 = push_for(2);
    let mut first = signed_head("stalled", &body2, "").into_bytes();
    first.extend_from_slice(&body2.as_bytes()[..body2.len() / 2]);
    let stalled = trickle(addr(&server), first, Vec::new(), Duration::ZERO, tx.clone());
    // A chunked body (no Content-Length), one small chunk at a time.
    let body3 = push_for(3);
    let head3 = signed_head("chunked", &body3, "")
        .replace(
            &format!("Content-Length: {}\r\n", body3.len()),
            "Transfer-Encoding: chunked\r\n",
        )
        .into_bytes();
    let chunks: Vec<u8> = body3
        .bytes()
        .flat_map(|b| {
            let mut c = b"1\r\n".to_vec();
            c.push(b);
            c.extend_from_slice(b"\r\n");
            c
        })
        .collect();
    let chunked = trickle(
        addr(&server),
        head3,
        chunks,
        Duration::from_millis(50),
        tx.clone(),
    );
    let (trickling, stalled, chunked) =
        timeout(CUT_OFF, async { tokio::join!(trickling, stalled, chunked) })
            .await
            .expect("the server cuts every slow body off");
    for (what, got) in [
        ("trickling", trickling),
        ("stalled", stalled),
        ("chunked", chunked),
    ] {
        assert!(got.starts_with("HTTP/1.1 408"), "{what}: {got}");
        assert!(
            got.to_lowercase().contains("connection: close"),
            "{what}: {got}"
        );
    }
    assert_eq!(recorded_deliveries(&server), 0, "nothing stored");
    let s = status(&server.data_dir);
    assert_eq!(
        s["queue"]["visible"].as_u64().unwrap_or(0) + s["queue"]["in_flight"].as_u64().unwrap_or(0),
        0,
        "{s}"
    );
    for delivery in ["trickle", "stalled", "chunked"] {
        assert!(!has_record(&server, delivery), "{delivery}");
    }
    // The server is fine afterwards.
    let (status, _) = signed_push(&server.url, "after", &push_for(4)).await;
    assert_eq!(status, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_inflight_body_budget_is_503_with_retry_after_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("CODERIPPLE_MAX_BODY_BYTES", "40000"),
            ("CODERIPPLE_MAX_INFLIGHT_BODY_BYTES", "50000"),
            ("CODERIPPLE_BODY_TIMEOUT_SECS", "120"),
            ("CODERIPPLE_BODY_IDLE_TIMEOUT_SECS", "120"),
        ],
    );
    // A holds 40,000 bytes of the budget: its body is being read (100 Continue says so).
    let mut a = TcpStream::connect(addr(&server)).await.unwrap();
    a.write_all(
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 40000\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut a).await;
    assert!(head.starts_with("http/1.1 100"), "{head}");
    a.write_all(b"{\"ref\":").await.unwrap();

    // B declares 20,000 bytes and sends none: 503 + Retry-After at once, unread.
    let mut b = TcpStream::connect(addr(&server)).await.unwrap();
    b.write_all(
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 20000\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut b).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("\r\nretry-after: 5\r\n"), "{head}");

    // The same for a real signed push of ~20 kB; a small one still fits beside A.
    let big = push_body("budget/repo", &sha(5, 1), &"x".repeat(20_000));
    let (status, _) = signed_push(&server.url, "big", &big).await;
    assert_eq!(status, 503);
    let (status, json) = signed_push(&server.url, "small", &push_for(1)).await;
    assert_eq!((status, json["status"].as_str()), (202, Some("queued")));

    // C has no Content-Length: counted as it streams, 503 when a chunk would go over.
    let mut c = TcpStream::connect(addr(&server)).await.unwrap();
    let mut req =
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n2ee0\r\n"
            .to_vec();
    req.extend(std::iter::repeat_n(b' ', 12_000));
    req.extend_from_slice(b"\r\n");
    c.write_all(&req).await.unwrap();
    let head = read_head(&mut c).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("\r\nretry-after: 5\r\n"), "{head}");

    // A goes away: its share returns, and the big push is accepted.
    drop(a);
    let start = Instant::now();
    loop {
        let (status, _) = signed_push(&server.url, "big", &big).await;
        if status == 202 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            start.elapsed() < ANSWER,
            "the budget never came back after A closed"
        );
        sleep(Duration::from_millis(100)).await;
    }
    assert!(has_record(&server, "big") && has_record(&server, "small"));
}

mod connections;
