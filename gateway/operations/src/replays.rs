//! Replay protection: a signature's nonce is accepted once, across any Redis loss, on any instance
//! (`docs/architecture.md`, "Replay protection").
//!
//! The fast path is one Redis round trip: `SET nonce NX` with a `GET` of the nonce epoch. The nonce
//! is then mirrored to PostgreSQL behind the request, within a tick. PostgreSQL is asked at the
//! request (through the [`NonceRegister`]) only when Redis may not know a nonce that was accepted:
//!
//! - Redis lost its memory (the epoch is gone or changed, noticed by a request or by the tick):
//!   signatures created before the loss plus the clock skew may have been accepted into the old
//!   memory, so they are checked in PostgreSQL, once every instance's mirror has caught up (its row
//!   in `nonce_mirrors` names the new epoch, or it stopped writing long enough ago that nothing it
//!   accepted could still be signed that late);
//! - an instance cannot reach Redis: it accepts in PostgreSQL only, after drawing a new epoch that
//!   every instance must adopt (so all have seen it and mirrored what they hold), and while it
//!   does, and for the skew after, every instance checks PostgreSQL too.
//!
//! An instance uses the fast path only while its last mirror write is recent (a lease), so one that
//! lost PostgreSQL or died holds back no nonce beyond the lease.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use storage::nonces::MirrorRow;
use storage::{Storage, StorageError};
use tokio::sync::Notify;

use crate::nonces::NonceRegister;

/// How often an instance mirrors its nonces and looks at Redis's epoch.
const TICK: Duration = Duration::from_millis(100);
/// How long after its last mirror write an instance still accepts in Redis alone.
const LEASE: Duration = Duration::from_secs(2);
/// A row is written at least this often, so others can tell a live instance from a dead one.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// How far the instances' clocks may be from PostgreSQL's, seconds.
const CLOCK_MARGIN: i64 = 1;
/// How long a request waits for the mirrors to catch up before it is answered 503.
const CATCH_UP: Duration = Duration::from_secs(2);
/// Nonces accepted in Redis and not yet mirrored, at most; beyond, PostgreSQL is asked directly.
const UNMIRRORED_MAX: usize = 100_000;
/// Nonces in one mirror statement.
const MIRROR_BATCH: usize = 5_000;
/// How long a request checked in PostgreSQL waits for the mirrored nonces to be read.
const MIRRORED_READ: Duration = Duration::from_secs(5);

/// Accepts each signature's nonce once; one per process, shared by all workers.
#[derive(Clone)]
pub(crate) struct ReplayGuard {
    shared: Arc<Shared>,
}

struct Shared {
    storage: Storage,
    register: NonceRegister,
    ttl: Duration,
    /// The signature policy's clock skew, seconds.
    skew: i64,
    instance_id: String,
    state: Mutex<State>,
    /// Woken after each mirror write, for requests waiting for the mirrors to catch up.
    caught_up: Notify,
    waiting: AtomicUsize,
    /// The digests every instance mirrored, read for the checked path once the mirrors caught up.
    mirrored: tokio::sync::Mutex<Option<Mirrored>>,
}

/// The mirrored digests as read once every mirror had caught up with `epoch`: every nonce accepted
/// through Redis under an earlier epoch, which Redis may have forgotten. Those it accepts later it
/// still holds, and the checked path marks its own there.
struct Mirrored {
    epoch: i64,
    /// Some instances were behind the epoch at the read: it holds what they mirrored of signatures
    /// created from this time on (UNIX seconds).
    serves_from: f64,
    read_at: Instant,
    digests: Arc<HashSet<i64>>,
}

#[derive(Default)]
struct State {
    /// The epoch the fast path accepts under: Redis must hold it. `None` until the tick settles one.
    epoch: Option<i64>,
    /// Digests of nonces accepted in Redis, not yet in PostgreSQL.
    unmirrored: Vec<i64>,
    /// The fast path is open until then (the last mirror write's start plus the lease).
    lease_until: Option<Instant>,
    redis_unreachable: bool,
    /// Some other live instance could not reach Redis at the last read: while one cannot, every
    /// signature is checked in PostgreSQL, and for the skew after (`check_before`).
    others_unreachable: bool,
    /// Signatures created before this (UNIX seconds) are checked in PostgreSQL.
    check_before: i64,
    /// Every instance's row, as last read.
    rows: Vec<MirrorRow>,
}

