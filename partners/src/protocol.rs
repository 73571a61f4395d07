//! The v1 wire protocol: header names, the signature profile and the JSON bodies.
//!
//! Both the gateway and partners compile against these definitions, so a field
//! renamed here is renamed on both sides at once. With the `openapi` feature the
//! types also describe themselves for the gateway's OpenAPI document.

use serde::{Deserialize, Serialize};

use crate::signatures::Component;

/// Header carrying the partner's idempotency key on every POST (echoed on the receipt).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Receipt header echoing the `nonce` of the request signature it answers.
pub const REQUEST_NONCE: &str = "request-nonce";
/// Receipt header set to `true` when the answer is a replay of the first one.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// The only signature algorithm of this profile (RFC 9421 Section 3.3.6).
pub const ALGORITHM: &str = "ed25519";
/// Label the partner client uses for its request signature (the gateway accepts any).
pub const REQUEST_LABEL: &str = "sig1";
/// Label the gateway uses for its receipt signature.
pub const RECEIPT_LABEL: &str = "receipt";
/// The longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// The components a request signature must cover for this request.
pub fn required_request_components(
    method: &str,
    has_query: bool,
    has_body: bool,
) -> Vec<Component> {
    let mut components = vec![Component::Method, Component::Authority, Component::Path];
    if has_query {
        components.push(Component::Query);
    }
    if has_body {
        components.push(Component::header("content-digest"));
    }
    if method.eq_ignore_ascii_case("POST") {
        components.push(Component::header(IDEMPOTENCY_KEY));
    }
    components
}

/// The components the gateway covers in a receipt for a request with these properties.
pub fn receipt_components(has_idempotency_key: bool, has_request_nonce: bool) -> Vec<Component> {
    let mut components = vec![Component::Status, Component::header("content-digest")];
    if has_idempotency_key {
        components.push(Component::header(IDEMPOTENCY_KEY));
    }
    if has_request_nonce {
        components.push(Component::header(REQUEST_NONCE));
    }
    components
}

/// The kind of business a partner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    Hotel,
    TourAgency,
    Restaurant,
    Retail,
    Other,
}

impl PartnerKind {
    /// All kinds, in display order.
    pub const ALL: [Self; 5] = [
        Self::Hotel,
        Self::TourAgency,
        Self::Restaurant,
        Self::Retail,
        Self::Other,
    ];

    /// The stable snake_case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hotel => "hotel",
            Self::TourAgency => "tour_agency",
            Self::Restaurant => "restaurant",
            Self::Retail => "retail",
            Self::Other => "other",
        }
    }
}

impl std::str::FromStr for PartnerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown partner kind {s:?}: expected hotel, tour_agency, restaurant, retail or other")
            })
    }
}

/// A branch as partners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Branch {
    pub id: uuid::Uuid,
    pub code: String,
    pub name: String,
    pub city: Option<String>,
    pub status: String,
}

/// `GET /v1/partner`: who the gateway thinks the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerProfile {
    pub id: uuid::Uuid,
    pub code: String,
    pub name: String,
    pub kind: PartnerKind,
    pub status: String,
    pub branches: Vec<Branch>,
    /// The key id that signed this request.
    pub key_id: String,
}

/// `POST /v1/partner/keys`: register the partner's next public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterKeyRequest {
    /// The public key as an RFC 8037 JWK (`kty` `OKP`, `crv` `Ed25519`, with `kid`); never `d`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub jwk: crate::jwk::Jwk,
}

/// A registered partner key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerKey {
    pub key_id: String,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An RFC 9457 problem document, as every error is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable error code; see `docs/errors.md`.
    pub code: String,
}

/// An amount of money: an integer in the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `IRR`.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Z]{3}$"))]
    pub currency: String,
}

/// The schema of a purchase amount: [`Money`] above zero (the gateway refuses less).
#[cfg(feature = "openapi")]
fn purchase_amount() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .description(Some(
            "The purchase amount, above zero, in the currency's minor unit",
        ))
        .property(
            "amount_minor",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(1)),
        )
        .required("amount_minor")
        .property(
            "currency",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[A-Z]{3}$"))
                .description(Some("ISO 4217 code, e.g. `IRR`")),
        )
        .required("currency")
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
        .build()
}

/// For people: major units with grouped digits, `7,650,506.96 IRR` (see [`crate::amounts`]).
///
/// Width and alignment apply to the whole text (`{:>20}`). The wire form stays
/// `amount_minor`; nothing parses this back.
impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&crate::amounts::format_money(
            self.amount_minor,
            &self.currency,
        ))
    }
}

