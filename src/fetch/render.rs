//! Rendering: the pages of a `render = "chromium"` source loaded in headless
//! Chromium, under the plain client's rules, for sites that build their
//! listing in JavaScript.
//!
//! One browser per run, started by the first page that needs it and closed
//! by [`super::Fetcher::close`]. Each page gets a tab in a browser context of
//! its own (its own cookies, its own proxy) and waits for its host's turn
//! like any fetch. What a page may reach is decided three times over:
//! - names: Chromium resolves nothing itself. Direct hosts are looked up by
//!   leakwatch and pinned with `--host-resolver-rules`; every other name is
//!   "not found"; through a proxy (Tor, a source's own) the proxy resolves.
//! - requests: every request is paused and only the source's own host (host
//!   and port) is let through; images, media and fonts are not loaded.
//! - the page itself: a Content-Security-Policy added to each document lets
//!   it connect only to its own origin and start no workers, which covers
//!   what interception does not see (WebSockets); pop-ups and downloads are
//!   refused by the browser.
//!
//! The rendered DOM then goes to the same extractor as a fetched body, under
//! the same size limit; a page that does not settle within the source's
//! timeout fails its source with the reason.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::Mutex;
use url::Url;

use super::{FetchError, FetchFailure, Fetcher, Page, TOR_TIMEOUT_FACTOR, Validators, host_key};
use crate::browser::{Browser, LaunchOptions, Rules, Tab, TabOptions, Verdict};
use crate::config::{Crawl, Extractor, Source};

/// Added to every document a rendered page receives.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; \
     connect-src 'self'; img-src 'none'; media-src 'none'; font-src 'none'; object-src 'none'; \
     worker-src 'none'; frame-src 'self'; form-action 'none'";

/// Run before the page's own scripts: WebRTC could reach addresses without
/// the proxy, and no leak site needs it.
const INIT_SCRIPT: &str = "for (const k of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCDataChannel']) { try { delete window[k]; } catch (e) {} }";

/// How long a tab gets to close before the run moves on (a renderer stuck in
/// a script loop is ended with its browser context).
const TAB_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The run's browser, started on first use.
pub struct Renderer {
    user_agent: String,
    timeout: Duration,
    max_body_bytes: u64,
    tor_proxy: Option<Url>,
    /// Hosts and ports of the direct rendering sources, pinned at start.
    direct: Vec<(String, u16)>,
    /// Hosts Chromium reaches as written: addresses (which the catch-all
    /// rule would turn into "not found" too) and proxies.
    excluded: Vec<String>,
    browser: Mutex<Option<Result<Browser, String>>>,
}

impl Renderer {
    /// A renderer for the sources that render, or `None` when none does.
    pub fn new(crawl: &Crawl, sources: &[Source]) -> Option<Renderer> {
        let rendering: Vec<&Source> = sources.iter().filter(|s| s.render.is_some()).collect();
        if rendering.is_empty() {
            return None;
        }
        let (addresses, direct): (Vec<(String, u16)>, _) = rendering
            .iter()
            .filter(|s| s.proxy.is_none() && !s.is_onion())
            .filter_map(|s| Some((s.url.host_str()?.to_owned(), s.url.port_or_known_default()?)))
            .partition(|(host, _)| is_ip_literal(host));
        let proxy_hosts = rendering
            .iter()
            .filter_map(|s| s.proxy.as_ref())
            .chain(crawl.tor_proxy.as_ref())
            .filter_map(|p| p.host_str())
            .map(str::to_owned);
        let excluded = addresses.into_iter().map(|(host, _)| host).chain(proxy_hosts).collect();
        Some(Renderer {
            user_agent: crawl.user_agent.clone(),
            timeout: crawl.timeout,
            max_body_bytes: crawl.max_body_bytes,
            tor_proxy: crawl.tor_proxy.clone(),
            direct,
            excluded,
            browser: Mutex::new(None),
        })
    }

