//! Earns and redemptions applied as a batch: the member accounts and their lots
//! are locked in one statement (in id order, so batches never deadlock), every
//! operation is decided in memory in arrival order against what the operations
//! before it left (so one member's operations see each other, and a refused
//! operation changes nothing for its neighbours), and the result is written with
//! one statement per table. A batch of one is how a single operation runs too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::postings::{self, NewTransfer};
use super::{LedgerError, Movement, Phase, ProgramSettings, TransferCode, TransferState};
use crate::domain::partners::PartnerId;
use crate::storage::ledger::{self as rows, AccountRow, LotRow, TransferRow};
use crate::storage::ledger_batch::{self, AccountDeltas, BatchWrites};
use crate::storage::{self, StorageError};

/// Where an operation is made: the partner's branch, the member's card, the partner's reference.
#[derive(Debug, Clone)]
pub struct Till {
    pub partner_id: PartnerId,
    pub branch_id: Uuid,
    pub member_id: Uuid,
    pub card_number: String,
    pub reference: String,
    pub idempotency_key: Option<String>,
}

/// An earn, priced and checked, ready to apply.
#[derive(Debug, Clone)]
pub struct EarnOp {
    pub till: Till,
    pub points: i64,
    pub amount_minor: i64,
    pub currency: String,
    /// Keep the points pending until then.
    pub release_at: Option<DateTime<Utc>>,
}

/// A redemption (or a hold), priced and checked, ready to apply.
#[derive(Debug, Clone)]
pub struct RedeemOp {
    pub till: Till,
    pub points: i64,
    pub discount_minor: i64,
    pub currency: String,
    /// Only hold the points, for this long.
    pub hold: Option<chrono::Duration>,
}

/// An operation a batch applies.
#[derive(Debug, Clone)]
pub enum LedgerOp {
    Earn(EarnOp),
    Redeem(RedeemOp),
}

impl LedgerOp {
    /// The place it is made.
    pub fn till(&self) -> &Till {
        match self {
            Self::Earn(op) => &op.till,
            Self::Redeem(op) => &op.till,
        }
    }

    fn code(&self) -> TransferCode {
        match self {
            Self::Earn(_) => TransferCode::Earn,
            Self::Redeem(_) => TransferCode::Redeem,
        }
    }
}

/// A member's locked account and the lots the batch may touch (spending order: the expired
/// ones, then enough of the rest to cover the batch's redemptions, or all of them), as the
/// batch has left them so far. A new earn's lot expires last, so it is spent only once all
/// older lots are (and then they were all loaded).
struct MemberBook {
    account: AccountRow,
    lots: Vec<LotRow>,
}

