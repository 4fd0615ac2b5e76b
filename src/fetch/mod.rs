//! Fetch: the polite, rate-limited, hostile-server-proof HTTP client.
//!
//! One [`Fetcher`] serves a whole run. It owns the reqwest clients — direct,
//! through Tor for `.onion` hosts, and one per source that sets its own
//! `proxy` — a rate limiter per host, and a semaphore bounding requests in
//! flight across all hosts. Everything a server says is distrusted: bodies
//! are capped while streaming (after decompression), content types are
//! checked before reading, and redirects are limited and kept away from
//! private addresses and from `.onion` outside Tor. Proxies come from the
//! config only: proxy environment variables are ignored.

mod addr;
mod circuit;
mod decode;
mod detail;
mod redirect;
pub mod render;
mod request;
mod resolve;
mod retry;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{Crawl, Rate, Source};
use retry::{jitter, retry_after};

pub use addr::is_private_host;
pub use detail::detail_target;
pub use redirect::MAX_REDIRECTS;
pub use request::Outgoing;

/// Longest wait a server's `Retry-After` can impose on one retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// First retry delay; doubled on each further try.
pub const RETRY_BASE_DELAY: Duration = Duration::from_millis(500);
/// Tor circuits are slow: onion requests get this many times the timeouts
/// (`timeout_secs`, `connect_timeout_secs`, `read_timeout_secs`).
pub const TOR_TIMEOUT_FACTOR: u32 = 3;

/// A fetched page, decoded to text.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the body came from, after redirects.
    pub url: Url,
    pub body: String,
    /// The server answered 304: nothing changed since `validators`.
    pub not_modified: bool,
    /// What to send next time for a conditional GET.
    pub validators: Validators,
    /// Tries it took, 1 when the first succeeded.
    pub tries: u32,
}

/// ETag and Last-Modified of a page, as the server sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Why a page could not be fetched. Each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: a .onion address needs Tor: set crawl.tor_proxy = \"socks5h://127.0.0.1:9050\" (nothing was sent)")]
    NoTorProxy { url: Url },
    #[error("{url}: the Tor proxy failed: {detail}")]
    Proxy { url: Url, detail: String },
    #[error("{url}: server answered {status}")]
    Status { url: Url, status: StatusCode },
    #[error("{url}: timed out")]
    Timeout { url: Url },
    #[error("{url}: cannot connect: {detail}")]
    Connect { url: Url, detail: String },
    #[error("{url}: {detail}")]
    Redirect { url: Url, detail: String },
    #[error("{url}: body is larger than crawl.max_body_bytes = {limit}; raise it if this page is legitimate")]
    TooLarge { url: Url, limit: u64 },
    #[error("{url}: content type `{content_type}` is not a page or feed; refused without reading it")]
    ContentType { url: Url, content_type: String },
    #[error("token not found on {url}: check request.token against that page")]
    NoToken { url: Url },
    #[error("{url}: {detail}")]
    Other { url: Url, detail: String },
    #[error("{url}: rendering in Chromium failed: {detail}")]
    Render { url: Url, detail: String },
}

/// A fetch that failed for good, after `tries` tries.
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", if *tries > 1 { format!(" (after {tries} tries)") } else { String::new() })]
pub struct FetchFailure {
    pub error: FetchError,
    pub tries: u32,
}

impl FetchError {
    /// `proxy-error` or `http-error`, as `source list` shows it.
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::NoTorProxy { .. } | FetchError::Proxy { .. } => "proxy-error",
            FetchError::Render { .. } => "render-error",
            _ => "http-error",
        }
    }
}

/// The run's HTTP client.
pub struct Fetcher {
    direct: reqwest::Client,
    tor: Option<reqwest::Client>,
    /// Per-source Tor clients with their own SOCKS credentials.
    circuits: Option<circuit::Circuits>,
    /// Clients of sources with their own `proxy`, by host key.
    proxied: HashMap<String, reqwest::Client>,
    limiters: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    rates: HashMap<String, Rate>,
    default_rate: Rate,
    slots: Semaphore,
    max_body_bytes: u64,
    retries: u32,
    allow_private: bool,
    /// Delay before the first retry; tests shorten it.
    retry_base: Duration,
    /// The browser of sources with `render`, when any has it.
    renderer: Option<render::Renderer>,
}

