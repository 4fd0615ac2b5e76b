//! The `leakwatch` command: parses arguments, calls into the library, and maps
//! the outcome to an exit code. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use leakwatch::commands::{self, Exit, Format};

/// Watch ransomware leak sites and disclosure feeds for the organisations you
/// care about, and email the right people when one is named.
#[derive(Parser)]
#[command(name = "leakwatch", version, about, max_term_width = 100)]
struct Cli {
    /// Config file [default: $LEAKWATCH_CONFIG, then ./leakwatch.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// More log output (-v: each stage, -vv: each request)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on bundled pages served on loopback; emails go to ./demo-outbox
    Demo,
    /// Validate the config and sources; lists every problem, exit 1 if any
    Check,
    /// Crawl, diff, match and send alerts once
    Run {
        /// Only this source (repeatable)
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
    },
    /// The configured sources, and the analyst's selector workbench
    #[command(subcommand)]
    Source(SourceCommand),
    /// Edit the watch list
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Stored postings
    Postings {
        #[arg(long)]
        source: Option<String>,
        /// Only those first seen on or after this date (YYYY-MM-DD)
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Matches found, with their delivery state
    Matches {
        /// Only those made on or after this date (YYYY-MM-DD)
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Recent runs
    Runs {
        #[arg(long)]
        json: bool,
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
    Export,
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
    commands::init_logging(cli.verbose);
    let config = cli.config;
    let result = match cli.command {
        Command::Demo => commands::demo(),
        Command::Check => commands::check(config),
        Command::Run { sources } => commands::run(config, sources),
        Command::Source(SourceCommand::List) => commands::source_list(config),
        Command::Source(SourceCommand::Test { name, file }) => commands::source_test(config, &name, file),
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
                commands::watch_add(config, entry)
            }
            WatchCommand::Rm { name } => commands::watch_rm(config, &name),
            WatchCommand::List { json } => commands::watch_list(config, json),
            WatchCommand::Import { file, replace } => commands::watch_import(config, &file, replace),
            WatchCommand::Export => commands::watch_export(config),
        },
        Command::Postings { source, since, format } => commands::postings(config, source, since, format.format()),
        Command::Matches { since, format } => commands::matches(config, since, format.format()),
        Command::Runs { json } => commands::runs(config, json),
    };
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Problems) => ExitCode::from(1),
        Ok(Exit::Partial) => ExitCode::from(3),
        Err(e) => {
            eprintln!("leakwatch: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
