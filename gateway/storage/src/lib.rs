//! Storage: PostgreSQL through diesel-async, Redis, and the in-process caches.
//!
//! Functions here read and write rows and return domain types; they never make
//! business decisions. A row converts into its domain type with `TryFrom`, and a
//! stored value the domain does not know (a status, a code, a card number) fails
//! the read with [`StorageError::Corrupt`] instead of turning into something else.
//! Every Redis key is built by [`keys::RedisKeys`] so that no caller can forget
//! the deployment's (or the test's) key prefix.
//!
//! Raw SQL (`diesel::sql_query`) is used only where set-based statements need it
//! (`UNNEST` batches, `ON CONFLICT … WHERE`, window functions), each covered by an
//! integration test.

pub mod activity;
pub mod analytics;
pub mod audit;
pub mod backup;
pub mod bonuses;
pub mod branches;
pub mod card_cache;
pub mod check;
pub mod idempotency;
pub mod keys;
pub mod ledger;
pub mod ledger_batch;
pub mod members;
pub mod migrations;
pub mod nonces;
pub mod operator_keys;
pub mod outbox;
pub mod partner_keys;
pub mod partners;
pub mod pipelined;
pub mod prepared;
pub mod program;
pub mod rules;
pub mod schema;
pub mod sessions;
pub mod settlement;
pub mod staff;

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use redis::aio::ConnectionManager;

pub use keys::RedisKeys;

/// A PostgreSQL connection (operations run their transactions on it).
pub type Connection = AsyncPgConnection;

/// A pooled PostgreSQL connection.
pub type DbConnection = Object<AsyncPgConnection>;

/// Why a storage call failed; the caller decides what it means for its request.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the record kept changing under concurrent requests")]
    Contention,
    #[error("not committed: {0}")]
    NotCommitted(String),
    /// A stored value this version does not know, or a row that breaks an invariant.
    #[error("stored data cannot be used: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// Whether the failure may pass if the request is retried (a lost connection, a restarting
    /// or failing-over server, a timeout, a lost race), rather than being broken data or a
    /// statement PostgreSQL refuses.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(err) => is_transient_database(err) || self.is_conflict(),
            Self::Corrupt(_) => false,
            Self::Pool(_) | Self::Redis(_) | Self::Contention | Self::NotCommitted(_) => true,
        }
    }

    /// Whether a concurrent writer got somewhere first (a unique key, a serialization failure,
    /// a deadlock, a record that kept changing): the work is worth another try.
    pub fn is_conflict(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Contention => true,
            Self::Database(Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure
                ) || info.message().starts_with(DEADLOCK)
            }
            _ => false,
        }
    }

    /// Whether PostgreSQL refused a figure that would leave its type (an account's running total
    /// beyond 64 bits).
    pub fn is_out_of_range(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            Self::Database(Error::DatabaseError(DatabaseErrorKind::Unknown, info))
                if OUT_OF_RANGE.iter().any(|m| info.message().starts_with(m))
        )
    }
}

/// A lost connection, a stopping or starting server, a timeout (see [`TRANSIENT_MESSAGES`]).
fn is_transient_database(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        )
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => TRANSIENT_MESSAGES
            .iter()
            .any(|m| info.message().starts_with(m)),
        // A COMMIT on a connection the server is closing, whose ROLLBACK then fails too: the
        // server went away under the transaction, which did not commit.
        Error::RollbackErrorOnCommit {
            commit_error,
            rollback_error,
        } => is_transient_database(commit_error) || is_transient_database(rollback_error),
        _ => false,
    }
}

// diesel-async reports a PostgreSQL error whose SQLSTATE diesel has no kind for as `Unknown`
// and keeps the SQLSTATE to itself, so PostgreSQL's message is what tells these apart.
/// 40P01.
const DEADLOCK: &str = "deadlock detected";
/// 22003.
const OUT_OF_RANGE: [&str; 2] = ["bigint out of range", "integer out of range"];
/// A deadlock; 57P01, 57P02 (the server is stopping or restarting); 57P03 (starting up, shutting
/// down, in recovery); 57014 (a statement timeout, a cancel, a conflict with recovery); 55P03 (a
/// lock timeout).
const TRANSIENT_MESSAGES: [&str; 6] = [
    DEADLOCK,
    "terminating connection",
    "the database system is",
    "canceling statement due to",
    "could not obtain lock",
    "sorry, too many clients",
];

/// Parses a stored name into a domain type, failing loudly on a value the domain does not know.
pub(crate) fn stored<T: std::str::FromStr>(column: &str, value: &str) -> Result<T, StorageError> {
    value
        .parse()
        .map_err(|_| StorageError::Corrupt(format!("{column} holds {value:?}, which is not known")))
}

