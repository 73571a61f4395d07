//! Time as the ledger keeps it: PostgreSQL stores microseconds, so every instant
//! that is written and also answered (a transfer's time, a hold's timeout, a
//! statement's close) is cut to microseconds first. A signed receipt then says
//! exactly what the ledger, its lists and its statements say.

use chrono::{DateTime, DurationRound as _, Utc};

/// `instant` cut to the microsecond, as it will read back from storage.
pub fn stored(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .duration_trunc(chrono::Duration::microseconds(1))
        .unwrap_or(instant)
}

/// The current time, cut to the microsecond.
pub fn now() -> DateTime<Utc> {
    stored(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_keep_microseconds_only() {
        let precise: DateTime<Utc> = "2026-11-22T10:00:20.511992476Z".parse().unwrap();
        assert_eq!(
            stored(precise),
            "2026-11-22T10:00:20.511992Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
        );
        assert_eq!(stored(stored(precise)), stored(precise));
    }
}