/// `POST /v1/members`: enrol a member at the till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Branch code (or id) of the calling partner.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 63,
            pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"
        )
    )]
    pub branch: String,
    /// International form, e.g. `+989121234567` (spaces, dashes, dots and parentheses are
    /// ignored, and `00` may stand for `+`).
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 64, pattern = r"^(\+|00)[1-9][0-9 ().-]{7,60}$")
    )]
    pub phone: String,
    /// The member's full name (not blank).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"\p{L}")
    )]
    pub name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s]*[^@\s.]$"
        )
    )]
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub birth_date: Option<chrono::NaiveDate>,
    /// The city the member lives in (campaigns may be aimed at a city; kept sealed).
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// The invite code of the friend who referred the member (8 characters; case, spaces and
    /// dashes do not matter).
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    #[serde(default)]
    pub invite_code: Option<String>,
    /// Whether the member agrees to be sent messages (offers, news); `false` unless they said so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub consents_to_messages: bool,
}

/// A new member and their club card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrollment {
    pub member_id: uuid::Uuid,
    pub card_number: String,
    /// The code the member gives friends to enrol with.
    #[serde(default)]
    pub invite_code: String,
    /// Points of the bonuses awarded with the enrolment (sign-up, a completed profile).
    #[serde(default)]
    pub bonus_points: i64,
}

/// A member's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    /// Posted points, held points included.
    pub posted: i64,
    /// Points that can be redeemed now.
    pub available: i64,
    /// Points in open redemption holds.
    pub held: i64,
    /// Earned points not released yet (pending earns).
    pub pending_earned: i64,
}

/// `GET /v1/cards/{number}`: what the cashier sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardCheck {
    pub card_number: String,
    pub status: String,
    pub first_name: String,
    /// The member's tier now; absent when the programme has no tiers.
    pub tier: Option<CardTier>,
    pub balance: Balance,
    /// What the available points take off a bill at the given branch (when `branch` was given).
    pub redeemable_value: Option<Money>,
    /// The campaigns a purchase at the given branch would get a bonus from today (with `branch`).
    #[serde(default)]
    pub campaigns: Vec<CardCampaign>,
    /// Where the member stands toward each repeat-visit bonus: the purchase that makes `have`
    /// reach `visits` within the last `within_days` days earns `points`.
    #[serde(default)]
    pub repeat_visits: Vec<RepeatVisitProgress>,
}

/// A member's way toward a repeat-visit bonus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepeatVisitProgress {
    pub code: String,
    pub points: i64,
    /// The purchase that earns it: the n-th …
    pub visits: u16,
    /// … within this many days, today included.
    pub within_days: u16,
    /// Purchases made within those days, today's included.
    pub have: i64,
}

/// A campaign the member can still earn from today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardCampaign {
    pub code: String,
    pub name: Names,
    /// Fixed points for the purchase, when it gives points.
    pub points: Option<i64>,
    /// The multiplier of the purchase's base points (a decimal string), when it multiplies.
    pub multiplier: Option<String>,
}

/// A name in the programme's two languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Names {
    pub en: String,
    pub fa: String,
}

/// The tier a member holds, as a card check shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardTier {
    /// The tier's code, e.g. `silver`.
    pub code: String,
    pub name: Names,
    /// Points earned at partners are multiplied by this (a decimal string, e.g. "1.25").
    pub earn_multiplier: String,
    /// What the card carries.
    pub benefits: Vec<Names>,
    /// The tier is kept until this instant unless the member qualifies again (absent while they
    /// qualify, and for the entry tier).
    pub held_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Toward the next tier up (absent at the top).
    pub progress: Option<TierProgress>,
}

/// How far a member is from the next tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierProgress {
    /// The next tier's code.
    pub tier: String,
    /// What counts: `points` earned, money `spend` in minor units, or `visits`.
    pub measure: String,
    /// How much the member has within the tier's window.
    pub have: i64,
    /// How much the tier needs.
    pub need: i64,
}

/// `GET /v1/quote`: prices a purchase and/or points at a branch; posts nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    /// Points the purchase amount would earn at the rule (rounded down).
    pub earn_points: Option<i64>,
    /// The discount the points would buy.
    pub discount: Option<Money>,
    /// The rule applied: `earn_points` per `per_amount_minor`, each point worth `point_value_minor`.
    pub rule: PointRule,
    /// With `card` and an amount: what this member's purchase would earn in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberQuote>,
}

/// What a member's purchase would earn: the rule's points at their tier, and the campaigns'
/// bonuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberQuote {
    /// The member's tier (absent without tiers).
    pub tier: Option<String>,
    /// The tier's multiplier, a decimal string ("1" without tiers).
    pub earn_multiplier: String,
    /// The rule's points times the multiplier, rounded down.
    pub earn_points: i64,
    /// Each campaign that would give a bonus now, within what is left of its budget.
    pub campaigns: Vec<AwardedBonus>,
    /// `earn_points` and the campaigns' points.
    pub total_points: i64,
}

/// A partner's (or branch's) point rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointRule {
    pub currency: String,
    pub earn_points: i64,
    pub per_amount_minor: i64,
    pub point_value_minor: i64,
}

