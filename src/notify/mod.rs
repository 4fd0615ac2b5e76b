//! Notify: from the outbox to people's inboxes (and chat channels).
//!
//! Rendering ([`email`]) is separate from sending ([`Mailer`]), as in
//! urlwatch: the email is a pure function of the alerts it carries.
//! [`deliver`] walks the outbox: assemble digests, render, send, and mark
//! each sent only once the server has accepted it. [`repeat`] decides which
//! matches are news, [`health`] which source-health changes admins hear
//! about, [`webhook`] posts the same digests to chat.

pub mod email;
pub mod health;
pub mod repeat;
pub mod webhook;

use std::collections::HashMap;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Security, Smtp, Transport};
use crate::store::{self, Store, StoreError};

// Stored in the outbox, rendered here: it lives with the store so that the
// store needs nothing from this stage.
pub use crate::store::Alert;

/// How long one SMTP conversation may take before it counts as failed (and is retried next run).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// The most one email (or the relay check) may take in all, whatever the
/// relay does: a run must end, and the email is kept for the next one.
pub const SEND_DEADLINE: Duration = Duration::from_secs(180);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("smtp.password_env names {0}, which is not set: export it in the environment that runs leakwatch")]
    MissingPassword(String),
    #[error("smtp: {0}")]
    Transport(String),
    #[error("cannot create the outbox folder {0}: {1}")]
    Dir(String, std::io::Error),
    #[error("no [smtp] section: add one to send alerts")]
    NotConfigured,
    #[error("smtp.ca_file {0}: {1}: it must be a readable PEM certificate")]
    CaFile(String, String),
}

/// A send that failed.
#[derive(Debug)]
pub struct SendError {
    /// The server refused for good (5xx): do not retry.
    pub permanent: bool,
    /// No conversation with the server at all: the rest will fail the same way.
    pub unreachable: bool,
    pub message: String,
}

