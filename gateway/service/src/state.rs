//! What every request handler reaches: the club's operations, the request
//! authenticator, the gateway's signing keys and the HTTP limits. Built by `app`,
//! read by `http`; it sits below both.

use operations::Club;
use operations::authentication::{AuthSettings, Authenticator};
use operations::settlement::close::CloseSettings;
use operations::{ClubSettings, idempotency::IdempotencySettings};
use secrecy::ExposeSecret as _;
use storage::{Storage, StorageSettings};

use crate::config::{Config, GatewayKeys};

/// What every request handler can reach.
pub struct AppState {
    /// The club's operations.
    pub club: Club,
    /// Checks request signatures.
    pub authenticator: Authenticator,
    /// The gateway's signing keys (receipts, statements, the JWKS).
    pub gateway_keys: GatewayKeys,
    /// When settlement periods close.
    pub settlement: CloseSettings,
    /// The request body limit.
    pub max_body_bytes: usize,
    /// The streamed upload limit.
    pub max_upload_bytes: usize,
}

/// The storage settings a configuration describes.
pub fn storage_settings(config: &Config) -> StorageSettings {
    StorageSettings {
        database_url: config.database_url.expose_secret().to_owned(),
        pool_size: config.database_pool_size,
        ledger_pool_size: config.ledger.committers,
        connect_timeout: config.connect_timeout,
        redis_url: config.redis_url.expose_secret().to_owned(),
        redis_key_prefix: config.redis_key_prefix.clone(),
        rules_refresh: config.program.rules_refresh,
    }
}

/// The club's settings a configuration describes.
pub fn club_settings(config: &Config) -> ClubSettings {
    ClubSettings {
        program: config.program.clone(),
        member_data_keys: config.member_data_keys.clone(),
        idempotency: IdempotencySettings {
            lease: config.protocol.idempotency_lease,
        },
        committer: config.ledger,
        reserved_keys: config.keys.reserved(),
        profile_cache_ttl: config.protocol.key_cache_ttl,
    }
}

impl AppState {
    /// The shared state over an existing storage handle (starts the ledger committers, so it
    /// must run inside a Tokio runtime).
    pub fn new(config: &Config, storage: Storage) -> Self {
        let authenticator = Authenticator::new(
            storage.clone(),
            AuthSettings {
                window: config.protocol.signature_window,
                clock_skew: config.protocol.clock_skew,
                key_cache_ttl: config.protocol.key_cache_ttl,
            },
        );
        Self {
            club: Club::start(storage, club_settings(config)),
            authenticator,
            gateway_keys: config.keys.clone(),
            settlement: config.settlement,
            max_body_bytes: config.server.max_body_bytes,
            max_upload_bytes: config.server.max_upload_bytes,
        }
    }
}
