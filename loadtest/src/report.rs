//! Measurements and the report: HDR latency histograms per operation, throughput,
//! errors by code, a per-second timeline, written as JSON, Markdown and an SVG plot.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::workload::{Exactness, Op, Outcome};

/// Everything one client measured; merged across clients at the end.
pub struct Recorder {
    pub latency: BTreeMap<Op, Histogram<u64>>,
    pub all: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    /// Per second of the run: requests completed and their latency histogram.
    pub timeline: Vec<(u64, Histogram<u64>)>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits; the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

impl Recorder {
    /// An empty recorder for a run of `seconds`.
    pub fn new(seconds: u64) -> Self {
        Self {
            latency: BTreeMap::new(),
            all: histogram(),
            errors: BTreeMap::new(),
            timeline: (0..=seconds).map(|_| (0, histogram())).collect(),
        }
    }

    /// Records one request finished `at_secs` into the run.
    pub fn record(&mut self, op: Op, micros: u64, outcome: &Outcome, at_secs: u64) {
        let micros = micros.clamp(1, 60_000_000);
        let _recorded = self
            .latency
            .entry(op)
            .or_insert_with(histogram)
            .record(micros);
        let _recorded = self.all.record(micros);
        if let Some((count, h)) = self
            .timeline
            .get_mut(usize::try_from(at_secs).unwrap_or(usize::MAX))
        {
            *count += 1;
            let _recorded = h.record(micros);
        }
        match outcome {
            Outcome::Ok => {}
            Outcome::Refused(code) => *self.errors.entry(code.clone()).or_default() += 1,
            Outcome::Failed(why) => *self.errors.entry(format!("failed: {why}")).or_default() += 1,
        }
    }

