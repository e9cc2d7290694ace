//! Writes signed, GitHub-shaped push payloads for benchmarks (wrk, hyperfine):
//! `coderipple-gen-push OUT_DIR SECRET REPOS COMMITS FILES` writes `push-<n>.json` and
//! `push-<n>.sig` (the `X-Hub-Signature-256` value) for repositories `bench/repo-<n>`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, secret, repos, commits, files] = args.as_slice() else {
        eprintln!("usage: coderipple-gen-push OUT_DIR SECRET REPOS COMMITS FILES");
        return ExitCode::FAILURE;
    };
    let parse = |name: &str, v: &str| {
        v.parse::<usize>()
            .map_err(|_| format!("{name} must be a number, got {v:?}"))
    };
    let (repos, commits, files) = match (
        parse("REPOS", repos),
        parse("COMMITS", commits),
        parse("FILES", files),
    ) {
        (Ok(r), Ok(c), Ok(f)) => (r, c, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("cannot create {out}: {e}");
        return ExitCode::FAILURE;
    }
    for n in 0..repos {
        let repo = format!("bench/repo-{n}");
        let body = coderipple_loadtest::push_payload(&repo, n as u64, commits, files).to_string();
        let sig = coderipple_core::signature::sign(secret.as_bytes(), body.as_bytes());
        let written = std::fs::write(format!("{out}/push-{n}.json"), &body)
            .and_then(|()| std::fs::write(format!("{out}/push-{n}.sig"), &sig));
        if let Err(e) = written {
            eprintln!("cannot write payload {n}: {e}");
            return ExitCode::FAILURE;
        }
        if n == 0 {
            println!("payload size: {} bytes", body.len());
        }
    }
    ExitCode::SUCCESS
}
