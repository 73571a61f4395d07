//! The `members` and `cards` tables. Personal data arrives here already sealed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::cards::{Card, CardNumber, CardStatus, MemberStatus};
use domain::ids::{BranchId, MemberId, PartnerId};
use domain::members::{InviteCode, Member};
use futures_util::TryFutureExt as _;
use uuid::Uuid;

use super::schema::{cards, members};
use super::{StorageError, stored};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = members, check_for_backend(diesel::pg::Pg))]
struct MemberRow {
    id: Uuid,
    phone_lookup: Vec<u8>,
    personal_data: Vec<u8>,
    status: String,
    enrolled_by_partner: Uuid,
    enrolled_at_branch: Uuid,
    enrolled_at: DateTime<Utc>,
    invite_code: String,
    referred_by: Option<Uuid>,
    birthday: Option<String>,
    city_lookup: Option<Vec<u8>>,
    messages_consent_at: Option<DateTime<Utc>>,
}

impl TryFrom<MemberRow> for Member {
    type Error = StorageError;

    fn try_from(row: MemberRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: MemberId(row.id),
            phone_lookup: row.phone_lookup.try_into().map_err(|_| {
                StorageError::Corrupt("members.phone_lookup is not 32 bytes".into())
            })?,
            sealed_personal_data: row.personal_data,
            status: stored("members.status", &row.status)?,
            enrolled_by_partner: PartnerId(row.enrolled_by_partner),
            enrolled_at_branch: BranchId(row.enrolled_at_branch),
            enrolled_at: row.enrolled_at,
            invite_code: InviteCode::parse(&row.invite_code).map_err(|_| {
                StorageError::Corrupt(format!("members.invite_code {:?}", row.invite_code))
            })?,
            referred_by: row.referred_by.map(MemberId),
            birthday: row.birthday,
            city_lookup: row.city_lookup.map(lookup_bytes).transpose()?,
            messages_consent_at: row.messages_consent_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cards, check_for_backend(diesel::pg::Pg))]
struct CardRow {
    number: String,
    member_id: Uuid,
    status: String,
    replaced_by: Option<String>,
    issued_at: DateTime<Utc>,
    status_changed_at: DateTime<Utc>,
}

/// A stored card number, checked again.
pub(crate) fn card_number(column: &str, value: &str) -> Result<CardNumber, StorageError> {
    CardNumber::parse(value).map_err(|e| StorageError::Corrupt(format!("{column}: {e}")))
}

impl TryFrom<CardRow> for Card {
    type Error = StorageError;

    fn try_from(row: CardRow) -> Result<Self, StorageError> {
        Ok(Self {
            number: card_number("cards.number", &row.number)?,
            member_id: MemberId(row.member_id),
            status: stored("cards.status", &row.status)?,
            replaced_by: row
                .replaced_by
                .as_deref()
                .map(|n| card_number("cards.replaced_by", n))
                .transpose()?,
            issued_at: row.issued_at,
            status_changed_at: row.status_changed_at,
        })
    }
}

/// What became of a member's insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Enrolled.
    Member,
    /// The phone is already enrolled.
    PhoneTaken,
    /// Another member has the invite code (the caller draws another).
    InviteCodeTaken,
}

/// A stored 32-byte keyed hash.
fn lookup_bytes(bytes: Vec<u8>) -> Result<[u8; 32], StorageError> {
    bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt("a members lookup hash is not 32 bytes".into()))
}

/// Inserts a member.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    member: &Member,
) -> Result<Inserted, StorageError> {
    let row = MemberRow {
        id: member.id.0,
        phone_lookup: member.phone_lookup.to_vec(),
        personal_data: member.sealed_personal_data.clone(),
        status: member.status.as_str().to_owned(),
        enrolled_by_partner: member.enrolled_by_partner.0,
        enrolled_at_branch: member.enrolled_at_branch.0,
        enrolled_at: member.enrolled_at,
        invite_code: member.invite_code.as_str().to_owned(),
        referred_by: member.referred_by.map(|id| id.0),
        birthday: member.birthday.clone(),
        city_lookup: member.city_lookup.map(|l| l.to_vec()),
        messages_consent_at: member.messages_consent_at,
    };
    // Any conflict (the phone or the invite code) inserts nothing and keeps the caller's
    // transaction usable; which one it was is read after.
    let inserted = diesel::insert_into(members::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        Ok(Inserted::Member)
    } else if phone_enrolled(conn, &member.phone_lookup).await? {
        Ok(Inserted::PhoneTaken)
    } else {
        Ok(Inserted::InviteCodeTaken)
    }
}

