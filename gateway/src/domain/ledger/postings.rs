//! The mechanics every ledger operation shares: writing a transfer with its
//! balance changes, consuming and restoring earn lots, expiring due lots,
//! resolving pending transfers, and resolving branches and cards.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{LedgerError, Phase, ProgramSettings, Transfer, TransferCode, TransferState};
use crate::domain::cards::{CardNumber, CardStatus};
use crate::domain::partners::{Branch, PartnerId};
use crate::storage::ledger::{self as rows, AccountRow, LotRow, TransferRow};
use crate::storage::ledger_batch::AccountDeltas;
use crate::storage::members::{CardRow, MemberRow};
use crate::storage::{self, StorageError};

/// A member's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Posted points (credits less debits), held points included.
    pub posted: i64,
    /// What can be redeemed now: posted less held.
    pub available: i64,
    /// Points in open holds.
    pub held: i64,
    /// Earned points not yet released (pending earns).
    pub pending_earned: i64,
}

impl Balance {
    /// The balance an account row projects.
    pub fn of(account: &AccountRow) -> Self {
        Self {
            posted: account.credits_posted - account.debits_posted,
            available: account.available(),
            held: account.debits_pending,
            pending_earned: account.credits_pending,
        }
    }
}

/// A member's balance as of now, read inside the current transaction.
pub async fn balance(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
) -> Result<Balance, StorageError> {
    Ok(Balance::of(&rows::member_account(conn, member_id).await?))
}

/// The fields every transfer shares; operations fill in the rest.
pub struct NewTransfer {
    pub debit: Uuid,
    pub credit: Uuid,
    pub amount: i64,
    pub code: TransferCode,
    pub phase: Phase,
}

/// A transfer row with everything else left empty.
pub fn row(new: NewTransfer, now: DateTime<Utc>) -> TransferRow {
    TransferRow {
        id: time_ordered_id(now),
        debit_account_id: new.debit,
        credit_account_id: new.credit,
        amount: new.amount,
        code: new.code.as_str().to_owned(),
        phase: new.phase.as_str().to_owned(),
        pending_id: None,
        reverses_id: None,
        member_id: None,
        partner_id: None,
        branch_id: None,
        card_number: None,
        partner_reference: None,
        idempotency_key: None,
        money_minor: None,
        currency: None,
        timeout_at: None,
        created_at: now,
    }
}

/// A UUIDv7 carrying `now`, so transfer ids sort like their times (also for backdated demo history).
pub fn time_ordered_id(now: DateTime<Utc>) -> Uuid {
    let secs = u64::try_from(now.timestamp()).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        secs,
        now.timestamp_subsec_nanos(),
    ))
}

/// Appends `transfer` and moves both accounts' projections accordingly.
///
/// For `post` and `void`, `pending_amount` is the amount of the pending transfer
/// being resolved: all of it leaves the pending columns, `transfer.amount` (the
/// captured part) enters the posted ones.
pub async fn write(
    conn: &mut AsyncPgConnection,
    transfer: &TransferRow,
    pending_amount: i64,
) -> Result<(), LedgerError> {
    rows::insert_transfer(conn, transfer).await?;
    metrics::counter!("ledger_transfers_total", "code" => transfer.code.clone(), "phase" => transfer.phase.clone()).increment(1);
    let (debit, credit) = AccountDeltas::of(transfer, pending_amount);
    rows::apply(conn, transfer.debit_account_id, debit).await?;
    rows::apply(conn, transfer.credit_account_id, credit).await?;
    Ok(())
}

/// Takes `points` from the member's lots, soonest expiry first (`first` before all others).
///
/// The caller has checked the available balance; lots always add up to it.
pub async fn consume_lots(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    first: Option<Uuid>,
    points: i64,
) -> Result<Vec<(Uuid, i64)>, StorageError> {
    Ok(spend(
        &rows::open_lots(conn, account_id).await?,
        first,
        points,
    ))
}

/// Which lots `points` come from, given the open lots in spending order (`first` before all others).
pub fn spend(lots: &[LotRow], first: Option<Uuid>, points: i64) -> Vec<(Uuid, i64)> {
    let first_lot = first.and_then(|id| lots.iter().find(|l| l.id == id));
    let rest = lots.iter().filter(|l| Some(l.id) != first);
    let mut left = points;
    let mut taken = Vec::new();
    for lot in first_lot.into_iter().chain(rest) {
        if left == 0 {
            break;
        }
        let take = lot.remaining.min(left);
        if take > 0 {
            taken.push((lot.id, take));
            left -= take;
        }
    }
    taken
}

/// Gives `points` back to the lots in `taken` (net amounts taken from each), latest expiry first,
/// and returns the (negative) allocations to record.
pub async fn restore_lots(
    conn: &mut AsyncPgConnection,
    taken: Vec<(Uuid, i64)>,
    points: i64,
) -> Result<Vec<(Uuid, i64)>, StorageError> {
    let ids: Vec<Uuid> = taken.iter().map(|(id, _)| *id).collect();
    let mut lots: Vec<LotRow> = rows::lots(conn, &ids).await?;
    lots.sort_by_key(|lot| std::cmp::Reverse((lot.expires_at, lot.id)));
    let mut left = points;
    let mut restored = Vec::new();
    for lot in lots {
        if left == 0 {
            break;
        }
        let net = taken
            .iter()
            .find(|(id, _)| *id == lot.id)
            .map_or(0, |(_, n)| *n);
        let give = net.min(left).min(lot.amount - lot.remaining);
        if give > 0 {
            restored.push((lot.id, -give));
            left -= give;
        }
    }
    Ok(restored)
}