/// The in-memory state a batch decides against, and what it will write.
struct Books {
    members: HashMap<Uuid, MemberBook>,
    /// Card number → (card status, member status), read in the batch's transaction.
    cards: HashMap<String, (String, String)>,
    taken_references: HashSet<(Uuid, &'static str, String)>,
    writes: BatchWrites,
    /// Members whose points moved (their caches are told after the commit).
    changed: BTreeSet<Uuid>,
    now: DateTime<Utc>,
}

impl Books {
    fn new(
        accounts: Vec<AccountRow>,
        lots: Vec<LotRow>,
        cards: Vec<(String, String, String)>,
        taken_references: impl IntoIterator<Item = (Uuid, &'static str, String)>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut by_account: HashMap<Uuid, Vec<LotRow>> = HashMap::new();
        for lot in lots {
            by_account
                .entry(lot.member_account_id)
                .or_default()
                .push(lot);
        }
        let members = accounts
            .into_iter()
            .filter_map(|account| {
                let member_id = account.member_id?;
                let lots = by_account.remove(&account.id).unwrap_or_default();
                Some((member_id, MemberBook { account, lots }))
            })
            .collect();
        Self {
            members,
            cards: cards
                .into_iter()
                .map(|(number, card, member)| (number, (card, member)))
                .collect(),
            taken_references: taken_references.into_iter().collect(),
            writes: BatchWrites::default(),
            changed: BTreeSet::new(),
            now,
        }
    }

    /// Records a transfer and its balance changes; the member's in-memory account moves too.
    fn post(&mut self, member_id: Uuid, transfer: TransferRow) {
        let (debit, credit) = AccountDeltas::of(&transfer, 0);
        for (account_id, deltas) in [
            (transfer.debit_account_id, debit),
            (transfer.credit_account_id, credit),
        ] {
            self.writes
                .deltas
                .entry(account_id)
                .or_default()
                .add(deltas);
            if let Some(book) = self.members.get_mut(&member_id)
                && book.account.id == account_id
            {
                deltas.apply_to(&mut book.account);
            }
        }
        self.changed.insert(member_id);
        self.writes.transfers.push(transfer);
    }

    /// Moves the member's expired lots to breakage (see `postings::expire_due_lots`).
    fn expire_due(&mut self, member_id: Uuid) {
        let Some((transfer, taken)) = self
            .members
            .get(&member_id)
            .and_then(|book| postings::expiry(&book.account, &book.lots, self.now))
        else {
            return;
        };
        self.take_lots(member_id, transfer.id, &taken);
        self.post(member_id, transfer);
    }

    /// Takes points from the member's lots for `transfer_id` and records the allocations.
    fn take_lots(&mut self, member_id: Uuid, transfer_id: Uuid, taken: &[(Uuid, i64)]) {
        if let Some(book) = self.members.get_mut(&member_id) {
            for (lot_id, points) in taken {
                if let Some(lot) = book.lots.iter_mut().find(|l| l.id == *lot_id) {
                    lot.remaining -= points;
                }
            }
            book.lots.retain(|l| l.remaining > 0);
        }
        for (lot_id, points) in taken {
            self.writes
                .allocations
                .push((transfer_id, *lot_id, *points));
            *self.writes.lot_takes.entry(*lot_id).or_default() += points;
        }
    }

    /// Decides one operation against the state the batch has reached.
    fn apply(
        &mut self,
        op: &LedgerOp,
        settings: &ProgramSettings,
    ) -> Result<Movement, LedgerError> {
        let till = op.till();
        let member_id = till.member_id;
        if !self.members.contains_key(&member_id) {
            // Every member is enrolled with an account; its absence is a broken database.
            return Err(StorageError::Database(diesel::result::Error::NotFound).into());
        }
        let (card_status, member_status) = self
            .cards
            .get(&till.card_number)
            .ok_or(LedgerError::CardUnknown)?;
        postings::usable(card_status, member_status)?;
        self.expire_due(member_id);
        let reference = (
            till.partner_id.0,
            op.code().as_str(),
            till.reference.clone(),
        );
        if self.taken_references.contains(&reference) {
            return Err(LedgerError::ReferenceTaken);
        }
        let now = self.now;
        let (transfer, state) = match op {
            LedgerOp::Redeem(redeem) => self.redeem(redeem, now)?,
            LedgerOp::Earn(earn) => self.earn(earn, settings, now),
        };
        self.taken_references.insert(reference);
        let balance = self
            .members
            .get(&member_id)
            .map(|book| postings::Balance::of(&book.account))
            .unwrap_or_default();
        Ok(Movement {
            transfer: transfer.into(),
            state,
            balance,
        })
    }

    fn redeem(
        &mut self,
        op: &RedeemOp,
        now: DateTime<Utc>,
    ) -> Result<(TransferRow, TransferState), LedgerError> {
        let member_id = op.till.member_id;
        let Some(book) = self.members.get(&member_id) else {
            return Err(StorageError::Database(diesel::result::Error::NotFound).into());
        };
        let available = book.account.available();
        if available < op.points {
            return Err(LedgerError::InsufficientPoints {
                available,
                requested: op.points,
            });
        }
        let timeout_at = op.hold.map(|hold| now + hold);
        let mut transfer = postings::row(
            NewTransfer {
                debit: book.account.id,
                credit: rows::partner_account_id(op.till.partner_id.0, "partner_redemption"),
                amount: op.points,
                code: TransferCode::Redeem,
                phase: if timeout_at.is_some() {
                    Phase::Pending
                } else {
                    Phase::Single
                },
            },
            now,
        );
        at_till(&mut transfer, &op.till);
        transfer.money_minor = Some(op.discount_minor);
        transfer.currency = Some(op.currency.clone());
        transfer.timeout_at = timeout_at;
        let taken = postings::spend(&book.lots, None, op.points);
        self.take_lots(member_id, transfer.id, &taken);
        let state = match timeout_at {
            Some(timeout_at) => {
                self.writes.pendings.push((transfer.id, timeout_at));
                TransferState::Pending
            }
            None => TransferState::Posted,
        };
        self.post(member_id, transfer.clone());
        Ok((transfer, state))
    }

    fn earn(
        &mut self,
        op: &EarnOp,
        settings: &ProgramSettings,
        now: DateTime<Utc>,
    ) -> (TransferRow, TransferState) {
        let member_id = op.till.member_id;
        let account_id = self
            .members
            .get(&member_id)
            .map(|book| book.account.id)
            .unwrap_or_default();
        let mut transfer = postings::row(
            NewTransfer {
                debit: rows::partner_account_id(op.till.partner_id.0, "partner_issuance"),
                credit: account_id,
                amount: op.points,
                code: TransferCode::Earn,
                phase: if op.release_at.is_some() {
                    Phase::Pending
                } else {
                    Phase::Single
                },
            },
            now,
        );
        at_till(&mut transfer, &op.till);
        transfer.money_minor = Some(op.amount_minor);
        transfer.currency = Some(op.currency.clone());
        transfer.timeout_at = op.release_at;
        let state = match op.release_at {
            Some(release_at) => {
                self.writes.pendings.push((transfer.id, release_at));
                TransferState::Pending
            }
            None => {
                let lot = postings::lot_of(settings, &transfer, account_id, now);
                if let Some(book) = self.members.get_mut(&member_id) {
                    let at = book
                        .lots
                        .partition_point(|l| (l.expires_at, l.id) < (lot.expires_at, lot.id));
                    book.lots.insert(at, lot.clone());
                }
                self.writes.new_lots.push(lot);
                TransferState::Posted
            }
        };
        self.post(member_id, transfer.clone());
        (transfer, state)
    }
}

fn at_till(transfer: &mut TransferRow, till: &Till) {
    transfer.member_id = Some(till.member_id);
    transfer.partner_id = Some(till.partner_id.0);
    transfer.branch_id = Some(till.branch_id);
    transfer.card_number = Some(till.card_number.clone());
    transfer.partner_reference = Some(till.reference.clone());
    transfer.idempotency_key = till.idempotency_key.clone();
}

/// What a batch reads before it decides anything.
pub struct Snapshot {
    accounts: Vec<AccountRow>,
    lots: Vec<LotRow>,
    cards: Vec<(String, String, String)>,
    taken_references: Vec<(Uuid, String, String)>,
}

/// Locks the members of `ops` (in id order) and reads what deciding them needs: their accounts,
/// the lots they may spend, their cards, and the partner references already used. The
/// statements are sent at once (pipelined) and run in order, so the lots are read under the locks.
pub async fn read(
    conn: &AsyncPgConnection,
    ops: &[&LedgerOp],
    now: DateTime<Utc>,
) -> Result<Snapshot, StorageError> {
    let mut needs: BTreeMap<Uuid, i64> = BTreeMap::new();
    for op in ops {
        let asked = match op {
            LedgerOp::Redeem(redeem) => redeem.points,
            LedgerOp::Earn(_) => 0,
        };
        let need = needs.entry(op.till().member_id).or_default();
        *need = need.saturating_add(asked);
    }
    let member_ids: Vec<Uuid> = needs.keys().copied().collect();
    let needs: Vec<(Uuid, i64)> = needs.into_iter().collect();
    let mut numbers: Vec<&str> = ops
        .iter()
        .map(|op| op.till().card_number.as_str())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let wanted: Vec<(Uuid, &'static str, String)> = ops
        .iter()
        .map(|op| {
            (
                op.till().partner_id.0,
                op.code().as_str(),
                op.till().reference.clone(),
            )
        })
        .collect();
    let (accounts, lots, cards, taken_references) = futures_util::try_join!(
        ledger_batch::lock_member_accounts(conn, &member_ids),
        ledger_batch::lots_to_spend(conn, &needs, now),
        storage::members::card_statuses(conn, &numbers),
        ledger_batch::taken_references(conn, &wanted),
    )?;
    Ok(Snapshot {
        accounts,
        lots,
        cards,
        taken_references,
    })
}

/// What a batch decided: each operation's answer, and what to write.
pub struct Decided {
    /// Each operation's answer, in the order given.
    pub results: Vec<Result<Movement, LedgerError>>,
    /// The members whose points moved.
    pub changed_members: Vec<Uuid>,
    writes: BatchWrites,
    member_accounts: Vec<Uuid>,
    partners: Vec<Uuid>,
}

/// Decides `ops` in order against the snapshot (which must have been read for them).
pub fn decide(
    snapshot: Snapshot,
    ops: &[&LedgerOp],
    settings: &ProgramSettings,
    now: DateTime<Utc>,
) -> Decided {
    let member_accounts = snapshot.accounts.iter().map(|a| a.id).collect();
    let taken = snapshot
        .taken_references
        .into_iter()
        .filter_map(|(partner, code, reference)| {
            TransferCode::parse(&code).map(|code| (partner, code.as_str(), reference))
        });
    let mut books = Books::new(snapshot.accounts, snapshot.lots, snapshot.cards, taken, now);
    let results = ops.iter().map(|op| books.apply(op, settings)).collect();
    let mut partners: Vec<Uuid> = ops.iter().map(|op| op.till().partner_id.0).collect();
    partners.sort_unstable();
    partners.dedup();
    Decided {
        results,
        changed_members: books.changed.into_iter().collect(),
        writes: books.writes,
        member_accounts,
        partners,
    }
}

impl Decided {
    /// Counts the transfers written in `ledger_transfers_total`; call once they are committed.
    pub fn count_committed(&self) {
        for transfer in &self.writes.transfers {
            metrics::counter!("ledger_transfers_total", "code" => transfer.code.clone(), "phase" => transfer.phase.clone()).increment(1);
        }
    }
}

/// Writes what a batch decided (pipelined; see [`ledger_batch::write`]).
pub async fn write(conn: &AsyncPgConnection, decided: &Decided) -> Result<(), LedgerError> {
    if decided.writes.transfers.is_empty() {
        return Ok(());
    }
    ledger_batch::write(
        conn,
        &decided.writes,
        &decided.member_accounts,
        &decided.partners,
    )
    .await?;
    Ok(())
}

/// Applies one operation on the caller's transaction.
pub async fn apply_one(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    op: &LedgerOp,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let snapshot = read(conn, &[op], now).await?;
    let mut decided = decide(snapshot, &[op], settings, now);
    write(conn, &decided).await?;
    decided.count_committed();
    decided
        .results
        .pop()
        .unwrap_or_else(|| Err(StorageError::Database(diesel::result::Error::NotFound).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ProgramSettings {
        ProgramSettings {
            card_prefix: "6037".into(),
            points_validity: chrono::Duration::days(365),
            default_hold: std::time::Duration::from_secs(900),
            max_hold: std::time::Duration::from_secs(3600),
            max_release: chrono::Duration::days(30),
            silver_points: 1_000,
            gold_points: 5_000,
        }
    }

    fn account(member: Uuid, credits: i64) -> AccountRow {
        AccountRow {
            id: Uuid::from_u128(member.as_u128() + 1),
            kind: "member".into(),
            member_id: Some(member),
            partner_id: None,
            debits_posted: 0,
            credits_posted: credits,
            debits_pending: 0,
            credits_pending: 0,
            lifetime_earned: credits,
        }
    }

    fn lot(account: &AccountRow, n: u128, points: i64, expires_at: DateTime<Utc>) -> LotRow {
        LotRow {
            id: Uuid::from_u128(0xAA00 + n),
            member_account_id: account.id,
            amount: points,
            remaining: points,
            earned_at: expires_at - chrono::Duration::days(365),
            expires_at,
        }
    }

    fn active_card() -> Vec<(String, String, String)> {
        vec![("6037000000000000".into(), "active".into(), "active".into())]
    }

    fn till(member: Uuid, reference: &str) -> Till {
        Till {
            partner_id: PartnerId(Uuid::from_u128(7)),
            branch_id: Uuid::from_u128(8),
            member_id: member,
            card_number: "6037000000000000".into(),
            reference: reference.into(),
            idempotency_key: Some(reference.into()),
        }
    }

    fn redeem(member: Uuid, reference: &str, points: i64) -> LedgerOp {
        LedgerOp::Redeem(RedeemOp {
            till: till(member, reference),
            points,
            discount_minor: points * 1_000,
            currency: "IRR".into(),
            hold: None,
        })
    }

    fn earn(member: Uuid, reference: &str, points: i64) -> LedgerOp {
        LedgerOp::Earn(EarnOp {
            till: till(member, reference),
            points,
            amount_minor: points * 10_000,
            currency: "IRR".into(),
            release_at: None,
        })
    }

    #[test]
    fn one_members_operations_apply_in_arrival_order_and_refusals_touch_nothing() {
        let now = Utc::now();
        let (alice, bob) = (Uuid::from_u128(100), Uuid::from_u128(200));
        let (a, b) = (account(alice, 30), account(bob, 5));
        let lots = vec![
            lot(&a, 1, 30, now + chrono::Duration::days(10)),
            lot(&b, 2, 5, now + chrono::Duration::days(10)),
        ];
        let mut books = Books::new(vec![a, b], lots, active_card(), [], now);
        let ops = [
            redeem(alice, "r1", 20),
            redeem(alice, "r2", 20), // 10 left: refused
            redeem(bob, "r3", 5),    // a neighbour, unaffected
            earn(alice, "e1", 15),
            redeem(alice, "r4", 20), // 25 now: accepted
            redeem(alice, "r1", 1),  // the reference is taken in this batch
        ];
        let results: Vec<_> = ops.iter().map(|op| books.apply(op, &settings())).collect();
        let available: Vec<Option<i64>> = results
            .iter()
            .map(|r| r.as_ref().ok().map(|m| m.balance.available))
            .collect();
        assert_eq!(
            available,
            [Some(10), None, Some(0), Some(25), Some(5), None]
        );
        assert!(matches!(
            results[1],
            Err(LedgerError::InsufficientPoints {
                available: 10,
                requested: 20
            })
        ));
        assert!(matches!(results[5], Err(LedgerError::ReferenceTaken)));
        let writes = books.writes;
        assert_eq!(writes.transfers.len(), 4);
        // The partner's redemption account gets one folded update for the whole batch.
        let partner_redemption = rows::partner_account_id(Uuid::from_u128(7), "partner_redemption");
        assert_eq!(writes.deltas[&partner_redemption].credits_posted, 45);
        // The last redemption took the old lot's 10 points, then 10 of the new earn's lot.
        let earn_lot = writes.new_lots[0].id;
        assert_eq!(writes.lot_takes[&Uuid::from_u128(0xAA01)], 30);
        assert_eq!(writes.lot_takes[&earn_lot], 10);
    }

    #[test]
    fn expired_lots_go_to_breakage_before_the_operation() {
        let now = Utc::now();
        let alice = Uuid::from_u128(100);
        let a = account(alice, 30);
        let lots = vec![
            lot(&a, 1, 20, now - chrono::Duration::seconds(1)),
            lot(&a, 2, 10, now + chrono::Duration::days(1)),
        ];
        let mut books = Books::new(vec![a], lots, active_card(), [], now);
        let result = books.apply(&redeem(alice, "r1", 15), &settings());
        assert!(matches!(
            result,
            Err(LedgerError::InsufficientPoints { available: 10, .. })
        ));
        assert_eq!(books.writes.transfers.len(), 1);
        assert_eq!(books.writes.transfers[0].code, "expiry");
        assert_eq!(
            books.writes.deltas[&rows::BREAKAGE_ACCOUNT].credits_posted,
            20
        );
    }
}
