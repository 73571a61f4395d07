//! Set-based ledger writes: a whole batch of transfers, balance changes, lots and
//! allocations, one statement per table (arrays bound once, unnested in SQL).
//!
//! The statement shapes do not depend on the batch size, so PostgreSQL plans each
//! once per connection, and a batch of a thousand costs about what a batch of one does.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::{AccountId, LotId, MemberId, PartnerId, TransferId};
use domain::ledger::books::{ExpiredHold, LedgerOp, Snapshot, Writes};
use domain::ledger::{AccountDeltas, AccountKind, Lot, TransferCode, lots, partner_account};
use domain::points::Points;
use futures_util::TryFutureExt as _;
use uuid::Uuid;

use super::ledger::{
    AccountRow, LotRow, TransferRow, TransferWriteError, is_reference_taken, transfers_of,
};
use super::prepared::prepared;
use super::schema::{accounts, lot_allocations, pending_transfers, transfers};
use super::{StorageError, stored};

/// Locks the members of `ops` (in id order) and reads what deciding them needs: their accounts,
/// the lots they may spend, their cards, the partner references already used, the holds whose
/// timeout has passed, and what has happened to the transfers the follow-ups follow. The
/// statements are sent at once (pipelined) and run in order, so everything is read under the
/// locks. Only when there are expired holds does a second round trip read the lots they took from.
/// With tiers in force (`activity_since`), the members' activity from that day on and their
/// recorded tiers are read too; with capped earn rules, what they gave the members since
/// `month_start` (the first day of the local month).
pub async fn read(
    conn: &AsyncPgConnection,
    ops: &[&LedgerOp],
    now: DateTime<Utc>,
    activity_since: Option<NaiveDate>,
    month_start: NaiveDate,
) -> Result<Snapshot, StorageError> {
    let mut needs: BTreeMap<MemberId, Points> = BTreeMap::new();
    for op in ops {
        let need = needs.entry(op.member_id()).or_default();
        *need = need
            .checked_add(op.points_to_spend())
            .unwrap_or(Points(i64::MAX));
        for other in op.other_members() {
            needs.entry(other).or_default();
        }
    }
    let member_ids: Vec<MemberId> = needs.keys().copied().collect();
    let needs: Vec<(MemberId, Points)> = needs.into_iter().collect();
    let sales = || ops.iter().filter_map(|op| op.sale());
    let numbers: BTreeSet<&str> = sales().map(|(at, _)| at.card.as_str()).collect();
    let numbers: Vec<&str> = numbers.into_iter().collect();
    let wanted: Vec<(PartnerId, TransferCode, &str)> = sales()
        .map(|(at, code)| (at.partner_id, code, at.reference.as_str()))
        .collect();
    let originals: BTreeSet<Uuid> = ops
        .iter()
        .filter_map(|op| op.followed())
        .map(|t| t.id.0)
        .collect();
    let originals: Vec<Uuid> = originals.into_iter().collect();
    // Every key the batch may award under (campaigns' are new transfers' ids: never taken).
    let bonus_keys: Vec<(MemberId, &str, &str)> = ops
        .iter()
        .flat_map(|op| match op {
            LedgerOp::Bonus(b) => vec![(b.member_id, b.bonus.as_str(), b.occasion.as_str())],
            LedgerOp::Earn(e) => e
                .repeat_visits
                .iter()
                .map(|r| (e.at.member_id, r.code.as_str(), r.occasion.as_str()))
                .chain(
                    e.first_purchase
                        .iter()
                        .map(|r| (r.referrer, r.code.as_str(), r.occasion.as_str())),
                )
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let offers = || {
        ops.iter().filter_map(|op| match op {
            LedgerOp::Earn(earn) => Some(&earn.offers),
            _ => None,
        })
    };
    let budgeted: BTreeSet<&str> = offers()
        .flatten()
        .filter(|o| o.budget_points.is_some())
        .map(|o| o.code.as_str())
        .collect();
    let budgeted: Vec<&str> = budgeted.into_iter().collect();
    let facts_needed = offers().flatten().any(|o| o.audience.needs_facts());
    let capped_rules: BTreeSet<&str> = ops
        .iter()
        .filter_map(|op| match op {
            LedgerOp::Earn(earn) => Some(earn.capped.iter().map(|c| c.rule.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let capped_rules: Vec<&str> = capped_rules.into_iter().collect();
    let (
        accounts,
        lots,
        cards,
        taken_references,
        holds,
        followers,
        followed_allocations,
        followed_lots,
        (activity, tiers_recorded),
        awarded,
        campaign_spent,
        member_facts,
        earn_rule_points,
    ) = futures_util::try_join!(
        lock_member_accounts(conn, &member_ids),
        lots_to_spend(conn, &needs, now),
        super::members::card_statuses(conn, &numbers),
        taken_references(conn, &wanted),
        expired_holds(conn, &member_ids, now),
        followers(conn, &originals),
        followed_allocations(conn, &originals),
        followed_lots(conn, &originals),
        async {
            let Some(since) = activity_since else {
                return Ok((Vec::new(), Vec::new()));
            };
            futures_util::try_join!(
                super::activity::days(conn, &member_ids, since),
                super::activity::tiers_recorded(conn, &member_ids),
            )
        },
        super::bonuses::awarded(conn, &bonus_keys),
        super::bonuses::lock_campaign_spend(conn, &budgeted),
        async {
            if facts_needed {
                super::members::facts(conn, &member_ids).await
            } else {
                Ok(Vec::new())
            }
        },
        super::activity::earn_rule_points(conn, &member_ids, &capped_rules, month_start),
    )?;
    let (expired_holds, hold_lots) = if holds.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        taken_by_holds(conn, holds).await?
    };
    Ok(Snapshot {
        accounts,
        lots,
        cards,
        taken_references,
        expired_holds,
        hold_lots,
        followers,
        followed_allocations,
        followed_lots,
        activity,
        tiers_recorded,
        awarded,
        campaign_spent,
        member_facts,
        earn_rule_points,
    })
}

/// The transfers that resolved or reversed `originals`.
async fn followers(
    mut conn: &AsyncPgConnection,
    originals: &[Uuid],
) -> Result<Vec<domain::ledger::Transfer>, StorageError> {
    if originals.is_empty() {
        return Ok(Vec::new());
    }
    let rows = transfers::table
        .filter(
            transfers::pending_id
                .eq_any(originals)
                .or(transfers::reverses_id.eq_any(originals)),
        )
        .select(TransferRow::as_select())
        .load(&mut conn)
        .await?;
    transfers_of(rows)
}

/// The transfers of the chains of `$1` (originals): the originals, their resolutions and their
/// reversals (a macro, so the statements stay `&'static str`s).
macro_rules! chain {
    () => {
        "SELECT c.id FROM UNNEST($1::uuid[]) AS c(id) \
         UNION ALL SELECT t.id FROM transfers t \
          WHERE t.pending_id = ANY($1::uuid[]) OR t.reverses_id = ANY($1::uuid[])"
    };
}

/// What the chains of `originals` took from each lot, and gave back.
async fn followed_allocations(
    mut conn: &AsyncPgConnection,
    originals: &[Uuid],
) -> Result<Vec<(TransferId, LotId, Points)>, StorageError> {
    #[derive(QueryableByName)]
    struct Allocation {
        #[diesel(sql_type = SqlUuid)]
        transfer_id: Uuid,
        #[diesel(sql_type = SqlUuid)]
        lot_id: Uuid,
        #[diesel(sql_type = BigInt)]
        amount: i64,
    }
    if originals.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Allocation> = prepared(
        diesel::sql_query(concat!(
            "SELECT a.transfer_id, a.lot_id, a.amount FROM lot_allocations a \
              WHERE a.transfer_id IN (",
            chain!(),
            ")"
        ))
        .bind::<Array<SqlUuid>, _>(originals),
    )
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|a| (TransferId(a.transfer_id), LotId(a.lot_id), Points(a.amount)))
        .collect())
}

/// The lots the chains of `originals` took from or created (an earn's lot has its id). One
/// `IN (… UNION …)`, not two `IN`s joined by `OR`, which PostgreSQL answers with a scan of every lot.
async fn followed_lots(
    mut conn: &AsyncPgConnection,
    originals: &[Uuid],
) -> Result<Vec<Lot>, StorageError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(embed)]
        lot: LotRow,
    }
    if originals.is_empty() {
        return Ok(Vec::new());
    }
    let lots: Vec<Found> = prepared(
        diesel::sql_query(concat!(
            "WITH chain AS (",
            chain!(),
            ") SELECT l.id, l.member_account_id, l.amount, l.remaining, l.earned_at, l.expires_at \
               FROM earn_lots l \
              WHERE l.id IN (SELECT id FROM chain \
                             UNION SELECT a.lot_id FROM lot_allocations a \
                                    WHERE a.transfer_id IN (SELECT id FROM chain))"
        ))
        .bind::<Array<SqlUuid>, _>(originals),
    )
    .load(&mut conn)
    .await?;
    Ok(lots.into_iter().map(|l| Lot::from(l.lot)).collect())
}

