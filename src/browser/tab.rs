//! One tab: navigate, wait, run JavaScript, read the DOM, screenshot — and,
//! when given [`Rules`], every request the page makes paused until the rules
//! allow it (the DevTools `Fetch` domain).
//!
//! A task per tab answers the browser's events as they come: paused
//! requests, JavaScript dialogs (dismissed: an `alert` would stall the page
//! forever), page lifecycle (for "network idle") and bytes received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use url::Url;

use super::cdp::{Connection, Event};
use super::{BrowserError, str_field};

/// What [`Rules`] decide about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused before anything is sent; the reason is kept for the report.
    Block(String),
}

type Decide = dyn Fn(&Url, &str) -> Verdict + Send + Sync;

/// What a page may load.
pub struct Rules {
    /// Judges each request (its URL and DevTools resource type: `Document`,
    /// `Script`, `XHR`, `Fetch`, `Image`, …) before it is sent, redirects
    /// included.
    pub request: Box<Decide>,
    /// Headers added to every document the page receives (a
    /// Content-Security-Policy, to have the browser itself refuse what
    /// interception cannot see, such as WebSockets and workers).
    pub document_headers: Vec<(String, String)>,
    /// Script run in every document before the page's own.
    pub init_script: Option<String>,
}

/// What the event task has seen.
#[derive(Default)]
struct Seen {
    blocked: Mutex<Vec<String>>,
    bytes: AtomicU64,
    /// The HTTP status of the main frame's latest document.
    status: Mutex<Option<u16>>,
    /// Network ids of the requests let through.
    allowed: Mutex<std::collections::HashSet<String>>,
}

impl Seen {
    fn allowed(&self, network_id: Option<&str>) -> bool {
        network_id.is_some_and(|id| self.allowed.lock().expect("seen poisoned").contains(id))
    }
}

pub struct Tab {
    conn: Arc<Connection>,
    session: String,
    target: String,
    context: String,
    seen: Arc<Seen>,
    rules: Arc<Mutex<Option<Arc<Rules>>>>,
    /// (loader id, lifecycle event name) of the main frame, latest first.
    lifecycle: watch::Receiver<Vec<(String, String)>>,
    events: tokio::task::JoinHandle<()>,
}

