//! Members and their cards: enrolment at the till, the card check, lost and
//! blocked cards.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection as _;
use domain::cards::{self, Card, CardError, CardNumber, CardStatus, MemberStatus};
use domain::ids::{MemberId, PartnerId};
use domain::ledger::LedgerError;
use domain::ledger::books::LedgerOp;
use domain::member_data::{MemberDataKeys, PhotoError};
use domain::members::{CardCheck, Enrollment, EnrolmentError, InviteCode, Member, NewMember};
use domain::program::ProgramSettings;
use domain::program::rules::Occasion;
use domain::program::tiers;
use storage::card_cache::{self, CardView};
use storage::members::Inserted;
use storage::{Connection, Storage, StorageError};

use crate::Club;
use crate::bonuses;
use crate::error::OperationError;
use crate::idempotency::{self, Answer, Answered, IdempotencyError, Scope};
use crate::ledger::at;
use crate::pricing;
use crate::program::Programme;
use crate::staff::Actor;

/// Enrols a member at the partner's branch and issues their first card.
pub async fn enroll(
    club: &Club,
    scope: &Scope,
    new: NewMember,
) -> Result<Answered<Enrollment, EnrolmentError>, IdempotencyError> {
    let (settings, keys, partner_id) = (
        club.program.clone(),
        club.member_data_keys.clone(),
        scope.partner_id,
    );
    let programme = Programme::of(club).await?;
    let answered = idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move {
            let now = domain::time::now();
            enroll_in(conn, &settings, &programme, &keys, partner_id, new, now).await
        })
    })
    .await?;
    if let Answer::Done(enrollment) = &answered.answer {
        card_cache::bump_many(&club.storage, &enrollment.moved).await;
    }
    Ok(answered)
}

/// Enrols a member at a time of the caller's choosing, in a transaction of its own and without
/// an idempotency key (the demo network's backdated members).
pub async fn enroll_at(
    club: &Club,
    partner_id: PartnerId,
    new: NewMember,
    at: DateTime<Utc>,
) -> Result<Enrollment, OperationError<EnrolmentError>> {
    let at = domain::time::stored(at);
    let programme = Programme::of(club).await?;
    let mut conn = club.storage.db().await?;
    let enrollment = conn
        .transaction::<_, OperationError<EnrolmentError>, _>(async |conn| {
            enroll_in(
                conn,
                &club.program,
                &programme,
                &club.member_data_keys,
                partner_id,
                new,
                at,
            )
            .await
        })
        .await?;
    card_cache::bump_many(&club.storage, &enrollment.moved).await;
    Ok(enrollment)
}

