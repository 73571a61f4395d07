//! The `members` and `cards` tables. Personal data arrives here already sealed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::StorageError;
use super::schema::{cards, members};

/// A `members` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = members, check_for_backend(diesel::pg::Pg))]
pub struct MemberRow {
    pub id: Uuid,
    pub phone_lookup: Vec<u8>,
    pub personal_data: Vec<u8>,
    pub status: String,
    pub enrolled_by_partner: Uuid,
    pub enrolled_at_branch: Uuid,
    pub enrolled_at: DateTime<Utc>,
}

/// A `cards` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cards, check_for_backend(diesel::pg::Pg))]
pub struct CardRow {
    pub number: String,
    pub member_id: Uuid,
    pub status: String,
    pub replaced_by: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub status_changed_at: DateTime<Utc>,
}

/// Inserts a member; `false` if the phone is already enrolled.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    member: &MemberRow,
) -> Result<bool, StorageError> {
    let inserted = diesel::insert_into(members::table)
        .values(member)
        .on_conflict(members::phone_lookup)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Inserts a card; `false` if the number is taken (the caller draws another).
pub async fn insert_card(
    conn: &mut AsyncPgConnection,
    card: &CardRow,
) -> Result<bool, StorageError> {
    match diesel::insert_into(cards::table)
        .values(card)
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
    conn: &mut AsyncPgConnection,
    number: &str,
) -> Result<Option<(CardRow, MemberRow)>, StorageError> {
    Ok(cards::table
        .inner_join(members::table)
        .filter(cards::number.eq(number))
        .select((CardRow::as_select(), MemberRow::as_select()))
        .first(conn)
        .await
        .optional()?)
}

/// The status of each of these cards and of its member: (number, card status, member status).
pub async fn card_statuses(
    mut conn: &AsyncPgConnection,
    numbers: &[&str],
) -> Result<Vec<(String, String, String)>, StorageError> {
    Ok(cards::table
        .inner_join(members::table)
        .filter(cards::number.eq_any(numbers))
        .select((cards::number, cards::status, members::status))
        .load(&mut conn)
        .await?)
}

/// Sets a card's status (and what replaced it); returns the updated row.
pub async fn set_card_status(
    conn: &mut AsyncPgConnection,
    number: &str,
    status: &str,
    replaced_by: Option<&str>,
) -> Result<Option<CardRow>, StorageError> {
    Ok(diesel::update(cards::table.find(number))
        .set((
            cards::status.eq(status),
            cards::replaced_by.eq(replaced_by),
            cards::status_changed_at.eq(Utc::now()),
        ))
        .returning(CardRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// How many members there are.
pub async fn count(conn: &mut AsyncPgConnection) -> Result<i64, StorageError> {
    Ok(members::table.count().get_result(conn).await?)
}
