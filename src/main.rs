//! The `leakwatch` command: parses arguments, calls into the library, and maps
//! the outcome to an exit code. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use leakwatch::commands::{self, Exit, Filters, Format};

/// Exit codes and environment, for `--help` and the man page.
const AFTER_HELP: &str = "\
Exit codes of `run`: 0 every source fetched and every alert delivered; 3 the run finished but a source \
or a delivery failed (each named on stderr), or it was interrupted; 75 another run holds the lock, \
nothing done; 1 fatal (bad config, database unusable); 2 usage error.

Environment: LEAKWATCH_CONFIG (the config file), the variable named by smtp.password_env \
(the SMTP password), RUST_LOG (log filter, e.g. leakwatch=debug).";

/// Watch ransomware leak sites and disclosure feeds for the organisations you
/// care about, and email the right people when one is named.
#[derive(Parser)]
#[command(name = "leakwatch", version, about, max_term_width = 100, after_long_help = AFTER_HELP)]
struct Cli {
    /// Config file [default: $LEAKWATCH_CONFIG, then ./leakwatch.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// More log output (-v: each stage, -vv: each request)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// How log lines are written: text, or one JSON object per line for log collectors
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormatArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on bundled pages served on loopback; emails go to ./demo-outbox
    Demo,
    /// Write a starter config, watch list and sample source pages into DIR (never overwrites)
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate the config and sources; lists every problem, exit 1 if any
    Check,
    /// Crawl, diff, match and send alerts: once, or --every DURATION
    Run {
        /// Only this source (repeatable)
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        /// Keep running: a run now, then one every DURATION (30m, 1h, 1h30m) until SIGTERM or Ctrl-C
        #[arg(long, value_name = "DURATION", value_parser = leakwatch::schedule::parse_every, conflicts_with = "dry_run")]
        every: Option<std::time::Duration>,
        /// Print the emails instead of sending them; store nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// The configured sources, and the analyst's selector workbench
    #[command(subcommand)]
    Source(SourceCommand),
    /// Edit the watch list
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Stored postings
    Postings {
        /// Only from this source
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        /// Only those first seen on or after this date (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only those this watch entry matched
        #[arg(long, value_name = "NAME")]
        entry: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Matches found, with their delivery state
    Matches {
        /// Only in postings from this source
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        /// Only those made on or after this date (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only this watch entry's
        #[arg(long, value_name = "NAME")]
        entry: Option<String>,
        /// Only those in this triage status: new, confirmed or dismissed
        #[arg(long, value_name = "STATUS")]
        status: Option<leakwatch::store::Status>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Check that alerts can be sent
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Recent runs
    Runs {
        #[arg(long)]
        json: bool,
    },
    /// Triage a match: confirm it, dismiss it (a false positive: that victim never alerts again for that entry), or reopen it
    Triage {
        /// The match's id (`leakwatch matches` shows it)
        id: i64,
        #[arg(value_enum)]
        action: TriageAction,
        /// Why, for the audit trail and the other analysts
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// The analyst workspace: a web UI for triage and the watch list
    Serve {
        /// Address to listen on; a non-loopback address needs --insecure-listen
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Allow a non-loopback address without TLS: passwords and session cookies cross the network unencrypted
        #[arg(long)]
        insecure_listen: bool,
    },
    /// Workspace accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Who changed what: triage, watch-list edits, imports, accounts (newest first)
    Audit {
        #[arg(long)]
        json: bool,
    },
    /// Write a static HTML page (DIR/index.html): recent matches and the health of every source
    Report {
        /// The folder to write index.html into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Matches made on or after this date (YYYY-MM-DD) [default: 30 days ago]
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Print a shell completion script (e.g. `leakwatch completions bash > /etc/bash_completion.d/leakwatch`)
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (`leakwatch man > leakwatch.1`), or write one per subcommand into DIR
    Man {
        /// Write leakwatch.1, leakwatch-run.1, … into this folder
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TriageAction {
    Confirm,
    Dismiss,
    Reopen,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Analyst,
    Viewer,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account (or set its role and password); the password is made up and printed unless --password-stdin
    Add {
        name: String,
        /// Analysts change things; viewers only read
        #[arg(long, value_enum, default_value = "analyst")]
        role: RoleArg,
        /// Read the password from the first line of stdin
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove an account and sign out its sessions
    Rm { name: String },
    /// List accounts
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script or man page, generated from the CLI definition
/// above so they can never fall behind it.
fn generated(command: &Command) -> std::io::Result<()> {
    let mut cli = Cli::command();
    let mut out = std::io::stdout().lock();
    match command {
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut cli, "leakwatch", &mut out);
            Ok(())
        }
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cli, dir)
        }
        _ => clap_mangen::Man::new(cli).render(&mut out),
    }
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Send one test email through the configured transport and print the server's reply
    Test {
        /// Recipient [default: the first of notify.recipients]
        #[arg(long, value_name = "EMAIL")]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
enum SourceCommand {
    /// Every source with its kind, URL and last fetch
    List,
    /// Show what the extractor finds on a source's page (exit 1 if nothing)
    Test {
        name: String,
        /// Read a saved page instead of fetching
        #[arg(long, value_name = "PAGE")]
        file: Option<PathBuf>,
        /// With [source.detail]: read the pages of the first N posts [default: 1]
        #[arg(long, value_name = "N")]
        detail: Option<usize>,
    },
    /// Suggest a [source.html] table for a listing page; printed alone on stdout (exit 1 if none)
    Suggest {
        /// The listing page: fetched like `run` does, or the address a saved --file came from
        #[arg(required_unless_present = "file")]
        url: Option<String>,
        /// Read a saved page instead of fetching
        #[arg(long, value_name = "PAGE")]
        file: Option<PathBuf>,
        /// Also print the ten best alternatives, with item counts and sample titles, on stderr
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum WatchCommand {
    /// Add an entry, or update the entry of that name
    Add {
        name: String,
        #[arg(long = "alias")]
        aliases: Vec<String>,
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[arg(long, value_enum, default_value = "supplier")]
        kind: Kind,
        /// Who hears about it (default: notify.recipients)
        #[arg(long = "notify", value_name = "EMAIL")]
        recipients: Vec<String>,
        /// A phrase that cancels a match it contains
        #[arg(long = "exclude", value_name = "PHRASE")]
        exclude: Vec<String>,
        /// Match it against stored postings now, not at the next run
        #[arg(long)]
        backfill: bool,
    },
    /// Remove an entry
    Rm { name: String },
    /// List entries
    List {
        #[arg(long)]
        json: bool,
    },
    /// Load entries from a CSV file (one transaction: all or nothing)
    Import {
        file: PathBuf,
        /// Make the watch list equal the file: entries not in it are removed
        #[arg(long)]
        replace: bool,
    },
    /// Write the watch list as CSV to stdout
    Export {
        /// For Excel: a UTF-8 byte-order mark and CRLF line ends, so accents survive
        #[arg(long)]
        excel: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    #[value(name = "self")]
    Own,
    Supplier,
    Customer,
    Other,
}

#[derive(Args)]
struct FormatArgs {
    /// One JSON array
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV with a header row
    #[arg(long)]
    csv: bool,
}

impl FormatArgs {
    fn format(&self) -> Format {
        match (self.json, self.csv) {
            (true, _) => Format::Json,
            (_, true) => Format::Csv,
            _ => Format::Table,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    leakwatch::logging::init(
        cli.verbose,
        match cli.log_format {
            LogFormatArg::Text => leakwatch::logging::LogFormat::Text,
            LogFormatArg::Json => leakwatch::logging::LogFormat::Json,
        },
    );
    let progress = leakwatch::progress::wanted(cli.verbose);
    let config = cli.config;
    if let Command::Completions { .. } | Command::Man { .. } = cli.command {
        return match generated(&cli.command) {
            Ok(()) => ExitCode::SUCCESS,
            // `leakwatch man | head` is fine.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                leakwatch::logging::fatal(&format!("cannot write the output: {e}"));
                ExitCode::from(1)
            }
        };
    }
    let result = match cli.command {
        Command::Demo => commands::demo(),
        Command::Init { dir } => commands::init(&dir),
        Command::Check => commands::check(config),
        Command::Run {
            sources,
            every,
            dry_run: false,
        } => commands::run(config, sources, every, progress),
        Command::Run {
            sources, dry_run: true, ..
        } => commands::dry_run(config, sources),
        Command::Notify(NotifyCommand::Test { to }) => commands::notify_test(config, to),
        Command::Source(SourceCommand::List) => commands::source_list(config),
        Command::Source(SourceCommand::Test { name, file, detail }) => {
            commands::source_test(config, &name, file, detail)
        }
        Command::Source(SourceCommand::Suggest { url, file, all }) => {
            commands::source_suggest(config, url.as_deref(), file, all)
        }
        Command::Watch(w) => match w {
            WatchCommand::Add {
                name,
                aliases,
                domains,
                kind,
                recipients,
                exclude,
                backfill,
            } => {
                let kind = match kind {
                    Kind::Own => leakwatch::watch::EntryKind::Own,
                    Kind::Supplier => leakwatch::watch::EntryKind::Supplier,
                    Kind::Customer => leakwatch::watch::EntryKind::Customer,
                    Kind::Other => leakwatch::watch::EntryKind::Other,
                };
                let entry = leakwatch::watch::WatchEntry {
                    aliases,
                    domains,
                    recipients,
                    exclude,
                    ..leakwatch::watch::WatchEntry::new(&name, kind)
                };
                commands::watch_add(config, entry, backfill)
            }
            WatchCommand::Rm { name } => commands::watch_rm(config, &name),
            WatchCommand::List { json } => commands::watch_list(config, json),
            WatchCommand::Import { file, replace } => commands::watch_import(config, &file, replace),
            WatchCommand::Export { excel } => commands::watch_export(config, excel),
        },
        Command::Postings {
            source,
            since,
            entry,
            format,
        } => commands::postings(
            config,
            Filters {
                source,
                since,
                entry,
                status: None,
            },
            format.format(),
        ),
        Command::Matches {
            source,
            since,
            entry,
            status,
            format,
        } => commands::matches(
            config,
            Filters {
                source,
                since,
                entry,
                status,
            },
            format.format(),
        ),
        Command::Runs { json } => commands::runs(config, json),
        Command::Triage { id, action, note } => {
            let status = match action {
                TriageAction::Confirm => leakwatch::store::Status::Confirmed,
                TriageAction::Dismiss => leakwatch::store::Status::Dismissed,
                TriageAction::Reopen => leakwatch::store::Status::New,
            };
            commands::triage(config, id, status, note)
        }
        Command::Serve {
            listen,
            insecure_listen,
        } => commands::serve(config, listen, insecure_listen),
        Command::User(UserCommand::Add {
            name,
            role,
            password_stdin,
        }) => {
            let role = match role {
                RoleArg::Analyst => commands::Role::Analyst,
                RoleArg::Viewer => commands::Role::Viewer,
            };
            commands::user_add(config, &name, role, password_stdin)
        }
        Command::User(UserCommand::Rm { name }) => commands::user_rm(config, &name),
        Command::User(UserCommand::List { json }) => commands::user_list(config, json),
        Command::Audit { json } => commands::audit(config, json),
        Command::Report { out, since } => commands::report(config, &out, since),
        Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Problems) => ExitCode::from(1),
        Ok(Exit::Partial) => ExitCode::from(3),
        Err(e) => {
            leakwatch::logging::fatal(&e.to_string());
            ExitCode::from(e.exit_code())
        }
    }
}
