//! Typed builders for what a test needs before it starts: partners (with a kind, a point
//! rule, a registered key and a signing client) and members (enrolled over the signed API,
//! with points earned there).
//!
//! ```text
//! let hotel = app.partner().with_default_rule().await;
//! let card = hotel.member().with_points(500).await.card;
//! assert_eq!(hotel.client.available_points(&card).await, 500);
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use ::partners::client::Client;
use ::partners::jwk::PrivateKey;
use ::partners::protocol::{CardCheck, EnrollRequest, Movement};
use domain::cards::CardNumber;
use domain::partners::{NewBranch, NewPartner, Partner, PartnerKind};
use operations::partners;

use crate::app::{TestApp, unique_code, unique_phone};
use crate::protocol::{earn_request, key, redeem_request};

/// The default point rule: one point per 10,000 IRR minor units, a point worth 1,000.
pub const DEFAULT_RULE: PointRule = PointRule {
    earn_points: 1,
    per_amount_minor: 10_000,
    point_value_minor: 1_000,
};

/// A partner's point rule in IRR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointRule {
    /// Points earned for every `per_amount_minor` spent.
    pub earn_points: i64,
    pub per_amount_minor: i64,
    /// What a point is worth when redeemed.
    pub point_value_minor: i64,
}

/// A partner seeded for a test, with a registered key and a client signing with it.
pub struct TestPartner {
    pub partner: Partner,
    pub key: PrivateKey,
    pub client: Client,
}

/// A partner to seed, built by [`TestApp::partner`]: a hotel with one branch (`main`), a
/// registered key and no point rule unless asked. Await it (or call [`PartnerBuilder::create`]).
#[must_use = "a partner is seeded only when the builder is awaited"]
pub struct PartnerBuilder<'a> {
    app: &'a TestApp,
    kind: PartnerKind,
    rule: Option<PointRule>,
}

impl TestApp {
    /// A partner to seed: `app.partner().kind(PartnerKind::Restaurant).with_default_rule().await`.
    pub fn partner(&self) -> PartnerBuilder<'_> {
        PartnerBuilder {
            app: self,
            kind: PartnerKind::Hotel,
            rule: None,
        }
    }
}

impl<'a> PartnerBuilder<'a> {
    /// A partner of this kind (a hotel otherwise).
    pub fn kind(mut self, kind: PartnerKind) -> Self {
        self.kind = kind;
        self
    }

    /// With this point rule at every branch.
    pub fn with_rule(
        mut self,
        earn_points: i64,
        per_amount_minor: i64,
        point_value_minor: i64,
    ) -> Self {
        self.rule = Some(PointRule {
            earn_points,
            per_amount_minor,
            point_value_minor,
        });
        self
    }

    /// With the [`DEFAULT_RULE`] (what [`MemberBuilder::with_points`] and
    /// [`TestPartner::earn_points`] price at).
    pub fn with_default_rule(mut self) -> Self {
        self.rule = Some(DEFAULT_RULE);
        self
    }

