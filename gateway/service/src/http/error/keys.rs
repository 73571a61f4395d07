//! Statuses of the refusals about partners and signing keys.

use domain::keys::KeyError;
use domain::partners::PartnerError;

use super::ApiError;

impl From<KeyError> for ApiError {
    fn from(err: KeyError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            KeyError::KeyIdTaken(_) => Self::conflict(code, "Key id taken", detail),
            KeyError::PublicKeyTaken => {
                Self::conflict(code, "Public key already registered", detail)
            }
            KeyError::PartnerNotFound(_) => Self::not_found(code, "Unknown partner", detail),
            KeyError::NotFound(_) => Self::not_found(code, "Unknown key", detail),
            KeyError::AlreadyRevoked(_) => Self::conflict(code, "Key already revoked", detail),
            KeyError::InvalidName => super::invalid_request(detail),
        }
    }
}

impl From<PartnerError> for ApiError {
    fn from(err: PartnerError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            PartnerError::NotFound(_) => Self::not_found(code, "Unknown partner", detail),
            PartnerError::CodeTaken(_) => Self::conflict(code, "Partner code taken", detail),
            PartnerError::BranchCodeTaken(..) => Self::conflict(code, "Branch code taken", detail),
        }
    }
}
