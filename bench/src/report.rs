//! Figures and how they are printed: order statistics of trials, an optional baseline measured
//! in the same run (with the ratio to it), an optional target, a table for people and one JSON
//! line per figure for machines. Nothing here judges a figure beyond comparing it to its target.

use serde_json::{json, Value};

/// Which way a target points.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Goal {
    /// The figure should be at most the value.
    AtMost(f64),
    /// The figure should be at least the value.
    AtLeast(f64),
}

/// One measured figure.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    /// Stable id for the JSON line, e.g. `alert_latency_last_node`.
    pub(crate) id: String,
    /// Section of the table.
    pub(crate) group: &'static str,
    /// What was measured, for people.
    pub(crate) label: String,
    /// Unit of the statistics.
    pub(crate) unit: &'static str,
    /// Median (or the single value when `n == 1`).
    pub(crate) median: f64,
    /// 90th percentile, when there were several trials.
    pub(crate) p90: Option<f64>,
    /// 99th percentile, when there were several trials.
    pub(crate) p99: Option<f64>,
    /// Number of trials or samples.
    pub(crate) n: usize,
    /// The baseline's id and median.
    pub(crate) baseline: Option<(String, f64)>,
    /// The target, compared against the median.
    pub(crate) target: Option<Goal>,
    /// Extra fields for the JSON line (per-node values, byte counts, notes).
    pub(crate) extra: serde_json::Map<String, Value>,
}

impl Figure {
    /// A figure from trials (at least one).
    pub(crate) fn from_samples(
        id: impl Into<String>,
        group: &'static str,
        label: impl Into<String>,
        unit: &'static str,
        samples: &[f64],
    ) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let many = n >= 3;
        Self {
            id: id.into(),
            group,
            label: label.into(),
            unit,
            median: percentile(&sorted, 0.5),
            p90: many.then(|| percentile(&sorted, 0.9)),
            p99: many.then(|| percentile(&sorted, 0.99)),
            n,
            baseline: None,
            target: None,
            extra: serde_json::Map::new(),
        }
    }

    /// A figure measured once.
    pub(crate) fn single(
        id: impl Into<String>,
        group: &'static str,
        label: impl Into<String>,
        unit: &'static str,
        value: f64,
    ) -> Self {
        Self::from_samples(id, group, label, unit, &[value])
    }

    /// Compares against a baseline figure of the same unit measured in this run.
    pub(crate) fn against(mut self, baseline: &Figure) -> Self {
        self.baseline = Some((baseline.id.clone(), baseline.median));
        self
    }

    /// Sets a target.
    pub(crate) fn target(mut self, goal: Goal) -> Self {
        self.target = Some(goal);
        self
    }

    /// Adds a JSON field.
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Median divided by the baseline's median.
    pub(crate) fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .filter(|(_, b)| *b != 0.0)
            .map(|(_, b)| self.median / b)
    }

    /// Whether the median meets the target, if there is one.
    pub(crate) fn meets(&self) -> Option<bool> {
        self.target.map(|goal| match goal {
            Goal::AtMost(v) => self.median <= v,
            Goal::AtLeast(v) => self.median >= v,
        })
    }

    fn target_text(&self) -> String {
        match self.target {
            Some(Goal::AtMost(v)) => format!("<= {}", fmt_num(v)),
            Some(Goal::AtLeast(v)) => format!(">= {}", fmt_num(v)),
            None => String::new(),
        }
    }

    /// The JSON line.
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "figure": self.id,
            "group": self.group,
            "label": self.label,
            "unit": self.unit,
            "median": round(self.median),
            "n": self.n,
        });
        let obj = v.as_object_mut();
        if let Some(obj) = obj {
            if let Some(p) = self.p90 {
                obj.insert("p90".into(), json!(round(p)));
            }
            if let Some(p) = self.p99 {
                obj.insert("p99".into(), json!(round(p)));
            }
            if let Some((id, b)) = &self.baseline {
                obj.insert("baseline".into(), json!(id));
                obj.insert("baseline_median".into(), json!(round(*b)));
            }
            if let Some(r) = self.ratio() {
                obj.insert("ratio".into(), json!(round(r)));
            }
            if let Some(m) = self.meets() {
                obj.insert("target".into(), json!(self.target_text()));
                obj.insert("meets_target".into(), json!(m));
            }
            for (k, val) in &self.extra {
                obj.insert(k.clone(), val.clone());
            }
        }
        v
    }
}

/// Linear interpolation between closest ranks; `sorted` must be sorted.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = p * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            let frac = pos - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

fn round(v: f64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    let digits = if v.abs() >= 100.0 { 1 } else { 4 };
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// A number with a sensible number of digits for a table.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 100_000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Every figure of a run, in the order measured.
#[derive(Default)]
pub(crate) struct Report {
    figures: Vec<Figure>,
    /// Figures that could not be measured, with why.
    failures: Vec<(String, String)>,
}

impl Report {
    /// Records a figure and echoes it to stderr as progress.
    pub(crate) fn add(&mut self, figure: Figure) -> Figure {
        eprintln!(
            "  {:<48} {:>12} {}",
            figure.label,
            fmt_num(figure.median),
            figure.unit
        );
        self.figures.push(figure.clone());
        figure
    }

    /// Records that a measurement failed (the run goes on).
    pub(crate) fn fail(&mut self, what: &str, error: &anyhow::Error) {
        eprintln!("  FAILED {what}: {error:#}");
        self.failures.push((what.to_string(), format!("{error:#}")));
    }

    /// Prints the table, then one JSON line per figure, to stdout.
    pub(crate) fn print(&self, header: &Value) {
        let mut group = "";
        // Grouped by section (stable: within a section, in the order measured).
        let mut figures: Vec<&Figure> = self.figures.iter().collect();
        figures.sort_by_key(|f| f.group);
        println!(
            "{:<52} {:>11} {:>11} {:>11} {:<6} {:>4} {:>9} {:>12}",
            "figure", "median", "p90", "p99", "unit", "n", "ratio", "target"
        );
        for f in figures {
            if f.group != group {
                group = f.group;
                println!("-- {group}");
            }
            let opt = |v: Option<f64>| v.map(fmt_num).unwrap_or_default();
            let target = match f.meets() {
                Some(true) => format!("{} ok", f.target_text()),
                Some(false) => format!("{} MISS", f.target_text()),
                None => String::new(),
            };
            println!(
                "{:<52} {:>11} {:>11} {:>11} {:<6} {:>4} {:>9} {:>12}",
                f.label,
                fmt_num(f.median),
                opt(f.p90),
                opt(f.p99),
                f.unit,
                f.n,
                f.ratio()
                    .map(|r| format!("x{}", fmt_num(r)))
                    .unwrap_or_default(),
                target
            );
        }
        for (what, why) in &self.failures {
            println!("FAILED {what}: {why}");
        }
        println!("{header}");
        for f in &self.figures {
            println!("{}", f.json());
        }
        for (what, why) in &self.failures {
            println!("{}", json!({"figure": what, "failed": why}));
        }
    }
}
