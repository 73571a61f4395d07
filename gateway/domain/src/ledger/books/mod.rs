//! The books of a batch: earns, redemptions and the steps that follow them
//! (captures, voids, releases, reversals: [`follow_up`]) decided in memory, in
//! arrival order.
//!
//! A batch reads (and locks) its members' accounts and the lots it may touch, then
//! [`decide`] applies every operation against what the operations before it left
//! (so one member's operations see each other, and a refused operation changes
//! nothing for its neighbours), and returns each operation's answer with what to
//! write. A batch of one is how a single operation runs too.
//!
//! Before an operation, whatever time has already decided for its member is
//! applied: holds whose timeout passed are voided (their points go back to the
//! lots they came from), and lots past their expiry go to breakage. So neither an
//! expired hold nor an expired lot ever counts, even between maintenance runs.

mod bonus;
mod follow_up;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    Account, AccountDeltas, AccountKind, LedgerError, Lot, Movement, NewTransfer, Phase, Transfer,
    TransferCode, TransferState, lots, partner_account,
};
use crate::cards::{self, CardError, CardNumber, CardStatus, MemberStatus};
use crate::ids::{AccountId, BranchId, LotId, MemberId, PartnerId, TransferId};
use crate::points::{Money, Points};
use crate::program::ProgramSettings;
use crate::program::campaigns::{CampaignOffer, FirstPurchaseOffer, MemberFacts, RepeatVisitOffer};
use crate::program::earning::{self, CappedShare};
use crate::program::months::MonthCalendar;
use crate::program::tiers::{self, Tally, Tier};

pub use self::bonus::{BonusAward, PricedBonus};
use self::follow_up::Followed;
pub use self::follow_up::{FollowUp, Step};

/// Where an earn or redemption is made: the partner's branch, the member's card, the partner's
/// reference, and the idempotency key of the request.
#[derive(Debug, Clone)]
pub struct PointOfSale {
    /// The partner.
    pub partner_id: PartnerId,
    /// Its branch.
    pub branch_id: BranchId,
    /// The member whose card was presented.
    pub member_id: MemberId,
    /// The card.
    pub card: CardNumber,
    /// The partner's own reference (order, bill).
    pub reference: String,
    /// The request's idempotency key.
    pub idempotency_key: Option<String>,
}

/// An earn, priced and checked, ready for the books.
#[derive(Debug, Clone)]
pub struct PricedEarn {
    /// Where it is made.
    pub at: PointOfSale,
    /// Points earned under the earn rules, before their caps and the member's tier.
    pub points: Points,
    /// What each capped earn rule adds to `points` (the books hold it to the caps).
    pub capped: Vec<CappedShare>,
    /// The purchase.
    pub amount: Money,
    /// The campaigns it qualifies for by place and day (the books check the rest).
    pub offers: Vec<CampaignOffer>,
    /// The repeat-visit bonuses it may complete.
    pub repeat_visits: Vec<RepeatVisitOffer>,
    /// The referral bonuses it gives the member's referrer, when it is the member's first
    /// purchase (the referrer's account is locked with the member's).
    pub first_purchase: Vec<FirstPurchaseOffer>,
    /// Keep the points pending until then.
    pub release_at: Option<DateTime<Utc>>,
    /// When the purchase happened, when it is reported late: the tier, the caps' day, the
    /// campaigns' audience and the member's activity are as of then.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A redemption (or a hold), priced and checked, ready for the books.
#[derive(Debug, Clone)]
pub struct PricedRedemption {
    /// Where it is made.
    pub at: PointOfSale,
    /// Points redeemed.
    pub points: Points,
    /// The discount they pay.
    pub discount: Money,
    /// Only hold the points, for this long.
    pub hold: Option<chrono::Duration>,
}

/// An operation the books apply.
#[derive(Debug, Clone)]
pub enum LedgerOp {
    /// Points for a purchase.
    Earn(PricedEarn),
    /// Points for a discount.
    Redeem(PricedRedemption),
    /// A step on a transfer made before.
    FollowUp(FollowUp),
    /// Points for an occasion.
    Bonus(PricedBonus),
}

impl LedgerOp {
    /// The member whose points it moves.
    pub fn member_id(&self) -> MemberId {
        match self {
            Self::Earn(op) => op.at.member_id,
            Self::Redeem(op) => op.at.member_id,
            Self::FollowUp(op) => op.member_id,
            Self::Bonus(op) => op.member_id,
        }
    }