/// Where emails go: an SMTP relay, or `.eml` files in a folder.
pub enum Mailer {
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        /// host:port, for error messages.
        server: String,
        username: Option<String>,
        password_env: Option<String>,
    },
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> Result<Mailer, NotifyError> {
        match &smtp.transport {
            Transport::File { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| NotifyError::Dir(dir.display().to_string(), e))?;
                Ok(Mailer::File(AsyncFileTransport::new(dir)))
            }
            Transport::Smtp {
                host,
                port,
                security,
                username,
                password_env,
                ca_file,
            } => {
                let tls = match security {
                    Security::None => None,
                    Security::Starttls | Security::Tls => Some(tls_parameters(host, ca_file.as_deref())?),
                };
                let builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).tls(match (security, tls) {
                        (Security::Starttls, Some(p)) => Tls::Required(p),
                        (Security::Tls, Some(p)) => Tls::Wrapper(p),
                        _ => Tls::None,
                    });
                let mut builder = builder.port(*port).timeout(Some(SMTP_TIMEOUT));
                if let Some(user) = username {
                    let password = match password_env {
                        Some(var) => std::env::var(var).map_err(|_| NotifyError::MissingPassword(var.clone()))?,
                        None => String::new(),
                    };
                    builder = builder.credentials(Credentials::new(user.clone(), password));
                }
                Ok(Mailer::Smtp {
                    transport: Box::new(builder.build()),
                    server: format!("{host}:{port}"),
                    username: username.clone(),
                    password_env: password_env.clone(),
                })
            }
        }
    }

    /// Connects, says hello, starts TLS and logs in, without sending: a
    /// failure here is about the relay or our settings, not a recipient, so
    /// the caller keeps every email for the next run and says what to fix.
    pub async fn check(&self) -> Result<(), SendError> {
        let Mailer::Smtp {
            transport,
            server,
            username,
            password_env,
        } = self
        else {
            return Ok(());
        };
        let unreachable = |message: String| SendError {
            permanent: false,
            unreachable: true,
            message,
        };
        let Ok(tested) = tokio::time::timeout(SEND_DEADLINE, transport.test_connection()).await else {
            return Err(unreachable(format!(
                "{server} did not finish connecting within {}s",
                SEND_DEADLINE.as_secs()
            )));
        };
        match tested {
            Ok(true) => Ok(()),
            Ok(false) => Err(unreachable(format!("{server} did not answer NOOP after login"))),
            Err(e)
                if e.status()
                    .is_some_and(|c| AUTH_REFUSED.contains(&c.to_string().as_str())) =>
            {
                Err(unreachable(format!(
                    "{server} refused the login for {}: check smtp.username and the password in ${} ({})",
                    username.as_deref().unwrap_or("(no username)"),
                    password_env.as_deref().unwrap_or("(smtp.password_env not set)"),
                    error_chain(&e)
                )))
            }
            Err(e) if e.is_tls() || error_chain(&e).contains("certificate") => Err(unreachable(format!(
                "TLS with {server} failed: {}: if the relay uses a private CA, name its certificate (PEM) in smtp.ca_file",
                error_chain(&e)
            ))),
            Err(e) => Err(unreachable(format!("cannot talk to {server}: {}", error_chain(&e)))),
        }
    }

    /// Sends one message; the server's reply on success.
    pub async fn send(&self, message: Message) -> Result<String, SendError> {
        match self {
            Mailer::Smtp { transport, server, .. } => tokio::time::timeout(SEND_DEADLINE, transport.send(message))
                .await
                .map_err(|_| SendError {
                    permanent: false,
                    unreachable: true,
                    message: format!("{server} did not take the email within {}s", SEND_DEADLINE.as_secs()),
                })?
                .map(|r| format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")))
                .map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    unreachable: !e.is_permanent() && !e.is_transient(),
                    message: error_chain(&e),
                }),
            Mailer::File(t) => t
                .send(message)
                .await
                .map(|id| format!("written as {id}.eml"))
                .map_err(|e| SendError {
                    permanent: false,
                    unreachable: true,
                    message: error_chain(&e),
                }),
        }
    }
}

/// SMTP replies that mean "your login is wrong or missing".
const AUTH_REFUSED: [&str; 4] = ["530", "534", "535", "538"];

