//! A real SMTP server on 127.0.0.1 (mailin-embedded, in-process) that
//! records every message it accepts, and can refuse on purpose.

use std::net::{IpAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig, response};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as the server stored it (dot-unstuffed).
    pub data: String,
}

impl Received {
    /// The value of a top-level header, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// Every header name of the top-level header block.
    pub fn header_names(&self) -> Vec<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        head.split("\r\n")
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// The decoded body of the part with this content type.
    pub fn part(&self, content_type: &str) -> Option<String> {
        let start = self.data.find(&format!("Content-Type: {content_type}"))?;
        let rest = &self.data[start..];
        let body_start = rest.find("\r\n\r\n")? + 4;
        let body = &rest[body_start..];
        let end = body.find("\r\n--").unwrap_or(body.len());
        Some(decode_quoted_printable(&body[..end]))
    }
}

/// Quoted-printable decoding (RFC 2045), enough for the tests to read parts.
pub fn decode_quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let Some(hex) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(hex);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the server answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// RCPT for these addresses gets 550.
    pub refuse_rcpt: Vec<String>,
    /// The first N messages get 451 at the end of DATA.
    pub temp_fail_first: usize,
    /// The first N messages wait `stall_for` at the end of DATA before the
    /// server accepts them (a relay hanging mid-transaction).
    pub stall_first: usize,
    pub stall_for: Duration,
    /// Offer STARTTLS with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require AUTH PLAIN (after STARTTLS) with this user and password.
    pub login: Option<(String, String)>,
}

/// A fault the server injects into every message until changed
/// ([`SmtpSink::set_fault`]): for soak tests that vary it from run to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// 451 at the end of DATA: try again later.
    TempFail,
    /// 554 at the end of DATA: refused for good.
    PermFail,
    /// Waits this long after DATA, then accepts.
    Stall(Duration),
}

#[derive(Clone)]
struct Recorder {
    behaviour: Behaviour,
    fault: Arc<Mutex<Fault>>,
    refused: Arc<Mutex<Vec<Received>>>,
    received: Arc<Mutex<Vec<Received>>>,
    temp_failed: Arc<Mutex<usize>>,
    stalls: Arc<AtomicUsize>,
    hellos: Arc<AtomicUsize>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        self.hellos.fetch_add(1, Ordering::SeqCst);
        response::OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        match &self.behaviour.login {
            Some((u, p)) if u == user && p == password => response::AUTH_OK,
            _ => response::INVALID_CREDENTIALS,
        }
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if self.behaviour.refuse_rcpt.iter().any(|r| r == to) {
            return response::NO_MAILBOX;
        }
        self.to.push(to.to_owned());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if self.stalls.load(Ordering::SeqCst) < self.behaviour.stall_first {
            self.stalls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.behaviour.stall_for);
        }
        let mut failed = self.temp_failed.lock().unwrap();
        if *failed < self.behaviour.temp_fail_first {
            *failed += 1;
            return closing(response::INTERNAL_ERROR);
        }
        drop(failed);
        let message = Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: String::from_utf8_lossy(&self.data).into_owned(),
        };
        let fault = *self.fault.lock().unwrap();
        match fault {
            Fault::TempFail | Fault::PermFail => {
                self.refused.lock().unwrap().push(message);
                return closing(if fault == Fault::TempFail {
                    response::INTERNAL_ERROR
                } else {
                    response::TRANSACTION_FAILED
                });
            }
            Fault::Stall(pause) => std::thread::sleep(pause),
            Fault::None => {}
        }
        self.received.lock().unwrap().push(message);
        response::OK
    }
}

/// The reply, then the connection closed. mailin stays in its DATA state
/// after an error reply to the end of DATA, so a client's QUIT would be read
/// as message text and never answered (lettre then waits out its timeout):
/// closing, as many real servers do after a failed transaction, avoids that.
fn closing(mut reply: Response) -> Response {
    reply.action = response::Action::Close;
    reply
}

/// The running server. It lives until the test process ends.
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stalls: Arc<AtomicUsize>,
    hellos: Arc<AtomicUsize>,
    fault: Arc<Mutex<Fault>>,
    refused: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    pub fn start(behaviour: Behaviour) -> SmtpSink {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind smtp"), behaviour)
    }

    /// Starts on a given port (to bring a "down" server up again).
    pub fn start_on_port(port: u16, behaviour: Behaviour) -> SmtpSink {
        Self::start_on(
            TcpListener::bind(("127.0.0.1", port)).expect("rebind smtp port"),
            behaviour,
        )
    }

    fn start_on(listener: TcpListener, behaviour: Behaviour) -> SmtpSink {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stalls = Arc::new(AtomicUsize::new(0));
        let hellos = Arc::new(AtomicUsize::new(0));
        let fault: Arc<Mutex<Fault>> = Arc::default();
        let refused: Arc<Mutex<Vec<Received>>> = Arc::default();
        let handler = Recorder {
            hellos: hellos.clone(),
            behaviour,
            fault: fault.clone(),
            refused: refused.clone(),
            received: received.clone(),
            temp_failed: Arc::new(Mutex::new(0)),
            stalls: stalls.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let tls = handler.behaviour.tls.clone();
        let login = handler.behaviour.login.is_some();
        let mut server = Server::new(handler);
        if let Some((cert, key)) = tls {
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                })
                .expect("smtp test certificate");
        }
        if login {
            server.with_auth(AuthMechanism::Plain);
        }
        server
            .with_name("smtp.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink {
            port,
            received,
            stalls,
            hellos,
            fault,
            refused,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many SMTP sessions said EHLO/HELO: about one per connection
    /// (two when STARTTLS makes the client say it again).
    pub fn hellos(&self) -> usize {
        self.hellos.load(Ordering::SeqCst)
    }

    /// How many messages have started stalling (see [`Behaviour::stall_first`]).
    pub fn stalls_begun(&self) -> usize {
        self.stalls.load(Ordering::SeqCst)
    }

    /// The fault injected into every message from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Messages the server answered with a [`Fault`] of 451 or 554.
    pub fn refused(&self) -> Vec<Received> {
        self.refused.lock().unwrap().clone()
    }
}

/// A loopback port with nothing listening: connections are refused.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The `[smtp]` and `[notify]` config for a sink on `port`.
pub fn smtp_config(port: u16) -> String {
    format!(
        "[smtp]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"leakwatch <alerts@example.org>\"\n\n[notify]\nrecipients = [\"secops@example.org\"]\n"
    )
}