/// The member accounts of `member_ids`, locked in id order (the batch lock order).
async fn lock_member_accounts(
    mut conn: &AsyncPgConnection,
    member_ids: &[MemberId],
) -> Result<Vec<domain::ledger::Account>, StorageError> {
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    accounts::table
        .filter(accounts::member_id.eq_any(&ids))
        .order(accounts::id)
        .select(AccountRow::as_select())
        .for_no_key_update()
        .load(&mut conn)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The members' holds whose timeout passed by `now` and that no void has closed yet.
async fn expired_holds(
    mut conn: &AsyncPgConnection,
    member_ids: &[MemberId],
    now: DateTime<Utc>,
) -> Result<Vec<TransferRow>, StorageError> {
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    Ok(pending_transfers::table
        .inner_join(transfers::table)
        .filter(pending_transfers::member_id.eq_any(&ids))
        .filter(pending_transfers::timeout_at.le(now))
        .filter(transfers::code.eq(TransferCode::Redeem.as_str()))
        .select(TransferRow::as_select())
        .load(&mut conn)
        .await?)
}

/// What each expired hold took from which lot, and those lots.
async fn taken_by_holds(
    mut conn: &AsyncPgConnection,
    holds: Vec<TransferRow>,
) -> Result<(Vec<ExpiredHold>, Vec<Lot>), StorageError> {
    let ids: Vec<Uuid> = holds.iter().map(|h| h.id).collect();
    let taken: Vec<(Uuid, Uuid, i64)> = lot_allocations::table
        .filter(lot_allocations::transfer_id.eq_any(&ids))
        .select((
            lot_allocations::transfer_id,
            lot_allocations::lot_id,
            lot_allocations::amount,
        ))
        .load(&mut conn)
        .await?;
    let lot_ids: Vec<Uuid> = taken.iter().map(|t| t.1).collect();
    let hold_lots: Vec<Lot> = super::schema::earn_lots::table
        .filter(super::schema::earn_lots::id.eq_any(&lot_ids))
        .select(LotRow::as_select())
        .load(&mut conn)
        .await?
        .into_iter()
        .map(Lot::from)
        .collect();
    let expired = transfers_of(holds)?
        .into_iter()
        .map(|hold| ExpiredHold {
            taken: lots::net_taken(
                taken
                    .iter()
                    .filter(|t| t.0 == hold.id.0)
                    .map(|t| (LotId(t.1), Points(t.2))),
            ),
            hold,
        })
        .collect();
    Ok((expired, hold_lots))
}

/// The lots a batch may touch, in spending order per account: those expired by `now`, then
/// the soonest-expiring ones until they cover the points the batch may spend from the account
/// (all of them when they do not).
///
/// Not locked: every change to a member's lots happens under its account's lock, which the
/// batch already holds.
async fn lots_to_spend(
    mut conn: &AsyncPgConnection,
    member_needs: &[(MemberId, Points)],
    now: DateTime<Utc>,
) -> Result<Vec<Lot>, StorageError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(embed)]
        lot: LotRow,
    }
    let members: Vec<Uuid> = member_needs.iter().map(|n| n.0.0).collect();
    let points: Vec<i64> = member_needs.iter().map(|n| n.1.get()).collect();
    let lots: Vec<Found> = prepared(
        diesel::sql_query(
            // Per account, through the open-lots index in spending order: each lot has at least one
            // point left, so the expired lots and `points` more always cover what may be spent.
            "SELECT o.id, o.member_account_id, o.amount, o.remaining, o.earned_at, o.expires_at \
           FROM UNNEST($1::uuid[], $2::int8[]) AS n(member_id, points) \
           JOIN accounts a ON a.member_id = n.member_id \
           CROSS JOIN LATERAL ( \
             SELECT l.*, \
                    SUM(CASE WHEN l.expires_at > $3 THEN l.remaining ELSE 0 END) \
                        OVER (ORDER BY l.expires_at, l.id) \
                    - CASE WHEN l.expires_at > $3 THEN l.remaining ELSE 0 END AS before \
               FROM (SELECT * FROM earn_lots e \
                      WHERE e.member_account_id = a.id AND e.remaining > 0 \
                      ORDER BY e.expires_at, e.id \
                      LIMIT n.points + (SELECT count(*) FROM earn_lots d \
                                         WHERE d.member_account_id = a.id \
                                           AND d.remaining > 0 AND d.expires_at <= $3)) l \
           ) o \
          WHERE o.expires_at <= $3 OR o.before < n.points \
          ORDER BY o.member_account_id, o.expires_at, o.id",
        )
        .bind::<Array<SqlUuid>, _>(&members)
        .bind::<Array<BigInt>, _>(&points)
        .bind::<Timestamptz, _>(now),
    )
    .load(&mut conn)
    .await?;
    Ok(lots.into_iter().map(|l| Lot::from(l.lot)).collect())
}

