//! What a member does for themselves (the member portal): sign in with a one-time code sent to
//! their phone, see their card, balance, tier and history, say whether they want messages, and
//! take a copy of everything the club holds about them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::cards::{CardStatus, MemberStatus};
use domain::ids::{MemberId, TransferId};
use domain::ledger::{Transfer, TransferState};
use domain::member_data::{PersonalData, Phone, TextMessage};
use domain::members::{CardCheck, SignInCodeError};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use storage::StorageError;

use crate::Club;
use crate::error::OperationError;

type CodeResult<T> = Result<T, OperationError<SignInCodeError>>;

/// How sign-in codes are given out.
#[derive(Debug, Clone, Copy)]
pub struct CodeLimits {
    /// How long a code may be used.
    pub lifetime: Duration,
    /// Codes one phone may ask for within the window.
    pub per_phone: u64,
    /// Codes one address may ask for within the window (one machine trying many phones).
    pub per_address: u64,
    /// Wrong codes one phone may try within the window; then its code is withdrawn.
    pub wrong_per_phone: u64,
    /// How long requests and wrong codes are counted.
    pub window: Duration,
}

impl Default for CodeLimits {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(5 * 60),
            per_phone: 5,
            per_address: 30,
            wrong_per_phone: 5,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// A code waiting in Redis: only its hash, and whose it is.
#[derive(Serialize, Deserialize)]
struct WaitingCode {
    hash: String,
    member_id: MemberId,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A code's hash, salted with the phone's keyed lookup.
fn code_hash(lookup: &str, code: &str) -> String {
    hex(&Sha256::digest(format!("{lookup}:{code}").as_bytes()))
}

/// The key a phone's sign-in code is kept under (the hex of its keyed lookup): a session keeps
/// it while the member types the code, never the phone itself.
pub fn phone_key(club: &Club, phone: &str) -> CodeResult<String> {
    let phone =
        Phone::parse(phone).map_err(|_| OperationError::Refused(SignInCodeError::PhoneInvalid))?;
    Ok(hex(&club.member_data_keys.phone_lookup(&phone)))
}

fn throttled(limits: CodeLimits) -> OperationError<SignInCodeError> {
    OperationError::Refused(SignInCodeError::Throttled {
        minutes: limits.window.as_secs().div_ceil(60),
    })
}

/// Sends a sign-in code to `phone`, if it is an active member's. The answer is the same either
/// way, so nobody learns from it who is a member; only the throttle refuses.
pub async fn request_code(
    club: &Club,
    limits: CodeLimits,
    phone: &str,
    from: &str,
    now: DateTime<Utc>,
) -> CodeResult<()> {
    let parsed =
        Phone::parse(phone).map_err(|_| OperationError::Refused(SignInCodeError::PhoneInvalid))?;
    let lookup = phone_key(club, phone)?;
    let storage = &club.storage;
    let requests =
        storage::sessions::count_failure(storage, &format!("code-request:{lookup}"), limits.window)
            .await?;
    let from_address =
        storage::sessions::count_failure(storage, &format!("code-address:{from}"), limits.window)
            .await?;
    if requests > limits.per_phone || from_address > limits.per_address {
        return Err(throttled(limits));
    }
    let member = {
        let conn = storage.db().await?;
        let bytes = club.member_data_keys.phone_lookup(&parsed);
        storage::members::find_by_phone_lookup(&conn, &bytes).await?
    };
    let Some(member) = member.filter(|m| m.status == MemberStatus::Active) else {
        tracing::info!("a sign-in code was asked for a phone that is no active member's");
        return Ok(());
    };
    let code = random_code();
    let waiting = WaitingCode {
        hash: code_hash(&lookup, &code),
        member_id: member.id,
    };
    let document = serde_json::to_string(&waiting)
        .map_err(|e| StorageError::Corrupt(format!("a sign-in code cannot be kept: {e}")))?;
    let text = format!("کد ورود به باشگاه: {code}\nYour club sign-in code: {code}");
    let message = TextMessage { to: parsed, text };
    let not_after = now + chrono::Duration::from_std(limits.lifetime).unwrap_or_default();
    // The message first: a code kept without its message would only be a code nobody has.
    let mut conn = storage.db().await?;
    conn.transaction::<_, StorageError, _>(async |conn| {
        crate::messages::enqueue(
            club,
            conn,
            (member.id, "sign_in_code"),
            &message,
            (now, not_after),
        )
        .await
    })
    .await?;
    storage::sessions::save_sign_in_code(storage, &lookup, &document, limits.lifetime).await?;
    tracing::info!(member.id = %member.id, "a sign-in code was sent");
    Ok(())
}

/// Six random digits.
fn random_code() -> String {
    use rand::Rng as _;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000))
}

