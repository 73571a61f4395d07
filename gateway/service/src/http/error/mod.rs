//! The only mapping from errors to HTTP: RFC 9457 problem documents with a stable `code`.
//!
//! The codes are the errors' own (`code()` on every domain error); this module decides
//! each one's status and title, one file per area. Every `From` is an exhaustive
//! `match` with no catch-all arm, so a new error variant cannot compile until someone
//! decides its status. Internal causes are logged once, by the request span, and
//! never sent to the client. `docs/errors.md` lists every code; a test keeps the two
//! in step, reading the codes from the error types.

mod auth;
mod keys;
mod ledger;
mod members;
mod program;
mod settlement;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use operations::error::OperationError;
use partners::protocol::Problem;
use storage::StorageError;

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: status, stable code, human title and detail.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    /// The internal cause, logged and never sent.
    internal: Option<String>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            internal: None,
        }
    }

    /// 400.
    pub(crate) fn bad_request(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, title, detail)
    }

    /// 401.
    pub(crate) fn unauthorized(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, title, detail)
    }

    /// 403.
    pub(crate) fn forbidden(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, title, detail)
    }

    /// 404.
    pub(crate) fn not_found(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, title, detail)
    }

    /// 409.
    pub(crate) fn conflict(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::CONFLICT, code, title, detail)
    }

    /// 422.
    pub(crate) fn unprocessable(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, detail)
    }

    /// A failure of ours: the client sees a generic message, the log sees the cause.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(cause.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
                "the gateway failed to process the request; it was not applied, and it is safe to retry",
            )
        }
    }

    /// A dependency is down or saturated; retrying later may succeed.
    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(cause.to_string()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
                "the gateway cannot reach its storage right now; the request was not applied, retry later",
            )
        }
    }

    /// The stable error code.
    #[cfg(test)]
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:clubgate:error:{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
        }
    }

    fn body(&self) -> Vec<u8> {
        // Serialising a struct of strings and an integer cannot fail.
        serde_json::to_vec(&self.problem()).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.code, self.detail)?;
        match &self.internal {
            Some(cause) => write!(f, "; cause: {cause}"),
            None => Ok(()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    // Logged once, by tracing-actix-web's request span (5xx at error, 4xx at warn),
    // with this Debug form: the internal cause is in it, the client never sees it.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The failures answered 503 pass within a second or two (a restart, a failover, a
            // lost connection): a client's retry loop may pace itself on this.
            response.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
        }
        response.content_type(PROBLEM_JSON).body(self.body())
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        // A figure PostgreSQL refused as out of range came from the request's amounts.
        if err.is_out_of_range() {
            return domain::pricing::PricingError::AmountTooLarge.into();
        }
        if err.is_transient() {
            Self::unavailable(err)
        } else {
            Self::internal(err)
        }
    }
}

impl<E> From<OperationError<E>> for ApiError
where
    ApiError: From<E>,
{
    fn from(err: OperationError<E>) -> Self {
        match err {
            OperationError::Refused(refused) => refused.into(),
            OperationError::Storage(err) => err.into(),
        }
    }
}

/// Codes raised directly by the HTTP layer (not from a domain error).
pub(crate) mod codes {
    pub(crate) const MALFORMED_JSON: &str = "malformed_json";
    pub(crate) const INVALID_KEY: &str = "invalid_key";
    pub(crate) const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub(crate) const BODY_UNREADABLE: &str = "body_unreadable";
    pub(crate) const CONTENT_TYPE_UNSUPPORTED: &str = "content_type_unsupported";
    pub(crate) const CONTENT_ENCODING_UNSUPPORTED: &str = "content_encoding_unsupported";
    pub(crate) const ROUTE_NOT_FOUND: &str = "route_not_found";
    pub(crate) const INVALID_REQUEST: &str = "invalid_request";
    pub(crate) const REQUEST_HEAD_MALFORMED: &str = "request_head_malformed";
    pub(crate) const REQUEST_HEAD_TOO_LARGE: &str = "request_head_too_large";
    pub(crate) const REQUEST_HEAD_TIMEOUT: &str = "request_head_timeout";
}

/// A key sent for registration is not a public Ed25519 JWK.
pub(crate) fn invalid_key(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable(codes::INVALID_KEY, "Invalid key", detail)
}

/// The body is not the JSON the route expects.
pub(crate) fn malformed_json(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(codes::MALFORMED_JSON, "Malformed JSON", detail.to_string())
}

/// The request body is larger than the configured limit.
pub(crate) fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        "Request body too large",
        format!("the body exceeds the limit of {limit} bytes"),
    )
}

/// The body could not be read (truncated, or an unsupported `Content-Encoding`).
pub(crate) fn body_unreadable(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        codes::BODY_UNREADABLE,
        "Unreadable body",
        detail.to_string(),
    )
}

/// A JSON body sent as another media type.
pub(crate) fn content_type_unsupported(sent: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        codes::CONTENT_TYPE_UNSUPPORTED,
        "Unsupported media type",
        format!("the body is JSON: send it with Content-Type: application/json (got {sent:?})"),
    )
}

/// A body with a content coding. RFC 9530 digests the content as sent, so a decoded body could
/// only be checked against a digest of the encoded bytes; the gateway takes bodies as they are.
pub(crate) fn content_encoding_unsupported(sent: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        codes::CONTENT_ENCODING_UNSUPPORTED,
        "Unsupported content encoding",
        format!("send the body without Content-Encoding (got {sent:?})"),
    )
}

