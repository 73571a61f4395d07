//! clubgate operations: the use cases every door calls. An operation loads what
//! its decision needs from storage, lets the domain decide, and stores the result,
//! in one transaction or through the ledger committer; an idempotent write records
//! its typed outcome with the work. Operations return domain outcomes, never HTTP
//! answers: the partner API, pages, the CLI and background jobs each render them.
//!
//! - [`Club`]: what an operation needs (storage, programme settings, member-data
//!   keys, the ledger committer), started once per process.
//! - [`idempotency`]: scopes, claims, recorded outcomes, replays; [`error`]: how an
//!   operation fails.
//! - [`ledger`]: earns, redemptions, holds, releases, reversals, history, maintenance.
//! - [`members`]: enrolment, the card check, card blocks and replacements.
//! - [`partners`], [`pricing`], [`keys`]: the coalition, point rules and quotes, signing keys.
//! - [`authentication`]: the signature policy for partner and operator requests.
//! - [`settlement`]: terms, the period close, statements, answers, reconciliation.

pub mod analytics;
pub mod authentication;
mod bonuses;
pub mod dry_runs;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod keys;
pub mod ledger;
pub mod members;
pub mod messages;
mod nonces;
pub mod occasions;
pub mod partners;
pub mod portal;
pub mod pricing;
pub mod program;
mod replays;
pub mod settlement;
pub mod staff;

use std::time::Duration;

use domain::ids::PartnerId;
use domain::keys::ReservedKeys;
use domain::member_data::MemberDataKeys;
use domain::partners::PartnerProfile;
use domain::program::ProgramSettings;
use moka::future::Cache;
use storage::Storage;

use crate::idempotency::IdempotencySettings;
use crate::ledger::committer::{Committer, CommitterSettings};

/// What the club's operations need, shared by every door of one process (cheap to clone).
#[derive(Clone)]
pub struct Club {
    /// PostgreSQL, Redis and the in-process caches.
    pub storage: Storage,
    /// The programme's settings.
    pub program: ProgramSettings,
    /// The keys protecting members' personal data.
    pub member_data_keys: MemberDataKeys,
    /// The idempotency claim's lease.
    pub idempotency: IdempotencySettings,
    /// The gateway's own keys, which no one may register.
    pub reserved_keys: ReservedKeys,
    committer: Committer,
    /// Partners' profiles as their own requests see them (`partners::profile`).
    profiles: Cache<PartnerId, PartnerProfile>,
    /// Partners' and branches' ids by code, for the rules that name them (read again as often as
    /// the rules are).
    places: Cache<(), std::sync::Arc<program::Places>>,
}

/// How to start a [`Club`].
#[derive(Debug, Clone)]
pub struct ClubSettings {
    /// The programme's settings.
    pub program: ProgramSettings,
    /// The keys protecting members' personal data.
    pub member_data_keys: MemberDataKeys,
    /// The idempotency claim's lease.
    pub idempotency: IdempotencySettings,
    /// How the ledger committers form batches.
    pub committer: CommitterSettings,
    /// The gateway's own keys, which no one may register.
    pub reserved_keys: ReservedKeys,
    /// How long a partner's profile is cached for its own requests: the signing keys' cache
    /// lifetime, so a change shows within the same delay as a revocation.
    pub profile_cache_ttl: Duration,
}

impl Club {
    /// The club over `storage`; starts the ledger committers, so it must run inside a Tokio
    /// runtime.
    pub fn start(storage: Storage, settings: ClubSettings) -> Self {
        let committer = Committer::start(
            storage.clone(),
            settings.program.clone(),
            settings.committer,
        );
        let rules_refresh = settings.program.rules_refresh;
        Self {
            storage,
            program: settings.program,
            member_data_keys: settings.member_data_keys,
            idempotency: settings.idempotency,
            reserved_keys: settings.reserved_keys,
            committer,
            profiles: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(settings.profile_cache_ttl)
                .build(),
            places: Cache::builder()
                .max_capacity(1)
                .time_to_live(rules_refresh.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// Partners' and branches' ids by code (read again once the rules' refresh has passed; at
    /// every use when it is zero).
    pub(crate) async fn places(
        &self,
    ) -> Result<std::sync::Arc<program::Places>, storage::StorageError> {
        if self.program.rules_refresh.is_zero() {
            return Ok(std::sync::Arc::new(
                program::Places::load(&self.storage).await?,
            ));
        }
        self.places
            .try_get_with((), async {
                program::Places::load(&self.storage)
                    .await
                    .map(std::sync::Arc::new)
            })
            .await
            .map_err(|e| storage::StorageError::Pool(format!("partners could not be read: {e}")))
    }
}
