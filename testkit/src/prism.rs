//! Prism's validating proxy in front of a stand-in: every request and every answer is
//! checked against GitHub's official OpenAPI description (the endpoints CodeRipple calls,
//! cut from `@octokit/openapi` by `scripts/github-openapi-subset.py`); a violation becomes an
//! error answer (`--errors`), so a stand-in that drifts from GitHub fails the test.
//!
//! `scripts/test` installs Prism and the description and exports `CODERIPPLE_PRISM` and
//! `CODERIPPLE_GITHUB_OPENAPI`.

use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::git_server::free_port;
use crate::logged_child::LoggedChild;

/// A running `prism proxy --errors`; stopped (by its PID) when dropped.
#[derive(Debug)]
pub struct Prism {
    child: LoggedChild,
    /// `http://127.0.0.1:<port>`: GitHub's API as the client should see it.
    pub url: String,
}

impl Prism {
    /// Proxies to `upstream`, checking both ways.
    pub fn start(upstream: &str) -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with scripts/test (it installs Prism and GitHub's OpenAPI description)")
            })
        };
        let (bin, spec) = (var("CODERIPPLE_PRISM"), var("CODERIPPLE_GITHUB_OPENAPI"));
        let port = free_port();
        let child = LoggedChild::spawn(
            &format!("prism ({bin})"),
            Command::new(&bin)
                .args(["proxy", &spec, upstream, "--errors", "--host", "127.0.0.1"])
                .args(["--port", &port.to_string()]),
        );
        let mut prism = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = prism.child.exited() {
                panic!("prism exited ({status}): {}", prism.output());
            }
            assert!(
                Instant::now() < deadline,
                "prism did not listen: {}",
                prism.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prism
    }

    /// What Prism logged (its violations among it).
    pub fn output(&self) -> String {
        self.child.output()
    }
}
