//! The DevTools protocol connection: JSON messages over Chromium's debugging
//! pipe (`--remote-debugging-pipe`: the browser reads fd 3 and writes fd 4,
//! each message ending in a NUL byte).
//!
//! Commands get an id and wait for the reply with that id. Events are routed
//! by session (one per tab, flattened sessions) to whoever subscribed to that
//! session; events nobody listens to are dropped. When the browser goes away
//! the pipe closes and every waiting command fails at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use super::BrowserError;

/// An event from the browser: `method` (e.g. `Fetch.requestPaused`) and its `params`.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub params: Value,
}

type Reply = Result<Value, BrowserError>;

#[derive(Default)]
struct Routes {
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    /// Subscribers by session id ("" for the browser itself).
    sessions: HashMap<String, mpsc::UnboundedSender<Event>>,
    /// Set once the pipe closed: later commands fail at once.
    closed: Option<String>,
}

/// One connection to one browser.
pub struct Connection {
    writer: tokio::sync::Mutex<pipe::Sender>,
    next_id: AtomicU64,
    routes: Arc<Mutex<Routes>>,
}

impl Connection {
    /// Starts reading `from` in a task; commands are written to `to`.
    pub fn new(to: pipe::Sender, from: pipe::Receiver) -> Connection {
        let routes: Arc<Mutex<Routes>> = Arc::default();
        tokio::spawn(read_loop(from, routes.clone()));
        Connection {
            writer: tokio::sync::Mutex::new(to),
            next_id: AtomicU64::new(1),
            routes,
        }
    }

    /// Sends `method` with `params` to `session` (`None`: the browser) and
    /// waits for its result.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Reply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut routes = self.routes.lock().expect("routes poisoned");
            if let Some(why) = &routes.closed {
                return Err(BrowserError::Gone(why.clone()));
            }
            routes.pending.insert(id, tx);
        }
        let mut bytes = serde_json::to_vec(&message).expect("a JSON value serializes");
        bytes.push(0);
        let written = self.writer.lock().await.write_all(&bytes).await;
        if let Err(e) = written {
            self.routes.lock().expect("routes poisoned").pending.remove(&id);
            return Err(BrowserError::Gone(format!("cannot write to the browser: {e}")));
        }
        match rx.await {
            Ok(reply) => reply.map_err(|e| match e {
                BrowserError::Protocol(detail) => BrowserError::Protocol(format!("{method}: {detail}")),
                other => other,
            }),
            Err(_) => Err(BrowserError::Gone("the browser closed the connection".into())),
        }
    }

    /// Events of `session` (`None`: the browser's own), from now on.
    pub fn subscribe(&self, session: Option<&str>) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes
            .lock()
            .expect("routes poisoned")
            .sessions
            .insert(session.unwrap_or("").to_owned(), tx);
        rx
    }

    /// Stops routing events of `session`.
    pub fn unsubscribe(&self, session: &str) {
        self.routes.lock().expect("routes poisoned").sessions.remove(session);
    }
}

async fn read_loop(mut from: pipe::Receiver, routes: Arc<Mutex<Routes>>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let why = loop {
        match from.read(&mut chunk).await {
            Ok(0) => break "the browser closed the connection".to_owned(),
            Ok(n) => {
                let start = buf.len();
                buf.extend_from_slice(&chunk[..n]);
                let mut scanned = start;
                while let Some(end) = buf[scanned..].iter().position(|&b| b == 0).map(|p| scanned + p) {
                    dispatch(&buf[..end], &routes);
                    buf.drain(..=end);
                    scanned = 0;
                }
            }
            Err(e) => break format!("cannot read from the browser: {e}"),
        }
    };
    let mut routes = routes.lock().expect("routes poisoned");
    for (_, tx) in routes.pending.drain() {
        let _ = tx.send(Err(BrowserError::Gone(why.clone())));
    }
    routes.sessions.clear();
    routes.closed = Some(why);
}

fn dispatch(message: &[u8], routes: &Mutex<Routes>) {
    let Ok(mut value) = serde_json::from_slice::<Value>(message) else {
        tracing::debug!("browser sent a message that is not JSON");
        return;
    };
    let mut routes = routes.lock().expect("routes poisoned");
    if let Some(id) = value.get("id").and_then(Value::as_u64) {
        let Some(tx) = routes.pending.remove(&id) else {
            return;
        };
        let reply = match value.get_mut("error") {
            Some(error) => Err(BrowserError::Protocol(
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
            )),
            None => Ok(value.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
        };
        let _ = tx.send(reply);
        return;
    }
    let Some(method) = value.get("method").and_then(Value::as_str).map(str::to_owned) else {
        return;
    };
    let session = value.get("sessionId").and_then(Value::as_str).unwrap_or("").to_owned();
    if let Some(tx) = routes.sessions.get(&session) {
        let params = value.get_mut("params").map(Value::take).unwrap_or(Value::Null);
        if tx.send(Event { method, params }).is_err() {
            routes.sessions.remove(&session);
        }
    }
}
