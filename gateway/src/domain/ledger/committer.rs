//! The ledger committer: request handlers verify, parse and price in parallel,
//! then hand their earn or redemption here; a committer gathers what has queued
//! (up to a size limit, waiting at most a short window for more) and applies it
//! as one batch in one PostgreSQL transaction, with the idempotency records of
//! every request in it, and one commit. Only then is any request of the batch
//! answered, and the caches told, so an acknowledged write is a committed one.
//!
//! Several committers may run; an operation goes to the one its member hashes to,
//! so one member's operations keep their arrival order and committers seldom wait
//! for each other's locks. See `docs/architecture.md` ("Ledger committer").

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use futures_util::TryFutureExt as _;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;
use uuid::Uuid;

use super::batch::{self, LedgerOp};
use super::{LedgerError, Movement, ProgramSettings};
use crate::domain::idempotency::{
    Answer, ExecuteError, FinalOutcome as _, IdempotencyError, IdempotentRequest, RecordedAnswer,
    replay,
};
use crate::storage::{self, Storage, StorageError};

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

/// Renders an operation's outcome as the answer stored under its idempotency key.
pub type Render = fn(Result<&Movement, LedgerError>) -> RecordedAnswer;

/// What a request gets back.
pub type Reply = Result<Answer, ExecuteError<LedgerError>>;

struct Submission {
    request: IdempotentRequest,
    /// The operation, or the refusal found while preparing it (recorded like any other answer).
    op: Result<LedgerOp, RecordedAnswer>,
    reply: oneshot::Sender<Reply>,
}

/// The handle request handlers submit through (cheap to clone).
#[derive(Clone)]
pub struct Committer {
    shards: Arc<[mpsc::Sender<Submission>]>,
    render: Render,
}

/// How many batches may wait in a committer's queue before submitters wait too.
const QUEUE_BATCHES: usize = 4;
/// Attempts at a batch that met a concurrent writer (a unique key, a deadlock).
const ATTEMPTS: usize = 3;

impl Committer {
    /// Starts the committers on the current Tokio runtime.
    pub fn start(
        storage: Storage,
        program: ProgramSettings,
        settings: CommitterSettings,
        render: Render,
    ) -> Self {
        let batch_max = settings.batch_max.max(1);
        let shards: Vec<mpsc::Sender<Submission>> = (0..settings.committers.max(1))
            .map(|shard| {
                let (sender, receiver) = mpsc::channel(batch_max * QUEUE_BATCHES);
                let worker = Worker {
                    storage: storage.clone(),
                    program: program.clone(),
                    window: settings.batch_window,
                    batch_max,
                    shard,
                    render,
                };
                tokio::spawn(worker.run(receiver));
                sender
            })
            .collect();
        Self {
            shards: shards.into(),
            render,
        }
    }

