//! What a source's requests carry besides their URL ([source.request]): the
//! method, headers (secret values read from the environment when the run
//! needs them), a form or JSON body, and what the prelude page gave — its
//! cookies and token.
//!
//! All of it goes only to the source's own host: a redirect elsewhere is
//! followed without headers, cookies or body, and cookies are kept only from
//! that host's answers, for this run. Every request is noted, secrets
//! masked, for `source test`.

use std::sync::{Arc, Mutex};

use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::host_key;
use crate::config::{Body, Field, Source, TOKEN_PLACEHOLDER};

/// Shown instead of a secret value.
const MASK: &str = "•••";

/// The extra parts of the requests to one source's host.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The host key the extras may be sent to; empty sends them nowhere.
    host: String,
    post: bool,
    /// Name, value (`{token}` not yet replaced), and whether it is a secret.
    headers: Vec<(HeaderName, String, bool)>,
    body: Option<Body>,
    prelude: Option<(Url, Option<Field>)>,
    token: Option<String>,
    /// Cookies the host set during this run, by name. Shared with the
    /// detail pages' requests.
    jar: Arc<Mutex<Vec<(String, String)>>>,
    /// The requests made, secrets masked.
    log: Arc<Mutex<Vec<String>>>,
    /// A post's page: a redirect off the source's host is refused.
    stay_on_host: bool,
}

impl Outgoing {
    /// `source`'s request; fails, naming the key, when a secret header's
    /// variable is not set, so that no header is ever sent empty.
    pub fn for_source(source: &Source) -> Result<Outgoing, String> {
        let r = &source.request;
        let mut headers: Vec<_> = r.headers.iter().map(|(n, v)| (n.clone(), v.clone(), false)).collect();
        for (name, var) in &r.headers_env {
            let value = std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
                format!(
                    "request.headers_env.{name}: {var} is not set in this environment: set it where leakwatch runs (nothing was sent)"
                )
            })?;
            HeaderValue::from_str(&value).map_err(|_| {
                format!("request.headers_env.{name}: the value of {var} is not a valid header value (nothing was sent)")
            })?;
            headers.push((name.clone(), value, true));
        }
        Ok(Outgoing {
            host: host_key(&source.url),
            post: r.post,
            headers,
            body: r.body.clone(),
            prelude: r.prelude.clone().map(|u| (u, r.token.clone())),
            ..Outgoing::default()
        })
    }

    /// The same request for a post's own page: a GET, never leaving the
    /// host, with the run's cookies and token.
    pub fn for_detail(&self) -> Outgoing {
        Outgoing {
            post: false,
            body: None,
            stay_on_host: true,
            ..self.clone()
        }
    }

    /// The prelude page to fetch first, and how to read its token.
    pub(super) fn prelude(&self) -> Option<&(Url, Option<Field>)> {
        self.prelude.as_ref()
    }

    /// What the prelude page is asked with: a GET with the headers that do
    /// not wait for its token.
    pub(super) fn for_prelude(&self) -> Outgoing {
        Outgoing {
            post: false,
            body: None,
            prelude: None,
            headers: self
                .headers
                .iter()
                .filter(|(_, v, _)| !v.contains(TOKEN_PLACEHOLDER))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// Takes the prelude's token; it must fit in a header.
    pub(super) fn set_token(&mut self, token: String) -> Result<(), String> {
        HeaderValue::from_str(&token).map_err(|_| "the token read on the prelude is not a valid header value")?;
        self.token = Some(token);
        Ok(())
    }

    fn fill(&self, template: &str) -> String {
        match &self.token {
            Some(t) => template.replace(TOKEN_PLACEHOLDER, t),
            None => template.to_owned(),
        }
    }

    fn on_host(&self, url: &Url) -> bool {
        !self.host.is_empty() && host_key(url) == self.host
    }

    /// The method of a request to `url`; `first` is the configured request,
    /// not a redirect (which is always a GET without body).
    pub(super) fn method(&self, first: bool) -> Method {
        if first && self.post { Method::POST } else { Method::GET }
    }

    /// The body and its content type, on the first hop of a POST only.
    pub(super) fn body(&self, first: bool) -> Option<(&'static str, Vec<u8>)> {
        if !first || !self.post {
            return None;
        }
        match self.body.as_ref()? {
            Body::Form(fields) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    form.append_pair(k, &self.fill(v));
                }
                Some(("application/x-www-form-urlencoded", form.finish().into_bytes()))
            }
            Body::Json(json) => Some(("application/json", self.fill(json).into_bytes())),
        }
    }

    /// The headers (cookies included) to send with a request to `url`: none
    /// off the host.
    pub(super) fn headers_for(&self, url: &Url) -> Vec<(HeaderName, HeaderValue)> {
        if !self.on_host(url) {
            return Vec::new();
        }
        let mut out: Vec<_> = self
            .headers
            .iter()
            .filter_map(|(name, value, secret)| {
                let mut v = HeaderValue::from_str(&self.fill(value)).ok()?;
                v.set_sensitive(*secret);
                Some((name.clone(), v))
            })
            .collect();
        let jar = self.jar.lock().expect("cookie jar poisoned");
        if !jar.is_empty() {
            let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Ok(mut v) = HeaderValue::from_str(&cookies.join("; ")) {
                v.set_sensitive(true);
                out.push((header::COOKIE, v));
            }
        }
        out
    }

    /// Keeps the cookies `url`'s answer sets, when `url` is the source's host
    /// and the cookie is for it.
    pub(super) fn keep_cookies(&self, url: &Url, headers: &HeaderMap) {
        if !self.on_host(url) {
            return;
        }
        let host = url.host_str().unwrap_or("").trim_end_matches('.').to_ascii_lowercase();
        let mut jar = self.jar.lock().expect("cookie jar poisoned");
        for value in headers.get_all(header::SET_COOKIE) {
            let Some((name, value, domain)) = value.to_str().ok().and_then(parse_set_cookie) else {
                continue;
            };
            if let Some(d) = domain
                && d != host
                && !host.ends_with(&format!(".{d}"))
            {
                tracing::debug!("{url}: a cookie for {d} is not kept");
                continue;
            }
            jar.retain(|(n, _)| *n != name);
            jar.push((name, value));
        }
    }

    /// Notes a request, secret values masked.
    pub(super) fn note(&self, method: &Method, url: &Url) {
        let sent = self.headers_for(url);
        let headers: Vec<String> = sent
            .iter()
            .filter(|(n, _)| *n != header::COOKIE)
            .map(
                |(n, v)| match v.is_sensitive() || self.token.is_some() && self.shows_token(n) {
                    true => format!("{n}: {MASK}"),
                    false => format!("{n}: {}", v.to_str().unwrap_or(MASK)),
                },
            )
            .collect();
        let cookies: Vec<String> = match self.on_host(url) {
            true => self
                .jar
                .lock()
                .expect("cookie jar poisoned")
                .iter()
                .map(|(k, _)| format!("{k}={MASK}"))
                .collect(),
            false => Vec::new(),
        };
        let mut line = format!("{method} {url}");
        if !headers.is_empty() {
            line.push_str(&format!("; headers: {}", headers.join(", ")));
        }
        if !cookies.is_empty() {
            line.push_str(&format!("; cookies: {}", cookies.join(", ")));
        }
        if self.post && self.body.is_some() && method == Method::POST {
            line.push_str(match self.body {
                Some(Body::Form(_)) => "; form body",
                _ => "; JSON body",
            });
        }
        self.log.lock().expect("request log poisoned").push(line);
    }

    /// Whether header `name` carries the token, which is shown masked.
    fn shows_token(&self, name: &HeaderName) -> bool {
        self.headers
            .iter()
            .any(|(n, v, _)| n == name && v.contains(TOKEN_PLACEHOLDER))
    }

    /// The requests made so far, secrets masked, for `source test`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("request log poisoned").clone()
    }
}

