//! Tests of webhook parsing: every processed event, ignored ones with their reason, and bad
//! input.

use super::*;
use serde_json::json;

fn parse_value(event: &str, v: serde_json::Value) -> Result<Parsed> {
    parse(event, "d-1", v.to_string().as_bytes(), Utc::now())
}

fn repo() -> serde_json::Value {
    json!({"full_name": "octo/hello", "html_url": "https://github.com/octo/hello", "default_branch": "main"})
}

#[test]
fn push_is_normalized() {
    let parsed = parse_value(
        "push",
        json!({"ref": "refs/heads/main", "before": "a", "after": "b", "repository": repo(),
               "commits": [{"id": "b", "message": "feat: x", "author": {"name": "Mona"},
                            "timestamp": "2026-01-01T00:00:00Z", "added": ["src/x.rs"]}]}),
    )
    .unwrap();
    let Parsed::Event(env) = parsed else {
        panic!("expected event")
    };
    assert_eq!(env.repo, "octo/hello");
    let Some(Change::Push(push)) = env.change else {
        panic!("expected push")
    };
    assert_eq!(push.branch(), Some("main"));
    assert_eq!(push.commits[0].author, "Mona");
    assert_eq!(push.commits[0].added, vec!["src/x.rs"]);
    assert_eq!(push.default_branch.as_deref(), Some("main"));
}

#[test]
fn a_tag_push_keeps_its_head_commits_time() {
    let parsed = parse_value(
        "push",
        json!({"ref": "refs/tags/v1.0.0", "before": "0".repeat(40), "after": "b", "created": true,
               "repository": repo(), "commits": [],
               "head_commit": {"id": "b", "message": "fix: x", "timestamp": "2026-03-04T05:06:07Z"}}),
    )
    .unwrap();
    let Parsed::Event(env) = parsed else {
        panic!("expected event")
    };
    let Some(Change::Push(push)) = env.change else {
        panic!("expected push")
    };
    assert_eq!(push.tag(), Some("v1.0.0"));
    assert!(push.commits.is_empty());
    assert_eq!(push.head_timestamp.as_deref(), Some("2026-03-04T05:06:07Z"));
}

#[test]
fn the_delivering_app_installation_is_kept() {
    let with = |event: &str, mut v: serde_json::Value| {
        v["installation"] = json!({"id": 4242, "node_id": "MDIz"});
        match parse_value(event, v).unwrap() {
            Parsed::Event(env) => env.installation,
            _ => panic!("expected an event"),
        }
    };
    let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b", "repository": repo()});
    assert_eq!(with("push", push.clone()), Some(4242));
    let release = json!({"action": "published", "repository": repo(),
                         "release": {"tag_name": "v1", "html_url": "u"}});
    assert_eq!(with("release", release), Some(4242));
    let tag = json!({"ref": "v1", "ref_type": "tag", "repository": repo()});
    assert_eq!(with("create", tag), Some(4242));
    // A repository webhook carries none; the envelope says so and serializes without it.
    let Parsed::Event(env) = parse_value("push", push).unwrap() else {
        panic!("expected an event")
    };
    assert_eq!(env.installation, None);
    assert!(!env.to_json().contains("installation"));
    // A malformed installation is a bad request, like any other malformed field.
    let mut bad =
        json!({"ref": "refs/heads/main", "before": "a", "after": "b", "repository": repo()});
    bad["installation"] = json!({"id": "not a number"});
    assert!(parse_value("push", bad).is_err());
}

#[test]
fn unmerged_pull_requests_and_other_events_are_ignored() {
    let pr = |action: &str, merged: bool| {
        json!({"action": action, "repository": repo(),
               "pull_request": {"number": 1, "title": "t", "merged": merged}})
    };
    assert!(matches!(
        parse_value("pull_request", pr("opened", false)).unwrap(),
        Parsed::Ignored { .. }
    ));
    assert!(matches!(
        parse_value("pull_request", pr("closed", false)).unwrap(),
        Parsed::Ignored { .. }
    ));
    assert!(matches!(
        parse_value("pull_request", pr("closed", true)).unwrap(),
        Parsed::Event(_)
    ));
    let star = parse_value("star", json!({"action": "created", "repository": repo()}));
    assert!(
        matches!(star.unwrap(), Parsed::Ignored { reason, repo: Some(r) } if reason.contains("star") && r == "octo/hello")
    );
    let branch = json!({"ref": "dev", "ref_type": "branch", "repository": repo()});
    assert!(matches!(
        parse_value("create", branch).unwrap(),
        Parsed::Ignored { .. }
    ));
}

