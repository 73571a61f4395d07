//! The nonce register: nonces written to PostgreSQL before their request is accepted, when Redis
//! alone cannot tell (see `crate::replays`). Requests arriving together share one
//! `INSERT … ON CONFLICT` (group commit): the cost is a share of one statement per request and one
//! round trip of latency.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use storage::{Storage, StorageError};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Requests waiting for their nonce's record, at most; beyond, a request is answered 503 at once
/// instead of queueing without bound while PostgreSQL is slow.
const QUEUE: usize = 20_000;
/// Nonces in one statement, at most.
const BATCH_MAX: usize = 1_000;
/// Statements in flight at once: a request arriving while one runs starts the next instead of
/// waiting for it.
const IN_FLIGHT: usize = 2;

struct Pending {
    key_id: String,
    nonce: String,
    reply: oneshot::Sender<Result<bool, StorageError>>,
}

/// Records nonces in PostgreSQL; one per process, shared by all workers.
#[derive(Clone)]
pub(crate) struct NonceRegister {
    queue: mpsc::Sender<Pending>,
}

impl NonceRegister {
    /// Starts the register's task (inside a Tokio runtime); each nonce is kept for `ttl`.
    pub(crate) fn start(storage: Storage, ttl: Duration) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(run(storage, ttl, pending));
        Self { queue }
    }

    /// Records the nonce of `key_id`; `false` if it was recorded before (a replay).
    pub(crate) async fn record(&self, key_id: &str, nonce: &str) -> Result<bool, StorageError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            key_id: key_id.to_owned(),
            nonce: nonce.to_owned(),
            reply,
        };
        self.queue.try_send(pending).map_err(|_| {
            StorageError::NotCommitted(
                "too many signatures are waiting for their nonce's record".into(),
            )
        })?;
        metrics::gauge!("nonce_queue_depth").set((QUEUE - self.queue.capacity()) as f64);
        answer
            .await
            .map_err(|_| StorageError::NotCommitted("the nonce register stopped".into()))?
    }
}

async fn run(storage: Storage, ttl: Duration, mut pending: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = pending.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let storage = storage.clone();
        tokio::spawn(async move {
            record(&storage, ttl, batch).await;
            drop(slot);
        });
    }
}

/// Records one batch and answers each of its requests.
async fn record(storage: &Storage, ttl: Duration, batch: Vec<Pending>) {
    metrics::histogram!("nonce_batch_size").record(batch.len() as f64);
    // The same signature twice in one batch: the later ones are replays of the first.
    let mut first = HashSet::with_capacity(batch.len());
    let is_first: Vec<bool> = batch
        .iter()
        .map(|p| first.insert((p.key_id.as_str(), p.nonce.as_str())))
        .collect();
    let pairs: Vec<(&str, &str)> = first.into_iter().collect();
    let recorded = match storage.db().await {
        Ok(mut conn) => storage::nonces::record(&mut conn, &pairs, ttl).await,
        Err(err) => Err(err),
    };
    let detail = match recorded {
        Ok(new) => {
            for (p, is_first) in batch.into_iter().zip(is_first) {
                let is_new = is_first && new.contains(&(p.key_id, p.nonce));
                let _ = p.reply.send(Ok(is_new));
            }
            return;
        }
        Err(err) if err.is_transient() => {
            tracing::warn!(error = %err, size = batch.len(), "nonces not recorded; their requests are answered 503");
            err.to_string()
        }
        Err(err) => {
            tracing::error!(error = %err, size = batch.len(), "nonces not recorded");
            err.to_string()
        }
    };
    for p in batch {
        let _ = p
            .reply
            .send(Err(StorageError::NotCommitted(detail.clone())));
    }
}
