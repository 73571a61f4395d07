//! A transaction whose `BEGIN` travels with its first statements.
//!
//! diesel-async's `transaction` sends `BEGIN` and waits for its answer before the work's first
//! statement: a round trip of its own. A committer's batch sends its reads at once (pipelined), so
//! `BEGIN` can go first in that same pipeline; PostgreSQL runs the messages in order, so the reads
//! run inside the transaction.

use diesel::connection::TransactionDepthChange;
use diesel::result::QueryResult;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, SimpleAsyncConnection as _, TransactionManager,
};

/// An open transaction on a connection (see the module's documentation).
pub struct PipelinedTransaction<'c> {
    conn: &'c mut AsyncPgConnection,
}

impl<'c> PipelinedTransaction<'c> {
    /// Counts the connection as inside a transaction before `BEGIN` is even sent, so that if the
    /// work is dropped half-way the pool discards the connection instead of handing out one whose
    /// transaction is still open.
    pub fn open(conn: &'c mut AsyncPgConnection) -> QueryResult<Self> {
        <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::transaction_manager_status_mut(conn)
            .transaction_state()?
            .change_transaction_depth(TransactionDepthChange::IncreaseDepth)?;
        Ok(Self { conn })
    }

    /// The connection, for statements sent at once with [`Self::begin`] and after it.
    pub fn conn(&self) -> &AsyncPgConnection {
        self.conn
    }

    /// Sends `BEGIN`: poll it first, in the same `join` as the first statements, so it is sent
    /// ahead of them.
    pub async fn begin(&self) -> QueryResult<()> {
        let mut conn: &AsyncPgConnection = self.conn;
        conn.batch_execute("BEGIN").await
    }

    /// Commits (or, if the commit fails, rolls back) and closes the transaction.
    pub async fn commit(self) -> QueryResult<()> {
        AnsiTransactionManager::commit_transaction(self.conn).await
    }

    /// Rolls back and closes the transaction; if `ROLLBACK` fails, the connection stays counted
    /// as broken and the pool discards it.
    pub async fn rollback(self) -> QueryResult<()> {
        AnsiTransactionManager::rollback_transaction(self.conn).await
    }
}
