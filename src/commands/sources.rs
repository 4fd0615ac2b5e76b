//! `source list`, `source test` and `source suggest`: the configured
//! sources, and the analyst's workbench for writing a new one.

use std::io::Write;
use std::path::PathBuf;

use url::Url;

use super::output::print_table;
use super::{CommandError, Exit, Result, config_path, load, open_store, runtime};
use crate::config::Config;
use crate::{logging, text};

pub fn source_list(config: Option<PathBuf>) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let mut rows = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "URL".into(),
        "LAST".into(),
        "POSTINGS".into(),
        "LAST SUCCESS".into(),
    ]];
    for s in &config.sources {
        let last = store.last_fetch(&s.name)?;
        rows.push(vec![
            s.name.clone(),
            s.extractor.kind().into(),
            s.url.to_string(),
            last.as_ref().map_or("never".into(), |l| l.status.clone()),
            last.as_ref().map_or(String::new(), |l| l.postings.to_string()),
            last.and_then(|l| l.last_success).unwrap_or_default(),
        ]);
    }
    print_table(&rows);
    Ok(Exit::Success)
}

/// `source test NAME [--file PAGE] [--detail N]`: the postings found; fetched
/// live, also the requests made (secrets masked) and, with
/// `[source.detail]`, the fields read on the first `detail` posts' pages.
pub fn source_test(config: Option<PathBuf>, name: &str, file: Option<PathBuf>, detail: Option<usize>) -> Result<Exit> {
    let config = load(config)?;
    let source = config
        .sources
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CommandError::Usage(format!("no source named `{name}` in {}", config.path.display())))?;
    let mut live = None;
    let (url, body) = match file {
        Some(f) => {
            let bytes =
                std::fs::read(&f).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", f.display())))?;
            (source.url.clone(), String::from_utf8_lossy(&bytes).into_owned())
        }
        None => {
            let fetcher =
                crate::fetch::Fetcher::new(&config.crawl, std::slice::from_ref(source)).map_err(CommandError::Other)?;
            let mut outgoing = crate::fetch::Outgoing::for_source(source)
                .map_err(|e| CommandError::Other(format!("source {name}: {e}")))?;
            let rt = runtime()?;
            let fetched = rt.block_on(async {
                fetcher.prepare(&mut outgoing).await?;
                fetcher.fetch_with(&source.url, &Default::default(), &outgoing).await
            });
            let page = fetched.map_err(|e| {
                print_requests(&outgoing);
                CommandError::Other(format!("source {name}: {e}"))
            })?;
            let url = page.url.clone();
            live = Some((rt, fetcher, outgoing));
            (url, page.body)
        }
    };
    let x =
        crate::extract::extract(source, &url, &body).map_err(|e| CommandError::Other(format!("source {name}: {e}")))?;
    say!("{}: {} postings ({:?})", source.name, x.postings.len(), x.class());
    let mut rows = vec![vec![
        "TITLE".into(),
        "DATE".into(),
        "LINK".into(),
        "BODY".into(),
        "VICTIM".into(),
    ]];
    for p in &x.postings {
        let flag = match (p.masked, p.truncated) {
            (true, _) => " (masked)",
            (_, true) => " (truncated)",
            _ => "",
        };
        rows.push(vec![
            p.title.clone(),
            p.posted_at
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            p.link.clone().unwrap_or_default(),
            text::truncate(&p.body, 40),
            format!("{}{flag}", p.victim),
        ]);
    }
    print_table(&rows);
    // Beside the table on stdout; log lines on stderr with --log-format json.
    let note = |severity, label: &str, message: String| {
        if logging::format() == logging::LogFormat::Json {
            let at = logging::At {
                source: Some(name),
                ..logging::At::default()
            };
            logging::finding(severity, at, &format!("{label}: {message}"));
        } else {
            say!("{label}: {message}");
        }
    };
    if x.untitled > 0 {
        note(
            logging::Severity::Warning,
            "warning",
            format!("{} items had no title and were skipped", x.untitled),
        );
    }
    for w in &x.warnings {
        note(logging::Severity::Warning, "warning", text::clean(w));
    }
    if let Some(b) = &x.blocked {
        note(logging::Severity::Warning, "blocked", b.clone());
    }
    if let Some(next) = &x.next_page {
        note(logging::Severity::Note, "next page", next.to_string());
    }
    if let (Some(rules), Some((rt, fetcher, outgoing))) = (&source.detail, &live) {
        let asked = outgoing.for_detail();
        let links = x.postings.iter().filter_map(|p| p.link.as_deref());
        for link in links.take(detail.unwrap_or(1)) {
            let shown = match crate::fetch::detail_target(&source.url, link) {
                Err(why) => format!("not read: {why}"),
                Ok(target) => match rt.block_on(fetcher.fetch_with(&target, &Default::default(), &asked)) {
                    Err(e) => format!("failed: {e}"),
                    Ok(page) => match crate::extract::read_detail(rules, &page.url, &page.body) {
                        Err(e) => format!("failed: {e}"),
                        Ok(d) => {
                            let mut shown = format!("body: {}", text::truncate(&d.body, 200));
                            if let Some(w) = d.website {
                                shown.push_str(&format!("\nwebsite: {w}"));
                            }
                            if let Some(t) = d.posted_at {
                                shown.push_str(&format!("\ndate: {}", t.format("%Y-%m-%d")));
                            }
                            shown
                        }
                    },
                },
            };
            say!("detail {}:", text::clean(link));
            for line in shown.lines() {
                say!("  {}", text::clean(line));
            }
        }
    } else if source.detail.is_some() {
        say!("detail pages are read only when fetching live (without --file)");
    }
    if let Some((_, _, outgoing)) = &live {
        print_requests(outgoing);
    }
    if source.detail.is_some() && config.database.exists() {
        let (read, waiting, failed) = open_store(&config)?.detail_states(&source.name)?;
        say!("detail pages in the database: {read} read, {waiting} waiting, {failed} failed");
    }
    Ok(if x.postings.is_empty() {
        Exit::Problems
    } else {
        Exit::Success
    })
}

