//! The one place Redis keys are built, always under the configured prefix.

/// Builds Redis keys under one prefix (per deployment, or per test).
#[derive(Debug, Clone)]
pub struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    /// A key builder for `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix every key starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The version of a member's cached views (incremented on every committed change).
    pub(crate) fn member_version(&self, member_id: domain::ids::MemberId) -> String {
        format!("{}:member:{member_id}:version", self.prefix)
    }

    /// A card's cached check view.
    pub fn card_view(&self, number: &str) -> String {
        format!("{}:card:{number}", self.prefix)
    }

    /// The mark of one accepted request-signature nonce of one key.
    pub(crate) fn signature_nonce(&self, key_id: &str, nonce: &str) -> String {
        format!("{}:nonce:{key_id}:{nonce}", self.prefix)
    }

    /// The nonce epoch Redis holds; its absence says Redis forgot its nonces.
    pub(crate) fn nonce_epoch(&self) -> String {
        format!("{}:nonce-epoch", self.prefix)
    }

    /// A page session, by the hash of its cookie's secret (the secret itself is never stored).
    pub(crate) fn session(&self, secret_hash: &str) -> String {
        format!("{}:session:{secret_hash}", self.prefix)
    }

    /// The failed sign-ins counted against one login or one address.
    pub(crate) fn sign_in_failures(&self, subject: &str) -> String {
        format!("{}:sign-in-failures:{subject}", self.prefix)
    }

    /// The sign-in code sent to one phone (by its keyed lookup, hex).
    pub(crate) fn sign_in_code(&self, phone_lookup: &str) -> String {
        format!("{}:sign-in-code:{phone_lookup}", self.prefix)
    }
}
