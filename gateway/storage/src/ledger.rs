//! The ledger tables: accounts (with their balance projection), transfers, open
//! pending transfers, earn lots and lot allocations.
//!
//! Only row access lives here. The rules (what may be debited, in which order
//! lots are consumed, what a reversal may take back) are in `domain::ledger`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::{AccountId, BranchId, LotId, MemberId, PartnerId, StaffId, TransferId};
use domain::ledger::{Account, AccountDeltas, Lot, Transfer, TransferCode};
use domain::points::{Currency, Points};
use uuid::Uuid;

use super::members::card_number;
use super::schema::{accounts, earn_lots, lot_allocations, pending_transfers, transfers};
use super::{StorageError, stored};

/// An `accounts` row: identity plus the balance projection.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AccountRow {
    id: Uuid,
    kind: String,
    member_id: Option<Uuid>,
    partner_id: Option<Uuid>,
    debits_posted: i64,
    credits_posted: i64,
    debits_pending: i64,
    credits_pending: i64,
    lifetime_earned: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StorageError;

    fn try_from(row: AccountRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: AccountId(row.id),
            kind: stored("accounts.kind", &row.kind)?,
            member_id: row.member_id.map(MemberId),
            partner_id: row.partner_id.map(PartnerId),
            debits_posted: Points(row.debits_posted),
            credits_posted: Points(row.credits_posted),
            debits_pending: Points(row.debits_pending),
            credits_pending: Points(row.credits_pending),
            lifetime_earned: Points(row.lifetime_earned),
        })
    }
}

/// A `transfers` row (immutable once written).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = transfers, check_for_backend(diesel::pg::Pg))]
pub(crate) struct TransferRow {
    pub(crate) id: Uuid,
    pub(crate) debit_account_id: Uuid,
    pub(crate) credit_account_id: Uuid,
    pub(crate) amount: i64,
    pub(crate) code: String,
    pub(crate) phase: String,
    pub(crate) pending_id: Option<Uuid>,
    pub(crate) reverses_id: Option<Uuid>,
    pub(crate) member_id: Option<Uuid>,
    pub(crate) partner_id: Option<Uuid>,
    pub(crate) branch_id: Option<Uuid>,
    pub(crate) card_number: Option<String>,
    pub(crate) partner_reference: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) money_minor: Option<i64>,
    pub(crate) currency: Option<String>,
    pub(crate) timeout_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) staff_id: Option<Uuid>,
}

impl TryFrom<TransferRow> for Transfer {
    type Error = StorageError;

    fn try_from(row: TransferRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: TransferId(row.id),
            debit: AccountId(row.debit_account_id),
            credit: AccountId(row.credit_account_id),
            amount: Points(row.amount),
            code: stored("transfers.code", &row.code)?,
            phase: stored("transfers.phase", &row.phase)?,
            pending_id: row.pending_id.map(TransferId),
            reverses_id: row.reverses_id.map(TransferId),
            member_id: row.member_id.map(MemberId),
            partner_id: row.partner_id.map(PartnerId),
            branch_id: row.branch_id.map(BranchId),
            card_number: row
                .card_number
                .as_deref()
                .map(|n| card_number("transfers.card_number", n))
                .transpose()?,
            partner_reference: row.partner_reference,
            idempotency_key: row.idempotency_key,
            money_minor: row.money_minor,
            currency: row
                .currency
                .as_deref()
                .map(|c| {
                    Currency::parse(c)
                        .map_err(|e| StorageError::Corrupt(format!("transfers.currency: {e}")))
                })
                .transpose()?,
            timeout_at: row.timeout_at,
            staff_id: row.staff_id.map(StaffId),
            created_at: row.created_at,
        })
    }
}

