//! Ledger operations: earns and redemptions (through the batching [`committer`]),
//! captures and voids of holds, releases of pending earns, reversals, a partner's
//! transaction history, maintenance, and operations at a chosen time ([`at`]).
//!
//! The decisions are `domain::ledger`'s; this module loads what they need, runs
//! them in a transaction (or a committer batch) with the request's idempotency
//! record, and tells the caches once the change is committed.

pub mod at;
pub mod committer;
mod earn;
pub mod history;
pub mod maintenance;
pub(crate) mod postings;

pub(crate) use self::postings::release_expired_holds;
mod prepare;
mod redeem;
mod reverse;

use domain::ledger::books::LedgerOp;
use domain::ledger::{LedgerError, Movement};
use storage::Storage;

pub use self::earn::{earn, post_pending, void_pending};
pub use self::redeem::{capture, redeem, void};
pub use self::reverse::reverse;
use crate::Club;
use crate::error::OperationError;
use crate::idempotency::{Answer, Answered, IdempotencyError, Scope};
pub use storage::check::{LedgerReport, check};

/// Hands a priced operation (or the refusal met pricing it) to the committer.
async fn submit(
    club: &Club,
    scope: Scope,
    op: Result<LedgerOp, OperationError<LedgerError>>,
) -> Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let op = match op {
        Ok(op) => Ok(op),
        Err(OperationError::Refused(refused)) => Err(refused),
        Err(OperationError::Storage(err)) => return Err(err.into()),
    };
    club.committer.submit(scope, op).await
}

/// Tells the caches a member's points changed, once a fresh answer is committed.
async fn committed(storage: &Storage, answered: &Answered<Movement, LedgerError>) {
    if let (false, Answer::Done(movement)) = (answered.is_replay, &answered.answer)
        && let Some(member_id) = movement.transfer.member_id
    {
        storage::card_cache::bump(storage, member_id).await;
    }
}
