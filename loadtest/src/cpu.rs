//! CPU time of the processes a run exercises, read from `/proc` (Linux) at the start and the end
//! of the timed window, so a report says where each request's microseconds went: the gateway,
//! the load generator itself, PostgreSQL, Redis.

use std::collections::BTreeMap;

/// `/proc` reports times in USER_HZ, which the kernel fixes at 100 for user space.
const MICROS_PER_TICK: u64 = 10_000;

/// A process to watch, by name (`gateway=1234`); its children count with it (PostgreSQL's
/// backends under the postmaster, including those that exited and were reaped).
#[derive(Debug, Clone)]
pub struct Watched {
    pub name: String,
    pub pid: u32,
}

impl std::str::FromStr for Watched {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, pid) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected name=pid"))?;
        let pid = pid
            .parse()
            .map_err(|_| format!("{text:?}: {pid:?} is not a process id"))?;
        Ok(Self {
            name: name.to_owned(),
            pid,
        })
    }
}

/// (own user + system ticks, reaped children's ticks, parent pid) of `pid`.
fn stat(pid: &str) -> Option<(u64, u64, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = text.get(text.rfind(')')? + 2..)?.split(' ').collect();
    let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let ppid = u32::try_from(field(1)?).ok()?;
    Some((field(11)? + field(12)?, field(13)? + field(14)?, ppid))
}

/// CPU microseconds of `pid`, its reaped children and its live children, so far.
fn micros(pid: u32) -> u64 {
    let Some((own, reaped, _)) = stat(&pid.to_string()) else {
        return 0;
    };
    let live: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|name| stat(&name))
        .filter(|(_, _, ppid)| *ppid == pid)
        .map(|(ticks, _, _)| ticks)
        .sum();
    (own + reaped + live) * MICROS_PER_TICK
}

/// CPU so far of each watched process and of this one (`loadtest`).
#[derive(Debug, Clone)]
pub struct Snapshot(BTreeMap<String, u64>);

impl Snapshot {
    pub fn take(watched: &[Watched]) -> Self {
        let mut cpu: BTreeMap<String, u64> = watched
            .iter()
            .map(|w| (w.name.clone(), micros(w.pid)))
            .collect();
        cpu.insert("loadtest".to_owned(), micros(std::process::id()));
        Self(cpu)
    }

    /// CPU microseconds each process spent per request between `self` and `later`.
    pub fn per_request(&self, later: &Self, requests: u64) -> BTreeMap<String, f64> {
        self.0
            .iter()
            .map(|(name, before)| {
                let spent = later
                    .0
                    .get(name)
                    .map_or(0, |after| after.saturating_sub(*before));
                (name.clone(), spent as f64 / requests.max(1) as f64)
            })
            .collect()
    }
}

/// CPU per request or operation as a report line writes it: `gateway 268, loadtest 234`.
pub fn describe(per_process: &BTreeMap<String, f64>) -> String {
    per_process
        .iter()
        .map(|(name, us)| format!("{name} {us:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_spending_cpu() {
        let before = Snapshot::take(&[]);
        let mut x: u64 = 1;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        assert_ne!(x, 0);
        let after = Snapshot::take(&[]);
        assert!(before.per_request(&after, 1)["loadtest"] > 0.0);
    }

    #[test]
    fn a_watched_process_is_name_equals_pid() {
        let watched: Watched = "gateway=42".parse().unwrap();
        assert_eq!((watched.name.as_str(), watched.pid), ("gateway", 42));
        assert!("gateway".parse::<Watched>().is_err());
        assert!("gateway=x".parse::<Watched>().is_err());
    }
}