impl From<&Transfer> for TransferRow {
    fn from(t: &Transfer) -> Self {
        Self {
            id: t.id.0,
            debit_account_id: t.debit.0,
            credit_account_id: t.credit.0,
            amount: t.amount.get(),
            code: t.code.as_str().to_owned(),
            phase: t.phase.as_str().to_owned(),
            pending_id: t.pending_id.map(|id| id.0),
            reverses_id: t.reverses_id.map(|id| id.0),
            member_id: t.member_id.map(|id| id.0),
            partner_id: t.partner_id.map(|id| id.0),
            branch_id: t.branch_id.map(|id| id.0),
            card_number: t.card_number.as_ref().map(|n| n.as_str().to_owned()),
            partner_reference: t.partner_reference.clone(),
            idempotency_key: t.idempotency_key.clone(),
            money_minor: t.money_minor,
            currency: t.currency.map(|c| c.as_str().to_owned()),
            timeout_at: t.timeout_at,
            created_at: t.created_at,
            staff_id: t.staff_id.map(|id| id.0),
        }
    }
}

/// An `earn_lots` row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = earn_lots, check_for_backend(diesel::pg::Pg))]
pub(crate) struct LotRow {
    pub(crate) id: Uuid,
    pub(crate) member_account_id: Uuid,
    pub(crate) amount: i64,
    pub(crate) remaining: i64,
    pub(crate) earned_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
}

impl From<LotRow> for Lot {
    fn from(row: LotRow) -> Self {
        Self {
            id: LotId(row.id),
            account_id: AccountId(row.member_account_id),
            amount: Points(row.amount),
            remaining: Points(row.remaining),
            earned_at: row.earned_at,
            expires_at: row.expires_at,
        }
    }
}

impl From<&Lot> for LotRow {
    fn from(lot: &Lot) -> Self {
        Self {
            id: lot.id.0,
            member_account_id: lot.account_id.0,
            amount: lot.amount.get(),
            remaining: lot.remaining.get(),
            earned_at: lot.earned_at,
            expires_at: lot.expires_at,
        }
    }
}

/// Converts rows read together; the first that cannot be used fails them all.
pub(crate) fn transfers_of(rows: Vec<TransferRow>) -> Result<Vec<Transfer>, StorageError> {
    rows.into_iter().map(Transfer::try_from).collect()
}

/// Why writing a transfer failed in a way the caller can explain.
#[derive(Debug, thiserror::Error)]
pub enum TransferWriteError {
    /// The partner reference names another transfer of the same type.
    #[error("the partner reference is already used by another transfer of the same type")]
    ReferenceTaken,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Locks accounts in id order (the order every writer of shared accounts follows).
pub async fn lock_accounts(
    conn: &mut AsyncPgConnection,
    ids: &[AccountId],
) -> Result<(), StorageError> {
    let mut ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    accounts::table
        .filter(accounts::id.eq_any(&ids))
        .order(accounts::id)
        .select(accounts::id)
        .for_no_key_update()
        .load::<Uuid>(conn)
        .await?;
    Ok(())
}

/// Creates a member's points account.
pub async fn insert_member_account(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
) -> Result<AccountId, StorageError> {
    let id = Uuid::now_v7();
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(id),
            accounts::kind.eq(domain::ledger::AccountKind::Member.as_str()),
            accounts::member_id.eq(member_id.0),
        ))
        .execute(conn)
        .await?;
    Ok(AccountId(id))
}

/// A member's account, locked for the rest of the transaction.
///
/// Every change to a member's points locks this row first, so concurrent
/// operations on one member are applied one after another.
pub async fn lock_member_account(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
) -> Result<Account, StorageError> {
    accounts::table
        .filter(accounts::member_id.eq(member_id.0))
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)
        .await?
        .try_into()
}

/// A member's account, unlocked (for reads).
pub async fn member_account(
    mut conn: &AsyncPgConnection,
    member_id: MemberId,
) -> Result<Account, StorageError> {
    accounts::table
        .filter(accounts::member_id.eq(member_id.0))
        .select(AccountRow::as_select())
        .first(&mut conn)
        .await?
        .try_into()
}

