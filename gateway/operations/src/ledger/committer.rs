//! The ledger committer: request handlers verify, parse and price in parallel,
//! then hand their earn or redemption here; a committer gathers what has queued
//! (up to a size limit, waiting at most a short window for more) and applies it
//! as one batch in one PostgreSQL transaction, with the recorded outcome of every
//! request in it, and one commit. Only then is any request of the batch answered,
//! and the caches told, so an acknowledged write is a committed one.
//!
//! Several committers may run; an operation goes to the one its member hashes to,
//! so one member's operations keep their arrival order and committers seldom wait
//! for each other's locks. See `docs/architecture.md` ("Ledger committer").
//!
//! One rule for every idempotent write: while a request with a key is being
//! processed, another request with that key gets `InFlight` (or `PayloadMismatch`
//! if it says something else), here or on any instance; once it has an answer,
//! every retry gets that answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::ids::{PartnerId, StaffId};
use domain::ledger::books::{self, BookError, Decided, LedgerOp};
use domain::ledger::{LedgerError, Movement};
use domain::pricing::PricingError;
use domain::program::{ProgramSettings, tiers};
use futures_util::TryFutureExt as _;
use storage::pipelined::PipelinedTransaction;
use storage::{Storage, StorageError};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

use crate::idempotency::{Answer, Answered, IdempotencyError, Scope, record, replay};

/// How batches are formed.
#[derive(Debug, Clone, Copy)]
pub struct CommitterSettings {
    /// Committers running side by side (operations are sharded by member).
    pub committers: usize,
    /// How long a committer waits for more operations once it has one; zero takes only what queued.
    pub batch_window: Duration,
    /// The most operations in one batch.
    pub batch_max: usize,
}

/// What a request gets back.
pub type Reply = Result<Answered<Movement, LedgerError>, IdempotencyError>;

struct Submission {
    scope: Scope,
    /// The operation, or the refusal met while preparing it (recorded like any other answer).
    op: Result<LedgerOp, LedgerError>,
    reply: oneshot::Sender<Reply>,
    /// Its key's place among this instance's keys in flight.
    key: InFlightKey,
}

/// The keys of this instance's requests that have been submitted and not yet answered.
type InFlight = Arc<Mutex<HashMap<(PartnerId, String), [u8; 32]>>>;

/// A submission's key in [`InFlight`]: released before its answer is sent, or, if the committer
/// holding it crashes, when it is dropped, so that no crash leaves a key refusing every retry.
struct InFlightKey {
    in_flight: InFlight,
    key: Option<(PartnerId, String)>,
}

impl Drop for InFlightKey {
    fn drop(&mut self) {
        if self.key.is_some() {
            release(&self.in_flight, [&mut self.key]);
        }
    }
}

/// Releases the keys still held in `held` under one lock.
fn release<'a>(
    in_flight: &InFlight,
    held: impl IntoIterator<Item = &'a mut Option<(PartnerId, String)>>,
) {
    if let Ok(mut in_flight) = in_flight.lock() {
        for key in held.into_iter().filter_map(Option::take) {
            in_flight.remove(&key);
        }
    }
}

/// The handle operations submit through (cheap to clone).
#[derive(Clone)]
pub struct Committer {
    shards: Arc<[mpsc::Sender<Submission>]>,
    in_flight: InFlight,
    #[cfg(feature = "fault-injection")]
    crash_next_batch: Arc<std::sync::atomic::AtomicBool>,
}

/// How many batches may wait in a committer's queue before submitters wait too.
const QUEUE_BATCHES: usize = 4;
/// Attempts at a batch that met a concurrent writer (a unique key, a deadlock).
const ATTEMPTS: usize = 3;

