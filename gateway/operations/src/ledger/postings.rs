//! The mechanics of the ledger writes made outside the books, one transfer at a
//! time (maintenance, a member's closure, settlement corrections): writing a
//! transfer with its balance changes, resolving a pending transfer, giving a
//! hold's points back, expiring due lots. Every function runs on the caller's
//! transaction, under the member's lock.

use chrono::{DateTime, Utc};
use domain::ids::MemberId;
use domain::ledger::{AccountDeltas, LedgerError, Transfer, lots};
use domain::points::Points;
use storage::Connection;

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

/// Appends `transfer` and moves both accounts' projections (`pending_amount`: see
/// [`AccountDeltas::of`]).
pub(crate) async fn write(
    conn: &mut Connection,
    transfer: &Transfer,
    pending_amount: Points,
) -> Result<()> {
    storage::ledger::insert_transfer(conn, transfer).await?;
    metrics::counter!("ledger_transfers_total", "code" => transfer.code.as_str(), "phase" => transfer.phase.as_str()).increment(1);
    let (debit, credit) = AccountDeltas::of(transfer, pending_amount);
    storage::ledger::apply(conn, transfer.debit, debit).await?;
    storage::ledger::apply(conn, transfer.credit, credit).await?;
    Ok(())
}

/// Resolves an open pending transfer: posts part of it (`Some((points, money_minor))`), or voids
/// it; returns the resolution.
pub(crate) async fn resolve(
    conn: &mut Connection,
    pending: &Transfer,
    post: Option<(Points, Option<i64>)>,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<Transfer> {
    let resolution = pending.resolution(post, idempotency_key, now);
    write(conn, &resolution, pending.amount).await?;
    storage::ledger::delete_pending(conn, pending.id).await?;
    Ok(resolution)
}

/// Gives `points` of a hold back to the lots it took them from (latest expiry first), as
/// `transfer` (the void, or a partial capture).
pub(crate) async fn give_back(
    conn: &mut Connection,
    hold: &Transfer,
    transfer: &Transfer,
    points: Points,
) -> Result<()> {
    let taken = lots::net_taken(storage::ledger::allocations(conn, &[hold.id]).await?);
    let ids: Vec<_> = taken.iter().map(|(id, _)| *id).collect();
    let candidates = storage::ledger::lots(conn, &ids).await?;
    let restored = lots::restore(&taken, &candidates, points);
    storage::ledger::allocate(conn, transfer.id, &restored).await?;
    Ok(())
}

/// Voids a hold and gives its points back (a partner's void, or time's when `idempotency_key`
/// is `None`).
pub(crate) async fn release_hold(
    conn: &mut Connection,
    hold: &Transfer,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<Transfer> {
    let void = resolve(conn, hold, None, idempotency_key, now).await?;
    give_back(conn, hold, &void, hold.amount).await?;
    Ok(void)
}

/// Moves the member's expired lots to breakage, so balances and lots stay exact; returns
/// the expiry transfer, if anything expired.
///
/// Runs at the start of every operation that changes a member's points, so a lot never
/// serves a redemption after its expiry, even between maintenance runs.
pub(crate) async fn expire_due_lots(
    conn: &mut Connection,
    member_id: MemberId,
    now: DateTime<Utc>,
) -> Result<Option<Transfer>> {
    let account = storage::ledger::member_account(conn, member_id).await?;
    let due = storage::ledger::due_lots(conn, account.id, now).await?;
    let Some((transfer, taken)) = lots::expiry(&account, &due, now) else {
        return Ok(None);
    };
    write(conn, &transfer, Points::ZERO).await?;
    storage::ledger::allocate(conn, transfer.id, &taken).await?;
    tracing::info!(transfer.id = %transfer.id, points = %transfer.amount, "expired {} points to breakage", transfer.amount);
    Ok(Some(transfer))
}

/// Voids the member's holds whose timeout has passed: from then on they hold nothing.
pub(crate) async fn release_expired_holds(
    conn: &mut Connection,
    member_id: MemberId,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut released = 0;
    for id in storage::ledger::expired_holds(conn, member_id, now).await? {
        if let Some(hold) = storage::ledger::find_transfer(conn, id).await? {
            release_hold(conn, &hold, None, now).await?;
            released += 1;
        }
    }
    Ok(released)
}
