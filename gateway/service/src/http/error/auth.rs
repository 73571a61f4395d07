//! Statuses of authentication's and idempotency's refusals.

use operations::authentication::AuthError;
use operations::idempotency::IdempotencyError;

use super::ApiError;

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            AuthError::SignatureMissing => Self::unauthorized(code, "Signature required", detail),
            AuthError::SignatureMalformed(_) => {
                Self::bad_request(code, "Malformed signature headers", detail)
            }
            AuthError::AlgorithmUnsupported(_) => {
                Self::bad_request(code, "Unsupported signature algorithm", detail)
            }
            AuthError::ParameterMissing(_) => {
                Self::bad_request(code, "Missing signature parameter", detail)
            }
            AuthError::ComponentNotCovered(_) => {
                Self::bad_request(code, "Required component not signed", detail)
            }
            AuthError::TooOld { .. } => Self::unauthorized(code, "Signature too old", detail),
            AuthError::FromFuture { .. } => {
                Self::unauthorized(code, "Signature from the future", detail)
            }
            AuthError::Expired(_) => Self::unauthorized(code, "Signature expired", detail),
            AuthError::Replayed => Self::unauthorized(code, "Replayed request", detail),
            AuthError::KeyUnknown(_) => Self::unauthorized(code, "Unknown key", detail),
            AuthError::KeyRevoked(_) => Self::unauthorized(code, "Revoked key", detail),
            AuthError::PartnerInactive(_) => Self::forbidden(code, "Partner suspended", detail),
            AuthError::DigestMissing => Self::bad_request(code, "Content-Digest required", detail),
            AuthError::DigestMalformed(_) => {
                Self::bad_request(code, "Malformed Content-Digest", detail)
            }
            AuthError::DigestMismatch => {
                Self::bad_request(code, "Body does not match its digest", detail)
            }
            AuthError::SignatureInvalid => Self::unauthorized(code, "Invalid signature", detail),
            AuthError::IdempotencyKeyMissing => {
                Self::bad_request(code, "Idempotency-Key required", detail)
            }
            AuthError::IdempotencyKeyInvalid(_) => {
                Self::bad_request(code, "Invalid Idempotency-Key", detail)
            }
            AuthError::Storage(e) => e.into(),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            IdempotencyError::PayloadMismatch => {
                Self::unprocessable(code, "Idempotency-Key reused with another request", detail)
            }
            IdempotencyError::InFlight => Self::conflict(code, "Request still in progress", detail),
            IdempotencyError::Storage(e) => e.into(),
        }
    }
}