#[tracing::instrument(skip_all, fields(partner.id = %partner_id, member.id))]
async fn enroll_in(
    conn: &mut Connection,
    settings: &ProgramSettings,
    programme: &Programme,
    keys: &MemberDataKeys,
    partner_id: PartnerId,
    new: NewMember,
    now: DateTime<Utc>,
) -> Result<Enrollment, OperationError<EnrolmentError>> {
    let branch = pricing::branch_of::<EnrolmentError>(conn, partner_id, &new.branch).await?;
    let id = MemberId(uuid::Uuid::now_v7());
    let phone_lookup = keys.phone_lookup(&new.personal.phone);
    let referrer = match &new.invite_code {
        Some(code) => Some(referrer(conn, code, &phone_lookup).await?),
        None => None,
    };
    let sealed = keys
        .seal(id, &new.personal)
        .map_err(|e| StorageError::Corrupt(format!("member data cannot be sealed: {e}")))?;
    let mut member = Member {
        id,
        phone_lookup,
        sealed_personal_data: sealed,
        status: MemberStatus::Active,
        enrolled_by_partner: partner_id,
        enrolled_at_branch: branch.id,
        enrolled_at: now,
        invite_code: InviteCode::random(),
        referred_by: referrer,
        birthday: new
            .personal
            .birth_date
            .map(domain::program::bonuses::birthday_of),
        city_lookup: new.personal.city.as_deref().map(|c| keys.city_lookup(c)),
        messages_consent_at: new.consents_to_messages.then_some(now),
    };
    // A clash among 10^12 invite codes is rare; draw again rather than fail.
    loop {
        match storage::members::insert(conn, &member).await? {
            Inserted::Member => break,
            Inserted::PhoneTaken => return Err(EnrolmentError::PhoneTaken.into()),
            Inserted::InviteCodeTaken => member.invite_code = InviteCode::random(),
        }
    }
    storage::ledger::insert_member_account(conn, id).await?;
    let card = issue_card(conn, settings, id, new.card, now).await?;
    tracing::Span::current().record("member.id", tracing::field::display(id));
    // The sign-up bonuses, and the referrer's, in the enrolment's own transaction: they are
    // awarded exactly when the member is enrolled.
    let (rules, places) = (&programme.rules[..], &*programme.places);
    let mut ops = bonuses::for_occasion(places, rules, Occasion::SignUp, id, "sign_up", now)?;
    let complete: Vec<_> =
        domain::program::bonuses::in_force(rules, now, Occasion::ProfileCompleted)
            .into_iter()
            .filter(|bonus| domain::program::bonuses::profile_complete(bonus.rule, &new.personal))
            .collect();
    ops.extend(bonuses::priced(places, &complete, id, "profile_completed")?);
    if let Some(referrer) = referrer {
        let key = format!("referral:{id}");
        let occasion = Occasion::ReferralEnrolled;
        ops.extend(bonuses::for_occasion(
            places, rules, occasion, referrer, &key, now,
        )?);
    }
    let mut bonus_points = 0;
    let mut moved = Vec::new();
    if !ops.is_empty() {
        let ops: Vec<&LedgerOp> = ops.iter().collect();
        // Nothing can refuse these: a new member, a new referral, an open referrer.
        let (results, changed) = at::apply_batch(conn, settings, rules, &ops, now)
            .await
            .map_err(|e| e.refusal_unexpected("a bonus"))?;
        for (op, result) in ops.iter().zip(results) {
            result.map_err(|e| e.refusal_unexpected("a bonus"))?;
            // All funders' parts: the movement's transfer is the first part only.
            if let LedgerOp::Bonus(bonus) = op
                && bonus.member_id == id
            {
                bonus_points += bonus.shares.iter().map(|(_, p)| p.get()).sum::<i64>();
            }
        }
        moved = changed;
    }
    tracing::info!(
        card.last4 = card.last4(),
        bonus_points,
        referred = referrer.is_some(),
        "enrolled member {id}"
    );
    Ok(Enrollment {
        member_id: id,
        card,
        invite_code: member.invite_code.as_str().to_owned(),
        bonus_points,
        moved,
    })
}

/// The open member whose invite code a new member with `phone_lookup` gives: never themselves,
/// and only for a phone never enrolled (one phone, one member, one referral).
async fn referrer(
    conn: &mut Connection,
    code: &str,
    phone_lookup: &[u8; 32],
) -> Result<MemberId, OperationError<EnrolmentError>> {
    let code = InviteCode::parse(code)?;
    let referrer = storage::members::find_by_invite_code(conn, &code)
        .await?
        .filter(|m| m.status == MemberStatus::Active)
        .ok_or(EnrolmentError::InviteCodeUnknown)?;
    if referrer.phone_lookup == *phone_lookup {
        return Err(EnrolmentError::ReferralSelf.into());
    }
    if storage::members::phone_enrolled(conn, phone_lookup).await? {
        return Err(EnrolmentError::ReferralPhoneReused.into());
    }
    Ok(referrer.id)
}

/// Issues a card to a member: `number`, or a fresh random one.
async fn issue_card(
    conn: &mut Connection,
    settings: &ProgramSettings,
    member_id: MemberId,
    number: Option<CardNumber>,
    now: DateTime<Utc>,
) -> Result<CardNumber, StorageError> {
    let mut number = number.unwrap_or_else(|| cards::random(&settings.card_prefix));
    // A clash among 10^11 numbers is rare; draw again rather than fail.
    loop {
        let card = Card {
            number: number.clone(),
            member_id,
            status: CardStatus::Active,
            replaced_by: None,
            issued_at: now,
            status_changed_at: now,
        };
        if storage::members::insert_card(conn, &card).await? {
            return Ok(number);
        }
        number = cards::random(&settings.card_prefix);
    }
}

