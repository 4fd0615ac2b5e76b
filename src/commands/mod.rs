//! What each CLI command does, between parsed arguments (`main.rs`) and the
//! pipeline stages: the plumbing every command shares (exit kinds, errors,
//! the async runtime, loading the config), and the commands that act on the
//! whole pipeline (`demo`, `init`, `check`, `run`, `notify test`). The
//! commands on one area live in their own file: [`sources`], [`watch`],
//! [`history`], [`workspace`]; how they print is [`output`].

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::logging;
use crate::run::{self, RunError, RunOptions};
use crate::store::{Store, StoreError};

/// `println!` for command output that stops quietly when the reader closed
/// stdout (`leakwatch postings | head`): it has what it wanted, and a
/// "failed printing to stdout" panic would only alarm whoever ran it.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::commands::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same manners as `say!`.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::commands::output::write_out(format_args!($($arg)*))
    };
}

mod history;
mod output;
mod sources;
mod watch;
mod workspace;

pub use history::{Filters, matches, postings, report, runs};
pub use sources::{source_list, source_suggest, source_test};
pub use watch::{watch_add, watch_export, watch_import, watch_list, watch_rm};
pub use workspace::{Role, audit, serve, triage, user_add, user_list, user_rm};

/// How a command that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0
    Success,
    /// 1: the command ran and found problems (`check`, `source test` finding nothing).
    Problems,
    /// 3: the run finished, but a source or a delivery failed.
    Partial,
}

/// Output formats of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Other(String),
}

impl CommandError {
    /// 75 when another run holds the lock, 2 for usage errors, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Run(RunError::Lock(crate::lock::LockError::Held { .. })) => 75,
            CommandError::Usage(_) => 2,
            _ => 1,
        }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Other(format!("cannot start the async runtime: {e}")))
}

/// `--config`, else `$LEAKWATCH_CONFIG`, else `./leakwatch.toml`.
pub fn config_path(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| {
            std::env::var_os("LEAKWATCH_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("leakwatch.toml"))
}

fn load(config: Option<PathBuf>) -> Result<Config> {
    Ok(Config::load(&config_path(config))?)
}

fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(&config.database)?)
}

/// Who the audit trail names for a change made from the shell: `cli:` and
/// the login name.
pub fn cli_actor() -> String {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    format!("cli:{}", crate::text::clean(&login))
}

pub fn demo() -> Result<Exit> {
    let report = runtime()?
        .block_on(crate::demo::demo(Path::new("demo-outbox")))
        .map_err(CommandError::Other)?;
    let c1 = &report.first.counts;
    let c2 = &report.second.counts;
    say!("leakwatch demo: 2 sources served on loopback (a made-up leak site over 2 pages, a vendor advisory feed)");
    say!(
        "  run 1: {} pages, {} postings new, {} matches, {} emails written",
        c1.pages_fetched,
        c1.postings_new,
        c1.matches,
        c1.emails_sent
    );
    say!(
        "  run 2: {} pages, {} postings new, {} matches, {} emails written (nothing new, nothing sent twice)",
        c2.pages_fetched,
        c2.postings_new,
        c2.matches,
        c2.emails_sent
    );
    say!("  postings stored: {}", report.postings);
    say!("  emails in {}:", report.outbox.display());
    for e in &report.emails {
        say!("    {}", e.display());
    }
    let ok = report.first.all_ok() && report.second.all_ok() && c1.emails_sent > 0 && c2.emails_sent == 0;
    Ok(if ok { Exit::Success } else { Exit::Partial })
}

pub fn init(dir: &Path) -> Result<Exit> {
    let written = crate::init::init(dir).map_err(CommandError::Other)?;
    for p in &written {
        say!("wrote {}", p.display());
    }
    let config = dir.join("leakwatch.toml");
    let c = config.display();
    say!(
        "next:
  1. edit {c}: [smtp] and [notify] (the comments say how)
  2. put your organisation and suppliers in {list}, then
     leakwatch --config {c} watch import {list}
  3. export LEAKWATCH_SMTP_PASSWORD=...; leakwatch --config {c} check
  4. leakwatch --config {c} run: the public sources in {sources} are on;
     then a cron entry (see docs/operations.md)",
        list = dir.join("watchlist.csv").display(),
        sources = dir.join("sources/disclosure").display(),
    );
    Ok(Exit::Success)
}

