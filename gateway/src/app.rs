//! Wiring: the shared state, the HTTP server with rustls, graceful shutdown.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{HttpServer, web::Data};
use anyhow::Context as _;
use secrecy::ExposeSecret as _;

use crate::config::{Config, GatewayKeys};
use crate::domain::authentication::{AuthSettings, Authenticator};
use crate::domain::idempotency::IdempotencySettings;
use crate::domain::ledger::committer::Committer;
use crate::domain::ledger::{self, ProgramSettings};
use crate::domain::member_data::MemberDataKeys;
use crate::domain::settlement::close::{self, CloseSettings};
use crate::http::{ledger_answers, routes};
use crate::storage::{Storage, StorageSettings};
use crate::tls;

/// What every request handler can reach.
pub struct AppState {
    pub storage: Storage,
    pub authenticator: Authenticator,
    pub gateway_keys: GatewayKeys,
    pub idempotency: IdempotencySettings,
    pub settlement: CloseSettings,
    pub max_body_bytes: usize,
    pub max_upload_bytes: usize,
    pub program: ProgramSettings,
    pub member_data_keys: MemberDataKeys,
    /// Where earns and redemptions are committed, in batches.
    pub committer: Committer,
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
    }
}

impl AppState {
    /// Connects to storage and builds the shared state.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let storage = Storage::connect(&storage_settings(config))
            .await
            .context("cannot connect to storage")?;
        Ok(Self::with_storage(config, storage))
    }

    /// The shared state over an existing storage handle (starts the ledger committers, so it
    /// must run inside a Tokio runtime).
    pub fn with_storage(config: &Config, storage: Storage) -> Self {
        let authenticator = Authenticator::new(
            storage.clone(),
            AuthSettings {
                window: config.protocol.signature_window,
                clock_skew: config.protocol.clock_skew,
                key_cache_ttl: config.protocol.key_cache_ttl,
            },
        );
        let committer = Committer::start(
            storage.clone(),
            config.program.clone(),
            config.ledger,
            ledger_answers::render_created,
        );
        Self {
            committer,
            storage,
            authenticator,
            gateway_keys: config.keys.clone(),
            idempotency: IdempotencySettings {
                lease: config.protocol.idempotency_lease,
            },
            settlement: config.settlement,
            max_body_bytes: config.server.max_body_bytes,
            max_upload_bytes: config.server.max_upload_bytes,
            program: config.program.clone(),
            member_data_keys: config.member_data_keys.clone(),
        }
    }
}

/// Runs ledger maintenance (expired holds, due pending earns, expired lots) every `interval`.
fn spawn_maintenance(storage: Storage, program: ProgramSettings, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) = ledger::run_maintenance(&storage, &program, chrono::Utc::now()).await
            {
                tracing::warn!(error = %err, "ledger maintenance failed; it runs again in {} s", interval.as_secs());
            }
        }
    });
}

/// Closes due settlement periods every `interval` (one instance at a time per partner:
/// the close takes a per-partner advisory lock).
fn spawn_settlement(
    storage: Storage,
    keys: GatewayKeys,
    settings: CloseSettings,
    interval: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) =
                close::settle(&storage, &keys.current, settings, chrono::Utc::now()).await
            {
                tracing::warn!(error = %err, "settlement close failed; it runs again in {} s", interval.as_secs());
            }
        }
    });
}

/// A bound, not yet running gateway.
pub struct Application {
    server: Server,
    port: u16,
    is_tls: bool,
}

impl Application {
    /// Binds the configured address.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.server.listen)
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let state = AppState::build(config).await?;
        Self::build_with(config, listener, state)
    }

    /// Serves on `listener` with `state` (tests bind port 0 and bring their own storage).
    pub fn build_with(
        config: &Config,
        listener: TcpListener,
        state: AppState,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        crate::metrics::install();
        spawn_maintenance(
            state.storage.clone(),
            state.program.clone(),
            config.maintenance_interval,
        );
        if let Some(interval) = config.settlement_close_interval {
            spawn_settlement(
                state.storage.clone(),
                state.gateway_keys.clone(),
                state.settlement,
                interval,
            );
        }
        let state = Data::new(state);
        let server = HttpServer::new(move || routes::app(state.clone()))
            .workers(config.server.workers)
            .shutdown_timeout(config.server.shutdown_timeout.as_secs());
        let tls = tls::server_config(&config.server.tls)?;
        let is_tls = tls.is_some();
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Self {
            server,
            port,
            is_tls,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.is_tls { "https" } else { "http" }
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