/// Checks a card at a partner's branch (when one is named, the redeemable points are valued at
/// its rule) as of `now`, from the card cache when it is current.
#[tracing::instrument(skip_all, fields(partner.id = %partner_id))]
pub async fn check_card(
    club: &Club,
    partner_id: PartnerId,
    branch: Option<&str>,
    card: &CardNumber,
    now: DateTime<Utc>,
) -> Result<CardCheck, OperationError<LedgerError>> {
    let found = match branch {
        Some(branch) => Some(
            pricing::branch_rule_cached(&club.storage, partner_id, branch)
                .await
                .map_err(|e| e.map_refusal(LedgerError::from))?,
        ),
        None => None,
    };
    let rules = club.storage.program_rules().await?;
    let tiers = tiers::in_force(&rules, now);
    let zone = club.program.time_zone;
    let view = match card_cache::lookup(&club.storage, card.as_str(), now).await {
        Some(view) => view,
        None => {
            let since = tiers::activity_needed_since(&tiers, &rules, now, zone);
            load_view(&club.storage, &club.member_data_keys, card, since, now).await?
        }
    };
    cards::usable(view.card_status, view.member_status)?;
    let tier = tiers::standing_on_days(&tiers, view.activity.iter().copied(), now, zone);
    // What a purchase here today would add: only with the branch, where campaigns are placed.
    let campaigns = match &found {
        Some(found) => {
            let held = tier.as_ref().map(|s| s.tier.as_str());
            pricing::campaigns_for(club, partner_id, found.branch_id, view.member_id, held, now)
                .await?
                .into_iter()
                .map(|(offer, _)| offer)
                .collect()
        }
        None => Vec::new(),
    };
    let repeat_visits = domain::program::bonuses::repeat_visit_progress(
        &domain::program::bonuses::in_force(&rules, now, Occasion::RepeatVisit),
        &view.activity,
        tiers::local_day(now, zone),
    );
    Ok(CardCheck {
        card: card.clone(),
        member_id: view.member_id,
        first_name: view.first_name,
        tier,
        balance: view.balance,
        redeemable_value: found
            .and_then(|found| found.rule)
            .and_then(|rule| rule.value_of(view.balance.available)),
        campaigns,
        repeat_visits,
    })
}

