//! The name resolver of the direct client: the system resolver, except that
//! it refuses `.onion` names.
//!
//! A `.onion` name asked of the local resolver leaks to whoever runs DNS that
//! the host is watching this leak site, and never resolves anyway. The
//! fetcher already routes `.onion` URLs to the Tor client and refuses
//! redirects into `.onion`; this is the last line, so that no code path — a
//! redirect, a future feature — can put such a name on the wire.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves through the system (getaddrinfo on a blocking thread), never `.onion`.
pub struct NoOnionResolver;

/// True for `x.onion` and `x.onion.`.
pub fn is_onion_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.len() >= 6 && host[host.len() - 6..].eq_ignore_ascii_case(".onion")
}

impl Resolve for NoOnionResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if is_onion_name(&host) {
                return Err(
                    format!("refusing to resolve {host} outside Tor: .onion names go through crawl.tor_proxy").into(),
                );
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onion_names() {
        assert!(is_onion_name("abc.onion"));
        assert!(is_onion_name("abc.ONION."));
        assert!(!is_onion_name("onion"));
        assert!(!is_onion_name("abc.onion.example"));
        assert!(!is_onion_name("notonion"));
    }

    #[tokio::test]
    async fn onion_is_refused_and_others_resolve() {
        let r = NoOnionResolver;
        let err = r
            .resolve("abcdefgh.onion".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("outside Tor"), "{err}");
        let addrs: Vec<SocketAddr> = r.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