impl Committer {
    /// Starts the committers on the current Tokio runtime, each under a supervisor that starts it
    /// again if it panics (its batch's requests are answered as not committed; see
    /// `docs/architecture.md`).
    pub fn start(storage: Storage, program: ProgramSettings, settings: CommitterSettings) -> Self {
        let batch_max = settings.batch_max.max(1);
        let in_flight = InFlight::default();
        let partner_accounts = Arc::default();
        #[cfg(feature = "fault-injection")]
        let crash_next_batch = Arc::default();
        let shards: Vec<mpsc::Sender<Submission>> = (0..settings.committers.max(1))
            .map(|shard| {
                let (sender, receiver) = mpsc::channel(batch_max * QUEUE_BATCHES);
                let worker = Worker {
                    storage: storage.clone(),
                    partner_accounts: Arc::clone(&partner_accounts),
                    program: program.clone(),
                    window: settings.batch_window,
                    batch_max,
                    shard,
                    #[cfg(feature = "fault-injection")]
                    crash_next_batch: Arc::clone(&crash_next_batch),
                };
                tokio::spawn(supervise(worker, receiver));
                sender
            })
            .collect();
        Self {
            shards: shards.into(),
            in_flight,
            #[cfg(feature = "fault-injection")]
            crash_next_batch,
        }
    }

    /// Makes the next batch's committer panic once its transaction has committed, before it
    /// answers (a test's stand-in for a bug).
    #[cfg(feature = "fault-injection")]
    pub fn crash_next_batch(&self) {
        self.crash_next_batch
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Commits the operation (or records the refusal met preparing it) under the request's
    /// idempotency scope, and returns its answer (the first answer, if the key was used before).
    pub async fn submit(&self, scope: Scope, op: Result<LedgerOp, LedgerError>) -> Reply {
        // A refusal has no member: any committer records it.
        let shard = match &op {
            Ok(op) => op.member_id().0.as_u128(),
            Err(_) => scope.partner_id.0.as_u128() ^ u128::from(fingerprint_bits(&scope)),
        } % self.shards.len() as u128;
        let shard = usize::try_from(shard).unwrap_or(0);
        // The queue's place is taken before the key is marked in flight, and the submission is
        // handed over with no await between: a request dropped while it waits for a place (its
        // client gone) leaves no key behind that would refuse every retry.
        let Ok(place) = self.shards[shard].reserve().await else {
            return Err(stopped());
        };
        let key = (scope.partner_id, scope.key.as_str().to_owned());
        match self.in_flight.lock() {
            Ok(mut in_flight) => match in_flight.get(&key) {
                Some(first) if *first == scope.fingerprint => {
                    return Err(IdempotencyError::InFlight);
                }
                Some(_) => return Err(IdempotencyError::PayloadMismatch),
                None => {
                    in_flight.insert(key.clone(), scope.fingerprint);
                }
            },
            Err(_) => return Err(stopped()),
        }
        let key = InFlightKey {
            in_flight: Arc::clone(&self.in_flight),
            key: Some(key),
        };
        let (reply, answer) = oneshot::channel();
        place.send(Submission {
            scope,
            op,
            reply,
            key,
        });
        answer.await.map_err(|_| stopped())?
    }
}

fn fingerprint_bits(scope: &Scope) -> u64 {
    let mut bits = [0u8; 8];
    bits.copy_from_slice(&scope.fingerprint[..8]);
    u64::from_le_bytes(bits)
}

/// Releases a batch's keys before its answers go out, so a retry sent on the answer is not
/// refused as in flight.
fn release_batch(batch: &mut [Submission]) {
    if let Some(first) = batch.first() {
        let in_flight = Arc::clone(&first.key.in_flight);
        release(&in_flight, batch.iter_mut().map(|s| &mut s.key.key));
    }
}

fn stopped() -> IdempotencyError {
    StorageError::NotCommitted("the ledger committer has stopped".into()).into()
}

/// Runs `worker` until its queue closes, starting it again whenever it panics: the panic drops
/// its batch, so those requests are answered as not committed (a retry finds what did commit) and
/// their keys are released; the queue and everything still waiting in it carry over.
async fn supervise(worker: Worker, queue: mpsc::Receiver<Submission>) {
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    loop {
        match tokio::spawn(worker.clone().run(Arc::clone(&queue))).await {
            Ok(()) => return,
            Err(err) if err.is_panic() => {
                metrics::counter!("ledger_committer_restarts_total").increment(1);
                tracing::error!(
                    committer = worker.shard,
                    "a ledger committer panicked; its batch is answered as not committed and it starts again"
                );
            }
            // The runtime is shutting down.
            Err(_) => return,
        }
    }
}

#[derive(Clone)]
struct Worker {
    storage: Storage,
    /// Partners whose ledger accounts a batch has seen exist (shared by the committers).
    partner_accounts: Arc<Mutex<HashSet<PartnerId>>>,
    program: ProgramSettings,
    window: Duration,
    batch_max: usize,
    shard: usize,
    #[cfg(feature = "fault-injection")]
    crash_next_batch: Arc<std::sync::atomic::AtomicBool>,
}

/// Whether an attempt decides its operations, or refuses them because they took an account's
/// total beyond 64 bits in an earlier attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Decide,
    Refuse,
}

