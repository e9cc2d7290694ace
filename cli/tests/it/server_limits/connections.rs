//! Connections over the cap, clients that stop reading, and SIGTERM with slow clients open.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_to_be_accepted_and_are_served_when_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("CODERIPPLE_MAX_CONNECTIONS", "2"),
            ("CODERIPPLE_HEADER_TIMEOUT_SECS", "120"),
        ],
    );
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        s.write_all(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    // Both slots are taken: a third connection is not served...
    let waiting = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let refused = post(&waiting, &server.url, "push", "gave-up", &push_for(1)).await;
    assert!(refused.is_err(), "served past the cap: {refused:?}");
    // ...until one closes. (The request that gave up is still in the listen backlog and is
    // served first, to a client that has gone: it is queued like any request that arrived.)
    drop(held.remove(0));
    let (status, json) = signed_push(&server.url, "capped", &push_for(2)).await;
    assert_eq!((status, json["status"].as_str()), (202, Some("queued")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_its_answers_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("CODERIPPLE_WRITE_TIMEOUT_SECS", "2")]);
    // Pipelined requests, answers never read (and a small receive window to fill).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(addr(&server).parse().unwrap())
        .await
        .unwrap();
    let (_rd, mut wr) = stream.into_split();
    let requests = b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(1000);
    let flood = async {
        loop {
            if let Err(e) = wr.write_all(&requests).await {
                return e;
            }
        }
    };
    // The flood can only end with the server resetting the connection.
    let e = timeout(CUT_OFF, flood)
        .await
        .expect("the server drops a connection whose answers are not read");
    eprintln!("flood ended: {e}");
    let (status, _) = signed_push(&server.url, "reader", &push_for(1)).await;
    assert_eq!(status, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_slow_connections_open_exits_0_within_the_grace_and_keeps_what_it_acknowledged()
 {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("CODERIPPLE_HEADER_TIMEOUT_SECS", "120"),
        ("CODERIPPLE_BODY_TIMEOUT_SECS", "120"),
        ("CODERIPPLE_BODY_IDLE_TIMEOUT_SECS", "120"),
        ("CODERIPPLE_SHUTDOWN_GRACE_SECS", "3"),
    ];
    let mut server = Server::start(dir.path(), &envs);
    let acked = push_body(
        "acme/api",
        &sha(9, 1),
        "feat: acknowledged before the signal",
    );
    let (status, _) = signed_push(&server.url, "acked", &acked).await;
    assert_eq!(status, 202);

    // A slowloris head, and a request in flight whose body stops halfway.
    let mut head_only = TcpStream::connect(addr(&server)).await.unwrap();
    head_only
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaa")
        .await
        .unwrap();
    let mut in_flight = TcpStream::connect(addr(&server)).await.unwrap();
    let body = push_for(1);
    in_flight
        .write_all(signed_head("cut", &body, "Expect: 100-continue\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut in_flight).await;
    assert!(head.starts_with("http/1.1 100"), "{head}");
    in_flight
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();

    sigterm(&server);
    // 3 s of grace, then out; the bound only proves it does not hang.
    let exit = tokio::task::block_in_place(|| wait_exit(&mut server, Duration::from_secs(30)));
    assert!(exit.success(), "exit status 0 after SIGTERM, got {exit:?}");
    for (what, stream) in [("head", &mut head_only), ("in flight", &mut in_flight)] {
        let got = read_until_closed(stream).await;
        assert!(!got.contains("HTTP/1.1 2"), "{what}: {got}");
    }
    assert!(
        TcpStream::connect(addr(&server)).await.is_err(),
        "nothing listens any more"
    );
    assert!(
        has_record(&server, "acked"),
        "the acknowledged push is stored"
    );
    assert!(!has_record(&server, "cut"), "the cut-off one is not");

    // A restart processes what was acknowledged.
    let data_dir = server.data_dir.clone();
    drop(server);
    let _server = Server::start(&data_dir, &[]);
    wait_drained(&data_dir, 1, Duration::from_secs(30));
    assert_eq!(applied_shas(&data_dir, "acme/api").await, vec![sha(9, 1)]);
}
