//! `leakwatch check`: everything a run would trip over, listed at once.
//!
//! The config file's own problems come from [`Config::parse_partial`]
//! (syntax, unknown keys, selectors, recipients, proxy URLs, rates). On top of
//! those, the checks that need the machine the run will happen on: the
//! database can be opened (or created), the secrets named by the config are in
//! the environment, `.onion` sources have a Tor proxy that answers, the
//! database passes `PRAGMA quick_check`. Each problem names the file and,
//! where it comes from a key, the line.
//!
//! Some findings are warnings, not problems: a run would work today, but
//! not for long (little free disk under the database's folder).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use crate::config::{Config, ConfigError, Problem, Smtp, Transport};
use crate::store::Store;

/// How long `check` waits for the Tor proxy to accept a connection.
const PROXY_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What `check` found: the config when it could be built, every problem,
/// and warnings (worth fixing, but no run fails of them yet).
pub struct CheckReport {
    pub config: Option<Config>,
    pub problems: ConfigError,
    pub warnings: Vec<Problem>,
}

/// Runs every check on the config file at `path`.
pub fn check(path: &Path) -> CheckReport {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => {
            let problems = Config::load(path).expect_err("an unreadable config does not load");
            return CheckReport {
                config: None,
                problems,
                warnings: Vec::new(),
            };
        }
    };
    let (config, mut problems) = Config::parse_partial(path, &text);
    let mut warnings = Vec::new();
    if let Some(config) = &config {
        let keys = Keys::new(&text);
        problems.extend(environment(config, &keys));
        warnings.extend(disk_space(config, &keys));
    }
    CheckReport {
        config,
        problems: ConfigError {
            file: path.to_owned(),
            problems,
        },
        warnings,
    }
}

/// Less free space under the database's folder than `database.min_free_mb`.
fn disk_space(config: &Config, keys: &Keys) -> Option<Problem> {
    // The folder may not exist yet: its nearest existing parent is the disk it will be on.
    let dir = config.database.parent().unwrap_or(Path::new("."));
    let dir = dir.ancestors().find(|d| d.is_dir()).unwrap_or(Path::new("."));
    let stat = rustix::fs::statvfs(dir).ok()?;
    let free_mb = stat.f_bavail.saturating_mul(stat.f_frsize) / MB;
    (free_mb < config.min_free_mb).then(|| Problem {
        file: None,
        line: keys.line(&["database", "min_free_mb"]).or(keys.line(&["database", "path"])),
        key: "database.path".into(),
        message: format!(
            "only {free_mb} MB free under {} (database.min_free_mb = {}): when the disk fills, runs stop with \"database or disk is full\"; free some space or move the database",
            dir.display(),
            config.min_free_mb
        ),
    })
}

/// A megabyte, as `min_free_mb` counts them.
const MB: u64 = 1024 * 1024;

/// The checks that look beyond the file.
fn environment(config: &Config, keys: &Keys) -> Vec<Problem> {
    let mut out = Vec::new();
    match database(config, keys) {
        Some(p) => out.push(p),
        None => {
            out.extend(unaddressed_entries(config, keys));
            out.extend(unknown_about(config, keys));
        }
    }
    if let Some(Smtp {
        transport: Transport::Smtp {
            password_env: Some(var),
            ..
        },
        ..
    }) = &config.smtp
        && std::env::var_os(var).is_none_or(|v| v.is_empty())
    {
        out.push(Problem {
            file: None,
            line: keys.line(&["smtp", "password_env"]),
            key: "smtp.password_env".into(),
            message: format!(
                "{var} is not set in this environment: set it where leakwatch runs (the cron line, or EnvironmentFile= of the systemd unit)"
            ),
        });
    }
    for hook in &config.notify.webhooks {
        if std::env::var_os(&hook.url_env).is_none_or(|v| v.is_empty()) {
            out.push(Problem {
                file: None,
                line: keys.line(&["notify", "webhook"]),
                key: "notify.webhook.url_env".into(),
                message: format!(
                    "{} is not set in this environment: set it where leakwatch runs, like the SMTP password",
                    hook.url_env
                ),
            });
        }
    }
    for s in &config.sources {
        for (header, var) in s.request.missing_env() {
            out.push(Problem {
                file: None,
                line: keys.source_request_line(&s.name),
                key: format!("source \"{}\": request.headers_env.{header}", s.name),
                message: format!(
                    "{var} is not set in this environment: set it where leakwatch runs (the cron line, or EnvironmentFile= of the systemd unit); until then this source is not fetched"
                ),
            });
        }
    }
    let onion: Vec<usize> = (0..config.sources.len())
        .filter(|&i| config.sources[i].is_onion())
        .collect();
    match (&config.crawl.tor_proxy, onion.first()) {
        (None, Some(_)) => {
            for i in onion {
                let s = &config.sources[i];
                out.push(Problem {
                    file: None,
                    line: keys.source_line(&s.name, "url"),
                    key: format!("source \"{}\": url", s.name),
                    message: format!(
                        "{} is a .onion address, but crawl.tor_proxy is not set: run the tor service and set tor_proxy = \"socks5h://127.0.0.1:9050\"",
                        s.url
                    ),
                });
            }
        }
        (Some(proxy), Some(_)) => {
            if let Err(why) = reachable(proxy) {
                out.push(Problem {
                    file: None,
                    line: keys.line(&["crawl", "tor_proxy"]),
                    key: "crawl.tor_proxy".into(),
                    message: format!(
                        "{why}: the .onion sources cannot be fetched (is the tor service running? `systemctl status tor`)"
                    ),
                });
            }
        }
        _ => {}
    }
    out
}

