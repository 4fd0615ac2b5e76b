//! The workspace in a real browser: Debian's headless Chromium, driven over
//! the DevTools protocol, against the real `leakwatch serve`. An analyst
//! signs in, dismisses a match and sees it leave the "new" inbox, adds a
//! watch entry, imports a CSV with an error and sees the error, signs out.
//! Screenshots of the matches and watch pages are kept in
//! `target/tmp/workspace-ui/` (`CARGO_TARGET_TMPDIR`), never in the checkout.

use serde_json::json;

use crate::support::cdp::Chromium;
use crate::support::http::HttpServer;
use crate::support::smtp::{Behaviour, SmtpSink};
use crate::support::web::Serve;
use crate::workspace::seeded;

fn artifacts() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("workspace-ui");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Types `value` into the field `selector` finds.
fn fill(b: &mut Chromium, selector: &str, value: &str) {
    b.evaluate(&format!(
        "document.querySelector({}).value = {}",
        json!(selector),
        json!(value)
    ));
}

fn text(b: &mut Chromium, selector: &str) -> String {
    b.evaluate(&format!(
        "(document.querySelector({}) || {{innerText: ''}}).innerText",
        json!(selector)
    ))
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[test]
fn an_analyst_triages_and_keeps_the_watch_list_in_chromium() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let acme =
        ws.count("SELECT m.id FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id WHERE e.name = 'Acme Corp'");
    let serve = Serve::start(&ws);
    let mut b = Chromium::launch();

    // Sign in.
    b.navigate(&format!("{}/login", serve.base));
    fill(&mut b, "input[name=username]", "alice");
    fill(&mut b, "input[name=password]", "correct horse battery");
    b.click_and_wait("form button[type=submit]");
    assert!(b.evaluate("location.pathname").as_str() == Some("/matches"));
    let row = format!("#match-{acme}");
    // Under load the inbox can still be settling when the redirect lands.
    b.wait_until(&format!("document.querySelector({}) !== null", json!(row)));
    assert!(
        text(&mut b, &row).contains("Acme Corp"),
        "the new match is in the inbox"
    );
    // The page's styles load under the CSP (same origin), and nothing else does.
    assert_eq!(
        b.evaluate("getComputedStyle(document.querySelector('header')).display"),
        json!("flex")
    );
    std::fs::write(artifacts().join("matches.png"), b.screenshot()).unwrap();
    // The overview draws its chart on the server: 12 weekly bars, no script.
    b.navigate(&format!("{}/", serve.base));
    assert_eq!(
        b.evaluate("document.querySelectorAll('svg.chart rect').length"),
        json!(12)
    );
    assert_eq!(b.evaluate("document.scripts.length"), json!(0));
    std::fs::write(artifacts().join("overview.png"), b.screenshot()).unwrap();
    b.navigate(&format!("{}/matches?status=new", serve.base));

    // Dismiss it with a note: gone from the "new" filter, dismissed in the database.
    fill(&mut b, &format!("{row} input[name=note]"), "not our Acme");
    b.click_and_wait(&format!("{row} button[value=dismiss]"));
    assert_eq!(b.evaluate("location.search"), json!("?status=new"));
    assert_eq!(
        b.evaluate(&format!("document.querySelector('{row}') === null")),
        json!(true)
    );
    assert_eq!(
        ws.count(&format!(
            "SELECT count(*) FROM \"match\" WHERE id = {acme} AND status = 'dismissed' AND note = 'not our Acme'"
        )),
        1
    );

    // Add a watch entry.
    b.navigate(&format!("{}/watch", serve.base));
    fill(&mut b, "form.entry input[name=name]", "Initech");
    fill(&mut b, "form.entry input[name=domains]", "initech.example");
    b.click_and_wait("form.entry button[type=submit]");
    assert!(
        text(&mut b, ".notice").contains("Added Initech"),
        "{}",
        text(&mut b, "main")
    );
    assert!(text(&mut b, "table.entries").contains("initech.example"));
    assert_eq!(ws.count("SELECT count(*) FROM watch_entry WHERE name = 'Initech'"), 1);

    // Import a CSV with an error: the error, by line and column; nothing imported.
    let csv = ws.path("bad.csv");
    std::fs::write(&csv, "name,kind\nUmbrella,supplier\nHooli,vendor\n").unwrap();
    b.set_file("input[type=file]", &csv);
    b.click_and_wait("form[action='/watch/import'] button[type=submit]");
    let error = text(&mut b, ".error");
    assert!(error.contains("line 3, column kind"), "{error}");
    assert!(error.contains("Nothing was imported"), "{error}");
    assert_eq!(
        ws.count("SELECT count(*) FROM watch_entry WHERE name IN ('Umbrella', 'Hooli')"),
        0
    );
    std::fs::write(artifacts().join("watch.png"), b.screenshot()).unwrap();

    // Sign out: back to the login page, and the session is gone.
    b.click_and_wait("form.logout button");
    assert_eq!(b.evaluate("location.pathname"), json!("/login"));
    b.evaluate("window.__before = true");
    b.call("Page.navigate", json!({"url": format!("{}/matches", serve.base)}));
    b.wait_until(
        "window.__before === undefined && location.pathname === '/login' && document.readyState === 'complete'",
    );
    assert_eq!(ws.count("SELECT count(*) FROM session WHERE user_name = 'alice'"), 0);
}
