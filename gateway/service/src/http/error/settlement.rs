//! Statuses of settlement's refusals: statements and their answers, terms, reconciliation.

use domain::settlement::SettlementError;
use domain::settlement::reconcile::ReconcileError;
use domain::settlement::terms::TermsError;

use super::ApiError;

impl From<SettlementError> for ApiError {
    fn from(err: SettlementError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            SettlementError::StatementNotFound(_) => {
                Self::not_found(code, "Unknown statement", detail)
            }
            SettlementError::HashMismatch { .. } => {
                Self::conflict(code, "Not the statement's hash", detail)
            }
            SettlementError::AlreadyAnswered(_) => {
                Self::conflict(code, "Statement already answered", detail)
            }
            SettlementError::NotDisputed(_) => {
                Self::conflict(code, "Statement not disputed", detail)
            }
            SettlementError::AlreadyResolved(_) => {
                Self::conflict(code, "Statement already resolved", detail)
            }
            SettlementError::LineNotInStatement(_) => {
                Self::unprocessable(code, "Not a line of this statement", detail)
            }
            SettlementError::LineNotDisputed(_) => {
                Self::unprocessable(code, "Line not disputed", detail)
            }
            SettlementError::Invalid(_) => super::invalid_request(detail),
            SettlementError::ReasonInvalid(_) => {
                Self::unprocessable(code, "Invalid reason", detail)
            }
            SettlementError::Money(_) => Self::conflict(code, "Line money overflows", detail),
            SettlementError::TotalsOverflow => {
                Self::conflict(code, "Statement totals overflow", detail)
            }
            SettlementError::Corrupt(..) => Self::internal(detail),
        }
    }
}

impl From<TermsError> for ApiError {
    fn from(err: TermsError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            TermsError::Invalid(_) => Self::unprocessable(code, "Invalid terms", detail),
            TermsError::PartnerNotFound(_) => Self::not_found(code, "Unknown partner", detail),
            TermsError::StartDateFixed => {
                Self::conflict(code, "Terms start with the next period", detail)
            }
        }
    }
}

impl From<ReconcileError> for ApiError {
    fn from(err: ReconcileError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            ReconcileError::NoHeader
            | ReconcileError::MissingColumn(_)
            | ReconcileError::Unreadable(_) => {
                Self::bad_request(code, "Unusable reconciliation file", detail)
            }
            ReconcileError::PartnerNotFound(_) => Self::not_found(code, "Unknown partner", detail),
            ReconcileError::Window => super::invalid_request(detail),
        }
    }
}
