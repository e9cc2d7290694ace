//! Built-in sample payloads for `coderipple send`, shaped like GitHub's. Each push carries a
//! fresh commit sha so that every send adds a changelog line.

use serde_json::{Value, json};

/// A sample payload for `event` in `repo`, or `None` for events without a sample.
pub fn sample(event: &str, repo: &str) -> Option<Value> {
    let repository = json!({
        "id": 1296269,
        "full_name": repo,
        "name": repo.split('/').nth(1).unwrap_or(repo),
        "html_url": format!("https://github.com/{repo}"),
        "default_branch": "main",
        "owner": {"login": repo.split('/').next().unwrap_or(repo)},
    });
    let sha = fresh_sha();
    Some(match event {
        "push" => json!({
            "ref": "refs/heads/main",
            "before": "0000000000000000000000000000000000000000",
            "after": sha,
            "created": false, "deleted": false, "forced": false,
            "repository": repository,
            "pusher": {"name": "octocat"},
            "commits": [{
                "id": sha,
                "message": "feat(cli): add a sample command\n\nSent by `coderipple send`.",
                "timestamp": chrono::Utc::now().to_rfc3339(),
                "url": format!("https://github.com/{repo}/commit/{sha}"),
                "author": {"name": "Octo Cat", "email": "octocat@example.com"},
                "added": ["src/cli/sample.rs"], "removed": [], "modified": ["README.md"],
            }],
        }),
        "pull_request" => json!({
            "action": "closed", "number": 42, "repository": repository,
            "pull_request": {
                "number": 42, "title": "Add a sample command", "body": "Closes #41",
                "merged": true, "merge_commit_sha": sha,
                "html_url": format!("https://github.com/{repo}/pull/42"),
                "merged_at": chrono::Utc::now().to_rfc3339(),
                "base": {"ref": "main"}, "labels": [{"name": "enhancement"}],
            },
        }),
        "release" => json!({
            "action": "published", "repository": repository,
            "release": {"tag_name": "v1.0.0", "name": "v1.0.0", "body": "First release",
                        "html_url": format!("https://github.com/{repo}/releases/tag/v1.0.0"),
                        "prerelease": false, "published_at": chrono::Utc::now().to_rfc3339()},
        }),
        "create" => json!({"ref": "v1.0.0", "ref_type": "tag", "repository": repository}),
        "ping" => json!({"zen": "Design for failure.", "hook_id": 1, "repository": repository}),
        _ => return None,
    })
}

fn fresh_sha() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{a}{}", &b[..8])
}
