//! Wiring: the HTTP server with rustls, the background jobs, graceful shutdown.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{HttpServer, web::Data};
use anyhow::Context as _;
use domain::program::ProgramSettings;
use operations::ledger::maintenance;
use operations::occasions;
use operations::settlement::close::{self, CloseSettings};
use storage::Storage;

use crate::config::{Config, GatewayKeys};
use crate::http::routes;
use crate::state::{AppState, storage_settings};
use crate::tls;

/// Runs ledger maintenance (expired holds, due pending earns, expired lots) every `interval`,
/// and the day's birthday and anniversary bonuses once each local day (and at start).
fn spawn_maintenance(storage: Storage, program: ProgramSettings, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut occasions_done_on = None;
        loop {
            ticks.tick().await;
            let now = chrono::Utc::now();
            if let Err(err) = maintenance::run(&storage, &program, now).await {
                tracing::warn!(error = %err, "ledger maintenance failed; it runs again in {} s", interval.as_secs());
            }
            let today = domain::program::tiers::local_day(now, program.time_zone);
            if occasions_done_on != Some(today) {
                match occasions::run(&storage, &program, now).await {
                    Ok(_) => occasions_done_on = Some(today),
                    Err(err) => {
                        tracing::warn!(error = %err, "the day's bonuses failed; they run again in {} s", interval.as_secs());
                    }
                }
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

/// Sends the outbox's text messages every `interval` through `provider`.
fn spawn_messages(
    club: operations::Club,
    provider: operations::messages::SmsProvider,
    interval: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) =
                operations::messages::dispatch(&club, &provider, chrono::Utc::now()).await
            {
                tracing::warn!(error = %err, "text messages could not be sent; they are tried again");
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
        let storage = Storage::connect(&storage_settings(config))
            .await
            .context("cannot connect to storage")?;
        Self::build_with(config, listener, AppState::new(config, storage))
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
            state.club.storage.clone(),
            state.club.program.clone(),
            config.maintenance_interval,
        );
        if let Some(interval) = config.settlement_close_interval {
            spawn_settlement(
                state.club.storage.clone(),
                state.gateway_keys.clone(),
                state.settlement,
                interval,
            );
        }
        if config.messages.provider == Some(operations::messages::SmsProvider::Development)
            && !config.server.listen.ip().is_loopback()
        {
            tracing::warn!(
                "the development text-message provider sends nothing, and /dev/messages is off on a gateway others can reach: members cannot sign in"
            );
        }
        match &config.messages.provider {
            Some(provider) => spawn_messages(
                state.club.clone(),
                provider.clone(),
                config.messages.dispatch_interval,
            ),
            None => tracing::warn!(
                "no text-message provider is configured ([messages] provider): members' sign-in codes stay in the outbox"
            ),
        }
        let tls = tls::server_config(&config.server.tls)?;
        let pages = Data::new(pages::Pages {
            club: state.club.clone(),
            // The outbox page shows sign-in codes to whoever asks: only for a gateway reachable
            // from this machine alone.
            development_messages: config.messages.provider
                == Some(operations::messages::SmsProvider::Development)
                && config.server.listen.ip().is_loopback(),
            settings: pages::PagesSettings {
                secure_cookies: tls.is_some(),
                ..config.pages
            },
        });
        let state = Data::new(state);
        crate::http::error::render_parser_refusals();
        let server = HttpServer::new(move || routes::app(state.clone(), pages.clone()))
            .workers(config.server.workers)
            .shutdown_timeout(config.server.shutdown_timeout.as_secs())
            .client_request_timeout(config.server.request_head_timeout);
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