    /// Seeds the partner, its `main` branch, its key and its rule.
    pub async fn create(self) -> TestPartner {
        let app = self.app;
        let code = unique_code("partner");
        let partner = partners::add(
            &app.storage,
            NewPartner::parse(&code, &format!("Partner {code}"), self.kind)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        partners::add_branch(
            &app.storage,
            &code,
            NewBranch::parse("main", "Main branch", Some("Tehran"))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let key = app.add_key(&code).await;
        let client = app.client(&key).await;
        let partner = TestPartner {
            partner,
            key,
            client,
        };
        if let Some(rule) = self.rule {
            app.set_rule(&partner, rule).await;
        }
        partner
    }
}

impl<'a> IntoFuture for PartnerBuilder<'a> {
    type Output = TestPartner;
    type IntoFuture = Pin<Box<dyn Future<Output = TestPartner> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

/// A member enrolled for a test.
#[derive(Debug, Clone)]
pub struct TestMember {
    /// The card number the enrolment issued.
    pub card: String,
    /// The phone number enrolled (international form).
    pub phone: String,
}

impl TestMember {
    /// The card number, parsed (for operations called without HTTP).
    pub fn card_number(&self) -> CardNumber {
        CardNumber::parse(&self.card).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A member to enrol, built by [`TestPartner::member`]. Await it (or call
/// [`MemberBuilder::create`]).
#[must_use = "a member is enrolled only when the builder is awaited"]
pub struct MemberBuilder<'a> {
    partner: &'a TestPartner,
    points: i64,
}

impl TestPartner {
    /// A member to enrol at this partner's `main` branch over the signed API:
    /// `partner.member().with_points(500).await`.
    pub fn member(&self) -> MemberBuilder<'_> {
        MemberBuilder {
            partner: self,
            points: 0,
        }
    }

    /// Earns `points` for the card over the signed API: a purchase priced at the
    /// [`DEFAULT_RULE`], which this partner must have.
    pub async fn earn_points(&self, card: &str, points: i64) -> Movement {
        let movement = self
            .client
            .earn(
                &earn_request(card, points * DEFAULT_RULE.per_amount_minor),
                &unique_code("earn"),
            )
            .await
            .unwrap_or_else(|e| panic!("earn: {e}"))
            .body;
        assert_eq!(
            movement.transaction.points, points,
            "earn_points prices at the default rule; give the partner `with_default_rule()`"
        );
        movement
    }

    /// Redeems `points` from the card in one step over the signed API (it must be accepted).
    pub async fn redeem_points(&self, card: &str, points: i64) -> Movement {
        self.redeem(card, points, false).await
    }

    /// Holds `points` of the card over the signed API, to capture or void later (it must be
    /// accepted).
    pub async fn hold_points(&self, card: &str, points: i64) -> Movement {
        self.redeem(card, points, true).await
    }

    async fn redeem(&self, card: &str, points: i64, hold: bool) -> Movement {
        self.client
            .redeem(&redeem_request(card, points, hold), &key())
            .await
            .unwrap_or_else(|e| panic!("redeem: {e}"))
            .body
    }
}

impl<'a> MemberBuilder<'a> {
    /// With `points` earned at this partner after the enrolment (its rule must be the default).
    pub fn with_points(mut self, points: i64) -> Self {
        self.points = points;
        self
    }

    /// Enrols the member (a fresh phone number) and earns its points.
    pub async fn create(self) -> TestMember {
        let phone = unique_phone();
        let enrolled = self
            .partner
            .client
            .enroll(
                &EnrollRequest {
                    branch: "main".into(),
                    phone: phone.clone(),
                    name: "Test Member".into(),
                    email: None,
                    birth_date: None,
                    city: None,
                    invite_code: None,
                    consents_to_messages: false,
                },
                &unique_code("enroll"),
            )
            .await
            .unwrap_or_else(|e| panic!("enrol: {e}"));
        let card = enrolled.body.card_number;
        if self.points > 0 {
            self.partner.earn_points(&card, self.points).await;
        }
        TestMember { card, phone }
    }
}

impl<'a> IntoFuture for MemberBuilder<'a> {
    type Output = TestMember;
    type IntoFuture = Pin<Box<dyn Future<Output = TestMember> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

/// What a card check shows, read in one call (any client: a partner's, another instance's).
pub trait CardChecks {
    /// The points the card's member can spend now, as a card check without a branch shows them.
    fn available_points(&self, card: &str) -> impl Future<Output = i64> + Send;

    /// The card's member's tier code, as a card check without a branch shows it.
    fn tier(&self, card: &str) -> impl Future<Output = Option<String>> + Send;
}

impl CardChecks for Client {
    async fn available_points(&self, card: &str) -> i64 {
        card_check(self, card).await.balance.available
    }

    async fn tier(&self, card: &str) -> Option<String> {
        card_check(self, card).await.tier.map(|t| t.code)
    }
}

async fn card_check(client: &Client, card: &str) -> CardCheck {
    client
        .check_card(card, None)
        .await
        .unwrap_or_else(|e| panic!("card check: {e}"))
        .body
}

/// A staff account made for a test, and what it signs in with.
#[derive(Debug, Clone)]
pub struct TestStaff {
    pub login: String,
    pub password: String,
    pub name: String,
}

impl TestApp {
    /// A staff account with `role`, at `partner`'s `branches` (codes) when given.
    pub async fn staff(
        &self,
        role: domain::staff::StaffRole,
        partner: Option<&TestPartner>,
        branches: &[&str],
    ) -> TestStaff {
        let login = unique_code("staff");
        let name = format!("Staff {login}");
        let password = "a test password, long enough".to_owned();
        let partner_code = partner.map(|p| p.partner.code.to_string());
        let branches: Vec<String> = branches.iter().map(|b| (*b).to_owned()).collect();
        operations::staff::add(
            &self.storage,
            operations::staff::NewStaff {
                login: &login,
                name: &name,
                role,
                partner: partner_code.as_deref(),
                branches: &branches,
            },
            &password,
            operations::staff::Actor {
                name: "test",
                from: "test",
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("staff {login}: {e}"));
        TestStaff {
            login,
            password,
            name,
        }
    }
}
