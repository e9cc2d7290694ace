//! Commands and flags. Every flag that configures a long-running process can also be set
//! through the `CODERIPPLE_*` variable named in its help.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use coderipple_core::BackendKind;

/// CodeRipple keeps a repository's documentation alive from its GitHub webhooks.
#[derive(Debug, Parser)]
#[command(name = "coderipple", version, about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "CODERIPPLE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The data directory of the embedded backend.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Where the database, claim-checked payloads, docs and the generated secret live.
    #[arg(
        long,
        global = true,
        env = "CODERIPPLE_DATA_DIR",
        default_value = "./.coderipple"
    )]
    pub data_dir: PathBuf,
}

/// The backend option shared by `up`, `worker`, `status`, `dlq` and `init`.
#[derive(Debug, Clone, Args)]
pub struct BackendOpt {
    /// Backend to run on.
    #[arg(long, global = true, env = "CODERIPPLE_BACKEND", value_enum, default_value_t = BackendKind::Sqlite)]
    pub backend: BackendKind,
}

/// Where `up` serves the operator console of its own (`--console-listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleListen {
    /// No listener of its own.
    Off,
    /// This address.
    At(SocketAddr),
}

impl std::str::FromStr for ConsoleListen {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw == "off" {
            return Ok(Self::Off);
        }
        raw.parse()
            .map(Self::At)
            .map_err(|_| format!("{raw:?}: an address such as 127.0.0.1:8081, or off"))
    }
}

/// Worker pool options.
#[derive(Debug, Clone, Args)]
pub struct WorkerOpts {
    /// Number of concurrent pollers (each handles batches of up to 10 messages); 0 runs
    /// ingest only (`up`) with workers elsewhere (`coderipple worker`).
    #[arg(long, env = "CODERIPPLE_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub workers: u16,
    /// A local checkout the agents read README and manifests from, at each event's commit:
    /// `owner/repo=PATH` (repeatable; comma-separated in the variable).
    #[arg(
        long = "repo-root",
        env = "CODERIPPLE_REPO_ROOTS",
        value_delimiter = ','
    )]
    pub repo_roots: Vec<String>,
    #[command(flatten)]
    pub docs: DocsOpts,
}