/// `name=value; Domain=d; …` → name, value, and the domain if given.
fn parse_set_cookie(header: &str) -> Option<(String, String, Option<String>)> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let domain = parts
        .filter_map(|a| a.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("domain"))
        .map(|(_, d)| d.trim().trim_start_matches('.').to_ascii_lowercase());
    Some((name.to_owned(), value.trim().to_owned(), domain))
}

impl Outgoing {
    /// Whether a redirect to `next` may be followed.
    pub(super) fn may_leave_for(&self, next: &Url) -> Result<(), String> {
        if self.stay_on_host && host_key(next) != self.host {
            return Err(format!(
                "redirects to {next}: a post's page is read on the source's host only; not followed"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_kept_from_the_host_only_and_for_it_only() {
        let out = Outgoing {
            host: "site.example:80".into(),
            ..Outgoing::default()
        };
        let mut h = HeaderMap::new();
        for c in [
            "sid=abc; Path=/; HttpOnly",
            "other=1; Domain=evil.example",
            "sub=2; Domain=.site.example",
            "=x",
        ] {
            h.append(header::SET_COOKIE, HeaderValue::from_str(c).unwrap());
        }
        out.keep_cookies(&Url::parse("http://elsewhere.example/").unwrap(), &h);
        assert!(out.jar.lock().unwrap().is_empty(), "nothing kept from another host");
        out.keep_cookies(&Url::parse("http://site.example/login").unwrap(), &h);
        let sent = out.headers_for(&Url::parse("http://site.example/list").unwrap());
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.to_str().unwrap(), "sid=abc; sub=2");
        assert!(
            out.headers_for(&Url::parse("http://elsewhere.example/").unwrap())
                .is_empty()
        );
    }
}
