//! The explorer in a real browser: a devnet with simulated hotspots, headless Chromium driven
//! over the DevTools protocol, and checks that the map draws hexagons, the charts have data,
//! search finds a device, a device page shows its rewards and its refused reports with their
//! reasons, and the governance pages show proposals (tally, quorum, threshold, when the change
//! takes effect) with the emergency key marked, and the validator set (turns this epoch) with a
//! declared candidate. Screenshots of the run are written to `docs/explorer*.png`.
//!
//! It needs a `chromium` on the PATH (or `CHROMIUM=/path`), so it is `#[ignore]`d in a plain
//! `cargo test`; `scripts/test` installs Debian's `chromium` (`scripts/install-test-deps`) and
//! runs it with `--ignored`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{NodeProcess, Output, depin};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Longest the browser may take to start and print its DevTools address.
const BROWSER_START: Duration = Duration::from_secs(60);
/// Longest one DevTools call may take to answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a page may take to show what a check waits for, in milliseconds.
const PAGE_WAIT_MS: u64 = 30_000;
/// Longest the devnet may take to close the epochs the checks need.
const EPOCHS_TIMEOUT: Duration = Duration::from_secs(240);
/// Epochs closed before the browser opens: rewards, refused reports and a few chart points.
const EPOCHS_WANTED: u64 = 3;

/// Headless Chromium and a DevTools connection to its one page; killed when dropped.
struct Browser {
    child: Child,
    page: WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

fn chromium() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if found {
            return name.to_string();
        }
    }
    panic!(
        "no chromium on the PATH: run scripts/install-test-deps (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium"
    );
}

/// A plain HTTP GET on 127.0.0.1 (the DevTools list of targets): the body, read to its
/// `Content-Length` (DevTools keeps the connection open).
fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connecting to DevTools");
    s.set_read_timeout(Some(CALL_TIMEOUT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .expect("DevTools answers with a Content-Length");
            if body.len() >= length {
                return body.to_string();
            }
        }
        let n = s.read(&mut buf).expect("reading DevTools");
        assert!(n > 0, "DevTools closed the connection early: {text}");
        bytes.extend_from_slice(&buf[..n]);
    }
}

impl Browser {
    fn launch(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting chromium");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + BROWSER_START;
        let mut seen = String::new();
        let port: u16 = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                        break url
                            .split('/')
                            .next()
                            .and_then(|p| p.parse().ok())
                            .expect("a DevTools port");
                    }
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "chromium printed no DevTools address within {BROWSER_START:?}:\n{seen}"
                    );
                }
            }
        };
        // Keep draining chromium's stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in rx {});
        let targets: Value =
            serde_json::from_str(&http_get(port, "/json/list")).expect("DevTools target list");
        let ws_url = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(CALL_TIMEOUT)).unwrap();
        let (page, _) = tungstenite::client(ws_url.as_str(), stream).expect("DevTools handshake");
        let mut b = Browser {
            child,
            page,
            next_id: 0,
            _profile: profile,
        };
        b.call("Page.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    /// One DevTools call: its `result`, skipping the events sent meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.page
            .send(Message::text(msg))
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer");
            let m = self.page.read().unwrap_or_else(|e| panic!("{method}: {e}"));
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    /// Evaluates `expr` in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("page script failed: {e}\n{expr}");
        }
        r["result"]["value"].clone()
    }

    /// Polls `condition` (a JS expression) in the page until it is truthy; its value.
    fn wait_for(&mut self, what: &str, condition: &str) -> Value {
        let expr = format!(
            "new Promise((done) => {{ const end = Date.now() + {PAGE_WAIT_MS}; \
             const poll = () => {{ let v = null; try {{ v = ({condition}); }} catch (_) {{}} \
             if (v) done(v); else if (Date.now() > end) done(null); else setTimeout(poll, 100); }}; poll(); }})"
        );
        let v = self.eval(&expr);
        if v.is_null() || v == json!(false) {
            let body = self.eval("document.body.innerText.slice(0, 3000)");
            panic!("the page did not show {what} within {PAGE_WAIT_MS} ms; it shows:\n{body}");
        }
        v
    }

    fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
    }

    fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// A device that both earned in a closed epoch and had a report refused in it, with that epoch;
/// found from the blocks of the last closed epochs.
fn device_with_rewards_and_refusals(api: &common::Api, closed: u64, length: u64) -> (String, u64) {
    let mut fallback = None;
    for epoch in (closed.saturating_sub(EPOCHS_WANTED)..closed).rev() {
        for height in (epoch * length + 1..=(epoch + 1) * length).rev() {
            let b = api.get_ok(&format!("/v1/blocks/{height}"));
            for t in b["txs"].as_array().into_iter().flatten() {
                if t["receipt"]["success"] == json!(true) {
                    continue;
                }
                let device = t["tx"]["signer"].as_str().unwrap_or_default().to_string();
                let r = api.get(&format!("/v1/rewards/{epoch}/{device}")).unwrap();
                if r.status != 200 {
                    continue;
                }
                let v: Value = serde_json::from_str(&r.body).unwrap();
                if v["rejected_reports"]
                    .as_array()
                    .is_none_or(|a| a.is_empty())
                {
                    continue;
                }
                // Proven work as well as refusals: the explanation then has a score to show.
                let earned = v["reward"]["bootstrap"].as_str().is_some_and(|a| a != "0");
                if earned {
                    return (device, epoch);
                }
                fallback.get_or_insert((device, epoch));
            }
        }
    }
    fallback.expect("a device with a refused report in the last closed epochs")
}

