//! The agent pack a deployment runs with: the built-in one, or a directory named by
//! `CODERIPPLE_AGENT_PACK` (on AWS, the agent pack layer at `/opt/agent-pack`) whose files
//! replace the built-in ones file by file. Read here, once at start, so the engine never
//! touches the disk; a pack that does not load is a `config` error naming the variable.

use std::path::Path;
use std::sync::Arc;

use coderipple_core::WorkerError;
use coderipple_engine::{AgentPack, AgentSet, EngineError};

use crate::vars::config;

/// The variable naming a pack directory.
pub const PACK_VAR: &str = "CODERIPPLE_AGENT_PACK";

/// The agents with the pack `lookup(PACK_VAR)` names, or the built-in one.
pub fn agents_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<AgentSet, WorkerError> {
    let pack = match lookup(PACK_VAR) {
        Some(dir) if !dir.trim().is_empty() => load_pack_dir(Path::new(dir.trim()))?,
        _ => AgentPack::builtin(),
    };
    Ok(AgentSet::with_pack(Arc::new(pack)))
}

/// The pack in `dir`: each file it has replaces the built-in one.
pub fn load_pack_dir(dir: &Path) -> Result<AgentPack, WorkerError> {
    if !dir.is_dir() {
        return Err(config(format!(
            "{PACK_VAR}: {} is not a directory",
            dir.display()
        )));
    }
    AgentPack::with_files(&dir.display().to_string(), |rel| {
        let path = dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EngineError {
                class: "config",
                reason: format!("{PACK_VAR}: cannot read {}: {e}", path.display()),
            }),
        }
    })
    .map_err(|e| config(format!("{PACK_VAR}: {}", e.reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_broken_pack_is_a_config_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = load_pack_dir(&dir.path().join("nope")).unwrap_err();
        assert!(!missing.is_retryable());
        assert!(
            missing
                .to_string()
                .starts_with("config: CODERIPPLE_AGENT_PACK"),
            "{missing}"
        );
        std::fs::write(dir.path().join("rules.toml"), "categories = 3\n").unwrap();
        let err = agents_from_env(|k| (k == PACK_VAR).then(|| dir.path().display().to_string()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(PACK_VAR) && err.contains("rules.toml"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("rules.toml")).unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/changelog.md.j2"),
            "# {{ title }}\n",
        )
        .unwrap();
        let set =
            agents_from_env(|k| (k == PACK_VAR).then(|| dir.path().display().to_string())).unwrap();
        assert_ne!(set.pack.version(), AgentPack::builtin().version());
        assert_eq!(
            agents_from_env(|_| None).unwrap().pack.version().to_owned(),
            AgentPack::builtin().version()
        );
    }
}
