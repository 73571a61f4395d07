//! Lots: which of a member's lots points come from (soonest expiry first) and go
//! back to (latest expiry first), and when they expire.

use chrono::{DateTime, Utc};

use super::{Account, BREAKAGE_ACCOUNT, NewTransfer, Phase, Transfer, TransferCode};
use crate::ids::LotId;
use crate::points::Points;
use crate::program::ProgramSettings;

/// Which lots `points` come from, given the open lots in spending order (`first` before all
/// others). The caller has checked the available balance; lots always add up to it.
pub fn spend(lots: &[super::Lot], first: Option<LotId>, points: Points) -> Vec<(LotId, Points)> {
    let first_lot = first.and_then(|id| lots.iter().find(|l| l.id == id));
    let rest = lots.iter().filter(|l| Some(l.id) != first);
    let mut left = points;
    let mut taken = Vec::new();
    for lot in first_lot.into_iter().chain(rest) {
        if left == Points::ZERO {
            break;
        }
        let take = lot.remaining.min(left);
        if take.is_positive() {
            taken.push((lot.id, take));
            left -= take;
        }
    }
    taken
}

/// Where `points` go back to: the lots in `taken` (net points taken from each), latest expiry
/// first, never above a lot's own amount. Returns the (negative) allocations to record.
pub fn restore(
    taken: &[(LotId, Points)],
    lots: &[super::Lot],
    points: Points,
) -> Vec<(LotId, Points)> {
    let mut candidates: Vec<&super::Lot> = lots
        .iter()
        .filter(|lot| taken.iter().any(|(id, _)| *id == lot.id))
        .collect();
    candidates.sort_by_key(|lot| std::cmp::Reverse((lot.expires_at, lot.id)));
    let mut left = points;
    let mut restored = Vec::new();
    for lot in candidates {
        if left == Points::ZERO {
            break;
        }
        let net = taken
            .iter()
            .find(|(id, _)| *id == lot.id)
            .map_or(Points::ZERO, |(_, n)| *n);
        let give = net.min(left).min(lot.amount - lot.remaining);
        if give.is_positive() {
            restored.push((lot.id, -give));
            left -= give;
        }
    }
    restored
}

/// Net points the allocations `(lot, points)` took from each lot (lots given back more than
/// taken are left out).
pub fn net_taken(allocations: impl IntoIterator<Item = (LotId, Points)>) -> Vec<(LotId, Points)> {
    let mut net: Vec<(LotId, Points)> = Vec::new();
    for (lot, amount) in allocations {
        match net.iter_mut().find(|(l, _)| *l == lot) {
            Some((_, total)) => *total += amount,
            None => net.push((lot, amount)),
        }
    }
    net.retain(|(_, amount)| amount.is_positive());
    net
}

/// The transfer moving a member account's lots expired by `now` (among `lots`) to breakage, and
/// the points it takes from each; `None` when nothing has expired.
pub fn expiry(
    account: &Account,
    lots: &[super::Lot],
    now: DateTime<Utc>,
) -> Option<(Transfer, Vec<(LotId, Points)>)> {
    let taken: Vec<(LotId, Points)> = lots
        .iter()
        .filter(|l| l.remaining.is_positive() && l.expires_at <= now)
        .map(|l| (l.id, l.remaining))
        .collect();
    let total: Points = taken.iter().map(|(_, points)| *points).sum();
    if total == Points::ZERO {
        return None;
    }
    let mut transfer = Transfer::new(
        NewTransfer {
            debit: account.id,
            credit: BREAKAGE_ACCOUNT,
            amount: total,
            code: TransferCode::Expiry,
            phase: Phase::Single,
        },
        now,
    );
    transfer.member_id = account.member_id;
    Some((transfer, taken))
}

/// The lot a posted earn's points live in, valid for the programme's validity from `now`.
pub fn lot_of(settings: &ProgramSettings, earn: &Transfer, now: DateTime<Utc>) -> super::Lot {
    super::Lot {
        id: earn.id.into(),
        account_id: earn.credit,
        amount: earn.amount,
        remaining: earn.amount,
        earned_at: now,
        expires_at: now + settings.points_validity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::ledger::Lot;

    fn lot(n: u128, amount: i64, remaining: i64, days: i64) -> Lot {
        let now: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().unwrap();
        Lot {
            id: LotId(uuid::Uuid::from_u128(n)),
            account_id: AccountId::default(),
            amount: Points(amount),
            remaining: Points(remaining),
            earned_at: now,
            expires_at: now + chrono::Duration::days(days),
        }
    }

    #[test]
    fn spending_takes_the_soonest_expiry_first_and_restoring_gives_to_the_latest() {
        let lots = [lot(1, 10, 10, 1), lot(2, 10, 10, 2), lot(3, 10, 10, 3)];
        let taken = spend(&lots, None, Points(15));
        assert_eq!(taken, [(lots[0].id, Points(10)), (lots[1].id, Points(5))]);
        // The first lot named goes first, whatever its expiry.
        assert_eq!(
            spend(&lots, Some(lots[2].id), Points(4)),
            [(lots[2].id, Points(4))]
        );
        let after = [lot(1, 10, 0, 1), lot(2, 10, 5, 2)];
        assert_eq!(
            restore(&taken, &after, Points(7)),
            [(lots[1].id, Points(-5)), (lots[0].id, Points(-2))]
        );
        assert_eq!(
            net_taken([
                (lots[0].id, Points(10)),
                (lots[0].id, Points(-10)),
                (lots[1].id, Points(5))
            ]),
            [(lots[1].id, Points(5))]
        );
    }
}
