//! The webhook secret of a server: from `CODERIPPLE_WEBHOOK_SECRET_PARAM` (SSM parameter or
//! Secrets Manager ARN) when set; else `CODERIPPLE_WEBHOOK_SECRET` (+ `_PREVIOUS`); else one
//! generated once and kept in `<data-dir>/webhook-secret` (mode 0600), which
//! `coderipple send` reads too. Never an unsigned mode.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use coderipple_core::aws::{AwsClients, SdkRetries};
use coderipple_core::config::secrets_from_env;
use coderipple_core::signature::Secrets;

use crate::backend::Backend;

pub const SECRET_FILE: &str = "webhook-secret";
/// Names the SSM parameter or Secrets Manager secret holding the webhook secret(s).
pub const PARAM_VAR: &str = "CODERIPPLE_WEBHOOK_SECRET_PARAM";

/// Where the server's secret came from.
#[derive(Debug)]
pub enum Source {
    Param(String),
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

/// The configured secrets: from the parameter named by `CODERIPPLE_WEBHOOK_SECRET_PARAM`
/// (read with `clients`, or clients from the environment), else `CODERIPPLE_WEBHOOK_SECRET`;
/// `None` when neither is set.
pub async fn configured(clients: Option<&AwsClients>) -> anyhow::Result<Option<(Secrets, Source)>> {
    if let Ok(param) = std::env::var(PARAM_VAR) {
        let clients = match clients {
            Some(c) => c.clone(),
            None => AwsClients::from_env(SdkRetries::Standard).await,
        };
        let secrets = coderipple_core::aws::secrets::load(&clients, &param)
            .await
            .context("reading the webhook secret")?;
        return Ok(Some((secrets, Source::Param(param))));
    }
    Ok(secrets_from_env(|k| std::env::var(k).ok())?.map(|s| (s, Source::Env)))
}

/// The secrets `up` verifies with, on `backend`.
pub async fn for_backend(backend: &Backend, dir: &Path) -> anyhow::Result<(Secrets, Source)> {
    if let Some(found) = configured(backend.aws.as_ref().map(|aws| &aws.clients)).await? {
        return Ok(found);
    }
    coderipple_core::data_dir::create_private_dir(dir)?;
    from_data_dir(dir)
}

/// The secret kept in the data dir, generated on first use.
fn from_data_dir(dir: &Path) -> anyhow::Result<(Secrets, Source)> {
    let path = dir.join(SECRET_FILE);
    if path.exists() {
        let secret = read(&path)?;
        return Ok((Secrets::new(&secret, None)?, Source::File(path)));
    }
    let mut bytes = [0u8; 32];
    getrandom_fill(&mut bytes)?;
    let secret = hex::encode(bytes);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    Ok((Secrets::new(&secret, None)?, Source::Generated(path)))
}

/// The secret `send` signs with.
pub fn for_client(dir: &Path) -> anyhow::Result<String> {
    if let Ok(secret) = std::env::var("CODERIPPLE_WEBHOOK_SECRET") {
        if secret.is_empty() {
            bail!("CODERIPPLE_WEBHOOK_SECRET is set but empty");
        }
        return Ok(secret);
    }
    let path = dir.join(SECRET_FILE);
    if !path.exists() {
        bail!(
            "no webhook secret: set CODERIPPLE_WEBHOOK_SECRET, or point --data-dir at the directory `coderipple up` uses ({} has none)",
            dir.display()
        );
    }
    read(&path)
}

fn read(path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "webhook secret file is readable by others; chmod 600 it");
    }
    let secret = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_owned();
    if secret.is_empty() {
        bail!(
            "{} is empty; delete it to generate a new secret",
            path.display()
        );
    }
    Ok(secret)
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    getrandom::fill(buf).map_err(|e| anyhow::anyhow!("no randomness for the secret: {e}"))
}
