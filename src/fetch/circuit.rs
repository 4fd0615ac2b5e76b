//! Tor circuit isolation: each source's requests through `crawl.tor_proxy`
//! carry their own SOCKS5 username and password.
//!
//! Tor puts streams with different SOCKS credentials on different circuits
//! (`IsolateSOCKSAuth`, on by default), so two sources never share a
//! circuit — one leak site cannot link the crawler's visits to another — and
//! a retry after a proxy error gets a fresh pair, hence a new circuit,
//! instead of waiting on the one that failed. The password carries a
//! per-run nonce, so runs do not reuse each other's circuits either.
//!
//! A SOCKS5 proxy that offers no username/password method (not Tor, e.g. a
//! plain relay) gets the shared client for the rest of the run, with a
//! warning: isolation is then up to that proxy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use url::Url;

use crate::config::Crawl;

/// One client per source (and per renewal), built on first use.
pub(super) struct Circuits {
    crawl: Crawl,
    proxy: Url,
    nonce: u64,
    /// Source name → (generation, its client).
    clients: Mutex<HashMap<String, (u32, reqwest::Client)>>,
    /// The proxy refused username/password authentication.
    refused: AtomicBool,
}

impl Circuits {
    pub(super) fn new(crawl: &Crawl, proxy: &Url) -> Circuits {
        Circuits {
            crawl: crawl.clone(),
            proxy: proxy.clone(),
            nonce: super::jitter(std::time::Duration::from_nanos(u64::MAX)).as_nanos() as u64,
            clients: Mutex::new(HashMap::new()),
            refused: AtomicBool::new(false),
        }
    }

    /// False once the proxy turned credentials down.
    pub(super) fn in_use(&self) -> bool {
        !self.refused.load(Ordering::Relaxed)
    }

    /// Whether `detail` (a proxy error) says the proxy takes no credentials;
    /// if so, isolation is off from now on.
    pub(super) fn refused_by(&self, detail: &str) -> bool {
        let refused = detail.contains("does not support user/pass");
        if refused && !self.refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "crawl.tor_proxy {} takes no SOCKS username/password: sources share its circuits (Tor takes them; is this Tor?)",
                self.proxy
            );
        }
        refused
    }

    /// The client for `source`'s current circuit, and its generation.
    pub(super) fn client(&self, source: &str) -> Result<(u32, reqwest::Client), String> {
        let mut clients = self.clients.lock().expect("circuit map poisoned");
        if let Some((generation, client)) = clients.get(source) {
            return Ok((*generation, client.clone()));
        }
        let client = self.build(source, 0)?;
        clients.insert(source.to_owned(), (0, client.clone()));
        Ok((0, client))
    }

    /// Moves `source` to a new circuit after generation `failed` failed
    /// (unless a concurrent request already did).
    pub(super) fn renew(&self, source: &str, failed: u32) -> Result<(), String> {
        let mut clients = self.clients.lock().expect("circuit map poisoned");
        if clients.get(source).is_some_and(|(g, _)| *g == failed) {
            let client = self.build(source, failed + 1)?;
            clients.insert(source.to_owned(), (failed + 1, client));
        }
        Ok(())
    }

    fn build(&self, source: &str, generation: u32) -> Result<reqwest::Client, String> {
        let (user, password) = credentials(source, self.nonce, generation);
        let mut proxy = self.proxy.clone();
        proxy
            .set_username(&user)
            .and_then(|()| proxy.set_password(Some(&password)))
            .map_err(|()| format!("`{}` cannot carry credentials", self.proxy))?;
        super::proxied(&self.crawl, &proxy, true)
    }
}

/// The SOCKS5 username and password of `source`'s circuit number `generation`.
pub(super) fn credentials(source: &str, nonce: u64, generation: u32) -> (String, String) {
    (format!("leakwatch-{source}"), format!("{nonce:016x}-{generation}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_differ_by_source_run_and_renewal() {
        let a = credentials("clop", 1, 0);
        assert_ne!(a, credentials("play", 1, 0));
        assert_ne!(a, credentials("clop", 2, 0));
        assert_ne!(a, credentials("clop", 1, 1));
        assert_eq!(a, credentials("clop", 1, 0));
    }
}
