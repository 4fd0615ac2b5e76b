//! A minimal DevTools-protocol driver for the workspace UI test: headless
//! Debian `chromium` with a throw-away profile, one tab, commands answered
//! in order over the browser's WebSocket (loopback only). Events are read
//! and dropped: the test waits by polling the page instead.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Debian's Chromium, as CI installs it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium and one attached tab. Dropping it kills the browser.
pub struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    socket: Socket,
    session: String,
    next_id: u64,
}

impl Chromium {
    pub fn launch() -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--disable-sync",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1366,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        }) {
            cmd.arg("--no-sandbox"); // Chromium's sandbox refuses to run as root
        }
        let mut child = cmd.spawn().expect("start /usr/bin/chromium (apt-get install chromium)");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ws_url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("DevTools listening on ").map(str::to_owned))
            .expect("Chromium announces its DevTools address");
        // Keep draining stderr so Chromium never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (socket, _) = rt
            .block_on(tokio_tungstenite::connect_async(ws_url.as_str()))
            .expect("connect to DevTools");
        let mut browser = Chromium {
            child,
            _profile: profile,
            rt,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// Sends one command (to the tab once attached) and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let socket = &mut self.socket;
        self.rt.block_on(async {
            socket
                .send(Message::text(msg.to_string()))
                .await
                .expect("send to Chromium");
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
                    .await
                    .unwrap_or_else(|_| panic!("{method}: no answer in 30 s"))
                    .expect("Chromium closed the connection")
                    .expect("read from Chromium");
                let Message::Text(text) = frame else { continue };
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                    return v["result"].clone();
                }
            }
        })
    }

    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_until(&format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        ));
    }

    /// Runs `expression` in the page; its value as JSON.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Polls `condition` (JavaScript) every 100 ms until it is true; panics after 15 s.
    pub fn wait_until(&mut self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = self.call(
                "Runtime.evaluate",
                json!({"expression": format!("!!({condition})"), "returnByValue": true}),
            );
            if r["result"]["value"] == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {condition}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element `selector` finds, as a user would, and waits for
    /// the page it leads to.
    pub fn click_and_wait(&mut self, selector: &str) {
        let marker = self.evaluate("window.__leakwatch_page = Math.random()");
        self.evaluate(&format!("document.querySelector({}).click()", json!(selector)));
        self.wait_until(&format!(
            "window.__leakwatch_page !== {marker} && document.readyState === 'complete'"
        ));
    }

    /// Sets the file of the `<input type=file>` that `selector` finds.
    pub fn set_file(&mut self, selector: &str, path: &std::path::Path) {
        let doc = self.call("DOM.getDocument", json!({}));
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": selector}),
        );
        self.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node["nodeId"], "files": [path.to_str().unwrap()]}),
        );
    }

    /// A PNG of the whole page.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
