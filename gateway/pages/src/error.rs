//! How a page fails: a status and what the person is told, in their language. A handler
//! returns a [`PageError`]; the pages' middleware, which knows the request's language, renders
//! it as a page (or, for a session that has ended on a page read, a redirect to sign in).
//! Storage failures are a retryable 503 with `Retry-After`, never a 500.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use operations::error::OperationError;
use operations::idempotency::IdempotencyError;
use storage::StorageError;

use crate::words::{self, Words};

/// What went wrong, as a page tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound,
    Forbidden,
    /// A page read without a session: go and sign in.
    SignInNeeded,
    /// A member's page read without a session: go and sign in to the portal.
    MemberSignInNeeded,
    /// A form sent after the session ended.
    SessionEnded,
    CsrfRefused,
    Unavailable,
    BadForm(String),
    Internal,
}

/// A page's failure.
#[derive(Debug, thiserror::Error)]
#[error("{failure:?}")]
pub(crate) struct PageError {
    failure: Failure,
}

impl PageError {
    pub(crate) fn new(failure: Failure) -> Self {
        Self { failure }
    }

    pub(crate) fn not_found(_req: &HttpRequest) -> Self {
        Self::new(Failure::NotFound)
    }

    pub(crate) fn bad_form(detail: String, _req: &HttpRequest) -> Self {
        Self::new(Failure::BadForm(detail))
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "page failed");
        Self::new(Failure::Internal)
    }
}

impl From<StorageError> for PageError {
    fn from(err: StorageError) -> Self {
        tracing::warn!(error = %err, "storage unavailable for a page");
        Self::new(Failure::Unavailable)
    }
}

impl From<IdempotencyError> for PageError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::Storage(err) => err.into(),
            // A key is minted per form, so these mean a form replayed with other fields.
            other => Self::new(Failure::BadForm(other.to_string())),
        }
    }
}

impl<E: std::fmt::Display> From<OperationError<E>> for PageError {
    /// For operations a page does not expect to be refused.
    fn from(err: OperationError<E>) -> Self {
        match err {
            OperationError::Storage(err) => err.into(),
            OperationError::Refused(refused) => Self::internal(refused),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(err: askama::Error) -> Self {
        Self::internal(err)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self.failure {
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::Forbidden | Failure::CsrfRefused => StatusCode::FORBIDDEN,
            Failure::SignInNeeded | Failure::MemberSignInNeeded => StatusCode::SEE_OTHER,
            Failure::SessionEnded => StatusCode::UNAUTHORIZED,
            Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Failure::BadForm(_) => StatusCode::BAD_REQUEST,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bare answer carrying the failure: [`render`] turns it into the page.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self.failure {
            Failure::SignInNeeded => {
                response.insert_header(("location", "/staff/sign-in"));
            }
            Failure::MemberSignInNeeded => {
                response.insert_header(("location", "/member/sign-in"));
            }
            Failure::Unavailable => {
                response.insert_header(("retry-after", "2"));
            }
            _ => {}
        }
        let mut response = response.finish();
        response.extensions_mut().insert(self.failure.clone());
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    w: &'static Words,
    message: &'a str,
    detail: &'a str,
}

/// The page for a failure, in the request's language.
pub(crate) fn render(req: &HttpRequest, failure: &Failure) -> Option<String> {
    let w = words::of(req);
    let (message, detail) = match failure {
        Failure::SignInNeeded | Failure::MemberSignInNeeded => return None,
        Failure::NotFound => (w.not_found, ""),
        Failure::Forbidden => (w.forbidden, ""),
        Failure::SessionEnded => (w.session_ended, ""),
        Failure::CsrfRefused => (w.csrf_refused, ""),
        Failure::Unavailable => (w.unavailable, ""),
        Failure::BadForm(detail) => (w.bad_form, detail.as_str()),
        Failure::Internal => (w.internal, ""),
    };
    ErrorPage { w, message, detail }.render().ok()
}

/// A rendered page as a 200 answer.
pub(crate) fn html(rendered: askama::Result<String>) -> Result<HttpResponse, PageError> {
    Ok(page(StatusCode::OK, rendered?))
}

/// A rendered page as an answer of `status` (a form shown again with why it was refused).
pub(crate) fn page(status: StatusCode, body: String) -> HttpResponse {
    page_setting(status, body, None)
}

/// A rendered page as an answer of `status`, setting `cookie` (a new session's).
pub(crate) fn page_setting(
    status: StatusCode,
    body: String,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    response.content_type("text/html; charset=utf-8").body(body)
}
