//! Storage: PostgreSQL through diesel-async, Redis, and the in-process caches.
//!
//! Functions here read and write rows and return domain types; they never make
//! business decisions. Every Redis key is built by [`keys::RedisKeys`] so that no
//! caller can forget the deployment's (or the test's) key prefix.

pub mod branches;
pub mod card_cache;
pub mod idempotency;
pub mod keys;
pub mod ledger;
pub mod ledger_batch;
pub mod members;
pub mod migrations;
pub mod nonces;
pub mod operator_keys;
pub mod partner_keys;
pub mod partners;
pub mod rules;
pub mod schema;
pub mod settlement;

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use redis::aio::ConnectionManager;

pub use keys::RedisKeys;

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
        let redis = tokio::time::timeout(
            settings.connect_timeout,
            ConnectionManager::new_with_config(client, redis_config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))??;
        Ok(Self {
            pool,
            ledger_pool,
            redis,
            keys: RedisKeys::new(&settings.redis_key_prefix),
            card_cache: card_cache::CardCache::new(100_000),
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

    /// This instance's card-check cache.
    pub fn card_cache(&self) -> &card_cache::CardCache {
        &self.card_cache
    }

    /// A handle to the shared, multiplexed Redis connection.
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
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