/// What one attempt at a batch decided for one submission.
enum Decision {
    /// A new outcome, recorded in the batch.
    Fresh(Result<Movement, LedgerError>),
    /// Answered from an earlier request with the same key (or why it cannot be).
    Earlier(Reply),
    /// A failure that is not the request's answer (nothing recorded).
    Failed(IdempotencyError),
}

impl Worker {
    async fn run(self, queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Submission>>>) {
        // Held for the worker's life; a panic releases it for the next one.
        let mut queue = queue.lock_owned().await;
        let mut pending = Vec::with_capacity(self.batch_max);
        while let Some(first) = queue.recv().await {
            pending.push(first);
            let deadline = tokio::time::Instant::now() + self.window;
            while pending.len() < self.batch_max {
                match queue.try_recv() {
                    Ok(next) => pending.push(next),
                    Err(mpsc::error::TryRecvError::Empty) if !self.window.is_zero() => {
                        match tokio::time::timeout_at(deadline, queue.recv()).await {
                            Ok(Some(next)) => pending.push(next),
                            _ => break,
                        }
                    }
                    Err(_) => break,
                }
            }
            let batch = std::mem::take(&mut pending);
            let span = tracing::info_span!(
                "ledger.batch",
                batch.size = batch.len(),
                committer = self.shard,
                batch.attempts = tracing::field::Empty
            );
            self.commit(batch).instrument(span).await;
        }
    }

    async fn commit(&self, mut batch: Vec<Submission>) {
        let started = Instant::now();
        metrics::histogram!("ledger_batch_size").record(batch.len() as f64);
        let mut attempt = 1;
        let mut outcome = loop {
            match self.attempt(&batch, Overflow::Decide).await {
                Err(err) if attempt < ATTEMPTS && err.is_conflict() => {
                    tracing::debug!(error = %err, attempt, "batch met a concurrent writer; trying again");
                    attempt += 1;
                }
                outcome => break outcome,
            }
        };
        // An account total that would leave 64 bits fails the whole transaction, and PostgreSQL
        // does not say which operation took it there: halve the batch until the operation is
        // alone, and refuse it (recorded, so a retry gets the same answer). The others commit.
        if outcome.as_ref().is_err_and(StorageError::is_out_of_range) {
            if batch.len() > 1 {
                tracing::warn!(
                    size = batch.len(),
                    "a ledger total would overflow; halving the batch"
                );
                let second = batch.split_off(batch.len() / 2);
                Box::pin(self.commit(batch)).await;
                Box::pin(self.commit(second)).await;
                return;
            }
            tracing::warn!("a ledger total would overflow; the operation is refused");
            outcome = self.attempt(&batch, Overflow::Refuse).await;
        }
        tracing::Span::current().record("batch.attempts", attempt);
        metrics::histogram!("ledger_commit_seconds").record(started.elapsed().as_secs_f64());
        match outcome {
            Ok((decisions, decided)) => {
                count_committed(&decided);
                if let Ok(mut known) = self.partner_accounts.lock() {
                    known.extend(&decided.partners);
                }
                #[cfg(feature = "fault-injection")]
                if self
                    .crash_next_batch
                    .swap(false, std::sync::atomic::Ordering::SeqCst)
                {
                    panic!(
                        "fault injection: a committer crashes between its commit and its cache bump"
                    );
                }
                storage::card_cache::bump_many(&self.storage, &decided.changed_members).await;
                release_batch(&mut batch);
                for (submission, decision) in batch.into_iter().zip(decisions) {
                    let reply = match decision {
                        Decision::Fresh(Ok(movement)) => {
                            Ok(Answered::fresh(Answer::Done(movement)))
                        }
                        Decision::Fresh(Err(refused)) => {
                            Ok(Answered::fresh(Answer::Refused(refused)))
                        }
                        Decision::Earlier(reply) => reply,
                        Decision::Failed(err) => Err(err),
                    };
                    // A submitter that went away (client disconnected) finds its answer on retry.
                    let _ = submission.reply.send(reply);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, size = batch.len(), "ledger batch did not commit; its requests are answered 503 and may be retried");
                metrics::counter!("ledger_batches_failed_total").increment(1);
                release_batch(&mut batch);
                let detail = err.to_string();
                for submission in batch {
                    let _ = submission
                        .reply
                        .send(Err(StorageError::NotCommitted(detail.clone()).into()));
                }
            }
        }
    }

