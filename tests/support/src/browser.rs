//! A real browser for the page tests: Debian's headless Chromium driven through its own
//! ChromeDriver (WebDriver), one driver and one fresh profile per test, both gone when the
//! [`Browser`] is dropped. The window is a 10-inch tablet's (1280 × 800) unless a test asks for
//! a phone's.
//!
//! The gateway's development CA is not in Chromium's trust store; the session accepts the test
//! certificate (`acceptInsecureCerts`), so pages are still served over real HTTPS.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// A browser window on the test's gateway.
pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    profile: PathBuf,
}

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port for chromedriver: {e}"))
}

impl Browser {
    /// Opens a tablet-sized window on `base` (the gateway's address).
    pub async fn open(base: &str) -> Self {
        Self::open_sized(base, (1280, 800)).await
    }

    /// Opens a window of `(width, height)` on `base`.
    pub async fn open_sized(base: &str, (width, height): (u32, u32)) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver could not start ({e}): run `make browser-deps` (Debian's chromium-driver)")
            });
        let profile = std::env::temp_dir().join(format!(
            "clubgate-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("acceptInsecureCerts".into(), true.into());
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("no WebDriver session with Chromium: {e}"),
            }
        };
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            driver,
            profile,
        }
    }

    /// Goes to `path` on the gateway.
    pub async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    }

    /// The element `css`, once the page shows it.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = match self.client.find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("the page never showed {css} ({e}); at {url:?} it shows:\n{text}")
            }
        }
    }

    /// Whether the page shows `css` now.
    pub async fn shows(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Types `text` into the field `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// Clicks `css` where the page stays (a checkbox, a choice).
    pub async fn tick(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Clicks `css` and waits for the page it leads to.
    pub async fn click(&self, css: &str) {
        let before = self.find("html").await;
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
        self.wait_for_navigation(before).await;
    }

    /// Waits until `before` (the old page's root) is gone and the new page has loaded.
    async fn wait_for_navigation(&self, before: Element) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stale = before.tag_name().await.is_err();
            let ready = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .is_ok_and(|state| state == "complete");
            if stale && ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not change within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// The value of the attribute `name` of `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .unwrap_or_default()
    }

    /// Saves the window as `docs/screenshots/{name}.png` (the README links them).
    pub async fn screenshot(&self, name: &str) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        std::fs::write(dir.join(format!("{name}.png")), png)
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    }

    /// The session cookie's value, as the browser holds it.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_owned())
    }

    /// Ends the WebDriver session (the driver and profile go when dropped).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
