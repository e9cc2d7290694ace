#!/usr/bin/env python3
"""Cuts the endpoints CodeRipple calls out of GitHub's official OpenAPI description.

Usage: github-openapi-subset.py api.github.com.deref.json OUT.json

The input is @octokit/openapi's dereferenced description of api.github.com (no $ref left),
so each kept operation carries its full request and response schemas. Prism validates
against the result; loading the whole 70 MB description would take it ~20 s per start.
"""
import json
import sys

# Every (path, method) the worker sends. Adding a call to GitHub = one line here.
ENDPOINTS = [
    ("/app/installations/{installation_id}/access_tokens", "post"),
    ("/repos/{owner}/{repo}/installation", "get"),
    ("/repos/{owner}/{repo}/contents/{path}", "get"),
    ("/repos/{owner}/{repo}/git/blobs/{file_sha}", "get"),
    # Publishing (github_direct, github_pr): the App's bot identity, the default branch, the
    # Git Data API, comparisons and pull requests.
    ("/app", "get"),
    ("/users/{username}", "get"),
    ("/repos/{owner}/{repo}", "get"),
    ("/repos/{owner}/{repo}/git/ref/{ref}", "get"),
    ("/repos/{owner}/{repo}/git/matching-refs/{ref}", "get"),
    ("/repos/{owner}/{repo}/git/refs", "post"),
    ("/repos/{owner}/{repo}/git/refs/{ref}", "patch"),
    ("/repos/{owner}/{repo}/git/commits", "post"),
    ("/repos/{owner}/{repo}/git/commits/{commit_sha}", "get"),
    ("/repos/{owner}/{repo}/git/trees", "post"),
    ("/repos/{owner}/{repo}/git/trees/{tree_sha}", "get"),
    ("/repos/{owner}/{repo}/compare/{basehead}", "get"),
    ("/repos/{owner}/{repo}/commits/{ref}", "get"),
    ("/repos/{owner}/{repo}/pulls", "get"),
    ("/repos/{owner}/{repo}/pulls", "post"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}", "get"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}", "patch"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "post"),
    # Recovery of missed deliveries: the App's and repository hooks' deliveries, redelivery.
    ("/app/hook/deliveries", "get"),
    ("/app/hook/deliveries/{delivery_id}/attempts", "post"),
    ("/repos/{owner}/{repo}/hooks/{hook_id}/deliveries", "get"),
    ("/orgs/{org}/installation", "get"),
    ("/orgs/{org}/hooks/{hook_id}/deliveries", "get"),
    ("/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts", "post"),
    ("/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts", "post"),
]


def main(src, dst):
    with open(src, encoding="utf-8") as f:
        spec = json.load(f)
    out = {k: v for k, v in spec.items() if k not in ("paths", "x-webhooks", "webhooks")}
    out["paths"] = {}
    for path, method in ENDPOINTS:
        item = spec["paths"][path]
        kept = out["paths"].setdefault(path, {})
        kept[method] = item[method]
        if "parameters" in item:
            kept["parameters"] = item["parameters"]
    text = json.dumps(out)
    if '"$ref"' in text:
        sys.exit("the input is not dereferenced (use api.github.com.deref.json)")
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