/// The member with this invite code.
pub async fn find_by_invite_code(
    mut conn: &AsyncPgConnection,
    code: &InviteCode,
) -> Result<Option<Member>, StorageError> {
    members::table
        .filter(members::invite_code.eq(code.as_str()))
        .select(MemberRow::as_select())
        .first::<MemberRow>(&mut conn)
        .await
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// Whether a member was ever enrolled with this phone (its keyed lookup).
pub async fn phone_enrolled(
    mut conn: &AsyncPgConnection,
    phone_lookup: &[u8; 32],
) -> Result<bool, StorageError> {
    Ok(diesel::select(diesel::dsl::exists(
        members::table.filter(members::phone_lookup.eq(phone_lookup.to_vec())),
    ))
    .get_result(&mut conn)
    .await?)
}

/// Inserts a card; `false` if the number is taken (the caller draws another).
pub async fn insert_card(conn: &mut AsyncPgConnection, card: &Card) -> Result<bool, StorageError> {
    let row = CardRow {
        number: card.number.as_str().to_owned(),
        member_id: card.member_id.0,
        status: card.status.as_str().to_owned(),
        replaced_by: card.replaced_by.as_ref().map(|n| n.as_str().to_owned()),
        issued_at: card.issued_at,
        status_changed_at: card.status_changed_at,
    };
    match diesel::insert_into(cards::table)
        .values(&row)
        .execute(conn)
        .await
    {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name() == Some("cards_pkey") =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// A card with its member.
pub async fn find_card(
    mut conn: &AsyncPgConnection,
    number: &CardNumber,
) -> Result<Option<(Card, Member)>, StorageError> {
    let found = cards::table
        .inner_join(members::table)
        .filter(cards::number.eq(number.as_str()))
        .select((CardRow::as_select(), MemberRow::as_select()))
        .first::<(CardRow, MemberRow)>(&mut conn)
        .await
        .optional()?;
    found
        .map(|(card, member)| Ok((card.try_into()?, member.try_into()?)))
        .transpose()
}

/// The status of each of these cards and of its member.
pub(crate) async fn card_statuses(
    mut conn: &AsyncPgConnection,
    numbers: &[&str],
) -> Result<Vec<(CardNumber, CardStatus, MemberStatus)>, StorageError> {
    let rows: Vec<(String, String, String)> = cards::table
        .inner_join(members::table)
        .filter(cards::number.eq_any(numbers))
        .select((cards::number, cards::status, members::status))
        .load(&mut conn)
        .await?;
    rows.into_iter()
        .map(|(number, card, member)| {
            Ok((
                card_number("cards.number", &number)?,
                stored("cards.status", &card)?,
                stored("members.status", &member)?,
            ))
        })
        .collect()
}

/// Sets a card's status (and what replaced it); returns the updated card.
pub async fn set_card_status(
    conn: &mut AsyncPgConnection,
    number: &CardNumber,
    status: CardStatus,
    replaced_by: Option<&CardNumber>,
    at: DateTime<Utc>,
) -> Result<Option<Card>, StorageError> {
    diesel::update(cards::table.find(number.as_str()))
        .set((
            cards::status.eq(status.as_str()),
            cards::replaced_by.eq(replaced_by.map(CardNumber::as_str)),
            cards::status_changed_at.eq(at),
        ))
        .returning(CardRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .map(Card::try_from)
        .transpose()
}

/// How many members there are.
pub async fn count(conn: &mut AsyncPgConnection) -> Result<i64, StorageError> {
    Ok(members::table.count().get_result(conn).await?)
}

/// Open members whose birthday (`MM-DD`) is one of `month_days`.
pub async fn with_birthday_on(
    mut conn: &AsyncPgConnection,
    month_days: &[String],
) -> Result<Vec<(MemberId, String)>, StorageError> {
    let rows: Vec<(Uuid, Option<String>)> = members::table
        .filter(members::birthday.eq_any(month_days))
        .filter(members::status.eq(MemberStatus::Active.as_str()))
        .select((members::id, members::birthday))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, birthday)| Some((MemberId(id), birthday?)))
        .collect())
}

/// Open members enrolled on a local day (in `zone`) whose month and day is one of `month_days`,
/// with that day.
pub async fn enrolled_on(
    mut conn: &AsyncPgConnection,
    month_days: &[String],
    zone: chrono_tz::Tz,
) -> Result<Vec<(MemberId, chrono::NaiveDate)>, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Date)]
        day: chrono::NaiveDate,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT id, (enrolled_at AT TIME ZONE $2)::date AS day FROM members \
          WHERE status = 'active' \
            AND to_char((enrolled_at AT TIME ZONE $2)::date, 'MM-DD') = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(month_days)
    .bind::<diesel::sql_types::Text, _>(zone.name())
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|r| (MemberId(r.id), r.day)).collect())
}

