//! A server a test starts as a child process: what it prints kept in a temp file (for the
//! test's failure message), stopped by its PID when dropped.

use std::process::{Child, Command, ExitStatus, Stdio};

/// A running child process and its log.
#[derive(Debug)]
pub(super) struct LoggedChild {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl LoggedChild {
    /// Starts `command` with its output going to the log; `what` names it if it cannot start.
    pub(super) fn spawn(what: &str, command: &mut Command) -> Self {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let child = command
            .stdout(log.reopen().expect("the log"))
            .stderr(Stdio::from(log.reopen().expect("the log")))
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        Self {
            child: Some(child),
            log,
        }
    }

    /// How it ended, if it has (`None` while it runs, or once stopped).
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops it (by its PID) and waits for it; again is a no-op.
    pub(super) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What it printed so far.
    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for LoggedChild {
    fn drop(&mut self) {
        self.stop();
    }
}