pub fn check(config: Option<PathBuf>) -> Result<Exit> {
    let path = config_path(config);
    let report = crate::check::check(&path);
    let json = logging::format() == logging::LogFormat::Json;
    // Where a problem is: its own file (an included one), else the config.
    let file = |p: &crate::config::Problem| p.file.as_deref().unwrap_or(&path).display().to_string();
    let log = |severity, p: &crate::config::Problem| {
        let file = file(p);
        let at = logging::At {
            file: Some(&file),
            line: p.line,
            key: Some(&p.key),
            source: None,
        };
        logging::finding(severity, at, &p.message);
    };
    for w in &report.warnings {
        if json {
            log(logging::Severity::Warning, w);
        } else {
            let line = w.line.map(|l| format!(":{l}")).unwrap_or_default();
            eprintln!("leakwatch: warning: {}{line}: {}: {}", file(w), w.key, w.message);
        }
    }
    match report.config {
        Some(config) if report.problems.problems.is_empty() => {
            say!("{}: ok, {} sources", path.display(), config.sources.len());
            Ok(Exit::Success)
        }
        _ if json => {
            for p in &report.problems.problems {
                log(logging::Severity::Problem, p);
            }
            Ok(Exit::Problems)
        }
        _ => {
            eprintln!("{}", report.problems);
            Ok(Exit::Problems)
        }
    }
}

/// One run, or with `every` one run per period until SIGTERM or Ctrl-C.
/// SIGTERM during a run closes it as 'interrupted' (exit 3 for a single
/// run); `--every` stopped by a signal exits 0.
pub fn run(
    config: Option<PathBuf>,
    sources: Vec<String>,
    every: Option<std::time::Duration>,
    progress: bool,
) -> Result<Exit> {
    let path = config_path(config);
    let mut config = Config::load(&path)?;
    runtime()?.block_on(async {
        let mut stop = crate::schedule::stop_on_signals()
            .map_err(|e| CommandError::Other(format!("cannot install signal handlers: {e}")))?;
        let opts = RunOptions {
            sources,
            stop: Some(stop.clone()),
            progress,
            ..RunOptions::default()
        };
        let Some(period) = every else {
            let summary = run::run(&config, &opts).await?;
            report_run(&summary);
            return Ok(if summary.all_ok() { Exit::Success } else { Exit::Partial });
        };
        loop {
            let started = tokio::time::Instant::now();
            match run::run(&config, &opts).await {
                Ok(summary) => report_run(&summary),
                // A cron run or a manual one is at work: this tick is skipped, not fatal.
                Err(RunError::Lock(e @ crate::lock::LockError::Held { .. })) => tracing::warn!("{e}"),
                Err(e) => return Err(e.into()),
            }
            if !crate::schedule::wait_next(started, period, &mut stop).await {
                return Ok(Exit::Success);
            }
            // Edits to the config (a fixed selector, a new source) count from the next run on.
            match Config::load(&path) {
                Ok(fresh) => config = fresh,
                Err(e) => logging::failure(&format!("{e}\n(the next run uses the config as it was last read)")),
            }
        }
    })
}

/// Failures, then the summary line when something happened (or when asked).
fn report_run(summary: &run::RunSummary) {
    for f in &summary.source_failures {
        logging::failure(f);
    }
    for e in &summary.delivery.errors {
        logging::failure(e);
    }
    if summary.interrupted {
        logging::failure(&format!(
            "run {} was interrupted; the sources not done and the alerts not sent are for the next run",
            summary.run_id
        ));
    }
    logging::summary(summary);
}

/// `run --dry-run`: the whole run on a copy of the database; the emails it
/// would send go to stdout, nothing is sent and the real database is untouched.
pub fn dry_run(config: Option<PathBuf>, sources: Vec<String>) -> Result<Exit> {
    let config = load(config)?;
    let opts = RunOptions {
        sources,
        dry_run: true,
        ..RunOptions::default()
    };
    let summary = runtime()?.block_on(run::run(&config, &opts))?;
    let total = summary.previews.len();
    for (i, email) in summary.previews.iter().enumerate() {
        say!("===== email {} of {total} =====\n{email}", i + 1);
    }
    for f in &summary.source_failures {
        eprintln!("leakwatch: {f}");
    }
    eprintln!("leakwatch: dry run: {total} email(s) rendered, nothing sent, the database left as it was");
    eprintln!("leakwatch: {}", summary.line());
    Ok(if summary.source_failures.is_empty() {
        Exit::Success
    } else {
        Exit::Partial
    })
}

/// `notify test`: one message through the configured transport, to `to`
/// or the first of `notify.recipients`; prints the server's reply.
pub fn notify_test(config: Option<PathBuf>, to: Option<String>) -> Result<Exit> {
    let config = load(config)?;
    let smtp = config
        .smtp
        .as_ref()
        .ok_or_else(|| CommandError::Other(crate::notify::NotifyError::NotConfigured.to_string()))?;
    let to = match to {
        Some(to) => to,
        None => config
            .notify
            .recipients
            .first()
            .or(config.notify.admin_recipients.first())
            .map(|a| a.to_string())
            .ok_or_else(|| {
                CommandError::Usage("no --to given and notify.recipients is empty: say where to send the test".into())
            })?,
    };
    let reply = runtime()?
        .block_on(crate::notify::send_test(smtp, &to))
        .map_err(|e| CommandError::Other(format!("notify test: {e}")))?;
    say!("test message sent to {to}; the server replied: {reply}");
    Ok(Exit::Success)
}
