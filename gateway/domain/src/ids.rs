//! Identifiers: one type per kind of thing, so a member id can never be passed where a
//! transfer id is expected. Each wraps the UUID the database keeps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                value.parse().map(Self)
            }
        }
    };
}

uuid_id!(
    /// A partner business of the coalition.
    PartnerId
);
uuid_id!(
    /// A partner's branch (a hotel desk, a restaurant).
    BranchId
);
uuid_id!(
    /// A club member.
    MemberId
);
uuid_id!(
    /// A ledger account (a member's points, a partner's issuance or redemption, the operator's).
    AccountId
);
uuid_id!(
    /// A ledger transfer. Time-ordered (UUIDv7), so ids sort like the times they were made.
    TransferId
);
uuid_id!(
    /// An earn lot: the points one earn brought, spent oldest-expiry first. Its id is its earn's.
    LotId
);
uuid_id!(
    /// A settlement statement.
    StatementId
);
uuid_id!(
    /// A version of a partner's settlement terms.
    TermsId
);
uuid_id!(
    /// A staff account (a cashier, a finance clerk, an operator's administrator).
    StaffId
);
uuid_id!(
    /// A partner's answer to a statement, or the operator's resolution of a dispute.
    AnswerId
);

impl TransferId {
    /// A UUIDv7 carrying `at`, so transfer ids sort like their times (also for backdated demo history).
    pub fn at(at: chrono::DateTime<chrono::Utc>) -> Self {
        let secs = u64::try_from(at.timestamp()).unwrap_or(0);
        Self(Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            secs,
            at.timestamp_subsec_nanos(),
        )))
    }

    /// The smallest id of the millisecond `at` falls in: transfer ids made at or after `at`
    /// are not below it, ids made before it are (settlement selects periods by id range).
    pub fn first_at(at: chrono::DateTime<chrono::Utc>) -> Self {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6] = 0x70;
        bytes[8] = 0x80;
        Self(Uuid::from_bytes(bytes))
    }
}

impl From<TransferId> for LotId {
    fn from(earn: TransferId) -> Self {
        Self(earn.0)
    }
}
