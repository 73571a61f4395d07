//! An upload streamed into blocking work (a reconciliation reads millions of rows):
//! the body passes through in chunks, never whole in memory, and is checked
//! against the signed `Content-Digest` on the way; the work's answer counts only
//! if the whole body matched.

use std::io::{self, Read};

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use futures_util::StreamExt as _;
use partners::digest::DigestVerifier;
use tokio::sync::mpsc;

use super::error::{ApiError, body_unreadable, payload_too_large};
use operations::authentication::AuthError;

/// Chunks in flight between the connection and the work: enough to keep both busy.
const CHUNKS_IN_FLIGHT: usize = 16;

/// A signed request's body, still arriving.
pub(crate) struct Upload {
    pub(super) payload: Payload,
    pub(super) digest: DigestVerifier,
    pub(super) limit: usize,
}

impl Upload {
    /// Runs `work` on a blocking thread, reading the body as it arrives. If the body
    /// breaks off, exceeds the limit or does not match its digest, the work's answer is
    /// dropped and the request refused.
    pub(crate) async fn feed<T: Send + 'static>(
        mut self,
        work: impl FnOnce(BodyReader) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (sender, chunks) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let worker = tokio::task::spawn_blocking(move || {
            work(BodyReader {
                chunks,
                current: Bytes::new(),
            })
        });
        let mut sender = Some(sender);
        let mut received = 0usize;
        while let Some(chunk) = self.payload.next().await {
            let chunk = chunk.map_err(body_unreadable)?;
            received = received.saturating_add(chunk.len());
            if received > self.limit {
                return Err(payload_too_large(self.limit));
            }
            self.digest.update(&chunk);
            // Work that stopped reading (a file without its header) still gets the
            // whole body hashed: a body that does not match is refused as such.
            if let Some(open) = &sender
                && open.send(chunk).await.is_err()
            {
                sender = None;
            }
        }
        drop(sender);
        self.digest.finish().map_err(AuthError::from)?;
        worker
            .await
            .map_err(|e| ApiError::internal(format!("the upload's work failed: {e}")))
    }
}

/// The body as a blocking [`Read`] on the work's thread.
pub(crate) struct BodyReader {
    chunks: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
