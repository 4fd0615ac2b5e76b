//! The name resolver of the direct client: the system resolver, except that
//! it refuses `.onion` names, and keeps names a page supplied away from
//! private addresses.
//!
//! A `.onion` name asked of the local resolver leaks to whoever runs DNS that
//! the host is watching this leak site, and never resolves anyway. The
//! fetcher already routes `.onion` URLs to the Tor client and refuses
//! redirects into `.onion`; this is the last line, so that no code path — a
//! redirect, a future feature — can put such a name on the wire.
//!
//! The redirect check sees only the URL: `http://10.0.0.1/` is refused
//! there, but a name that *resolves* to a private address (`intranet.corp`,
//! a rebinding DNS record) is only caught here, on the addresses actually
//! connected to. Hosts of configured sources are trusted as written.

use std::collections::HashSet;
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::addr::is_private_ip;
use crate::config::onion::is_onion;

/// Resolves through the system (getaddrinfo on a blocking thread), never
/// `.onion`; names other than `trusted` ones get public addresses only,
/// unless `allow_private`.
pub struct GuardedResolver {
    /// Host names of the configured sources, lower-cased, without a final dot.
    pub trusted: HashSet<String>,
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let guard = !self.allow_private && !self.trusted.contains(host.trim_end_matches('.'));
        Box::pin(async move {
            if is_onion(&host) {
                return Err(
                    format!("refusing to resolve {host} outside Tor: .onion names go through crawl.tor_proxy").into(),
                );
            }
            let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if guard {
                addrs.retain(|a| !is_private_ip(a.ip()));
                if addrs.is_empty() {
                    return Err(format!(
                        "{host} resolves only to private addresses: refused (crawl.allow_private_addresses = false)"
                    )
                    .into());
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(trusted: &[&str], allow_private: bool) -> GuardedResolver {
        GuardedResolver {
            trusted: trusted.iter().map(|t| t.to_string()).collect(),
            allow_private,
        }
    }

    #[tokio::test]
    async fn onion_is_refused_even_when_trusted() {
        let err = resolver(&["abcdefgh.onion"], true)
            .resolve("abcdefgh.onion".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("outside Tor"), "{err}");
    }

    #[tokio::test]
    async fn only_trusted_names_may_resolve_to_private_addresses() {
        let trusted: Vec<SocketAddr> = resolver(&["localhost"], false)
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(trusted.iter().all(|a| a.ip().is_loopback()), "{trusted:?}");
        let err = resolver(&[], false)
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("resolves only to private addresses"), "{err}");
        assert!(resolver(&[], true).resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