/// Which of these (partner, code, reference) triples an earn or redemption already uses.
async fn taken_references(
    mut conn: &AsyncPgConnection,
    wanted: &[(PartnerId, TransferCode, &str)],
) -> Result<Vec<(PartnerId, TransferCode, String)>, StorageError> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = SqlUuid)]
        partner_id: Uuid,
        #[diesel(sql_type = Text)]
        code: String,
        #[diesel(sql_type = Text)]
        partner_reference: String,
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let partners: Vec<Uuid> = wanted.iter().map(|w| w.0.0).collect();
    let codes: Vec<&str> = wanted.iter().map(|w| w.1.as_str()).collect();
    let references: Vec<&str> = wanted.iter().map(|w| w.2).collect();
    let rows: Vec<Taken> = prepared(diesel::sql_query(
        "SELECT t.partner_id, t.code, t.partner_reference \
           FROM transfers t \
           JOIN UNNEST($1::uuid[], $2::text[], $3::text[]) AS w(partner_id, code, reference) \
             ON t.partner_id = w.partner_id AND t.code = w.code AND t.partner_reference = w.reference \
          WHERE t.phase IN ('single', 'pending') AND t.code IN ('earn', 'redeem')",
    )
    .bind::<Array<SqlUuid>, _>(&partners)
    .bind::<Array<Text>, _>(&codes)
    .bind::<Array<Text>, _>(&references))
    .load(&mut conn)
    .await?;
    rows.into_iter()
        .map(|t| {
            Ok((
                PartnerId(t.partner_id),
                stored("transfers.code", &t.code)?,
                t.partner_reference,
            ))
        })
        .collect()
}

