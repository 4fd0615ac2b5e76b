//! The nesting guard through the real binary: a hostile page nested far
//! deeper than any real listing fails its own source before it is parsed,
//! and the other sources of the run are stored as usual.

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_exit, stderr};

/// 20 000 never-closed elements: 0.3 MB that would cost the HTML parser and
/// the selectors time growing with depth × size.
fn hostile_page() -> String {
    format!("<html><body>{}", "<div class=post><h2>x</h2>".repeat(20_000))
}

#[test]
fn a_page_nested_thousands_deep_fails_its_source_and_the_others_are_stored() {
    let http = HttpServer::start();
    http.route("/deep", |_| Reply::html(&hostile_page()));
    http.route("/deep-json", |_| {
        Reply::html(&format!("<pre>[]</pre>{}", hostile_page()))
    });
    http.route("/good", |_| {
        Reply::html(
            "<html><body><div class=post><h2>ACME Corp</h2></div><div class=post><h2>Globex</h2></div></body></html>",
        )
    });
    let html = |name: &str, path: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{}\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n",
            http.url(path)
        )
    };
    let ws = Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 20\nretries = 0\n{}{}\
         [[source]]\nname = \"deepjson\"\nkind = \"json\"\nurl = \"{}\"\n[source.json]\nembedded = \"pre\"\nitems = \"\"\ntitle = \"/title\"\n",
        html("deep", "/deep"),
        html("good", "/good"),
        http.url("/deep-json"),
    ));

    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    for (name, path) in [("deep", "/deep"), ("deepjson", "/deep-json")] {
        let why = format!(
            "{}: page nests 20003 elements deep, more than 1000: refused as hostile",
            http.url(path)
        );
        assert!(err.contains(&format!("source {name}: ")) && err.contains(&why), "{err}");
        let (status, error): (String, String) = ws
            .sql()
            .query_row(
                "SELECT status, error FROM fetch WHERE source = ?1 ORDER BY run_id DESC LIMIT 1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(status, "http-error");
        assert!(error.contains(&why), "{error}");
    }
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE source = 'good'"), 2);
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE source <> 'good'"), 0);

    // The analyst's workbench refuses it the same way, naming the source.
    let page = ws.path("deep.html");
    std::fs::write(&page, hostile_page()).unwrap();
    let page = page.to_str().unwrap();
    let out = ws.run(&["source", "test", "deep", "--file", page]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("source deep: page nests 20003 elements deep"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["source", "suggest", "--file", page]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refused as hostile"), "{}", stderr(&out));
}
