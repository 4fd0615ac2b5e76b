//! `source list`, `source test` and `source suggest`: the configured
//! sources, and the analyst's workbench for writing a new one.

use std::io::Write;
use std::path::PathBuf;

use url::Url;

use super::output::print_table;
use super::{CommandError, Exit, Result, config_path, load, open_store, runtime};
use crate::config::{Config, Extractor, Render, Source};
use crate::text;

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

pub fn source_test(config: Option<PathBuf>, name: &str, file: Option<PathBuf>, render: bool) -> Result<Exit> {
    let config = load(config)?;
    let mut source = config
        .sources
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CommandError::Usage(format!("no source named `{name}` in {}", config.path.display())))?
        .clone();
    if render {
        source.render = Some(Render::Chromium);
    }
    let source = &source;
    let (url, body) = match file {
        Some(f) => {
            let bytes =
                std::fs::read(&f).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", f.display())))?;
            (source.url.clone(), String::from_utf8_lossy(&bytes).into_owned())
        }
        None => {
            let page = fetch_page(&config, source, &source.url)?;
            (page.url, page.body)
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
    if x.untitled > 0 {
        say!("warning: {} items had no title and were skipped", x.untitled);
    }
    for w in &x.warnings {
        say!("warning: {}", text::clean(w));
    }
    if let Some(b) = &x.blocked {
        say!("blocked: {b}");
    }
    if x.postings.is_empty() && source.render.is_none() && crate::extract::looks_scripted(&body) {
        say!("warning: {}", crate::extract::SCRIPTED_HINT);
    }
    if let (Some(next), Extractor::Html(_)) = (&x.next_page, &source.extractor) {
        say!("next page: {next}");
    }
    Ok(if x.postings.is_empty() {
        Exit::Problems
    } else {
        Exit::Success
    })
}

/// One page of `source` as `run` would get it (fetched, or rendered), the
/// browser closed again before returning.
fn fetch_page(config: &Config, source: &Source, url: &Url) -> Result<crate::fetch::Page> {
    let mut sources = config.sources.clone();
    sources.push(source.clone());
    let fetcher = crate::fetch::Fetcher::new(&config.crawl, &sources).map_err(CommandError::Other)?;
    runtime()?.block_on(async {
        let page = fetcher.page(source, url, &Default::default()).await;
        fetcher.close().await;
        page.map_err(|e| CommandError::Other(e.to_string()))
    })
}

/// `source suggest`: the best definition alone on stdout, so it can be
/// redirected into a file; the alternatives and any refusal on stderr.
pub fn source_suggest(
    config: Option<PathBuf>,
    url: Option<&str>,
    file: Option<PathBuf>,
    all: bool,
    render: bool,
) -> Result<Exit> {
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
            // The page as a source of its own: its host is the only one
            // the browser may reach.
            let source = Source {
                name: "suggest".into(),
                label: "suggest".into(),
                url: url.clone(),
                rate: None,
                proxy: None,
                about: Vec::new(),
                extractor: Extractor::Feed,
                render: render.then_some(Render::Chromium),
            };
            fetch_page(&config, &source, url)?.body
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
                text::clean(&d.item),
                text::clean(&d.title.to_string()),
                samples.join(" | ")
            );
        }
    }
    say_raw!("{}", candidates[0].definition.to_toml());
    Ok(Exit::Success)
}
