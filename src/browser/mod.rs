//! A small headless-Chromium client: launch a browser with a throw-away
//! profile, open tabs, navigate, run JavaScript, read the DOM, take a
//! screenshot, close. Sources with `render = "chromium"` load their pages
//! through it (see `fetch::render`), and integration tests can drive pages
//! with it too.
//!
//! Why hand-written, over the debugging pipe: the DevTools protocol commands
//! leakwatch needs are a dozen (`Target.*`, `Page.navigate`, `Fetch.*`,
//! `Runtime.evaluate`, `Page.captureScreenshot`, `Browser.close`), and JSON
//! over a pipe needs only serde_json, already here (libc for the pipe's
//! descriptors, base64 for screenshots: both already in the tree).
//! chromiumoxide 0.9.1, the maintained Rust client, measured on this 2-core
//! machine with default features off: 25 crates new to our tree, its
//! generated `chromiumoxide_cdp` the largest unit after `syn` (99 s of wall
//! time, niced, under load), a 2.4 GB compiler peak, and a WebSocket
//! transport on a TCP port that any local process could drive while a run
//! lasts (BENCHMARKS.md has the figures). The pipe opens no port at all, and
//! Chromium quits by itself when it closes, so a browser cannot outlive a
//! leakwatch that was SIGKILLed.

mod cdp;
mod process;
mod tab;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

pub use cdp::Event;
pub use process::{find_chromium, processes_using, sweep_orphans};
pub use tab::{Rules, Tab, Verdict};

/// Longest wait for a freshly started Chromium to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing browser gets to quit before it is killed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, thiserror::Error)]
pub enum BrowserError {
    #[error("cannot start Chromium ({program}): {detail}")]
    Start { program: PathBuf, detail: String },
    #[error("Chromium went away: {0}")]
    Gone(String),
    #[error("Chromium refused: {0}")]
    Protocol(String),
    #[error("script error: {0}")]
    Script(String),
}

/// How to start the browser: the program and its switches. The profile
/// folder and the debugging pipe are added by [`Browser::launch`].
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl LaunchOptions {
    /// Headless, with everything a crawler does not need turned off:
    /// background and component updates, sync, extensions, DNS prefetch,
    /// images, pop-ups, WebRTC outside the proxy, the first-run pages — and
    /// the automatic upgrade of `http://` to `https://`: a page is loaded
    /// at the URL given, not another one.
    pub fn headless(program: PathBuf) -> LaunchOptions {
        let mut args: Vec<String> = [
            "--headless",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-breakpad",
            "--disable-client-side-phishing-detection",
            "--disable-crash-reporter",
            "--no-pings",
            "--metrics-recording-only",
            "--dns-prefetch-disable",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,NetworkPrediction,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
            "--blink-settings=imagesEnabled=false",
            "--block-new-web-contents",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--mute-audio",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--js-flags=--max-old-space-size=512",
        ]
        .map(str::to_owned)
        .into();
        // Chromium's sandbox cannot run as root; without this it refuses to start.
        if is_root() {
            args.push("--no-sandbox".into());
        }
        LaunchOptions { program, args }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> LaunchOptions {
        self.args.push(arg.into());
        self
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// A running browser. Dropping it kills it; [`Browser::close`] lets it quit.
pub struct Browser {
    conn: std::sync::Arc<cdp::Connection>,
    process: Mutex<Option<process::Process>>,
    pid: u32,
    profile: PathBuf,
}

/// Per-tab settings.
#[derive(Debug, Clone, Default)]
pub struct TabOptions {
    /// The proxy every request of the tab goes through, as Chromium writes
    /// it (`socks5://127.0.0.1:9050`: names are resolved by the proxy).
    pub proxy: Option<String>,
}

impl Browser {
    /// Starts Chromium and waits until it answers.
    pub async fn launch(opts: &LaunchOptions) -> Result<Browser, BrowserError> {
        let start_error = |detail: String| BrowserError::Start {
            program: opts.program.clone(),
            detail,
        };
        let (process, pipes) =
            process::Process::spawn(&opts.program, &opts.args).map_err(|e| start_error(e.to_string()))?;
        let to =
            tokio::net::unix::pipe::Sender::from_owned_fd(pipes.to.into()).map_err(|e| start_error(e.to_string()))?;
        let from = tokio::net::unix::pipe::Receiver::from_owned_fd(pipes.from.into())
            .map_err(|e| start_error(e.to_string()))?;
        let browser = Browser {
            conn: std::sync::Arc::new(cdp::Connection::new(to, from)),
            pid: process.pid(),
            profile: process.profile().to_owned(),
            process: Mutex::new(Some(process)),
        };
        let answer =
            tokio::time::timeout(START_TIMEOUT, browser.conn.call(None, "Browser.getVersion", json!({}))).await;
        match answer {
            Ok(Ok(_)) => Ok(browser),
            Ok(Err(e)) => Err(start_error(format!("{e}; its log says: {}", browser.log_tail()))),
            Err(_) => Err(start_error(format!(
                "no answer within {START_TIMEOUT:?}; its log says: {}",
                browser.log_tail()
            ))),
        }
    }

    fn log_tail(&self) -> String {
        self.process
            .lock()
            .expect("process poisoned")
            .as_ref()
            .map(process::Process::log_tail)
            .unwrap_or_default()
    }

    /// The main process's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The throw-away profile folder (removed on close).
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    /// Raw protocol access to the browser target.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.conn.call(None, method, params).await
    }

    /// A new tab in a browser context of its own (no cookies or cache shared
    /// with other tabs), on `about:blank`, downloads refused.
    pub async fn new_tab(&self, opts: &TabOptions) -> Result<Tab, BrowserError> {
        let mut params = json!({ "disposeOnDetach": true });
        if let Some(proxy) = &opts.proxy {
            // `<-loopback>` sends even loopback names through the proxy.
            params["proxyServer"] = json!(proxy);
            params["proxyBypassList"] = json!("<-loopback>");
        }
        let context = self.call("Target.createBrowserContext", params).await?;
        let context = str_field(&context, "browserContextId")?;
        self.call(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "deny", "browserContextId": context }),
        )
        .await?;
        let target = self
            .call(
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await?;
        let target = str_field(&target, "targetId")?;
        let session = self
            .call("Target.attachToTarget", json!({ "targetId": target, "flatten": true }))
            .await?;
        let session = str_field(&session, "sessionId")?;
        Tab::attach(self.conn.clone(), session, target, context).await
    }

    /// Asks Chromium to quit, then makes sure it and its children are gone
    /// and removes the profile. Later calls find nothing to do.
    pub async fn close(&self) {
        let _ = tokio::time::timeout(CLOSE_GRACE, self.call("Browser.close", json!({}))).await;
        let process = self.process.lock().expect("process poisoned").take();
        if let Some(process) = process {
            let _ = tokio::task::spawn_blocking(move || process.finish(CLOSE_GRACE)).await;
        }
    }
}

fn str_field(value: &Value, key: &str) -> Result<String, BrowserError> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BrowserError::Protocol(format!("the answer has no `{key}`: {value}")))
}