/// Computes a card's view from PostgreSQL and caches it. Holds past their timeout are voided
/// first, so the view never counts them.
///
/// Three round trips: who holds the card, then (pipelined) its holds, card, account and next
/// hold timeout, then (pipelined) the account's overdue points, next lot expiry and the member's
/// activity since `activity_since` (when tiers are in force).
async fn load_view(
    storage: &Storage,
    keys: &MemberDataKeys,
    card: &CardNumber,
    activity_since: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<CardView, OperationError<LedgerError>> {
    let mut conn = storage.db().await?;
    let (_, member) = storage::members::find_card(&conn, card)
        .await?
        .ok_or(CardError::Unknown)?;
    let member_id = member.id;
    let mut voided = false;
    let (version, card_now, member, account, next_hold_timeout) = loop {
        // The version is read before the data it will vouch for (see `storage::card_cache`).
        let version = card_cache::version_before_load(storage, member_id).await;
        let reads: &Connection = &conn;
        let (expired, found, account, next_hold_timeout) = futures_util::try_join!(
            storage::ledger::expired_holds(reads, member_id, now),
            storage::members::find_card(reads, card),
            storage::ledger::member_account(reads, member_id),
            storage::ledger::next_hold_timeout(reads, member_id),
        )?;
        // Voiding closes every hold expired by `now`, so a second pass finds none.
        if expired.is_empty() || voided {
            let (card_now, member) = found.ok_or(CardError::Unknown)?;
            break (version, card_now, member, account, next_hold_timeout);
        }
        conn.transaction::<_, OperationError<LedgerError>, _>(async |conn| {
            storage::ledger::lock_member_account(conn, member_id).await?;
            crate::ledger::release_expired_holds(conn, member_id, now).await
        })
        .await?;
        card_cache::bump(storage, member_id).await;
        voided = true;
    };
    let reads: &Connection = &conn;
    let (overdue, next_lot_expiry, activity) = futures_util::try_join!(
        // Lots past their expiry are gone even before maintenance moves them to breakage.
        storage::ledger::overdue_points(reads, account.id, now),
        storage::ledger::next_lot_expiry(reads, account.id),
        async {
            match activity_since {
                Some(since) => storage::activity::days(reads, &[member_id], since).await,
                None => Ok(Vec::new()),
            }
        },
    )?;
    let mut balance = account.balance();
    balance.posted -= overdue;
    balance.available -= overdue;
    let first_name = keys
        .open(member.id, &member.sealed_personal_data)
        .map_err(|e| StorageError::Corrupt(format!("member {}: {e}", member.id)))?
        .first_name()
        .to_owned();
    let view = CardView {
        member_id: member.id,
        card_status: card_now.status,
        member_status: member.status,
        first_name,
        activity: activity
            .into_iter()
            .map(|(_, day, tally)| (day, tally))
            .collect(),
        balance,
        valid_until: [next_lot_expiry, next_hold_timeout]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min(),
    };
    if let Some(version) = version {
        card_cache::store(storage, card.as_str(), version, view.clone()).await;
    }
    Ok(view)
}

/// The card `number` if it is in `expected` status.
async fn card_in(
    conn: &mut Connection,
    number: &CardNumber,
    expected: CardStatus,
    action: &str,
) -> Result<Card, OperationError<CardError>> {
    let (card, _) = storage::members::find_card(conn, number)
        .await?
        .ok_or(CardError::Unknown)?;
    if card.status != expected {
        return Err(CardError::WrongStatus {
            card: number.last4().to_owned(),
            status: card.status,
            expected,
            action: action.to_owned(),
        }
        .into());
    }
    Ok(card)
}

/// Moves a card from one status to another; the member keeps their points. With `actor` (a
/// member of staff at a page), the change is in the audit log, in the same transaction.
async fn set_status(
    storage: &Storage,
    number: &CardNumber,
    (from, to): (CardStatus, CardStatus),
    action: &str,
    actor: Option<Actor<'_>>,
) -> Result<(), OperationError<CardError>> {
    let now = domain::time::now();
    let mut conn = storage.db().await?;
    let card = conn
        .transaction::<_, OperationError<CardError>, _>(async |conn| {
            let card = card_in(conn, number, from, action).await?;
            storage::members::set_card_status(conn, number, to, None, now).await?;
            if let Some(actor) = actor {
                let detail =
                    serde_json::json!({ "card_last4": number.last4(), "status": to.as_str() });
                let subject = card.member_id.to_string();
                actor
                    .record(
                        conn,
                        (&format!("card.{}", to.as_str()), &subject),
                        detail,
                        now,
                    )
                    .await?;
            }
            Ok(card)
        })
        .await?;
    card_cache::bump(storage, card.member_id).await;
    Ok(())
}

/// Blocks an active card (fraud, dispute); the member keeps their points.
pub async fn block_card(
    storage: &Storage,
    number: &CardNumber,
    actor: Option<Actor<'_>>,
) -> Result<(), OperationError<CardError>> {
    let statuses = (CardStatus::Active, CardStatus::Blocked);
    set_status(storage, number, statuses, "blocked", actor).await
}

/// Unblocks a blocked card.
pub async fn unblock_card(
    storage: &Storage,
    number: &CardNumber,
    actor: Option<Actor<'_>>,
) -> Result<(), OperationError<CardError>> {
    let statuses = (CardStatus::Blocked, CardStatus::Active);
    set_status(storage, number, statuses, "unblocked", actor).await
}

/// Marks a card lost and issues its replacement, which keeps the member's points and history.
pub async fn replace_lost_card(
    storage: &Storage,
    settings: &ProgramSettings,
    number: &CardNumber,
    actor: Option<Actor<'_>>,
) -> Result<CardNumber, OperationError<CardError>> {
    let now = domain::time::now();
    let mut conn = storage.db().await?;
    let (replacement, member_id) = conn
        .transaction::<_, OperationError<CardError>, _>(async |conn| {
            let card = match card_in(conn, number, CardStatus::Active, "reported lost").await {
                Ok(card) => card,
                Err(OperationError::Refused(CardError::WrongStatus { .. })) => {
                    card_in(conn, number, CardStatus::Blocked, "reported lost").await?
                }
                Err(e) => return Err(e),
            };
            // The old card stops being active first: a member has one active card at a time.
            storage::members::set_card_status(conn, number, CardStatus::Lost, None, now).await?;
            let replacement = issue_card(conn, settings, card.member_id, None, now).await?;
            storage::members::set_card_status(
                conn,
                number,
                CardStatus::Lost,
                Some(&replacement),
                now,
            )
            .await?;
            if let Some(actor) = actor {
                let detail = serde_json::json!({
                    "card_last4": number.last4(),
                    "replacement_last4": replacement.last4(),
                });
                let subject = card.member_id.to_string();
                actor
                    .record(conn, ("card.replaced", &subject), detail, now)
                    .await?;
            }
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

/// Keeps `photo` as the member's photo (sealed), in place of any before.
pub async fn set_photo(
    club: &Club,
    member_id: MemberId,
    photo: &[u8],
    now: DateTime<Utc>,
) -> Result<(), OperationError<PhotoError>> {
    let kind = domain::member_data::check_photo(photo).map_err(OperationError::Refused)?;
    let sealed = club
        .member_data_keys
        .seal_photo(member_id, photo)
        .map_err(|e| StorageError::Corrupt(format!("a photo cannot be sealed: {e}")))?;
    let mut conn = club.storage.db().await?;
    storage::members::set_photo(&mut conn, member_id, kind.media_type(), &sealed, now).await?;
    Ok(())
}

/// The member's photo, opened: its media type and bytes.
pub async fn photo(
    club: &Club,
    member_id: MemberId,
) -> Result<Option<(String, Vec<u8>)>, StorageError> {
    let mut conn = club.storage.db().await?;
    let Some((media_type, sealed)) = storage::members::photo(&mut conn, member_id).await? else {
        return Ok(None);
    };
    let photo = club
        .member_data_keys
        .open_photo(member_id, &sealed)
        .map_err(|e| StorageError::Corrupt(format!("member {member_id}'s photo: {e}")))?;
    Ok(Some((media_type, photo)))
}

/// Whether the member has a photo (without opening it).
pub async fn has_photo(club: &Club, member_id: MemberId) -> Result<bool, StorageError> {
    storage::members::has_photo(&mut *club.storage.db().await?, member_id).await
}

/// A member as the operator's support staff see them.
#[derive(Debug, Clone)]
pub struct SupportView {
    /// The member.
    pub member_id: MemberId,
    /// Their first name.
    pub first_name: String,
    /// Whether they are active.
    pub status: MemberStatus,
    /// When they enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// Their cards, newest first.
    pub cards: Vec<Card>,
    /// Their points (from their active card's check), if they have an active card.
    pub balance: Option<domain::ledger::Balance>,
}

/// Finds a member by a card number or a phone number (through the phone's keyed lookup: phones
/// are stored sealed).
pub async fn find_for_support(
    club: &Club,
    query: &str,
    now: DateTime<Utc>,
) -> Result<Option<SupportView>, StorageError> {
    let conn = club.storage.db().await?;
    let digits: String = query
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let member = if let Ok(card) = CardNumber::parse(&digits) {
        storage::members::find_card(&conn, &card)
            .await?
            .map(|(_, m)| m)
    } else if let Ok(phone) = domain::member_data::Phone::parse(query) {
        let lookup = club.member_data_keys.phone_lookup(&phone);
        storage::members::find_by_phone_lookup(&conn, &lookup).await?
    } else {
        None
    };
    let Some(member) = member else {
        return Ok(None);
    };
    let cards = storage::members::cards_of(&conn, member.id).await?;
    drop(conn);
    let personal = club
        .member_data_keys
        .open(member.id, &member.sealed_personal_data)
        .map_err(|e| StorageError::Corrupt(format!("member {}'s data: {e}", member.id)))?;
    let balance = match cards.iter().find(|c| c.status == CardStatus::Active) {
        Some(card) => {
            match check_card(club, member.enrolled_by_partner, None, &card.number, now).await {
                Ok(check) => Some(check.balance),
                Err(OperationError::Storage(err)) => return Err(err),
                Err(OperationError::Refused(_)) => None,
            }
        }
        None => None,
    };
    Ok(Some(SupportView {
        member_id: member.id,
        first_name: personal.first_name().to_owned(),
        status: member.status,
        enrolled_at: member.enrolled_at,
        cards,
        balance,
    }))
}