    /// When it happened, when that is earlier than now (a late earn).
    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Earn(op) => op.occurred_at,
            _ => None,
        }
    }

    /// The earliest time `ops` decided at `now` happened: what their batch reads the members'
    /// days (and the caps' months) from.
    pub fn earliest(ops: &[&Self], now: DateTime<Utc>) -> DateTime<Utc> {
        ops.iter()
            .filter_map(|op| op.occurred_at())
            .fold(now, DateTime::min)
    }

    /// The other members whose points it may move: a first purchase's referrer.
    pub fn other_members(&self) -> impl Iterator<Item = MemberId> + '_ {
        let first_purchase = match self {
            Self::Earn(op) => &op.first_purchase[..],
            _ => &[],
        };
        first_purchase.iter().map(|offer| offer.referrer)
    }

    /// The partners whose accounts it moves: where it is made, or a bonus's funders.
    pub fn partners(&self) -> Vec<PartnerId> {
        match self {
            // The funders of its campaigns and bonuses are moved by the earn's batch too.
            Self::Earn(op) => std::iter::once(op.at.partner_id)
                .chain(
                    op.offers
                        .iter()
                        .flat_map(|o| o.funding.iter().filter_map(|f| f.0)),
                )
                .chain(
                    op.repeat_visits
                        .iter()
                        .map(|r| &r.shares)
                        .chain(op.first_purchase.iter().map(|r| &r.shares))
                        .flat_map(|shares| shares.iter().filter_map(|s| s.0)),
                )
                .collect(),
            Self::Redeem(op) => vec![op.at.partner_id],
            Self::FollowUp(op) => vec![op.partner_id],
            Self::Bonus(op) => op.shares.iter().filter_map(|(funder, _)| *funder).collect(),
        }
    }

    /// An earn's or a redemption's point of sale, and the code of the transfer it writes (its
    /// card must be usable and its reference free).
    pub fn sale(&self) -> Option<(&PointOfSale, TransferCode)> {
        match self {
            Self::Earn(op) => Some((&op.at, TransferCode::Earn)),
            Self::Redeem(op) => Some((&op.at, TransferCode::Redeem)),
            Self::FollowUp(_) | Self::Bonus(_) => None,
        }
    }

    /// The transfer a follow-up follows.
    pub fn followed(&self) -> Option<&Transfer> {
        match self {
            Self::FollowUp(op) => Some(&op.original),
            Self::Earn(_) | Self::Redeem(_) | Self::Bonus(_) => None,
        }
    }

    /// Points it may take from the member's lots (at most).
    pub fn points_to_spend(&self) -> Points {
        match self {
            Self::Earn(_) | Self::Bonus(_) => Points::ZERO,
            Self::Redeem(op) => op.points,
            Self::FollowUp(op) => op.points_to_spend(),
        }
    }
}

/// A hold whose timeout passed but whose void is not written yet, with the net points it took
/// from each lot.
#[derive(Debug, Clone)]
pub struct ExpiredHold {
    /// The pending redemption.
    pub hold: Transfer,
    /// Net points it took from each lot.
    pub taken: Vec<(LotId, Points)>,
}

/// What a batch reads, under its members' locks, before it decides anything.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The members' accounts.
    pub accounts: Vec<Account>,
    /// Per account, in spending order: the expired lots, then the soonest-expiring ones until
    /// they cover what the batch may spend (all of them when they do not).
    pub lots: Vec<Lot>,
    /// The cards presented: their status and their member's.
    pub cards: Vec<(CardNumber, CardStatus, MemberStatus)>,
    /// Which (partner, code, reference) triples are already used.
    pub taken_references: Vec<(PartnerId, TransferCode, String)>,
    /// The members' holds whose timeout has passed.
    pub expired_holds: Vec<ExpiredHold>,
    /// The lots those holds took from (whatever is left in them).
    pub hold_lots: Vec<Lot>,
    /// The transfers that followed the follow-ups' originals: their resolutions and reversals.
    pub followers: Vec<Transfer>,
    /// What those originals and their followers took from each lot (negative: gave back), as
    /// (transfer, lot, points).
    pub followed_allocations: Vec<(TransferId, LotId, Points)>,
    /// The lots in those allocations, and the lots the followed earns created.
    pub followed_lots: Vec<Lot>,
    /// The members' activity per local day, from the oldest day a tier's window (and grace)
    /// can count.
    pub activity: Vec<(MemberId, NaiveDate, Tally)>,
    /// The tier each member was last recorded in (members never recorded are absent).
    pub tiers_recorded: Vec<(MemberId, String)>,
    /// The bonuses of the batch already awarded: (member, bonus, occasion).
    pub awarded: Vec<(MemberId, String, String)>,
    /// Points the batch's campaigns with a budget have given so far (their rows locked).
    pub campaign_spent: Vec<(String, i64)>,
    /// What campaigns' audiences ask of the batch's members, when one does.
    pub member_facts: Vec<(MemberId, MemberFacts)>,
    /// Points the batch's capped earn rules gave its members this month: (member, rule, local
    /// day, points).
    pub earn_rule_points: Vec<(MemberId, String, NaiveDate, i64)>,
}

/// A member's move to another tier, recorded when a batch (or maintenance) finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierChange {
    /// The member.
    pub member_id: MemberId,
    /// When it was found.
    pub at: DateTime<Utc>,
    /// The tier the member holds now.
    pub tier: String,
    /// The tier recorded before, if any.
    pub previous: Option<String>,
}

/// Everything a batch writes.
#[derive(Debug, Default)]
pub struct Writes {
    /// New transfers, in the order they were made.
    pub transfers: Vec<Transfer>,
    /// Per account (sorted by id: the lock order).
    pub deltas: BTreeMap<AccountId, AccountDeltas>,
    /// New lots, written with all their points; `lot_takes` then takes from them too.
    pub new_lots: Vec<Lot>,
    /// (transfer, lot, points taken; negative when given back).
    pub allocations: Vec<(TransferId, LotId, Points)>,
    /// Net points taken from each lot (negative: given back).
    pub lot_takes: BTreeMap<LotId, Points>,
    /// New pending transfers: (transfer, its member, its timeout).
    pub pendings: Vec<(TransferId, MemberId, DateTime<Utc>)>,
    /// Pending transfers resolved (no longer open).
    pub resolved_pendings: Vec<TransferId>,
    /// What the batch adds to each member's local days.
    pub activity: BTreeMap<(MemberId, NaiveDate), Tally>,
    /// Members whose tier changed.
    pub tier_changes: Vec<TierChange>,
    /// Bonuses awarded.
    pub awards: Vec<BonusAward>,
    /// Points each campaign gave in the batch.
    pub campaign_spend: BTreeMap<String, i64>,
    /// Points capped earn rules gave, per member, rule and local day.
    pub earn_rule_points: BTreeMap<(MemberId, String, NaiveDate), i64>,
    /// Earns reported late: (transfer, when the purchase happened).
    pub late_earns: Vec<(TransferId, DateTime<Utc>)>,
    /// Posted earns made while tiers were in force: (transfer, base points before the tier's
    /// multiplier, the tier held), what a campaign's dry run replays.
    pub earn_tiers: Vec<(TransferId, Points, String)>,
}

