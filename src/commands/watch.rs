//! `watch add`, `rm`, `list`, `import` and `export`: editing the watch list
//! stored in the database.

use std::path::{Path, PathBuf};

use super::output::{csv_written, print_json, print_table};
use super::{CommandError, Exit, Result, cli_actor, load, open_store};
use crate::text;
use crate::watch::{self, WatchEntry};

pub fn watch_add(config: Option<PathBuf>, entry: WatchEntry, backfill: bool) -> Result<Exit> {
    if text::clean(&entry.name).is_empty() {
        return Err(CommandError::Usage("the name is empty".into()));
    }
    for r in &entry.recipients {
        r.parse::<lettre::Address>()
            .map_err(|e| CommandError::Usage(format!("--notify {r}: not a mail address: {e}")))?;
    }
    let config = load(config)?;
    let new = open_store(&config)?.upsert_entry(&entry, &cli_actor())?;
    let done = if new { "added" } else { "updated" };
    if let Some(flag) = watch::noise_flag(&entry) {
        say!("note: {flag}");
    }
    if backfill {
        let matches = crate::run::backfill_now(&config).map_err(|e| CommandError::Other(e.to_string()))?;
        say!(
            "{done} {}: {matches} new matches in stored postings; their alerts go out at the next run",
            entry.name
        );
    } else {
        say!(
            "{done} {}: it will be matched against stored postings at the next run",
            entry.name
        );
    }
    Ok(Exit::Success)
}

pub fn watch_rm(config: Option<PathBuf>, name: &str) -> Result<Exit> {
    let config = load(config)?;
    if open_store(&config)?.remove_entry(name, &cli_actor())? {
        say!("removed {name}");
        Ok(Exit::Success)
    } else {
        Err(CommandError::Usage(format!(
            "no watch entry named `{name}` (see `leakwatch watch list`)"
        )))
    }
}

pub fn watch_list(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    /// One entry for scripts: the entry, its times, and why it matches only in titles.
    #[derive(serde::Serialize)]
    struct Listed {
        #[serde(flatten)]
        listed: crate::store::ListedEntry,
        title_only: Option<String>,
    }
    let config = load(config)?;
    let entries = open_store(&config)?.entries_listed()?;
    if json {
        let listed: Vec<Listed> = entries
            .into_iter()
            .map(|l| Listed {
                title_only: watch::noise_flag(&l.entry),
                listed: l,
            })
            .collect();
        print_json(&listed)?;
        return Ok(Exit::Success);
    }
    let mut rows = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "ALIASES".into(),
        "DOMAINS".into(),
        "RECIPIENTS".into(),
        "EXCLUDE".into(),
        "CREATED".into(),
        "UPDATED".into(),
        "NOTE".into(),
    ]];
    for l in entries {
        let note = watch::noise_flag(&l.entry).unwrap_or_default();
        let e = l.entry;
        rows.push(vec![
            e.name,
            e.kind.to_string(),
            e.aliases.join(";"),
            e.domains.join(";"),
            e.recipients.join(";"),
            e.exclude.join(";"),
            l.created_at,
            l.updated_at,
            note,
        ]);
    }
    print_table(&rows);
    Ok(Exit::Success)
}

pub fn watch_import(config: Option<PathBuf>, file: &Path, replace: bool) -> Result<Exit> {
    let config = load(config)?;
    let input =
        std::fs::File::open(file).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", file.display())))?;
    let entries = watch::csv::read(std::io::BufReader::new(input), Some(&file.display().to_string()))
        .map_err(|e| CommandError::Other(format!("{e}; nothing was imported")))?;
    let r = open_store(&config)?.import_entries(&entries, replace, &cli_actor())?;
    say!(
        "{}: {} added, {} changed, {} unchanged, {} removed",
        file.display(),
        r.added,
        r.changed,
        r.unchanged,
        r.removed
    );
    Ok(Exit::Success)
}

/// `excel`: with a byte-order mark and CRLF, for Excel (see [`watch::csv::write`]).
pub fn watch_export(config: Option<PathBuf>, excel: bool) -> Result<Exit> {
    let config = load(config)?;
    let entries = open_store(&config)?.entries()?;
    csv_written(watch::csv::write(std::io::stdout().lock(), &entries, excel))?;
    Ok(Exit::Success)
}
