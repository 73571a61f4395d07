//! The card-check cache: moka in each instance, in front of Redis (shared), in
//! front of PostgreSQL.
//!
//! Entries are versioned per member: every committed change to a member's
//! points or cards replaces `member:{id}:version` in Redis with a new random token
//! *before* the writer answers (and a retry answered from the first attempt's
//! record replaces it again, in case the first writer died before it could). A
//! cached view is used only while its token equals the current one, so the next
//! read after any acknowledged write (on this instance or another) sees it. Tokens
//! are random, not counters, so a Redis that lost its memory never hands out a
//! token an old view was stored under: the first read finds none, makes one, and
//! loads from PostgreSQL. The check costs one Redis round trip and saves the
//! database queries of a card check. If Redis cannot be reached, reads go to
//! PostgreSQL and nothing is cached; a token change that failed is retried until
//! Redis is back. Redis is never the authority for a redemption: writes always
//! decide in PostgreSQL.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::cards::{CardStatus, MemberStatus};
use domain::ids::{MemberId, PartnerId};
use domain::ledger::Balance;

use domain::pricing::BranchPricing;
use moka::future::Cache;
use serde::{Deserialize, Serialize};

use super::{Storage, StorageError};

/// How long a view lives, in Redis and in memory. Versions keep views correct; this bounds how long
/// a view could outlive a writer that crashed between its commit and its token change.
const VIEW_TTL_SECS: u64 = 60;
/// How long a member's token lives in Redis without a change: far longer than a view, so a view
/// is never orphaned early, and bounded, so quiet members cost Redis nothing forever.
const VERSION_TTL_SECS: u64 = 86_400;
/// How long a branch's point rule is cached (a rule change takes effect within this time).
const RULE_TTL_SECS: u64 = 10;

/// A card's check view, as the operations computed it from PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardView {
    /// The card's member.
    pub member_id: MemberId,
    /// The card's status.
    pub card_status: CardStatus,
    /// The member's status.
    pub member_status: MemberStatus,
    /// The member's first name.
    pub first_name: String,
    /// What the member did per local day, as far back as the tiers in force count (their
    /// standing is decided from it when the card is checked).
    pub activity: Vec<(chrono::NaiveDate, domain::program::tiers::Tally)>,
    /// The member's balance.
    pub balance: Balance,
    /// The view is exact until this time (the next lot expiry or hold timeout), at the latest.
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Versioned {
    version: i64,
    view: CardView,
}

/// The per-instance part of the cache, shared by all workers.
#[derive(Clone)]
pub struct CardCache {
    local: Cache<String, Versioned>,
    /// Card number → its member and who referred them (a card never changes hands, a referral
    /// is never rewritten; the card's status is checked where it is used).
    pub members: Cache<String, (MemberId, Option<MemberId>)>,
    /// (partner, branch code or id) → the branch's id, its rule if any, the partner's limits.
    pub rules: Cache<(PartnerId, String), BranchPricing>,
    /// Members whose purchases reward no referrer: never referred, or bought before (neither
    /// ever changes back).
    pub no_referral_due: Cache<MemberId, ()>,
    /// Members whose token change failed (Redis down), retried later.
    unbumped: Arc<Mutex<HashSet<MemberId>>>,
}

impl CardCache {
    fn has_unbumped(&self) -> bool {
        self.unbumped
            .lock()
            .map(|set| !set.is_empty())
            .unwrap_or(true)
    }

    /// A cache holding up to `capacity` cards in this instance.
    pub fn new(capacity: u64) -> Self {
        Self {
            local: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(Duration::from_secs(VIEW_TTL_SECS))
                .build(),
            members: Cache::new(capacity),
            no_referral_due: Cache::new(capacity),
            rules: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(RULE_TTL_SECS))
                .build(),
            unbumped: Arc::new(Mutex::new(HashSet::new())),
        }
    }
}

fn hit(outcome: &'static str) {
    super::count_cache_lookup("card_view", outcome);
}

/// The member's current token; `None` if Redis has none (never made, expired, or forgotten).
async fn version(storage: &Storage, member_id: MemberId) -> Result<Option<i64>, StorageError> {
    let mut redis = storage.redis();
    Ok(redis::cmd("GET")
        .arg(storage.keys.member_version(member_id))
        .query_async(&mut redis)
        .await?)
}

