//! What is retried, and how long a retry waits — in one place, as lychee
//! keeps it: connect, proxy and timeout errors, 429 and the 5xx that mean
//! "later"; never a refusal such as 404 or a wrong content type. The wait
//! honours `Retry-After` (seconds or an HTTP date) and adds jitter, so the
//! retries of many runs do not align.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};

use super::{FetchError, header_str};

impl FetchError {
    /// Worth another try: the server or the path may answer later.
    pub(super) fn retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => {
                matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
            }
            FetchError::Timeout { .. } | FetchError::Connect { .. } | FetchError::Proxy { .. } => true,
            _ => false,
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = header_str(headers, header::RETRY_AFTER)?;
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// Up to `max` of random delay, so retries from many runs do not align.
pub(super) fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    let nanos = max.as_nanos() as u64;
    Duration::from_nanos(if nanos == 0 { 0 } else { h.finish() % nanos })
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::HeaderValue;
    use url::Url;

    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        h
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after(&headers(&soon)).expect("a date");
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            None,
            "in the past"
        );
        assert_eq!(retry_after(&headers("soon")), None);
    }

    #[test]
    fn what_is_retried() {
        let url = Url::parse("http://example.org/").unwrap();
        let status = |s: u16| FetchError::Status {
            url: url.clone(),
            status: StatusCode::from_u16(s).unwrap(),
        };
        for s in [429, 500, 502, 503, 504] {
            assert!(status(s).retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 451] {
            assert!(!status(s).retryable(), "{s}");
        }
        assert!(FetchError::Timeout { url: url.clone() }.retryable());
        let refused = FetchError::ContentType {
            url,
            content_type: "application/zip".into(),
        };
        assert!(!refused.retryable());
    }
}
