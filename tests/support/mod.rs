//! What the tests share: a workspace (temp folder, config, database) that
//! runs the real `leakwatch` binary, and the loopback servers.

#![allow(dead_code)] // each test module uses a different part of the support

pub mod cdp;
pub mod http;
pub mod smtp;
pub mod socks;
pub mod tls;
pub mod trace;
pub mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder with a config file, where the binary runs.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose `leakwatch.toml` is `[database] path = "lw.db"` followed by `rest`.
    pub fn new(rest: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = Workspace { dir };
        ws.write_config(rest);
        ws
    }

    pub fn write_config(&self, rest: &str) {
        std::fs::write(self.config(), format!("[database]\npath = \"lw.db\"\n\n{rest}")).expect("write config");
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config(&self) -> PathBuf {
        self.path("leakwatch.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.path("lw.db")
    }

    /// The binary, as cron runs it: config from the environment, no proxy
    /// variables, no terminal, in the workspace folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakwatch"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("LEAKWATCH_CONFIG", self.config())
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null());
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run leakwatch")
    }

    /// Writes a watch-list CSV and imports it, asserting success.
    pub fn import(&self, csv: &str) {
        let file = self.path("watchlist.csv");
        std::fs::write(&file, csv).expect("write csv");
        let out = self.run(&["watch", "import", file.to_str().unwrap()]);
        assert_ok(&out);
    }

    /// A read-only connection to the workspace database, for assertions.
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).expect("open db")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql().query_row(sql, [], |r| r.get(0)).expect(sql)
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// The real leak-site captures: `shared/` sits beside the checkout in CI
/// (`../shared`) and beside the worktrees folder on a workstation (`../../shared`).
pub fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/corpus/leaksites", "../../shared/corpus/leaksites"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.is_dir())
        .expect("the real corpus: shared/corpus/leaksites beside the checkout")
}

/// The repository's `fixtures/` folder.
pub fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

impl Workspace {
    /// The binary as cron runs it: an empty environment but for `PATH` and the
    /// config (no HOME, no TERM, no proxies), no terminal on any stream.
    pub fn cron(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakwatch"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LEAKWATCH_CONFIG", self.config())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// Starts the binary as cron would, without waiting for it.
    pub fn spawn_cron(&self, args: &[&str]) -> std::process::Child {
        self.cron(args).spawn().expect("spawn leakwatch")
    }
}

/// Polls `cond` every 20 ms until it holds; panics after `secs` seconds.
#[track_caller]
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends `signal` (e.g. "TERM") to a process with the system's `kill`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

impl Workspace {
    /// Like [`Workspace::count`], but `None` while the database or its
    /// tables do not exist yet (a process under test is creating them).
    pub fn try_count(&self, sql: &str) -> Option<i64> {
        if !self.db().exists() {
            return None;
        }
        let conn = rusqlite::Connection::open_with_flags(self.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        conn.query_row(sql, [], |r| r.get(0)).ok()
    }
}