/// Creates the partners' issuance and redemption accounts where they do not exist yet.
pub async fn ensure_partner_accounts(
    mut conn: &AsyncPgConnection,
    partner_ids: &[PartnerId],
) -> Result<(), StorageError> {
    if partner_ids.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    let mut partners = Vec::new();
    for partner in partner_ids {
        for kind in [AccountKind::PartnerIssuance, AccountKind::PartnerRedemption] {
            ids.push(partner_account(*partner, kind).0);
            kinds.push(kind.as_str());
            partners.push(partner.0);
        }
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO accounts (id, kind, partner_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[]) \
         ON CONFLICT DO NOTHING",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<Text>, _>(&kinds)
        .bind::<Array<SqlUuid>, _>(&partners),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Writes a batch: locks the other accounts it moves (in id order), then one statement per
/// table, all sent at once (pipelined; PostgreSQL runs them in order, and the first failure
/// fails the rest). `partner_ids` are the partners whose accounts may not exist yet (a partner
/// added by a version that did not open them with it).
pub async fn write(
    conn: &AsyncPgConnection,
    writes: &Writes,
    member_accounts: &[AccountId],
    partner_ids: &[PartnerId],
) -> Result<(), TransferWriteError> {
    if writes.transfers.is_empty() {
        return Ok(());
    }
    // `member_accounts` come sorted (they were locked in id order).
    let others: Vec<Uuid> = writes
        .deltas
        .keys()
        .filter(|id| member_accounts.binary_search(id).is_err())
        .map(|id| id.0)
        .collect();
    let storage = |e: StorageError| TransferWriteError::Storage(e);
    // The other accounts (partners', breakage) are shared by every batch: they are locked
    // last, in the projections' update, so that a batch holds them only for its last statement
    // and its commit.
    futures_util::try_join!(
        ensure_partner_accounts(conn, partner_ids).map_err(storage),
        insert_transfers(conn, &writes.transfers),
        insert_lots(conn, &writes.new_lots).map_err(storage),
        insert_allocations(conn, &writes.allocations).map_err(storage),
        take_from_lots(conn, &writes.lot_takes).map_err(storage),
        insert_pendings(conn, &writes.pendings).map_err(storage),
        delete_pendings(conn, &writes.resolved_pendings).map_err(storage),
        super::activity::add_days(conn, &writes.activity).map_err(storage),
        super::activity::record_tier_changes(conn, &writes.tier_changes).map_err(storage),
        super::bonuses::record(conn, &writes.awards).map_err(storage),
        super::bonuses::add_campaign_spend(conn, &writes.campaign_spend).map_err(storage),
        super::activity::add_earn_rule_points(conn, &writes.earn_rule_points).map_err(storage),
        super::activity::record_late_earns(conn, &writes.late_earns).map_err(storage),
        super::activity::record_earn_tiers(conn, &writes.earn_tiers).map_err(storage),
        apply_deltas(conn, &writes.deltas, &others).map_err(storage),
    )?;
    Ok(())
}

async fn insert_transfers(
    mut conn: &AsyncPgConnection,
    transfers: &[domain::ledger::Transfer],
) -> Result<(), TransferWriteError> {
    let transfers: Vec<TransferRow> = transfers.iter().map(TransferRow::from).collect();
    macro_rules! column {
        ($field:ident) => {
            transfers
                .iter()
                .map(|t| t.$field.clone())
                .collect::<Vec<_>>()
        };
    }
    let inserted = prepared(
        diesel::sql_query(
            "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, code, phase, \
             pending_id, reverses_id, member_id, partner_id, branch_id, card_number, \
             partner_reference, idempotency_key, money_minor, currency, timeout_at, created_at, \
             staff_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::text[], \
             $6::text[], $7::uuid[], $8::uuid[], $9::uuid[], $10::uuid[], $11::uuid[], \
             $12::text[], $13::text[], $14::text[], $15::int8[], $16::text[], \
             $17::timestamptz[], $18::timestamptz[], $19::uuid[])",
        )
        .bind::<Array<SqlUuid>, _>(column!(id))
        .bind::<Array<SqlUuid>, _>(column!(debit_account_id))
        .bind::<Array<SqlUuid>, _>(column!(credit_account_id))
        .bind::<Array<BigInt>, _>(column!(amount))
        .bind::<Array<Text>, _>(column!(code))
        .bind::<Array<Text>, _>(column!(phase))
        .bind::<Array<Nullable<SqlUuid>>, _>(column!(pending_id))
        .bind::<Array<Nullable<SqlUuid>>, _>(column!(reverses_id))
        .bind::<Array<Nullable<SqlUuid>>, _>(column!(member_id))
        .bind::<Array<Nullable<SqlUuid>>, _>(column!(partner_id))
        .bind::<Array<Nullable<SqlUuid>>, _>(column!(branch_id))
        .bind::<Array<Nullable<Text>>, _>(column!(card_number))
        .bind::<Array<Nullable<Text>>, _>(column!(partner_reference))
        .bind::<Array<Nullable<Text>>, _>(column!(idempotency_key))
        .bind::<Array<Nullable<BigInt>>, _>(column!(money_minor))
        .bind::<Array<Nullable<Text>>, _>(column!(currency))
        .bind::<Array<Nullable<Timestamptz>>, _>(column!(timeout_at))
        .bind::<Array<Timestamptz>, _>(column!(created_at))
        .bind::<Array<Nullable<SqlUuid>>, _>(column!(staff_id)),
    )
    .execute(&mut conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_reference_taken(&e) => Err(TransferWriteError::ReferenceTaken),
        Err(e) => Err(StorageError::from(e).into()),
    }
}

/// Adds the batch's deltas to the account projections, having first locked `others` (the accounts
/// not locked when the batch read) in id order, so two batches never take them in opposite orders.
/// The lock is the one an UPDATE takes (FOR NO KEY UPDATE): FOR UPDATE would also wait for the
/// key-share locks that other batches' transfer inserts take on them (foreign keys), and deadlock.
async fn apply_deltas(
    mut conn: &AsyncPgConnection,
    deltas: &BTreeMap<AccountId, AccountDeltas>,
    others: &[Uuid],
) -> Result<(), StorageError> {
    let ids: Vec<Uuid> = deltas.keys().map(|id| id.0).collect();
    let column =
        |f: fn(&AccountDeltas) -> Points| deltas.values().map(|d| f(d).get()).collect::<Vec<i64>>();
    // The sub-select on `locked` is a one-time filter: it runs, and locks, before the update
    // touches a row.
    prepared(
        diesel::sql_query(
            "WITH locked AS (SELECT id FROM accounts WHERE id = ANY($7::uuid[]) \
                              ORDER BY id FOR NO KEY UPDATE) \
             UPDATE accounts a \
                SET debits_posted = a.debits_posted + d.debits_posted, \
                    credits_posted = a.credits_posted + d.credits_posted, \
                    debits_pending = a.debits_pending + d.debits_pending, \
                    credits_pending = a.credits_pending + d.credits_pending, \
                    lifetime_earned = a.lifetime_earned + d.lifetime_earned \
               FROM UNNEST($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) \
                    AS d(id, debits_posted, credits_posted, debits_pending, credits_pending, lifetime_earned) \
              WHERE a.id = d.id AND (SELECT count(*) FROM locked) >= 0",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<BigInt>, _>(column(|d| d.debits_posted))
        .bind::<Array<BigInt>, _>(column(|d| d.credits_posted))
        .bind::<Array<BigInt>, _>(column(|d| d.debits_pending))
        .bind::<Array<BigInt>, _>(column(|d| d.credits_pending))
        .bind::<Array<BigInt>, _>(column(|d| d.lifetime_earned))
        .bind::<Array<SqlUuid>, _>(others),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn insert_lots(mut conn: &AsyncPgConnection, lots: &[Lot]) -> Result<(), StorageError> {
    if lots.is_empty() {
        return Ok(());
    }
    let lots: Vec<LotRow> = lots.iter().map(LotRow::from).collect();
    prepared(diesel::sql_query(
        "INSERT INTO earn_lots (id, member_account_id, amount, remaining, earned_at, expires_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], \
             $5::timestamptz[], $6::timestamptz[])",
    )
    .bind::<Array<SqlUuid>, _>(lots.iter().map(|l| l.id).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(lots.iter().map(|l| l.member_account_id).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(lots.iter().map(|l| l.amount).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(lots.iter().map(|l| l.remaining).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(lots.iter().map(|l| l.earned_at).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(lots.iter().map(|l| l.expires_at).collect::<Vec<_>>()))
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn insert_allocations(
    mut conn: &AsyncPgConnection,
    allocations: &[(TransferId, LotId, Points)],
) -> Result<(), StorageError> {
    if allocations.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO lot_allocations (transfer_id, lot_id, amount) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[])",
        )
        .bind::<Array<SqlUuid>, _>(allocations.iter().map(|a| a.0.0).collect::<Vec<_>>())
        .bind::<Array<SqlUuid>, _>(allocations.iter().map(|a| a.1.0).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(allocations.iter().map(|a| a.2.get()).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn take_from_lots(
    mut conn: &AsyncPgConnection,
    takes: &BTreeMap<LotId, Points>,
) -> Result<(), StorageError> {
    if takes.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "UPDATE earn_lots l SET remaining = l.remaining - t.points \
           FROM UNNEST($1::uuid[], $2::int8[]) AS t(id, points) WHERE l.id = t.id",
        )
        .bind::<Array<SqlUuid>, _>(takes.keys().map(|id| id.0).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(takes.values().map(|p| p.get()).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn insert_pendings(
    mut conn: &AsyncPgConnection,
    pendings: &[(TransferId, MemberId, DateTime<Utc>)],
) -> Result<(), StorageError> {
    if pendings.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO pending_transfers (transfer_id, member_id, timeout_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[])",
        )
        .bind::<Array<SqlUuid>, _>(pendings.iter().map(|p| p.0.0).collect::<Vec<_>>())
        .bind::<Array<SqlUuid>, _>(pendings.iter().map(|p| p.1.0).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(pendings.iter().map(|p| p.2).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn delete_pendings(
    mut conn: &AsyncPgConnection,
    resolved: &[TransferId],
) -> Result<(), StorageError> {
    if resolved.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = resolved.iter().map(|id| id.0).collect();
    diesel::delete(pending_transfers::table.filter(pending_transfers::transfer_id.eq_any(&ids)))
        .execute(&mut conn)
        .await?;
    Ok(())
}
