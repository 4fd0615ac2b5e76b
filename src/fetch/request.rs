//! What a source's request carries besides its URL: the `[source.request]`
//! headers, with secret values read from the environment when the run needs
//! them. They go only to the source's own host: a redirect elsewhere, or a
//! page on another host, is asked for without them.

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::host_key;
use crate::config::Source;

/// The extra parts of the requests to one source's host.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The host key the headers may be sent to; empty sends them nowhere.
    host: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Outgoing {
    /// `source`'s request; fails, naming the key, when a secret header's
    /// variable is not set, so that no header is ever sent empty.
    pub fn for_source(source: &Source) -> Result<Outgoing, String> {
        let mut headers = source.request.headers.clone();
        for (name, var) in &source.request.headers_env {
            let value = std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
                format!(
                    "request.headers_env.{name}: {var} is not set in this environment: set it where leakwatch runs (nothing was sent)"
                )
            })?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                format!("request.headers_env.{name}: the value of {var} is not a valid header value (nothing was sent)")
            })?;
            value.set_sensitive(true);
            headers.push((name.clone(), value));
        }
        Ok(Outgoing {
            host: host_key(&source.url),
            headers,
        })
    }

    /// The headers to send with a request to `url`: none off the host.
    pub(super) fn headers_for(&self, url: &Url) -> &[(HeaderName, HeaderValue)] {
        if !self.host.is_empty() && host_key(url) == self.host {
            &self.headers
        } else {
            &[]
        }
    }
}