/// Signs in with the code sent to the phone whose key ([`phone_key`]) is `lookup`: the member,
/// once. Every try counts against the phone; after too many the code is withdrawn.
pub async fn verify_code(
    club: &Club,
    limits: CodeLimits,
    lookup: &str,
    code: &str,
) -> CodeResult<MemberId> {
    let lookup = lookup.to_owned();
    let storage = &club.storage;
    let invalid = || OperationError::Refused(SignInCodeError::CodeInvalid);
    // Every try counts before the code is compared, so tries sent at once cannot all pass the
    // limit; a right code clears the count.
    let tries_subject = format!("code-tries:{lookup}");
    let tries = storage::sessions::count_failure(storage, &tries_subject, limits.window).await?;
    if tries > limits.wrong_per_phone {
        storage::sessions::take_sign_in_code(storage, &lookup).await?;
        return Err(throttled(limits));
    }
    let Some(document) = storage::sessions::sign_in_code(storage, &lookup).await? else {
        return Err(invalid());
    };
    let waiting: WaitingCode = serde_json::from_str(&document).map_err(|_| invalid())?;
    let typed: String = code.chars().filter(char::is_ascii_digit).collect();
    let matches: bool = subtle::ConstantTimeEq::ct_eq(
        code_hash(&lookup, &typed).as_bytes(),
        waiting.hash.as_bytes(),
    )
    .into();
    if !matches {
        if tries >= limits.wrong_per_phone {
            storage::sessions::take_sign_in_code(storage, &lookup).await?;
        }
        return Err(invalid());
    }
    // Used once: of two sign-ins with the same code at the same moment, one takes it.
    if !storage::sessions::take_sign_in_code(storage, &lookup).await? {
        return Err(invalid());
    }
    storage::sessions::clear_failures(storage, &tries_subject).await?;
    Ok(waiting.member_id)
}

/// A member as they see themselves.
#[derive(Debug, Clone)]
pub struct Overview {
    /// What they told the club.
    pub personal: PersonalData,
    /// Their card's check: first name, tier and progress, balance.
    pub check: CardCheck,
    /// The code they give friends.
    pub invite_code: String,
    /// When they agreed to messages; `None` while they have not.
    pub messages_consent_at: Option<DateTime<Utc>>,
}

/// The member's own view: `None` when they are closed or have no usable card.
pub async fn overview(
    club: &Club,
    member_id: MemberId,
    now: DateTime<Utc>,
) -> Result<Option<Overview>, StorageError> {
    let conn = club.storage.db().await?;
    let Some(member) = storage::members::find(&conn, member_id).await? else {
        return Ok(None);
    };
    if member.status != MemberStatus::Active {
        return Ok(None);
    }
    let cards = storage::members::cards_of(&conn, member_id).await?;
    drop(conn);
    let Some(card) = cards.into_iter().find(|c| c.status == CardStatus::Active) else {
        return Ok(None);
    };
    let personal = club
        .member_data_keys
        .open(member_id, &member.sealed_personal_data)
        .map_err(|e| StorageError::Corrupt(format!("member {member_id}'s data: {e}")))?;
    let check =
        match crate::members::check_card(club, member.enrolled_by_partner, None, &card.number, now)
            .await
        {
            Ok(check) => check,
            Err(OperationError::Storage(err)) => return Err(err),
            Err(OperationError::Refused(_)) => return Ok(None),
        };
    Ok(Some(Overview {
        personal,
        check,
        invite_code: member.invite_code.as_str().to_owned(),
        messages_consent_at: member.messages_consent_at,
    }))
}

