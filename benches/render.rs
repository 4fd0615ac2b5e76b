//! Rendering cost: what a `render = "chromium"` page costs beside the plain
//! fetch of the same page, through the real `Fetcher` and the real headless
//! Chromium.
//!
//! ```sh
//! cargo bench --bench render -- [--pages 20]
//! ```
//!
//! A loopback server answers one listing page (50 postings, written into the
//! page by an inline script from a JSON blob). It prints the browser's
//! start-up (launch until it answers), then per page: the plain fetch (the
//! baseline), the rendered load, and the render-only part (their difference;
//! the target is rendered ≤ 2 × plain + render time, i.e. the browser adds no
//! overhead beyond running the page), and the peak resident memory of the
//! browser's processes (all of them, summed) while pages load.

use std::time::{Duration, Instant};

use leakwatch::config::Config;
use leakwatch::fetch::Fetcher;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

fn page() -> String {
    let items: Vec<String> = (0..50)
        .map(|i| format!("{{\"name\":\"Victim Company {i}\"}}"))
        .collect();
    format!(
        "<html><body><div id=\"app\"></div><script id=\"data\" type=\"application/json\">[{}]</script>\
         <script>const items = JSON.parse(document.getElementById('data').textContent);\
         document.getElementById('app').innerHTML = items.map(i => '<div class=\"post\"><h2>' + i.name + '</h2></div>').join('');</script></body></html>",
        items.join(",")
    )
}

async fn serve(listener: tokio::net::TcpListener, body: String) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let body = body.clone();
        tokio::spawn(async move {
            // The request head, to its blank line; the body is the same for every path.
            let mut reader = tokio::io::BufReader::new(&mut socket);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        });
    }
}

/// Resident memory of every live process using `profile`, in MB.
fn browser_rss_mb(profile: &std::path::Path) -> f64 {
    leakwatch::browser::processes_using(profile)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .sum::<f64>()
        / 1024.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut pages = 20usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--pages") {
        pages = args[i + 1].parse().expect("--pages N");
    }
    let Some(program) = leakwatch::browser::find_chromium() else {
        eprintln!("render bench: no Chromium on the PATH (apt-get install chromium)");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, page()));
        addr
    });
    let url = format!("http://{addr}/");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leakwatch.toml");
    let source = |name: &str, render: &str, wait: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{url}\"\n{render}\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n{wait}\n"
        )
    };
    std::fs::write(
        &path,
        format!(
            "[database]\npath = \"lw.db\"\n[crawl]\nper_host_rate = \"1000/s\"\n{}{}{}",
            source("plain", "", ""),
            source("rendered", "render = \"chromium\"", ""),
            source("waited", "render = \"chromium\"", "wait_for = \"div.post\"")
        ),
    )
    .expect("write config");
    let config = Config::load(&path).expect("config");
    let (plain, rendered, waited) = (&config.sources[0], &config.sources[1], &config.sources[2]);

    let starts: Vec<Duration> = (0..3)
        .map(|_| {
            rt.block_on(async {
                let t = Instant::now();
                let browser =
                    leakwatch::browser::Browser::launch(&leakwatch::browser::LaunchOptions::headless(program.clone()))
                        .await
                        .expect("launch");
                let took = t.elapsed();
                browser.close().await;
                took
            })
        })
        .collect();

    let fetcher = Fetcher::new(&config.crawl, &config.sources).expect("fetcher");
    let (plain_times, render_times, wait_times, peak_mb, first) = rt.block_on(async {
        let mut plain_times = Vec::new();
        let mut render_times = Vec::new();
        let mut wait_times = Vec::new();
        let mut peak: f64 = 0.0;
        // The first rendered page starts the browser: timed on its own.
        let t = Instant::now();
        fetcher
            .page(rendered, &rendered.url, &Default::default(), &Default::default())
            .await
            .expect("render");
        let first = t.elapsed();
        let profiles: Vec<std::path::PathBuf> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("leakwatch-chromium-{}-", std::process::id())))
            })
            .collect();
        for _ in 0..pages {
            for (source, times, expect) in [
                (plain, &mut plain_times, "application/json"),
                (rendered, &mut render_times, "Victim Company 49"),
                (waited, &mut wait_times, "Victim Company 49"),
            ] {
                let t = Instant::now();
                let page = fetcher
                    .page(source, &source.url, &Default::default(), &Default::default())
                    .await
                    .expect("page");
                times.push(t.elapsed());
                assert!(page.body.contains(expect), "{}: the page is as expected", source.name);
            }
            peak = peak.max(profiles.iter().map(|p| browser_rss_mb(p)).sum());
        }
        fetcher.close().await;
        (plain_times, render_times, wait_times, peak, first)
    });
    let (p, r, w) = (median(plain_times), median(render_times), median(wait_times));
    println!(
        "render: {pages} pages of 50 script-built postings, loopback, Chromium {}",
        program.display()
    );
    println!(
        "  browser start-up (launch → answers), median of 3: {:.0} ms",
        median(starts).as_secs_f64() * 1000.0
    );
    println!(
        "  first rendered page (starts the browser):      {:.0} ms",
        first.as_secs_f64() * 1000.0
    );
    println!(
        "  plain fetch per page (baseline), median:         {:.1} ms",
        p.as_secs_f64() * 1000.0
    );
    println!(
        "  rendered per page, network idle, median:         {:.0} ms",
        r.as_secs_f64() * 1000.0
    );
    println!(
        "  rendered per page, wait_for = \"div.post\":       {:.0} ms",
        w.as_secs_f64() * 1000.0
    );
    println!("  (network idle is Chromium's: 500 ms without a request; wait_for ends as soon as the selector matches)");
    println!("  browser processes, peak resident memory (sum):   {peak_mb:.0} MB");
}
