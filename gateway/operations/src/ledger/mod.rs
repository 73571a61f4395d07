//! Ledger operations: earns, redemptions, captures and voids of holds, releases
//! and cancellations of pending earns, reversals (all through the batching
//! [`committer`]), a partner's transaction history, maintenance, and operations
//! at a chosen time ([`at`]).
//!
//! The decisions are `domain::ledger`'s; this module loads what they need, runs
//! them in a committer batch with the request's idempotency record (or in a
//! transaction of their own), and tells the caches once the change is committed.

pub mod at;
pub mod committer;
mod earn;
mod follow_up;
pub mod history;
pub mod maintenance;
pub(crate) mod postings;

pub(crate) use self::postings::release_expired_holds;
pub(crate) mod prepare;
mod redeem;

use domain::ledger::LedgerError;
use domain::ledger::books::LedgerOp;

use self::committer::Reply;
pub use self::earn::earn;
pub use self::follow_up::{capture, post_pending, reverse, void, void_pending};
pub use self::redeem::redeem;
use crate::Club;
use crate::error::OperationError;
use crate::idempotency::Scope;
pub use storage::check::{LedgerReport, check};

/// Hands a priced operation (or the refusal met pricing it) to the committer.
async fn submit(
    club: &Club,
    scope: Scope,
    op: Result<LedgerOp, OperationError<LedgerError>>,
) -> Reply {
    let op = match op {
        Ok(op) => Ok(op),
        Err(OperationError::Refused(refused)) => Err(refused),
        Err(OperationError::Storage(err)) => return Err(err.into()),
    };
    club.committer.submit(scope, op).await
}