/// The requests `source test` made, secrets masked.
fn print_requests(outgoing: &crate::fetch::Outgoing) {
    for r in outgoing.requests() {
        say!("request: {}", text::clean(&r));
    }
}

/// `source suggest`: the best definition alone on stdout, so it can be
/// redirected into a file; the alternatives and any refusal on stderr.
pub fn source_suggest(config: Option<PathBuf>, url: Option<&str>, file: Option<PathBuf>, all: bool) -> Result<Exit> {
    let url = url
        .map(|u| Url::parse(u).map_err(|e| CommandError::Usage(format!("{u}: not a URL: {e}"))))
        .transpose()?;
    let body = match (file, &url) {
        (Some(f), _) => {
            let bytes =
                std::fs::read(&f).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", f.display())))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        (None, Some(url)) => {
            let path = config_path(config);
            // Fetch as `run` would: the configured client, limits and Tor
            // proxy when there is a config, the defaults when there is none.
            let config = if path.exists() {
                Config::load(&path)?
            } else {
                Config::parse(&path, "[database]\npath = \"leakwatch.db\"\n")?
            };
            let fetcher = crate::fetch::Fetcher::new(&config.crawl, &config.sources).map_err(CommandError::Other)?;
            runtime()?
                .block_on(fetcher.fetch(url, &Default::default()))
                .map_err(|e| CommandError::Other(e.to_string()))?
                .body
        }
        (None, None) => {
            return Err(CommandError::Usage(
                "give the listing page's URL, or --file PAGE".into(),
            ));
        }
    };
    let candidates = match crate::suggest::suggest(&body) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("leakwatch: no suggestion: {e}");
            return Ok(Exit::Problems);
        }
    };
    if all {
        let mut err = std::io::stderr().lock();
        for (i, c) in candidates.iter().enumerate().take(10) {
            let samples: Vec<String> = c
                .titles
                .iter()
                .filter(|t| !t.is_empty())
                .take(3)
                .map(|t| text::truncate(&text::clean(t), 40))
                .collect();
            let d = &c.definition;
            let _ = writeln!(
                err,
                "#{} score {:.2}: {} items `{}` title `{}`: {}",
                i + 1,
                c.score,
                c.items,
                text::clean(&d.item()),
                text::clean(&d.title()),
                samples.join(" | ")
            );
            for why in &c.excluded {
                let _ = writeln!(err, "    not a posting: {}", text::truncate(&text::clean(why), 160));
            }
        }
    }
    let best = &candidates[0];
    for section in &best.sections_left_out {
        eprintln!("leakwatch: left out: {}", text::clean(section));
    }
    if best.definition.kind() != "html" {
        eprintln!(
            "leakwatch: the listing is JSON: paste the table under a [[source]] with kind = \"{}\"",
            best.definition.kind()
        );
    }
    say_raw!("{}", best.definition.to_toml());
    Ok(Exit::Success)
}
