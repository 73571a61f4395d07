//! Ledger operations at a time of the caller's choosing, each in a transaction of
//! its own and without an idempotency key: the demo network's backdated history,
//! and tests that hold the clock. They take the same decisions as the partner
//! path (the same pricing, the same books, the same captures and reversals).

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::{MemberId, PartnerId, TransferId};
use domain::ledger::books::{self, BookError, LedgerOp, Step};
use domain::ledger::{LedgerError, Movement, Purchase, Redemption, Reversal};
use domain::points::Points;
use domain::program::rules::RuleVersion;
use domain::program::{ProgramSettings, tiers};
use futures_util::future::BoxFuture;
use storage::{Connection, Storage, StorageError};

use super::prepare::{self, Lookups};
use crate::Club;
use crate::error::OperationError;
use crate::program::PurchaseRules;

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

/// Earns points for a purchase made `at`.
pub async fn earn(
    club: &Club,
    partner_id: PartnerId,
    purchase: Purchase,
    at: DateTime<Utc>,
) -> Result<Movement> {
    let at = domain::time::stored(at);
    let (settings, rules) = (club.program.clone(), club.storage.program_rules().await?);
    let purchase_rules = PurchaseRules::of(club).await?;
    run_batch(&club.storage, move |conn| {
        Box::pin(async move {
            let op = prepare::price_earn(
                &mut Lookups::Conn(conn),
                &settings,
                &purchase_rules,
                partner_id,
                None,
                purchase,
                at,
            )
            .await?;
            apply_one(conn, &settings, &rules, &op, at).await
        })
    })
    .await
}

/// Redeems (or holds) points `at`.
pub async fn redeem(
    club: &Club,
    partner_id: PartnerId,
    redemption: Redemption,
    at: DateTime<Utc>,
) -> Result<Movement> {
    let at = domain::time::stored(at);
    let (settings, rules) = (club.program.clone(), club.storage.program_rules().await?);
    run_batch(&club.storage, move |conn| {
        Box::pin(async move {
            let op = prepare::price_redemption(
                &mut Lookups::Conn(conn),
                &settings,
                partner_id,
                None,
                redemption,
            )
            .await?;
            apply_one(conn, &settings, &rules, &op, at).await
        })
    })
    .await
}

/// Captures `points` of a hold (all of it when `None`) `at`.
pub async fn capture(
    club: &Club,
    partner_id: PartnerId,
    hold: TransferId,
    points: Option<Points>,
    at: DateTime<Utc>,
) -> Result<Movement> {
    follow(club, partner_id, hold, Step::Capture(points), at).await
}

/// Voids a hold `at`.
pub async fn void(
    club: &Club,
    partner_id: PartnerId,
    hold: TransferId,
    at: DateTime<Utc>,
) -> Result<Movement> {
    follow(club, partner_id, hold, Step::Void, at).await
}

/// Posts (`is_post`) or voids a pending earn `at`.
pub async fn resolve_pending(
    club: &Club,
    partner_id: PartnerId,
    pending: TransferId,
    is_post: bool,
    at: DateTime<Utc>,
) -> Result<Movement> {
    let step = if is_post { Step::Release } else { Step::Cancel };
    follow(club, partner_id, pending, step, at).await
}

/// Reverses (part of) an earn or a redemption `at`.
pub async fn reverse(
    club: &Club,
    partner_id: PartnerId,
    reversal: Reversal,
    at: DateTime<Utc>,
) -> Result<Movement> {
    let (id, step) = Step::reverse(reversal);
    follow(club, partner_id, id, step, at).await
}

/// Takes `step` on the partner's transfer `id` `at`, as a batch of one.
async fn follow(
    club: &Club,
    partner_id: PartnerId,
    id: TransferId,
    step: Step,
    at: DateTime<Utc>,
) -> Result<Movement> {
    let at = domain::time::stored(at);
    let (settings, rules) = (club.program.clone(), club.storage.program_rules().await?);
    run_batch(&club.storage, move |conn| {
        Box::pin(async move {
            let op =
                prepare::follow_up(&mut Lookups::Conn(conn), partner_id, None, id, step).await?;
            apply_one(conn, &settings, &rules, &op, at).await
        })
    })
    .await
}

/// Runs a batch of one in a transaction that commits what the books wrote, also when they
/// refused the operation; tells the caches about the member it moved.
async fn run_batch(
    storage: &Storage,
    work: impl for<'c> FnOnce(
        &'c mut Connection,
    ) -> BoxFuture<'c, Result<(Result<Movement>, Vec<MemberId>)>>
    + Send,
) -> Result<Movement> {
    let mut conn = storage.db().await?;
    let (decided, changed) = conn
        .transaction::<_, OperationError<LedgerError>, _>(async move |conn| work(conn).await)
        .await?;
    storage::card_cache::bump_many(storage, &changed).await;
    decided
}

/// Applies one priced operation as a batch of one on the caller's transaction. As in a
/// committer's batch, what time decided before the operation (expired holds voided, expired lots
/// to breakage) is written even when the operation itself is refused.
async fn apply_one(
    conn: &mut Connection,
    settings: &ProgramSettings,
    rules: &[RuleVersion],
    op: &LedgerOp,
    at: DateTime<Utc>,
) -> Result<(Result<Movement>, Vec<MemberId>)> {
    let (mut results, changed) = apply_batch(conn, settings, rules, &[op], at).await?;
    match results.pop() {
        Some(result) => Ok((result, changed)),
        None => Err(StorageError::Corrupt("a batch of one decided nothing".into()).into()),
    }
}

/// Applies priced operations as one batch on the caller's transaction (which must commit what
/// the books wrote, refusals included); returns each operation's answer and the members whose
/// points moved (whose caches are to be told after the commit).
pub(crate) async fn apply_batch(
    conn: &mut Connection,
    settings: &ProgramSettings,
    rules: &[RuleVersion],
    ops: &[&LedgerOp],
    at: DateTime<Utc>,
) -> Result<(Vec<Result<Movement>>, Vec<MemberId>)> {
    let tiers = tiers::in_force(rules, at);
    // Late earns need their members' days (and caps' months) as of when they happened.
    let earliest = LedgerOp::earliest(ops, at);
    let since = tiers::activity_needed_since(&tiers, rules, earliest, settings.time_zone);
    let month_start = settings.month_start(earliest);
    let snapshot = storage::ledger_batch::read(conn, ops, at, since, month_start).await?;
    let mut decided = books::decide(snapshot, ops, settings, &tiers, at);
    storage::ledger_batch::write(
        conn,
        &decided.writes,
        &decided.member_accounts,
        &decided.partners,
    )
    .await?;
    super::committer::count_committed(&decided);
    let changed = std::mem::take(&mut decided.changed_members);
    let results = decided
        .results
        .into_iter()
        .map(|result| match result {
            Ok(movement) => Ok(Ok(movement)),
            Err(BookError::Refused(refused)) => Ok(Err(OperationError::Refused(refused))),
            Err(BookError::MissingAccount(member)) => {
                Err(StorageError::Corrupt(format!("member {member} has no account")).into())
            }
        })
        .collect::<Result<_>>()?;
    Ok((results, changed))
}