fn postgres_pool(
    settings: &StorageSettings,
    size: usize,
) -> anyhow::Result<Pool<AsyncPgConnection>> {
    // Recycling checks for broken connections and open transactions without a test query:
    // a round trip per checkout is too dear on the request path.
    let mut manager_config = ManagerConfig::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        settings.database_url.clone(),
        manager_config,
    );
    Ok(Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(settings.connect_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?)
}

/// The connection pools shared by every request.
#[derive(Clone)]
pub struct Storage {
    pool: Pool<AsyncPgConnection>,
    /// The ledger committers' own connections: request-path reads can never starve them.
    ledger_pool: Pool<AsyncPgConnection>,
    redis: ConnectionManager,
    /// The Redis key builder for this deployment.
    pub keys: RedisKeys,
    card_cache: card_cache::CardCache,
    program_rules: program::RuleCache,
}

/// Settings for [`Storage::connect`].
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub database_url: String,
    pub pool_size: usize,
    /// Connections reserved for the ledger committers (one each).
    pub ledger_pool_size: usize,
    pub connect_timeout: Duration,
    pub redis_url: String,
    pub redis_key_prefix: String,
    /// How long the programme's rules are kept before being read again (zero: never kept).
    pub rules_refresh: Duration,
}

impl Storage {
    /// Builds the PostgreSQL pool and connects to Redis.
    pub async fn connect(settings: &StorageSettings) -> anyhow::Result<Self> {
        let pool = postgres_pool(settings, settings.pool_size)?;
        let ledger_pool = postgres_pool(settings, settings.ledger_pool_size.max(1))?;
        let client = redis::Client::open(settings.redis_url.as_str())?;
        // Fail fast while Redis is down: requests then fall back to PostgreSQL at once instead of
        // waiting through a long reconnection backoff; the manager reconnects on later commands.
        let redis_timeout = settings.connect_timeout.min(Duration::from_millis(500));
        let redis_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(redis_timeout))
            .set_response_timeout(Some(redis_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(50));
        // On the Redis thread: the connection's driver, and every reconnection's, run there.
        let redis = tokio::time::timeout(
            settings.connect_timeout,
            redis_runtime().spawn(ConnectionManager::new_with_config(client, redis_config)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))???;
        Ok(Self {
            pool,
            ledger_pool,
            redis,
            keys: RedisKeys::new(&settings.redis_key_prefix),
            card_cache: card_cache::CardCache::new(100_000),
            program_rules: program::RuleCache::new(settings.rules_refresh),
        })
    }

    /// A PostgreSQL connection from the pool.
    pub async fn db(&self) -> Result<DbConnection, StorageError> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::Pool(e.to_string()))
    }

    /// A connection reserved for the ledger committers.
    pub async fn ledger_db(&self) -> Result<DbConnection, StorageError> {
        self.ledger_pool
            .get()
            .await
            .map_err(|e| StorageError::Pool(e.to_string()))
    }

    /// How many database connections exist, how many are idle, and the maximum.
    pub fn pool_status(&self) -> deadpool::Status {
        self.pool.status()
    }

    /// Every version of the programme's rules, as this instance last read them (at most
    /// `rules_refresh` ago).
    pub async fn program_rules(
        &self,
    ) -> Result<std::sync::Arc<Vec<domain::program::rules::RuleVersion>>, StorageError> {
        self.program_rules.get(self).await
    }

    /// How long the programme's rules are kept before being read again.
    pub fn rules_refresh(&self) -> Duration {
        self.program_rules.refresh
    }

    /// This instance's card-check cache.
    pub fn card_cache(&self) -> &card_cache::CardCache {
        &self.card_cache
    }

    /// A handle to the shared, multiplexed Redis connection.
    pub fn redis(&self) -> Redis {
        Redis(self.redis.clone())
    }

    /// Checks that PostgreSQL answers a query.
    pub async fn ping_database(&self) -> Result<(), StorageError> {
        use diesel_async::RunQueryDsl as _;
        let mut conn = self.db().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    /// Checks that Redis answers PING.
    pub async fn ping_redis(&self) -> Result<(), StorageError> {
        let mut redis = self.redis();
        redis::cmd("PING").query_async::<String>(&mut redis).await?;
        Ok(())
    }
}

/// The Redis thread: a runtime of its own for the one Redis connection's driver.
///
/// redis-rs spawns a connection's driver, and a reconnection's, on the runtime current where the
/// command that made or lost it is polled. At start that is the main runtime; but after Redis came
/// back, it was the HTTP worker whose request first failed, and from then on that worker read
/// every Redis reply between its own requests: under a burst, replies waited past the 500 ms
/// timeout and requests were answered 503 (issue 17, measured: 189–264 of 400 redemptions in four
/// bursts, against 0 for a gateway started afresh, and 0 with this thread). Every command is
/// polled with this runtime as the current one ([`in_redis_context`]), so whatever it spawns, and
/// the timers and sockets it makes, belong here; the command itself stays on its caller's task.
fn redis_runtime() -> &'static tokio::runtime::Handle {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the Redis runtime: {e}"));
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("redis".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .unwrap_or_else(|e| panic!("cannot start the Redis thread: {e}"));
        handle
    })
}

