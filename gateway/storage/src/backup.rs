//! What a restore drill compares: the ledger's fingerprint (every account's balance, every
//! partner's statement chain, the number of transfers), read from the live database at a named
//! restore point and from the copy restored to it (`docs/operations.md`, "Backups").

use diesel::sql_types::{BigInt, Bytea, Int4, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{RunQueryDsl as _, SimpleAsyncConnection as _};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Connection, StorageError};

/// One account's balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, diesel::QueryableByName)]
pub struct AccountBalance {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub member_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub partner_id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    pub debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    pub credits_posted: i64,
    #[diesel(sql_type = BigInt)]
    pub debits_pending: i64,
    #[diesel(sql_type = BigInt)]
    pub credits_pending: i64,
    #[diesel(sql_type = BigInt)]
    pub lifetime_earned: i64,
}

/// One link of a partner's statement chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, diesel::QueryableByName)]
pub struct StatementLink {
    #[diesel(sql_type = SqlUuid)]
    pub partner_id: Uuid,
    #[diesel(sql_type = Int4)]
    pub sequence: i32,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Bytea)]
    pub payload_sha256: Vec<u8>,
    #[diesel(sql_type = Nullable<Bytea>)]
    pub previous_sha256: Option<Vec<u8>>,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The ledger as a restore must reproduce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Every account, by id.
    pub accounts: Vec<AccountBalance>,
    /// Every statement, by partner and sequence.
    pub statements: Vec<StatementLink>,
    /// How many transfers there are.
    pub transfers: i64,
}

/// A named restore point and the ledger exactly as it stood there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestorePoint {
    pub name: String,
    /// Where it is in the WAL.
    pub lsn: String,
    pub fingerprint: Fingerprint,
}

/// Reads the fingerprint (inside the caller's transaction, if any).
pub async fn fingerprint(conn: &mut Connection) -> Result<Fingerprint, StorageError> {
    let accounts = diesel::sql_query(
        "SELECT id, kind, member_id, partner_id, debits_posted, credits_posted, debits_pending, \
         credits_pending, lifetime_earned FROM accounts ORDER BY id",
    )
    .load(conn)
    .await?;
    let statements = diesel::sql_query(
        "SELECT partner_id, sequence, id, payload_sha256, previous_sha256 FROM statements \
         ORDER BY partner_id, sequence",
    )
    .load(conn)
    .await?;
    let transfers = diesel::sql_query("SELECT count(*) AS n FROM transfers")
        .get_result::<Count>(conn)
        .await?
        .n;
    Ok(Fingerprint {
        accounts,
        statements,
        transfers,
    })
}

/// Creates the restore point `name` and reads the ledger as it stands there.
///
/// Writers of the ledger's tables are held back (a `SHARE` lock) only while a snapshot is
/// exported and the restore point written, so the snapshot holds exactly the transactions that
/// committed before the restore point's WAL record; the fingerprint is then read in that snapshot
/// on `reader` while the ledger goes on.
pub async fn mark_restore_point(
    locker: &mut Connection,
    reader: &mut Connection,
    name: &str,
) -> Result<RestorePoint, StorageError> {
    locker
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             LOCK TABLE accounts, transfers, statements IN SHARE MODE",
        )
        .await?;
    let snapshot = diesel::sql_query("SELECT pg_export_snapshot() AS value")
        .get_result::<Value>(locker)
        .await?
        .value;
    let lsn = diesel::sql_query("SELECT pg_create_restore_point($1)::text AS value")
        .bind::<Text, _>(name)
        .get_result::<Value>(locker)
        .await?
        .value;
    // The snapshot id is PostgreSQL's own (hex digits and dashes); SET TRANSACTION takes no
    // parameter, so it is checked before it goes into the statement.
    if !snapshot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(StorageError::Corrupt(format!(
            "unexpected snapshot id {snapshot:?}"
        )));
    }
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'"
        ))
        .await?;
    locker.batch_execute("COMMIT").await?;
    let fingerprint = fingerprint(reader).await?;
    reader.batch_execute("COMMIT").await?;
    Ok(RestorePoint {
        name: name.to_owned(),
        lsn,
        fingerprint,
    })
}