/// The member's transactions, newest first: at most `limit`, older than `before` when given.
pub async fn history(
    club: &Club,
    member_id: MemberId,
    before: Option<TransferId>,
    limit: i64,
) -> Result<Vec<(Transfer, TransferState)>, StorageError> {
    let mut conn = club.storage.db().await?;
    let found = storage::ledger::list_for_member(&mut conn, member_id, before, limit).await?;
    let pending: Vec<TransferId> = found
        .iter()
        .filter(|t| t.phase == domain::ledger::Phase::Pending)
        .map(|t| t.id)
        .collect();
    let resolutions = storage::ledger::resolutions_of(&mut conn, &pending).await?;
    let now = domain::time::now();
    Ok(found
        .into_iter()
        // A hold's or pending earn's resolution is shown through its original's state.
        .filter(|t| t.pending_id.is_none())
        .map(|transfer| {
            let resolution = resolutions
                .iter()
                .find(|r| r.pending_id == Some(transfer.id));
            let state = TransferState::of(&transfer, resolution, now);
            (transfer, state)
        })
        .collect())
}

/// Records that the member agrees to messages (`true`) or withdraws their consent.
pub async fn set_messages_consent(
    club: &Club,
    member_id: MemberId,
    consents: bool,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut conn = club.storage.db().await?;
    storage::members::set_messages_consent(&mut conn, member_id, consents.then_some(now)).await
}

/// Everything the club holds about the member, opened, as one JSON document (their copy).
pub async fn my_data(club: &Club, member_id: MemberId) -> Result<serde_json::Value, StorageError> {
    let conn = club.storage.db().await?;
    let member = storage::members::find(&conn, member_id)
        .await?
        .ok_or_else(|| StorageError::Corrupt(format!("member {member_id} vanished")))?;
    let cards = storage::members::cards_of(&conn, member_id).await?;
    drop(conn);
    let personal = club
        .member_data_keys
        .open(member_id, &member.sealed_personal_data)
        .map_err(|e| StorageError::Corrupt(format!("member {member_id}'s data: {e}")))?;
    let transactions = history(club, member_id, None, i64::MAX).await?;
    let messages = storage::outbox::of_member(&mut *club.storage.db().await?, member_id).await?;
    let has_photo = crate::members::has_photo(club, member_id).await?;
    Ok(serde_json::json!({
        "member_id": member_id,
        "personal_data": {
            "name": personal.name,
            "phone": personal.phone.as_str(),
            "email": personal.email,
            "birth_date": personal.birth_date,
            "city": personal.city,
        },
        "status": member.status.as_str(),
        "enrolled_at": member.enrolled_at,
        "invite_code": member.invite_code.as_str(),
        "referred_by": member.referred_by,
        "messages_consent_at": member.messages_consent_at,
        "photo_on_file": has_photo,
        "cards": cards.iter().map(|c| serde_json::json!({
            "number": c.number.as_str(),
            "status": c.status.as_str(),
            "issued_at": c.issued_at,
        })).collect::<Vec<_>>(),
        "transactions": transactions.iter().map(|(t, state)| serde_json::json!({
            "id": t.id,
            "type": t.code.as_str(),
            "points": t.amount.get(),
            "state": state.as_str(),
            "amount_minor": t.money_minor,
            "currency": t.currency.map(|c| c.as_str().to_owned()),
            "partner_id": t.partner_id,
            "branch_id": t.branch_id,
            "at": t.created_at,
        })).collect::<Vec<_>>(),
        "messages": messages.iter().map(|m| serde_json::json!({
            "purpose": m.purpose,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
        })).collect::<Vec<_>>(),
    }))
}

/// What a member changes of their profile (their phone stays: it is how they sign in).
#[derive(Debug, Clone)]
pub struct ProfileEdit {
    /// Their full name.
    pub name: String,
    /// Their email, if any.
    pub email: Option<String>,
    /// Their birth date, if given.
    pub birth_date: Option<chrono::NaiveDate>,
    /// Their city, if given.
    pub city: Option<String>,
}

