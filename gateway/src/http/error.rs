//! The only mapping from errors to HTTP: RFC 9457 problem documents with a stable `code`.
//!
//! Every `From` here is an exhaustive `match` with no catch-all arm, so a new
//! error variant cannot compile until someone decides its status and code.
//! Internal causes are logged once, here, and never sent to the client.
//! `docs/errors.md` lists every code; a test keeps the two in step.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use partners::protocol::Problem;

use crate::domain::authentication::AuthError;
use crate::domain::idempotency::{ExecuteError, IdempotencyError, RecordedAnswer};
use crate::domain::ledger::LedgerError;
use crate::domain::member_data::InvalidPersonalData;
use crate::domain::partner_keys::KeyError;
use crate::domain::partners::PartnerError;
use crate::domain::settlement::SettlementError;
use crate::domain::settlement::reconcile::ReconcileError;
use crate::domain::settlement::responses::AnswerError;
use crate::domain::settlement::terms::TermsError;
use crate::storage::StorageError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: status, stable code, human title and detail.
#[derive(Debug)]
pub struct ApiError {
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

    pub fn bad_request(code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, title, detail)
    }

    pub fn unauthorized(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, title, detail)
    }

    pub fn forbidden(code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, title, detail)
    }

    pub fn not_found(code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, title, detail)
    }

    pub fn conflict(code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, title, detail)
    }

    pub fn unprocessable(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, detail)
    }

    /// A failure of ours: the client sees a generic message, the log sees the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
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
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
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
    pub fn code(&self) -> &'static str {
        self.code
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

    /// The answer to store for an idempotent request that ended in this error.
    pub fn recorded(&self) -> RecordedAnswer {
        RecordedAnswer {
            status: self.status.as_u16(),
            body: self.body(),
        }
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
        HttpResponse::build(self.status)
            .content_type(PROBLEM_JSON)
            .body(self.body())
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Database(_) => Self::internal(err),
            StorageError::Pool(_)
            | StorageError::Redis(_)
            | StorageError::Contention
            | StorageError::NotCommitted(_) => Self::unavailable(err),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        let detail = err.to_string();
        match err {
            AuthError::SignatureMissing => {
                Self::unauthorized("signature_missing", "Signature required", detail)
            }
            AuthError::SignatureMalformed(_) => {
                Self::bad_request("signature_malformed", "Malformed signature headers", detail)
            }
            AuthError::AlgorithmUnsupported(_) => Self::bad_request(
                "signature_algorithm_unsupported",
                "Unsupported signature algorithm",
                detail,
            ),
            AuthError::ParameterMissing(_) => Self::bad_request(
                "signature_parameter_missing",
                "Missing signature parameter",
                detail,
            ),
            AuthError::ComponentNotCovered(_) => Self::bad_request(
                "signature_component_not_covered",
                "Required component not signed",
                detail,
            ),
            AuthError::TooOld { .. } => {
                Self::unauthorized("signature_too_old", "Signature too old", detail)
            }
            AuthError::FromFuture { .. } => {
                Self::unauthorized("signature_from_future", "Signature from the future", detail)
            }
            AuthError::Expired(_) => {
                Self::unauthorized("signature_expired", "Signature expired", detail)
            }
            AuthError::Replayed => {
                Self::unauthorized("signature_replayed", "Replayed request", detail)
            }
            AuthError::KeyUnknown(_) => Self::unauthorized("key_unknown", "Unknown key", detail),
            AuthError::KeyRevoked(_) => Self::unauthorized("key_revoked", "Revoked key", detail),
            AuthError::PartnerInactive(_) => {
                Self::forbidden("partner_suspended", "Partner suspended", detail)
            }
            AuthError::DigestMissing => {
                Self::bad_request("content_digest_missing", "Content-Digest required", detail)
            }
            AuthError::DigestMalformed(_) => Self::bad_request(
                "content_digest_malformed",
                "Malformed Content-Digest",
                detail,
            ),
            AuthError::DigestMismatch => Self::bad_request(
                "content_digest_mismatch",
                "Body does not match its digest",
                detail,
            ),
            AuthError::SignatureInvalid => {
                Self::unauthorized("signature_invalid", "Invalid signature", detail)
            }
            AuthError::IdempotencyKeyMissing => Self::bad_request(
                "idempotency_key_missing",
                "Idempotency-Key required",
                detail,
            ),
            AuthError::IdempotencyKeyInvalid(_) => {
                Self::bad_request("idempotency_key_invalid", "Invalid Idempotency-Key", detail)
            }
            AuthError::Storage(e) => e.into(),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        let detail = err.to_string();
        match err {
            IdempotencyError::PayloadMismatch => Self::unprocessable(
                "idempotency_key_reused",
                "Idempotency-Key reused with another request",
                detail,
            ),
            IdempotencyError::InFlight => Self::conflict(
                "idempotency_request_in_flight",
                "Request still in progress",
                detail,
            ),
            IdempotencyError::Storage(e) => e.into(),
        }
    }
}

