//! Command output read by a pipe that closes early (`leakwatch postings |
//! head`): the command stops writing quietly, with no panic and no error.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::Workspace;
use crate::support::http::{HttpServer, Reply};

/// Far more than a pipe buffers (64 KiB), so writes after the reader left
/// must fail: 3 000 postings and one item without a title, whose warning is
/// printed after the table.
fn big_page() -> String {
    let mut html = String::from("<html><body>\n");
    for i in 0..3000 {
        html.push_str(&format!(
            "<div class=\"post\"><h2>Victim number {i} Holdings</h2><a href=\"/p/{i}\">more</a><span class=\"date\">2024-03-01</span></div>\n"
        ));
    }
    html.push_str("<div class=\"post\"><a href=\"/p/untitled\">more</a></div>\n</body></html>");
    html
}

fn workspace(url: &str) -> Workspace {
    Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 10\nretries = 0\n\n[[source]]\nname = \"clop\"\nkind = \"html\"\nurl = \"{url}\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\nlink = {{ selector = \"a\", attr = \"href\" }}\ndate = \".date\"\n"
    ))
}

/// Runs `args` with stdout read for one line, then closed, as `| head -1`
/// does; returns the exit status and stderr.
fn read_one_line_then_close(ws: &Workspace, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = ws
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn leakwatch");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "{args:?} wrote nothing");
    // The reader is dropped here: the pipe is closed with most output unread.
    let out = child.wait_with_output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn source_test_and_postings_stop_quietly_when_the_reader_closes_the_pipe() {
    let http = HttpServer::start();
    let page = big_page();
    let serve = page.clone();
    http.route("/leaks/", move |_| Reply::html(&serve));
    let ws = workspace(&http.url("/leaks/"));
    let file = ws.path("page.html");
    std::fs::write(&file, &page).unwrap();

    // `source test` exits 1 when items had no title; that is not the point here.
    let (_, stderr) = read_one_line_then_close(&ws, &["source", "test", "clop", "--file", file.to_str().unwrap()]);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );

    assert!(ws.run(&["run"]).status.code().is_some());
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 3000);
    for format in [&[][..], &["--csv"], &["--json"]] {
        let args: Vec<&str> = std::iter::once("postings").chain(format.iter().copied()).collect();
        let (status, stderr) = read_one_line_then_close(&ws, &args);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(status.success(), "{args:?}: {status} {stderr}");
    }
}
