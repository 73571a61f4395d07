//! Members and their cards: enrolment at the till, the card check, lost and
//! blocked cards, and the quote a cashier shows before posting anything.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cards::{CardNumber, CardStatus};
use super::ledger::postings::{Balance, branch_of};
use super::ledger::{LedgerError, ProgramSettings, Teller};
use super::member_data::{MemberDataKeys, PersonalData};
use super::partners::PartnerId;
use super::rules::{self, PointRule};
use crate::storage::card_cache::{self, CardView};
use crate::storage::members::{CardRow, MemberRow};
use crate::storage::{self, Storage, StorageError};

/// The outcome of an enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub member_id: Uuid,
    pub card: CardNumber,
}

/// Who is being enrolled, where.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Branch code (or id) of the enrolling partner.
    pub branch: String,
    pub personal: PersonalData,
    /// A fixed card number (the demo network's); a random one when `None`.
    pub card: Option<CardNumber>,
}

/// Enrols a member at the partner's branch and issues their first card.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, member.id))]
pub async fn enroll(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    keys: &MemberDataKeys,
    teller: &Teller,
    new: NewMember,
    now: DateTime<Utc>,
) -> Result<Enrollment, LedgerError> {
    let NewMember {
        branch,
        personal,
        card,
    } = new;
    let personal = &personal;
    let branch = branch_of(conn, teller.partner_id, &branch).await?;
    let id = Uuid::now_v7();
    let member = MemberRow {
        id,
        phone_lookup: keys.phone_lookup(&personal.phone).to_vec(),
        personal_data: keys.seal(id, personal)?,
        status: "active".into(),
        enrolled_by_partner: teller.partner_id.0,
        enrolled_at_branch: branch.id.0,
        enrolled_at: now,
    };
    if !storage::members::insert(conn, &member).await? {
        return Err(LedgerError::PhoneTaken);
    }
    storage::ledger::insert_member_account(conn, id).await?;
    let card = issue_card(conn, settings, id, card, now).await?;
    tracing::Span::current().record("member.id", tracing::field::display(id));
    tracing::info!(card.last4 = card.last4(), "enrolled member {id}");
    Ok(Enrollment {
        member_id: id,
        card,
    })
}

/// Issues a fresh random card number to a member.
async fn issue_card(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    member_id: Uuid,
    number: Option<CardNumber>,
    now: DateTime<Utc>,
) -> Result<CardNumber, StorageError> {
    let mut number = number.unwrap_or_else(|| super::cards::random(&settings.card_prefix));
    // A clash among 10^11 numbers is rare; draw again rather than fail.
    loop {
        let row = CardRow {
            number: number.as_str().to_owned(),
            member_id,
            status: CardStatus::Active.as_str().into(),
            replaced_by: None,
            issued_at: now,
            status_changed_at: now,
        };
        if storage::members::insert_card(conn, &row).await? {
            return Ok(number);
        }
        number = super::cards::random(&settings.card_prefix);
    }
}

/// What a cashier sees when checking a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCheck {
    pub card: CardNumber,
    pub member_id: Uuid,
    pub first_name: String,
    pub tier: &'static str,
    pub balance: Balance,
    /// The rule at the branch, to value the redeemable points (absent if none is set).
    pub rule: Option<PointRule>,
}

/// The member's tier for their lifetime earned points.
pub fn tier(settings: &ProgramSettings, lifetime_points: i64) -> &'static str {
    if lifetime_points >= settings.gold_points {
        "gold"
    } else if lifetime_points >= settings.silver_points {
        "silver"
    } else {
        "basic"
    }
}

/// Checks a card at a partner's branch, from the card cache when it is current.
#[tracing::instrument(skip_all, fields(partner.id = %partner_id))]
pub async fn check_card(
    storage: &Storage,
    settings: &ProgramSettings,
    keys: &MemberDataKeys,
    partner_id: PartnerId,
    branch: Option<&str>,
    card: &CardNumber,
    now: DateTime<Utc>,
) -> Result<CardCheck, LedgerError> {
    let rule = match branch {
        Some(branch) => rules::for_branch_cached(storage, partner_id, branch).await?,
        None => None,
    };
    let view = match card_cache::lookup(storage, card.as_str(), now).await {
        Some(view) => view,
        None => load_view(storage, keys, card, now).await?,
    };
    match CardStatus::parse(&view.card_status) {
        Some(CardStatus::Active) => {}
        Some(CardStatus::Blocked) => return Err(LedgerError::CardBlocked),
        Some(CardStatus::Lost) | None => return Err(LedgerError::CardLost),
    }
    if view.member_status != "active" {
        return Err(LedgerError::MemberClosed);
    }
    Ok(CardCheck {
        card: card.clone(),
        member_id: view.member_id,
        first_name: view.first_name,
        tier: tier(settings, view.lifetime_points),
        balance: Balance {
            posted: view.posted,
            available: view.available,
            held: view.held,
            pending_earned: view.pending_earned,
        },
        rule,
    })
}

