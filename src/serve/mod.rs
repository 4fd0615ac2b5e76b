//! `leakwatch serve`: the analyst workspace, a web UI over the same database
//! cron runs write to.
//!
//! Routes are fixed in DESIGN.md ("The analyst workspace over HTTP"). The
//! pages are compile-time templates (askama, `templates/`), which escape
//! every value; a Content-Security-Policy forbids scripts and anything from
//! another origin, so even a slip in escaping could not run code. Leak-site
//! links are shown as text, never as live links. Database work runs on the
//! blocking pool: SQLite in WAL mode lets a cron run write while the
//! workspace reads, and both wait (busy timeout) for the other's short
//! write transactions.

mod actions;
pub mod auth;
mod pages;
mod tls;
mod views;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tower_http::set_header::SetResponseHeaderLayer;

pub use auth::{hash_password, verify_password};

use crate::config::Config;
use crate::store::{Store, StoreError};

/// The largest CSV upload accepted (the body limit is a little more, for the form around it).
pub const MAX_UPLOAD_BYTES: usize = 1 << 20;

/// Forbids scripts, plugins, framing and anything from elsewhere; styles
/// and images only from this server, forms only to it.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// How `serve` was asked to listen.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Listen on a non-loopback address without TLS, knowingly.
    pub insecure_listen: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{0} is not a loopback address: passwords and session cookies would cross the network in clear text. Set [serve] tls_cert and tls_key in the config for HTTPS, or pass --insecure-listen if the network is trusted"
    )]
    NotLoopback(SocketAddr),
    #[error("{0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    store: Arc<Mutex<Store>>,
    config: Arc<Config>,
    limits: Arc<auth::LoginLimits>,
    /// Cookies get `Secure` (set when served over TLS).
    secure: bool,
}

impl App {
    /// Runs `f` on the database, off the async threads.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, AppError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut store)
        })
        .await
        .map_err(|e| AppError::Internal(format!("database task: {e}")))?
        .map_err(AppError::from)
    }
}

/// Why a request failed, as the browser sees it.
#[derive(Debug)]
pub enum AppError {
    Forbidden(&'static str),
    NotFound,
    BadRequest(String),
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        AppError::Internal(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m.to_owned()),
            AppError::NotFound => (StatusCode::NOT_FOUND, "no such page".to_owned()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Internal(m) => {
                tracing::error!("workspace: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "something failed on the server; the log says what".to_owned(),
                )
            }
        };
        (status, views::error_page(status, &message)).into_response()
    }
}

/// The whole workspace, routes and layers.
pub fn router(store: Store, config: Config, secure: bool) -> Router {
    let app = App {
        store: Arc::new(Mutex::new(store)),
        config: Arc::new(config),
        limits: Arc::new(auth::LoginLimits::default()),
        secure,
    };
    let signed_in = Router::new()
        .route("/", get(pages::overview))
        .route("/matches", get(pages::matches))
        .route("/matches/{id}", get(pages::match_detail))
        .route("/matches/{id}/triage", post(actions::triage))
        .route("/watch", get(pages::watch).post(actions::watch_put))
        .route("/watch/remove", post(actions::watch_remove))
        .route("/watch/import", post(actions::watch_import))
        .route("/watch/export", get(pages::watch_export))
        .route("/sources", get(pages::sources))
        .route("/postings", get(pages::postings))
        .route("/audit", get(pages::audit))
        .route("/logout", post(actions::logout))
        // `layer`, not `route_layer`: a method a page does not take (PUT,
        // DELETE) is refused for want of a session too, not answered 405.
        .layer(middleware::from_fn_with_state(app.clone(), auth::require_session));
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ];
    if secure {
        headers.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    let mut router = Router::new()
        .merge(signed_in)
        .route("/login", get(pages::login).post(actions::login))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/style.css", get(pages::style))
        .fallback(|| async { AppError::NotFound })
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024))
        .with_state(app);
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// Serves the workspace until SIGTERM or Ctrl-C: HTTPS when the config has
/// `[serve] tls_cert` and `tls_key`, else plain HTTP, on loopback only
/// unless `insecure_listen`.
pub async fn serve(config: Config, options: ServeOptions) -> Result<(), ServeError> {
    let tls = config
        .serve_tls
        .as_ref()
        .map(tls::acceptor)
        .transpose()
        .map_err(ServeError::Tls)?;
    if tls.is_none() && !options.listen.ip().is_loopback() && !options.insecure_listen {
        return Err(ServeError::NotLoopback(options.listen));
    }
    let store = Store::open(&config.database)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let mut stop = crate::schedule::stop_on_signals()?;
    let shutdown = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    // The address goes to stdout, so a script (or a test) that asked for
    // port 0 learns which one it got.
    match tls {
        Some(acceptor) => {
            println!("leakwatch workspace on https://{addr}/");
            let app = router(store, config, true);
            let listener = tls::TlsListener {
                tcp: listener,
                acceptor,
            }
            .tap_io(|_| {});
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        None => {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    "serving over plain HTTP on {addr} (--insecure-listen): passwords cross the network unencrypted"
                );
            }
            println!("leakwatch workspace on http://{addr}/");
            let app = router(store, config, false);
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
}