/// What campaigns' audiences ask of `member_ids`.
pub async fn facts(
    conn: &AsyncPgConnection,
    member_ids: &[MemberId],
) -> Result<Vec<(MemberId, domain::program::campaigns::MemberFacts)>, StorageError> {
    #[derive(Queryable, Selectable)]
    #[diesel(table_name = members, check_for_backend(diesel::pg::Pg))]
    struct FactsRow {
        id: Uuid,
        enrolled_by_partner: Uuid,
        enrolled_at_branch: Uuid,
        enrolled_at: DateTime<Utc>,
        birthday: Option<String>,
        city_lookup: Option<Vec<u8>>,
    }
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    // Two statements on the one pipelined connection.
    let (mut facts_conn, visits_conn) = (conn, conn);
    let (rows, last_visits) = futures_util::try_join!(
        members::table
            .filter(members::id.eq_any(&ids))
            .select(FactsRow::as_select())
            .load::<FactsRow>(&mut facts_conn)
            .map_err(StorageError::from),
        last_visits(visits_conn, member_ids, None),
    )?;
    let last_visits: std::collections::HashMap<MemberId, chrono::NaiveDate> =
        last_visits.into_iter().collect();
    rows.into_iter()
        .map(|row| {
            let id = MemberId(row.id);
            let facts = domain::program::campaigns::MemberFacts {
                home_partner: PartnerId(row.enrolled_by_partner),
                home_branch: BranchId(row.enrolled_at_branch),
                enrolled_at: row.enrolled_at,
                birthday: row.birthday,
                last_visit: last_visits.get(&id).copied(),
                city_lookup: row.city_lookup.map(lookup_bytes).transpose()?,
            };
            Ok((id, facts))
        })
        .collect()
}

/// The local day of each member's last purchase (before `before`, when given).
pub async fn last_visits(
    mut conn: &AsyncPgConnection,
    member_ids: &[MemberId],
    before: Option<chrono::NaiveDate>,
) -> Result<Vec<(MemberId, chrono::NaiveDate)>, StorageError> {
    use super::schema::member_activity as a;
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    let mut query = a::table
        .filter(a::member_id.eq_any(ids))
        .filter(a::visits.gt(0))
        .group_by(a::member_id)
        .select((a::member_id, diesel::dsl::max(a::day)))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(a::day.lt(before));
    }
    let rows: Vec<(Uuid, Option<chrono::NaiveDate>)> = query.load(&mut conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(member, day)| Some((MemberId(member), day?)))
        .collect())
}

/// The active member who referred `member_id`, while `member_id` has made no purchase yet (no
/// earn posted): whom the friend's first purchase rewards. `None` once they have, or when no active
/// member referred them.
pub async fn referrer_before_first_purchase(
    mut conn: &AsyncPgConnection,
    member_id: MemberId,
) -> Result<Option<MemberId>, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        referrer: Uuid,
    }
    let row: Option<Row> = super::prepared::prepared(
        diesel::sql_query(
            "SELECT m.referred_by AS referrer FROM members m \
               JOIN members r ON r.id = m.referred_by AND r.status = 'active' \
              WHERE m.id = $1 AND NOT EXISTS ( \
                    SELECT 1 FROM transfers t WHERE t.member_id = m.id AND t.code = 'earn' \
                       AND t.phase = 'single')",
        )
        .bind::<diesel::sql_types::Uuid, _>(member_id.0),
    )
    .get_result(&mut conn)
    .await
    .optional()?;
    Ok(row.map(|r| MemberId(r.referrer)))
}

