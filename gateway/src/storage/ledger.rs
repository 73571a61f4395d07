//! The ledger tables: accounts (with their balance projection), transfers, open
//! pending transfers, earn lots and lot allocations.
//!
//! Only row access lives here. The rules (what may be debited, in which order
//! lots are consumed, what a reversal may take back) are in `domain::ledger`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::StorageError;
use super::ledger_batch::AccountDeltas;
use super::schema::{accounts, earn_lots, lot_allocations, pending_transfers, transfers};

/// Namespace for the deterministic ids of partner accounts.
const PARTNER_ACCOUNT_NAMESPACE: Uuid = Uuid::from_u128(0x6c75_6267_6174_6500_8000_0000_0000_0001);

/// The operator's breakage account (expired points), created by the ledger migration.
pub const BREAKAGE_ACCOUNT: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);
/// The operator's account that absorbs settlement adjustments (fixed id, from the migration).
pub const ADJUSTMENTS_ACCOUNT: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0003);

/// An `accounts` row: identity plus the balance projection.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct AccountRow {
    pub id: Uuid,
    pub kind: String,
    pub member_id: Option<Uuid>,
    pub partner_id: Option<Uuid>,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
    /// Member accounts: posted earns less earn reversals (the tier's measure).
    pub lifetime_earned: i64,
}

impl AccountRow {
    /// Points a member can spend now: posted credits less posted and held debits.
    pub fn available(&self) -> i64 {
        self.credits_posted - self.debits_posted - self.debits_pending
    }
}

/// A `transfers` row (immutable once written).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = transfers, check_for_backend(diesel::pg::Pg))]
pub struct TransferRow {
    pub id: Uuid,
    pub debit_account_id: Uuid,
    pub credit_account_id: Uuid,
    pub amount: i64,
    pub code: String,
    pub phase: String,
    pub pending_id: Option<Uuid>,
    pub reverses_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub partner_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub card_number: Option<String>,
    pub partner_reference: Option<String>,
    pub idempotency_key: Option<String>,
    pub money_minor: Option<i64>,
    pub currency: Option<String>,
    pub timeout_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An `earn_lots` row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = earn_lots, check_for_backend(diesel::pg::Pg))]
