//! The operator console over HTTP on the real `coderipple up` (embedded backend): the token
//! (bearer, login, session cookie), CSRF on every action, read-only mode, the routes and their
//! errors, hostile payload text, and a repository's failure replayed from the console after a
//! fix. The same pages in a real browser: `console_browser.rs`.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};

use crate::common::*;

pub const TOKEN: &str = "console-token-for-tests-0123456789";

/// `up` with its console's base URL (`http://127.0.0.1:PORT`, the console's own listener, on
/// a free port).
pub fn start(dir: &Path, envs: &[(&str, &str)]) -> (Server, String) {
    let mut all = vec![
        ("CODERIPPLE_MAX_RECEIVES", "2"),
        ("CODERIPPLE_RETRY_DELAY_SECS", "1"),
        ("CODERIPPLE_RETRY_HOLD_SECS", "0"),
    ];
    all.extend_from_slice(envs);
    let server = Server::start(dir, &all);
    let base = server.console.clone().expect("up serves a console");
    (server, base)
}

/// The base URL of `up`'s webhook listener (`http://127.0.0.1:PORT`).
pub fn webhook_base(server: &Server) -> String {
    server.url.trim_end_matches("/webhook").to_owned()
}

/// A repository whose docs directory is blocked by a file: its push fails (transiently) until
/// the file is removed, and is dead-lettered after two receives.
pub fn block(dir: &Path, repo: &str) -> std::path::PathBuf {
    let path = dir.join("docs").join(repo);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "not a directory").unwrap();
    path
}