/// A member's photo: its media type and its sealed bytes.
pub async fn photo(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
) -> Result<Option<(String, Vec<u8>)>, StorageError> {
    use super::schema::member_photos;
    Ok(member_photos::table
        .find(member_id.0)
        .select((member_photos::media_type, member_photos::sealed))
        .first(conn)
        .await
        .optional()?)
}

/// Keeps `sealed` as the member's photo, in place of any before.
pub async fn set_photo(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
    media_type: &str,
    sealed: &[u8],
    at: DateTime<Utc>,
) -> Result<(), StorageError> {
    use super::schema::member_photos;
    diesel::insert_into(member_photos::table)
        .values((
            member_photos::member_id.eq(member_id.0),
            member_photos::media_type.eq(media_type),
            member_photos::sealed.eq(sealed),
            member_photos::updated_at.eq(at),
        ))
        .on_conflict(member_photos::member_id)
        .do_update()
        .set((
            member_photos::media_type.eq(media_type),
            member_photos::sealed.eq(sealed),
            member_photos::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the member has a photo.
pub async fn has_photo(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
) -> Result<bool, StorageError> {
    use super::schema::member_photos;
    Ok(
        diesel::select(diesel::dsl::exists(member_photos::table.find(member_id.0)))
            .get_result(conn)
            .await?,
    )
}

/// The member enrolled with this phone (its keyed lookup).
pub async fn find_by_phone_lookup(
    mut conn: &AsyncPgConnection,
    phone_lookup: &[u8; 32],
) -> Result<Option<Member>, StorageError> {
    members::table
        .filter(members::phone_lookup.eq(phone_lookup.to_vec()))
        .select(MemberRow::as_select())
        .first::<MemberRow>(&mut conn)
        .await
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// The member with `id`.
pub async fn find(
    mut conn: &AsyncPgConnection,
    id: MemberId,
) -> Result<Option<Member>, StorageError> {
    members::table
        .find(id.0)
        .select(MemberRow::as_select())
        .first::<MemberRow>(&mut conn)
        .await
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// A member's cards, newest first.
pub async fn cards_of(
    mut conn: &AsyncPgConnection,
    member_id: MemberId,
) -> Result<Vec<Card>, StorageError> {
    cards::table
        .filter(cards::member_id.eq(member_id.0))
        .order(cards::issued_at.desc())
        .select(CardRow::as_select())
        .load::<CardRow>(&mut conn)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// Records the member's consent to messages as given at `at` (kept when already given), or
/// withdraws it (`None`).
pub async fn set_messages_consent(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
    at: Option<DateTime<Utc>>,
) -> Result<(), StorageError> {
    let member = members::table.find(member_id.0);
    match at {
        Some(at) => {
            diesel::update(member.filter(members::messages_consent_at.is_null()))
                .set(members::messages_consent_at.eq(at))
                .execute(conn)
                .await?
        }
        None => {
            diesel::update(member)
                .set(members::messages_consent_at.eq(None::<DateTime<Utc>>))
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

/// Keeps a member's changed personal data (sealed) and what is kept of it in clear or hashed.
pub async fn update_personal(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
    sealed: &[u8],
    birthday: Option<&str>,
    city_lookup: Option<&[u8; 32]>,
) -> Result<(), StorageError> {
    diesel::update(members::table.find(member_id.0))
        .set((
            members::personal_data.eq(sealed),
            members::birthday.eq(birthday),
            members::city_lookup.eq(city_lookup.map(|l| l.to_vec())),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that the member asked to close their account (the first time they asked is kept);
/// when they asked.
pub async fn request_close(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    diesel::update(
        members::table
            .find(member_id.0)
            .filter(members::close_requested_at.is_null()),
    )
    .set(members::close_requested_at.eq(at))
    .execute(conn)
    .await?;
    Ok(members::table
        .find(member_id.0)
        .select(members::close_requested_at)
        .first(conn)
        .await?)
}

/// When the member asked to close their account, if they did.
pub async fn close_requested(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(members::table
        .find(member_id.0)
        .select(members::close_requested_at)
        .first::<Option<DateTime<Utc>>>(conn)
        .await
        .optional()?
        .flatten())
}
