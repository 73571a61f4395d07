//! Page sessions: an opaque random secret in a cookie (`__Host-`, `Secure`, `HttpOnly`,
//! `SameSite=Strict` over HTTPS), the session itself in Redis under the secret's SHA-256, so
//! neither Redis nor a log ever holds a usable cookie. A session lapses after its idle time;
//! signing in starts a new one (a secret planted before sign-in is worth nothing after), signing
//! out deletes it.
//!
//! Every session carries a CSRF token, given to each form and compared in constant time with the
//! session's on every POST.
//!
//! Why not actix-session: its middleware answers a bare 500 when its store fails, where every
//! page here answers a retryable 503, and it would bring a second Redis client (see
//! `docs/architecture.md`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine as _;
use domain::ids::{BranchId, MemberId, StaffId};
use domain::staff::{StaffMember, StaffStatus};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::Pages;
use crate::error::{Failure, PageError};

/// What a session remembers.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    /// The token every form of this session carries.
    pub csrf: String,
    /// The member of staff signed in.
    pub staff: Option<StaffId>,
    /// The club member signed in (the member portal).
    #[serde(default)]
    pub member: Option<MemberId>,
    /// The key of the phone a sign-in code was just sent to (its keyed lookup, never the phone
    /// itself) and its last digits, while the member types the code.
    #[serde(default)]
    pub code_phone: Option<(String, String)>,
    /// The branch a till works at.
    pub branch: Option<BranchId>,
    /// The card on the till (kept here, never in a URL).
    pub card: Option<String>,
    /// The member just enrolled at the till, shown once.
    #[serde(default)]
    pub enrolled: Option<Enrolled>,
}

/// A member just enrolled at the till: what the cashier tells them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Enrolled {
    pub card: String,
    pub invite_code: String,
    pub bonus_points: i64,
}

/// A session: loaded from its cookie, or new (stored only once something is saved in it).
#[derive(Debug)]
pub(crate) struct Session {
    secret: Option<String>,
    pub state: State,
}

fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .unwrap_or_else(|e| panic!("the system's random source failed: {e}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hashed(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cookie_name(pages: &Pages) -> &'static str {
    if pages.settings.secure_cookies {
        "__Host-clubgate-session"
    } else {
        "clubgate-session"
    }
}

fn pages_of(req: &HttpRequest) -> Result<Data<Pages>, PageError> {
    req.app_data::<Data<Pages>>()
        .cloned()
        .ok_or_else(|| PageError::internal("the pages' state is not configured"))
}

impl Session {
    /// The request's session, or a new one.
    pub(crate) async fn of(req: &HttpRequest, pages: &Pages) -> Result<Self, PageError> {
        let idle = pages.settings.session_idle;
        if let Some(cookie) = req.cookie(cookie_name(pages)) {
            let secret = cookie.value().to_owned();
            if let Some(stored) =
                storage::sessions::load(&pages.club.storage, &hashed(&secret), idle).await?
                && let Ok(state) = serde_json::from_str::<State>(&stored)
            {
                return Ok(Self {
                    secret: Some(secret),
                    state,
                });
            }
        }
        Ok(Self {
            secret: None,
            state: State {
                csrf: random_token(),
                ..State::default()
            },
        })
    }

    /// Stores the session; the cookie to set when it is new.
    pub(crate) async fn save(
        &mut self,
        pages: &Pages,
    ) -> Result<Option<Cookie<'static>>, PageError> {
        let (secret, is_new) = match &self.secret {
            Some(secret) => (secret.clone(), false),
            None => (random_token(), true),
        };
        let document = serde_json::to_string(&self.state).map_err(PageError::internal)?;
        storage::sessions::save(
            &pages.club.storage,
            &hashed(&secret),
            &document,
            pages.settings.session_idle,
        )
        .await?;
        self.secret = Some(secret.clone());
        Ok(is_new.then(|| {
            Cookie::build(cookie_name(pages), secret)
                .path("/")
                .secure(pages.settings.secure_cookies)
                .http_only(true)
                .same_site(SameSite::Strict)
                .finish()
        }))
    }

    /// Starts the session again under a new secret and CSRF token (at sign-in: whoever knew the
    /// old secret knows nothing now).
    pub(crate) async fn renew(&mut self, pages: &Pages) -> Result<(), PageError> {
        if let Some(old) = self.secret.take() {
            storage::sessions::delete(&pages.club.storage, &hashed(&old)).await?;
        }
        self.state = State {
            csrf: random_token(),
            ..State::default()
        };
        Ok(())
    }

    /// Ends the session; the cookie that clears it in the browser.
    pub(crate) async fn end(self, pages: &Pages) -> Result<Cookie<'static>, PageError> {
        if let Some(secret) = &self.secret {
            storage::sessions::delete(&pages.club.storage, &hashed(secret)).await?;
        }
        let mut removal = Cookie::build(cookie_name(pages), "")
            .path("/")
            .secure(pages.settings.secure_cookies)
            .http_only(true)
            .same_site(SameSite::Strict)
            .finish();
        removal.make_removal();
        Ok(removal)
    }

    /// Refuses a form whose token is not this session's.
    pub(crate) fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        let known = self.secret.is_some() && !self.state.csrf.is_empty();
        if known && bool::from(self.state.csrf.as_bytes().ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            tracing::warn!("a form with a wrong CSRF token was refused");
            Err(PageError::new(Failure::CsrfRefused))
        }
    }
}

/// A signed-in member of staff, as their account is now, and their session.
pub(crate) struct Staff {
    pub member: StaffMember,
    pub session: Session,
    pub pages: Data<Pages>,
}

impl FromRequest for Staff {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let pages = pages_of(&req)?;
            let session = Session::of(&req, &pages).await?;
            let ended = if req.method() == actix_web::http::Method::GET {
                Failure::SignInNeeded
            } else {
                Failure::SessionEnded
            };
            let Some(id) = session.state.staff else {
                return Err(PageError::new(ended));
            };
            match operations::staff::by_id(&pages.club.storage, id).await? {
                Some(member) if member.status == StaffStatus::Active => Ok(Self {
                    member,
                    session,
                    pages,
                }),
                _ => Err(PageError::new(ended)),
            }
        })
    }
}

/// A session, signed in or not (the sign-in page's).
pub(crate) struct AnySession {
    pub session: Session,
    pub pages: Data<Pages>,
}

impl FromRequest for AnySession {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let pages = pages_of(&req)?;
            let session = Session::of(&req, &pages).await?;
            Ok(Self { session, pages })
        })
    }
}

/// A signed-in club member (the member portal) and their session.
pub(crate) struct SignedInMember {
    pub id: MemberId,
    pub session: Session,
    pub pages: Data<Pages>,
}

impl FromRequest for SignedInMember {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let pages = pages_of(&req)?;
            let session = Session::of(&req, &pages).await?;
            match session.state.member {
                Some(id) => Ok(Self { id, session, pages }),
                None if req.method() == actix_web::http::Method::GET => {
                    Err(PageError::new(Failure::MemberSignInNeeded))
                }
                None => Err(PageError::new(Failure::SessionEnded)),
            }
        })
    }
}