pub fn wait_dlq(dir: &Path, depth: u64) {
    let start = Instant::now();
    loop {
        let s = status(dir);
        if s["dlq"]["depth"].as_u64() == Some(depth) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "DLQ not at {depth}: {s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// A request's answer as text (panics on a transport error).
pub trait TextNow {
    async fn text_now(self) -> String;
}

impl TextNow for reqwest::RequestBuilder {
    async fn text_now(self) -> String {
        self.send().await.unwrap().text().await.unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_every_route_needs_it_and_every_action_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(dir.path(), &[("CODERIPPLE_CONSOLE_TOKEN", TOKEN)]);
    let http = client();
    let hostile = "feat: <script>alert('owned')</script> <img src=x onerror=alert(2)>";
    let body = push_body("acme/hostile", &sha(70, 0), hostile);
    assert_eq!(
        post(&http, &server.url, "push", "hostile-1", &body)
            .await
            .unwrap()
            .0,
        202
    );
    wait_drained(dir.path(), 1, Duration::from_secs(30));

    let routes = [
        "/ui",
        "/ui/live",
        "/ui/deliveries",
        "/ui/deliveries?status=completed&since=1h",
        "/ui/deliveries/hostile-1",
        "/ui/dlq",
        "/ui/repos",
        "/ui/repos/acme/hostile",
    ];
    for route in routes {
        let anon = http.get(format!("{base}{route}")).send().await.unwrap();
        assert_eq!(
            anon.status(),
            StatusCode::SEE_OTHER,
            "{route} without the token"
        );
        assert_eq!(anon.headers()[LOCATION], "/ui/login");
        let wrong = http
            .get(format!("{base}{route}"))
            .bearer_auth("not-the-token-at-all")
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::SEE_OTHER,
            "{route} with a wrong token"
        );
        let ok = http
            .get(format!("{base}{route}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{route}");
        let csp = ok.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        let html = ok.text().await.unwrap();
        assert!(
            !html.contains(TOKEN) && !html.contains(SECRET),
            "{route} shows a secret"
        );
        assert!(
            !html.contains("<script>alert") && !html.contains("<img src=x"),
            "{route}: {html}"
        );
    }
    let get = |route: &str| {
        let req = http.get(format!("{base}{route}")).bearer_auth(TOKEN);
        async move { req.send().await.unwrap() }
    };
    let overview = get("/ui").await.text().await.unwrap();
    assert!(
        overview.contains("1 completed; end-to-end latency p50 ") && !overview.contains("p50 –"),
        "the latency comes from the summary's received_at: {overview}"
    );
    let repo = get("/ui/repos/acme/hostile").await.text().await.unwrap();
    assert!(
        repo.contains("&lt;script&gt;alert"),
        "the payload is shown as text: {repo}"
    );
    assert!(
        repo.contains("<h1>") && repo.contains("changelog.md"),
        "docs rendered: {repo}"
    );
    let detail = get("/ui/deliveries/hostile-1").await.text().await.unwrap();
    assert!(
        detail.contains("historian") && detail.contains("completed"),
        "{detail}"
    );

    assert_eq!(
        get("/ui/deliveries?status=bogus").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get("/ui/deliveries?before=nonsense").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get("/ui/deliveries/no-such-delivery").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/ui/dlq/message/no-such").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/ui/repos/acme/unknown").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/ui/repos/..%2F..%2Fetc").await.status(),
        StatusCode::BAD_REQUEST
    );

    // Actions: no token → 401; the token but no CSRF token (or a wrong one) → 403.
    let dlq_page = get("/ui/dlq").await.text().await.unwrap();
    let login_page = http.get(format!("{base}/ui/login")).text_now().await;
    let csrf = csrf_of(&login_page);
    let replay = |form: Vec<(&'static str, String)>, bearer: bool| {
        let mut req = http.post(format!("{base}/ui/dlq/replay")).form(&form);
        if bearer {
            req = req.bearer_auth(TOKEN);
        }
        async move { req.send().await.unwrap().status() }
    };
    let all = || vec![("repo", String::new()), ("confirm", "1".to_owned())];
    assert_eq!(replay(all(), false).await, StatusCode::UNAUTHORIZED);
    assert_eq!(replay(all(), true).await, StatusCode::FORBIDDEN);
    let mut wrong = all();
    wrong.push(("csrf", "0".repeat(64)));
    assert_eq!(replay(wrong, true).await, StatusCode::FORBIDDEN);
    let purge = http
        .post(format!("{base}/ui/dlq/purge"))
        .bearer_auth(TOKEN)
        .form(&[("confirm", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(purge.status(), StatusCode::FORBIDDEN);
    assert!(
        dlq_page.contains("dlq-empty"),
        "nothing to act on: {dlq_page}"
    );

    // The login form: a wrong token is refused; the right one gives a session cookie.
    let login = |token: &str, csrf: &str| {
        let req = http
            .post(format!("{base}/ui/login"))
            .form(&[("token", token), ("csrf", csrf)]);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(
        login("wrong-token-wrong-token", &csrf).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(TOKEN, "forged").await.status(), StatusCode::FORBIDDEN);
    let ok = login(TOKEN, &csrf).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let cookie = ok.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie is a session, not the token"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = http
        .get(format!("{base}/ui/repos"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), StatusCode::OK);
    // With a token the console is at /ui on the webhook's listener too, token required.
    let web = webhook_base(&server);
    let anon = http.get(format!("{web}/ui/dlq")).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::SEE_OTHER);
    let ok = http
        .get(format!("{web}/ui/dlq"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_replayed_from_the_console_after_the_fix_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(dir.path(), &[]);
    let http = client();
    let blocker = block(dir.path(), "acme/blocked");
    let body = push_body("acme/blocked", &sha(71, 0), "feat: blocked at first");
    assert_eq!(
        post(&http, &server.url, "push", "blocked-1", &body)
            .await
            .unwrap()
            .0,
        202
    );
    wait_dlq(dir.path(), 1);

    let page = http.get(format!("{base}/ui/dlq")).text_now().await;
    assert!(
        page.contains("blocked-1") && page.contains("Not a directory"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    // The preview changes nothing.
    let preview = http
        .post(format!("{base}/ui/dlq/replay"))
        .form(&[("csrf", csrf.as_str()), ("delivery", "blocked-1")])
        .text_now()
        .await;
    assert!(
        preview.contains("1 message(s) would be replayed"),
        "{preview}"
    );
    assert!(
        preview.contains("would lift the park of acme/blocked"),
        "{preview}"
    );
    wait_dlq(dir.path(), 1);

    std::fs::remove_file(&blocker).unwrap();
    // A page from another site cannot act, even with the token in hand.
    let confirm = [
        ("csrf", csrf.as_str()),
        ("delivery", "blocked-1"),
        ("confirm", "1"),
    ];
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let resp = http
            .post(format!("{base}/ui/dlq/replay"))
            .header(header, value)
            .form(&confirm)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{header}: {value}");
    }
    wait_dlq(dir.path(), 1);
    // The action answers with a redirect to the DLQ page, which says what was done (a reload
    // of it repeats nothing).
    let acted = http
        .post(format!("{base}/ui/dlq/replay"))
        .form(&confirm)
        .send()
        .await
        .unwrap();
    assert_eq!(acted.status(), StatusCode::SEE_OTHER);
    let next = acted.headers()[LOCATION].to_str().unwrap().to_owned();
    let done = http.get(format!("{base}{next}")).text_now().await;
    assert!(done.contains("Replayed 1 message(s)"), "{done}");
    wait_drained(dir.path(), 1, Duration::from_secs(30));
    let detail = http
        .get(format!("{base}/ui/deliveries/blocked-1"))
        .text_now()
        .await;
    assert!(detail.contains("badge completed"), "{detail}");
    assert!(changelog(dir.path(), "acme/blocked").contains(&sha(71, 0)[..7]));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_hides_the_actions_and_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(dir.path(), &[("CODERIPPLE_CONSOLE_READONLY", "1")]);
    let http = client();
    block(dir.path(), "acme/stuck");
    let body = push_body("acme/stuck", &sha(72, 0), "feat: stuck");
    assert_eq!(
        post(&http, &server.url, "push", "stuck-1", &body)
            .await
            .unwrap()
            .0,
        202
    );
    wait_dlq(dir.path(), 1);
    let page = http.get(format!("{base}/ui/dlq")).text_now().await;
    assert!(page.contains("stuck-1"), "{page}");
    assert!(
        !page.contains("Preview replay") && !page.contains("Purge"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    for action in ["replay", "purge"] {
        let resp = http
            .post(format!("{base}/ui/dlq/{action}"))
            .form(&[("csrf", csrf.as_str()), ("confirm", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{action}");
    }
    wait_dlq(dir.path(), 1);
    // Without a token only direct loopback requests get in: not another Host (DNS
    // rebinding), not through a proxy.
    for (header, value) in [("host", "evil.example"), ("x-forwarded-for", "203.0.113.9")] {
        let resp = http
            .get(format!("{base}/ui/dlq"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{header}: {value}");
    }
    drop(server);
}

#[test]
fn the_console_refuses_a_public_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = cli(dir.path(), &["console", "--listen", "0.0.0.0:0"]);
    assert!(!ok);
    assert!(err.contains("CODERIPPLE_CONSOLE_TOKEN"), "{err}");
}
