//! Bonuses in the books: points for an occasion, from the promotions account or from the
//! partners that fund them, once per member, bonus rule and occasion.

use chrono::{DateTime, Utc};

use super::{BookError, Books, PricedEarn};
use crate::ids::{MemberId, PartnerId, TransferId};
use crate::ledger::{
    AccountKind, LedgerError, NewTransfer, PROMOTIONS_ACCOUNT, Phase, Transfer, TransferCode,
    TransferState, lots, partner_account,
};
use crate::points::Points;
use crate::program::ProgramSettings;

/// A bonus, decided on and split between its funders, ready for the books.
#[derive(Debug, Clone)]
pub struct PricedBonus {
    /// The member it is for.
    pub member_id: MemberId,
    /// The bonus rule's code.
    pub bonus: String,
    /// What makes it once per member (`program::bonuses`): `sign_up`, `referral:<friend>`, …
    pub occasion: String,
    /// Who pays how many points: the operator (`None`) or a partner; never empty, every part
    /// above zero.
    pub shares: Vec<(Option<PartnerId>, Points)>,
}

/// An award as the ledger keeps it: the key that makes it once, and its first transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BonusAward {
    /// The member.
    pub member_id: MemberId,
    /// The bonus rule's code.
    pub bonus: String,
    /// The occasion's key.
    pub occasion: String,
    /// The award's first transfer (one per funder).
    pub transfer_id: TransferId,
    /// When it was awarded.
    pub awarded_at: DateTime<Utc>,
}

impl Books<'_> {
    /// Credits the member with the bonus, one transfer per funder, unless they have it already.
    pub(super) fn apply_bonus(
        &mut self,
        op: &PricedBonus,
        settings: &ProgramSettings,
    ) -> Result<(Transfer, TransferState), BookError> {
        let first = self.award(op.member_id, &op.bonus, &op.occasion, &op.shares, settings)?;
        Ok((first, TransferState::Posted))
    }

    /// Credits `member_id` with bonus `bonus` for `occasion`, a transfer per funder in `shares`,
    /// and records the award; refused if the member has it already. Returns the first transfer.
    pub(super) fn award(
        &mut self,
        member_id: MemberId,
        bonus: &str,
        occasion: &str,
        shares: &[(Option<PartnerId>, Points)],
        settings: &ProgramSettings,
    ) -> Result<Transfer, BookError> {
        let key = (member_id, bonus.to_owned(), occasion.to_owned());
        if self.awarded.contains(&key) {
            return Err(LedgerError::BonusAlreadyAwarded {
                bonus: bonus.to_owned(),
                occasion: occasion.to_owned(),
            }
            .into());
        }
        let account_id = self
            .members
            .get(&member_id)
            .map(|book| book.account.id)
            .ok_or(BookError::MissingAccount(member_id))?;
        let mut first: Option<Transfer> = None;
        for (funder, points) in shares {
            let debit = match funder {
                None => PROMOTIONS_ACCOUNT,
                Some(partner_id) => partner_account(*partner_id, AccountKind::PartnerIssuance),
            };
            let mut transfer = Transfer::new(
                NewTransfer {
                    debit,
                    credit: account_id,
                    amount: *points,
                    code: TransferCode::Bonus,
                    phase: Phase::Single,
                },
                self.now,
            );
            transfer.member_id = Some(member_id);
            transfer.partner_id = *funder;
            self.open_lot(member_id, lots::lot_of(settings, &transfer, self.now));
            self.post(member_id, transfer.clone(), Points::ZERO);
            first.get_or_insert(transfer);
        }
        let first = first.ok_or_else(|| {
            LedgerError::Invalid(format!("bonus {bonus:?} has no points to award"))
        })?;
        self.awarded.insert(key);
        self.writes.awards.push(BonusAward {
            member_id,
            bonus: bonus.to_owned(),
            occasion: occasion.to_owned(),
            transfer_id: first.id,
            awarded_at: self.now,
        });
        Ok(first)
    }

    /// Gives the campaigns `earn` qualifies for (its member in their audience, budget left),
    /// each as a bonus keyed by the earn's transfer; `points` are the earn's before the tier.
    pub(super) fn apply_campaigns(
        &mut self,
        earn: &PricedEarn,
        points: Points,
        transfer: &Transfer,
        tier: Option<&str>,
        settings: &ProgramSettings,
    ) {
        let member_id = earn.at.member_id;
        let at = earn.occurred_at.unwrap_or(self.now);
        for offer in &earn.offers {
            let facts = self.facts.get(&member_id);
            if !offer.audience.admits(tier, facts, at, self.zone) {
                continue;
            }
            let spent = self.spent.get(&offer.code).copied().unwrap_or(0);
            let points = offer
                .points(points)
                .min(offer.left(spent).unwrap_or(i64::MAX));
            if points == 0 {
                continue;
            }
            let shares = offer.split(points);
            let occasion = format!("earn:{}", transfer.id);
            // A fresh key (a new transfer's id): nothing can refuse it.
            if self
                .award(member_id, &offer.code, &occasion, &shares, settings)
                .is_ok()
            {
                *self.spent.entry(offer.code.clone()).or_default() += points;
                *self
                    .writes
                    .campaign_spend
                    .entry(offer.code.clone())
                    .or_default() += points;
            }
        }
    }

    /// Gives the repeat-visit bonuses this earn completes: its purchase is exactly the n-th within
    /// the rule's last days (so a regular who keeps coming is not rewarded every day), once per
    /// member, rule and local day.
    pub(super) fn apply_repeat_visits(&mut self, earn: &PricedEarn, settings: &ProgramSettings) {
        let member_id = earn.at.member_id;
        let at = earn.occurred_at.unwrap_or(self.now);
        let today = crate::program::tiers::local_day(at, self.zone);
        for offer in &earn.repeat_visits {
            let Some(book) = self.members.get(&member_id) else {
                return;
            };
            let from = today - chrono::Days::new(u64::from(offer.within_days.saturating_sub(1)));
            let visits: i64 = book.days.range(from..=today).map(|(_, t)| t.visits).sum();
            if visits != i64::from(offer.visits) {
                continue;
            }
            // Refused only when it was given on that day already (the batch read the key).
            let _ = self.award(
                member_id,
                &offer.code,
                &offer.occasion,
                &offer.shares,
                settings,
            );
        }
    }
}