/// Moves an account's projection by the given deltas.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    account_id: AccountId,
    deltas: AccountDeltas,
) -> Result<(), StorageError> {
    diesel::update(accounts::table.find(account_id.0))
        .set((
            accounts::debits_posted.eq(accounts::debits_posted + deltas.debits_posted.get()),
            accounts::credits_posted.eq(accounts::credits_posted + deltas.credits_posted.get()),
            accounts::debits_pending.eq(accounts::debits_pending + deltas.debits_pending.get()),
            accounts::credits_pending.eq(accounts::credits_pending + deltas.credits_pending.get()),
            accounts::lifetime_earned.eq(accounts::lifetime_earned + deltas.lifetime_earned.get()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a failed write broke the one-transfer-per-partner-reference rule.
pub(crate) fn is_reference_taken(err: &DieselError) -> bool {
    matches!(err, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some("transfers_reference_idx"))
}

/// Appends a transfer.
pub async fn insert_transfer(
    conn: &mut AsyncPgConnection,
    transfer: &Transfer,
) -> Result<(), TransferWriteError> {
    match diesel::insert_into(transfers::table)
        .values(TransferRow::from(transfer))
        .execute(conn)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_reference_taken(&e) => Err(TransferWriteError::ReferenceTaken),
        Err(e) => Err(StorageError::from(e).into()),
    }
}

/// A transfer by id.
pub async fn find_transfer(
    conn: &mut AsyncPgConnection,
    id: TransferId,
) -> Result<Option<Transfer>, StorageError> {
    transfers::table
        .find(id.0)
        .select(TransferRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Transfer::try_from)
        .transpose()
}

/// The post or void transfer that resolved a pending one, if any.
pub async fn resolution_of(
    conn: &mut AsyncPgConnection,
    pending_id: TransferId,
) -> Result<Option<Transfer>, StorageError> {
    transfers::table
        .filter(transfers::pending_id.eq(pending_id.0))
        .select(TransferRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Transfer::try_from)
        .transpose()
}

/// The transfers that resolved any of these pending ones.
pub async fn resolutions_of(
    conn: &mut AsyncPgConnection,
    pending_ids: &[TransferId],
) -> Result<Vec<Transfer>, StorageError> {
    let ids: Vec<Uuid> = pending_ids.iter().map(|id| id.0).collect();
    transfers_of(
        transfers::table
            .filter(transfers::pending_id.eq_any(&ids))
            .select(TransferRow::as_select())
            .load(conn)
            .await?,
    )
}

/// Closes an open pending transfer; `false` if it was not open.
pub async fn delete_pending(
    conn: &mut AsyncPgConnection,
    transfer_id: TransferId,
) -> Result<bool, StorageError> {
    let deleted = diesel::delete(pending_transfers::table.find(transfer_id.0))
        .execute(conn)
        .await?;
    Ok(deleted == 1)
}

/// Pending transfers whose timeout has passed, oldest first.
pub async fn due_pending(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<TransferId>, StorageError> {
    Ok(pending_transfers::table
        .filter(pending_transfers::timeout_at.le(now))
        .order(pending_transfers::timeout_at)
        .select(pending_transfers::transfer_id)
        .limit(limit)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .map(TransferId)
        .collect())
}

/// A member's holds whose timeout passed by `now` and that no void has closed yet.
pub async fn expired_holds(
    mut conn: &AsyncPgConnection,
    member_id: MemberId,
    now: DateTime<Utc>,
) -> Result<Vec<TransferId>, StorageError> {
    Ok(pending_transfers::table
        .inner_join(transfers::table)
        .filter(pending_transfers::member_id.eq(member_id.0))
        .filter(pending_transfers::timeout_at.le(now))
        .filter(transfers::code.eq(TransferCode::Redeem.as_str()))
        .select(pending_transfers::transfer_id)
        .load::<Uuid>(&mut conn)
        .await?
        .into_iter()
        .map(TransferId)
        .collect())
}

/// The soonest timeout among a member's open holds.
pub async fn next_hold_timeout(
    mut conn: &AsyncPgConnection,
    member_id: MemberId,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(pending_transfers::table
        .inner_join(transfers::table)
        .filter(pending_transfers::member_id.eq(member_id.0))
        .filter(transfers::code.eq(TransferCode::Redeem.as_str()))
        .select(diesel::dsl::min(pending_transfers::timeout_at))
        .first(&mut conn)
        .await?)
}

/// Lots by id, locked.
pub async fn lots(conn: &mut AsyncPgConnection, ids: &[LotId]) -> Result<Vec<Lot>, StorageError> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    Ok(earn_lots::table
        .filter(earn_lots::id.eq_any(&ids))
        .select(LotRow::as_select())
        .for_update()
        .load(conn)
        .await?
        .into_iter()
        .map(Lot::from)
        .collect())
}

/// Creates a lot.
pub async fn insert_lot(conn: &mut AsyncPgConnection, lot: &Lot) -> Result<(), StorageError> {
    diesel::insert_into(earn_lots::table)
        .values(LotRow::from(lot))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records which lots a transfer took from (positive) or gave back to (negative), and applies it.
pub async fn allocate(
    conn: &mut AsyncPgConnection,
    transfer_id: TransferId,
    allocations: &[(LotId, Points)],
) -> Result<(), StorageError> {
    for (lot_id, amount) in allocations {
        diesel::insert_into(lot_allocations::table)
            .values((
                lot_allocations::transfer_id.eq(transfer_id.0),
                lot_allocations::lot_id.eq(lot_id.0),
                lot_allocations::amount.eq(amount.get()),
            ))
            .execute(conn)
            .await?;
        diesel::update(earn_lots::table.find(lot_id.0))
            .set(earn_lots::remaining.eq(earn_lots::remaining - amount.get()))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Every allocation of the given transfers: (lot, points taken; negative when given back).
pub async fn allocations(
    conn: &mut AsyncPgConnection,
    transfer_ids: &[TransferId],
) -> Result<Vec<(LotId, Points)>, StorageError> {
    let ids: Vec<Uuid> = transfer_ids.iter().map(|id| id.0).collect();
    Ok(lot_allocations::table
        .filter(lot_allocations::transfer_id.eq_any(&ids))
        .select((lot_allocations::lot_id, lot_allocations::amount))
        .load::<(Uuid, i64)>(conn)
        .await?
        .into_iter()
        .map(|(lot, amount)| (LotId(lot), Points(amount)))
        .collect())
}

/// A partner's transfers, newest first, after an optional cursor (a transfer id).
pub async fn list_for_partner(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    filter: &TransferFilter,
) -> Result<Vec<Transfer>, StorageError> {
    let mut query = transfers::table
        .filter(transfers::partner_id.eq(partner_id.0))
        .select(TransferRow::as_select())
        .order(transfers::id.desc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(before) = filter.before {
        query = query.filter(transfers::id.lt(before.0));
    }
    if let Some(from) = filter.from {
        query = query.filter(transfers::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(transfers::created_at.lt(to));
    }
    if !filter.codes.is_empty() {
        let codes: Vec<&str> = filter.codes.iter().map(|c| c.as_str()).collect();
        query = query.filter(transfers::code.eq_any(codes));
    }
    transfers_of(query.load(conn).await?)
}

/// A member's transfers (what moved their points, and what resolved their holds and pending
/// earns), newest first; at most `limit`, older than `before` when given.
pub async fn list_for_member(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
    before: Option<TransferId>,
    limit: i64,
) -> Result<Vec<Transfer>, StorageError> {
    let mut query = transfers::table
        .filter(transfers::member_id.eq(member_id.0))
        .select(TransferRow::as_select())
        .order(transfers::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(transfers::id.lt(before.0));
    }
    transfers_of(query.load(conn).await?)
}

/// Which of a partner's transfers to list.
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    /// Made at or after.
    pub from: Option<DateTime<Utc>>,
    /// Made before.
    pub to: Option<DateTime<Utc>>,
    /// With one of these codes (any code when empty).
    pub codes: Vec<TransferCode>,
    /// Older than this transfer (the previous page's cursor).
    pub before: Option<TransferId>,
    /// At most this many.
    pub limit: i64,
}

/// Member accounts holding lots that expired by `now`.
pub async fn accounts_with_due_lots(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AccountId>, StorageError> {
    let mut ids: Vec<Uuid> = earn_lots::table
        .filter(earn_lots::remaining.gt(0))
        .filter(earn_lots::expires_at.le(now))
        .select(earn_lots::member_account_id)
        .limit(limit)
        .load(conn)
        .await?;
    ids.sort();
    ids.dedup();
    Ok(ids.into_iter().map(AccountId).collect())
}

/// The member owning an account.
pub async fn member_of_account(
    conn: &mut AsyncPgConnection,
    account_id: AccountId,
) -> Result<Option<MemberId>, StorageError> {
    Ok(accounts::table
        .find(account_id.0)
        .select(accounts::member_id)
        .first::<Option<Uuid>>(conn)
        .await
        .optional()?
        .flatten()
        .map(MemberId))
}

/// Lots of an account that expired by `now` and still hold points, locked.
pub async fn due_lots(
    conn: &mut AsyncPgConnection,
    account_id: AccountId,
    now: DateTime<Utc>,
) -> Result<Vec<Lot>, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::member_account_id.eq(account_id.0))
        .filter(earn_lots::remaining.gt(0))
        .filter(earn_lots::expires_at.le(now))
        .order((earn_lots::expires_at, earn_lots::id))
        .select(LotRow::as_select())
        .for_update()
        .load(conn)
        .await?
        .into_iter()
        .map(Lot::from)
        .collect())
}

/// Points in an account's lots that expired by `now` but were not yet moved to breakage.
pub async fn overdue_points(
    mut conn: &AsyncPgConnection,
    account_id: AccountId,
    now: DateTime<Utc>,
) -> Result<Points, StorageError> {
    Ok(Points(
        earn_lots::table
            .filter(earn_lots::member_account_id.eq(account_id.0))
            .filter(earn_lots::remaining.gt(0))
            .filter(earn_lots::expires_at.le(now))
            .select(sum_bigint("remaining"))
            .first(&mut conn)
            .await?,
    ))
}

/// The soonest expiry among an account's lots that still hold points.
pub async fn next_lot_expiry(
    mut conn: &AsyncPgConnection,
    account_id: AccountId,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(earn_lots::table
        .filter(earn_lots::member_account_id.eq(account_id.0))
        .filter(earn_lots::remaining.gt(0))
        .select(diesel::dsl::min(earn_lots::expires_at))
        .first(&mut conn)
        .await?)
}

/// `COALESCE(SUM(column), 0)` as a `bigint` (PostgreSQL sums `bigint` into `numeric`).
fn sum_bigint(column: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("COALESCE(SUM({column}), 0)::bigint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn earn_row() -> TransferRow {
        TransferRow {
            id: Uuid::now_v7(),
            debit_account_id: Uuid::now_v7(),
            credit_account_id: Uuid::now_v7(),
            amount: 10,
            code: "earn".into(),
            phase: "single".into(),
            pending_id: None,
            reverses_id: None,
            member_id: None,
            partner_id: None,
            branch_id: None,
            card_number: Some("6037000010000002".into()),
            partner_reference: Some("order-1".into()),
            idempotency_key: None,
            money_minor: Some(100_000),
            currency: Some("IRR".into()),
            timeout_at: None,
            created_at: Utc::now(),
            staff_id: None,
        }
    }

    #[test]
    fn a_row_converts_both_ways_unchanged() {
        let row = earn_row();
        let transfer = Transfer::try_from(row.clone()).unwrap();
        assert_eq!(transfer.code, TransferCode::Earn);
        assert_eq!(TransferRow::from(&transfer), row);
    }

    #[test]
    fn a_stored_value_the_domain_does_not_know_fails_the_read() {
        let corrupt = |row: TransferRow| match Transfer::try_from(row) {
            Err(StorageError::Corrupt(detail)) => detail,
            other => panic!("expected a corrupt row, got {other:?}"),
        };
        let detail = corrupt(TransferRow {
            code: "gift".into(),
            ..earn_row()
        });
        assert!(detail.contains("transfers.code"), "{detail}");
        assert!(
            corrupt(TransferRow {
                phase: "half".into(),
                ..earn_row()
            })
            .contains("transfers.phase")
        );
        assert!(
            corrupt(TransferRow {
                card_number: Some("6037000010000003".into()),
                ..earn_row()
            })
            .contains("transfers.card_number")
        );
        assert!(
            corrupt(TransferRow {
                currency: Some("rial".into()),
                ..earn_row()
            })
            .contains("transfers.currency")
        );
        let account = AccountRow {
            id: Uuid::now_v7(),
            kind: "savings".into(),
            member_id: None,
            partner_id: None,
            debits_posted: 0,
            credits_posted: 0,
            debits_pending: 0,
            credits_pending: 0,
            lifetime_earned: 0,
        };
        assert!(matches!(
            Account::try_from(account),
            Err(StorageError::Corrupt(detail)) if detail.contains("accounts.kind")
        ));
    }
}