    /// Loads `url` of `source` in the browser and returns its rendered DOM.
    pub async fn render(&self, fetcher: &Fetcher, source: &Source, url: &Url) -> Result<Page, FetchFailure> {
        let failure = |error: FetchError| FetchFailure { error, tries: 1 };
        let is_onion = url.host_str().is_some_and(crate::config::onion::is_onion);
        let proxy = match (&source.proxy, &self.tor_proxy, is_onion) {
            (Some(own), _, _) => Some(own),
            (None, Some(tor), true) => Some(tor),
            (None, None, true) => {
                return Err(FetchFailure {
                    error: FetchError::NoTorProxy { url: url.clone() },
                    tries: 0,
                });
            }
            (None, _, false) => None,
        };
        let timeout = self.timeout * if proxy.is_some() { TOR_TIMEOUT_FACTOR } else { 1 };
        let mut guard = self.browser.lock().await;
        if guard.is_none() {
            *guard = Some(self.launch().await);
        }
        let options = TabOptions {
            proxy: proxy.map(chromium_proxy),
        };
        let tab = match guard.as_ref().expect("set above") {
            Ok(browser) => browser.new_tab(&options).await,
            Err(e) => return Err(failure(render_error(url, e.clone()))),
        };
        drop(guard);
        let tab = tab.map_err(|e| failure(render_error(url, e.to_string())))?;
        let _slot = fetcher.turn(url).await;
        let loaded = tokio::time::timeout(timeout, self.load(&tab, source, url)).await;
        let blocked = tab.blocked();
        let loaded = match loaded {
            // Say what was refused when that is why the page failed.
            Ok(Err(FetchError::Render { url, detail })) if !blocked.is_empty() && detail.contains("net::ERR_") => {
                let detail = format!("{detail} (refused: {})", blocked.join(", "));
                Ok(Err(FetchError::Render { url, detail }))
            }
            other => other,
        };
        if !blocked.is_empty() {
            tracing::info!(
                "source {}: {url}: refused {} request(s) the page made: {}",
                source.name,
                blocked.len(),
                blocked.join(", ")
            );
        }
        let _ = tokio::time::timeout(TAB_CLOSE_TIMEOUT, tab.close()).await;
        match loaded {
            Ok(result) => result.map_err(failure),
            Err(_) => Err(failure(render_error(url, not_settled(source, timeout)))),
        }
    }

    async fn load(&self, tab: &Tab, source: &Source, url: &Url) -> Result<Page, FetchError> {
        let error = |e: crate::browser::BrowserError| render_error(url, e.to_string());
        tab.intercept(rules(source)).await.map_err(error)?;
        let loader = tab.navigate(url).await.map_err(error)?;
        let ready = async {
            match wait_for(source) {
                Some(selector) => tab.wait_for(selector).await,
                None => tab.wait_lifecycle(&loader, "networkIdle").await,
            }
        };
        let too_large = async {
            while tab.bytes_received() <= self.max_body_bytes {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            ready = ready => ready.map_err(error)?,
            () = too_large => return Err(FetchError::TooLarge { url: url.clone(), limit: self.max_body_bytes }),
        }
        if let Some(status) = tab.status().filter(|s| *s >= 400) {
            return Err(FetchError::Status {
                url: url.clone(),
                status: reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY),
            });
        }
        let body = match tab.html(self.max_body_bytes).await.map_err(error)? {
            Ok(html) => html,
            Err(_) => {
                return Err(FetchError::TooLarge {
                    url: url.clone(),
                    limit: self.max_body_bytes,
                });
            }
        };
        let here = tab.evaluate("location.href").await.map_err(error)?;
        let final_url = here
            .as_str()
            .and_then(|h| Url::parse(h).ok())
            .filter(|u| host_key(u) == host_key(url))
            .unwrap_or_else(|| url.clone());
        Ok(Page {
            url: final_url,
            body,
            not_modified: false,
            validators: Validators::default(),
            tries: 1,
        })
    }

    async fn launch(&self) -> Result<Browser, String> {
        let program = crate::browser::find_chromium().ok_or_else(|| NO_CHROMIUM.to_owned())?;
        let mut rules = Vec::new();
        for (host, port) in &self.direct {
            match tokio::net::lookup_host((host.as_str(), *port)).await {
                Ok(mut addrs) => match addrs.next() {
                    Some(addr) if addr.is_ipv6() => rules.push(format!("MAP {host} [{}]", addr.ip())),
                    Some(addr) => rules.push(format!("MAP {host} {}", addr.ip())),
                    None => tracing::warn!("{host}: no address found; its pages will fail"),
                },
                Err(e) => tracing::warn!("{host}: cannot look up: {e}; its pages will fail"),
            }
        }
        rules.push("MAP * ~NOTFOUND".into());
        rules.extend(self.excluded.iter().map(|h| format!("EXCLUDE {h}")));
        let opts = LaunchOptions::headless(program)
            .arg(format!("--user-agent={}", self.user_agent))
            .arg(format!("--host-resolver-rules={}", rules.join(", ")));
        let browser = Browser::launch(&opts).await.map_err(|e| e.to_string())?;
        tracing::info!("browser started: {} (pid {})", opts.program.display(), browser.pid());
        Ok(browser)
    }

    /// Closes the browser, if one was started.
    pub async fn close(&self) {
        if let Some(Ok(browser)) = self.browser.lock().await.take() {
            browser.close().await;
        }
    }
}

/// The message when no browser is installed.
pub const NO_CHROMIUM: &str = "render = \"chromium\" needs Chromium, and none is on the PATH: install it (Debian, Ubuntu: apt-get install chromium)";

/// Chromium installed where `check` can see it.
pub fn chromium_installed() -> Option<PathBuf> {
    crate::browser::find_chromium()
}