/// A field of the request is out of range; `detail` names it.
pub(crate) fn invalid_request(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable(codes::INVALID_REQUEST, "Invalid request", detail)
}

/// An operator key signed a partner request.
pub(crate) fn partner_key_required(detail: String) -> ApiError {
    ApiError::forbidden("partner_key_required", "Partner key required", detail)
}

/// A partner key signed an operator request.
pub(crate) fn operator_key_required(detail: String) -> ApiError {
    ApiError::forbidden("operator_key_required", "Operator key required", detail)
}

/// The operator key's role does not include this endpoint.
pub(crate) fn role_not_granted(detail: String) -> ApiError {
    ApiError::forbidden("role_not_granted", "Role not granted", detail)
}

/// No route answers this method and path.
pub(crate) fn route_not_found(method: &str, path: &str) -> ApiError {
    ApiError::not_found(
        codes::ROUTE_NOT_FOUND,
        "No such route",
        format!("no route for {method} {path}"),
    )
}

/// The refusal the HTTP/1 parser answers itself, before any request or handler exists: a head
/// that does not parse (a control character in a header value), over the parser's buffer
/// (128 KiB or 96 header fields), or not complete within the client request timeout.
fn parser_refusal(status: StatusCode) -> Option<ApiError> {
    let (code, title, detail) = match status {
        StatusCode::BAD_REQUEST => (
            codes::REQUEST_HEAD_MALFORMED,
            "Malformed request head",
            "the request line or a header does not parse (e.g. a control character in a header value)",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            codes::REQUEST_HEAD_TOO_LARGE,
            "Request head too large",
            "the request head is over 128 KiB or has more than 96 header fields",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            codes::REQUEST_HEAD_TIMEOUT,
            "Request head timeout",
            "the request head did not arrive in time",
        ),
        _ => return None,
    };
    Some(ApiError::new(status, code, title, detail))
}

/// Makes the HTTP/1 dispatcher's own refusals problem documents (the vendored actix-http's hook).
pub(crate) fn render_parser_refusals() {
    // A second server in the same process (tests) finds the renderer already set: the same one.
    let _ = actix_http::h1::set_error_body(|status| {
        parser_refusal(status).map(|error| (PROBLEM_JSON, error.body().into()))
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use domain::cards::CardError;
    use domain::keys::KeyError;
    use domain::ledger::LedgerError;
    use domain::members::EnrolmentError;
    use domain::partners::{BranchError, PartnerError};
    use domain::pricing::PricingError;
    use domain::program::rules::RuleError;
    use domain::settlement::SettlementError;
    use domain::settlement::reconcile::ReconcileError;
    use domain::settlement::terms::TermsError;
    use operations::authentication::AuthError;
    use operations::idempotency::IdempotencyError;
    use strum::IntoEnumIterator as _;

    use super::*;

    /// Every code an answer can carry, with its status: every variant of every error type
    /// through its mapping, and the errors the HTTP layer raises itself.
    fn codes_from_types() -> BTreeMap<String, u16> {
        let mut errors: Vec<ApiError> = Vec::new();
        errors.extend(AuthError::iter().map(ApiError::from));
        errors.extend(IdempotencyError::iter().map(ApiError::from));
        errors.extend(CardError::iter().map(ApiError::from));
        errors.extend(BranchError::iter().map(ApiError::from));
        errors.extend(PricingError::iter().map(ApiError::from));
        errors.extend(LedgerError::iter().map(ApiError::from));
        errors.extend(EnrolmentError::iter().map(ApiError::from));
        errors.extend(KeyError::iter().map(ApiError::from));
        errors.extend(PartnerError::iter().map(ApiError::from));
        errors.extend(SettlementError::iter().map(ApiError::from));
        errors.extend(TermsError::iter().map(ApiError::from));
        errors.extend(ReconcileError::iter().map(ApiError::from));
        errors.extend(RuleError::iter().map(ApiError::from));
        errors.extend([
            ApiError::from(StorageError::Contention),
            ApiError::from(StorageError::Corrupt(String::new())),
            malformed_json(""),
            payload_too_large(1),
            body_unreadable(""),
            content_type_unsupported(""),
            content_encoding_unsupported(""),
            invalid_request(""),
            invalid_key(""),
            partner_key_required(String::new()),
            operator_key_required(String::new()),
            role_not_granted(String::new()),
            route_not_found("GET", "/"),
        ]);
        errors.extend(
            [
                StatusCode::BAD_REQUEST,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                StatusCode::REQUEST_TIMEOUT,
            ]
            .into_iter()
            .filter_map(parser_refusal),
        );
        let mut codes = BTreeMap::new();
        for error in errors {
            let status = error.status().as_u16();
            if let Some(other) = codes.insert(error.code().to_owned(), status) {
                assert_eq!(other, status, "{} has two statuses", error.code());
            }
        }
        codes
    }

    fn codes_in_docs() -> BTreeMap<String, u16> {
        include_str!("../../../../../docs/errors.md")
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((code.to_owned(), cells.get(2)?.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn docs_errors_md_lists_every_code_with_its_status() {
        assert_eq!(codes_in_docs(), codes_from_types());
    }
}
