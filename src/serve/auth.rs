//! Who is asking: passwords (Argon2id), sessions, CSRF tokens and the login
//! rate limit.
//!
//! A session is a random 256-bit value in an HttpOnly, SameSite=Strict
//! cookie, created by the server at each login (a value the browser brings
//! is never adopted: no session fixation). Each session has its own CSRF
//! token, which every state-changing request must carry as the form field
//! `csrf` or the `X-CSRF-Token` header. The login form itself is protected
//! by a double-submit token: a pre-login cookie that the form must repeat.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{App, AppError};

/// The session cookie.
pub const SESSION_COOKIE: &str = "lw_session";
/// The pre-login cookie the login form repeats as `csrf`.
pub const LOGIN_COOKIE: &str = "lw_login";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// Hashes `password` as an Argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, hash: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash to verify against when the account does not exist, so an unknown
/// name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("leakwatch decoy password").unwrap_or_default())
}

/// 256 random bits, hex.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && !a.is_empty() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The signed-in user of a request (put there by [`require_session`]).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user: String,
    pub role: String,
    pub csrf: String,
}

impl Session {
    /// The request's CSRF token (form field or header) is this session's.
    pub fn check_csrf(&self, headers: &HeaderMap, field: Option<&str>) -> Result<(), AppError> {
        let header = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        match field.filter(|f| !f.is_empty()).or(header) {
            Some(t) if same_token(t, &self.csrf) => Ok(()),
            _ => Err(AppError::Forbidden(
                "missing or wrong CSRF token: reload the page and try again",
            )),
        }
    }

    pub fn analyst(&self) -> bool {
        self.role == "analyst"
    }
}

/// Every page but `/login`, `/healthz` and the style sheet: without a live
/// session a GET goes to the login page and anything else is refused (401);
/// a viewer may only read (403).
pub async fn require_session(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let Some(id) = cookie(req.headers(), SESSION_COOKIE) else {
        return refuse(reading);
    };
    let lookup = id.clone();
    let user = match app.db(move |s| s.session_user(&lookup)).await {
        Ok(Some(u)) => u,
        Ok(None) => return refuse(reading),
        Err(e) => return e.into_response(),
    };
    let session = Session {
        id,
        user: user.name,
        role: user.role,
        csrf: user.csrf,
    };
    if !reading && !session.analyst() {
        return AppError::Forbidden("viewers may read, not change: ask an analyst").into_response();
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

fn refuse(reading: bool) -> Response {
    if reading {
        Redirect::to("/login").into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "sign in first").into_response()
    }
}

/// Login attempts allowed per account and per client address.
pub struct LoginLimits {
    account: DefaultKeyedRateLimiter<String>,
    address: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        let quota = |period: u64, burst: u32| {
            Quota::with_period(Duration::from_secs(period))
                .expect("period is not zero")
                .allow_burst(NonZeroU32::new(burst).expect("burst is not zero"))
        };
        LoginLimits {
            // 5 tries, then one every 12 s per account; 20, then one every 3 s per address.
            account: RateLimiter::keyed(quota(12, 5)),
            address: RateLimiter::keyed(quota(3, 20)),
        }
    }
}

impl LoginLimits {
    /// Counts an attempt; false when the account or address is over its limit.
    pub fn allow(&self, account: &str, address: IpAddr) -> bool {
        let by_address = self.address.check_key(&address).is_ok();
        let by_account = self.account.check_key(&account.to_lowercase()).is_ok();
        if self.account.len() > 10_000 {
            self.account.retain_recent();
            self.address.retain_recent();
        }
        by_address && by_account
    }
}

/// Checks a name and password; the hash work runs off the async threads.
pub async fn authenticate(app: &App, name: String, password: String) -> Result<bool, AppError> {
    let lookup = name.clone();
    let stored = app.db(move |s| s.credentials(&lookup)).await?;
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some((hash, _)) => verify_password(&password, &hash),
        None => {
            verify_password(&password, decoy_hash());
            false
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_differ_and_compare() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token("", ""));
    }

    #[test]
    fn login_limit_stops_an_account_after_five_tries() {
        let limits = LoginLimits::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let allowed = (0..50).filter(|_| limits.allow("alice", ip)).count();
        assert_eq!(allowed, 5);
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(
            !limits.allow("ALICE", other),
            "the account limit holds from another address"
        );
        assert!(limits.allow("bob", other));
    }
}