    /// One transaction over the whole batch: decides every submission, or none.
    async fn attempt(
        &self,
        batch: &[Submission],
        overflow: Overflow,
    ) -> Result<(Vec<Decision>, Decided), StorageError> {
        let mut conn = self.storage.ledger_db().await?;
        let transaction = PipelinedTransaction::open(&mut conn)?;
        let outcome = self.decide(&transaction, batch, overflow).await;
        match outcome {
            Ok(decided) => {
                transaction.commit().await?;
                Ok(decided)
            }
            Err(err) => {
                if let Err(rollback) = transaction.rollback().await {
                    tracing::debug!(error = %rollback, "rollback failed; the connection is discarded");
                }
                Err(err)
            }
        }
    }

    /// Reads, decides and writes the batch in `transaction` (not committed).
    async fn decide(
        &self,
        transaction: &PipelinedTransaction<'_>,
        batch: &[Submission],
        overflow: Overflow,
    ) -> Result<(Vec<Decision>, Decided), StorageError> {
        let conn = transaction.conn();
        let program = &self.program;
        let rules = self.storage.program_rules().await?;
        let now = domain::time::now();
        let tiers = tiers::in_force(&rules, now);
        let keys: Vec<(PartnerId, &str)> = batch
            .iter()
            .map(|s| (s.scope.partner_id, s.scope.key.as_str()))
            .collect();
        // Read everything in one round trip, BEGIN first; operations whose key turns out to be
        // used were locked and read for nothing, which costs less than a second round trip.
        let all_ops: Vec<&LedgerOp> = batch.iter().filter_map(|s| s.op.as_ref().ok()).collect();
        // Late earns need their members' days (and caps' months) as of when they happened.
        let earliest = LedgerOp::earliest(&all_ops, now);
        let activity_since =
            tiers::activity_needed_since(&tiers, &rules, earliest, program.time_zone);
        let ((), busy, recorded, snapshot) = futures_util::try_join!(
            transaction.begin().map_err(StorageError::from),
            storage::idempotency::lock_in_flight(conn, &keys),
            storage::idempotency::recorded(conn, &keys),
            storage::ledger_batch::read(
                conn,
                &all_ops,
                now,
                activity_since,
                program.month_start(earliest)
            ),
        )?;
        let recorded: HashMap<(PartnerId, String), _> = recorded
            .into_iter()
            .map(|(partner, key, record)| ((partner, key), record))
            .collect();
        let busy: HashSet<(PartnerId, &str)> = busy
            .iter()
            .map(|(partner, key)| (*partner, key.as_str()))
            .collect();
        let mut seen: HashSet<(PartnerId, &str)> = HashSet::with_capacity(batch.len());
        let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(batch.len());
        let mut to_apply: Vec<(usize, &LedgerOp)> = Vec::new();
        let mut replayed_members = Vec::new();
        for (i, submission) in batch.iter().enumerate() {
            let key = (keys[i].0, keys[i].1.to_owned());
            // A key met earlier in this batch is still in flight there.
            let is_busy = busy.contains(&keys[i]) || !seen.insert(keys[i]);
            if is_busy {
                // Another instance's transaction holds this key's lock.
                decisions.push(Some(Decision::Failed(IdempotencyError::InFlight)));
            } else if let Some(record) = recorded.get(&key) {
                decisions.push(Some(Decision::Earlier(replay(
                    record,
                    &submission.scope.fingerprint,
                ))));
                // The first attempt may have died between its commit and its cache bump: the
                // retry bumps, so no card check shows the balance from before what it answers.
                if let Ok(op) = &submission.op {
                    replayed_members.push(op.member_id());
                    replayed_members.extend(op.other_members());
                }
            } else {
                match &submission.op {
                    Ok(op) => {
                        to_apply.push((i, op));
                        decisions.push(None);
                    }
                    Err(refused) => decisions.push(Some(Decision::Fresh(Err(refused.clone())))),
                }
            }
        }
        let ops: Vec<&LedgerOp> = match overflow {
            Overflow::Decide => to_apply.iter().map(|(_, op)| *op).collect(),
            Overflow::Refuse => {
                for (i, _) in to_apply.drain(..) {
                    let refused = LedgerError::from(PricingError::AmountTooLarge);
                    decisions[i] = Some(Decision::Fresh(Err(refused)));
                }
                Vec::new()
            }
        };
        let mut decided = books::decide(snapshot, &ops, program, &tiers, now);
        decided.changed_members.extend(replayed_members);
        stamp_staff(batch, &mut decided);
        for ((i, _), result) in to_apply.iter().zip(decided.results.drain(..)) {
            decisions[*i] = Some(match result {
                Ok(movement) => {
                    tracing::debug!(transfer.id = %movement.transfer.id, branch.id = ?movement.transfer.branch_id, "committed");
                    Decision::Fresh(Ok(movement))
                }
                Err(BookError::Refused(refused)) => Decision::Fresh(Err(refused)),
                Err(BookError::MissingAccount(member)) => Decision::Failed(
                    StorageError::Corrupt(format!("member {member} has no account")).into(),
                ),
            });
        }
        let decisions: Vec<Decision> = decisions
            .into_iter()
            .map(|d| d.unwrap_or_else(|| Decision::Failed(IdempotencyError::InFlight)))
            .collect();
        let mut records = Vec::new();
        for (submission, decision) in batch.iter().zip(&decisions) {
            if let Decision::Fresh(outcome) = decision {
                records.push((
                    submission.scope.partner_id,
                    submission.scope.key.as_str(),
                    &submission.scope.fingerprint,
                    record(outcome.as_ref())?,
                ));
            }
        }
        // Partners added before their accounts opened with them; each once per process.
        let unopened: Vec<PartnerId> = match self.partner_accounts.lock() {
            Ok(known) => decided
                .partners
                .iter()
                .filter(|p| !known.contains(p))
                .copied()
                .collect(),
            Err(_) => decided.partners.clone(),
        };
        // The ledger's writes lock the shared partner accounts last: they go after the records.
        futures_util::try_join!(
            storage::idempotency::insert_completed(conn, &records),
            storage::ledger_batch::write(
                conn,
                &decided.writes,
                &decided.member_accounts,
                &unopened
            )
            .map_err(written),
        )?;
        Ok((decisions, decided))
    }
}

