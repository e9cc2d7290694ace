//! A docs remote's credentials, kept out of every process's argv, and out of every text.
//!
//! An HTTP(S) remote URL with a user and password (`https://x-access-token:TOKEN@host/o/r.git`)
//! is never given to git as it is: any local user can read a process's argv
//! (`/proc/<pid>/cmdline`). git gets the URL without them, and the two travel in the
//! environment of the git process (readable only by its owner) to a credential helper set up
//! through `GIT_CONFIG_*` variables, which answers only for that URL's protocol and host.
//! Other URLs (`ssh://`, `git://`, `user@host:path`, a path) are given as they are.
//!
//! [`redact`] removes credentials from any text (git's stderr, a URL shown to operators).

use percent_encoding::percent_decode_str;

/// What the credential helper answers with, for one protocol and host.
#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    protocol: String,
    host: String,
    username: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}://***@{})", self.protocol, self.host)
    }
}

/// A remote as git is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Remote {
    /// The URL git is given: without credentials.
    pub url: String,
    credentials: Option<Credentials>,
}

/// The helper (a shell function, as `credential.helper=!…` takes it): for `get`, when the
/// protocol and host git asks about are the remote's, the user and password from the
/// environment; nothing otherwise (a redirect to another host gets nothing).
const HELPER: &str = r#"!f() { test "$1" = get || return 0; p=; h=; while IFS= read -r l; do case "$l" in protocol=*) p=${l#protocol=};; host=*) h=${l#host=};; esac; done; test "$p" = "$CODERIPPLE_GIT_PROTOCOL" && test "$h" = "$CODERIPPLE_GIT_HOST" || return 0; printf 'username=%s\npassword=%s\n' "$CODERIPPLE_GIT_USERNAME" "$CODERIPPLE_GIT_PASSWORD"; }; f"#;

impl Remote {
    /// Splits `raw` into the URL git is given and its credentials. Refuses an HTTP(S) URL
    /// whose user or password cannot be read back for certain: a `/`, `?`, `#` or `@` in
    /// them must be percent-encoded (`%2F`, `%3F`, `%23`, `%40`), as in any URL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let plain = || Self {
            url: raw.to_owned(),
            credentials: None,
        };
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Ok(plain());
        };
        let protocol = scheme.to_ascii_lowercase();
        if protocol != "http" && protocol != "https" {
            return Ok(plain());
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if path.contains('@')
            || authority.contains(|c: char| c.is_whitespace() || "'\"<>`".contains(c))
        {
            return Err(format!(
                "{}: a `/`, `?`, `#`, `@`, space or quote in a URL's user or password must be \
                 percent-encoded (`%2F`, `%3F`, `%23`, `%40`, …)",
                redact(raw)
            ));
        }
        let Some((userinfo, host)) = authority.rsplit_once('@') else {
            return Ok(plain());
        };
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (username, password) = (decode(user), decode(password));
        if username
            .chars()
            .chain(password.chars())
            .any(char::is_control)
        {
            return Err(format!(
                "{}: the user or password holds a control character",
                redact(raw)
            ));
        }
        Ok(Self {
            url: format!("{scheme}://{host}{path}"),
            credentials: Some(Credentials {
                protocol,
                host: host.to_owned(),
                username,
                password,
            }),
        })
    }

    /// The environment every git command of this remote runs with: the credential helper
    /// and what it answers with (nothing without credentials).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let Some(c) = &self.credentials else {
            return Vec::new();
        };
        vec![
            ("GIT_CONFIG_COUNT", "1".to_owned()),
            ("GIT_CONFIG_KEY_0", "credential.helper".to_owned()),
            ("GIT_CONFIG_VALUE_0", HELPER.to_owned()),
            ("CODERIPPLE_GIT_PROTOCOL", c.protocol.clone()),
            ("CODERIPPLE_GIT_HOST", c.host.clone()),
            ("CODERIPPLE_GIT_USERNAME", c.username.clone()),
            ("CODERIPPLE_GIT_PASSWORD", c.password.clone()),
        ]
    }
}

/// `text` with every URL's credentials replaced: `https://user:token@host` →
/// `https://***@host`. A URL runs to the next whitespace or quote, and everything before its
/// last `@` goes, so a password holding `/`, `:` or `@` leaves nothing behind.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo) => {
                out.push_str("***");
                out.push_str(&tail[userinfo..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave_in_a_reason() {
        assert_eq!(
            redact(
                "fatal: unable to access 'https://x-access-token:ghs_SECRET@github.com/o/r.git/'"
            ),
            "fatal: unable to access 'https://***@github.com/o/r.git/'"
        );
        assert_eq!(redact("git://host/r"), "git://host/r");
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn passwords_with_slashes_colons_and_ats_are_redacted_whole() {
        for (text, kept) in [
            (
                "https://bot:pa/ss/word@github.com/o/r.git",
                "github.com/o/r.git",
            ),
            ("https://bot:p:a:ss@host:8443/o/r", "host:8443/o/r"),
            ("https://bot:p@ss@w@rd@host/o/r.git", "host/o/r.git"),
            (
                "push to 'http://u:a/b@c:d@127.0.0.1:9/o.git' failed",
                "127.0.0.1:9/o.git",
            ),
            ("https://tok/en@host/x and https://u:p@other/y", "other/y"),
        ] {
            let out = redact(text);
            for secret in [
                "pa/ss", "ss/word", "p:a:ss", "p@ss", "rd@", "a/b", "c:d", "tok/en",
            ] {
                assert!(!out.contains(secret), "{secret:?} left in {out:?}");
            }
            assert!(out.contains(kept), "{kept:?} lost from {out:?}");
            assert!(out.contains("://***@"), "{out}");
        }
    }

    #[test]
    fn an_https_remote_loses_its_credentials_to_the_environment() {
        let r = Remote::parse("https://x-access-token:p%40ss%2Fw%3Ard@github.com/o/r.git").unwrap();
        assert_eq!(r.url, "https://github.com/o/r.git");
        let env = r.env();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CODERIPPLE_GIT_USERNAME"), Some("x-access-token"));
        assert_eq!(get("CODERIPPLE_GIT_PASSWORD"), Some("p@ss/w:rd"));
        assert_eq!(get("CODERIPPLE_GIT_HOST"), Some("github.com"));
        assert_eq!(get("CODERIPPLE_GIT_PROTOCOL"), Some("https"));
        assert_eq!(get("GIT_CONFIG_KEY_0"), Some("credential.helper"));
        // A token as the user alone.
        let t = Remote::parse("http://TOKEN@127.0.0.1:8080/o/r.git").unwrap();
        assert_eq!(t.url, "http://127.0.0.1:8080/o/r.git");
        assert!(!format!("{t:?}").contains("TOKEN"), "{t:?}");
        // Other remotes are given as they are, with no helper.
        for plain in [
            "ssh://git@host/o/r.git",
            "git@host:o/r.git",
            "/srv/r.git",
            "git://h/r",
        ] {
            let p = Remote::parse(plain).unwrap();
            assert_eq!((p.url.as_str(), p.env().len()), (plain, 0));
        }
        // A password whose `/` or `@` was not encoded cannot be split for certain.
        let bad = Remote::parse("https://bot:pa/ss@github.com/o/r.git").unwrap_err();
        assert!(!bad.contains("pa/ss") && !bad.contains("ss@"), "{bad}");
        assert!(Remote::parse("https://bot:p%0Ass@h/r").is_err());
    }
}