#[test]
#[ignore = "needs chromium: scripts/test installs it and runs this with --ignored"]
fn the_explorer_draws_the_map_charts_search_and_device_pages_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let length = 20;
    depin(
        home,
        &[
            "init",
            "--block-interval-ms",
            "250",
            "--epoch-length-blocks",
            &length.to_string(),
            "--beacon-interval-blocks",
            "5",
            // Every module, so each panel has live data to show.
            "--storage",
            "--mapping",
            "--compute",
        ],
    )
    .ok("depin init");
    // alice is the genesis' emergency key, so the explorer has one to mark.
    let alice = depin(home, &["--json", "keys", "show", "alice"])
        .ok("alice's address")
        .json()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let genesis_path = home.join("genesis.toml");
    let mut genesis: toml::Table = std::fs::read_to_string(&genesis_path)
        .unwrap()
        .parse()
        .unwrap();
    genesis
        .get_mut("governance")
        .and_then(|g| g.as_table_mut())
        .expect("the devnet genesis has a [governance] section")
        .insert("emergency_key".into(), toml::Value::String(alice.clone()));
    std::fs::write(&genesis_path, toml::to_string(&genesis).unwrap()).unwrap();
    // The fewest agents that exercise each module: 6 storage providers take a file's 4 + 2
    // shards, 2 dashcams drive, 4 honest GPU providers and a cheater render a job.
    let node = NodeProcess::start_command(
        home,
        &[
            "devnet",
            "--api",
            "127.0.0.1:0",
            "--hotspots",
            "60",
            "--storage-providers",
            "6",
            "--dashcams",
            "2",
            "--compute-providers",
            "4",
        ],
        |_| {},
    );
    let api = node.api();
    // One proposal put to a vote, one enacted by the emergency key.
    depin(home, &["stake", "lock", "200", "--key", "alice"]).ok("stake lock");
    depin(home, &["stake", "candidate", "--key", "alice"]).ok("a validator candidacy");
    let spend = ["gov", "propose", "treasury-spend", "bob", "1"];
    // The devnet's own scripted proposal may land between these, so each id is the one
    // `gov propose` prints.
    let voted = proposal_id(
        &depin(
            home,
            &[
                &spend[..],
                &["--title", "one token to bob", "--key", "alice"],
            ]
            .concat(),
        )
        .ok("a proposal"),
    );
    depin(home, &["gov", "vote", &voted, "yes", "--key", "alice"]).ok("a vote");
    let emergency = proposal_id(
        &depin(
            home,
            &[
                &spend[..],
                &["--title", "bob, now", "--emergency", "--key", "alice"],
            ]
            .concat(),
        )
        .ok("an emergency change"),
    );
    let deadline = Instant::now() + EPOCHS_TIMEOUT;
    let closed = loop {
        let s = api.get_ok("/v1/status");
        let closed = s["height"].as_u64().unwrap() / length;
        if closed > EPOCHS_WANTED {
            let e = api.get_ok("/v1/epochs/latest");
            let refused = e["report_outcomes"]
                .as_object()
                .is_some_and(|o| o.keys().any(|k| k != "accepted"));
            if e["devices_paid"].as_u64().unwrap_or(0) > 0 && refused {
                break closed;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the devnet closed no epoch with payouts and refused reports within {EPOCHS_TIMEOUT:?}:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let (device, epoch) = device_with_rewards_and_refusals(&api, closed, length);

    let mut browser = Browser::launch(1400, 1500);
    // The front page: hexagons over the country outlines, a scale, and charts with data.
    browser.goto(&format!("{}/", node.url));
    let hexes = browser.wait_for(
        "hexagons on the map",
        "document.querySelectorAll('#map .hex').length",
    );
    assert!(hexes.as_u64().unwrap() > 0);
    browser.wait_for(
        "the country outlines",
        "(document.querySelector('#map .land')?.getAttribute('d') || '').length > 1000",
    );
    browser.wait_for(
        "a scale",
        "/\\d+ (km|m)$/.test(document.getElementById('scale')?.textContent || '')",
    );
    for chart in [
        "chart-supply",
        "chart-pools",
        "chart-split",
        "chart-devices",
        "chart-outcomes",
    ] {
        let points = browser.wait_for(
            &format!("data in {chart}"),
            &format!(
                "(() => {{ const s = document.querySelector('#{chart} svg'); \
                 return s && Number(s.dataset.points) > 0 && s.querySelectorAll('path[d^=M], rect[data-i]').length > 0 \
                 ? Number(s.dataset.points) : null; }})()"
            ),
        );
        assert!(points.as_u64().unwrap() >= 1, "{chart}");
    }
    browser.wait_for(
        "the last epoch",
        "document.getElementById('epoch').innerText.includes('devices paid')",
    );
    browser.screenshot(&docs().join("explorer.png"));

    // The module panels show each module's live state and its last epoch.
    browser.goto(&format!("{}/", node.url));
    for (what, condition) in [
        (
            "storage providers with their deals",
            "document.querySelectorAll('section[data-module=storage] tr.provider').length >= 6",
        ),
        (
            "compute jobs with what they delivered",
            "[...document.querySelectorAll('section[data-module=compute] tr.job')].some((r) => / of \\d+ frames/.test(r.innerText))",
        ),
        (
            "each module's last epoch",
            "['storage', 'mapping', 'compute'].every((m) => document.querySelector(`[data-module-epoch=${m}]`)?.innerText.includes('devices paid'))",
        ),
    ] {
        browser.wait_for(what, condition);
    }
    browser.eval("document.querySelector('section[data-module=storage]').scrollIntoView(); true");
    browser.screenshot(&docs().join("explorer-modules.png"));

    // Search by the first characters of the device's address finds its page.
    let prefix = &device[..24];
    browser.eval(&format!(
        "document.getElementById('q').value = '{prefix}'; document.getElementById('search').requestSubmit(); true"
    ));
    browser.wait_for(
        "the device page after a search",
        &format!("location.hash === '#/device/{device}' && document.getElementById('dev').innerText.includes('{device}')"),
    );

    // The device page: rewards per epoch as bars, the explanation, refused reports with reasons.
    browser.goto(&format!("{}/#/device/{device}/{epoch}", node.url));
    browser.wait_for(
        "reward bars",
        "document.querySelectorAll('#devchart rect[data-i]').length",
    );
    let reasons = browser.wait_for(
        "refused reports with their reason codes",
        "[...document.querySelectorAll('#refused code.bad')].map((c) => c.textContent).join(',')",
    );
    let reasons = reasons.as_str().unwrap().to_string();
    assert!(!reasons.is_empty());
    browser.wait_for(
        "the reward's explanation",
        &format!("document.getElementById('explain').innerText.includes('Epoch {epoch}')"),
    );
    browser.wait_for(
        "the device's bond",
        "document.getElementById('bond')?.innerText.includes('locked while active')",
    );
    browser.screenshot(&docs().join("explorer-device.png"));

    // A block page lists its transactions with links.
    let height = closed * length;
    browser.goto(&format!("{}/#/block/{height}", node.url));
    browser.wait_for(
        "the block page",
        "document.getElementById('blk').innerText.includes('transactions')",
    );

    // Governance: the list, a voted proposal's page, and the emergency key marked as such.
    browser.goto(&format!("{}/#/governance", node.url));
    let listed = browser.wait_for(
        "the proposals list",
        "document.querySelectorAll('#proposals tr[data-proposal]').length >= 2 ? document.querySelectorAll('#proposals tr[data-proposal]').length : null",
    );
    browser.wait_for(
        "the emergency key marked",
        &format!("document.getElementById('emergencykey')?.innerText.includes('Emergency key') && document.getElementById('emergencykey').innerText.includes('{alice}')"),
    );
    browser.wait_for(
        "the emergency change marked in the list",
        &format!("document.querySelector('#proposals tr[data-proposal=\"{emergency}\"]')?.innerText.includes('emergency key')"),
    );
    browser.wait_for(
        "the validator set with its turns",
        "document.querySelector('#validators tr[data-validator]')?.innerText.includes('produced')",
    );
    browser.wait_for(
        "alice standing as a candidate",
        &format!("document.querySelector('#candidates tr[data-candidate]')?.innerText.includes('{alice}')"),
    );
    browser.goto(&format!("{}/#/proposal/{voted}", node.url));
    browser.wait_for(
        "the proposal's tally, quorum, threshold and when it takes effect",
        "(() => { const t = document.getElementById('prop')?.innerText || ''; \
         return /yes [1-9]/.test(document.getElementById('tally')?.innerText || '') && t.includes('quorum') \
         && t.includes('threshold') && t.includes('takes effect') && t.includes('from the treasury to'); })()",
    );
    browser.wait_for(
        "the voter",
        &format!("document.getElementById('votes').innerText.includes('{alice}')"),
    );
    browser.screenshot(&docs().join("explorer-proposal.png"));
    browser.goto(&format!("{}/#/proposal/{emergency}", node.url));
    browser.wait_for(
        "the emergency proposal marked",
        "document.getElementById('emergency')?.innerText.includes('emergency key')",
    );
    println!(
        "explorer checked: {hexes} hexagons, device {device} refused {reasons}, {listed} proposals"
    );
}

/// The id in `proposal #N: ...`, as `depin gov propose` prints it.
fn proposal_id(out: &Output) -> String {
    out.stdout
        .split("proposal #")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .filter(|id| id.parse::<u64>().is_ok())
        .unwrap_or_else(|| panic!("gov propose printed no proposal id: {}", out.stdout))
        .to_string()
}
