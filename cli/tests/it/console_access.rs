//! Who reaches the operator console of the real `coderipple up`: without a token it is never
//! on the webhook's listener (the one put behind a proxy), only on a loopback listener of its
//! own, so a forwarder in front of the webhook that passes `Host: 127.0.0.1` reaches no
//! console page and no action; `up` refuses a console address beyond loopback without a
//! token, and `off` turns it off. With a token, a sign-in's session expires on the server
//! and sign-out ends it there.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::common::*;
use crate::console::{TOKEN, TextNow, block, csrf_of, start, wait_dlq, webhook_base};

/// A TCP forwarder on 127.0.0.1 in front of `target` (what a same-host proxy in TCP or TLS
/// passthrough mode is): bytes copied both ways, the client's `Host` passed as it is.
async fn forwarder(target: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    at
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarder_in_front_of_the_webhook_reaches_no_console_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (server, console) = start(dir.path(), &[]);
    let http = client();
    block(dir.path(), "acme/held");
    let body = push_body("acme/held", &sha(80, 0), "feat: held in the DLQ");
    let (code, _) = post(&http, &server.url, "push", "held-1", &body)
        .await
        .unwrap();
    assert_eq!(code, 202);
    wait_dlq(dir.path(), 1);

    let web: SocketAddr = webhook_base(&server)
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = format!("http://{}", forwarder(web).await);
    // What nginx's default `proxy_pass http://127.0.0.1:8080` sends, or what any client
    // picks through a passthrough: a loopback Host and no forwarded header.
    for host in ["127.0.0.1", "127.0.0.1:8080", "localhost"] {
        for route in ["/ui", "/ui/", "/ui/dlq", "/ui/login", "/ui/assets/app.js"] {
            let resp = http
                .get(format!("{proxy}{route}"))
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{host} {route}");
            let page = resp.text().await.unwrap();
            assert!(!page.contains("csrf"), "{host} {route}: {page}");
        }
        for action in ["purge", "replay"] {
            let resp = http
                .post(format!("{proxy}/ui/dlq/{action}"))
                .header("host", host)
                .form(&[("confirm", "1"), ("repo", "")])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{host} {action}");
        }
    }
    // Even with a CSRF token taken from the real console, the webhook's port has no action.
    let page = http.get(format!("{console}/ui/dlq")).text_now().await;
    assert!(page.contains("held-1"), "{page}");
    let csrf = csrf_of(&page);
    let resp = http
        .post(format!("{proxy}/ui/dlq/purge"))
        .header("host", "127.0.0.1")
        .form(&[("csrf", csrf.as_str()), ("confirm", "1"), ("repo", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The webhook still works through the forwarder; the DLQ still holds its message.
    let health = http.get(format!("{proxy}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    wait_dlq(dir.path(), 1);
    let again = http.get(format!("{console}/ui/dlq")).text_now().await;
    assert!(again.contains("held-1"), "{again}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_serves_no_console_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("CODERIPPLE_CONSOLE_LISTEN", "off")]);
    assert_eq!(server.console, None);
    let resp = client()
        .get(format!("{}/ui", webhook_base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    drop(server);
}

#[test]
fn up_refuses_a_console_beyond_loopback_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let up = |console: &str| {
        cli(
            dir.path(),
            &["up", "--listen", "127.0.0.1:0", "--console-listen", console],
        )
    };
    let (ok, out, err) = up("0.0.0.0:0");
    assert!(!ok, "started: {out}");
    assert!(
        err.contains("CODERIPPLE_CONSOLE_LISTEN") && err.contains("CODERIPPLE_CONSOLE_TOKEN"),
        "{err}"
    );
    assert!(!out.contains("listening on"), "{out}");
    let (ok, _, err) = up("nowhere");
    assert!(!ok && err.contains("--console-listen"), "{err}");
}

/// Signs in through the form; returns the session cookie (`name=value`).
async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let form = http.get(format!("{base}/ui/login")).text_now().await;
    let csrf = csrf_of(&form);
    let resp = http
        .post(format!("{base}/ui/login"))
        .form(&[("token", TOKEN), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

/// What the console answers `GET /ui/dlq` with `cookie`: 200, or 303 to the sign-in form.
async fn with_cookie(http: &reqwest::Client, base: &str, cookie: &str) -> reqwest::Response {
    http.get(format!("{base}/ui/dlq"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn to_sign_in(resp: &reqwest::Response) -> bool {
    resp.status() == StatusCode::SEE_OTHER && resp.headers()[LOCATION] == "/ui/login"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(dir.path(), &[("CODERIPPLE_CONSOLE_TOKEN", TOKEN)]);
    let http = client();
    let session = sign_in(&http, &base).await;
    let page = with_cookie(&http, &base, &session).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("action=\"/ui/logout\""), "{page}");
    let csrf = csrf_of(&page);
    let sign_out = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut req = http
            .post(format!("{base}/ui/logout"))
            .header("cookie", &session)
            .form(&form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move { req.send().await.unwrap() }
    };
    // Without the CSRF token, or from another site, nothing is signed out.
    let refused = sign_out(vec![], None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = sign_out(vec![("csrf", csrf.clone())], Some("https://evil.example")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        with_cookie(&http, &base, &session).await.status(),
        StatusCode::OK
    );
    let other = sign_in(&http, &base).await;
    let out = sign_out(vec![("csrf", csrf)], None).await;
    assert!(to_sign_in(&out), "{:?}", out.status());
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, replayed, no longer opens anything; another sign-in's session does.
    assert!(to_sign_in(&with_cookie(&http, &base, &session).await));
    let post = http
        .post(format!("{base}/ui/dlq/purge"))
        .header("cookie", &session)
        .form(&[("confirm", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        with_cookie(&http, &base, &other).await.status(),
        StatusCode::OK
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expires_on_the_server() {
    const LIFETIME: Duration = Duration::from_secs(4);
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(
        dir.path(),
        &[
            ("CODERIPPLE_CONSOLE_TOKEN", TOKEN),
            ("CODERIPPLE_CONSOLE_SESSION_SECS", "4"),
        ],
    );
    let http = client();
    let before = Instant::now();
    let session = sign_in(&http, &base).await;
    let page = with_cookie(&http, &base, &session).await;
    assert_eq!(page.status(), StatusCode::OK);
    // The browser would drop the cookie at its Max-Age; a copy of it kept and sent after the
    // lifetime is refused by the server.
    tokio::time::sleep((before + LIFETIME + Duration::from_secs(1)) - Instant::now()).await;
    assert!(to_sign_in(&with_cookie(&http, &base, &session).await));
    drop(server);
    // A lifetime out of range stops the console at start, naming the variable.
    let out = std::process::Command::new(bin())
        .args(["console", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CODERIPPLE_CONSOLE_SESSION_SECS", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CODERIPPLE_CONSOLE_SESSION_SECS"), "{err}");
}