impl<E: Into<ApiError>> From<ExecuteError<E>> for ApiError {
    fn from(err: ExecuteError<E>) -> Self {
        match err {
            ExecuteError::Idempotency(e) => e.into(),
            ExecuteError::Work(e) => e.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(err: KeyError) -> Self {
        let detail = err.to_string();
        match err {
            KeyError::KeyIdTaken(_) => Self::conflict("key_id_taken", "Key id taken", detail),
            KeyError::PublicKeyTaken => {
                Self::conflict("public_key_taken", "Public key already registered", detail)
            }
            KeyError::PartnerNotFound(_) => {
                Self::not_found("partner_not_found", "Unknown partner", detail)
            }
            KeyError::NotFound(_) => Self::not_found("key_not_found", "Unknown key", detail),
            KeyError::AlreadyRevoked(_) => {
                Self::conflict("key_already_revoked", "Key already revoked", detail)
            }
            KeyError::Storage(e) => e.into(),
        }
    }
}

impl From<PartnerError> for ApiError {
    fn from(err: PartnerError) -> Self {
        let detail = err.to_string();
        match err {
            PartnerError::NotFound(_) => {
                Self::not_found("partner_not_found", "Unknown partner", detail)
            }
            PartnerError::CodeTaken(_) => {
                Self::conflict("partner_code_taken", "Partner code taken", detail)
            }
            PartnerError::BranchCodeTaken(..) => {
                Self::conflict("branch_code_taken", "Branch code taken", detail)
            }
            PartnerError::Storage(e) => e.into(),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(err: LedgerError) -> Self {
        let detail = err.to_string();
        match err {
            LedgerError::CardNumberInvalid(_) => {
                Self::bad_request("card_number_invalid", "Invalid card number", detail)
            }
            LedgerError::CardUnknown => Self::not_found("card_unknown", "Unknown card", detail),
            LedgerError::CardBlocked => Self::forbidden("card_blocked", "Card blocked", detail),
            LedgerError::CardLost => Self::forbidden("card_lost", "Card reported lost", detail),
            LedgerError::MemberClosed => {
                Self::forbidden("member_closed", "Member account closed", detail)
            }
            LedgerError::BranchUnknown(_) => {
                Self::unprocessable("branch_unknown", "Unknown branch", detail)
            }
            LedgerError::BranchOfAnotherPartner(_) => Self::forbidden(
                "branch_of_another_partner",
                "Branch of another partner",
                detail,
            ),
            LedgerError::RuleMissing => {
                Self::conflict("point_rule_missing", "No point rule", detail)
            }
            LedgerError::CurrencyMismatch { .. } => {
                Self::unprocessable("currency_mismatch", "Wrong currency", detail)
            }
            LedgerError::PurchaseTooSmall => {
                Self::unprocessable("purchase_too_small", "Purchase too small to earn", detail)
            }
            LedgerError::AmountTooLarge => {
                Self::unprocessable("amount_too_large", "Amount too large", detail)
            }
            LedgerError::InsufficientPoints { .. } => {
                Self::conflict("insufficient_points", "Not enough points", detail)
            }
            LedgerError::TransferNotFound(_) => {
                Self::not_found("transaction_not_found", "Unknown transaction", detail)
            }
            LedgerError::NotAHold(_) => {
                Self::conflict("not_a_hold", "Not a redemption hold", detail)
            }
            LedgerError::NotAPendingEarn(_) => {
                Self::conflict("not_a_pending_earn", "Not a pending earn", detail)
            }
            LedgerError::HoldExpired(_) => Self::conflict("hold_expired", "Hold expired", detail),
            LedgerError::HoldAlreadyCaptured => {
                Self::conflict("hold_already_captured", "Hold already captured", detail)
            }
            LedgerError::HoldAlreadyVoided => {
                Self::conflict("hold_already_voided", "Hold already voided", detail)
            }
            LedgerError::EarnAlreadyPosted => {
                Self::conflict("earn_already_posted", "Earn already posted", detail)
            }
            LedgerError::EarnAlreadyVoided => {
                Self::conflict("earn_already_voided", "Earn already voided", detail)
            }
            LedgerError::CaptureExceedsHold { .. } => {
                Self::unprocessable("capture_exceeds_hold", "Capture above the hold", detail)
            }
            LedgerError::NotReversible(_) => Self::conflict(
                "transaction_not_reversible",
                "Transaction cannot be reversed",
                detail,
            ),
            LedgerError::ReversalExceedsOriginal { .. } => Self::unprocessable(
                "reversal_exceeds_original",
                "Reversal above the original",
                detail,
            ),
            LedgerError::ReferenceTaken => {
                Self::conflict("reference_already_used", "Reference already used", detail)
            }
            LedgerError::HoldTimeoutInvalid { .. } => {
                Self::unprocessable("hold_timeout_invalid", "Invalid hold timeout", detail)
            }
            LedgerError::ReleaseAtInvalid { .. } => {
                Self::unprocessable("release_at_invalid", "Invalid release time", detail)
            }
            LedgerError::PhoneTaken => {
                Self::conflict("member_already_enrolled", "Member already enrolled", detail)
            }
            LedgerError::MemberData(e) => Self::internal(e),
            LedgerError::Storage(e) => e.into(),
        }
    }
}

impl From<InvalidPersonalData> for ApiError {
    fn from(err: InvalidPersonalData) -> Self {
        Self::unprocessable(
            "invalid_member_data",
            "Invalid member data",
            err.to_string(),
        )
    }
}

impl From<SettlementError> for ApiError {
    fn from(err: SettlementError) -> Self {
        let detail = err.to_string();
        match err {
            SettlementError::StatementNotFound(_) => {
                Self::not_found("statement_not_found", "Unknown statement", detail)
            }
            SettlementError::Money(_) | SettlementError::Corrupt(..) => Self::internal(detail),
            SettlementError::Storage(e) => e.into(),
        }
    }
}

impl From<AnswerError> for ApiError {
    fn from(err: AnswerError) -> Self {
        let detail = err.to_string();
        match err {
            AnswerError::NotFound(_) => {
                Self::not_found("statement_not_found", "Unknown statement", detail)
            }
            AnswerError::HashMismatch { .. } => Self::conflict(
                "statement_hash_mismatch",
                "Not the statement's hash",
                detail,
            ),
            AnswerError::AlreadyAnswered(_) => Self::conflict(
                "statement_already_answered",
                "Statement already answered",
                detail,
            ),
            AnswerError::NotDisputed(_) => {
                Self::conflict("statement_not_disputed", "Statement not disputed", detail)
            }
            AnswerError::AlreadyResolved(_) => Self::conflict(
                "statement_already_resolved",
                "Statement already resolved",
                detail,
            ),
            AnswerError::LineNotInStatement(_) => Self::unprocessable(
                "line_not_in_statement",
                "Not a line of this statement",
                detail,
            ),
            AnswerError::LineNotDisputed(_) => {
                Self::unprocessable("line_not_disputed", "Line not disputed", detail)
            }
            AnswerError::Invalid(_) => invalid_request(detail),
            AnswerError::Settlement(e) => e.into(),
        }
    }
}

impl From<TermsError> for ApiError {
    fn from(err: TermsError) -> Self {
        let detail = err.to_string();
        match err {
            TermsError::Invalid(_) => Self::unprocessable("invalid_terms", "Invalid terms", detail),
            TermsError::PartnerNotFound(_) => {
                Self::not_found("partner_not_found", "Unknown partner", detail)
            }
            TermsError::StartDateFixed => Self::conflict(
                "terms_start_fixed",
                "Terms start with the next period",
                detail,
            ),
            TermsError::Storage(e) => e.into(),
        }
    }
}

impl From<ReconcileError> for ApiError {
    fn from(err: ReconcileError) -> Self {
        let detail = err.to_string();
        match err {
            ReconcileError::NoHeader
            | ReconcileError::MissingColumn(_)
            | ReconcileError::Unreadable(_) => Self::bad_request(
                "reconciliation_file_invalid",
                "Unusable reconciliation file",
                detail,
            ),
            ReconcileError::PartnerNotFound(_) => {
                Self::not_found("partner_not_found", "Unknown partner", detail)
            }
            ReconcileError::Window => invalid_request(detail),
            ReconcileError::Storage(cause) => Self::unavailable(cause),
        }
    }
}

/// Codes raised directly by the HTTP layer (not from a domain error).
pub mod codes {
    pub const MALFORMED_JSON: &str = "malformed_json";
    pub const INVALID_KEY: &str = "invalid_key";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const BODY_UNREADABLE: &str = "body_unreadable";
    pub const ROUTE_NOT_FOUND: &str = "route_not_found";
    pub const INVALID_REQUEST: &str = "invalid_request";
}

/// The body is not the JSON the route expects.
pub fn malformed_json(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(codes::MALFORMED_JSON, "Malformed JSON", detail.to_string())
}

/// The request body is larger than the configured limit.
pub fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        "Request body too large",
        format!("the body exceeds the limit of {limit} bytes"),
    )
}

/// The body could not be read (truncated, or an unsupported `Content-Encoding`).
pub fn body_unreadable(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        codes::BODY_UNREADABLE,
        "Unreadable body",
        detail.to_string(),
    )
}

/// A field of the request is out of range; `detail` names it.
pub fn invalid_request(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable(codes::INVALID_REQUEST, "Invalid request", detail)
}

/// An operator key signed a partner request.
pub fn partner_key_required(detail: String) -> ApiError {
    ApiError::forbidden("partner_key_required", "Partner key required", detail)
}

/// A partner key signed an operator request.
pub fn operator_key_required(detail: String) -> ApiError {
    ApiError::forbidden("operator_key_required", "Operator key required", detail)
}

/// The operator key's role does not include this endpoint.
pub fn role_not_granted(detail: String) -> ApiError {
    ApiError::forbidden("role_not_granted", "Role not granted", detail)
}

/// No route answers this method and path.
pub fn route_not_found(method: &str, path: &str) -> ApiError {
    ApiError::not_found(
        codes::ROUTE_NOT_FOUND,
        "No such route",
        format!("no route for {method} {path}"),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// Codes in the mapping above, each with the status of the constructor that raises it.
    fn codes_in_source() -> BTreeMap<String, u16> {
        let source = include_str!("error.rs");
        let mapping = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let status_of = |constructor: &str| match constructor {
            "bad_request" => Some(400),
            "unauthorized" => Some(401),
            "forbidden" => Some(403),
            "not_found" => Some(404),
            "conflict" => Some(409),
            "unprocessable" => Some(422),
            _ => None,
        };
        let mut codes = BTreeMap::new();
        let words: Vec<&str> = mapping
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '"'))
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            if let (Some(status), Some(quoted)) = (status_of(pair[0]), pair[1].strip_prefix('"'))
                && let Some(code) = quoted.strip_suffix('"')
            {
                codes.insert(code.to_owned(), status);
            }
        }
        for (code, status) in [
            ("internal_error", 500),
            ("service_unavailable", 503),
            ("malformed_json", 400),
            ("payload_too_large", 413),
            ("body_unreadable", 400),
            ("route_not_found", 404),
            ("invalid_key", 422),
            ("invalid_request", 422),
        ] {
            assert!(
                mapping.contains(&format!("\"{code}\"")),
                "{code} no longer raised here"
            );
            codes.insert(code.to_owned(), status);
        }
        codes
    }

    fn codes_in_docs() -> BTreeMap<String, u16> {
        include_str!("../../../docs/errors.md")
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
        assert_eq!(codes_in_docs(), codes_in_source());
    }
}