/// TLS settings: the system's roots, plus the CA in `ca_file` when given.
fn tls_parameters(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters, NotifyError> {
    let mut params = TlsParameters::builder(host.to_owned());
    if let Some(file) = ca_file {
        let pem = std::fs::read(file).map_err(|e| NotifyError::CaFile(file.display().to_string(), e.to_string()))?;
        let cert =
            Certificate::from_pem(&pem).map_err(|e| NotifyError::CaFile(file.display().to_string(), e.to_string()))?;
        params = params.add_root_certificate(cert);
    }
    params.build().map_err(|e| NotifyError::Transport(error_chain(&e)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// What delivery came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub sent: i64,
    /// Left in the outbox for the next run.
    pub pending: i64,
    /// Refused for good by the server.
    pub failed: i64,
    /// One line per failure, naming the recipient.
    pub errors: Vec<String>,
}

/// How alerts name a source, and what a posting on it means.
#[derive(Debug, Clone)]
pub struct SourceLabel {
    pub label: String,
    /// `[[source]] disclosure`: "added to CISA KEV".
    pub disclosure: Option<String>,
}

/// Source names → how alerts name them.
pub type Labels = HashMap<String, SourceLabel>;

/// Labels each alert by its source, from the config.
pub fn label(labels: &Labels, alerts: &mut [Alert]) {
    for a in alerts {
        if let Some(l) = labels.get(&a.source) {
            a.source_label.clone_from(&l.label);
            a.disclosure.clone_from(&l.disclosure);
        }
        for other in &mut a.also_reported_by {
            if let Some(l) = labels.get(other.as_str()) {
                other.clone_from(&l.label);
            }
        }
    }
}

/// Sends every pending digest. `labels` maps source names to the labels
/// emails show.
pub async fn deliver(store: &mut Store, mailer: &Mailer, smtp: &Smtp, labels: &Labels) -> Result<Delivery, StoreError> {
    let domain = smtp.from.email.domain().to_owned();
    store.assemble_digests(&store::now(), &domain)?;
    let mut out = Delivery::default();
    let pending: Vec<_> = store
        .pending_digests()?
        .into_iter()
        .filter(|d| !d.recipient.starts_with(webhook::PREFIX))
        .collect();
    let mut gate = Gate::default();
    for digest in pending {
        if gate.down {
            if let Some(e) = &gate.setup_error {
                store.mark_digest_failed(digest.id, e, false)?;
            }
            out.pending += 1;
            continue;
        }
        let mut alerts = store.digest_alerts(digest.id)?;
        if alerts.is_empty() {
            store.mark_digest_failed(digest.id, "nothing left to send: its watch entries were removed", true)?;
            continue;
        }
        label(labels, &mut alerts);
        let rendered = email::render(&alerts);
        let message = match email::message(&smtp.from, &digest.recipient, &digest.message_id, &rendered) {
            Ok(m) => m,
            Err(e) => {
                let msg = format!("cannot build the email to {}: {e}", digest.recipient);
                store.mark_digest_failed(digest.id, &msg, true)?;
                out.failed += 1;
                out.errors.push(msg);
                continue;
            }
        };
        match mailer.send(message).await {
            Ok(_reply) => {
                store.mark_digest_sent(digest.id, &store::now())?;
                out.sent += 1;
            }
            Err(e) => {
                let (error, permanent) = gate.judge(mailer, e, "email", &digest.recipient, &mut out).await;
                store.mark_digest_failed(digest.id, &error, permanent)?;
            }
        }
    }
    deliver_admin_alerts(store, mailer, smtp, labels, &mut gate, &mut out).await?;
    Ok(out)
}

/// Whether the relay and our settings work, learned from the first failed
/// send rather than an extra connection up front (a run keeps one pooled
/// connection for all its emails).
#[derive(Default)]
struct Gate {
    checked: bool,
    /// The relay or our settings are at fault: every email waits.
    setup_error: Option<String>,
    /// Stop trying this run.
    down: bool,
}

impl Gate {
    /// After a failed send: is it the relay or our configuration (cannot
    /// connect, TLS, login) rather than this message? Checked once per run,
    /// so a wrong password keeps emails pending instead of failing them.
    async fn setup_problem(&mut self, mailer: &Mailer) -> Option<String> {
        if !self.checked {
            self.checked = true;
            if let Err(e) = mailer.check().await {
                self.setup_error = Some(e.message);
                self.down = true;
            }
        }
        self.setup_error.clone()
    }

    /// What a failed send means: the error to record and whether it is final
    /// (the server refused for good). Counts it and says so in `out`.
    async fn judge(
        &mut self,
        mailer: &Mailer,
        e: SendError,
        what: &str,
        recipient: &str,
        out: &mut Delivery,
    ) -> (String, bool) {
        if let Some(setup) = self.setup_problem(mailer).await {
            out.pending += 1;
            out.errors.push(format!(
                "{what} to {recipient} not sent, kept for the next run: {setup}"
            ));
            return (setup, false);
        }
        if e.permanent {
            out.failed += 1;
            out.errors.push(format!("{what} to {recipient} refused: {}", e.message));
        } else {
            out.pending += 1;
            out.errors.push(format!(
                "{what} to {recipient} not sent, kept for the next run: {}",
                e.message
            ));
            self.down = e.unreachable;
        }
        (e.message, e.permanent)
    }
}

/// Sends pending admin alerts (source health), after the digests.
async fn deliver_admin_alerts(
    store: &mut Store,
    mailer: &Mailer,
    smtp: &Smtp,
    labels: &Labels,
    gate: &mut Gate,
    out: &mut Delivery,
) -> Result<(), StoreError> {
    let emails = store
        .pending_admin_alerts()?
        .into_iter()
        .filter(|a| !a.recipient.starts_with(webhook::PREFIX));
    for alert in emails {
        if gate.down {
            out.pending += 1;
            continue;
        }
        let label = labels
            .get(&alert.source)
            .map_or(alert.source.as_str(), |l| l.label.as_str());
        let rendered = health::render(&alert, label);
        let sent = match email::message(&smtp.from, &alert.recipient, &alert.message_id, &rendered) {
            Ok(message) => mailer.send(message).await,
            Err(e) => Err(SendError {
                permanent: true,
                unreachable: false,
                message: format!("cannot build the email: {e}"),
            }),
        };
        match sent {
            Ok(_) => {
                store.mark_admin_alert_sent(alert.id, &store::now())?;
                out.sent += 1;
            }
            Err(e) => {
                let (error, permanent) = gate.judge(mailer, e, "admin email", &alert.recipient, out).await;
                store.mark_admin_alert_failed(alert.id, &error, permanent)?;
            }
        }
    }
    Ok(())
}

/// A dry run's emails: every pending digest and admin alert rendered as
/// text, nothing sent. Run on a copy of the database (see `run --dry-run`).
pub fn preview(store: &mut Store, smtp: Option<&Smtp>, labels: &Labels) -> Result<Vec<String>, StoreError> {
    let from = smtp.map_or_else(
        || "leakwatch <alerts@leakwatch.invalid>".to_owned(),
        |s| s.from.to_string(),
    );
    let domain = smtp.map_or("leakwatch.invalid", |s| s.from.email.domain()).to_owned();
    store.assemble_digests(&store::now(), &domain)?;
    let show = |to: &str, message_id: &str, r: &email::Rendered| {
        format!(
            "From: {from}\nTo: {to}\nSubject: {}\nMessage-ID: {message_id}\n(text part below; an HTML part with the same content is sent too)\n\n{}",
            r.subject, r.text
        )
    };
    let mut out = Vec::new();
    for digest in store.pending_digests()? {
        let mut alerts = store.digest_alerts(digest.id)?;
        if alerts.is_empty() {
            continue;
        }
        label(labels, &mut alerts);
        out.push(show(&digest.recipient, &digest.message_id, &email::render(&alerts)));
    }
    for alert in store.pending_admin_alerts()? {
        let label = labels
            .get(&alert.source)
            .map_or(alert.source.as_str(), |l| l.label.as_str());
        out.push(show(
            &alert.recipient,
            &alert.message_id,
            &health::render(&alert, label),
        ));
    }
    Ok(out)
}

/// `leakwatch notify test`: sends one short message to `to` and returns
/// the server's reply.
pub async fn send_test(smtp: &Smtp, to: &str) -> Result<String, String> {
    let mailer = Mailer::new(smtp).map_err(|e| e.to_string())?;
    mailer.check().await.map_err(|e| e.message)?;
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let message_id = format!("<leakwatch.test.{stamp:x}@{}>", smtp.from.email.domain());
    let rendered = email::Rendered {
        subject: "[leakwatch] test message".to_owned(),
        text: "This is a test message from `leakwatch notify test`: alerts can reach this address.\n-- \nleakwatch\n"
            .to_owned(),
        html: "<!DOCTYPE html>\n<html><body><p>This is a test message from <code>leakwatch notify test</code>: alerts can reach this address.</p></body></html>\n".to_owned(),
    };
    let message = email::message(&smtp.from, to, &message_id, &rendered)?;
    mailer.send(message).await.map_err(|e| {
        if e.permanent {
            format!("the server refused the message to {to}: {}", e.message)
        } else {
            format!("the message to {to} was not sent: {}", e.message)
        }
    })
}