/// Why the books could not decide an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookError {
    /// The operation is refused: this is its answer.
    Refused(LedgerError),
    /// The member has no account: the stored data is broken (every member is enrolled with one).
    MissingAccount(MemberId),
}

impl From<LedgerError> for BookError {
    fn from(err: LedgerError) -> Self {
        Self::Refused(err)
    }
}

impl From<CardError> for BookError {
    fn from(err: CardError) -> Self {
        Self::Refused(err.into())
    }
}

/// A member's locked account, the lots the batch may touch (in spending order) and the holds
/// time has voided, as the batch has left them so far. A new earn's lot expires last, so it is
/// spent only once all older lots are (and then they were all loaded).
struct MemberBook {
    account: Account,
    lots: Vec<Lot>,
    expired_holds: Vec<ExpiredHold>,
    /// What the member did per local day, as far back as a tier can count.
    days: BTreeMap<NaiveDate, Tally>,
    /// The tier last recorded for the member.
    tier_recorded: Option<String>,
}

impl MemberBook {
    /// The tier the member holds at `now`, if any tier is in force.
    fn tier<'t>(
        &self,
        tiers: &[Tier<'t>],
        now: DateTime<Utc>,
        zone: chrono_tz::Tz,
    ) -> Option<Tier<'t>> {
        let days = self.days.iter().map(|(day, tally)| (*day, *tally));
        let standing = tiers::standing_on_days(tiers, days, now, zone)?;
        tiers.iter().find(|t| t.code == standing.tier).copied()
    }
}

/// The in-memory state a batch decides against, and what it will write.
struct Books<'t> {
    members: HashMap<MemberId, MemberBook>,
    /// The tiers in force.
    tiers: &'t [Tier<'t>],
    zone: chrono_tz::Tz,
    cards: HashMap<CardNumber, (CardStatus, MemberStatus)>,
    taken_references: HashSet<(PartnerId, TransferCode, String)>,
    /// Bonuses the members have (of those the batch may award): (member, bonus, occasion).
    awarded: HashSet<(MemberId, String, String)>,
    /// Points each campaign with a budget has given.
    spent: HashMap<String, i64>,
    /// Members' facts for campaigns' audiences.
    facts: HashMap<MemberId, MemberFacts>,
    /// Points capped earn rules gave: (member, rule, local day) → points.
    rule_points: BTreeMap<(MemberId, String, NaiveDate), i64>,
    /// Whose months the caps count.
    months: MonthCalendar,
    /// Per followed transfer, what has happened to it so far.
    followed: HashMap<TransferId, Followed>,
    writes: Writes,
    /// Members whose points moved (their caches are told after the commit).
    changed: BTreeSet<MemberId>,
    now: DateTime<Utc>,
}

impl<'t> Books<'t> {
    fn new(
        snapshot: Snapshot,
        tiers: &'t [Tier<'t>],
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Self {
        let mut lots_of: HashMap<AccountId, Vec<Lot>> = HashMap::new();
        for lot in snapshot.lots {
            lots_of.entry(lot.account_id).or_default().push(lot);
        }
        let followed = Followed::index(snapshot.followers, snapshot.followed_allocations);
        for lot in snapshot.hold_lots.into_iter().chain(snapshot.followed_lots) {
            let lots = lots_of.entry(lot.account_id).or_default();
            if !lots.iter().any(|l| l.id == lot.id) {
                let at = lots.partition_point(|l| (l.expires_at, l.id) < (lot.expires_at, lot.id));
                lots.insert(at, lot);
            }
        }
        let mut days_of: HashMap<MemberId, BTreeMap<NaiveDate, Tally>> = HashMap::new();
        for (member_id, day, tally) in snapshot.activity {
            days_of.entry(member_id).or_default().insert(day, tally);
        }
        let mut tier_of: HashMap<MemberId, String> = snapshot.tiers_recorded.into_iter().collect();
        let mut holds_of: HashMap<MemberId, Vec<ExpiredHold>> = HashMap::new();
        for hold in snapshot.expired_holds {
            if let Some(member_id) = hold.hold.member_id {
                holds_of.entry(member_id).or_default().push(hold);
            }
        }
        let members = snapshot
            .accounts
            .into_iter()
            .filter_map(|account| {
                let member_id = account.member_id?;
                let book = MemberBook {
                    lots: lots_of.remove(&account.id).unwrap_or_default(),
                    expired_holds: holds_of.remove(&member_id).unwrap_or_default(),
                    days: days_of.remove(&member_id).unwrap_or_default(),
                    tier_recorded: tier_of.remove(&member_id),
                    account,
                };
                Some((member_id, book))
            })
            .collect();
        Self {
            members,
            tiers,
            zone,
            cards: snapshot
                .cards
                .into_iter()
                .map(|(number, card, member)| (number, (card, member)))
                .collect(),
            taken_references: snapshot.taken_references.into_iter().collect(),
            awarded: snapshot.awarded.into_iter().collect(),
            spent: snapshot.campaign_spent.into_iter().collect(),
            facts: snapshot.member_facts.into_iter().collect(),
            rule_points: snapshot
                .earn_rule_points
                .into_iter()
                .map(|(member_id, rule, day, points)| ((member_id, rule, day), points))
                .collect(),
            months: MonthCalendar::default(),
            followed,
            writes: Writes::default(),
            changed: BTreeSet::new(),
            now,
        }
    }

