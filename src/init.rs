//! `leakwatch init [DIR]`: the files a new installation starts from — a
//! commented config, a watch-list CSV, and saved sample pages for the three
//! example sources so their selectors can be tried offline with
//! `source test NAME --file`. It never overwrites: if any of the files is
//! there already, nothing is written.

use std::path::{Path, PathBuf};

/// Each starter file: where it goes under DIR, and what it holds.
const FILES: &[(&str, &str)] = &[
    ("leakwatch.toml", include_str!("../config/starter/leakwatch.toml")),
    ("watchlist.csv", include_str!("../config/starter/watchlist.csv")),
    (
        "samples/leaksite.html",
        include_str!("../config/starter/samples/leaksite.html"),
    ),
    (
        "samples/advisories.xml",
        include_str!("../config/starter/samples/advisories.xml"),
    ),
    (
        "samples/victims.json",
        include_str!("../config/starter/samples/victims.json"),
    ),
];

/// Writes the starter files into `dir` (created if needed) and returns their
/// paths; refuses, writing nothing, when any of them exists.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let targets: Vec<(PathBuf, &str)> = FILES.iter().map(|(name, text)| (dir.join(name), *text)).collect();
    let existing: Vec<String> = targets
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "{} already exist{}; nothing was written (move {} away, or init another folder)",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" },
            if existing.len() == 1 { "it" } else { "them" }
        ));
    }
    for (path, text) in &targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        // create_new: a file appearing since the check above is still not overwritten.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(targets.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_config_is_valid_and_its_watch_list_parses() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let config = crate::config::Config::load(&dir.path().join("leakwatch.toml")).unwrap();
        let kinds: Vec<_> = config.sources.iter().map(|s| s.extractor.kind()).collect();
        assert_eq!(kinds, ["html", "feed", "json"]);
        let csv = std::fs::File::open(dir.path().join("watchlist.csv")).unwrap();
        assert_eq!(crate::watch::csv::read(csv, None).unwrap().len(), 3);
    }

    #[test]
    fn an_existing_file_stops_init_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("watchlist.csv"), "mine").unwrap();
        let err = init(dir.path()).unwrap_err();
        assert!(err.contains("watchlist.csv already exists"), "{err}");
        assert!(!dir.path().join("leakwatch.toml").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("watchlist.csv")).unwrap(),
            "mine"
        );
    }
}