/// The host key that rate limits and "same host" checks use: host and port.
pub fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Fetcher {
    /// Builds the clients for `crawl`, with per-host rates from `sources`.
    pub fn new(crawl: &Crawl, sources: &[Source]) -> Result<Fetcher, String> {
        let direct = client(crawl, 1)
            .no_proxy()
            .dns_resolver(resolve::GuardedResolver {
                trusted: sources
                    .iter()
                    .filter_map(|s| s.url.host_str())
                    .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                    .collect(),
                allow_private: crawl.allow_private_addresses,
            })
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let tor = match &crawl.tor_proxy {
            Some(proxy) => Some(proxied(crawl, proxy, true).map_err(|e| format!("crawl.tor_proxy: {e}"))?),
            None => None,
        };
        let mut proxied_clients = HashMap::new();
        for s in sources {
            if let Some(proxy) = &s.proxy {
                let client =
                    proxied(crawl, proxy, s.is_onion()).map_err(|e| format!("source \"{}\": proxy: {e}", s.name))?;
                proxied_clients.insert(host_key(&s.url), client);
            }
        }
        let rates = sources
            .iter()
            .filter_map(|s| Some((host_key(&s.url), s.rate?)))
            .collect();
        Ok(Fetcher {
            direct,
            tor,
            circuits: crawl.tor_proxy.as_ref().map(|p| circuit::Circuits::new(crawl, p)),
            proxied: proxied_clients,
            limiters: Mutex::new(HashMap::new()),
            rates,
            default_rate: crawl.per_host_rate,
            slots: Semaphore::new(crawl.concurrency),
            max_body_bytes: crawl.max_body_bytes,
            retries: crawl.retries,
            allow_private: crawl.allow_private_addresses,
            retry_base: RETRY_BASE_DELAY,
            renderer: render::Renderer::new(crawl, sources),
        })
    }

    /// Shortens retry delays, for tests and the demo.
    pub fn with_retry_base(mut self, base: Duration) -> Fetcher {
        self.retry_base = base;
        self
    }

    fn limiter(&self, url: &Url) -> Arc<DefaultDirectRateLimiter> {
        let key = host_key(url);
        let mut map = self.limiters.lock().expect("limiter map poisoned");
        map.entry(key.clone())
            .or_insert_with(|| {
                let rate = self.rates.get(&key).copied().unwrap_or(self.default_rate);
                let quota = Quota::with_period(rate.interval()).expect("rates are at least 1 per hour");
                Arc::new(RateLimiter::direct(quota))
            })
            .clone()
    }

    /// Waits for a request slot and `url`'s host turn, and holds the slot.
    ///
    /// The host's permit is taken only while holding a slot, so the request
    /// leaves when its permit is granted: taking the permit first and then
    /// queueing for a slot would let a delayed request and the next one reach
    /// the server closer together than the rate allows. No slot is held while
    /// waiting for a host's turn, so a slow host never blocks a ready one.
    async fn turn(&self, url: &Url) -> tokio::sync::SemaphorePermit<'_> {
        let limiter = self.limiter(url);
        loop {
            let slot = self.slots.acquire().await.expect("semaphore never closed");
            match limiter.check() {
                Ok(()) => return slot,
                Err(not_until) => {
                    drop(slot);
                    let wait = not_until.wait_time_from(limiter.clock().now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A page of `source`: fetched as `outgoing` asks, or loaded in the
    /// browser when the source has `render` (a plain navigation: no
    /// conditional GET, since a script's output has no ETag, and no request
    /// recipe).
    pub async fn page(
        &self,
        source: &Source,
        url: &Url,
        validators: &Validators,
        outgoing: &Outgoing,
    ) -> Result<Page, FetchFailure> {
        match (&self.renderer, source.render) {
            (Some(renderer), Some(_)) => renderer.render(self, source, url).await,
            _ => self.fetch_for(Some(&source.name), url, validators, outgoing).await,
        }
    }

    /// Closes the browser, if one was started: call once the run's pages
    /// are in. (Dropping the fetcher kills it too, without waiting.)
    pub async fn close(&self) {
        if let Some(renderer) = &self.renderer {
            renderer.close().await;
        }
    }

    /// Fetches `outgoing`'s prelude page, if it has one, keeping its
    /// cookies and reading its token: once per run, before the source's own
    /// requests.
    pub async fn prepare(&self, outgoing: &mut Outgoing) -> Result<(), FetchFailure> {
        let Some((url, token)) = outgoing.prelude().cloned() else {
            return Ok(());
        };
        let page = self
            .fetch_with(&url, &Validators::default(), &outgoing.for_prelude())
            .await?;
        if let Some(spec) = token {
            let found = crate::extract::read_field(&page.body, &spec).ok_or_else(|| FetchFailure {
                error: FetchError::NoToken { url: url.clone() },
                tries: page.tries,
            })?;
            outgoing.set_token(found).map_err(|detail| FetchFailure {
                error: FetchError::Other { url, detail },
                tries: page.tries,
            })?;
        }
        Ok(())
    }

    /// Fetches `url` with a plain GET; see [`Fetcher::fetch_with`].
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Page, FetchFailure> {
        self.fetch_with(url, validators, &Outgoing::default()).await
    }

    /// Fetches `url` as `outgoing` says; see [`Fetcher::fetch_for`].
    pub async fn fetch_with(
        &self,
        url: &Url,
        validators: &Validators,
        outgoing: &Outgoing,
    ) -> Result<Page, FetchFailure> {
        self.fetch_for(None, url, validators, outgoing).await
    }

    /// Fetches `url` as `outgoing` says, retrying what is worth retrying,
    /// each try waiting for its host's rate. `validators` make it a
    /// conditional GET. With a `source`, a `.onion` page goes through Tor on
    /// that source's own circuit ([`circuit`]), renewed after a proxy error.
    pub async fn fetch_for(
        &self,
        source: Option<&str>,
        url: &Url,
        validators: &Validators,
        outgoing: &Outgoing,
    ) -> Result<Page, FetchFailure> {
        let is_onion = url.host_str().is_some_and(crate::config::onion::is_onion);
        let fail = |error| FetchFailure { error, tries: 0 };
        let own = self.proxied.get(&host_key(url));
        let mut isolated = match (own, &self.circuits, source, is_onion) {
            (None, Some(circuits), Some(source), true) if circuits.in_use() => Some((circuits, source)),
            _ => None,
        };
        let mut client = match (own, &self.tor, is_onion) {
            (Some(own), _, _) => own.clone(),
            (None, Some(tor), true) => tor.clone(),
            (None, None, true) => return Err(fail(FetchError::NoTorProxy { url: url.clone() })),
            (None, _, false) => self.direct.clone(),
        };
        let via_proxy = own.is_some() || is_onion;
        let mut tries = 0;
        loop {
            let mut generation = 0;
            if let Some((circuits, source)) = isolated {
                let fresh = circuits.client(source).map_err(|detail| {
                    fail(FetchError::Proxy {
                        url: url.clone(),
                        detail,
                    })
                })?;
                (generation, client) = fresh;
            }
            tries += 1;
            match self
                .follow(&client, url, validators, outgoing, is_onion, via_proxy)
                .await
            {
                Ok(mut page) => {
                    page.tries = tries;
                    return Ok(page);
                }
                Err((FetchError::Proxy { detail, .. }, _))
                    if isolated.is_some_and(|(circuits, _)| circuits.refused_by(&detail)) =>
                {
                    // Not a try: the same request again, without credentials.
                    isolated = None;
                    client = self.tor.clone().expect("circuits exist only with a Tor proxy");
                    tries -= 1;
                }
                Err((e, retry_after)) if e.retryable() && tries <= self.retries => {
                    if let (FetchError::Proxy { .. }, Some((circuits, source))) = (&e, isolated) {
                        // A new circuit rather than the one that just failed.
                        let _ = circuits.renew(source, generation);
                    }
                    let backoff = self.retry_base * 2u32.saturating_pow(tries - 1);
                    let wait = retry_after.unwrap_or(backoff).min(MAX_RETRY_AFTER) + jitter(backoff / 4);
                    tracing::debug!("{e}; try {tries} failed, next in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                Err((error, _)) => return Err(FetchFailure { error, tries }),
            }
        }
    }

    /// One try: the request and the redirects it leads to, each hop checked
    /// before it is sent and waiting for its own host's rate.
    async fn follow(
        &self,
        client: &reqwest::Client,
        start: &Url,
        validators: &Validators,
        outgoing: &Outgoing,
        is_onion: bool,
        via_proxy: bool,
    ) -> Result<Page, (FetchError, Option<Duration>)> {
        let mut visited: Vec<Url> = Vec::new();
        let mut url = start.clone();
        let none = Validators::default();
        loop {
            let hop = {
                let _slot = self.turn(&url).await;
                // Validators belong to the configured page, not to where it redirects.
                let first = visited.is_empty();
                let sent = if first { validators } else { &none };
                self.try_once(client, &url, sent, outgoing, is_onion, first).await?
            };
            match hop {
                Hop::Page(mut page) => {
                    if !visited.is_empty() {
                        page.validators = Validators::default();
                    }
                    return Ok(page);
                }
                Hop::Redirect(next) => {
                    visited.push(url);
                    let from = &visited[visited.len() - 1];
                    redirect::check(&visited, &next, self.allow_private, via_proxy)
                        .and_then(|()| outgoing.may_leave_for(&next))
                        .map_err(|detail| {
                            (
                                FetchError::Redirect {
                                    url: from.clone(),
                                    detail,
                                },
                                None,
                            )
                        })?;
                    url = next;
                }
            }
        }
    }

    /// One request: a page, or where it redirects to.
    async fn try_once(
        &self,
        client: &reqwest::Client,
        url: &Url,
        validators: &Validators,
        outgoing: &Outgoing,
        is_onion: bool,
        first: bool,
    ) -> Result<Hop, (FetchError, Option<Duration>)> {
        let method = outgoing.method(first);
        outgoing.note(&method, url);
        let mut req = client.request(method, url.as_str());
        for (name, value) in outgoing.headers_for(url) {
            req = req.header(name, value);
        }
        if let Some((content_type, body)) = outgoing.body(first) {
            req = req.header(header::CONTENT_TYPE, content_type).body(body);
        }
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req.send().await.map_err(|e| (request_error(url, e, is_onion), None))?;
        outgoing.keep_cookies(url, resp.headers());
        let status = resp.status();
        let target = redirect::target(url, status, resp.headers()).map_err(|detail| {
            (
                FetchError::Redirect {
                    url: url.clone(),
                    detail,
                },
                None,
            )
        })?;
        if let Some(next) = target {
            return Ok(Hop::Redirect(next));
        }
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Hop::Page(Page {
                url: resp.url().clone(),
                body: String::new(),
                not_modified: true,
                validators: validators.clone(),
                tries: 1,
            }));
        }
        if !status.is_success() {
            let retry_after = retry_after(resp.headers());
            return Err((
                FetchError::Status {
                    url: resp.url().clone(),
                    status,
                },
                retry_after,
            ));
        }
        let final_url = resp.url().clone();
        let content_type = header_str(resp.headers(), header::CONTENT_TYPE).unwrap_or_default();
        if !decode::acceptable_content_type(&content_type) {
            return Err((
                FetchError::ContentType {
                    url: final_url,
                    content_type,
                },
                None,
            ));
        }
        let new_validators = Validators {
            etag: header_str(resp.headers(), header::ETAG),
            last_modified: header_str(resp.headers(), header::LAST_MODIFIED),
        };
        // Sized once from the length announced (within the limit), not
        // doubled as it grows: a 50 MB body would otherwise take 64 MB and
        // both copies while it is moved.
        let announced = resp.content_length().filter(|&n| n <= self.max_body_bytes);
        let mut bytes = Vec::with_capacity(announced.unwrap_or(0) as usize);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() as u64 + chunk.len() as u64 > self.max_body_bytes {
                        return Err((
                            FetchError::TooLarge {
                                url: final_url,
                                limit: self.max_body_bytes,
                            },
                            None,
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err((request_error(&final_url, e, is_onion), None)),
            }
        }
        Ok(Hop::Page(Page {
            body: decode::decode(bytes, &content_type),
            url: final_url,
            not_modified: false,
            validators: new_validators,
            tries: 1,
        }))
    }
}

/// What one request gave.
enum Hop {
    Page(Page),
    Redirect(Url),
}

/// A client whose every request goes through `proxy`, and only it: setting
/// a proxy turns off reqwest's reading of proxy environment variables.
/// `slow` (Tor) multiplies the timeouts by [`TOR_TIMEOUT_FACTOR`].
fn proxied(crawl: &Crawl, proxy: &Url, slow: bool) -> Result<reqwest::Client, String> {
    let factor = if slow { TOR_TIMEOUT_FACTOR } else { 1 };
    let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|e| format!("`{proxy}`: {e}"))?;
    client(crawl, factor)
        .proxy(proxy)
        .build()
        .map_err(|e| format!("cannot build the proxied HTTP client: {e}"))
}

/// Redirects are not left to reqwest: [`Fetcher::follow`] takes them hop by hop.
fn client(crawl: &Crawl, factor: u32) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(crawl.user_agent.clone())
        .timeout(crawl.timeout * factor)
        .connect_timeout(crawl.connect_timeout * factor)
        .read_timeout(crawl.read_timeout * factor)
        .referer(false)
        .redirect(reqwest::redirect::Policy::none())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_owned)
}

fn request_error(url: &Url, e: reqwest::Error, via_tor: bool) -> FetchError {
    let url = e.url().cloned().unwrap_or_else(|| url.clone());
    let detail = error_chain(&e);
    if e.is_timeout() {
        FetchError::Timeout { url }
    } else if e.is_redirect() {
        FetchError::Redirect { url, detail }
    } else if via_tor && e.is_connect() {
        FetchError::Proxy { url, detail }
    } else if e.is_connect() {
        FetchError::Connect { url, detail }
    } else {
        FetchError::Other { url, detail }
    }
}

/// reqwest's top-level message is vague ("error sending request"); the cause
/// chain says what happened.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