    /// Records a transfer and its balance changes (`pending_amount`: see [`AccountDeltas::of`]);
    /// the member's in-memory account moves too.
    fn post(&mut self, member_id: MemberId, transfer: Transfer, pending_amount: Points) {
        let day = tiers::local_day(transfer.created_at, self.zone);
        self.post_on(day, member_id, transfer, pending_amount);
    }

    /// Posts `transfer`, its activity (if any) counted on the member's local `day`.
    fn post_on(
        &mut self,
        day: NaiveDate,
        member_id: MemberId,
        transfer: Transfer,
        pending_amount: Points,
    ) {
        let (debit, credit) = AccountDeltas::of(&transfer, pending_amount);
        for (account_id, deltas) in [(transfer.debit, debit), (transfer.credit, credit)] {
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
        if let Some(tally) = Tally::of(&transfer) {
            if let Some(book) = self.members.get_mut(&member_id) {
                book.days.entry(day).or_default().add(tally);
            }
            self.writes
                .activity
                .entry((member_id, day))
                .or_default()
                .add(tally);
        }
        self.changed.insert(member_id);
        self.writes.transfers.push(transfer);
    }

    /// Voids the member's holds whose timeout has passed: their points go back to their lots.
    fn release_expired_holds(&mut self, member_id: MemberId) {
        let Some(book) = self.members.get_mut(&member_id) else {
            return;
        };
        let holds = std::mem::take(&mut book.expired_holds);
        for expired in holds {
            let void = expired.hold.resolution(None, None, self.now);
            let all = expired.hold.amount;
            self.resolve_pending(member_id, &expired.hold, void, &expired.taken, all);
        }
    }

    /// Writes `resolution` of the member's `pending` transfer, giving `give_back` of its points
    /// back to the lots in `taken` (net points its chain took from each).
    fn resolve_pending(
        &mut self,
        member_id: MemberId,
        pending: &Transfer,
        resolution: Transfer,
        taken: &[(LotId, Points)],
        give_back: Points,
    ) {
        let restored = match self.members.get(&member_id) {
            Some(book) => lots::restore(taken, &book.lots, give_back),
            None => Vec::new(),
        };
        self.move_lot_points(member_id, resolution.id, &restored);
        let followed = self.followed.entry(pending.id).or_default();
        followed.resolution = Some(resolution.clone());
        followed.taken.extend_from_slice(&restored);
        self.writes.resolved_pendings.push(pending.id);
        self.post(member_id, resolution, pending.amount);
    }

    /// Moves the member's expired lots to breakage (see [`lots::expiry`]).
    fn expire_due(&mut self, member_id: MemberId) {
        let Some((transfer, taken)) = self
            .members
            .get(&member_id)
            .and_then(|book| lots::expiry(&book.account, &book.lots, self.now))
        else {
            return;
        };
        self.move_lot_points(member_id, transfer.id, &taken);
        self.post(member_id, transfer, Points::ZERO);
    }

    /// Takes points from the member's lots for `transfer_id` (negative points: gives them back)
    /// and records the allocations.
    fn move_lot_points(
        &mut self,
        member_id: MemberId,
        transfer_id: TransferId,
        moves: &[(LotId, Points)],
    ) {
        if let Some(book) = self.members.get_mut(&member_id) {
            for (lot_id, points) in moves {
                if let Some(lot) = book.lots.iter_mut().find(|l| l.id == *lot_id) {
                    lot.remaining -= *points;
                }
            }
        }
        for (lot_id, points) in moves {
            self.writes
                .allocations
                .push((transfer_id, *lot_id, *points));
            *self.writes.lot_takes.entry(*lot_id).or_default() += *points;
        }
    }

    /// Decides one operation against the state the batch has reached.
    fn apply(&mut self, op: &LedgerOp, settings: &ProgramSettings) -> Result<Movement, BookError> {
        let member_id = op.member_id();
        if !self.members.contains_key(&member_id) {
            return Err(BookError::MissingAccount(member_id));
        }
        let sale = op.sale();
        if let Some((at, _)) = sale {
            let (card_status, member_status) =
                *self.cards.get(&at.card).ok_or(CardError::Unknown)?;
            cards::usable(card_status, member_status)?;
        }
        self.release_expired_holds(member_id);
        self.expire_due(member_id);
        let reference = sale.map(|(at, code)| (at.partner_id, code, at.reference.clone()));
        if let Some(reference) = &reference
            && self.taken_references.contains(reference)
        {
            return Err(LedgerError::ReferenceTaken.into());
        }
        let (transfer, state) = match op {
            LedgerOp::Redeem(redemption) => self.apply_redemption(redemption)?,
            LedgerOp::Earn(earn) => self.apply_earn(earn, settings)?,
            LedgerOp::FollowUp(follow_up) => self.apply_follow_up(follow_up, settings)?,
            LedgerOp::Bonus(bonus) => self.apply_bonus(bonus, settings)?,
        };
        if let Some(reference) = reference {
            self.taken_references.insert(reference);
        }
        let balance = self
            .members
            .get(&member_id)
            .map(|book| book.account.balance())
            .unwrap_or_default();
        Ok(Movement {
            transfer,
            state,
            balance,
        })
    }

    fn apply_redemption(
        &mut self,
        op: &PricedRedemption,
    ) -> Result<(Transfer, TransferState), BookError> {
        let member_id = op.at.member_id;
        let book = self
            .members
            .get(&member_id)
            .ok_or(BookError::MissingAccount(member_id))?;
        let available = book.account.available();
        if available < op.points {
            return Err(LedgerError::InsufficientPoints {
                available,
                requested: op.points,
            }
            .into());
        }
        let timeout_at = op.hold.map(|hold| self.now + hold);
        let mut transfer = Transfer::new(
            NewTransfer {
                debit: book.account.id,
                credit: partner_account(op.at.partner_id, AccountKind::PartnerRedemption),
                amount: op.points,
                code: TransferCode::Redeem,
                phase: if timeout_at.is_some() {
                    Phase::Pending
                } else {
                    Phase::Single
                },
            },
            self.now,
        );
        made_at(&mut transfer, &op.at, op.discount);
        transfer.timeout_at = timeout_at;
        let taken = lots::spend(&book.lots, None, op.points);
        self.move_lot_points(member_id, transfer.id, &taken);
        let state = match timeout_at {
            Some(timeout_at) => {
                self.writes
                    .pendings
                    .push((transfer.id, member_id, timeout_at));
                TransferState::Pending
            }
            None => TransferState::Posted,
        };
        self.post(member_id, transfer.clone(), Points::ZERO);
        Ok((transfer, state))
    }

    /// The earn's points held to its capped rules' caps for the member's local day and calendar
    /// month of the purchase (`earning::hold_to_caps`). Refused when nothing is left to earn.
    fn held_to_caps(&mut self, op: &PricedEarn) -> Result<Points, LedgerError> {
        if op.capped.is_empty() {
            return Ok(op.points);
        }
        let member_id = op.at.member_id;
        let today = tiers::local_day(op.occurred_at.unwrap_or(self.now), self.zone);
        let month = self.months.month_of(today);
        let (points, given) =
            earning::hold_to_caps(op.points, &op.capped, (today, month), |rule| {
                let key = |day| (member_id, rule.to_owned(), day);
                self.rule_points
                    .range(key(NaiveDate::MIN)..=key(NaiveDate::MAX))
                    .map(|((_, _, day), points)| (*day, *points))
            });
        if points <= 0 {
            return Err(LedgerError::EarnCapReached);
        }
        for (rule, give) in given.into_iter().filter(|(_, give)| *give > 0) {
            let key = (member_id, rule.to_owned(), today);
            *self.rule_points.entry(key.clone()).or_default() += give;
            *self.writes.earn_rule_points.entry(key).or_default() += give;
        }
        Ok(Points(points))
    }

    fn apply_earn(
        &mut self,
        op: &PricedEarn,
        settings: &ProgramSettings,
    ) -> Result<(Transfer, TransferState), BookError> {
        let points = self.held_to_caps(op)?;
        let member_id = op.at.member_id;
        // A late earn is priced as of when it happened: the tier held then.
        let at = op.occurred_at.unwrap_or(self.now);
        let (account_id, tier) = self
            .members
            .get(&member_id)
            .map(|book| (book.account.id, book.tier(self.tiers, at, self.zone)))
            .unwrap_or_default();
        let mut transfer = Transfer::new(
            NewTransfer {
                debit: partner_account(op.at.partner_id, AccountKind::PartnerIssuance),
                credit: account_id,
                amount: tiers::multiplied(points, tier.map(|t| t.rule)),
                code: TransferCode::Earn,
                phase: if op.release_at.is_some() {
                    Phase::Pending
                } else {
                    Phase::Single
                },
            },
            self.now,
        );
        made_at(&mut transfer, &op.at, op.amount);
        transfer.timeout_at = op.release_at;
        let state = match op.release_at {
            Some(release_at) => {
                self.writes
                    .pendings
                    .push((transfer.id, member_id, release_at));
                TransferState::Pending
            }
            None => {
                self.open_lot(member_id, lots::lot_of(settings, &transfer, self.now));
                TransferState::Posted
            }
        };
        if let Some(occurred_at) = op.occurred_at {
            self.writes.late_earns.push((transfer.id, occurred_at));
        }
        let day = tiers::local_day(at, self.zone);
        self.post_on(day, member_id, transfer.clone(), Points::ZERO);
        // Campaigns and repeat visits reward purchases made: a pending earn's are not given (yet).
        if state == TransferState::Posted {
            if let Some(tier) = tier {
                self.writes
                    .earn_tiers
                    .push((transfer.id, points, tier.code.to_owned()));
            }
            if !op.offers.is_empty() {
                self.apply_campaigns(op, points, &transfer, tier.map(|t| t.code), settings);
            }
            if !op.repeat_visits.is_empty() {
                self.apply_repeat_visits(op, settings);
            }
            // The member's next purchase in the batch finds this one their last.
            if let Some(facts) = self.facts.get_mut(&member_id) {
                facts.last_visit = facts.last_visit.max(Some(day));
            }
            for offer in &op.first_purchase {
                // Refused only when the referrer has it already (the batch read the key): the
                // friend's first purchases raced, and the first one committed earned it.
                let _ = self.award(
                    offer.referrer,
                    &offer.code,
                    &offer.occasion,
                    &offer.shares,
                    settings,
                );
            }
        }
        Ok((transfer, state))
    }

    /// Records a tier change for each member whose activity moved them to another tier.
    fn record_tiers(&mut self) {
        for member_id in &self.changed {
            let Some(book) = self.members.get_mut(member_id) else {
                continue;
            };
            let Some(tier) = book.tier(self.tiers, self.now, self.zone) else {
                continue;
            };
            if book.tier_recorded.as_deref() != Some(tier.code) {
                let previous = book.tier_recorded.replace(tier.code.to_owned());
                self.writes.tier_changes.push(TierChange {
                    member_id: *member_id,
                    at: self.now,
                    tier: tier.code.to_owned(),
                    previous,
                });
            }
        }
    }

    /// Adds a posted earn's new lot to the member's lots (in spending order) and the writes.
    fn open_lot(&mut self, member_id: MemberId, lot: Lot) {
        if let Some(book) = self.members.get_mut(&member_id) {
            let at = book
                .lots
                .partition_point(|l| (l.expires_at, l.id) < (lot.expires_at, lot.id));
            book.lots.insert(at, lot.clone());
        }
        self.writes.new_lots.push(lot);
    }
}

fn made_at(transfer: &mut Transfer, at: &PointOfSale, money: Money) {
    transfer.member_id = Some(at.member_id);
    transfer.partner_id = Some(at.partner_id);
    transfer.branch_id = Some(at.branch_id);
    transfer.card_number = Some(at.card.clone());
    transfer.partner_reference = Some(at.reference.clone());
    transfer.idempotency_key = at.idempotency_key.clone();
    transfer.money_minor = Some(money.amount_minor);
    transfer.currency = Some(money.currency);
}

/// What a batch decided: each operation's answer, and what to write.
#[derive(Debug)]
pub struct Decided {
    /// Each operation's answer, in the order given.
    pub results: Vec<Result<Movement, BookError>>,
    /// The members whose points moved.
    pub changed_members: Vec<MemberId>,
    /// What to write.
    pub writes: Writes,
    /// The member accounts the batch locked (sorted by id).
    pub member_accounts: Vec<AccountId>,
    /// The partners of the batch's operations (sorted).
    pub partners: Vec<PartnerId>,
}

/// Decides `ops` in order against the snapshot (which must have been read for them) at `now`,
/// with `tiers` in force.
pub fn decide(
    snapshot: Snapshot,
    ops: &[&LedgerOp],
    settings: &ProgramSettings,
    tiers: &[Tier<'_>],
    now: DateTime<Utc>,
) -> Decided {
    let mut member_accounts: Vec<AccountId> = snapshot.accounts.iter().map(|a| a.id).collect();
    member_accounts.sort_unstable();
    let mut books = Books::new(snapshot, tiers, settings.time_zone, now);
    books.months = settings.month_calendar;
    let results = ops.iter().map(|op| books.apply(op, settings)).collect();
    books.record_tiers();
    let mut partners: Vec<PartnerId> = ops.iter().flat_map(|op| op.partners()).collect();
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

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::points::Currency;

    fn settings() -> ProgramSettings {
        ProgramSettings {
            card_prefix: "6037".into(),
            points_validity: chrono::Duration::days(365),
            default_hold: std::time::Duration::from_secs(900),
            max_hold: std::time::Duration::from_secs(3600),
            max_release: chrono::Duration::days(30),
            late_window: chrono::Duration::days(7),
            time_zone: chrono_tz::Asia::Tehran,
            month_calendar: crate::program::months::MonthCalendar::Persian,
            rules_refresh: std::time::Duration::ZERO,
            limits: crate::program::Limits {
                max_purchase_minor: 1_000_000_000_000,
                max_points: Points(1_000_000),
            },
        }
    }

    fn card() -> CardNumber {
        CardNumber::from_serial("6037", 0)
    }

    fn irr(minor: i64) -> Money {
        Money::new(minor, Currency::parse("IRR").unwrap())
    }

    fn account(member: MemberId, credits: i64) -> Account {
        Account {
            id: AccountId(Uuid::from_u128(member.0.as_u128() + 1)),
            kind: AccountKind::Member,
            member_id: Some(member),
            partner_id: None,
            debits_posted: Points::ZERO,
            credits_posted: Points(credits),
            debits_pending: Points::ZERO,
            credits_pending: Points::ZERO,
            lifetime_earned: Points(credits),
        }
    }

    fn lot(account: &Account, n: u128, points: i64, expires_at: DateTime<Utc>) -> Lot {
        Lot {
            id: LotId(Uuid::from_u128(0xAA00 + n)),
            account_id: account.id,
            amount: Points(points),
            remaining: Points(points),
            earned_at: expires_at - chrono::Duration::days(365),
            expires_at,
        }
    }

    fn snapshot(accounts: Vec<Account>, lots: Vec<Lot>) -> Snapshot {
        Snapshot {
            accounts,
            lots,
            cards: vec![(card(), CardStatus::Active, MemberStatus::Active)],
            ..Snapshot::default()
        }
    }

    fn at(member: MemberId, reference: &str) -> PointOfSale {
        PointOfSale {
            partner_id: PartnerId(Uuid::from_u128(7)),
            branch_id: BranchId(Uuid::from_u128(8)),
            member_id: member,
            card: card(),
            reference: reference.into(),
            idempotency_key: Some(reference.into()),
        }
    }

    fn redeem(member: MemberId, reference: &str, points: i64) -> LedgerOp {
        LedgerOp::Redeem(PricedRedemption {
            at: at(member, reference),
            points: Points(points),
            discount: irr(points * 1_000),
            hold: None,
        })
    }

    fn earn(member: MemberId, reference: &str, points: i64) -> LedgerOp {
        LedgerOp::Earn(PricedEarn {
            at: at(member, reference),
            points: Points(points),
            capped: Vec::new(),
            amount: irr(points * 10_000),
            release_at: None,
            occurred_at: None,
            offers: Vec::new(),
            repeat_visits: Vec::new(),
            first_purchase: Vec::new(),
        })
    }

    fn available(result: &Result<Movement, BookError>) -> Option<i64> {
        result.as_ref().ok().map(|m| m.balance.available.get())
    }

    #[test]
    fn one_members_operations_apply_in_arrival_order_and_refusals_touch_nothing() {
        let now = crate::time::now();
        let (alice, bob) = (
            MemberId(Uuid::from_u128(100)),
            MemberId(Uuid::from_u128(200)),
        );
        let (a, b) = (account(alice, 30), account(bob, 5));
        let lots = vec![
            lot(&a, 1, 30, now + chrono::Duration::days(10)),
            lot(&b, 2, 5, now + chrono::Duration::days(10)),
        ];
        let mut books = Books::new(
            snapshot(vec![a, b], lots),
            &[],
            chrono_tz::Asia::Tehran,
            now,
        );
        let ops = [
            redeem(alice, "r1", 20),
            redeem(alice, "r2", 20), // 10 left: refused
            redeem(bob, "r3", 5),    // a neighbour, unaffected
            earn(alice, "e1", 15),
            redeem(alice, "r4", 20), // 25 now: accepted
            redeem(alice, "r1", 1),  // the reference is taken in this batch
        ];
        let results: Vec<_> = ops.iter().map(|op| books.apply(op, &settings())).collect();
        let left: Vec<Option<i64>> = results.iter().map(available).collect();
        assert_eq!(left, [Some(10), None, Some(0), Some(25), Some(5), None]);
        assert_eq!(
            results[1],
            Err(BookError::Refused(LedgerError::InsufficientPoints {
                available: Points(10),
                requested: Points(20)
            }))
        );
        assert_eq!(
            results[5],
            Err(BookError::Refused(LedgerError::ReferenceTaken))
        );
        let writes = books.writes;
        assert_eq!(writes.transfers.len(), 4);
        // The partner's redemption account gets one folded update for the whole batch.
        let partner_redemption = partner_account(
            PartnerId(Uuid::from_u128(7)),
            AccountKind::PartnerRedemption,
        );
        assert_eq!(
            writes.deltas[&partner_redemption].credits_posted,
            Points(45)
        );
        // The last redemption took the old lot's 10 points, then 10 of the new earn's lot.
        let earn_lot = writes.new_lots[0].id;
        assert_eq!(
            writes.lot_takes[&LotId(Uuid::from_u128(0xAA01))],
            Points(30)
        );
        assert_eq!(writes.lot_takes[&earn_lot], Points(10));
    }

    #[test]
    fn a_bonus_is_awarded_once_per_member_and_occasion_and_tiers_multiply_earns() {
        let now = crate::time::now();
        let (alice, bob) = (
            MemberId(Uuid::from_u128(100)),
            MemberId(Uuid::from_u128(200)),
        );
        let partner = PartnerId(Uuid::from_u128(7));
        let bonus = |member, occasion: &str| {
            LedgerOp::Bonus(PricedBonus {
                member_id: member,
                bonus: "welcome".into(),
                occasion: occasion.into(),
                shares: vec![(Some(partner), Points(6)), (None, Points(5))],
            })
        };
        let mut snapshot = snapshot(vec![account(alice, 0), account(bob, 0)], Vec::new());
        snapshot.awarded = vec![(bob, "welcome".into(), "sign_up".into())];
        let silver = crate::program::rules::TierRule {
            name: crate::program::rules::Names {
                en: "Silver".into(),
                fa: "نقره‌ای".into(),
            },
            rank: 0,
            measure: crate::program::rules::Measure::Points,
            threshold: 0,
            window_days: 365,
            grace_days: 0,
            earn_multiplier: rust_decimal::Decimal::new(15, 1),
            benefits: Vec::new(),
        };
        let tiers = [Tier {
            code: "silver",
            rule: &silver,
        }];
        let mut books = Books::new(snapshot, &tiers, chrono_tz::Asia::Tehran, now);
        let ops = [
            bonus(alice, "sign_up"),
            bonus(alice, "sign_up"), // awarded in this batch
            bonus(bob, "sign_up"),   // awarded before
            bonus(bob, "birthday:2027"),
            earn(alice, "e1", 11), // × 1.5 = 16.5 → 16
        ];
        let results: Vec<_> = ops.iter().map(|op| books.apply(op, &settings())).collect();
        let left: Vec<Option<i64>> = results.iter().map(available).collect();
        assert_eq!(left, [Some(11), None, None, Some(11), Some(27)]);
        assert_eq!(
            results[2],
            Err(BookError::Refused(LedgerError::BonusAlreadyAwarded {
                bonus: "welcome".into(),
                occasion: "sign_up".into()
            }))
        );
        books.record_tiers();
        let writes = books.writes;
        let awarded: Vec<(MemberId, &str)> = writes
            .awards
            .iter()
            .map(|a| (a.member_id, a.occasion.as_str()))
            .collect();
        assert_eq!(awarded, [(alice, "sign_up"), (bob, "birthday:2027")]);
        // Each part is its own transfer, from the partner's issuance or the promotions account.
        let debits: Vec<(AccountId, i64)> = writes
            .transfers
            .iter()
            .filter(|t| t.code == TransferCode::Bonus)
            .map(|t| (t.debit, t.amount.get()))
            .collect();
        let issuance = partner_account(partner, AccountKind::PartnerIssuance);
        assert_eq!(
            debits,
            [
                (issuance, 6),
                (crate::ledger::PROMOTIONS_ACCOUNT, 5),
                (issuance, 6),
                (crate::ledger::PROMOTIONS_ACCOUNT, 5)
            ]
        );
        // Bonuses are not purchases: only the earn counts toward tiers, and both members'
        // first tier is recorded.
        let activity: Vec<(MemberId, i64)> = writes
            .activity
            .iter()
            .map(|((member, _), tally)| (*member, tally.points))
            .collect();
        assert_eq!(activity, [(alice, 16)]);
        assert_eq!(writes.tier_changes.len(), 2);
    }

    #[test]
    fn capped_rules_give_what_is_left_of_their_day_and_month_and_an_earn_of_nothing_is_refused() {
        // 2026-12-10 12:00 in Tehran.
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 10, 8, 30, 0).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let alice = MemberId(Uuid::from_u128(100));
        let mut snapshot = snapshot(vec![account(alice, 0)], Vec::new());
        // Earlier this month (Azar 1405, from 22 November) the rule gave 120 (30 of them today);
        // last month's (Aban, to 21 November) do not count.
        snapshot.earn_rule_points = vec![
            (
                alice,
                "rooms".into(),
                NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
                500,
            ),
            (alice, "rooms".into(), day(2), 90),
            (alice, "rooms".into(), day(10), 30),
        ];
        let mut books = Books::new(snapshot, &[], chrono_tz::Asia::Tehran, now);
        let capped = |reference: &str, rule_points| {
            let LedgerOp::Earn(mut earn) = earn(alice, reference, 60) else {
                unreachable!()
            };
            // 60 points, of which the rule adds `rule_points` over the partner's rate.
            earn.points = Points(10 + rule_points);
            earn.capped = vec![CappedShare {
                rule: "rooms".into(),
                points: rule_points,
                per_day: Some(50),
                per_month: Some(150),
            }];
            LedgerOp::Earn(earn)
        };
        let earned = |result: Result<Movement, BookError>| result.map(|m| m.transfer.amount.get());
        // The day has 20 left (50 − 30): 10 + 20.
        assert_eq!(earned(books.apply(&capped("e1", 40), &settings())), Ok(30));
        // The day is spent: the partner's rate alone.
        assert_eq!(earned(books.apply(&capped("e2", 40), &settings())), Ok(10));
        let tomorrow = now + chrono::Duration::days(1);
        books.now = tomorrow;
        // The month has 10 left (150 − 140).
        assert_eq!(earned(books.apply(&capped("e3", 40), &settings())), Ok(20));
        // A purchase of the 5th reported late: its day is free, but the whole month is spent
        // (the days after it count too).
        let LedgerOp::Earn(mut late) = capped("e5", 40) else {
            unreachable!()
        };
        late.occurred_at = Some(now - chrono::Duration::days(5));
        assert_eq!(
            earned(books.apply(&LedgerOp::Earn(late), &settings())),
            Ok(10)
        );
        // A purchase that earns only by the rule earns nothing once its caps are spent.
        let LedgerOp::Earn(mut only_rule) = capped("e4", 5) else {
            unreachable!()
        };
        only_rule.points = Points(5);
        assert_eq!(
            earned(books.apply(&LedgerOp::Earn(only_rule), &settings())),
            Err(BookError::Refused(LedgerError::EarnCapReached))
        );
        let given: Vec<(NaiveDate, i64)> = books
            .writes
            .earn_rule_points
            .iter()
            .map(|((_, _, day), points)| (*day, *points))
            .collect();
        assert_eq!(given, [(day(10), 20), (day(11), 10)]);
    }

    #[test]
    fn expired_lots_go_to_breakage_before_the_operation() {
        let now = crate::time::now();
        let alice = MemberId(Uuid::from_u128(100));
        let a = account(alice, 30);
        let lots = vec![
            lot(&a, 1, 20, now - chrono::Duration::seconds(1)),
            lot(&a, 2, 10, now + chrono::Duration::days(1)),
        ];
        let mut books = Books::new(snapshot(vec![a], lots), &[], chrono_tz::Asia::Tehran, now);
        let result = books.apply(&redeem(alice, "r1", 15), &settings());
        assert!(matches!(
            result,
            Err(BookError::Refused(LedgerError::InsufficientPoints {
                available: Points(10),
                ..
            }))
        ));
        assert_eq!(books.writes.transfers.len(), 1);
        assert_eq!(books.writes.transfers[0].code, TransferCode::Expiry);
        assert_eq!(
            books.writes.deltas[&super::super::BREAKAGE_ACCOUNT].credits_posted,
            Points(20)
        );
    }

    #[test]
    fn an_expired_hold_is_released_before_the_operation_and_its_points_spent() {
        let now = crate::time::now();
        let alice = MemberId(Uuid::from_u128(100));
        // 30 points earned in two lots; a hold of 25 took all of the first and 5 of the second.
        let mut a = account(alice, 30);
        a.debits_pending = Points(25);
        let (mut first, mut second) = (
            lot(&a, 1, 20, now + chrono::Duration::days(1)),
            lot(&a, 2, 10, now + chrono::Duration::days(2)),
        );
        first.remaining = Points::ZERO;
        second.remaining = Points(5);
        let mut hold = Transfer::new(
            NewTransfer {
                debit: a.id,
                credit: partner_account(
                    PartnerId(Uuid::from_u128(7)),
                    AccountKind::PartnerRedemption,
                ),
                amount: Points(25),
                code: TransferCode::Redeem,
                phase: Phase::Pending,
            },
            now - chrono::Duration::seconds(5),
        );
        hold.member_id = Some(alice);
        hold.timeout_at = Some(now - chrono::Duration::milliseconds(1));
        let snapshot = Snapshot {
            expired_holds: vec![ExpiredHold {
                taken: vec![(first.id, Points(20)), (second.id, Points(5))],
                hold: hold.clone(),
            }],
            hold_lots: vec![first.clone(), second.clone()],
            ..snapshot(vec![a], vec![second])
        };
        let mut books = Books::new(snapshot, &[], chrono_tz::Asia::Tehran, now);
        let result = books.apply(&redeem(alice, "r1", 30), &settings());
        assert_eq!(available(&result), Some(0), "{result:?}");
        let void = &books.writes.transfers[0];
        assert_eq!((void.phase, void.pending_id), (Phase::Void, Some(hold.id)));
        assert_eq!(void.idempotency_key, None, "time voided it, not a partner");
        assert_eq!(books.writes.resolved_pendings, [hold.id]);
        // The hold's points went back to both lots, and the redemption took all 30 again.
        assert_eq!(books.writes.lot_takes[&first.id], Points(0));
        assert_eq!(
            books.writes.lot_takes[&LotId(Uuid::from_u128(0xAA02))],
            Points(5)
        );
        assert_eq!(books.writes.transfers.len(), 2);
    }
}
