//! The workspace under test: `leakwatch serve` as a real process on a
//! loopback port, and a small HTTP client that keeps cookies like a browser
//! (no redirects followed, so each answer can be checked).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};

use super::{Workspace, assert_ok};

/// `leakwatch serve --listen 127.0.0.1:0`, stopped when dropped.
pub struct Serve {
    child: Child,
    pub base: String,
}

impl Serve {
    pub fn start(ws: &Workspace) -> Serve {
        let mut child = ws
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn leakwatch serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the address");
        let base = line
            .trim()
            .strip_prefix("leakwatch workspace on ")
            .unwrap_or_else(|| panic!("serve said {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Serve { child, base }
    }

    /// Stops the server (SIGTERM) and returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        super::signal(self.child.id(), "TERM");
        let mut err = String::new();
        if let Some(mut s) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut s, &mut err).ok();
        }
        self.child.wait().ok();
        err
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Workspace {
    /// Adds a workspace account with the given password.
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let mut child = self
            .command(&["user", "add", name, "--role", role, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn user add");
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        assert_ok(&child.wait_with_output().unwrap());
    }
}

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first hidden `csrf` field's value on the page.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        self.body[at..at + self.body[at..].find('"').unwrap()].to_owned()
    }
}

/// A client with a cookie jar.
pub struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client::build(base, reqwest::Client::builder())
    }

    /// A client that trusts only the CA in `ca_file` (for HTTPS).
    pub fn trusting(base: &str, ca_file: &std::path::Path) -> Client {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(ca_file).unwrap()).unwrap();
        Client::build(base, reqwest::Client::builder().tls_certs_only([ca]))
    }

    fn build(base: &str, builder: reqwest::ClientBuilder) -> Client {
        Client {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            // A new connection per request: a server that refused an upload
            // mid-body closes the connection, and a pooled client would
            // send the next request into it.
            http: builder
                .pool_max_idle_per_host(0)
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        self.try_send(req).expect("request")
    }

    /// Like `send`, but a connection the server closed (as it may while a
    /// body it refuses is still being sent) is an error, not a panic.
    fn try_send(&mut self, req: reqwest::RequestBuilder) -> Result<Page, reqwest::Error> {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie.join("; "))
        };
        let (status, headers, body) = self.rt.block_on(async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            Ok::<_, reqwest::Error>((status, headers, resp.text().await.unwrap_or_default()))
        })?;
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(Page { status, headers, body })
    }

    /// A bodiless request with any method (PUT, DELETE, …).
    pub fn request(&mut self, method: &str, path: &str) -> Page {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let req = self.http.request(method, format!("{}{path}", self.base));
        self.send(req)
    }

    pub fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req)
    }

    /// A form POST carrying the CSRF token in the `X-CSRF-Token` header.
    pub fn post_with_header(&mut self, path: &str, form: &[(&str, &str)], csrf: &str) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-csrf-token", csrf)
            .body(body);
        self.send(req)
    }

    /// A multipart form: text fields, then one file field `file`.
    pub fn post_file(&mut self, path: &str, fields: &[(&str, &str)], file: &[u8]) -> Page {
        self.try_post_file(path, fields, file).expect("request")
    }

    pub fn try_post_file(&mut self, path: &str, fields: &[(&str, &str)], file: &[u8]) -> Result<Page, reqwest::Error> {
        const B: &str = "leakwatchtestboundary7d1f";
        let mut body = Vec::new();
        for (k, v) in fields {
            write!(
                body,
                "--{B}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            )
            .unwrap();
        }
        write!(
            body,
            "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(file);
        write!(body, "\r\n--{B}--\r\n").unwrap();
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", format!("multipart/form-data; boundary={B}"))
            .body(body);
        self.try_send(req)
    }

    /// Signs in through the login form; the answer to the POST.
    pub fn login(&mut self, user: &str, password: &str) -> Page {
        let csrf = self.get("/login").csrf();
        self.post("/login", &[("csrf", &csrf), ("username", user), ("password", password)])
    }
}