/// Computes a card's view from PostgreSQL and caches it.
async fn load_view(
    storage: &Storage,
    keys: &MemberDataKeys,
    card: &CardNumber,
    now: DateTime<Utc>,
) -> Result<CardView, LedgerError> {
    let mut conn = storage.db().await?;
    let (_, member) = storage::members::find_card(&mut conn, card.as_str())
        .await?
        .ok_or(LedgerError::CardUnknown)?;
    // The version is read before the data it will vouch for (see `storage::card_cache`).
    let version = card_cache::version_before_load(storage, member.id).await;
    let (card_row, member) = storage::members::find_card(&mut conn, card.as_str())
        .await?
        .ok_or(LedgerError::CardUnknown)?;
    let account = storage::ledger::member_account(&mut conn, member.id).await?;
    // Lots past their expiry are gone even before maintenance moves them to breakage.
    let overdue = storage::ledger::overdue_points(&mut conn, account.id, now).await?;
    let balance = Balance::of(&account);
    let view = CardView {
        member_id: member.id,
        card_status: card_row.status,
        member_status: member.status.clone(),
        first_name: keys
            .open(member.id, &member.personal_data)?
            .first_name()
            .to_owned(),
        lifetime_points: account.lifetime_earned,
        posted: balance.posted - overdue,
        available: balance.available - overdue,
        held: balance.held,
        pending_earned: balance.pending_earned,
        valid_until: storage::ledger::next_lot_expiry(&mut conn, account.id)
            .await?
            .filter(|t| *t > now),
    };
    if let Some(version) = version {
        card_cache::store(storage, card.as_str(), version, view.clone()).await;
    }
    Ok(view)
}

/// Why an operator card command was refused.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("no card {0}")]
    NotFound(String),
    #[error("card {0} is {1}; only an active card can be {2}")]
    WrongStatus(String, String, &'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for CardError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(err.into())
    }
}

async fn card_in(
    conn: &mut AsyncPgConnection,
    number: &CardNumber,
    expected: CardStatus,
    action: &'static str,
) -> Result<CardRow, CardError> {
    let (card, _) = storage::members::find_card(conn, number.as_str())
        .await?
        .ok_or_else(|| CardError::NotFound(number.to_string()))?;
    if card.status != expected.as_str() {
        return Err(CardError::WrongStatus(
            number.to_string(),
            card.status,
            action,
        ));
    }
    Ok(card)
}

/// Blocks an active card (fraud, dispute); the member keeps their points.
pub async fn block_card(storage: &Storage, number: &CardNumber) -> Result<(), CardError> {
    let mut conn = storage.db().await?;
    let card = card_in(&mut conn, number, CardStatus::Active, "blocked").await?;
    storage::members::set_card_status(
        &mut conn,
        number.as_str(),
        CardStatus::Blocked.as_str(),
        None,
    )
    .await?;
    card_cache::bump(storage, card.member_id).await;
    Ok(())
}

/// Unblocks a blocked card.
pub async fn unblock_card(storage: &Storage, number: &CardNumber) -> Result<(), CardError> {
    let mut conn = storage.db().await?;
    let card = card_in(&mut conn, number, CardStatus::Blocked, "unblocked").await?;
    storage::members::set_card_status(
        &mut conn,
        number.as_str(),
        CardStatus::Active.as_str(),
        None,
    )
    .await?;
    card_cache::bump(storage, card.member_id).await;
    Ok(())
}

/// Marks a card lost and issues its replacement, which keeps the member's points and history.
pub async fn replace_lost_card(
    storage: &Storage,
    settings: &ProgramSettings,
    number: &CardNumber,
    now: DateTime<Utc>,
) -> Result<CardNumber, CardError> {
    use diesel_async::AsyncConnection as _;
    let mut conn = storage.db().await?;
    let (replacement, member_id) = conn
        .transaction::<_, CardError, _>(async |conn| {
            let card = card_in(conn, number, CardStatus::Active, "reported lost").await;
            let card = match card {
                Ok(card) => card,
                Err(CardError::WrongStatus(..)) => {
                    card_in(conn, number, CardStatus::Blocked, "reported lost").await?
                }
                Err(e) => return Err(e),
            };
            // The old card stops being active first: a member has one active card at a time.
            storage::members::set_card_status(
                conn,
                number.as_str(),
                CardStatus::Lost.as_str(),
                None,
            )
            .await?;
            let replacement = issue_card(conn, settings, card.member_id, None, now).await?;
            storage::members::set_card_status(
                conn,
                number.as_str(),
                CardStatus::Lost.as_str(),
                Some(replacement.as_str()),
            )
            .await?;
            tracing::info!(
                card.last4 = number.last4(),
                "card reported lost and replaced"
            );
            Ok((replacement, card.member_id))
        })
        .await?;
    card_cache::bump(storage, member_id).await;
    Ok(replacement)
}
