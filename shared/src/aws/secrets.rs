//! Secrets from the parameter store: the webhook secret (`CODERIPPLE_WEBHOOK_SECRET_PARAM`),
//! and any other value a variable names by parameter ([`read`]: the GitHub App's key, a
//! GitHub token). A parameter is a Secrets Manager ARN
//! (`arn:aws:secretsmanager:…`) or an SSM parameter name (a `SecureString`, decrypted). Read
//! once at start (a Lambda container's init), never per request.
//!
//! The value is the secret itself, or JSON `{"current": "…", "previous": "…"}` during a
//! rotation (both accepted until `previous` is removed).

use serde::Deserialize;

use super::AwsClients;
use super::error::sdk_error;
use crate::error::{Error, Result};
use crate::signature::Secrets;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    current: String,
    previous: Option<String>,
}

/// Reads and parses the secret(s) named by `param`.
pub async fn load(clients: &AwsClients, param: &str) -> Result<Secrets> {
    let var = "CODERIPPLE_WEBHOOK_SECRET_PARAM";
    let raw = read(clients, var, param).await?;
    parse(&raw).map_err(|e| Error::Config(format!("{var} {param}: {e}")))
}

/// The value of `param` (named by the variable `var`): a Secrets Manager secret's string
/// when `param` is its ARN, else an SSM parameter's value, decrypted.
pub async fn read(clients: &AwsClients, var: &str, param: &str) -> Result<String> {
    if param.starts_with("arn:aws:secretsmanager:") {
        clients
            .secrets
            .get_secret_value()
            .secret_id(param)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("{var} {param}"), e))?
            .secret_string
            .ok_or_else(|| Error::Config(format!("{var} {param}: the secret has no string value")))
    } else {
        clients
            .ssm
            .get_parameter()
            .name(param)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("{var} {param}"), e))?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| Error::Config(format!("{var} {param}: the parameter has no value")))
    }
}

/// Parses a stored value: a plain secret, or the rotation JSON.
pub fn parse(raw: &str) -> Result<Secrets> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        let r: Rotation = serde_json::from_str(trimmed).map_err(|e| {
            Error::Config(format!(
                "looks like JSON but is not {{\"current\": …, \"previous\": …}}: {e}"
            ))
        })?;
        return Secrets::new(&r.current, r.previous.as_deref());
    }
    Secrets::new(trimmed, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::sign;

    #[test]
    fn plain_and_rotation_values() {
        let plain = parse("s3cret\n").unwrap();
        let header = |secret: &str| sign(secret.as_bytes(), b"x");
        assert!(plain.verify(Some(&header("s3cret")), b"x").is_ok());
        let both = parse(r#"{"current":"new","previous":"old"}"#).unwrap();
        assert!(both.verify(Some(&header("old")), b"x").is_ok());
        assert!(both.verify(Some(&header("other")), b"x").is_err());
        assert!(parse(r#"{"curent":"typo"}"#).is_err());
        assert!(parse("  ").is_err());
    }
}
