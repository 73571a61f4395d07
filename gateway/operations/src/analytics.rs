//! The operator's dashboard figures: per local day of the programme's zone, members active,
//! points earned, given as bonuses, redeemed and expired (breakage), and what members hold
//! (the liability) at each day's end; per partner, points issued and redeemed.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::ids::TransferId;
use storage::StorageError;

use crate::Club;

/// One local day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Day {
    /// The day.
    pub day: NaiveDate,
    /// Members who earned or redeemed.
    pub active_members: i64,
    /// Points earned at partners (less earns reversed).
    pub earned: i64,
    /// Points given as bonuses and campaigns.
    pub bonus: i64,
    /// Points redeemed (less redemptions reversed).
    pub redeemed: i64,
    /// Points expired: breakage.
    pub expired: i64,
    /// What members held at the day's end (posted; points in holds still theirs), the liability.
    pub outstanding: i128,
}

/// One partner's points in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerPoints {
    /// Its name.
    pub partner: String,
    /// Points it issued (earns and the bonuses it funded, less reversals).
    pub issued: i64,
    /// Points redeemed with it (less reversals).
    pub redeemed: i64,
}

/// The dashboard's figures for the last `days` local days (today included).
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Oldest first.
    pub days: Vec<Day>,
    /// By name.
    pub partners: Vec<PartnerPoints>,
    /// What members hold now (posted).
    pub outstanding_now: i128,
}

/// The figures of the last `days` local days up to `now`.
pub async fn dashboard(
    club: &Club,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Dashboard, StorageError> {
    let zone = club.program.time_zone;
    let today = domain::program::tiers::local_day(now, zone);
    let first = today - Days::new(u64::from(days.max(1) - 1));
    let since = first
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(zone).earliest())
        .map_or(now, |t| t.with_timezone(&Utc));
    let since = TransferId::first_at(since);
    let mut conn = club.storage.db().await?;
    let flows = storage::analytics::daily_flows(&mut conn, zone.name(), since).await?;
    let active = storage::analytics::active_members(&mut conn, zone.name(), since).await?;
    let per_partner = storage::analytics::partner_flows(&mut conn, since).await?;
    let outstanding_now = storage::analytics::member_points_posted(&mut conn).await?;

    let mut by_day: BTreeMap<NaiveDate, Day> = (0..days.max(1))
        .map(|i| {
            let day = first + Days::new(u64::from(i));
            (
                day,
                Day {
                    day,
                    ..Day::default()
                },
            )
        })
        .collect();
    for flow in &flows {
        let Some(day) = by_day.get_mut(&flow.day) else {
            continue;
        };
        match flow.code.as_str() {
            "earn" => day.earned += flow.points,
            "earn_reversal" => day.earned -= flow.points,
            "bonus" => day.bonus += flow.points,
            "redeem" => day.redeemed += flow.points,
            "redeem_reversal" => day.redeemed -= flow.points,
            "expiry" => day.expired += flow.points,
            _ => {}
        }
    }
    for members in &active {
        if let Some(day) = by_day.get_mut(&members.day) {
            day.active_members = members.members;
        }
    }
    // The liability at each day's end: what members hold now, less what came in after it.
    let mut outstanding = outstanding_now;
    for day in by_day.values_mut().rev() {
        day.outstanding = outstanding;
        let net_in = i128::from(day.earned) + i128::from(day.bonus)
            - i128::from(day.redeemed)
            - i128::from(day.expired);
        outstanding -= net_in;
    }
    let mut partners: BTreeMap<String, PartnerPoints> = BTreeMap::new();
    for flow in per_partner {
        let name = flow.partner.unwrap_or_default();
        let entry = partners.entry(name.clone()).or_insert(PartnerPoints {
            partner: name,
            issued: 0,
            redeemed: 0,
        });
        match flow.code.as_str() {
            "earn" | "bonus" => entry.issued += flow.points,
            "earn_reversal" => entry.issued -= flow.points,
            "redeem" => entry.redeemed += flow.points,
            "redeem_reversal" => entry.redeemed -= flow.points,
            _ => {}
        }
    }
    Ok(Dashboard {
        days: by_day.into_values().collect(),
        partners: partners.into_values().collect(),
        outstanding_now,
    })
}