/// Where docs are published (the `CODERIPPLE_DOC_STRATEGY`, `CODERIPPLE_DOCS_*` variables
/// set the rest; see `docs/publishing.md`).
#[derive(Debug, Clone, Args)]
pub struct DocsOpts {
    /// A git remote a repository's docs are pushed to: `owner/repo=URL` (repeatable; added
    /// to `CODERIPPLE_DOCS_REMOTES`). Implies `CODERIPPLE_DOC_STRATEGY=git` unless set.
    #[arg(long = "docs-remote", value_name = "OWNER/REPO=URL")]
    pub docs_remotes: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run ingest (HTTP) and workers (embedded backend by default).
    Up {
        #[command(flatten)]
        backend: BackendOpt,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, env = "CODERIPPLE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The operator console's own address, or `off`. Default: 127.0.0.1:8081 without
        /// CODERIPPLE_CONSOLE_TOKEN; with a token the console is at /ui on --listen, and on
        /// this address too when it is set. Never beyond loopback without a token.
        #[arg(long, env = "CODERIPPLE_CONSOLE_LISTEN", value_name = "ADDR|off")]
        console_listen: Option<ConsoleListen>,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        workers: WorkerOpts,
    },
    /// Serve the operator console (queue, deliveries, DLQ, repositories) for any backend.
    Console {
        #[command(flatten)]
        backend: BackendOpt,
        /// Address to listen on; anything but loopback needs CODERIPPLE_CONSOLE_TOKEN.
        #[arg(
            long,
            env = "CODERIPPLE_CONSOLE_LISTEN",
            default_value = "127.0.0.1:8081"
        )]
        listen: SocketAddr,
        #[command(flatten)]
        data: DataDir,
    },
    /// Run workers only (long-running pollers), against an existing backend.
    Worker {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        workers: WorkerOpts,
    },
    /// Sign and post a webhook: a built-in sample of EVENT, or FILE.
    Send {
        /// The ingest URL.
        #[arg(
            long,
            env = "CODERIPPLE_URL",
            default_value = "http://127.0.0.1:8080/webhook"
        )]
        url: String,
        /// The X-GitHub-Event to send.
        #[arg(long, default_value = "push")]
        event: String,
        /// The X-GitHub-Delivery id (default: a new UUID).
        #[arg(long)]
        delivery: Option<String>,
        /// Repository of the built-in sample.
        #[arg(long, default_value = "octo-org/hello-world")]
        repo: String,
        /// Send as application/x-www-form-urlencoded (`payload=`) instead of JSON.
        #[arg(long)]
        form: bool,
        /// Where the generated secret is (used when CODERIPPLE_WEBHOOK_SECRET is not set).
        #[command(flatten)]
        data: DataDir,
        /// A payload file to send instead of the built-in sample.
        file: Option<PathBuf>,
    },
    /// Queue depth, DLQ depth and deliveries by status.
    Status {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show one delivery's record (status, summary, reasons).
        #[arg(long, conflicts_with = "repo")]
        delivery: Option<String>,
        /// Show a repository (repeatable): its state version, whether it is parked, and the
        /// commits its docs hold in the order they were applied (the last 2,000 archived, then
        /// the changelog's current page; merges are never listed). With --json this is the
        /// read API the load tester verifies with.
        #[arg(long, value_name = "OWNER/REPO")]
        repo: Vec<String>,
    },
    /// Create the backend's resources (data dir; or queue, DLQ, table and bucket on AWS),
    /// idempotently.
    Init {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
    },
    /// Run as a Lambda function (what `bootstrap` does): `_HANDLER` = `ingest` or `worker`.
    Lambda,
    /// Build complete initial docs for a repository joining mid-life, from a checkout's
    /// current tree and its history (idempotent: running it again changes nothing).
    Bootstrap {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
        /// The repository (owner/name).
        repo: String,
        /// Its local checkout (the history of HEAD is read).
        #[arg(long)]
        repo_root: PathBuf,
        /// Web URL the docs link commits to (default https://github.com/OWNER/NAME).
        #[arg(long)]
        repo_url: Option<String>,
        #[command(flatten)]
        docs: DocsOpts,
    },
    /// Publish repositories' stored docs to their repositories now (one commit each when
    /// anything changed): the ones named, or with --pending every one whose last publish
    /// failed.
    Publish {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        docs: DocsOpts,
        /// Every repository with a pending publish.
        #[arg(long, conflicts_with = "repo")]
        pending: bool,
        /// The repositories (owner/name).
        #[arg(value_name = "OWNER/REPO", required_unless_present = "pending")]
        repo: Vec<String>,
    },
    /// Find webhook deliveries GitHub failed to deliver (the App's hook and --hook
    /// repository hooks) that the store never accepted, and ask GitHub to redeliver them.
    Recover {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
        /// How far back to look (`72h`, `90m`, `3d`; GitHub keeps three days).
        #[arg(long, default_value = "72h", value_parser = parse_duration)]
        since: std::time::Duration,
        /// Report what would be redelivered; ask GitHub for nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// A repository or organisation webhook to check besides the App's: `owner/repo:HOOK_ID`
        /// or `org:HOOK_ID`
        /// (repeatable; comma-separated in the variable).
        #[arg(long = "hook", env = "CODERIPPLE_RECOVER_HOOKS", value_delimiter = ',')]
        hooks: Vec<String>,
    },
    /// Advise each Lambda function's memory, timeout, queue visibility and concurrency from
    /// what was measured (CloudWatch metrics and REPORT log lines, or a load-tester JSON
    /// report), with the monthly cost before and after.
    Advise(AdviseArgs),
    /// Inspect, replay or purge the dead-letter queue.
    Dlq {
        #[command(flatten)]
        backend: BackendOpt,
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        action: DlqAction,
    },
}

/// What `coderipple advise` reads and how it prints.
#[derive(Debug, Clone, Args)]
pub struct AdviseArgs {
    /// The stack whose functions to look at: `<stack>-ingest`, `-worker`, `-recover`.
    #[arg(long, env = "CODERIPPLE_STACK", default_value = "coderipple")]
    pub stack: String,
    /// A function to look at instead of the stack's three (repeatable).
    #[arg(long = "function")]
    pub functions: Vec<String>,
    /// How far back to read CloudWatch (`3h`, `90m`, `1d`).
    #[arg(long, default_value = "3h", value_parser = parse_duration)]
    pub since: std::time::Duration,
    /// Read a `coderipple-loadtest lambda --json` (or `run --json`) report instead of
    /// CloudWatch.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Webhooks a month to project a report's cost over.
    #[arg(long, default_value_t = 1_000_000.0)]
    pub monthly_webhooks: f64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Filters shared by the DLQ actions.
#[derive(Debug, Clone, Args)]
pub struct DlqFilter {
    /// Only messages of this repository (owner/name).
    #[arg(long)]
    pub repo: Option<String>,
    /// Only this delivery id.
    #[arg(long)]
    pub delivery: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// List dead-lettered messages with their reasons.
    List {
        #[command(flatten)]
        filter: DlqFilter,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one dead-lettered message in full (by delivery id or message id).
    Show {
        /// Delivery id or message id.
        id: String,
    },
    /// Send dead-lettered messages back to the events queue, in group order.
    Replay {
        #[command(flatten)]
        filter: DlqFilter,
        /// Only say what would be replayed.
        #[arg(long)]
        dry_run: bool,
        /// Replay even messages so old that their delivery record may expire first.
        #[arg(long)]
        force: bool,
    },
    /// Delete dead-lettered messages.
    Purge {
        #[command(flatten)]
        filter: DlqFilter,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `72h`, `90m`, `3d`, `600s` or seconds.
fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    coderipple_github::recover::parse_duration(raw)
        .ok_or_else(|| format!("not a duration: {raw:?} (e.g. 72h, 90m, 3d)"))
}
