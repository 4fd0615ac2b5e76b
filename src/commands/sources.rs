//! `source list`, `source test`, `source suggest` and `source import`: the
//! configured sources, the analyst's workbench for writing a new one, and
//! adding the groups a tracker knows.

use std::io::Write;
use std::path::PathBuf;

use url::Url;

use super::output::{print_json, print_table};
use super::{CommandError, Exit, Result, config_path, load, open_store, runtime};
use crate::config::{Config, Extractor, Render, Source};
use crate::{logging, text};

pub fn source_list(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let mut listed = Vec::new();
    for s in &config.sources {
        let last = store.last_fetch(&s.name)?;
        let known = store.addresses(&s.name)?;
        listed.push(ListedSource {
            name: s.name.clone(),
            kind: if s.is_pending() { "pending" } else { s.extractor.kind() },
            url: s.url.to_string(),
            last: last.as_ref().map(|l| l.status.clone()),
            postings: last.as_ref().map(|l| l.postings),
            last_success: last.and_then(|l| l.last_success),
            addresses: s
                .addresses()
                .map(|u| ListedAddress {
                    url: u.to_string(),
                    state: known.iter().find(|a| a.url == u.as_str()).cloned(),
                })
                .collect(),
        });
    }
    if json {
        print_json(&listed)?;
        return Ok(Exit::Success);
    }
    let mut rows = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "URL".into(),
        "LAST".into(),
        "POSTINGS".into(),
        "LAST SUCCESS".into(),
    ]];
    for s in listed {
        rows.push(vec![
            s.name,
            s.kind.into(),
            s.url,
            s.last.unwrap_or_else(|| "never".into()),
            s.postings.map(|n| n.to_string()).unwrap_or_default(),
            s.last_success.unwrap_or_default(),
        ]);
        // Every address of a source with mirrors, on its own line.
        if s.addresses.len() > 1 {
            for a in s.addresses {
                rows.push(vec![
                    String::new(),
                    "address".into(),
                    a.url,
                    a.state.as_ref().map_or("never".into(), |st| st.last_status.clone()),
                    String::new(),
                    a.state.and_then(|st| st.last_success).unwrap_or_default(),
                ]);
            }
        }
    }
    print_table(&rows);
    Ok(Exit::Success)
}

/// One row of `source list --json`.
#[derive(serde::Serialize)]
struct ListedSource {
    name: String,
    /// html | feed | json | pending
    kind: &'static str,
    url: String,
    last: Option<String>,
    postings: Option<i64>,
    last_success: Option<String>,
    /// `url` then the mirrors, each with how it last answered (`null`: never tried).
    addresses: Vec<ListedAddress>,
}

#[derive(serde::Serialize)]
struct ListedAddress {
    url: String,
    state: Option<crate::store::AddressState>,
}

/// `source import`: a tracker's groups file as `[[source]]` tables, on
/// stdout or merged into `--out` (written whole, or not at all).
pub fn source_import(groups: &std::path::Path, out: Option<PathBuf>) -> Result<Exit> {
    let text = std::fs::read_to_string(groups)
        .map_err(|e| CommandError::Other(format!("cannot read {}: {e}", groups.display())))?;
    let dir = crate::directory::parse(&text).map_err(|errors| {
        CommandError::Other(format!(
            "{}: {} problem{}, nothing written:\n  {}",
            groups.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.join("\n  ")
        ))
    })?;
    for note in &dir.notes {
        eprintln!("leakwatch: {}", text::clean(note));
    }
    let existing = match &out {
        Some(path) if path.exists() => std::fs::read_to_string(path)
            .map_err(|e| CommandError::Other(format!("cannot read {}: {e}", path.display())))?,
        _ => String::new(),
    };
    let shown = groups.display().to_string();
    let (merged, added, updated) = crate::directory::merge(&existing, &dir, &shown).map_err(|e| {
        CommandError::Other(format!(
            "{}: {e}",
            out.as_deref().unwrap_or(std::path::Path::new("-")).display()
        ))
    })?;
    let pending = dir.groups.len()
        - dir
            .groups
            .iter()
            .filter(|g| crate::directory::shipped_names().contains(&g.name.as_str()))
            .count();
    match out {
        Some(path) => {
            write_whole(&path, &merged)?;
            eprintln!(
                "leakwatch: {}: {added} sources added ({pending} of the imported groups have no shipped selectors: pending until you paste theirs), {updated} updated",
                path.display()
            );
        }
        None => say_raw!("{merged}"),
    }
    Ok(Exit::Success)
}

