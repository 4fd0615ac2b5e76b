//! The workspace UI test's hands on a page: leakwatch's own DevTools client
//! ([`leakwatch::browser`], the one rendered sources use) behind a blocking
//! API, plus the few gestures a person makes — click and wait for the next
//! page, pick a file, wait until something shows.

use std::time::{Duration, Instant};

use base64::Engine;
use leakwatch::browser::{Browser, LaunchOptions, Tab, TabOptions};
use serde_json::{Value, json};

/// Debian's Chromium, as CI installs it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium and one tab. Dropping it kills the browser.
pub struct Chromium {
    // The client reads the browser's answers on a task of its own, which
    // must run while the test sleeps between polls: a runtime with a worker.
    rt: tokio::runtime::Runtime,
    _browser: Browser,
    tab: Tab,
}

impl Chromium {
    pub fn launch() -> Chromium {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let opts = LaunchOptions::headless(CHROMIUM.into()).arg("--window-size=1366,900");
        let (browser, tab) = rt.block_on(async {
            let browser = Browser::launch(&opts)
                .await
                .expect("start /usr/bin/chromium (apt-get install chromium)");
            let tab = browser.new_tab(&TabOptions::default()).await.expect("a tab");
            (browser, tab)
        });
        let mut chromium = Chromium {
            rt,
            _browser: browser,
            tab,
        };
        chromium.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        chromium
    }

    /// Sends one command to the tab and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.rt
            .block_on(self.tab.call(method, params))
            .unwrap_or_else(|e| panic!("{method}: {e}"))
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
        self.rt
            .block_on(self.tab.evaluate(expression))
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Polls `condition` (JavaScript) every 100 ms until it is true; panics after 15 s.
    pub fn wait_until(&mut self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.evaluate(&format!("!!({condition})")) != json!(true) {
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

    /// A PNG of the whole page, beyond the window too.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}