#[test]
fn bad_payloads_are_bad_requests() {
    for (event, body) in [
        ("push", "not json".to_string()),
        ("push", "[1,2]".to_string()),
        (
            "push",
            json!({"ref": "x", "repository": repo()}).to_string(),
        ),
        (
            "push",
            json!({"ref": "x", "before": "a", "after": "b"}).to_string(),
        ),
        (
            "push",
            json!({"ref": "x", "before": "a", "after": "b",
                   "repository": {"full_name": "../../etc"}})
            .to_string(),
        ),
    ] {
        let err = parse(event, "d", body.as_bytes(), Utc::now()).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{body}: {err:?}");
    }
}

#[test]
fn form_bodies_carry_the_payload_field() {
    let body = b"payload=%7B%22zen%22%3A%22hi%22%7D";
    assert_eq!(
        &*decode_body(ContentKind::Form, body).unwrap(),
        br#"{"zen":"hi"}"#
    );
    assert!(matches!(
        decode_body(ContentKind::Form, b"other=1"),
        Err(Error::BadRequest(_))
    ));
}

#[test]
fn content_types_and_ids_are_checked() {
    assert_eq!(
        content_kind(Some("application/json; charset=utf-8")).unwrap(),
        ContentKind::Json
    );
    assert!(matches!(
        content_kind(Some("text/plain")),
        Err(Error::UnsupportedMediaType(_))
    ));
    assert!(content_kind(None).is_err());
    assert!(validate_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958").is_ok());
    assert!(validate_delivery_id("../x").is_err());
    // What a blob store refuses as a key is refused here.
    for hidden in [".x", "..", ".json"] {
        assert!(!crate::blob::is_valid_key(hidden));
        assert!(validate_delivery_id(hidden).is_err(), "{hidden}");
    }
    assert!(validate_delivery_id("").is_err());
    assert!(validate_repo("a/b.c").is_ok());
    assert!(validate_repo("a/..").is_err());
    assert!(validate_repo("a/b/c").is_err());
}

#[test]
fn a_release_keeps_its_target_only_when_it_is_a_commit() {
    let target = |commitish: serde_json::Value| {
        let v = json!({"action": "published", "repository": repo(),
                       "release": {"tag_name": "v1", "html_url": "u", "target_commitish": commitish}});
        let Parsed::Event(env) = parse_value("release", v).unwrap() else {
            panic!("expected an event")
        };
        match env.change {
            Some(Change::Release(r)) => r.target,
            other => panic!("expected a release, got {other:?}"),
        }
    };
    let sha = "ABCDEF0123456789abcdef0123456789abcdef01";
    assert_eq!(target(json!(sha)), Some(sha.to_ascii_lowercase()));
    assert_eq!(target(json!("main")), None, "a branch names no commit");
    assert_eq!(
        target(json!("abc123")),
        None,
        "an abbreviated sha is not kept"
    );
    assert_eq!(target(json!("zz".repeat(20))), None);
    assert_eq!(target(serde_json::Value::Null), None);
}

#[test]
fn a_pre_release_promoted_to_a_release_is_processed_as_a_promotion() {
    let parse = |action: &str, prerelease: bool| {
        let v = json!({"action": action, "repository": repo(),
                       "release": {"tag_name": "v2", "html_url": "u", "prerelease": prerelease}});
        parse_value("release", v).unwrap()
    };
    let promoted = |parsed: Parsed| match parsed {
        Parsed::Event(env) => match env.change {
            Some(Change::Release(r)) => Some(r.promoted),
            other => panic!("expected a release, got {other:?}"),
        },
        _ => None,
    };
    assert_eq!(promoted(parse("released", false)), Some(true));
    assert_eq!(promoted(parse("published", false)), Some(false));
    assert_eq!(promoted(parse("published", true)), Some(false));
    assert!(
        matches!(parse("edited", false), Parsed::Ignored { .. }),
        "other actions stay ignored"
    );
}