/// The database opens (and is at a schema this version understands), or its
/// folder exists and is writable so the first run can create it.
fn database(config: &Config, keys: &Keys) -> Option<Problem> {
    let line = keys.line(&["database", "path"]);
    let problem = |message: String| Problem {
        file: None,
        line,
        key: "database.path".into(),
        message,
    };
    let db = &config.database;
    if db.exists() {
        return match Store::open(db).and_then(|s| s.quick_check()) {
            Ok(ok) if ok == "ok" => None,
            Ok(report) => Some(problem(format!(
                "{} is damaged ({report}): restore it from a backup",
                db.display()
            ))),
            Err(e) => Some(problem(e.to_string())),
        };
    }
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Some(problem(format!(
            "the folder {} does not exist: create it, owned by the user leakwatch runs as",
            dir.display()
        )));
    }
    // Creating a file is the only sure test of write permission.
    let probe = dir.join(format!(".leakwatch-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) => Some(problem(format!("cannot create the database in {}: {e}", dir.display()))),
    }
}

/// `about` names that are not on the watch list: such a source would fail.
fn unknown_about(config: &Config, keys: &Keys) -> Vec<Problem> {
    if config.sources.iter().all(|s| s.about.is_empty()) {
        return Vec::new();
    }
    let entries = if config.database.exists() {
        Store::open(&config.database)
            .and_then(|s| s.entries())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let matcher = crate::watch::Matcher::new(&entries);
    let mut out = Vec::new();
    for s in &config.sources {
        for name in matcher.unknown_names(&s.about) {
            out.push(Problem {
                file: None,
                line: keys.source_line(&s.name, "about"),
                key: format!("source \"{}\": about", s.name),
                message: format!("`{name}` is not on the watch list: add it with `leakwatch watch add`"),
            });
        }
    }
    out
}

/// Watch entries whose matches would reach nobody: no recipients of their
/// own, and `notify.recipients` empty.
fn unaddressed_entries(config: &Config, keys: &Keys) -> Vec<Problem> {
    if !config.notify.recipients.is_empty() || !config.database.exists() {
        return Vec::new();
    }
    let Ok(entries) = Store::open(&config.database).and_then(|s| s.entries()) else {
        return Vec::new();
    };
    let names: Vec<String> = entries
        .into_iter()
        .filter(|e| e.recipients.is_empty())
        .map(|e| e.name)
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    vec![Problem {
        file: None,
        line: keys.line(&["notify", "recipients"]).or(keys.line(&["notify"])),
        key: "notify.recipients".into(),
        message: format!(
            "is empty, and {} watch entr{} no recipients of {} own ({}): {} matches would be recorded but emailed to nobody",
            names.len(),
            if names.len() == 1 { "y has" } else { "ies have" },
            if names.len() == 1 { "its" } else { "their" },
            crate::text::truncate(&names.join(", "), 200),
            if names.len() == 1 { "its" } else { "their" },
        ),
    }]
}

/// Whether something accepts TCP connections at the proxy's address.
fn reachable(proxy: &url::Url) -> Result<(), String> {
    let host = proxy.host_str().unwrap_or("");
    let port = proxy.port().unwrap_or(1080);
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}:{port}: {e}"))?
        .collect();
    let mut last = format!("{host}:{port}: no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, PROXY_CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("nothing answers at {addr}: {e}"),
        }
    }
    Err(last)
}

/// Finds the line of a key in the config text, for problems found after
/// the file was turned into a [`Config`].
struct Keys<'a> {
    text: &'a str,
    root: Option<DeValue<'a>>,
}

impl<'a> Keys<'a> {
    fn new(text: &'a str) -> Keys<'a> {
        let root = DeTable::parse(text).ok().map(|t| DeValue::Table(t.into_inner()));
        Keys { text, root }
    }

    fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// The line of `section.key`.
    fn line(&self, path: &[&str]) -> Option<usize> {
        let mut value = self.root.as_ref()?;
        let mut span = None;
        for key in path {
            let next = value.get(*key)?;
            span = Some(next.span());
            value = next.get_ref();
        }
        span.map(|s| self.line_at(s.start))
    }

    /// The line of `key` in the `[[source]]` named `name`.
    fn source_line(&self, name: &str, key: &str) -> Option<usize> {
        let source = self.source(name)?;
        let span = source.get_ref().get(key).map_or(source.span(), |v| v.span());
        Some(self.line_at(span.start))
    }

    /// The line of `request.headers_env` in the `[[source]]` named `name`.
    fn source_request_line(&self, name: &str) -> Option<usize> {
        let request = self.source(name)?.get_ref().get("request")?;
        let span = request
            .get_ref()
            .get("headers_env")
            .map_or(request.span(), |v| v.span());
        Some(self.line_at(span.start))
    }

    /// The `[[source]]` table named `name`.
    fn source(&self, name: &str) -> Option<&toml::Spanned<DeValue<'a>>> {
        let sources = self.root.as_ref()?.get("source")?.get_ref().as_array()?;
        sources
            .iter()
            .find(|s| s.get_ref().get("name").and_then(|n| n.get_ref().as_str()) == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_on_their_lines() {
        let text = "[database]\npath = \"x.db\"\n\n[[source]]\nname = \"a\"\nurl = \"http://a/\"\n\n[[source]]\nname = \"b\"\nkind = \"feed\"\nurl = \"http://b/\"\n";
        let keys = Keys::new(text);
        assert_eq!(keys.line(&["database", "path"]), Some(2));
        assert_eq!(keys.source_line("b", "url"), Some(11));
        assert_eq!(keys.source_line("a", "url"), Some(6));
        assert_eq!(keys.line(&["smtp", "host"]), None);
    }
}