/// Keeps the member's changed profile (sealed); a profile this completes earns the
/// completed-profile bonus, once per member whenever it happens. Returns the bonus points.
pub async fn update_profile(
    club: &Club,
    member_id: MemberId,
    edit: ProfileEdit,
    now: DateTime<Utc>,
) -> Result<i64, OperationError<domain::members::EnrolmentError>> {
    use domain::members::EnrolmentError;
    use domain::program::rules::Occasion;
    let programme = crate::program::Programme::of(club).await?;
    let keys = &club.member_data_keys;
    let mut conn = club.storage.db().await?;
    let (bonus_points, moved) = conn
        .transaction::<_, OperationError<EnrolmentError>, _>(async |conn| {
            let member = storage::members::find(conn, member_id)
                .await?
                .ok_or_else(|| StorageError::Corrupt(format!("member {member_id} vanished")))?;
            let old = keys
                .open(member_id, &member.sealed_personal_data)
                .map_err(|e| StorageError::Corrupt(format!("member {member_id}'s data: {e}")))?;
            let personal = PersonalData::parse(
                &edit.name,
                old.phone.as_str(),
                edit.email.as_deref(),
                edit.birth_date,
                edit.city.as_deref(),
                now.date_naive(),
            )
            .map_err(EnrolmentError::from)?;
            let sealed = keys
                .seal(member_id, &personal)
                .map_err(|e| StorageError::Corrupt(format!("member data cannot be sealed: {e}")))?;
            let birthday = personal
                .birth_date
                .map(domain::program::bonuses::birthday_of);
            let city = personal.city.as_deref().map(|c| keys.city_lookup(c));
            storage::members::update_personal(
                conn,
                member_id,
                &sealed,
                birthday.as_deref(),
                city.as_ref(),
            )
            .await?;
            let (rules, places) = (&programme.rules[..], &*programme.places);
            let complete: Vec<_> =
                domain::program::bonuses::in_force(rules, now, Occasion::ProfileCompleted)
                    .into_iter()
                    .filter(|bonus| {
                        domain::program::bonuses::profile_complete(bonus.rule, &personal)
                    })
                    .collect();
            let ops = crate::bonuses::priced(places, &complete, member_id, "profile_completed")?;
            let ops: Vec<&domain::ledger::books::LedgerOp> = ops.iter().collect();
            let mut points = 0;
            let mut moved = Vec::new();
            if !ops.is_empty() {
                let (results, changed) =
                    crate::ledger::at::apply_batch(conn, &club.program, rules, &ops, now)
                        .await
                        .map_err(|e| e.refusal_unexpected("a completed-profile bonus"))?;
                for (op, result) in ops.iter().zip(results) {
                    match result {
                        Ok(_) => {
                            if let domain::ledger::books::LedgerOp::Bonus(bonus) = op {
                                points += bonus.shares.iter().map(|(_, p)| p.get()).sum::<i64>();
                            }
                        }
                        // Awarded before (at enrolment, or an earlier edit): once per member.
                        Err(OperationError::Refused(
                            domain::ledger::LedgerError::BonusAlreadyAwarded { .. },
                        )) => {}
                        Err(other) => {
                            return Err(other
                                .refusal_unexpected("a completed-profile bonus")
                                .into());
                        }
                    }
                }
                moved = changed;
            }
            Ok((points, moved))
        })
        .await?;
    storage::card_cache::bump_many(&club.storage, &moved).await;
    tracing::info!(member.id = %member_id, bonus_points, "member changed their profile");
    Ok(bonus_points)
}

/// Records that the member asks to close their account; when they first asked.
pub async fn request_close(
    club: &Club,
    member_id: MemberId,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    let mut conn = club.storage.db().await?;
    let at = storage::members::request_close(&mut conn, member_id, now).await?;
    tracing::info!(member.id = %member_id, "member asked to close their account");
    Ok(at)
}

/// When the member asked to close their account, if they did.
pub async fn close_requested(
    club: &Club,
    member_id: MemberId,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    storage::members::close_requested(&mut *club.storage.db().await?, member_id).await
}
