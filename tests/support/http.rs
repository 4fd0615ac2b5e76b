//! A real HTTP/1.1 server on 127.0.0.1 for the tests: it serves `fixtures/`
//! and any route a test installs, and can misbehave on purpose (status
//! codes, redirects, slow or endless bodies, wrong content types). It records
//! every request so tests can prove what was — and was not — fetched.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    /// GET, POST, …
    pub method: String,
    /// The request body (read when `Content-Length` says there is one).
    pub body: Vec<u8>,
    /// When the request arrived.
    pub at: Instant,
}

/// What a route answers.
pub enum Reply {
    /// Status, headers, body; `Content-Length` and `Connection: close` are added.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Status line and headers, then the body one chunk at a time with a pause between.
    Trickle {
        headers: Vec<(String, String)>,
        chunk: Vec<u8>,
        pause: Duration,
        count: usize,
    },
}

impl Reply {
    pub fn html(body: &str) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: vec![],
            body: Vec::new(),
        }
    }

    pub fn redirect(to: &str) -> Reply {
        Reply::Full {
            status: 302,
            headers: vec![("Location".into(), to.into())],
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Full { headers, .. } | Reply::Trickle { headers, .. } => headers.push((name.into(), value.into())),
        }
        self
    }
}

type Route = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

pub struct HttpServer {
    pub port: u16,
    pub host: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    /// (path, whether the whole reply was written) for each reply sent.
    replies: Arc<Mutex<Vec<(String, bool)>>>,
}

impl HttpServer {
    /// A server on 127.0.0.1, an ephemeral port.
    pub fn start() -> HttpServer {
        Self::start_on("127.0.0.1")
    }

    /// A server on another loopback address (127.0.0.2 …).
    pub fn start_on(host: &str) -> HttpServer {
        let listener = TcpListener::bind((host, 0)).expect("bind http");
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let replies: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let (r, q, d) = (routes.clone(), requests.clone(), replies.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, q, d) = (r.clone(), q.clone(), d.clone());
                std::thread::spawn(move || handle(stream, &r, &q, &d));
            }
        });
        HttpServer {
            port,
            host: host.to_owned(),
            routes,
            requests,
            replies,
        }
    }

    /// Answers `path` (with its query string, if any) with `f`.
    pub fn route(&self, path: &str, f: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        self.routes.lock().unwrap().insert(path.to_owned(), Arc::new(f));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.host, self.port)
    }

    /// Requests for `path` so far.
    pub fn hits(&self, path: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// The path of every request so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests.lock().unwrap().iter().map(|r| r.path.clone()).collect()
    }

    pub fn total_hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// For each reply to `path` whose writing has ended, whether all of it
    /// was written: `false` means the client hung up before reading it all.
    /// Waits up to 10 s for `count` replies to end.
    pub fn replies_written(&self, path: &str, count: usize) -> Vec<bool> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done: Vec<bool> = self
                .replies
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, whole)| *whole)
                .collect();
            if done.len() >= count || Instant::now() > deadline {
                return done;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn handle(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    requests: &Mutex<Vec<Request>>,
    replies: &Mutex<Vec<(String, bool)>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    // A client killed between connecting and asking sends nothing: no request.
    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
        return;
    }
    let method = line.split_whitespace().next().unwrap_or("GET").to_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = vec![0; headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0)];
    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
        body.clear();
    }
    let request = Request {
        path: path.clone(),
        headers,
        method,
        body,
        at: Instant::now(),
    };
    requests.lock().unwrap().push(request.clone());
    let route = routes.lock().unwrap().get(&path).cloned();
    let reply = match route {
        Some(f) => f(&request),
        None => fixture(&path),
    };
    let mut stream = stream;
    match reply {
        Reply::Full { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
            let whole = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body))
                .is_ok();
            replies.lock().unwrap().push((path, whole));
        }
        Reply::Trickle {
            headers,
            chunk,
            pause,
            count,
        } => {
            let mut head = "HTTP/1.1 200 OK\r\n".to_owned();
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("Connection: close\r\n\r\n");
            let mut whole = stream.write_all(head.as_bytes()).is_ok();
            for _ in 0..count {
                if !whole || stream.write_all(&chunk).and_then(|_| stream.flush()).is_err() {
                    whole = false;
                    break;
                }
                std::thread::sleep(pause);
            }
            replies.lock().unwrap().push((path, whole));
        }
    }
    let _ = stream.flush();
}

/// `fixtures/<path>` with a content type from its extension, or 404.
fn fixture(path: &str) -> Reply {
    let clean = path.split('?').next().unwrap_or("").trim_start_matches('/');
    if clean.contains("..") {
        return Reply::status(404);
    }
    let file = super::fixtures().join(clean);
    match std::fs::read(&file) {
        Ok(body) => {
            let ct = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("xml") => "application/rss+xml",
                Some("json") => "application/json",
                _ => "text/plain",
            };
            Reply::Full {
                status: 200,
                headers: vec![("Content-Type".into(), ct.into())],
                body,
            }
        }
        Err(_) => Reply::status(404),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
