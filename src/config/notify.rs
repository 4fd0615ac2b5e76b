//! `[smtp]` and `[notify]`: how alerts leave, and who gets them.
//!
//! Mail transport and sender, recipient addresses, and webhooks; each raw
//! section is checked here so a bad address names its key and line.

use std::path::{Path, PathBuf};

use lettre::Address;
use lettre::message::Mailbox;
use serde::Deserialize;
use toml::Spanned;

use super::problems::Checker;
use super::resolve;

pub const DEFAULT_SMTP_PORT: u16 = 587;
/// Failed runs in a row before admins hear that a source is broken.
pub const DEFAULT_BROKEN_AFTER: u32 = 3;

#[derive(Debug, Clone)]
pub struct Smtp {
    pub transport: Transport,
    pub from: Mailbox,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp {
        host: String,
        port: u16,
        security: Security,
        username: Option<String>,
        /// Name of the environment variable holding the password.
        password_env: Option<String>,
        /// PEM file of a CA to trust for the server's certificate, besides
        /// the system's (a private relay with its own CA).
        ca_file: Option<PathBuf>,
    },
    /// Writes each email as an `.eml` file into `dir` (the demo uses this).
    File { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Default)]
pub struct Notify {
    pub recipients: Vec<Address>,
    pub admin_recipients: Vec<Address>,
    /// Failed runs in a row before a source counts as broken (at least 1).
    pub broken_after: u32,
    /// Chat / HTTP channels that get the same alerts as email.
    pub webhooks: Vec<Webhook>,
}

/// `[[notify.webhook]]`: alerts POSTed as JSON to a URL kept in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Name of the environment variable holding the URL (a secret).
    pub url_env: String,
    pub format: WebhookFormat,
    /// `admin = true`: only admin alerts (source health), not watch-list alerts.
    pub admin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": …}`, what Slack (and Mattermost, Teams' Slack mode) accept.
    Slack,
    /// The alerts as structured JSON.
    Json,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    transport: Spanned<String>,
    host: Option<String>,
    port: Option<u16>,
    security: Option<Security>,
    username: Option<String>,
    password_env: Option<String>,
    from: Spanned<String>,
    dir: Option<String>,
    ca_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    #[serde(default)]
    recipients: Vec<Spanned<String>>,
    #[serde(default)]
    admin_recipients: Vec<Spanned<String>>,
    broken_after: Option<u32>,
    #[serde(default)]
    webhook: Vec<RawWebhook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url_env: String,
    format: WebhookFormat,
    #[serde(default)]
    admin: bool,
}

pub(super) fn build_smtp(ck: &mut Checker, base: &Path, raw: RawSmtp) -> Option<Smtp> {
    let from = match raw.from.get_ref().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            ck.add(
                Some(raw.from.span()),
                "smtp.from",
                format!("`{}` is not a mail address: {e}", raw.from.get_ref()),
            );
            None
        }
    };
    let transport = match raw.transport.get_ref().as_str() {
        "smtp" => match raw.host {
            Some(host) => Some(Transport::Smtp {
                host,
                port: raw.port.unwrap_or(DEFAULT_SMTP_PORT),
                security: raw.security.unwrap_or(Security::Starttls),
                username: raw.username,
                password_env: raw.password_env,
                ca_file: raw.ca_file.map(|f| resolve(base, &f)),
            }),
            None => {
                ck.add(
                    Some(raw.transport.span()),
                    "smtp.host",
                    "transport = \"smtp\" needs a host",
                );
                None
            }
        },
        "file" => match raw.dir {
            Some(dir) => Some(Transport::File {
                dir: resolve(base, &dir),
            }),
            None => {
                ck.add(
                    Some(raw.transport.span()),
                    "smtp.dir",
                    "transport = \"file\" needs a dir to write .eml files into",
                );
                None
            }
        },
        other => {
            ck.add(
                Some(raw.transport.span()),
                "smtp.transport",
                format!("`{other}` is not a transport: use \"smtp\" or \"file\""),
            );
            None
        }
    };
    Some(Smtp {
        transport: transport?,
        from: from?,
    })
}

pub(super) fn build_notify(ck: &mut Checker, raw: RawNotify) -> Notify {
    Notify {
        recipients: addresses(ck, "notify.recipients", raw.recipients),
        admin_recipients: addresses(ck, "notify.admin_recipients", raw.admin_recipients),
        broken_after: raw.broken_after.unwrap_or(DEFAULT_BROKEN_AFTER).max(1),
        webhooks: raw
            .webhook
            .into_iter()
            .map(|w| Webhook {
                url_env: w.url_env,
                format: w.format,
                admin: w.admin,
            })
            .collect(),
    }
}

fn addresses(ck: &mut Checker, key: &str, raw: Vec<Spanned<String>>) -> Vec<Address> {
    raw.into_iter()
        .filter_map(|a| match a.get_ref().trim().parse::<Address>() {
            Ok(addr) => Some(addr),
            Err(e) => {
                ck.add(
                    Some(a.span()),
                    key,
                    format!("`{}` is not a mail address: {e}", a.get_ref()),
                );
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::config::tests::{GOOD, problems};

    #[test]
    fn alert_settings_load_with_defaults() {
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), GOOD).unwrap();
        assert_eq!(c.notify.broken_after, DEFAULT_BROKEN_AFTER);
        assert!(c.notify.webhooks.is_empty());
        let text = GOOD
            .replace("transport = \"file\"\ndir = \"out\"", "transport = \"smtp\"\nhost = \"relay.example\"\nca_file = \"ca.pem\"")
            .replace(
                "recipients = [\"secops@example.org\"]",
                "recipients = [\"secops@example.org\"]\nbroken_after = 5\n\n[[notify.webhook]]\nurl_env = \"HOOK\"\nformat = \"json\"\n\n[[notify.webhook]]\nurl_env = \"OPS\"\nformat = \"slack\"\nadmin = true",
            );
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), &text).unwrap();
        assert_eq!(c.notify.broken_after, 5);
        assert_eq!(
            c.notify.webhooks,
            [
                Webhook {
                    url_env: "HOOK".into(),
                    format: WebhookFormat::Json,
                    admin: false,
                },
                Webhook {
                    url_env: "OPS".into(),
                    format: WebhookFormat::Slack,
                    admin: true,
                }
            ]
        );
        assert!(matches!(
            &c.smtp.unwrap().transport,
            Transport::Smtp { ca_file: Some(f), .. } if f == Path::new("/etc/lw/ca.pem")
        ));
        let p = problems(&text.replace("format = \"json\"", "format = \"teams\""));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("unknown variant `teams`"), "{p:?}");
    }
}