impl Tab {
    pub(super) async fn attach(
        conn: Arc<Connection>,
        session: String,
        target: String,
        context: String,
    ) -> Result<Tab, BrowserError> {
        let rx = conn.subscribe(Some(&session));
        let (lifecycle_tx, lifecycle) = watch::channel(Vec::new());
        let seen: Arc<Seen> = Arc::default();
        let rules: Arc<Mutex<Option<Arc<Rules>>>> = Arc::default();
        let events = tokio::spawn(answer_events(
            rx,
            conn.clone(),
            session.clone(),
            target.clone(),
            lifecycle_tx,
            seen.clone(),
            rules.clone(),
        ));
        let tab = Tab {
            conn,
            session,
            target,
            context,
            seen,
            rules,
            lifecycle,
            events,
        };
        tab.call("Page.enable", json!({})).await?;
        tab.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true }))
            .await?;
        tab.call("Page.setInterceptFileChooserDialog", json!({ "enabled": true }))
            .await?;
        tab.call("Network.enable", json!({})).await?;
        Ok(tab)
    }

    /// Raw protocol access to this tab's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.conn.call(Some(&self.session), method, params).await
    }

    /// From now on every request of the page waits for `rules`.
    pub async fn intercept(&self, rules: Rules) -> Result<(), BrowserError> {
        if let Some(script) = &rules.init_script {
            self.call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": script }))
                .await?;
        }
        *self.rules.lock().expect("rules poisoned") = Some(Arc::new(rules));
        self.call(
            "Fetch.enable",
            json!({ "patterns": [
                { "urlPattern": "*", "requestStage": "Request" },
                { "urlPattern": "*", "resourceType": "Document", "requestStage": "Response" },
            ] }),
        )
        .await?;
        Ok(())
    }

    /// Starts loading `url`; returns the navigation's loader id once the
    /// server's answer is committed. A refused or failed load is an error
    /// with Chromium's reason (`net::ERR_BLOCKED_BY_CLIENT`, …).
    pub async fn navigate(&self, url: &Url) -> Result<String, BrowserError> {
        let result = self.call("Page.navigate", json!({ "url": url.as_str() })).await?;
        if let Some(error) = result.get("errorText").and_then(Value::as_str) {
            return Err(BrowserError::Protocol(format!("{url}: {error}")));
        }
        Ok(result
            .get("loaderId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned())
    }

    /// Waits until the main frame's `loader` reports the lifecycle event
    /// `name` (`load`, `networkIdle`: no request for 500 ms).
    pub async fn wait_lifecycle(&self, loader: &str, name: &str) -> Result<(), BrowserError> {
        let mut rx = self.lifecycle.clone();
        rx.wait_for(|events| events.iter().any(|(l, n)| l == loader && n == name))
            .await
            .map(|_| ())
            .map_err(|_| BrowserError::Gone("the tab closed".into()))
    }

    /// Waits until `selector` matches in the page, polling every 100 ms.
    pub async fn wait_for(&self, selector: &str) -> Result<(), BrowserError> {
        let probe = format!(
            "document.querySelector({}) !== null",
            serde_json::to_string(selector).expect("a string serializes")
        );
        loop {
            if self.evaluate(&probe).await? == Value::Bool(true) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `expression` in the page (awaiting it when it is a promise) and
    /// returns its value as JSON.
    pub async fn evaluate(&self, expression: &str) -> Result<Value, BrowserError> {
        let mut result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details
                .pointer("/exception/description")
                .or_else(|| details.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("exception");
            return Err(BrowserError::Script(text.to_owned()));
        }
        Ok(result
            .pointer_mut("/result/value")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    /// The page's DOM as HTML, as scripts left it, if it is at most `limit`
    /// characters long; `Err(Ok(length))` when it is longer (nothing larger
    /// crosses the pipe).
    pub async fn html(&self, limit: u64) -> Result<Result<String, u64>, BrowserError> {
        let value = self
            .evaluate(&format!(
                "(() => {{ const e = document.documentElement; const h = e ? e.outerHTML : ''; \
                 return h.length > {limit} ? h.length : '<!DOCTYPE html>' + h; }})()"
            ))
            .await?;
        Ok(match value {
            Value::String(html) => Ok(html),
            other => Err(other.as_u64().unwrap_or(u64::MAX)),
        })
    }

    /// A PNG of the visible part of the page.
    pub async fn screenshot(&self) -> Result<Vec<u8>, BrowserError> {
        let result = self.call("Page.captureScreenshot", json!({ "format": "png" })).await?;
        let data = str_field(&result, "data")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Protocol(format!("screenshot: {e}")))
    }

    /// Requests refused by the rules so far, as "URL (reason)".
    pub fn blocked(&self) -> Vec<String> {
        self.seen.blocked.lock().expect("seen poisoned").clone()
    }

    /// The HTTP status the main document was served with, once it was.
    pub fn status(&self) -> Option<u16> {
        *self.seen.status.lock().expect("seen poisoned")
    }

    /// Bytes the page received so far, all requests together (decoded).
    pub fn bytes_received(&self) -> u64 {
        self.seen.bytes.load(Ordering::Relaxed)
    }

    /// The DevTools target id.
    pub fn target_id(&self) -> &str {
        &self.target
    }

    /// Closes the tab and its browser context; a page stuck in a script
    /// loop goes too (its renderer is ended).
    pub async fn close(self) {
        let _ = self
            .conn
            .call(
                None,
                "Target.disposeBrowserContext",
                json!({ "browserContextId": self.context }),
            )
            .await;
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        self.events.abort();
        self.conn.unsubscribe(&self.session);
    }
}

async fn answer_events(
    mut rx: mpsc::UnboundedReceiver<Event>,
    conn: Arc<Connection>,
    session: String,
    main_frame: String,
    lifecycle: watch::Sender<Vec<(String, String)>>,
    seen: Arc<Seen>,
    rules: Arc<Mutex<Option<Arc<Rules>>>>,
) {
    while let Some(event) = rx.recv().await {
        let p = &event.params;
        match event.method.as_str() {
            "Fetch.requestPaused" => {
                let rules = rules.lock().expect("rules poisoned").clone();
                let (method, params) = answer_paused(p, rules.as_deref(), &seen);
                let (conn, session) = (conn.clone(), session.clone());
                tokio::spawn(async move {
                    let answered = match method {
                        "Fetch.fulfillRequest" => fulfill(&conn, &session, params).await,
                        _ => conn.call(Some(&session), method, params).await,
                    };
                    if let Err(e) = answered {
                        tracing::debug!("a paused request could not be answered: {e}");
                    }
                });
            }
            "Page.lifecycleEvent" if p["frameId"].as_str() == Some(main_frame.as_str()) => {
                let loader = p["loaderId"].as_str().unwrap_or_default().to_owned();
                let name = p["name"].as_str().unwrap_or_default().to_owned();
                lifecycle.send_modify(|events| events.push((loader, name)));
            }
            "Network.responseReceived"
                if p["type"].as_str() == Some("Document") && p["frameId"].as_str() == Some(main_frame.as_str()) =>
            {
                let status = p.pointer("/response/status").and_then(Value::as_u64);
                *seen.status.lock().expect("seen poisoned") = status.and_then(|s| u16::try_from(s).ok());
            }
            // Only what the site sent counts, not Chromium's own error pages
            // (250 kB each) shown for refused frames.
            "Network.dataReceived"
                if rules.lock().expect("rules poisoned").is_none() || seen.allowed(p["requestId"].as_str()) =>
            {
                seen.bytes
                    .fetch_add(p["dataLength"].as_u64().unwrap_or(0), Ordering::Relaxed);
            }
            "Page.javascriptDialogOpening" => {
                let (conn, session) = (conn.clone(), session.clone());
                tokio::spawn(async move {
                    let _ = conn
                        .call(
                            Some(&session),
                            "Page.handleJavaScriptDialog",
                            json!({ "accept": false }),
                        )
                        .await;
                });
            }
            _ => {}
        }
    }
}

/// Answers a paused response with its own body and the changed headers.
async fn fulfill(conn: &Connection, session: &str, mut params: Value) -> Result<Value, BrowserError> {
    let id = params["requestId"].clone();
    let body = match conn
        .call(Some(session), "Fetch.getResponseBody", json!({ "requestId": id }))
        .await
    {
        Ok(body) => body,
        Err(e) => {
            let failed = json!({ "requestId": id, "errorReason": "Failed" });
            conn.call(Some(session), "Fetch.failRequest", failed).await?;
            return Err(e);
        }
    };
    let text = body["body"].as_str().unwrap_or_default();
    params["body"] = match body["base64Encoded"].as_bool() {
        Some(true) => json!(text),
        _ => json!(base64::engine::general_purpose::STANDARD.encode(text)),
    };
    conn.call(Some(session), "Fetch.fulfillRequest", params).await
}

/// The command that answers one paused request.
fn answer_paused(p: &Value, rules: Option<&Rules>, seen: &Seen) -> (&'static str, Value) {
    let id = p["requestId"].clone();
    let Some(rules) = rules else {
        return ("Fetch.continueRequest", json!({ "requestId": id }));
    };
    let at_response = p.get("responseStatusCode").is_some() || p.get("responseErrorReason").is_some();
    if at_response {
        let redirect = p["responseStatusCode"]
            .as_u64()
            .is_some_and(|s| (300..400).contains(&s));
        // A redirect has no body to keep; where it leads is paused again.
        if rules.document_headers.is_empty() || redirect || p.get("responseErrorReason").is_some() {
            return ("Fetch.continueResponse", json!({ "requestId": id }));
        }
        // The body is read back decoded: its encoding and length go.
        let mut headers: Vec<Value> = p["responseHeaders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| {
                let name = h["name"].as_str().unwrap_or_default();
                !name.eq_ignore_ascii_case("content-encoding") && !name.eq_ignore_ascii_case("content-length")
            })
            .cloned()
            .collect();
        for (name, value) in &rules.document_headers {
            headers.push(json!({ "name": name, "value": value }));
        }
        // Headers changed with `continueResponse` do not reach the page's
        // security policy; a fulfilled response does. Its body is added by
        // `fulfill`.
        return (
            "Fetch.fulfillRequest",
            json!({ "requestId": id, "responseCode": p["responseStatusCode"], "responseHeaders": headers }),
        );
    }
    let raw = p.pointer("/request/url").and_then(Value::as_str).unwrap_or_default();
    let kind = p["resourceType"].as_str().unwrap_or("Other");
    let verdict = match Url::parse(raw) {
        Ok(url) => (rules.request)(&url, kind),
        Err(_) => Verdict::Block("not a URL".into()),
    };
    match verdict {
        Verdict::Allow => {
            if let Some(network_id) = p["networkId"].as_str() {
                seen.allowed
                    .lock()
                    .expect("seen poisoned")
                    .insert(network_id.to_owned());
            }
            ("Fetch.continueRequest", json!({ "requestId": id }))
        }
        Verdict::Block(reason) => {
            let shown: String = raw.chars().take(200).collect();
            seen.blocked
                .lock()
                .expect("seen poisoned")
                .push(format!("{shown} ({reason})"));
            // A refused frame is aborted: "blocked" would load Chromium's
            // error page (250 kB) in its place, a thousand times over on a
            // page that opens a thousand frames.
            let reason = if kind == "Document" {
                "Aborted"
            } else {
                "BlockedByClient"
            };
            ("Fetch.failRequest", json!({ "requestId": id, "errorReason": reason }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            request: Box::new(|url: &Url, kind: &str| match (url.host_str(), kind) {
                (_, "Image") => Verdict::Block("images are not loaded".into()),
                (Some("site.test"), _) => Verdict::Allow,
                _ => Verdict::Block("another host".into()),
            }),
            document_headers: vec![("Content-Security-Policy".into(), "connect-src 'self'".into())],
            init_script: None,
        }
    }

    #[test]
    fn paused_requests_are_continued_or_failed_by_the_rules() {
        let seen = Seen::default();
        let paused =
            |url: &str, kind: &str| json!({ "requestId": "r1", "request": { "url": url }, "resourceType": kind });
        let (method, _) = answer_paused(&paused("http://site.test/api/list", "Fetch"), Some(&rules()), &seen);
        assert_eq!(method, "Fetch.continueRequest");
        let (method, params) = answer_paused(&paused("http://evil.test/x", "Fetch"), Some(&rules()), &seen);
        assert_eq!(method, "Fetch.failRequest");
        assert_eq!(params["errorReason"], "BlockedByClient");
        let (method, _) = answer_paused(&paused("http://site.test/a.png", "Image"), Some(&rules()), &seen);
        assert_eq!(method, "Fetch.failRequest");
        assert_eq!(
            *seen.blocked.lock().unwrap(),
            [
                "http://evil.test/x (another host)",
                "http://site.test/a.png (images are not loaded)"
            ]
        );
        let (method, _) = answer_paused(&paused("http://evil.test/x", "Fetch"), None, &seen);
        assert_eq!(method, "Fetch.continueRequest", "no rules: nothing is held");
    }

    #[test]
    fn documents_get_the_added_headers_at_the_response_stage() {
        let seen = Seen::default();
        let response = json!({
            "requestId": "r2",
            "request": { "url": "http://site.test/" },
            "resourceType": "Document",
            "responseStatusCode": 200,
            "responseHeaders": [
                { "name": "Content-Type", "value": "text/html" },
                { "name": "Content-Encoding", "value": "gzip" },
            ],
        });
        let (method, params) = answer_paused(&response, Some(&rules()), &seen);
        assert_eq!(method, "Fetch.fulfillRequest");
        assert_eq!(params["responseCode"], 200);
        assert_eq!(
            params["responseHeaders"],
            json!([
                { "name": "Content-Type", "value": "text/html" },
                { "name": "Content-Security-Policy", "value": "connect-src 'self'" },
            ])
        );
        assert!(seen.blocked.lock().unwrap().is_empty());
    }
}
