//! Statuses of the ledger's refusals, and of those nested in them (cards, pricing, branches).

use domain::cards::CardError;
use domain::ledger::LedgerError;
use domain::partners::BranchError;
use domain::pricing::PricingError;

use super::ApiError;

impl From<CardError> for ApiError {
    fn from(err: CardError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            CardError::NumberInvalid(_) => Self::bad_request(code, "Invalid card number", detail),
            CardError::Unknown => Self::not_found(code, "Unknown card", detail),
            CardError::Blocked => Self::forbidden(code, "Card blocked", detail),
            CardError::Lost => Self::forbidden(code, "Card reported lost", detail),
            CardError::MemberClosed => Self::forbidden(code, "Member account closed", detail),
            CardError::WrongStatus { .. } => Self::conflict(code, "Card in another status", detail),
        }
    }
}

impl From<BranchError> for ApiError {
    fn from(err: BranchError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            BranchError::Unknown(_) => Self::unprocessable(code, "Unknown branch", detail),
            BranchError::OfAnotherPartner(_) => {
                Self::forbidden(code, "Branch of another partner", detail)
            }
        }
    }
}

impl From<PricingError> for ApiError {
    fn from(err: PricingError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            PricingError::Branch(err) => err.into(),
            PricingError::RuleMissing => Self::conflict(code, "No point rule", detail),
            PricingError::CurrencyMismatch { .. } => {
                Self::unprocessable(code, "Wrong currency", detail)
            }
            PricingError::PurchaseTooSmall => {
                Self::unprocessable(code, "Purchase too small to earn", detail)
            }
            PricingError::AmountTooLarge => Self::unprocessable(code, "Amount too large", detail),
            PricingError::PurchaseAboveLimit { .. } => {
                Self::unprocessable(code, "Purchase above the limit", detail)
            }
            PricingError::PointsAboveLimit { .. } => {
                Self::unprocessable(code, "Points above the limit", detail)
            }
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(err: LedgerError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            LedgerError::Card(err) => err.into(),
            LedgerError::Pricing(err) => err.into(),
            LedgerError::Invalid(_) => super::invalid_request(detail),
            LedgerError::InsufficientPoints { .. } => {
                Self::conflict(code, "Not enough points", detail)
            }
            LedgerError::TransferNotFound(_) => {
                Self::not_found(code, "Unknown transaction", detail)
            }
            LedgerError::NotAHold(_) => Self::conflict(code, "Not a redemption hold", detail),
            LedgerError::NotAPendingEarn(_) => Self::conflict(code, "Not a pending earn", detail),
            LedgerError::HoldExpired(_) => Self::conflict(code, "Hold expired", detail),
            LedgerError::HoldAlreadyCaptured => {
                Self::conflict(code, "Hold already captured", detail)
            }
            LedgerError::HoldAlreadyVoided => Self::conflict(code, "Hold already voided", detail),
            LedgerError::EarnAlreadyPosted => Self::conflict(code, "Earn already posted", detail),
            LedgerError::EarnAlreadyVoided => Self::conflict(code, "Earn already voided", detail),
            LedgerError::CaptureExceedsHold { .. } => {
                Self::unprocessable(code, "Capture above the hold", detail)
            }
            LedgerError::NotReversible(_) => {
                Self::conflict(code, "Transaction cannot be reversed", detail)
            }
            LedgerError::ReversalExceedsOriginal { .. } => {
                Self::unprocessable(code, "Reversal above the original", detail)
            }
            LedgerError::ReferenceInvalid(_) => {
                Self::unprocessable(code, "Invalid reference", detail)
            }
            LedgerError::ReferenceTaken => Self::conflict(code, "Reference already used", detail),
            LedgerError::HoldTimeoutInvalid { .. } => {
                Self::unprocessable(code, "Invalid hold timeout", detail)
            }
            LedgerError::ReleaseAtInvalid { .. } => {
                Self::unprocessable(code, "Invalid release time", detail)
            }
            LedgerError::EventTypeUnknown(_) => {
                Self::unprocessable(code, "No bonus for this event", detail)
            }
            LedgerError::OccurredAtInvalid { .. } => {
                Self::unprocessable(code, "Invalid occurrence time", detail)
            }
            LedgerError::BonusAlreadyAwarded { .. } => {
                Self::conflict(code, "Bonus already awarded", detail)
            }
            LedgerError::EarnCapReached => Self::conflict(code, "Earn rules capped", detail),
            LedgerError::CategoryUnknown(_) => {
                Self::unprocessable(code, "Unknown category", detail)
            }
            LedgerError::BasketLineInvalid(_) => {
                Self::unprocessable(code, "Invalid basket line", detail)
            }
            LedgerError::BasketTotalMismatch(_) => {
                Self::unprocessable(code, "Basket does not add up", detail)
            }
        }
    }
}
