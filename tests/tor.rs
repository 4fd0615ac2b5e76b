//! Tor routing, proved with a real SOCKS5 proxy on loopback standing in for
//! Tor: `.onion` names are handed to the proxy (address type DOMAIN), never
//! resolved locally; without a proxy an onion source fails before anything
//! is sent; a source's own `proxy` is honoured; and proxy environment
//! variables change nothing.

use fast_socks5::util::target_addr::TargetAddr;

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::closed_port;
use crate::support::socks::SocksProxy;
use crate::support::trace::traced;
use crate::support::{Workspace, assert_exit, assert_ok, stderr};

const ONION: &str = "leakwatchtestxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion";

fn crawl(extra: &str) -> String {
    format!("[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 10\nretries = 0\n{extra}\n")
}

fn source(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{url}\"\n{extra}\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\nnext_page = {{ selector = \"a.next\", attr = \"href\" }}\n"
    )
}

fn page(title: &str, next: Option<&str>) -> String {
    let next = next.map_or(String::new(), |n| format!("<a class=\"next\" href=\"{n}\">next</a>"));
    format!("<html><body><div class=\"post\"><h2>{title}</h2></div>{next}</body></html>")
}

fn upstream(http: &HttpServer) -> std::net::SocketAddr {
    format!("{}:{}", http.host, http.port).parse().unwrap()
}

fn titles(ws: &Workspace) -> Vec<String> {
    let db = ws.sql();
    let mut stmt = db.prepare("SELECT title FROM posting ORDER BY title").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn an_onion_source_is_fetched_through_the_proxy_which_resolves_the_name() {
    let http = HttpServer::start();
    http.route("/", |_| Reply::html(&page("Onion Victim One", Some("/page/2"))));
    http.route("/page/2", |_| Reply::html(&page("Onion Victim Two", None)));
    let proxy = SocksProxy::start(upstream(&http));
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl(&format!("tor_proxy = \"{}\"", proxy.url())),
        source("onion", &format!("http://{ONION}/"), "")
    ));
    let out = run_contacting_only(&ws, proxy.port, "only the proxy is contacted");
    assert_ok(&out);
    assert_eq!(titles(&ws), ["Onion Victim One", "Onion Victim Two"]);
    assert_eq!(
        proxy.targets(),
        [
            TargetAddr::Domain(ONION.into(), 80),
            TargetAddr::Domain(ONION.into(), 80)
        ],
        "the name went to the proxy as SOCKS address type DOMAIN"
    );
    let hits = http.hits("/");
    assert_eq!(hits[0].headers.get("host").map(String::as_str), Some(ONION));
}

#[test]
fn without_tor_proxy_an_onion_source_fails_before_any_lookup() {
    let http = HttpServer::start();
    http.route("/good", |_| Reply::html(&page("Clearnet Corp", None)));
    let onion_url = format!("http://{ONION}/");
    let target = onion_url.clone();
    http.route("/to-onion", move |_| Reply::redirect(&target));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}\n{}",
        crawl(""),
        source("onion", &onion_url, ""),
        source("sneaky", &http.url("/to-onion"), ""),
        source("good", &http.url("/good"), "")
    ));
    let out = run_contacting_only(&ws, http.port, "nothing but the clearnet server");
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "source onion: http://{ONION}/: a .onion address needs Tor: set crawl.tor_proxy"
        )),
        "{err}"
    );
    assert!(
        err.contains("source sneaky:") && err.contains("a .onion address is only reached through crawl.tor_proxy"),
        "{err}"
    );
    let (status, tries): (String, i64) = ws
        .sql()
        .query_row("SELECT status, tries FROM fetch WHERE source = 'onion'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), tries), ("proxy-error", 0), "nothing was tried");
    assert_eq!(titles(&ws), ["Clearnet Corp"], "the other sources went on");
}

#[test]
fn socks5_with_local_resolution_is_refused_for_tor_at_config_load() {
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl("tor_proxy = \"socks5://127.0.0.1:9050\""),
        source("onion", &format!("http://{ONION}/"), "")
    ));
    let out = ws.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("crawl.tor_proxy: `socks5://127.0.0.1:9050` would resolve .onion names locally"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_source_can_have_its_own_proxy() {
    let http = HttpServer::start();
    http.route("/advisories", |_| Reply::html(&page("Vendor Advisory", None)));
    let proxy = SocksProxy::start(upstream(&http));
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl(""),
        source(
            "vendor",
            "http://vendor.invalid/advisories",
            &format!("proxy = \"{}\"", proxy.url())
        )
    ));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(titles(&ws), ["Vendor Advisory"]);
    assert_eq!(proxy.targets(), [TargetAddr::Domain("vendor.invalid".into(), 80)]);
}

