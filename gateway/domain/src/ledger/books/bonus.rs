//! Bonuses in the books: points for an occasion, from the promotions account or from the
//! partners that fund them, once per member, bonus rule and occasion.

use chrono::{DateTime, Utc};

use super::{BookError, Books};
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
        let member_id = op.member_id;
        let key = (member_id, op.bonus.clone(), op.occasion.clone());
        if self.awarded.contains(&key) {
            return Err(LedgerError::BonusAlreadyAwarded {
                bonus: op.bonus.clone(),
                occasion: op.occasion.clone(),
            }
            .into());
        }
        let account_id = self
            .members
            .get(&member_id)
            .map(|book| book.account.id)
            .ok_or(BookError::MissingAccount(member_id))?;
        let mut first: Option<Transfer> = None;
        for (funder, points) in &op.shares {
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
            LedgerError::Invalid(format!("bonus {:?} has no points to award", op.bonus))
        })?;
        self.awarded.insert(key);
        self.writes.awards.push(BonusAward {
            member_id,
            bonus: op.bonus.clone(),
            occasion: op.occasion.clone(),
            transfer_id: first.id,
            awarded_at: self.now,
        });
        Ok((first, TransferState::Posted))
    }
}
