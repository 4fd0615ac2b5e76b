//! Terminal safety: posting text is written by criminals, and an analyst
//! reads it in a terminal. Escape sequences in a title (`ESC [31m` colours
//! the screen, `ESC ]0;…BEL` retitles the window, and worse sequences can
//! rewrite what is shown or answer back into the input) must reach no
//! terminal through `postings`, `matches` or `source test`, in any format.

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_ok, stdout};

/// ESC, BEL, and CSI as one C1 code point: what a terminal acts on.
const CONTROL: [char; 3] = ['\u{1b}', '\u{7}', '\u{9b}'];

/// A listing whose titles carry escape sequences, raw and as character references.
const PAGE: &str = "<html><body>\
    <div class=\"post\"><h2 class=\"victim\">Qualys \u{1b}[31mred\u{1b}]0;title\u{7} files</h2>\
      <a class=\"more\" href=\"/p/1\">x</a><p class=\"description\">body \u{1b}[2J\u{9b}1m cleared</p></div>\
    <div class=\"post\"><h2 class=\"victim\">Accellion &#x1b;[5m&#x1b;]0;pwned&#x7; leak</h2>\
      <a class=\"more\" href=\"/p/2\">x</a></div>\
    </body></html>";

fn workspace(http: &HttpServer) -> Workspace {
    let ws = Workspace::new(&format!(
        r#"
[crawl]
per_host_rate = "50/s"
retries = 0

[[source]]
name = "hostile"
kind = "html"
url = "{}"
[source.html]
item = "div.post"
title = "h2.victim"
link = {{ selector = "a.more", attr = "href" }}
body = "p.description"
"#,
        http.url("/list/")
    ));
    ws.import("name,aliases,domains,kind,recipients,exclude\nQualys,,,supplier,,\nAccellion,,,supplier,,\n");
    ws
}

#[track_caller]
fn assert_inert(what: &str, out: &std::process::Output) {
    assert_ok(out);
    let text = stdout(out);
    assert!(!text.contains(CONTROL), "{what} printed a control character: {text:?}");
}

#[test]
fn escape_sequences_in_posting_text_reach_no_terminal() {
    let http = HttpServer::start();
    http.route("/list/", |_| Reply::html(PAGE));
    let ws = workspace(&http);
    std::fs::write(ws.path("page.html"), PAGE).unwrap();

    for args in [
        &["source", "test", "hostile"][..],
        &["source", "test", "hostile", "--file", "page.html"],
    ] {
        let out = ws.run(args);
        assert_inert(&args.join(" "), &out);
        assert!(
            stdout(&out).contains("Qualys [31mred]0;title files"),
            "{}",
            stdout(&out)
        );
    }

    assert_ok(&ws.run(&["run"]));
    for command in ["postings", "matches"] {
        for format in [None, Some("--csv"), Some("--json")] {
            let args: Vec<&str> = [command].into_iter().chain(format).collect();
            let out = ws.run(&args);
            assert_inert(&args.join(" "), &out);
            assert!(stdout(&out).contains("Accellion [5m]0;pwned leak"), "{}", stdout(&out));
        }
    }
}

/// The listings clean what they print even when the database holds control
/// characters that extraction would have removed (a database written by
/// another tool or an older version): JSON escapes them, tables drop them.
#[test]
fn listings_neutralize_control_characters_already_in_the_database() {
    let http = HttpServer::start();
    http.route("/list/", |_| Reply::html(PAGE));
    let ws = workspace(&http);
    assert_ok(&ws.run(&["run"]));
    let changed = ws
        .sql()
        .execute(
            "UPDATE posting SET title = title || char(27) || '[31m' || char(27) || ']0;title' || char(7) || char(155)",
            [],
        )
        .unwrap();
    assert_eq!(changed, 2);

    for args in [
        &["postings"][..],
        &["matches"],
        &["postings", "--json"],
        &["matches", "--json"],
    ] {
        assert_inert(&args.join(" "), &ws.run(args));
    }
    let json = stdout(&ws.run(&["postings", "--json"]));
    assert!(json.contains(r"\u001b[31m"), "JSON keeps the text, escaped: {json}");
}

/// Found by fuzzing: the feed parser's error message quotes the feed's
/// bytes, so a broken feed could print escape sequences with the error.
#[test]
fn a_broken_feed_cannot_put_escape_sequences_in_the_error() {
    let ws = Workspace::new(
        "[[source]]\nname = \"advisories\"\nkind = \"feed\"\nurl = \"https://vendor.example/feed.xml\"\n",
    );
    std::fs::write(
        ws.path("feed.xml"),
        "<rss version=\"2.0\"><channel><item><title>a</title\u{1b}]0;pwned\u{7}\u{1b}[2J</item></channel></rss>",
    )
    .unwrap();
    let out = ws.run(&["source", "test", "advisories", "--file", "feed.xml"]);
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(err.contains("the feed cannot be parsed"), "{err}");
    assert!(!err.contains(CONTROL), "{err:?}");
}