    /// Adds another client's measurements.
    pub fn merge(&mut self, other: Recorder) {
        for (op, h) in other.latency {
            let _added = self.latency.entry(op).or_insert_with(histogram).add(&h);
        }
        let _added = self.all.add(&other.all);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        for (mine, (count, h)) in self.timeline.iter_mut().zip(other.timeline) {
            mine.0 += count;
            let _added = mine.1.add(&h);
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

fn percentiles(h: &Histogram<u64>, seconds: f64) -> Percentiles {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles {
        count: h.len(),
        per_second: h.len() as f64 / seconds,
        p50_ms: ms(0.50),
        p90_ms: ms(0.90),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: h.max() as f64 / 1000.0,
    }
}

/// One point of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    pub second: u64,
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The run's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: String,
    pub url: String,
    pub mode: String,
    pub mix: String,
    pub duration_secs: f64,
    pub members: u64,
    pub zipf_exponent: f64,
    pub total: Percentiles,
    pub operations: BTreeMap<String, Percentiles>,
    pub errors: BTreeMap<String, u64>,
    pub timeline: Vec<Second>,
    pub exactness: Option<Exactness>,
    pub baseline_tps: Option<f64>,
    /// Acknowledged writes (earn, redeem, hold, capture, reverse) per second over the baseline's TPS.
    pub ratio_to_baseline: Option<f64>,
    pub machine: String,
    /// CPU microseconds per request of each process over the timed window (gateway, postgres,
    /// redis as watched, and the load generator itself).
    pub cpu_us_per_request: BTreeMap<String, f64>,
}

impl Report {
    /// Builds the report from the merged measurements.
    #[expect(
        clippy::too_many_arguments,
        reason = "a report is the sum of the run's parameters"
    )]
    pub fn build(
        label: &str,
        url: &str,
        mode: &str,
        mix: &str,
        recorder: &Recorder,
        duration_secs: f64,
        members: u64,
        zipf_exponent: f64,
        exactness: Option<Exactness>,
        baseline_tps: Option<f64>,
    ) -> Self {
        let operations: BTreeMap<String, Percentiles> = recorder
            .latency
            .iter()
            .map(|(op, h)| (op.name().to_owned(), percentiles(h, duration_secs)))
            .collect();
        let writes: f64 = ["earn", "redeem", "hold", "capture", "reverse"]
            .iter()
            .filter_map(|name| operations.get(*name))
            .map(|p| p.per_second)
            .sum();
        let timeline = recorder
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, (count, _))| *count > 0)
            .map(|(second, (count, h))| Second {
                second: second as u64,
                requests: *count,
                p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
                p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
            })
            .collect();
        Self {
            label: label.to_owned(),
            url: url.to_owned(),
            mode: mode.to_owned(),
            mix: mix.to_owned(),
            duration_secs,
            members,
            zipf_exponent,
            total: percentiles(&recorder.all, duration_secs),
            operations,
            errors: recorder.errors.clone(),
            timeline,
            exactness,
            baseline_tps,
            ratio_to_baseline: baseline_tps.filter(|b| *b > 0.0).map(|b| writes / b),
            machine: machine(),
            cpu_us_per_request: BTreeMap::new(),
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Load test: {}\n", self.label);
        let _ = writeln!(
            md,
            "- target: `{}`, {}, mix `{}`",
            self.url, self.mode, self.mix
        );
        let _ = writeln!(
            md,
            "- {:.1} s, {} members (Zipf exponent {})",
            self.duration_secs, self.members, self.zipf_exponent
        );
        let _ = writeln!(md, "- machine: {}\n", self.machine);
        let _ = writeln!(
            md,
            "| operation | requests | per second | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
        let row = |md: &mut String, name: &str, p: &Percentiles| {
            let _ = writeln!(
                md,
                "| {name} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                p.count, p.per_second, p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
            );
        };
        for (name, p) in &self.operations {
            row(&mut md, name, p);
        }
        row(&mut md, "**all**", &self.total);
        if let Some(baseline) = self.baseline_tps {
            let _ = writeln!(
                md,
                "\nBaseline (textbook transaction, `pgbench -M prepared`, same server, same run): **{baseline:.0} TPS**."
            );
        }
        if let Some(ratio) = self.ratio_to_baseline {
            let _ = writeln!(
                md,
                "Signed writes per second over the baseline: **{ratio:.2}×**."
            );
        }
        if !self.cpu_us_per_request.is_empty() {
            let total: f64 = self.cpu_us_per_request.values().sum();
            let _ = writeln!(
                md,
                "CPU per request, µs (from /proc, over the timed window): {}; all {total:.0}.",
                crate::cpu::describe(&self.cpu_us_per_request)
            );
        }
        let _ = writeln!(md, "\n## Errors by code\n");
        if self.errors.is_empty() {
            let _ = writeln!(md, "none");
        }
        for (code, n) in &self.errors {
            let _ = writeln!(md, "- `{code}`: {n}");
        }
        if let Some(e) = &self.exactness {
            let verdict = if e.is_exact() { "EXACT" } else { "NOT EXACT" };
            let _ = writeln!(
                md,
                "\n## Exactness: {verdict}\n\n{} acknowledged transfers: {} matched, {} missing, {} mismatched, {} unexpected, {} duplicated.",
                e.acknowledged, e.matched, e.missing, e.mismatched, e.unexpected, e.duplicated
            );
        }
        md
    }

    /// Throughput and p50/p99 latency over time, as an SVG a person can look at.
    pub fn svg(&self) -> String {
        let (w, h, pad) = (900.0, 420.0, 60.0);
        let seconds = self
            .timeline
            .iter()
            .map(|s| s.second)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let max_rps = self
            .timeline
            .iter()
            .map(|s| s.requests)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let max_ms = self
            .timeline
            .iter()
            .map(|s| s.p99_ms)
            .fold(1.0_f64, f64::max);
        let x = |s: u64| pad + (s as f64 / seconds) * (w - 2.0 * pad);
        let y = |v: f64, max: f64| h - pad - (v / max) * (h - 2.0 * pad);
        let line = |f: &dyn Fn(&Second) -> (f64, f64), color: &str| {
            let points: Vec<String> = self
                .timeline
                .iter()
                .map(|s| {
                    let (px, py) = f(s);
                    format!("{px:.1},{py:.1}")
                })
                .collect();
            format!(
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            )
        };
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#
        );
        let _ = write!(
            svg,
            r#"<text x="{pad}" y="24" font-size="15">{} — requests/s (blue, left) and latency p50/p99 ms (green/red, right)</text>"#,
            self.label
        );
        let _ = write!(
            svg,
            r#"<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
            h - pad,
            w - pad,
            h - pad
        );
        let _ = write!(
            svg,
            r#"<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="black"/>"#,
            h - pad
        );
        let _ = write!(
            svg,
            r#"<line x1="{}" y1="{pad}" x2="{}" y2="{}" stroke="black"/>"#,
            w - pad,
            w - pad,
            h - pad
        );
        let _ = write!(
            svg,
            r#"<text x="{pad}" y="{}">0</text><text x="{}" y="{}">{seconds:.0} s</text>"#,
            h - pad + 18.0,
            w - pad - 20.0,
            h - pad + 18.0
        );
        let _ = write!(
            svg,
            r#"<text x="4" y="{}" fill="steelblue">{max_rps:.0}/s</text>"#,
            pad + 4.0
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" fill="firebrick">{max_ms:.1} ms</text>"#,
            w - pad + 4.0,
            pad + 4.0
        );
        svg.push_str(&line(
            &|s| (x(s.second), y(s.requests as f64, max_rps)),
            "steelblue",
        ));
        svg.push_str(&line(&|s| (x(s.second), y(s.p50_ms, max_ms)), "seagreen"));
        svg.push_str(&line(&|s| (x(s.second), y(s.p99_ms, max_ms)), "firebrick"));
        svg.push_str("</svg>\n");
        svg
    }
}

/// The machine the run happened on (CPU model and count, memory).
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map_or_else(
            || "unknown memory".into(),
            |kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0),
        );
    format!("{cores} × {cpu}, {memory}")
}