pub struct LotRow {
    pub id: Uuid,
    pub member_account_id: Uuid,
    pub amount: i64,
    pub remaining: i64,
    pub earned_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Why writing a transfer failed in a way the caller can explain.
#[derive(Debug, thiserror::Error)]
pub enum TransferWriteError {
    #[error("the partner reference is already used by another transfer of the same type")]
    ReferenceTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The id of a partner's issuance (`partner_issuance`) or redemption (`partner_redemption`) account.
pub fn partner_account_id(partner_id: Uuid, kind: &str) -> Uuid {
    Uuid::new_v5(
        &PARTNER_ACCOUNT_NAMESPACE,
        format!("{kind}:{partner_id}").as_bytes(),
    )
}

/// Locks accounts in id order (the order every writer of shared accounts follows).
pub async fn lock_accounts(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<(), StorageError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    diesel::sql_query("SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates a member's points account.
pub async fn insert_member_account(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
) -> Result<Uuid, StorageError> {
    let id = Uuid::now_v7();
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(id),
            accounts::kind.eq("member"),
            accounts::member_id.eq(member_id),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// A member's account, locked for the rest of the transaction.
///
/// Every change to a member's points locks this row first, so concurrent
/// operations on one member are applied one after another.
pub async fn lock_member_account(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
) -> Result<AccountRow, StorageError> {
    Ok(accounts::table
        .filter(accounts::member_id.eq(member_id))
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// A member's account, unlocked (for reads).
pub async fn member_account(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
) -> Result<AccountRow, StorageError> {
    Ok(accounts::table
        .filter(accounts::member_id.eq(member_id))
        .select(AccountRow::as_select())
        .first(conn)
        .await?)
}

/// Moves an account's projection by the given deltas.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    deltas: AccountDeltas,
) -> Result<(), StorageError> {
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::debits_posted.eq(accounts::debits_posted + deltas.debits_posted),
            accounts::credits_posted.eq(accounts::credits_posted + deltas.credits_posted),
            accounts::debits_pending.eq(accounts::debits_pending + deltas.debits_pending),
            accounts::credits_pending.eq(accounts::credits_pending + deltas.credits_pending),
            accounts::lifetime_earned.eq(accounts::lifetime_earned + deltas.lifetime_earned),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends a transfer.
pub async fn insert_transfer(
    conn: &mut AsyncPgConnection,
    transfer: &TransferRow,
) -> Result<(), TransferWriteError> {
    match diesel::insert_into(transfers::table)
        .values(transfer)
        .execute(conn)
        .await
    {
        Ok(_) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name() == Some("transfers_reference_idx") =>
        {
            Err(TransferWriteError::ReferenceTaken)
        }
        Err(e) => Err(StorageError::from(e).into()),
    }
}

/// A transfer by id.
pub async fn find_transfer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<TransferRow>, StorageError> {
    Ok(transfers::table
        .find(id)
        .select(TransferRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The post or void transfer that resolved a pending one, if any.
pub async fn resolution_of(
    conn: &mut AsyncPgConnection,
    pending_id: Uuid,
) -> Result<Option<TransferRow>, StorageError> {
    Ok(transfers::table
        .filter(transfers::pending_id.eq(pending_id))
        .select(TransferRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Points already reversed from `original_id`.
pub async fn reversed_total(
    conn: &mut AsyncPgConnection,
    original_id: Uuid,
) -> Result<i64, StorageError> {
    Ok(transfers::table
        .filter(transfers::reverses_id.eq(original_id))
        .select(sum_bigint("amount"))
        .first(conn)
        .await?)
}

/// Reversal transfers of `original_id`.
pub async fn reversals_of(
    conn: &mut AsyncPgConnection,
    original_id: Uuid,
) -> Result<Vec<Uuid>, StorageError> {
    Ok(transfers::table
        .filter(transfers::reverses_id.eq(original_id))
        .select(transfers::id)
        .load(conn)
        .await?)
}

/// Closes an open pending transfer; `false` if it was not open.
pub async fn delete_pending(
    conn: &mut AsyncPgConnection,
    transfer_id: Uuid,
) -> Result<bool, StorageError> {
    let deleted = diesel::delete(pending_transfers::table.find(transfer_id))
        .execute(conn)
        .await?;
    Ok(deleted == 1)
}

/// Pending transfers whose timeout has passed, oldest first.
pub async fn due_pending(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, StorageError> {
    Ok(pending_transfers::table
        .filter(pending_transfers::timeout_at.le(now))
        .order(pending_transfers::timeout_at)
        .select(pending_transfers::transfer_id)
        .limit(limit)
        .load(conn)
        .await?)
}

/// A member's lots with points left, in spending order (soonest expiry first), locked.
pub async fn open_lots(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
) -> Result<Vec<LotRow>, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::member_account_id.eq(account_id))
        .filter(earn_lots::remaining.gt(0))
        .order((earn_lots::expires_at, earn_lots::id))
        .select(LotRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Lots by id, locked.
pub async fn lots(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<LotRow>, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::id.eq_any(ids))
        .select(LotRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Creates a lot.
pub async fn insert_lot(conn: &mut AsyncPgConnection, lot: &LotRow) -> Result<(), StorageError> {
    diesel::insert_into(earn_lots::table)
        .values(lot)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records which lots a transfer took from (positive) or gave back to (negative), and applies it.
pub async fn allocate(
    conn: &mut AsyncPgConnection,
    transfer_id: Uuid,
    allocations: &[(Uuid, i64)],
) -> Result<(), StorageError> {
    for (lot_id, amount) in allocations {
        diesel::insert_into(lot_allocations::table)
            .values((
                lot_allocations::transfer_id.eq(transfer_id),
                lot_allocations::lot_id.eq(lot_id),
                lot_allocations::amount.eq(amount),
            ))
            .execute(conn)
            .await?;
        diesel::update(earn_lots::table.find(lot_id))
            .set(earn_lots::remaining.eq(earn_lots::remaining - amount))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Net points the given transfers took from each lot (lots given back more than taken are omitted).
pub async fn net_allocations(
    conn: &mut AsyncPgConnection,
    transfer_ids: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, StorageError> {
    let rows: Vec<(Uuid, i64)> = lot_allocations::table
        .filter(lot_allocations::transfer_id.eq_any(transfer_ids))
        .select((lot_allocations::lot_id, lot_allocations::amount))
        .load(conn)
        .await?;
    let mut net: Vec<(Uuid, i64)> = Vec::new();
    for (lot, amount) in rows {
        match net.iter_mut().find(|(l, _)| *l == lot) {
            Some((_, total)) => *total += amount,
            None => net.push((lot, amount)),
        }
    }
    net.retain(|(_, amount)| *amount > 0);
    Ok(net)
}

/// A partner's transfers, newest first, after an optional cursor (a transfer id).
pub async fn list_for_partner(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    filter: &TransferFilter,
) -> Result<Vec<TransferRow>, StorageError> {
    let mut query = transfers::table
        .filter(transfers::partner_id.eq(partner_id))
        .select(TransferRow::as_select())
        .order(transfers::id.desc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(before) = filter.before {
        query = query.filter(transfers::id.lt(before));
    }
    if let Some(from) = filter.from {
        query = query.filter(transfers::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(transfers::created_at.lt(to));
    }
    if !filter.codes.is_empty() {
        query = query.filter(transfers::code.eq_any(filter.codes.clone()));
    }
    Ok(query.load(conn).await?)
}

/// Which of a partner's transfers to list.
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub codes: Vec<String>,
    pub before: Option<Uuid>,
    pub limit: i64,
}

/// Member accounts holding lots that expired by `now`.
pub async fn accounts_with_due_lots(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, StorageError> {
    let mut ids: Vec<Uuid> = earn_lots::table
        .filter(earn_lots::remaining.gt(0))
        .filter(earn_lots::expires_at.le(now))
        .select(earn_lots::member_account_id)
        .limit(limit)
        .load(conn)
        .await?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The member owning an account.
pub async fn member_of_account(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
) -> Result<Option<Uuid>, StorageError> {
    Ok(accounts::table
        .find(account_id)
        .select(accounts::member_id)
        .first::<Option<Uuid>>(conn)
        .await
        .optional()?
        .flatten())
}

/// Lots of an account that expired by `now` and still hold points, locked.
pub async fn due_lots(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<LotRow>, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::member_account_id.eq(account_id))
        .filter(earn_lots::remaining.gt(0))
        .filter(earn_lots::expires_at.le(now))
        .order((earn_lots::expires_at, earn_lots::id))
        .select(LotRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Points in an account's lots that expired by `now` but were not yet moved to breakage.
pub async fn overdue_points(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::member_account_id.eq(account_id))
        .filter(earn_lots::remaining.gt(0))
        .filter(earn_lots::expires_at.le(now))
        .select(sum_bigint("remaining"))
        .first(conn)
        .await?)
}

/// The soonest expiry among an account's lots that still hold points.
pub async fn next_lot_expiry(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::member_account_id.eq(account_id))
        .filter(earn_lots::remaining.gt(0))
        .select(diesel::dsl::min(earn_lots::expires_at))
        .first(conn)
        .await?)
}

/// `COALESCE(SUM(column), 0)` as a `bigint` (PostgreSQL sums `bigint` into `numeric`).
fn sum_bigint(column: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("COALESCE(SUM({column}), 0)::bigint"))
}
