//! Which redirects are followed. The fetcher follows redirects itself, hop
//! by hop, rather than leaving it to the HTTP client, so that every hop waits
//! for its host's rate like any other request and is checked here before
//! anything is sent to where it points.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use url::Url;

use super::addr::is_private_host;
use super::host_key;
use crate::config::onion::is_onion;

/// Most redirects followed for one page.
pub const MAX_REDIRECTS: usize = 5;

/// Where a redirect reply points, resolved against the URL that gave it;
/// `None` when the reply is not a redirect.
pub fn target(url: &Url, status: StatusCode, headers: &HeaderMap) -> Result<Option<Url>, String> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let location = headers
        .get(LOCATION)
        .ok_or_else(|| format!("server answered {status} without a Location"))?;
    let location = location
        .to_str()
        .map_err(|_| format!("server answered {status} with an unreadable Location"))?;
    let next = url
        .join(location)
        .map_err(|e| format!("redirect to `{location}` is not a URL: {e}"))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!("redirect to {next} refused: only http and https are fetched"));
    }
    Ok(Some(next))
}

/// Whether to follow a redirect to `target`, having requested `previous`
/// (the configured URL first). `via_proxy` clients hand names to their proxy;
/// a direct one would resolve a `.onion` name locally, so it refuses those.
pub fn check(previous: &[Url], target: &Url, allow_private: bool, via_proxy: bool) -> Result<(), String> {
    if previous.len() > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects"));
    }
    if previous.contains(target) {
        return Err(format!("redirect loop back to {target}"));
    }
    if !via_proxy && target.host_str().is_some_and(is_onion) {
        return Err(format!(
            "redirect to {target} refused: a .onion address is only reached through crawl.tor_proxy"
        ));
    }
    let origin = &previous[0];
    if !allow_private && host_key(origin) != host_key(target) && is_private_host(target) {
        return Err(format!(
            "redirect to {target} refused: it leaves {} for a private address (crawl.allow_private_addresses = false)",
            origin.host_str().unwrap_or("")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn targets() {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, "/next?p=2".parse().unwrap());
        let from = u("http://a.example/list");
        assert_eq!(
            target(&from, StatusCode::FOUND, &h).unwrap(),
            Some(u("http://a.example/next?p=2"))
        );
        assert_eq!(target(&from, StatusCode::OK, &h).unwrap(), None);
        assert_eq!(target(&from, StatusCode::NOT_MODIFIED, &h).unwrap(), None);
        assert!(target(&from, StatusCode::FOUND, &HeaderMap::new()).is_err());
        h.insert(LOCATION, "file:///etc/passwd".parse().unwrap());
        assert!(target(&from, StatusCode::MOVED_PERMANENTLY, &h).is_err());
    }

    #[test]
    fn checks() {
        let start = [u("http://a.example/")];
        assert!(check(&start, &u("http://b.example/"), false, false).is_ok());
        assert!(
            check(&start, &u("http://a.example/"), false, false)
                .unwrap_err()
                .contains("loop")
        );
        assert!(
            check(&start, &u("http://10.0.0.1/"), false, false)
                .unwrap_err()
                .contains("private")
        );
        assert!(check(&start, &u("http://10.0.0.1/"), true, false).is_ok());
        assert!(
            check(&start, &u("http://x.onion/"), false, false)
                .unwrap_err()
                .contains("tor_proxy")
        );
        assert!(check(&start, &u("http://x.onion/"), false, true).is_ok());
        // A source on a private address may redirect within its own host.
        let local = [u("http://10.0.0.1:8080/")];
        assert!(check(&local, &u("http://10.0.0.1:8080/b"), false, false).is_ok());
        let six: Vec<Url> = (0..6).map(|i| u(&format!("http://a.example/{i}"))).collect();
        assert!(check(&six[..5], &u("http://a.example/x"), false, false).is_ok());
        assert!(
            check(&six, &u("http://a.example/x"), false, false)
                .unwrap_err()
                .contains("more than 5")
        );
    }
}
