//! A till driven through the ledger's domain operations at any time the test picks.

use chrono::{DateTime, Utc};
use gateway::domain::cards::CardNumber;
use gateway::domain::ledger::{self, EarnRequest, LedgerError, RedeemRequest, Teller};
use gateway::domain::member_data::PersonalData;

use crate::app::unique_code;
use crate::{TestApp, TestPartner};

/// A partner's till driven through the ledger's domain operations, with the clock in
/// the test's hands (no HTTP, no signatures).
pub struct Till<'a> {
    pub app: &'a TestApp,
    pub teller: Teller,
}

impl<'a> Till<'a> {
    pub async fn enroll(&self, phone: &str) -> CardNumber {
        let mut conn = self.app.db.connect().await;
        let personal =
            PersonalData::parse("Model Member", phone, None, None, Utc::now().date_naive())
                .unwrap_or_else(|e| panic!("{e}"));
        let keys = &self.app.config.member_data_keys;
        let new = gateway::domain::members::NewMember {
            branch: "main".into(),
            personal,
            card: None,
        };
        gateway::domain::members::enroll(
            &mut conn,
            &self.app.config.program,
            keys,
            &self.teller,
            new,
            Utc::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .card
    }

    pub async fn earn(
        &self,
        card: &CardNumber,
        points: i64,
        now: DateTime<Utc>,
    ) -> Result<ledger::Movement, LedgerError> {
        let mut conn = self.app.db.connect().await;
        let request = EarnRequest {
            branch: "main".into(),
            card: card.clone(),
            amount_minor: points * 10_000,
            currency: "IRR".into(),
            reference: unique_code("order"),
            release_at: None,
        };
        let result = ledger::earn(
            &mut conn,
            &self.app.config.program,
            &self.teller,
            request,
            now,
        )
        .await;
        self.committed(&result).await;
        result
    }

    /// What the HTTP path does after a commit: refresh the member's cached card view.
    async fn committed(&self, result: &Result<ledger::Movement, LedgerError>) {
        if let Ok(movement) = result
            && let Some(member) = movement.transfer.member_id
        {
            ledger::committed(&self.app.storage, member).await;
        }
    }

    pub async fn redeem(
        &self,
        card: &CardNumber,
        points: i64,
        hold: bool,
        now: DateTime<Utc>,
    ) -> Result<ledger::Movement, LedgerError> {
        let mut conn = self.app.db.connect().await;
        let request = RedeemRequest {
            branch: "main".into(),
            card: card.clone(),
            points,
            reference: unique_code("bill"),
            hold: hold.then_some(None),
        };
        let result = ledger::redeem(
            &mut conn,
            &self.app.config.program,
            &self.teller,
            request,
            now,
        )
        .await;
        self.committed(&result).await;
        result
    }

    /// Captures `points` of a hold (all of it when `None`).
    pub async fn capture(
        &self,
        hold: uuid::Uuid,
        points: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<ledger::Movement, LedgerError> {
        let mut conn = self.app.db.connect().await;
        let result = ledger::capture(&mut conn, &self.teller, hold, points, now).await;
        self.committed(&result).await;
        result
    }

    /// Reverses `points` of an earn or a redemption (all that is left when `None`).
    pub async fn reverse(
        &self,
        transfer_id: uuid::Uuid,
        points: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<ledger::Movement, LedgerError> {
        let mut conn = self.app.db.connect().await;
        let request = ledger::ReverseRequest {
            transfer_id,
            points,
            reference: Some(unique_code("return")),
        };
        let result = ledger::reverse(&mut conn, &self.teller, request, now).await;
        self.committed(&result).await;
        result
    }

    pub async fn available(&self, card: &CardNumber) -> i64 {
        let mut conn = self.app.db.connect().await;
        let (_, member) = gateway::storage::members::find_card(&mut conn, card.as_str())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no card {card}"));
        gateway::storage::ledger::member_account(&mut conn, member.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .available()
    }

    /// A fresh partner (with the test point rule) and its till.
    pub async fn open(app: &'a TestApp) -> (TestPartner, Self) {
        let partner = app.seed_partner().await;
        app.seed_rule(&partner).await;
        let teller = Teller {
            partner_id: partner.partner.id,
            idempotency_key: None,
        };
        (partner, Till { app, teller })
    }
}