    /// Commits the operation under the request's idempotency key and returns its answer
    /// (the first answer, if the key was used before).
    pub async fn submit(
        &self,
        request: IdempotentRequest,
        op: Result<LedgerOp, LedgerError>,
    ) -> Reply {
        let op = match op {
            Ok(op) => Ok(op),
            Err(err) if err.is_final() => Err((self.render)(Err(err))),
            Err(err) => return Err(ExecuteError::Work(err)),
        };
        let shard = match &op {
            Ok(op) => shard_of_member(op.till().member_id, self.shards.len()),
            Err(_) => {
                let mut hasher = std::hash::DefaultHasher::new();
                request.partner_id.0.hash(&mut hasher);
                request.key.as_str().hash(&mut hasher);
                (hasher.finish() % self.shards.len() as u64) as usize
            }
        };
        let (reply, answer) = oneshot::channel();
        let submission = Submission { request, op, reply };
        let stopped = || {
            ExecuteError::Idempotency(
                StorageError::NotCommitted("the ledger committer has stopped".into()).into(),
            )
        };
        self.shards[shard]
            .send(submission)
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn shard_of_member(member_id: Uuid, shards: usize) -> usize {
    (member_id.as_u128() % shards as u128) as usize
}

struct Worker {
    storage: Storage,
    program: ProgramSettings,
    window: Duration,
    batch_max: usize,
    shard: usize,
    render: Render,
}

/// What one attempt at a batch decided, index by index.
enum Decision {
    /// A new answer, recorded in the batch.
    Fresh(RecordedAnswer),
    /// Answered from an earlier request with the same key.
    Earlier(Result<Answer, IdempotencyError>),
    /// Same key as submission `usize` of this batch.
    SameKeyAs(usize),
    /// A failure that is not the request's answer (nothing recorded).
    Transient(LedgerError),
}

impl Worker {
    async fn run(self, mut queue: mpsc::Receiver<Submission>) {
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

    async fn commit(&self, batch: Vec<Submission>) {
        let started = Instant::now();
        metrics::histogram!("ledger_batch_size").record(batch.len() as f64);
        let mut attempt = 1;
        let outcome = loop {
            match self.attempt(&batch).await {
                Err(err) if attempt < ATTEMPTS && is_conflict(&err) => {
                    tracing::debug!(error = %err, attempt, "batch met a concurrent writer; trying again");
                    attempt += 1;
                }
                outcome => break outcome,
            }
        };
        tracing::Span::current().record("batch.attempts", attempt);
        metrics::histogram!("ledger_commit_seconds").record(started.elapsed().as_secs_f64());
        match outcome {
            Ok((decisions, decided)) => {
                decided.count_committed();
                storage::card_cache::bump_many(&self.storage, &decided.changed_members).await;
                answer(batch, decisions);
            }
            Err(err) => {
                tracing::warn!(error = %err, size = batch.len(), "ledger batch did not commit; its requests are answered 503 and may be retried");
                metrics::counter!("ledger_batches_failed_total").increment(1);
                let detail = err.to_string();
                for submission in batch {
                    let _ = submission.reply.send(Err(ExecuteError::Idempotency(
                        StorageError::NotCommitted(detail.clone()).into(),
                    )));
                }
            }
        }
    }

    /// One transaction over the whole batch: decides every submission, or none.
    async fn attempt(
        &self,
        batch: &[Submission],
    ) -> Result<(Vec<Decision>, batch::Decided), LedgerError> {
        let mut conn = self.storage.ledger_db().await?;
        let (program, render) = (&self.program, self.render);
        let now = Utc::now();
        conn.transaction::<_, LedgerError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            let keys: Vec<(Uuid, &str)> = batch
                .iter()
                .map(|s| (s.request.partner_id.0, s.request.key.as_str()))
                .collect();
            // Read everything in one round trip; operations whose key turns out to be used
            // were locked and read for nothing, which costs less than a second round trip.
            let all_ops: Vec<&LedgerOp> = batch.iter().filter_map(|s| s.op.as_ref().ok()).collect();
            let (recorded, snapshot) = futures_util::try_join!(
                storage::idempotency::recorded(conn, &keys),
                batch::read(conn, &all_ops, now),
            )?;
            let recorded: HashMap<(Uuid, String), _> = recorded
                .into_iter()
                .map(|(partner, key, record)| ((partner, key), record))
                .collect();
            let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(batch.len());
            let mut first_of_key: HashMap<(Uuid, &str), usize> = HashMap::new();
            let mut to_apply: Vec<(usize, &LedgerOp)> = Vec::new();
            for (i, submission) in batch.iter().enumerate() {
                let key = keys[i];
                if let Some(record) = recorded.get(&(key.0, key.1.to_owned())) {
                    decisions.push(Some(Decision::Earlier(replay(
                        record.clone(),
                        &submission.request,
                    ))));
                } else if let Some(&first) = first_of_key.get(&key) {
                    decisions.push(Some(Decision::SameKeyAs(first)));
                } else {
                    first_of_key.insert(key, i);
                    match &submission.op {
                        Ok(op) => {
                            to_apply.push((i, op));
                            decisions.push(None);
                        }
                        Err(refusal) => decisions.push(Some(Decision::Fresh(refusal.clone()))),
                    }
                }
            }
            let ops: Vec<&LedgerOp> = to_apply.iter().map(|(_, op)| *op).collect();
            let mut decided = batch::decide(snapshot, &ops, program, now);
            for ((i, _), result) in to_apply.iter().zip(decided.results.drain(..)) {
                decisions[*i] = Some(match result {
                    Ok(movement) => {
                        tracing::debug!(transfer.id = %movement.transfer.id, branch.id = ?movement.transfer.branch_id, "committed");
                        Decision::Fresh(render(Ok(&movement)))
                    }
                    Err(err) if err.is_final() => Decision::Fresh(render(Err(err))),
                    Err(err) => Decision::Transient(err),
                });
            }
            let decisions: Vec<Decision> = decisions
                .into_iter()
                .map(|d| d.unwrap_or_else(|| Decision::Transient(StorageError::NotCommitted("undecided".into()).into())))
                .collect();
            let records: Vec<_> = batch
                .iter()
                .zip(&decisions)
                .filter_map(|(s, d)| match d {
                    Decision::Fresh(answer) => Some((
                        s.request.partner_id.0,
                        s.request.key.as_str(),
                        s.request.fingerprint.as_slice(),
                        answer,
                    )),
                    _ => None,
                })
                .collect();
            // The ledger's writes lock the shared partner accounts last: they go after the records.
            futures_util::try_join!(
                storage::idempotency::insert_completed(conn, &records).map_err(LedgerError::from),
                batch::write(conn, &decided),
            )?;
            Ok((decisions, decided))
        })
        .await
    }
}

/// Sends every submission its answer.
fn answer(batch: Vec<Submission>, decisions: Vec<Decision>) {
    let answers: Vec<Option<RecordedAnswer>> = decisions
        .iter()
        .map(|d| match d {
            Decision::Fresh(answer) => Some(answer.clone()),
            _ => None,
        })
        .collect();
    let fingerprints: Vec<[u8; 32]> = batch.iter().map(|s| s.request.fingerprint).collect();
    for (submission, decision) in batch.into_iter().zip(decisions) {
        let reply = match decision {
            Decision::Fresh(answer) => Ok(Answer::Fresh(answer)),
            Decision::Earlier(replayed) => replayed.map_err(ExecuteError::Idempotency),
            Decision::SameKeyAs(first) if fingerprints[first] != submission.request.fingerprint => {
                Err(IdempotencyError::PayloadMismatch.into())
            }
            Decision::SameKeyAs(first) => answers[first]
                .clone()
                .map(Answer::Replayed)
                .ok_or(IdempotencyError::InFlight.into()),
            Decision::Transient(err) => Err(ExecuteError::Work(err)),
        };
        if matches!(reply, Ok(Answer::Replayed(_))) {
            metrics::counter!("idempotency_replays_total").increment(1);
        }
        // A submitter that went away (client disconnected) finds its answer on retry.
        let _ = submission.reply.send(reply);
    }
}

/// Whether a batch failed only because a concurrent writer got somewhere first (worth another try).
fn is_conflict(err: &LedgerError) -> bool {
    match err {
        LedgerError::ReferenceTaken => true,
        LedgerError::Storage(StorageError::Database(DieselError::DatabaseError(kind, info))) => {
            matches!(
                kind,
                DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure
            ) || info.message().contains("deadlock detected")
        }
        _ => false,
    }
}