/// The shared Redis connection. Each command is polled in the Redis thread's context
/// ([`redis_runtime`]), and is sent once more when the connection it went out on had been lost
/// (Redis restarted, a proxy dropped it): the manager reconnects on that failure, and the second
/// try goes out on the new connection, so a request after Redis returns is served instead of
/// answered 503. Timeouts are not tried again: under load that would double it.
#[derive(Clone)]
pub struct Redis(ConnectionManager);

/// Polls `command` with the Redis runtime as the current one. Spawning every command onto that
/// runtime instead did the same for the driver, at the price of a task, a copy of the command and
/// a thread hop per command (about a tenth of a signed read's CPU, measured).
fn in_redis_context<'a, T>(
    command: impl Future<Output = redis::RedisResult<T>> + Send + 'a,
) -> redis::RedisFuture<'a, T> {
    let mut command = Box::pin(command);
    Box::pin(std::future::poll_fn(move |cx| {
        let _context = redis_runtime().enter();
        command.as_mut().poll(cx)
    }))
}

impl redis::aio::ConnectionLike for Redis {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let conn = &mut self.0;
        in_redis_context(async move {
            match conn.req_packed_command(cmd).await {
                Err(err) if err.is_unrecoverable_error() => {
                    metrics::counter!("redis_commands_retried_total").increment(1);
                    conn.req_packed_command(cmd).await
                }
                reply => reply,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let conn = &mut self.0;
        in_redis_context(async move {
            match conn.req_packed_commands(pipeline, offset, count).await {
                Err(err) if err.is_unrecoverable_error() => {
                    metrics::counter!("redis_commands_retried_total").increment(1);
                    conn.req_packed_commands(pipeline, offset, count).await
                }
                reply => reply,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// Counts one lookup in a cache (`cache_requests_total`, by cache and outcome: `hit`, `miss`, or
/// the cache's own, such as the card view's `local` and `shared`).
pub fn count_cache_lookup(cache: &'static str, outcome: &'static str) {
    metrics::counter!("cache_requests_total", "cache" => cache, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::StorageError;

    fn database(kind: DatabaseErrorKind, message: &str) -> StorageError {
        StorageError::Database(Error::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn a_lost_connection_a_stopping_server_a_timeout_and_a_lost_race_are_worth_a_retry() {
        for error in [
            database(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            database(
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection",
            ),
            database(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            database(
                DatabaseErrorKind::Unknown,
                "the database system is starting up",
            ),
            database(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
            database(DatabaseErrorKind::Unknown, "could not obtain lock on row"),
            database(
                DatabaseErrorKind::Unknown,
                "sorry, too many clients already",
            ),
            database(DatabaseErrorKind::Unknown, "deadlock detected"),
            database(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize",
            ),
            database(DatabaseErrorKind::UniqueViolation, "duplicate key value"),
            StorageError::Database(Error::BrokenTransactionManager),
            StorageError::Database(Error::RollbackErrorOnCommit {
                commit_error: Box::new(Error::DatabaseError(
                    DatabaseErrorKind::Unknown,
                    Box::new("terminating connection due to administrator command".to_owned()),
                )),
                rollback_error: Box::new(Error::DatabaseError(
                    DatabaseErrorKind::UnableToSendCommand,
                    Box::new("connection closed".to_owned()),
                )),
            }),
        ] {
            assert!(error.is_transient(), "{error}");
        }
    }

    #[test]
    fn a_refused_statement_and_corrupt_data_are_not() {
        for error in [
            database(
                DatabaseErrorKind::CheckViolation,
                "violates check constraint",
            ),
            database(
                DatabaseErrorKind::ForeignKeyViolation,
                "violates foreign key",
            ),
            database(DatabaseErrorKind::Unknown, "column \"x\" does not exist"),
            StorageError::Database(Error::NotFound),
            StorageError::Corrupt("phase holds \"later\"".into()),
        ] {
            assert!(!error.is_transient(), "{error}");
        }
        assert!(database(DatabaseErrorKind::Unknown, "deadlock detected").is_conflict());
        assert!(database(DatabaseErrorKind::Unknown, "bigint out of range").is_out_of_range());
        assert!(!database(DatabaseErrorKind::Unknown, "bigint out of range").is_transient());
        assert!(!database(DatabaseErrorKind::Unknown, "deadlock detected").is_out_of_range());
        assert!(
            !database(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command"
            )
            .is_conflict(),
            "a lost connection is answered 503, not tried again inside the batch"
        );
    }
}
