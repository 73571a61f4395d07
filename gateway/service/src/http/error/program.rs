//! Statuses of the refusals about the programme's rules.

use domain::program::rules::RuleError;
use operations::idempotency::IdempotencyError;
use operations::program::ChangeRefusal;

use super::ApiError;

impl From<RuleError> for ApiError {
    fn from(err: RuleError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        let invalid = |detail| Self::unprocessable(code, "Invalid programme rule", detail);
        match err {
            RuleError::NotFound(..) => Self::not_found(code, "Unknown programme rule", detail),
            RuleError::Exists(..) => Self::conflict(code, "Programme rule exists", detail),
            RuleError::Retired(..) => Self::conflict(code, "Programme rule retired", detail),
            RuleError::VersionOverlaps(_) => {
                Self::conflict(code, "Version out of sequence", detail)
            }
            RuleError::DefinitionInvalid(_)
            | RuleError::CodeInvalid(_)
            | RuleError::AmountInvalid(_)
            | RuleError::PlaceUnknown(_)
            | RuleError::CategoryUnknown(_)
            | RuleError::TierInvalid(_)
            | RuleError::FundingInvalid(_)
            | RuleError::CampaignWindowInvalid
            | RuleError::OccasionInvalid(_) => invalid(detail),
        }
    }
}

impl From<ChangeRefusal> for ApiError {
    fn from(err: ChangeRefusal) -> Self {
        match err {
            ChangeRefusal::Rule(err) => err.into(),
            ChangeRefusal::RequestReused => IdempotencyError::PayloadMismatch.into(),
        }
    }
}
