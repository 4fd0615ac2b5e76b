//! `[source.request]`: how to ask for a source's page when a plain GET is not
//! enough — extra headers, and header values that are secrets kept in the
//! environment rather than in the file.
//!
//! Header names and literal values are checked here, once; secret values are
//! read from the environment only when a request is built (`fetch`), so a
//! config can be checked on a machine that does not hold the secrets.

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;

use super::problems::Checker;

/// How a source's page is asked for. The default is a plain GET.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Sent as written, with every request to the source's host.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Header name and the environment variable holding its value: a secret
    /// (an API key), masked wherever leakwatch shows a request.
    pub headers_env: Vec<(HeaderName, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    headers: Option<Spanned<BTreeMap<String, String>>>,
    headers_env: Option<Spanned<BTreeMap<String, String>>>,
}

pub(super) fn build_request(ck: &mut Checker, source: &str, raw: Spanned<RawRequest>) -> Option<Request> {
    let before = ck.problems.len();
    let raw = raw.into_inner();
    let key = |k: &str| format!("source \"{source}\": request.{k}");
    let mut request = Request::default();
    if let Some(headers) = raw.headers {
        let span = headers.span();
        for (name, value) in headers.into_inner() {
            let Some(name) = header_name(ck, key("headers"), span.clone(), &name) else {
                continue;
            };
            match HeaderValue::from_str(&value) {
                Ok(v) => request.headers.push((name, v)),
                Err(_) => ck.add(
                    Some(span.clone()),
                    key(&format!("headers.{name}")),
                    format!(
                        "`{}` is not a valid header value: use visible ASCII, no line breaks",
                        value.escape_debug()
                    ),
                ),
            }
        }
    }
    if let Some(headers) = raw.headers_env {
        let span = headers.span();
        for (name, var) in headers.into_inner() {
            let Some(name) = header_name(ck, key("headers_env"), span.clone(), &name) else {
                continue;
            };
            if var.is_empty() || var.contains('=') || var.contains('\0') {
                ck.add(
                    Some(span.clone()),
                    key(&format!("headers_env.{name}")),
                    format!("`{var}` is not an environment variable name: write the variable's name, e.g. \"MY_API_KEY\", not its value"),
                );
                continue;
            }
            if request.headers.iter().any(|(n, _)| n == name) {
                ck.add(
                    Some(span.clone()),
                    key(&format!("headers_env.{name}")),
                    "is also in request.headers: give each header once",
                );
                continue;
            }
            request.headers_env.push((name, var));
        }
    }
    (ck.problems.len() == before).then_some(request)
}

fn header_name(ck: &mut Checker, key: String, span: std::ops::Range<usize>, name: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| {
            ck.add(
                Some(span),
                key,
                format!("`{name}` is not a valid header name: letters, digits and `-`, e.g. \"X-API-Key\""),
            )
        })
        .ok()
}

impl Request {
    /// The environment variables this request needs that are not set (or
    /// empty), with the header each one is for.
    pub fn missing_env(&self) -> Vec<(&HeaderName, &str)> {
        self.headers_env
            .iter()
            .filter(|(_, var)| std::env::var_os(var).is_none_or(|v| v.is_empty()))
            .map(|(name, var)| (name, var.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;
    use crate::config::tests::{GOOD, problems};

    #[test]
    fn headers_and_secret_headers_are_read() {
        let text = format!(
            "{GOOD}[source.request]\nheaders = {{ Accept = \"application/json\" }}\nheaders_env = {{ \"X-API-KEY\" = \"LW_TEST_KEY\" }}\n"
        );
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), &text).unwrap();
        let r = &c.sources[0].request;
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.headers[0].0.as_str(), "accept");
        assert_eq!(r.headers[0].1.to_str().unwrap(), "application/json");
        assert_eq!(r.headers_env[0].0.as_str(), "x-api-key");
        assert_eq!(r.headers_env[0].1, "LW_TEST_KEY");
    }

    #[test]
    fn bad_header_names_values_and_variables_name_their_key() {
        let text = format!(
            "{GOOD}[source.request]\nheaders = {{ \"Bad Name\" = \"x\", Accept = \"a\\nb\" }}\nheaders_env = {{ \"X-Key\" = \"\", Accept = \"K\" }}\n"
        );
        let p = problems(&text);
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "source \"clop\": request.headers.accept",
                "source \"clop\": request.headers",
                "source \"clop\": request.headers_env.x-key",
            ],
            "{p:?}"
        );
        assert!(p[1].message.contains("`Bad Name` is not a valid header name"), "{p:?}");
        let lines: Vec<_> = p.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(26), Some(26), Some(27)]);
    }
}
