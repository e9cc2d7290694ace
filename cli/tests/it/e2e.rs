//! End to end: the real `coderipple up` on port 0, signed webhooks over HTTP, the workers,
//! the docs on disk, the DLQ through the CLI.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use crate::common::*;
use futures::future::join_all;
use serde_json::Value;

const REPOS: [&str; 4] = ["acme/api", "acme/web", "acme/cli", "other/lib"];
const PUSHES_PER_REPO: u64 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_events_for_several_repos_become_docs_in_order_with_poison_in_the_dlq() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let poison_delivery = "poison-1";

    // Each repo's pushes are sent one after another (that is the order to keep);
    // repos are sent concurrently.
    let sends = REPOS.iter().enumerate().map(|(r, repo)| {
        let (client, url) = (client.clone(), server.url.clone());
        async move {
            let mut sent = Vec::new();
            for n in 0..PUSHES_PER_REPO {
                let id = sha(r as u64 + 1, n);
                let delivery = format!("d-{r}-{n}");
                let (status, json) = post(
                    &client,
                    &url,
                    "push",
                    &delivery,
                    &push_body(repo, &id, &format!("feat: change {n}")),
                )
                .await
                .unwrap();
                assert_eq!(
                    (status, json["status"].as_str()),
                    (202, Some("queued")),
                    "{json}"
                );
                sent.push(id.clone());
                if r == 1 && n == 2 {
                    let body = push_body(repo, "not-a-sha!", "feat: poison");
                    let (status, _) = post(&client, &url, "push", poison_delivery, &body)
                        .await
                        .unwrap();
                    assert_eq!(status, 202);
                }
                // An immediate redelivery: answered as a duplicate or absorbed by the
                // queue's dedup; never applied twice (checked below).
                if n == 4 {
                    let body = push_body(repo, &id, &format!("feat: change {n}"));
                    let (status, _) = post(&client, &url, "push", &delivery, &body).await.unwrap();
                    assert!(
                        status == 200 || status == 202,
                        "redelivery answered {status}"
                    );
                }
            }
            (repo.to_string(), sent)
        }
    });
    let sent: HashMap<String, Vec<String>> = join_all(sends).await.into_iter().collect();
    // Ignored and ping events are answered and recorded, never processed.
    let (status, _) = post(
        &client,
        &server.url,
        "star",
        "star-1",
        r#"{"action":"created","repository":{"full_name":"acme/api"}}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 202);

    let expected = REPOS.len() as u64 * PUSHES_PER_REPO;
    let s = wait_drained(dir.path(), expected, Duration::from_secs(60));
    assert_eq!(s["deliveries"]["completed"], expected);
    assert_eq!(s["deliveries"]["failed"], 1);
    assert_eq!(s["dlq"]["depth"], 1);

    for (repo, shas) in &sent {
        assert_eq!(
            &applied_shas(dir.path(), repo).await,
            shas,
            "{repo}: applied in send order, once each"
        );
        let log = changelog(dir.path(), repo);
        for id in shas {
            assert_eq!(
                log.matches(&format!(
                    "[`{}`](https://github.com/{repo}/commit/{id})",
                    &id[..7]
                ))
                .count(),
                1,
                "{repo} {id}\n{log}"
            );
        }
    }

    // A late redelivery (after processing) is a duplicate.
    let (status, json) = post(
        &client,
        &server.url,
        "push",
        "d-0-0",
        &push_body("acme/api", &sha(1, 0), "feat: change 0"),
    )
    .await
    .unwrap();
    assert_eq!((status, json["status"].as_str()), (200, Some("duplicate")));

    // The DLQ holds exactly the poison event, with its reason.
    let (ok, out, err) = cli(dir.path(), &["dlq", "list", "--json"]);
    assert!(ok, "{err}");
    let dead: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["delivery"], poison_delivery);
    assert_eq!(dead[0]["repo"], "acme/web");
    assert_eq!(dead[0]["error_class"], "invalid");
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a hex sha")
    );
    let (ok, out, _) = cli(dir.path(), &["dlq", "show", poison_delivery]);
    assert!(ok && out.contains("not-a-sha!"), "{out}");

    // Replay sends it back; it fails the same way and returns to the DLQ, still alone there.
    let (ok, out, _) = cli(dir.path(), &["dlq", "replay", "--dry-run"]);
    assert!(
        ok && out.contains("1 message(s) would be replayed"),
        "{out}"
    );
    assert_eq!(
        common::status(dir.path())["dlq"]["depth"],
        1,
        "a dry run moves nothing"
    );
    let (ok, out, err) = cli(dir.path(), &["dlq", "replay", "--repo", "acme/web"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("replayed 1 message"), "{out}");
    let mut depth = Value::Null;
    for _ in 0..100 {
        let s = common::status(dir.path());
        depth = s["dlq"]["depth"].clone();
        if depth == 1 && s["queue"]["visible"] == 0 && s["queue"]["in_flight"] == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(depth, 1, "the replayed poison is dead-lettered again");

    // Purge refuses without a terminal or --yes, then empties the DLQ with --yes.
    let (ok, _, err) = cli(dir.path(), &["dlq", "purge"]);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, out, _) = cli(dir.path(), &["dlq", "purge", "--yes"]);
    assert!(ok && out.contains("purged 1"), "{out}");
    assert_eq!(common::status(dir.path())["dlq"]["depth"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_loses_nothing_acknowledged_and_applies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("CODERIPPLE_VISIBILITY_TIMEOUT_SECS", "2"),
        ("CODERIPPLE_RETRY_DELAY_SECS", "1"),
    ];
    let mut server = Server::start(dir.path(), &envs);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let total: u64 = 400;
    let repos = 8u64;
    let deliveries: Vec<(String, String, String)> = (0..total)
        .map(|i| {
            let repo = format!("crash/repo-{}", i % repos);
            (format!("c-{i}"), repo, sha(99, i))
        })
        .collect();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let url = server.url.clone();
    let burst = {
        let deliveries = deliveries.clone();
        let acked = acked.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
            let mut tasks = Vec::new();
            for (delivery, repo, id) in deliveries {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (client, url, acked, tx) =
                    (client.clone(), url.clone(), acked.clone(), tx.clone());
                tasks.push(tokio::spawn(async move {
                    let _permit = permit;
                    let body = push_body(&repo, &id, "fix: crash test");
                    if let Ok((status, _)) = post(&client, &url, "push", &delivery, &body).await
                        && (200..300).contains(&status)
                    {
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let _ = tx.send(delivery);
                    }
                }));
            }
            join_all(tasks).await;
        })
    };
    while acked.load(std::sync::atomic::Ordering::SeqCst) < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    burst.await.unwrap();
    let mut acknowledged = Vec::new();
    while let Ok(d) = rx.try_recv() {
        acknowledged.push(d);
    }
    assert!(
        acknowledged.len() < total as usize,
        "the kill must land mid-burst"
    );

    // Restart on the same data dir; what was not acknowledged is redelivered (by hand: GitHub
    // does not retry on its own).
    let server = Server::start(dir.path(), &envs);
    let acked_set: std::collections::HashSet<_> = acknowledged.iter().cloned().collect();
    for (delivery, repo, id) in &deliveries {
        if !acked_set.contains(delivery) {
            let (status, _) = post(
                &client,
                &server.url,
                "push",
                delivery,
                &push_body(repo, id, "fix: crash test"),
            )
            .await
            .unwrap();
            assert!(
                (200..300).contains(&status),
                "redelivery of {delivery}: {status}"
            );
        }
    }
    let s = wait_drained(dir.path(), total, Duration::from_secs(120));
    assert_eq!(s["deliveries"]["completed"], total, "{s}");
    assert_eq!(s["dlq"]["depth"], 0);

    let mut applied: HashMap<String, usize> = HashMap::new();
    for r in 0..repos {
        for id in applied_shas(dir.path(), &format!("crash/repo-{r}")).await {
            *applied.entry(id).or_default() += 1;
        }
    }
    for (delivery, repo, id) in &deliveries {
        assert_eq!(
            applied.get(id),
            Some(&1),
            "{delivery} applied {:?} times",
            applied.get(id)
        );
        assert_eq!(
            changelog(dir.path(), repo).matches(id.as_str()).count(),
            1,
            "{delivery} in the changelog once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_and_a_restart_finds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    for n in 0..5 {
        let (status, _) = post(
            &client,
            &server.url,
            "push",
            &format!("g-{n}"),
            &push_body("acme/api", &sha(7, n), "docs: more"),
        )
        .await
        .unwrap();
        assert_eq!(status, 202);
    }
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "graceful exit, got {exit:?}");
    drop(server);
    let _server = Server::start(dir.path(), &[]);
    wait_drained(dir.path(), 5, Duration::from_secs(30));
    assert_eq!(applied_shas(dir.path(), "acme/api").await.len(), 5);
}