fn new_token() -> i64 {
    // Two 64-bit halves of a v4 UUID: random, and unique in practice.
    uuid::Uuid::new_v4().as_u64_pair().0.cast_signed()
}

/// A cached view of the card that is still current at `now`, if there is one.
pub async fn lookup(storage: &Storage, number: &str, now: DateTime<Utc>) -> Option<CardView> {
    if storage.card_cache().has_unbumped() {
        retry_bumps(storage).await;
        if storage.card_cache().has_unbumped() {
            hit("unavailable");
            return None;
        }
    }
    let usable = |v: &Versioned| v.view.valid_until.is_none_or(|t| t > now);
    let cache = storage.card_cache();
    if let Some(local) = cache.local.get(number).await.filter(|v| usable(v)) {
        match version(storage, local.view.member_id).await {
            Ok(Some(current)) if current == local.version => {
                hit("local");
                return Some(local.view);
            }
            Ok(_) => {}
            Err(_) => {
                hit("unavailable");
                return None;
            }
        }
    }
    let mut redis = storage.redis();
    let shared: Option<String> = redis::cmd("GET")
        .arg(storage.keys.card_view(number))
        .query_async(&mut redis)
        .await
        .ok()
        .flatten();
    if let Some(shared) = shared
        .and_then(|s| serde_json::from_str::<Versioned>(&s).ok())
        .filter(|v| usable(v))
        && let Ok(Some(current)) = version(storage, shared.view.member_id).await
        && current == shared.version
    {
        hit("shared");
        cache.local.insert(number.to_owned(), shared.clone()).await;
        return Some(shared.view);
    }
    hit("miss");
    None
}

/// The member's current token, read *before* loading a view from PostgreSQL (so a write racing
/// the load makes the stored view stale, never wrong), made now if Redis has none; `None` if Redis
/// is down.
pub async fn version_before_load(storage: &Storage, member_id: MemberId) -> Option<i64> {
    let mut redis = storage.redis();
    let token = new_token();
    // `NX GET`: the existing token if there is one, else ours, set atomically.
    let existing: Option<i64> = redis::cmd("SET")
        .arg(storage.keys.member_version(member_id))
        .arg(token)
        .arg("NX")
        .arg("GET")
        .arg("EX")
        .arg(VERSION_TTL_SECS)
        .query_async(&mut redis)
        .await
        .ok()?;
    Some(existing.unwrap_or(token))
}

/// Stores a view loaded from PostgreSQL under the version read before loading it.
pub async fn store(storage: &Storage, number: &str, version: i64, view: CardView) {
    let entry = Versioned { version, view };
    let mut redis = storage.redis();
    if let Ok(json) = serde_json::to_string(&entry) {
        let stored: Result<(), _> = redis::cmd("SET")
            .arg(storage.keys.card_view(number))
            .arg(json)
            .arg("EX")
            .arg(VIEW_TTL_SECS)
            .query_async(&mut redis)
            .await;
        if stored.is_err() {
            return;
        }
    }
    storage
        .card_cache()
        .local
        .insert(number.to_owned(), entry)
        .await;
}

/// Marks a member's cached views stale after a committed change; call before answering the writer.
pub async fn bump(storage: &Storage, member_id: MemberId) {
    bump_many(storage, &[member_id]).await;
}

/// [`bump`] for several members in one Redis round trip (a batch's commit): a new token each.
pub async fn bump_many(storage: &Storage, member_ids: &[MemberId]) {
    if member_ids.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for member_id in member_ids {
        pipe.cmd("SET")
            .arg(storage.keys.member_version(*member_id))
            .arg(new_token())
            .arg("EX")
            .arg(VERSION_TTL_SECS)
            .ignore();
    }
    let mut redis = storage.redis();
    if let Err(err) = pipe.query_async::<()>(&mut redis).await {
        tracing::warn!(members = member_ids.len(), error = %err, "cache versions not bumped; retried when Redis is back");
        if let Ok(mut pending) = storage.card_cache().unbumped.lock() {
            pending.extend(member_ids);
        }
        // Until then, this instance must not serve these members from its own memory.
        storage.card_cache().local.invalidate_all();
    }
}

/// Retries the token changes that failed while Redis was down.
pub async fn retry_bumps(storage: &Storage) {
    let pending: Vec<MemberId> = match storage.card_cache().unbumped.lock() {
        Ok(mut set) => set.drain().collect(),
        Err(_) => return,
    };
    for member_id in pending {
        bump(storage, member_id).await;
    }
}
