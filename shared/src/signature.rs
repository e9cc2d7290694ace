//! `X-Hub-Signature-256` verification: `sha256=<hex>` = HMAC-SHA256(secret, raw body).
//!
//! The comparison is constant-time (`Mac::verify_slice`). Several secrets may be configured
//! at once so that a secret can be rotated without dropping deliveries.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// The header GitHub signs with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// One or more webhook secrets; a signature made with any of them is accepted.
#[derive(Clone)]
pub struct Secrets(Vec<Vec<u8>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} configured, redacted)", self.0.len())
    }
}

impl Secrets {
    /// Secrets from the current one and an optional previous one. Empty secrets are refused.
    pub fn new(current: &str, previous: Option<&str>) -> Result<Self> {
        if current.is_empty() {
            return Err(Error::Config(
                "CODERIPPLE_WEBHOOK_SECRET must not be empty".into(),
            ));
        }
        let mut all = vec![current.as_bytes().to_vec()];
        match previous {
            Some("") => {
                return Err(Error::Config(
                    "CODERIPPLE_WEBHOOK_SECRET_PREVIOUS is set but empty".into(),
                ));
            }
            Some(prev) => all.push(prev.as_bytes().to_vec()),
            None => {}
        }
        Ok(Self(all))
    }

    /// The secret new signatures are made with.
    pub fn current(&self) -> &[u8] {
        &self.0[0]
    }

    /// Checks the header value against the raw body.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<()> {
        let header = header.ok_or(Error::Unauthorized("missing X-Hub-Signature-256"))?;
        let hex_digest = header
            .strip_prefix("sha256=")
            .ok_or(Error::Unauthorized("malformed signature"))?;
        let digest =
            hex::decode(hex_digest).map_err(|_| Error::Unauthorized("malformed signature"))?;
        if digest.len() != 32 {
            return Err(Error::Unauthorized("malformed signature"));
        }
        let mut matched = false;
        for secret in &self.0 {
            let mut mac = new_mac(secret);
            mac.update(body);
            matched |= mac.verify_slice(&digest).is_ok();
        }
        if matched {
            Ok(())
        } else {
            Err(Error::Unauthorized("signature does not match"))
        }
    }
}

/// The `X-Hub-Signature-256` value for a body, as GitHub would send it.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = new_mac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_its_own_signature() {
        let s = Secrets::new("It's a Secret to Everybody", None).unwrap();
        let sig = sign(s.current(), b"Hello, World!");
        // The example from GitHub's "Validating webhook deliveries" documentation.
        assert_eq!(
            sig,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(s.verify(Some(&sig), b"Hello, World!").is_ok());
    }

    #[test]
    fn rejects_changed_body_and_malformed_headers() {
        let s = Secrets::new("k", None).unwrap();
        let sig = sign(b"k", b"body");
        assert!(s.verify(Some(&sig), b"body!").is_err());
        assert!(s.verify(None, b"body").is_err());
        assert!(s.verify(Some("sha1=abcd"), b"body").is_err());
        assert!(s.verify(Some("sha256=zz"), b"body").is_err());
        assert!(s.verify(Some("sha256=abcd"), b"body").is_err());
    }

    #[test]
    fn previous_secret_is_accepted_during_rotation() {
        let s = Secrets::new("new", Some("old")).unwrap();
        assert!(s.verify(Some(&sign(b"old", b"x")), b"x").is_ok());
        assert!(s.verify(Some(&sign(b"new", b"x")), b"x").is_ok());
        assert!(s.verify(Some(&sign(b"other", b"x")), b"x").is_err());
    }

    #[test]
    fn empty_secrets_are_refused_by_name() {
        let err = Secrets::new("", None).unwrap_err().to_string();
        assert!(err.contains("CODERIPPLE_WEBHOOK_SECRET"), "{err}");
        let err = Secrets::new("a", Some("")).unwrap_err().to_string();
        assert!(err.contains("CODERIPPLE_WEBHOOK_SECRET_PREVIOUS"), "{err}");
    }
}