/// Writes `text` to `path` through a temporary file beside it, so a reader
/// (or a crash) never sees half of it.
fn write_whole(path: &std::path::Path, text: &str) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| CommandError::Other(format!("cannot write {}: {e}", path.display()));
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(folder).map_err(|e| fail(&e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

/// `source test NAME [--file PAGE] [--detail N] [--render]`: the postings found; fetched
/// live, also the requests made (secrets masked) and, with
/// `[source.detail]`, the fields read on the first `detail` posts' pages.
pub fn source_test(
    config: Option<PathBuf>,
    name: &str,
    file: Option<PathBuf>,
    detail: Option<usize>,
    render: bool,
) -> Result<Exit> {
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
    let mut live = None;
    let (url, body) = match file {
        Some(f) => {
            let bytes =
                std::fs::read(&f).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", f.display())))?;
            (source.url.clone(), String::from_utf8_lossy(&bytes).into_owned())
        }
        None => {
            if source.render.is_some() {
                let page = fetch_page(&config, source, &source.url)?;
                (page.url, page.body)
            } else {
                let fetcher = crate::fetch::Fetcher::new(&config.crawl, std::slice::from_ref(source))
                    .map_err(CommandError::Other)?;
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
    if x.postings.is_empty() && source.render.is_none() && crate::extract::looks_scripted(&body) {
        say!("warning: {}", crate::extract::SCRIPTED_HINT);
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

/// One page of `source` as `run` would get it (fetched, or rendered), the
/// browser closed again before returning.
fn fetch_page(config: &Config, source: &Source, url: &Url) -> Result<crate::fetch::Page> {
    let mut sources = config.sources.clone();
    sources.push(source.clone());
    let fetcher = crate::fetch::Fetcher::new(&config.crawl, &sources).map_err(CommandError::Other)?;
    runtime()?.block_on(async {
        let page = fetcher
            .page(source, url, &Default::default(), &Default::default())
            .await;
        fetcher.close().await;
        page.map_err(|e| CommandError::Other(e.to_string()))
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
pub fn source_suggest(
    config: Option<PathBuf>,
    url: Option<&str>,
    file: Option<PathBuf>,
    all: bool,
    render: bool,
) -> Result<Exit> {
    if let (Some(name), None) = (url, &file)
        && Url::parse(name).is_err()
    {
        return stored_proposal(config, name);
    }
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
                mirrors: Vec::new(),
                rate: None,
                proxy: None,
                about: Vec::new(),
                group: None,
                disclosure: None,
                extractor: Extractor::Feed(Default::default()),
                render: render.then_some(Render::Chromium),
                request: Default::default(),
                detail: None,
                file: None,
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

/// `source suggest NAME`: the proposal a run stored for a pending source.
fn stored_proposal(config: Option<PathBuf>, name: &str) -> Result<Exit> {
    let config = load(config)?;
    let source = config.sources.iter().find(|s| s.name == name).ok_or_else(|| {
        CommandError::Usage(format!(
            "`{name}` is neither a URL nor a source in {}",
            config.path.display()
        ))
    })?;
    let store = open_store(&config)?;
    match store.proposal(&source.name)? {
        Some(p) => {
            say_raw!("{}", text::clean_lines(&p.text));
            eprintln!("leakwatch: proposed {} from {}", p.created_at, text::clean(&p.url));
            Ok(Exit::Success)
        }
        None => {
            eprintln!(
                "leakwatch: no proposal stored for source {name}{}",
                if source.is_pending() {
                    ": `leakwatch run` fetches its page and stores one"
                } else {
                    " (it has its selectors): `leakwatch source suggest URL` suggests from a page"
                }
            );
            Ok(Exit::Problems)
        }
    }
}