impl State {
    fn fast_path_open(&self, created: i64) -> bool {
        self.epoch.is_some()
            && !self.redis_unreachable
            && !self.others_unreachable
            && created >= self.check_before
            && self.unmirrored.len() < UNMIRRORED_MAX
            && self.lease_open()
    }

    /// This instance's last mirror write is recent enough for the others to count it live.
    fn lease_open(&self) -> bool {
        self.lease_until.is_some_and(|until| Instant::now() < until)
    }

    /// Whether every instance has mirrored what it accepted before this instance's epoch, as far
    /// as a signature created at `created` could be among it.
    fn caught_up(&self, created: i64, skew: i64) -> bool {
        let Some(epoch) = self.epoch else {
            return false;
        };
        !self.rows.is_empty() && created as f64 >= self.behind(epoch, skew)
    }

    /// Signatures created from this time on (UNIX seconds) cannot be among what the instances whose
    /// rows are behind `epoch` accepted and have not mirrored: each accepted in Redis alone until
    /// its last write plus the lease, signatures up to the skew ahead, on a clock up to the margin
    /// off.
    fn behind(&self, epoch: i64, skew: i64) -> f64 {
        let reach = (LEASE.as_secs() as i64 + skew + CLOCK_MARGIN) as f64;
        self.rows
            .iter()
            .filter(|row| row.epoch < epoch)
            .map(|row| row.updated_at + reach)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Redis holds the epoch `held`, not this instance's: it lost its memory, or moved on. Until the
    /// tick settles an epoch, nonces are checked in PostgreSQL.
    fn epoch_moved(&mut self, held: Option<i64>, now: i64, skew: i64) {
        if self.epoch.is_some() {
            tracing::warn!(
                ?held, expected = ?self.epoch,
                "Redis's nonce epoch changed: it may have forgotten nonces"
            );
        }
        self.epoch = None;
        self.distrust_until(now, skew);
    }

    /// Redis may have forgotten nonces accepted until `now`: older signatures go to PostgreSQL.
    fn distrust_until(&mut self, now: i64, skew: i64) {
        self.check_before = self.check_before.max(distrusted_before(now, skew));
    }
}

impl ReplayGuard {
    /// Starts the guard's mirror (inside a Tokio runtime); nonces are kept for `ttl`, and
    /// signatures may be created up to `clock_skew` ahead of the gateway's clock.
    pub(crate) fn start(storage: Storage, ttl: Duration, clock_skew: Duration) -> Self {
        let shared = Arc::new(Shared {
            register: NonceRegister::start(storage.clone(), ttl),
            storage,
            ttl,
            skew: i64::try_from(clock_skew.as_secs()).unwrap_or(i64::MAX / 4),
            instance_id: uuid::Uuid::new_v4().simple().to_string(),
            state: Mutex::new(State::default()),
            caught_up: Notify::new(),
            waiting: AtomicUsize::new(0),
            mirrored: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(mirror(Arc::downgrade(&shared)));
        Self { shared }
    }

    /// Accepts the nonce of a signature by `key_id` created at `created`; `false` if it was
    /// accepted before (a replay). `now` is the gateway's clock (UNIX seconds).
    pub(crate) async fn accept(
        &self,
        key_id: &str,
        nonce: &str,
        created: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        let shared = &self.shared;
        let mut marked = false;
        if shared.lock().fast_path_open(created) {
            match storage::nonces::claim_in_redis(&shared.storage, key_id, nonce, shared.ttl).await
            {
                Ok((claimed, epoch)) => {
                    // Hashed before the lock every request and the tick take, not under it.
                    let digest = storage::nonces::digest(key_id, nonce);
                    let mut state = shared.lock();
                    if epoch.is_some() && epoch == state.epoch {
                        if !claimed {
                            return Ok(false);
                        }
                        if state.fast_path_open(created) {
                            state.unmirrored.push(digest);
                            count_check("redis");
                            return Ok(true);
                        }
                    } else {
                        state.epoch_moved(epoch, now, shared.skew);
                        if !claimed {
                            // Marked in this Redis since it came back: accepted before.
                            return Ok(false);
                        }
                    }
                    marked = true;
                }
                Err(err) => shared.redis_failed(err)?,
            }
        }
        self.accept_in_database(key_id, nonce, created, now, marked)
            .await
    }

    /// Accepts the nonce in PostgreSQL, once every mirror has caught up; marks it in Redis first
    /// unless `marked` already or Redis is unreachable, so that a later request with the same
    /// signature on the fast path (on any instance) finds it there.
    async fn accept_in_database(
        &self,
        key_id: &str,
        nonce: &str,
        created: i64,
        now: i64,
        mut marked: bool,
    ) -> Result<bool, StorageError> {
        let shared = &self.shared;
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        let epoch = loop {
            let Some(epoch) = shared.wait_until_caught_up(created, deadline).await else {
                return Err(StorageError::NotCommitted(
                    "the gateway instances' nonce records are catching up after a Redis loss"
                        .into(),
                ));
            };
            if marked || shared.lock().redis_unreachable {
                break epoch;
            }
            match storage::nonces::claim_in_redis(&shared.storage, key_id, nonce, shared.ttl).await
            {
                Ok((false, _)) => return Ok(false),
                Ok((true, held)) => {
                    marked = true;
                    if held == Some(epoch) {
                        break epoch;
                    }
                    // Redis forgot since the mirrors caught up (and this instance's tick has not
                    // seen it yet): what it forgot is read once they catch up with a new epoch.
                    shared.lock().epoch_moved(held, now, shared.skew);
                }
                // Unreachable now: accepted in PostgreSQL alone once the epoch that says so is
                // adopted everywhere.
                Err(err) => shared.redis_failed(err)?,
            }
        };
        let digest = storage::nonces::digest(key_id, nonce);
        let mirrored = tokio::time::timeout(MIRRORED_READ, shared.mirrored(epoch, created))
            .await
            .map_err(|_| {
                StorageError::NotCommitted("the mirrored nonces could not be read in time".into())
            })??;
        if mirrored.contains(&digest) {
            return Ok(false);
        }
        count_check("postgresql");
        shared.register.record(key_id, nonce).await
    }
}

fn count_check(store: &'static str) {
    metrics::counter!("signature_nonce_checks_total", "store" => store).increment(1);
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A Redis command failed. A slow answer on a busy machine is no outage: that request is
    /// answered 503 (the error comes back), and the tick's own look decides whether Redis is gone.
    /// Otherwise Redis is unreachable from here, and nonces are accepted in PostgreSQL.
    fn redis_failed(&self, err: StorageError) -> Result<(), StorageError> {
        if matches!(&err, StorageError::Redis(e) if e.is_timeout()) {
            return Err(err);
        }
        let mut state = self.lock();
        if !state.redis_unreachable {
            tracing::warn!(error = %err, "Redis failed: nonces are accepted in PostgreSQL");
        }
        state.redis_unreachable = true;
        state.epoch = None;
        Ok(())
    }

    /// Waits until every mirror has caught up for a signature created at `created`; the epoch they
    /// caught up with, or `None` at `deadline`.
    async fn wait_until_caught_up(
        &self,
        created: i64,
        deadline: tokio::time::Instant,
    ) -> Option<i64> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let caught_up = loop {
            let notified = self.caught_up.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                // Without Redis, accepted in PostgreSQL alone only while the others count this
                // instance live (its row is recent), and so keep checking there too.
                if state.caught_up(created, self.skew)
                    && (!state.redis_unreachable || state.lease_open())
                {
                    break state.epoch;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break None;
            }
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        caught_up
    }

    /// The digests mirrored by every instance, read once they caught up with `epoch` (or a later
    /// one) for a signature created at `created`. One request reads them; the others checked
    /// meanwhile wait for it.
    async fn mirrored(&self, epoch: i64, created: i64) -> Result<Arc<HashSet<i64>>, StorageError> {
        let mut held = self.mirrored.lock().await;
        if let Some(mirrored) = held
            .as_ref()
            .filter(|m| m.epoch >= epoch && created as f64 >= m.serves_from)
        {
            return Ok(mirrored.digests.clone());
        }
        // Rows as they are before the read: what they say was mirrored is in it.
        let serves_from = self.lock().behind(epoch, self.skew);
        let read_at = Instant::now();
        let digests = Arc::new(storage::nonces::mirrored(&mut *self.storage.db().await?).await?);
        tracing::info!(
            epoch,
            digests = digests.len(),
            "read the mirrored nonces for signatures checked in PostgreSQL"
        );
        *held = Some(Mirrored {
            epoch,
            serves_from,
            read_at,
            digests: digests.clone(),
        });
        Ok(digests)
    }

    /// One tick: mirrors what was accepted, writes and reads the rows, then settles the epoch
    /// with Redis.
    async fn tick(
        &self,
        last_write: &mut Option<(Instant, MirrorRow)>,
    ) -> Result<(), StorageError> {
        let now = unix_now();
        let started = Instant::now();
        let (unmirrored, row) = {
            let mut state = self.lock();
            let row = MirrorRow {
                instance_id: self.instance_id.clone(),
                epoch: state.epoch.unwrap_or(0),
                redis_unreachable: state.redis_unreachable,
                check_before: state.check_before,
                updated_at: 0.0,
                read_at: 0.0,
            };
            (std::mem::take(&mut state.unmirrored), row)
        };
        let due = !unmirrored.is_empty()
            || self.waiting.load(Ordering::Relaxed) > 0
            || last_write
                .as_ref()
                .is_none_or(|(at, written)| at.elapsed() >= HEARTBEAT || *written != row);
        if due {
            if let Err(err) = self.write(&unmirrored, &row, started).await {
                self.lock().unmirrored.extend(unmirrored);
                return Err(err);
            }
            *last_write = Some((started, row));
        }
        self.settle_epoch(now).await
    }

    /// Mirrors `unmirrored`, then writes this instance's row and reads everyone's.
    async fn write(
        &self,
        unmirrored: &[i64],
        row: &MirrorRow,
        started: Instant,
    ) -> Result<(), StorageError> {
        let mut conn = self.storage.db().await?;
        for chunk in unmirrored.chunks(MIRROR_BATCH) {
            metrics::histogram!("nonce_mirror_batch_size").record(chunk.len() as f64);
            let seen = storage::nonces::mirror(&mut conn, chunk, self.ttl).await?;
            if seen > 0 {
                // Each was new in Redis: one recorded in PostgreSQL was accepted twice.
                metrics::counter!("signature_replays_missed_total").increment(seen as u64);
                tracing::error!(
                    count = seen,
                    "nonces accepted in Redis were already recorded: a replay was accepted"
                );
            }
        }
        // Nobody keeps a signature longer than its window: rows older are no use to anyone.
        let forget_after = self.ttl + LEASE + Duration::from_secs(60);
        let rows = storage::nonces::write_mirror_row(&mut conn, row, forget_after).await?;
        drop(conn);
        let mut state = self.lock();
        state.lease_until = Some(started + LEASE);
        let live = |r: &&MirrorRow| {
            r.instance_id != self.instance_id
                && r.read_at - r.updated_at < (LEASE.as_secs() + CLOCK_MARGIN as u64) as f64
        };
        let others_unreachable = rows.iter().filter(live).any(|r| r.redis_unreachable);
        let newest_loss = rows.iter().map(|r| r.check_before).max().unwrap_or(0);
        state.check_before = state.check_before.max(newest_loss);
        if others_unreachable || state.others_unreachable {
            // Nonces they accepted are in PostgreSQL only, up to the moment they stop.
            state.distrust_until(unix_now(), self.skew);
        }
        state.others_unreachable = others_unreachable;
        state.rows = rows;
        metrics::gauge!("nonce_mirror_unmirrored").set(state.unmirrored.len() as f64);
        drop(state);
        self.caught_up.notify_waiters();
        if let Ok(mut held) = self.mirrored.try_lock()
            && held
                .as_ref()
                .is_some_and(|m| m.read_at.elapsed() > self.ttl)
        {
            *held = None; // Every nonce in it has expired.
        }
        Ok(())
    }

    /// Compares Redis's epoch with this instance's and the newest any instance has drawn; draws a
    /// new one when Redis lost its memory or cannot be reached.
    async fn settle_epoch(&self, now: i64) -> Result<(), StorageError> {
        let (epoch, newest, unreachable) = {
            let state = self.lock();
            let newest = state.rows.iter().map(|r| r.epoch).max();
            (state.epoch, newest, state.redis_unreachable)
        };
        let Some(newest) = newest else {
            return Ok(()); // No row read yet: nothing to compare with.
        };
        let distrusted = distrusted_before(now, self.skew);
        let held = match storage::nonces::redis_epoch(&self.storage).await {
            Ok(held) => held,
            Err(err) => {
                if !unreachable {
                    tracing::warn!(error = %err, "Redis is unreachable: nonces are accepted in PostgreSQL");
                }
                let epoch = match epoch {
                    Some(epoch) if unreachable => epoch.max(newest),
                    // Others adopt the new epoch, and see this instance's mark with it.
                    _ => self.draw_epoch(distrusted).await?,
                };
                let mut state = self.lock();
                state.redis_unreachable = true;
                state.distrust_until(now, self.skew);
                state.epoch = Some(epoch);
                return Ok(());
            }
        };
        let settled = match (held, epoch) {
            // As it was; catch up with an epoch drawn by an instance that cannot reach Redis,
            // without calling it a loss: this Redis kept its memory.
            (Some(held), Some(epoch)) if held == epoch && !unreachable => {
                if newest > epoch {
                    let raised = storage::nonces::raise_redis_epoch(&self.storage, newest).await?;
                    Some((raised, false))
                } else {
                    None
                }
            }
            // The first look: Redis holds the newest epoch drawn, so it lost nothing since (losses
            // before are in the rows' `check_before`).
            (Some(held), None) if held == newest && !unreachable => Some((held, false)),
            // The first epoch ever: nothing was accepted before it.
            (None, None) if newest == 0 => Some((self.new_epoch(0).await?, false)),
            // Drawn elsewhere after a loss there, or while this instance could not reach Redis.
            (Some(held), _) if held >= newest => Some((held, true)),
            // Forgotten, or behind: a new epoch.
            _ => Some((self.new_epoch(distrusted).await?, true)),
        };
        let mut state = self.lock();
        if unreachable {
            tracing::info!("Redis is reachable again: nonces are accepted there");
            state.redis_unreachable = false;
            state.distrust_until(now, self.skew);
        }
        if let Some((epoch, lost)) = settled {
            if lost {
                tracing::warn!(
                    epoch,
                    "Redis may have forgotten nonces: older signatures are checked in PostgreSQL"
                );
                state.distrust_until(now, self.skew);
            }
            state.epoch = Some(epoch);
            metrics::gauge!("nonce_epoch").set(epoch as f64);
        }
        Ok(())
    }

    async fn draw_epoch(&self, check_before: i64) -> Result<i64, StorageError> {
        let mut conn = self.storage.db().await?;
        storage::nonces::draw_epoch(&mut conn, &self.instance_id, check_before).await
    }

    /// Draws an epoch and sets it in Redis; the one Redis holds after (a later one, if another
    /// instance drew and set it first).
    async fn new_epoch(&self, check_before: i64) -> Result<i64, StorageError> {
        let drawn = self.draw_epoch(check_before).await?;
        storage::nonces::raise_redis_epoch(&self.storage, drawn).await
    }
}

/// The mirror's loop; ends when the guard is dropped.
async fn mirror(shared: std::sync::Weak<Shared>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_write = None;
    let mut failing = false;
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match shared.tick(&mut last_write).await {
            Ok(()) => failing = false,
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(error = %err, "the nonce mirror failed; Redis alone is trusted until the lease ends");
            }
            Err(_) => {}
        }
    }
}

/// Signatures created before this may have been accepted by `now` (`skew` ahead of the clock, on a
/// clock up to the margin off).
fn distrusted_before(now: i64, skew: i64) -> i64 {
    now + skew + CLOCK_MARGIN
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKEW: i64 = 10;

    fn row(epoch: i64, updated_at: f64) -> MirrorRow {
        MirrorRow {
            instance_id: format!("instance-{epoch}-{updated_at}"),
            epoch,
            redis_unreachable: false,
            check_before: 0,
            updated_at,
            read_at: updated_at,
        }
    }

    fn state(epoch: Option<i64>, rows: Vec<MirrorRow>) -> State {
        State {
            epoch,
            rows,
            lease_until: Some(Instant::now() + LEASE),
            ..State::default()
        }
    }

    #[test]
    fn a_check_in_postgresql_waits_for_every_instance_to_mirror_up_to_the_epoch() {
        let now = 1_800_000_000.0;
        let behind = state(Some(7), vec![row(7, now), row(6, now)]);
        assert!(!behind.caught_up(now as i64, SKEW));
        let caught_up = state(Some(7), vec![row(7, now), row(8, now)]);
        assert!(caught_up.caught_up(now as i64, SKEW));
        assert!(!state(None, vec![row(7, now)]).caught_up(now as i64, SKEW));
        assert!(!state(Some(7), Vec::new()).caught_up(now as i64, SKEW));
    }

    #[test]
    fn a_dead_instance_holds_back_only_signatures_it_could_have_accepted() {
        let died = 1_800_000_000.0;
        let with_dead = state(Some(7), vec![row(7, died + 30.0), row(6, died)]);
        // It accepted in Redis alone until its last write plus the lease, signed up to the skew
        // ahead, on a clock up to the margin off.
        let reach = LEASE.as_secs() as i64 + SKEW + CLOCK_MARGIN;
        assert!(!with_dead.caught_up(died as i64 + reach - 1, SKEW));
        assert!(with_dead.caught_up(died as i64 + reach, SKEW));
    }

    #[test]
    fn mirrored_digests_read_while_an_instance_is_behind_serve_only_what_it_cannot_hold_back() {
        let now = 1_800_000_000.0;
        let reach = (LEASE.as_secs() as i64 + SKEW + CLOCK_MARGIN) as f64;
        let behind = state(
            Some(7),
            vec![row(7, now), row(6, now - 30.0), row(5, now - 60.0)],
        );
        assert_eq!(behind.behind(7, SKEW), now - 30.0 + reach);
        let none_behind = state(Some(7), vec![row(7, now), row(8, now)]);
        assert_eq!(none_behind.behind(7, SKEW), f64::NEG_INFINITY);
    }

    #[test]
    fn the_fast_path_is_shut_after_a_loss_during_an_outage_and_without_a_lease() {
        let now = 1_800_000_000;
        let mut open = state(Some(7), Vec::new());
        assert!(open.fast_path_open(now));
        open.distrust_until(now, SKEW);
        assert!(!open.fast_path_open(now + SKEW));
        assert!(open.fast_path_open(now + SKEW + CLOCK_MARGIN));

        let mut shut = state(Some(7), Vec::new());
        shut.others_unreachable = true;
        assert!(!shut.fast_path_open(now));
        let mut shut = state(Some(7), Vec::new());
        shut.redis_unreachable = true;
        assert!(!shut.fast_path_open(now));
        let mut shut = state(Some(7), Vec::new());
        shut.lease_until = Some(Instant::now());
        assert!(!shut.fast_path_open(now));
        assert!(!state(None, Vec::new()).fast_path_open(now));
    }
}
