//! A till that calls the ledger's operations directly, at times the test picks (no HTTP,
//! no signatures, no idempotency keys): settlement and model tests hold the clock this way.

use chrono::{DateTime, Utc};
use domain::cards::CardNumber;
use domain::ids::{PartnerId, TransferId};
use domain::ledger::{LedgerError, Movement, Purchase, Redemption, Reversal};
use domain::member_data::PersonalData;
use domain::members::NewMember;
use domain::points::{Currency, Money, Points};
use operations::error::OperationError;
use operations::ledger::at;

use crate::app::unique_code;
use crate::{DEFAULT_RULE, TestApp, TestPartner};

/// What an operation at a chosen time gives.
pub type Outcome = Result<Movement, OperationError<LedgerError>>;

/// A partner's till, driven through the ledger's operations with the clock in the test's hands.
pub struct DirectTill<'a> {
    pub app: &'a TestApp,
    pub partner_id: PartnerId,
}

impl<'a> DirectTill<'a> {
    /// Enrols a member at the `main` branch now; returns the card.
    pub async fn enroll(&self, phone: &str) -> CardNumber {
        let personal = PersonalData::parse(
            "Model Member",
            phone,
            None,
            None,
            None,
            Utc::now().date_naive(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let new = NewMember {
            branch: "main".into(),
            personal,
            card: None,
            invite_code: None,
            consents_to_messages: false,
        };
        operations::members::enroll_at(&self.app.club, self.partner_id, new, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .card
    }

    /// Earns `points` (a purchase at the default rule's price) at `now`.
    pub async fn earn(&self, card: &CardNumber, points: i64, now: DateTime<Utc>) -> Outcome {
        self.earn_pending(card, points, None, now).await
    }

    /// Earns `points` at `now`, kept pending until `release_at` when it is given.
    pub async fn earn_pending(
        &self,
        card: &CardNumber,
        points: i64,
        release_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let purchase = self.purchase(card, points, release_at);
        at::earn(&self.app.club, self.partner_id, purchase, now).await
    }

    /// Reports at `now` a purchase worth `points` that happened at `occurred_at`.
    pub async fn earn_late(
        &self,
        card: &CardNumber,
        points: i64,
        occurred_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let mut purchase = self.purchase(card, points, None);
        purchase.occurred_at = Some(occurred_at);
        at::earn(&self.app.club, self.partner_id, purchase, now).await
    }

    /// A purchase at `main` priced at the default rule to earn `points`.
    fn purchase(
        &self,
        card: &CardNumber,
        points: i64,
        release_at: Option<DateTime<Utc>>,
    ) -> Purchase {
        let irr = Currency::parse("IRR").unwrap_or_else(|e| panic!("{e}"));
        Purchase::new(
            "main".into(),
            card.clone(),
            Money::new(points * DEFAULT_RULE.per_amount_minor, irr),
            unique_code("order"),
            release_at,
            Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Voids a hold at `now`.
    pub async fn void(&self, hold: TransferId, now: DateTime<Utc>) -> Outcome {
        at::void(&self.app.club, self.partner_id, hold, now).await
    }

    /// Releases a pending earn's points at `now`.
    pub async fn release(&self, pending: TransferId, now: DateTime<Utc>) -> Outcome {
        at::resolve_pending(&self.app.club, self.partner_id, pending, true, now).await
    }

    /// Redeems (or holds) `points` at `now`.
    pub async fn redeem(
        &self,
        card: &CardNumber,
        points: i64,
        hold: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        let redemption = Redemption::new(
            "main".into(),
            card.clone(),
            Points(points),
            unique_code("bill"),
            hold.then_some(None),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        at::redeem(&self.app.club, self.partner_id, redemption, now).await
    }

    /// Captures `points` of a hold (all of it when `None`) at `now`.
    pub async fn capture(
        &self,
        hold: TransferId,
        points: Option<i64>,
        now: DateTime<Utc>,
    ) -> Outcome {
        at::capture(
            &self.app.club,
            self.partner_id,
            hold,
            points.map(Points),
            now,
        )
        .await
    }

    /// Reverses `points` of an earn or a redemption (all that is left when `None`) at `now`.
    pub async fn reverse(
        &self,
        transfer_id: TransferId,
        points: Option<i64>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let reversal = Reversal::new(transfer_id, points.map(Points), Some(unique_code("return")))
            .unwrap_or_else(|e| panic!("{e}"));
        at::reverse(&self.app.club, self.partner_id, reversal, now).await
    }

    /// A fresh partner (with the default point rule) and its till.
    pub async fn open(app: &'a TestApp) -> (TestPartner, Self) {
        let partner = app.partner().with_default_rule().await;
        let till = DirectTill {
            app,
            partner_id: partner.partner.id,
        };
        (partner, till)
    }
}
