//! `leakwatch init [DIR]`: the files a new installation starts from — a
//! commented config whose sources work on day one (the public disclosure
//! definitions, switched on), the other shipped definitions ready to switch
//! on, and a watch-list CSV. It never overwrites: if any of the files is
//! there already, nothing is written.

use std::path::{Path, PathBuf};

/// `(sources/<to><file>, the text of config/sources/<from><file>)`.
macro_rules! starter {
    ($to:literal, $from:literal, $file:literal) => {
        (
            concat!("sources/", $to, $file),
            include_str!(concat!("../config/sources/", $from, $file)),
        )
    };
}

/// Each starter file: where it goes under DIR, and what it holds. The
/// source definitions are the shipped ones (`config/sources/`), so what
/// `init` writes is what the tests prove on real captures.
const FILES: &[(&str, &str)] = &[
    ("leakwatch.toml", include_str!("../config/starter/leakwatch.toml")),
    ("watchlist.csv", include_str!("../config/starter/watchlist.csv")),
    starter!("disclosure/", "disclosure/", "cisa-kev.toml"),
    starter!("disclosure/", "disclosure/", "databreach-rss.toml"),
    starter!("disclosure/", "disclosure/", "ransomware-live-rss.toml"),
    starter!("disclosure/", "disclosure/", "ransomware-live.toml"),
    starter!("disclosure/", "disclosure/", "wa-ag-breaches.toml"),
    starter!("optional/", "optional/", "fortinet-psirt.toml"),
    starter!("optional/", "optional/", "hhs-ocr-breaches.toml"),
    starter!("optional/", "optional/", "paloalto-psirt.toml"),
    starter!("optional/", "optional/", "ransomware-live-pro.toml"),
    starter!("optional/", "optional/", "ransomwatch-posts.toml"),
    starter!("optional/", "optional/", "sec-8k.toml"),
    starter!("leaksites/", "", "8base.toml"),
    starter!("leaksites/", "", "akira.toml"),
    starter!("leaksites/", "", "babuk.toml"),
    starter!("leaksites/", "", "bianlian.toml"),
    starter!("leaksites/", "", "blacksuit.toml"),
    starter!("leaksites/", "", "clop.toml"),
    starter!("leaksites/", "", "crosslock.toml"),
    starter!("leaksites/", "", "daixin.toml"),
    starter!("leaksites/", "", "darkrace.toml"),
    starter!("leaksites/", "", "fog.toml"),
    starter!("leaksites/", "", "lockbit3.toml"),
    starter!("leaksites/", "", "play.toml"),
    starter!("leaksites/", "", "ransomhub.toml"),
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
        // Only the public disclosure sources are on; none of them needs Tor.
        let names: Vec<_> = config.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cisa-kev",
                "databreach-rss",
                "ransomware-live-rss",
                "ransomware-live",
                "wa-ag-breaches"
            ]
        );
        assert!(config.sources.iter().all(|s| !s.is_onion()));
        let csv = std::fs::File::open(dir.path().join("watchlist.csv")).unwrap();
        assert_eq!(crate::watch::csv::read(csv, None).unwrap().len(), 3);
        // The rest load too, once switched on.
        let text = std::fs::read_to_string(dir.path().join("leakwatch.toml"))
            .unwrap()
            .replace(
                "include = [\"sources/disclosure\"]",
                "include = [\"sources/disclosure\", \"sources/optional\", \"sources/leaksites\"]",
            );
        std::fs::write(dir.path().join("leakwatch.toml"), text).unwrap();
        let config = crate::config::Config::load(&dir.path().join("leakwatch.toml")).unwrap();
        assert_eq!(config.sources.len(), 5 + 6 + 13);
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