/// `POST /v1/earns`: a purchase that earns points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EarnRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 63,
            pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"
        )
    )]
    pub branch: String,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 16, max_length = 64, pattern = r"^[0-9۰-۹٠-٩ -]+$")
    )]
    pub card_number: String,
    /// The purchase amount.
    #[cfg_attr(feature = "openapi", schema(schema_with = purchase_amount))]
    pub amount: Money,
    /// The partner's own order reference, unique among its earns.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub reference: String,
    /// Keep the points pending until this time (end of stay, return period).
    #[serde(default)]
    pub release_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What was bought, by category, adding up to `amount` (earn rules may price by category
    /// and margin); the purchase is one line without a category when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub lines: Vec<BasketLine>,
    /// When the purchase happened, for one reported late (an offline till): within the
    /// programme's late window, not in the future. The rules, campaigns and tier of that time
    /// apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A line of an earn's basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BasketLine {
    /// A product category's code (`food`, `rooms`).
    pub category: String,
    /// What was paid for the line, in minor units.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub amount_minor: i64,
    /// The partner's margin on the line, in minor units (0 to `amount_minor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub margin_minor: Option<i64>,
}

impl BasketLine {
    /// A line as typed (`partner earn --line`, the quote's `lines`): `category:amount[:margin]`,
    /// amounts in minor units.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = || "a line is category:amount_minor[:margin_minor]".to_owned();
        let mut parts = text.split(':');
        let (Some(category), Some(amount)) = (parts.next(), parts.next()) else {
            return Err(shape());
        };
        let number = |part: &str, what: &str| {
            part.parse::<i64>()
                .map_err(|_| format!("the {what} {part:?} is not a whole number of minor units"))
        };
        let margin_minor = parts.next().map(|m| number(m, "margin")).transpose()?;
        if parts.next().is_some() {
            return Err(shape());
        }
        Ok(Self {
            category: category.to_owned(),
            amount_minor: number(amount, "amount")?,
            margin_minor,
        })
    }
}

/// `POST /v1/redemptions`: spend points for a discount, at once or as a hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 63,
            pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"
        )
    )]
    pub branch: String,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 16, max_length = 64, pattern = r"^[0-9۰-۹٠-٩ -]+$")
    )]
    pub card_number: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub points: i64,
    /// The partner's own reference, unique among its redemptions.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub reference: String,
    /// Only authorize: hold the points until captured or voided.
    #[serde(default)]
    pub hold: bool,
    /// How long the hold lasts (default 900 s; at most the programme's maximum, 7 days by default).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    #[serde(default)]
    pub hold_timeout_secs: Option<u64>,
}

/// `POST /v1/redemptions/{id}/capture`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// Points to capture; the whole hold when absent. The rest is released.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    #[serde(default)]
    pub points: Option<i64>,
}

/// `POST /v1/reversals`: reverse (part of) an earn or a redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// The earn or redemption id.
    pub transaction_id: uuid::Uuid,
    /// Points to reverse; everything not yet reversed when absent.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    #[serde(default)]
    pub points: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    #[serde(default)]
    pub reference: Option<String>,
}

/// `POST /v1/events`: something a member did that the programme may reward (a review, a
/// survey), reported by the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// The member's card number.
    #[cfg_attr(feature = "openapi", schema(min_length = 16, max_length = 64))]
    pub card: String,
    /// What happened: `review`, `survey`, … (the bonus rules name the types they reward).
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 63,
            pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"
        )
    )]
    #[serde(rename = "type")]
    pub event_type: String,
    /// The partner's own reference for it: each (type, reference) is rewarded once.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub reference: String,
    /// When it happened (now when absent; at most `late_window_days` ago).
    #[serde(default)]
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A bonus an event earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AwardedBonus {
    /// The bonus rule's code.
    pub bonus: String,
    pub points: i64,
}

/// What an event earned the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventAnswer {
    pub awarded: Vec<AwardedBonus>,
    pub balance: Balance,
}

/// A ledger transfer as the partner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transaction {
    pub id: uuid::Uuid,
    /// `earn`, `redeem`, `earn_reversal`, `redeem_reversal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `single`, `pending` (a hold or unreleased earn), `post` (captures/releases `pending_id`), `void`.
    pub phase: String,
    /// `posted`, `pending` or `voided`.
    pub state: String,
    pub points: i64,
    pub card_last4: Option<String>,
    pub branch_id: Option<uuid::Uuid>,
    pub reference: Option<String>,
    /// Purchase amount (earn) or discount (redemption).
    pub money: Option<Money>,
    pub pending_id: Option<uuid::Uuid>,
    pub reverses_id: Option<uuid::Uuid>,
    /// When a hold expires or a pending earn is released.
    pub timeout_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The answer to a ledger operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Movement {
    pub transaction: Transaction,
    /// The member's balance after it.
    pub balance: Balance,
}

/// `GET /v1/transactions`: one page of the partner's transactions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransactionPage {
    pub transactions: Vec<Transaction>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<uuid::Uuid>,
}
