//! Facts a test reads straight from its database, each behind a name, so tests do not
//! reach into storage rows or write SQL just to look. (Tests that tamper with or lock the
//! database on purpose still do that themselves.)

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bytea, Text, Timestamptz};
use diesel_async::RunQueryDsl as _;
use domain::cards::CardNumber;
use domain::ids::{MemberId, PartnerId};
use domain::ledger::AccountKind;

use crate::app::TestApp;

/// What a ledger account has posted.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Postings {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    pub credits_posted: i64,
}

#[derive(QueryableByName)]
struct Bytes {
    #[diesel(sql_type = Bytea)]
    bytes: Vec<u8>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = Text)]
    idempotency_key: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Recorded {
    #[diesel(sql_type = BigInt)]
    transfers: i64,
    #[diesel(sql_type = BigInt)]
    records: i64,
}

impl TestApp {
    /// The member a card belongs to.
    pub async fn member_of(&self, card: &CardNumber) -> MemberId {
        let conn = self.storage.db().await.unwrap_or_else(|e| panic!("{e}"));
        let (_, member) = storage::members::find_card(&conn, card)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no card {card}"));
        member.id
    }

    /// The points the card's member can spend, as the ledger projects them (no cache, no HTTP).
    pub async fn available_in_ledger(&self, card: &CardNumber) -> i64 {
        let member = self.member_of(card).await;
        let conn = self.storage.db().await.unwrap_or_else(|e| panic!("{e}"));
        storage::ledger::member_account(&conn, member)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .available()
            .get()
    }

    /// The partner's ledger accounts and what they posted, in the order of their kinds' names.
    pub async fn partner_accounts(&self, partner: PartnerId) -> Vec<Postings> {
        diesel::sql_query(
            "SELECT kind, debits_posted, credits_posted FROM accounts \
              WHERE partner_id = $1 ORDER BY kind",
        )
        .bind::<diesel::sql_types::Uuid, _>(partner.0)
        .load(&mut self.db.connect().await)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// What the programme's account of this kind (breakage, promotions, adjustments) posted.
    pub async fn operator_account(&self, kind: AccountKind) -> Postings {
        diesel::sql_query(
            "SELECT kind, debits_posted, credits_posted FROM accounts WHERE kind = $1",
        )
        .bind::<Text, _>(kind.as_str())
        .get_result(&mut self.db.connect().await)
        .await
        .unwrap_or_else(|e| panic!("{kind:?} account: {e}"))
    }

    /// Every member's personal data and phone lookup, byte for byte as PostgreSQL stores them.
    pub async fn stored_member_data(&self) -> Vec<u8> {
        let rows: Vec<Bytes> =
            diesel::sql_query("SELECT personal_data || phone_lookup AS bytes FROM members")
                .load(&mut self.db.connect().await)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        rows.into_iter().flat_map(|row| row.bytes).collect()
    }

    /// How many partner keys have this key id.
    pub async fn keys_with_id(&self, kid: &str) -> i64 {
        diesel::sql_query("SELECT count(*) AS count FROM partner_keys WHERE kid = $1")
            .bind::<Text, _>(kid)
            .get_result::<Count>(&mut self.db.connect().await)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .count
    }

    /// The transfers written under these idempotency keys, as (key, commit time), in id order.
    pub async fn transfers_under_keys(&self, keys: &[String]) -> Vec<(String, DateTime<Utc>)> {
        let written: Vec<Written> = diesel::sql_query(
            "SELECT idempotency_key, created_at FROM transfers \
              WHERE idempotency_key = ANY($1) ORDER BY id",
        )
        .bind::<Array<Text>, _>(keys)
        .load(&mut self.db.connect().await)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        written
            .into_iter()
            .map(|w| (w.idempotency_key, w.created_at))
            .collect()
    }

    /// How many transfers and how many idempotency records these keys have (one snapshot).
    pub async fn recorded_under_keys(&self, keys: &[String]) -> (i64, i64) {
        let recorded: Recorded = diesel::sql_query(
            "SELECT (SELECT count(*) FROM transfers WHERE idempotency_key = ANY($1)) AS transfers, \
                    (SELECT count(*) FROM idempotency_records WHERE idempotency_key = ANY($1)) AS records",
        )
        .bind::<Array<Text>, _>(keys)
        .get_result(&mut self.db.connect().await)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        (recorded.transfers, recorded.records)
    }
}
