//! `[source.request]`: how to ask for a source's page when a plain GET is not
//! enough — a method, extra headers, header values that are secrets kept in
//! the environment rather than in the file, a form or JSON body, and a
//! prelude page whose cookies and token the request needs.
//!
//! Everything is checked here, once; secret values are read from the
//! environment only when a request is built (`fetch`), so a config can be
//! checked on a machine that does not hold the secrets.

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::extraction::{Field, RawField, field};
use super::problems::Checker;

/// Where the prelude's token goes in headers, form fields and the JSON body.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// How a source's page is asked for. The default is a plain GET.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// POST when a form or JSON body is given and no method is.
    pub post: bool,
    /// Sent with every request to the source's host; `{token}` in a value
    /// is the prelude's token.
    pub headers: Vec<(HeaderName, String)>,
    /// Header name and the environment variable holding its value: a secret
    /// (an API key), masked wherever leakwatch shows a request.
    pub headers_env: Vec<(HeaderName, String)>,
    pub body: Option<Body>,
    /// Fetched first, on the source's host: its cookies go with the request.
    pub prelude: Option<Url>,
    /// Read on the prelude page: a field spec, or `{ regex }` on its source.
    pub token: Option<Field>,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// Form fields, sent `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// A JSON document, as written.
    Json(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    method: Option<Spanned<String>>,
    headers: Option<Spanned<BTreeMap<String, String>>>,
    headers_env: Option<Spanned<BTreeMap<String, String>>>,
    form: Option<Spanned<BTreeMap<String, String>>>,
    json: Option<Spanned<String>>,
    prelude: Option<Spanned<String>>,
    token: Option<Spanned<RawField>>,
}

pub(super) fn build_request(
    ck: &mut Checker,
    source: &str,
    source_url: Option<&Url>,
    raw: Spanned<RawRequest>,
) -> Option<Request> {
    let before = ck.problems.len();
    let table = raw.span();
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
                Ok(_) => request.headers.push((name, value)),
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
    request.body = match (raw.form, raw.json) {
        (Some(_), Some(json)) => {
            ck.add(
                Some(json.span()),
                key("json"),
                "a request has a form or a JSON body, not both: remove one",
            );
            None
        }
        (Some(form), None) => Some(Body::Form(form.into_inner().into_iter().collect())),
        (None, Some(json)) => {
            let probe = json.get_ref().replace(TOKEN_PLACEHOLDER, "token");
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&probe) {
                ck.add(Some(json.span()), key("json"), format!("is not JSON: {e}"));
            }
            Some(Body::Json(json.into_inner()))
        }
        (None, None) => None,
    };
    request.post = match raw.method.as_ref().map(|m| m.get_ref().to_ascii_uppercase()) {
        None => request.body.is_some(),
        Some(m) if m == "POST" => true,
        Some(m) if m == "GET" && request.body.is_none() => false,
        Some(m) => {
            let why = if m == "GET" {
                "a GET sends no body: use method = \"POST\" with `form` or `json`".to_owned()
            } else {
                format!("`{m}`: the method is \"GET\" or \"POST\"")
            };
            ck.add(raw.method.as_ref().map(|m| m.span()), key("method"), why);
            false
        }
    };
    if let Some(prelude) = &raw.prelude {
        match Url::parse(prelude.get_ref()) {
            Ok(u) if same_host(Some(&u), source_url) => request.prelude = Some(u),
            Ok(u) => ck.add(
                Some(prelude.span()),
                key("prelude"),
                format!(
                    "`{u}` is not on the source's host: a prelude's cookies and token belong to the site they are for"
                ),
            ),
            Err(e) => ck.add(
                Some(prelude.span()),
                key("prelude"),
                format!("`{}` is not a URL: {e}", prelude.get_ref()),
            ),
        }
    }
    request.token = raw.token.and_then(|t| field(ck, source, "request.token", t));
    let uses_token = request.headers.iter().any(|(_, v)| v.contains(TOKEN_PLACEHOLDER))
        || match &request.body {
            Some(Body::Form(fields)) => fields.iter().any(|(_, v)| v.contains(TOKEN_PLACEHOLDER)),
            Some(Body::Json(json)) => json.contains(TOKEN_PLACEHOLDER),
            None => false,
        };
    if request.token.is_some() && raw.prelude.is_none() {
        ck.add(
            Some(table.clone()),
            key("token"),
            "is read on the prelude page: give `prelude = \"URL\"` too",
        );
    } else if uses_token && request.token.is_none() {
        ck.add(
            Some(table),
            key("token"),
            "`{token}` is used but no token is read: give `token = { selector, attr }` or `{ regex }` and a `prelude`",
        );
    }
    (ck.problems.len() == before).then_some(request)
}

/// Same host and port (the "same host" of rate limits and redirects).
fn same_host(a: Option<&Url>, b: Option<&Url>) -> bool {
    let key = |u: &Url| (u.host_str().map(str::to_ascii_lowercase), u.port_or_known_default());
    match (a, b) {
        (Some(a), Some(b)) => key(a) == key(b),
        _ => true,
    }
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
        assert_eq!(r.headers[0].1, "application/json");
        assert_eq!(r.headers_env[0].0.as_str(), "x-api-key");
        assert_eq!(r.headers_env[0].1, "LW_TEST_KEY");
    }

    #[test]
    fn a_prelude_token_and_a_form_make_a_post() {
        let text = format!(
            "{GOOD}[source.request]\nprelude = \"http://example.onion/login\"\ntoken = {{ selector = \"input[name=csrf]\", attr = \"value\" }}\nform = {{ page = \"1\", csrf = \"{{token}}\" }}\n"
        );
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), &text).unwrap();
        let r = &c.sources[0].request;
        assert!(r.post);
        assert!(matches!(&r.body, Some(super::Body::Form(f)) if f.len() == 2));
        assert_eq!(r.token.as_ref().unwrap().attr.as_deref(), Some("value"));
    }

    #[test]
    fn a_bad_recipe_names_each_key() {
        let cases = [
            (
                "prelude = \"http://elsewhere.example/\"\ntoken = { regex = \"t=(\\\\w+)\" }",
                "request.prelude",
            ),
            ("token = { regex = \"t=(\\\\w+)\" }", "request.token"),
            ("headers = { X-T = \"{token}\" }", "request.token"),
            ("method = \"GET\"\njson = '{\"page\": 1}'", "request.method"),
            ("method = \"PUT\"", "request.method"),
            ("json = '{\"page\": '", "request.json"),
            ("form = { a = \"1\" }\njson = '{}'", "request.json"),
        ];
        for (table, key) in cases {
            let p = problems(&format!("{GOOD}[source.request]\n{table}\n"));
            let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
            assert_eq!(keys, [format!("source \"clop\": {key}")], "{table}: {p:?}");
        }
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