/// What a source's page may load: its own host (and port) only, no images,
/// media or fonts.
fn rules(source: &Source) -> Rules {
    let home = host_key(&source.url);
    Rules {
        request: Box::new(move |url: &Url, kind: &str| {
            if matches!(kind, "Image" | "Media" | "Font") {
                return Verdict::Block(format!("{} not loaded", kind.to_ascii_lowercase()));
            }
            if !matches!(url.scheme(), "http" | "https") {
                return Verdict::Block(format!("{} URLs are not loaded", url.scheme()));
            }
            if host_key(url) != home {
                return Verdict::Block("another host".into());
            }
            Verdict::Allow
        }),
        document_headers: vec![("Content-Security-Policy".into(), CONTENT_SECURITY_POLICY.into())],
        init_script: Some(INIT_SCRIPT.into()),
    }
}

fn wait_for(source: &Source) -> Option<&str> {
    match &source.extractor {
        Extractor::Html(rules) => rules.wait_for.as_deref(),
        _ => None,
    }
}

fn not_settled(source: &Source, timeout: Duration) -> String {
    match wait_for(source) {
        Some(selector) => format!(
            "`{selector}` (html.wait_for) did not appear within {}s",
            timeout.as_secs()
        ),
        None => format!(
            "the page did not settle within {}s (its scripts kept working or kept loading): set [source.html] wait_for to a selector of the listing",
            timeout.as_secs()
        ),
    }
}

fn render_error(url: &Url, detail: String) -> FetchError {
    FetchError::Render {
        url: url.clone(),
        detail,
    }
}

/// Chromium's spelling of a proxy: its `socks5` always lets the proxy
/// resolve names (what `socks5h` means elsewhere).
fn chromium_proxy(proxy: &Url) -> String {
    let scheme = match proxy.scheme() {
        "socks5h" | "socks5" => "socks5",
        other => other,
    };
    let host = proxy.host_str().unwrap_or("127.0.0.1");
    match proxy.port_or_known_default() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(url: &str) -> Source {
        let text = format!(
            "[database]\npath = \"x.db\"\n[[source]]\nname = \"s\"\nkind = \"html\"\nurl = \"{url}\"\nrender = \"chromium\"\n[source.html]\nitem = \"li\"\ntitle = \"a\"\n"
        );
        crate::config::Config::parse(std::path::Path::new("leakwatch.toml"), &text)
            .expect("valid config")
            .sources
            .remove(0)
    }

    #[test]
    fn a_page_reaches_its_own_host_and_port_only_and_loads_no_images() {
        let rules = rules(&source("http://127.0.0.1:8080/list"));
        let judge = |u: &str, kind: &str| (rules.request)(&Url::parse(u).unwrap(), kind);
        assert_eq!(judge("http://127.0.0.1:8080/api/list", "Fetch"), Verdict::Allow);
        assert_eq!(judge("http://127.0.0.1:8080/next", "Document"), Verdict::Allow);
        for (url, kind) in [
            ("http://127.0.0.1:9050/", "Fetch"),
            ("http://10.0.0.1:8080/", "Document"),
            ("http://evil.example/x.js", "Script"),
            ("ws://127.0.0.1:8080/socket", "WebSocket"),
            ("http://127.0.0.1:8080/logo.png", "Image"),
            ("http://127.0.0.1:8080/font.woff", "Font"),
        ] {
            assert!(matches!(judge(url, kind), Verdict::Block(_)), "{url} {kind}");
        }
    }

    #[test]
    fn proxies_are_written_the_way_chromium_reads_them() {
        let p = |s: &str| chromium_proxy(&Url::parse(s).unwrap());
        assert_eq!(p("socks5h://127.0.0.1:9050"), "socks5://127.0.0.1:9050");
        assert_eq!(p("socks5://tor.lan:9150"), "socks5://tor.lan:9150");
        assert_eq!(p("http://proxy.lan:3128"), "http://proxy.lan:3128");
    }

    #[test]
    fn no_renderer_when_no_source_renders() {
        let crawl = crate::config::Config::parse(std::path::Path::new("l.toml"), "[database]\npath = \"x.db\"\n")
            .unwrap()
            .crawl;
        assert!(Renderer::new(&crawl, &[]).is_none());
        let r = Renderer::new(&crawl, &[source("http://leaks.example:8080/")]).expect("one renders");
        assert_eq!(
            r.direct,
            [("leaks.example".to_owned(), 8080)],
            "its name is pinned at start"
        );
        let r = Renderer::new(&crawl, &[source("http://127.0.0.1:8080/")]).unwrap();
        assert!(r.direct.is_empty(), "an address needs no lookup");
        assert_eq!(r.excluded, ["127.0.0.1"], "and is reached as written");
    }
}