/// Moves the member's expired lots to breakage, so balances and lots stay exact.
///
/// Runs at the start of every operation that changes a member's points, so a
/// lot never serves a redemption after its expiry, even between maintenance runs.
pub async fn expire_due_lots(
    conn: &mut AsyncPgConnection,
    account: &AccountRow,
    now: DateTime<Utc>,
) -> Result<Option<Transfer>, LedgerError> {
    let due = rows::due_lots(conn, account.id, now).await?;
    let Some((transfer, allocations)) = expiry(account, &due, now) else {
        return Ok(None);
    };
    write(conn, &transfer, 0).await?;
    rows::allocate(conn, transfer.id, &allocations).await?;
    Ok(Some(transfer.into()))
}

/// The transfer moving a member account's lots expired by `now` (among `lots`) to breakage, and
/// the points it takes from each; `None` when nothing has expired.
pub fn expiry(
    account: &AccountRow,
    lots: &[LotRow],
    now: DateTime<Utc>,
) -> Option<(TransferRow, Vec<(Uuid, i64)>)> {
    let taken: Vec<(Uuid, i64)> = lots
        .iter()
        .filter(|l| l.remaining > 0 && l.expires_at <= now)
        .map(|l| (l.id, l.remaining))
        .collect();
    let total: i64 = taken.iter().map(|(_, points)| points).sum();
    if total == 0 {
        return None;
    }
    let mut transfer = row(
        NewTransfer {
            debit: account.id,
            credit: rows::BREAKAGE_ACCOUNT,
            amount: total,
            code: TransferCode::Expiry,
            phase: Phase::Single,
        },
        now,
    );
    transfer.member_id = account.member_id;
    tracing::info!(transfer.id = %transfer.id, points = total, "expired {total} points to breakage");
    Some((transfer, taken))
}

/// Creates the lot an earn's points live in.
pub async fn open_lot(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    transfer: &TransferRow,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    rows::insert_lot(conn, &lot_of(settings, transfer, account_id, now)).await
}

/// The lot an earn's points live in, valid for the programme's validity from `now`.
pub fn lot_of(
    settings: &ProgramSettings,
    transfer: &TransferRow,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> LotRow {
    LotRow {
        id: transfer.id,
        member_account_id: account_id,
        amount: transfer.amount,
        remaining: transfer.amount,
        earned_at: now,
        expires_at: now + settings.points_validity,
    }
}

/// Resolves an open pending transfer: posts part of it (`Some((points, money_minor))`), or voids it.
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    pending: &TransferRow,
    post: Option<(i64, Option<i64>)>,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<TransferRow, LedgerError> {
    let (phase, amount, money_minor) = match post {
        Some((amount, money_minor)) => (Phase::Post, amount, money_minor),
        None => (Phase::Void, pending.amount, None),
    };
    let mut resolution = row(
        NewTransfer {
            debit: pending.debit_account_id,
            credit: pending.credit_account_id,
            amount,
            code: TransferCode::parse(&pending.code).unwrap_or(TransferCode::Adjustment),
            phase,
        },
        now,
    );
    resolution.pending_id = Some(pending.id);
    resolution.member_id = pending.member_id;
    resolution.partner_id = pending.partner_id;
    resolution.branch_id = pending.branch_id;
    resolution.card_number = pending.card_number.clone();
    resolution.idempotency_key = idempotency_key;
    resolution.money_minor = money_minor;
    resolution.currency = pending.currency.clone();
    write(conn, &resolution, pending.amount).await?;
    rows::delete_pending(conn, pending.id).await?;
    Ok(resolution)
}

/// Where a transfer the partner knows stands now.
pub async fn state_of(
    conn: &mut AsyncPgConnection,
    transfer: &TransferRow,
) -> Result<TransferState, StorageError> {
    if transfer.phase != Phase::Pending.as_str() {
        return Ok(TransferState::Posted);
    }
    Ok(match rows::resolution_of(conn, transfer.id).await? {
        None => TransferState::Pending,
        Some(r) if r.phase == Phase::Post.as_str() => TransferState::Posted,
        Some(_) => TransferState::Voided,
    })
}

/// A branch of the calling partner, by code or id.
pub async fn branch_of(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    branch: &str,
) -> Result<Branch, LedgerError> {
    if let Ok(id) = branch.parse::<Uuid>() {
        return match storage::branches::find(conn, id).await? {
            Some(b) if b.partner_id == partner_id => Ok(b),
            Some(b) => Err(LedgerError::BranchOfAnotherPartner(b.id.0)),
            None => Err(LedgerError::BranchUnknown(branch.to_owned())),
        };
    }
    storage::branches::find_by_code(conn, partner_id, branch)
        .await?
        .ok_or_else(|| LedgerError::BranchUnknown(branch.to_owned()))
}

/// A card that may be used at the till, with its member.
pub async fn usable_card(
    conn: &mut AsyncPgConnection,
    number: &CardNumber,
) -> Result<(CardRow, MemberRow), LedgerError> {
    let (card, member) = storage::members::find_card(conn, number.as_str())
        .await?
        .ok_or(LedgerError::CardUnknown)?;
    usable(&card.status, &member.status)?;
    Ok((card, member))
}

/// Whether a card in `card_status` of a member in `member_status` may be used at the till.
pub fn usable(card_status: &str, member_status: &str) -> Result<(), LedgerError> {
    match CardStatus::parse(card_status) {
        Some(CardStatus::Active) => {}
        Some(CardStatus::Blocked) => return Err(LedgerError::CardBlocked),
        Some(CardStatus::Lost) | None => return Err(LedgerError::CardLost),
    }
    if member_status != "active" {
        return Err(LedgerError::MemberClosed);
    }
    Ok(())
}