/// A reference found taken at write time was taken by a concurrent writer after the batch
/// read: a conflict, so the batch is tried again (and then refuses it).
fn written(err: storage::ledger::TransferWriteError) -> StorageError {
    match err {
        storage::ledger::TransferWriteError::ReferenceTaken => StorageError::Contention,
        storage::ledger::TransferWriteError::Storage(e) => e,
    }
}

/// Writes the member of staff who made a request (a cashier at the POS page) on every transfer
/// the request wrote: the transfers carry their request's partner and idempotency key.
fn stamp_staff(batch: &[Submission], decided: &mut Decided) {
    let by_request: HashMap<(PartnerId, &str), StaffId> = batch
        .iter()
        .filter_map(|s| {
            Some((
                (s.scope.partner_id, s.scope.key.as_str()),
                s.scope.staff_id?,
            ))
        })
        .collect();
    if by_request.is_empty() {
        return;
    }
    for transfer in &mut decided.writes.transfers {
        if let (Some(partner), Some(key)) =
            (transfer.partner_id, transfer.idempotency_key.as_deref())
        {
            transfer.staff_id = by_request.get(&(partner, key)).copied();
        }
    }
}

/// Counts the transfers written in `ledger_transfers_total`; call once they are committed.
pub(crate) fn count_committed(decided: &Decided) {
    for transfer in &decided.writes.transfers {
        metrics::counter!("ledger_transfers_total", "code" => transfer.code.as_str(), "phase" => transfer.phase.as_str()).increment(1);
    }
}