#[test]
fn proxy_environment_variables_never_reroute_traffic() {
    let http = HttpServer::start();
    http.route("/direct", |_| Reply::html(&page("Direct Corp", None)));
    http.route("/", |_| Reply::html(&page("Tor Corp", None)));
    let trap = HttpServer::start();
    let proxy = SocksProxy::start(upstream(&http));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(&format!("tor_proxy = \"{}\"", proxy.url())),
        source("direct", &http.url("/direct"), ""),
        source("onion", &format!("http://{ONION}/"), "")
    ));
    let trap_url = trap.url("");
    let dead = format!("socks5h://127.0.0.1:{}", closed_port());
    let mut cmd = ws.command(&["run"]);
    for (var, value) in [
        ("HTTP_PROXY", &trap_url),
        ("http_proxy", &trap_url),
        ("HTTPS_PROXY", &trap_url),
        ("ALL_PROXY", &dead),
        ("all_proxy", &dead),
    ] {
        cmd.env(var, value);
    }
    let out = cmd.output().unwrap();
    assert_ok(&out);
    assert_eq!(titles(&ws), ["Direct Corp", "Tor Corp"]);
    assert_eq!(trap.total_hits(), 0, "HTTP_PROXY was ignored");
    assert_eq!(http.hits("/direct").len(), 1, "the clearnet page was fetched directly");
    assert_eq!(proxy.targets(), [TargetAddr::Domain(ONION.into(), 80)]);
}

#[test]
fn onion_sources_get_three_times_the_timeouts() {
    let http = HttpServer::start();
    // The page, then 1.5 s of silence before the server closes: longer than
    // read_timeout_secs = 1, shorter than the 3 s an onion source gets.
    http.route("/", |_| Reply::Trickle {
        headers: vec![("Content-Type".into(), "text/html".into())],
        chunk: page("Patient Onion", None).into_bytes(),
        pause: std::time::Duration::from_millis(1500),
        count: 1,
    });
    let proxy = SocksProxy::start(upstream(&http));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(&format!("read_timeout_secs = 1\ntor_proxy = \"{}\"", proxy.url())),
        source("onion", &format!("http://{ONION}/"), ""),
        source("clearnet", &http.url("/"), "")
    ));
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("source clearnet: ") && err.contains("timed out"), "{err}");
    assert!(!err.contains("source onion"), "{err}");
    assert_eq!(titles(&ws), ["Patient Onion"]);
}

/// `leakwatch run`, under strace when it is installed: no DNS query, and no
/// connection to anything but `port` (`what` says which server that is).
fn run_contacting_only(ws: &Workspace, port: u16, what: &str) -> std::process::Output {
    match traced(ws, &["run"]) {
        Some((out, trace)) => {
            assert!(
                trace.mentioning("htons(53)").is_empty(),
                "no DNS query: {:#?}",
                trace.calls
            );
            let elsewhere: Vec<_> = trace
                .inet()
                .into_iter()
                .filter(|c| !c.contains(&format!("htons({port})")))
                .collect();
            assert!(elsewhere.is_empty(), "{what}: {elsewhere:#?}");
            out
        }
        None => ws.run(&["run"]),
    }
}

const OTHER_ONION: &str = "leakwatchtestyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy.onion";

#[test]
fn each_source_gets_its_own_socks_credentials_so_its_own_tor_circuit() {
    let http = HttpServer::start();
    http.route("/a", |_| Reply::html(&page("Victim A", Some("/a2"))));
    http.route("/a2", |_| Reply::html(&page("Victim A2", None)));
    http.route("/b", |_| Reply::html(&page("Victim B", None)));
    let proxy = SocksProxy::start_with_auth(upstream(&http), 0);
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(&format!("tor_proxy = \"{}\"", proxy.url())),
        source("alpha", &format!("http://{ONION}/a"), ""),
        source("beta", &format!("http://{OTHER_ONION}/b"), "")
    ));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(titles(&ws), ["Victim A", "Victim A2", "Victim B"]);
    let pairs = proxy.credentials();
    let of = |user: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, p)| p.clone())
            .collect()
    };
    let (alpha, beta) = (of("leakwatch-alpha"), of("leakwatch-beta"));
    assert!(!alpha.is_empty() && !beta.is_empty(), "{pairs:?}");
    assert_eq!(
        alpha.len() + beta.len(),
        pairs.len(),
        "every connection named its source: {pairs:?}"
    );
    assert!(
        alpha.iter().all(|p| *p == alpha[0]),
        "one circuit per source without errors: {pairs:?}"
    );

    // The next run is on new circuits.
    assert_ok(&ws.run(&["run"]));
    let again = proxy.credentials();
    assert!(
        again[pairs.len()..]
            .iter()
            .all(|(_, p)| !alpha.contains(p) && !beta.contains(p)),
        "{again:?}"
    );
}

#[test]
fn a_retry_after_a_proxy_error_uses_a_fresh_pair() {
    let http = HttpServer::start();
    http.route("/", |_| Reply::html(&page("Onion Victim", None)));
    // The first circuit fails.
    let proxy = SocksProxy::start_with_auth(upstream(&http), 1);
    let ws = Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 10\nretries = 1\ntor_proxy = \"{}\"\n\n{}",
        proxy.url(),
        source("onion", &format!("http://{ONION}/"), "")
    ));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(titles(&ws), ["Onion Victim"]);
    let pairs = proxy.credentials();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(pairs[0].0, pairs[1].0, "the same source");
    assert_ne!(pairs[0].1, pairs[1].1, "a new circuit for the retry");
}
