//! How an operation fails: refused for a business reason (the request's answer,
//! recorded under its idempotency key), or unable to reach or trust its storage
//! (nothing written; retry).

use storage::StorageError;

/// Why an operation produced no result of its own.
#[derive(Debug, thiserror::Error)]
pub enum OperationError<E> {
    /// Refused: this is the request's answer.
    #[error(transparent)]
    Refused(E),
    /// Storage failed; nothing was written.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl<E> OperationError<E> {
    /// The failure of work that nothing should refuse (`what`): a refusal means the stored data
    /// is not what the code expects.
    pub(crate) fn refusal_unexpected(self, what: &str) -> StorageError
    where
        E: std::fmt::Display,
    {
        match self {
            Self::Refused(e) => StorageError::Corrupt(format!("{what} was refused: {e}")),
            Self::Storage(e) => e,
        }
    }

    /// The same failure with the refusal converted.
    pub(crate) fn map_refusal<F>(self, f: impl FnOnce(E) -> F) -> OperationError<F> {
        match self {
            Self::Refused(e) => OperationError::Refused(f(e)),
            Self::Storage(e) => OperationError::Storage(e),
        }
    }
}

/// Diesel's transactions hand their own errors to the closure's error type.
impl<E> From<diesel::result::Error> for OperationError<E> {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(err.into())
    }
}

/// A partner reference found taken when a transfer is written is the ledger's refusal.
impl From<storage::ledger::TransferWriteError> for OperationError<domain::ledger::LedgerError> {
    fn from(err: storage::ledger::TransferWriteError) -> Self {
        match err {
            storage::ledger::TransferWriteError::ReferenceTaken => {
                Self::Refused(domain::ledger::LedgerError::ReferenceTaken)
            }
            storage::ledger::TransferWriteError::Storage(e) => Self::Storage(e),
        }
    }
}

/// The stable code of a storage failure: a retryable outage, or a broken database.
pub(crate) fn storage_code(err: &StorageError) -> &'static str {
    if err.is_transient() {
        "service_unavailable"
    } else {
        "internal_error"
    }
}

/// `?` on an area's refusal (or one nested in it) inside an operation of that area.
macro_rules! refusals {
    ($area:ty: $($from:ty),+) => {
        $(impl From<$from> for OperationError<$area> {
            fn from(err: $from) -> Self {
                Self::Refused(err.into())
            }
        })+
    };
}

use domain::cards::{CardError, CardNumberError};
use domain::keys::KeyError;
use domain::ledger::LedgerError;
use domain::member_data::InvalidPersonalData;
use domain::members::EnrolmentError;
use domain::partners::{BranchError, PartnerError};
use domain::pricing::PricingError;
use domain::settlement::SettlementError;
use domain::settlement::money::MoneyOverflow;
use domain::settlement::reconcile::ReconcileError;
use domain::settlement::terms::TermsError;

refusals!(LedgerError: LedgerError, CardError, PricingError, BranchError, CardNumberError);
refusals!(EnrolmentError: EnrolmentError, InvalidPersonalData, BranchError);
refusals!(CardError: CardError, CardNumberError);
refusals!(PricingError: PricingError, BranchError);
refusals!(SettlementError: SettlementError, MoneyOverflow);
refusals!(TermsError: TermsError);
refusals!(ReconcileError: ReconcileError);
refusals!(KeyError: KeyError);
refusals!(PartnerError: PartnerError);
