//! The registry as Prometheus text format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>) and as
//! samples for storage. Both list the same series with the same values:
//! the namespaced families first, then the GenAI semconv families. A label
//! whose value is empty (an absent semconv attribute) is left out, as
//! Prometheus treats it.

use std::fmt::Write as _;

use agentmon_model::{Label, Labels, METRIC_NAME_LABEL};

use crate::families::{self, Family, Kind};
use crate::registry::{AgentMetrics, Series, Value};
use crate::semconv;
use crate::series::Snapshot;

/// One series as a scrape would store it: metric name, labels, value.
type FlatSeries = (String, Vec<(String, String)>, f64);

/// A family's name and `# HELP` / `# TYPE` words.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    name: String,
    help: &'static str,
    type_name: &'static str,
}

impl AgentMetrics {
    /// The exposition: for each family with series, `# HELP`, `# TYPE` and
    /// its series; histograms as `_bucket` (cumulative, with `le`), `_sum`
    /// and `_count`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut last_family = String::new();
        for (header, (name, labels, value)) in self.flatten() {
            if header.name != last_family {
                let Header {
                    name: family,
                    help,
                    type_name,
                } = header;
                let _ = writeln!(out, "# HELP {family} {help}");
                let _ = writeln!(out, "# TYPE {family} {type_name}");
                last_family = family;
            }
            out.push_str(&name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (label, label_value)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{label}=\"{}\"", escape(label_value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", format_value(value));
        }
        out
    }

    /// Every series with its labels sorted and `__name__` among them, for
    /// writing into the TSDB.
    pub fn samples(&self) -> Vec<(Labels, f64)> {
        self.flatten()
            .into_iter()
            .map(|(_, (name, labels, value))| {
                let mut all: Vec<Label> = labels
                    .into_iter()
                    .map(|(n, v)| Label { name: n, value: v })
                    .collect();
                all.push(Label {
                    name: METRIC_NAME_LABEL.to_owned(),
                    value: name,
                });
                all.sort_by(|a, b| a.name.cmp(&b.name));
                (Labels::from_sorted_unchecked(all), value)
            })
            .collect()
    }

    /// (family header, series) for every series, in render order. Only the
    /// values are copied under the registry's lock (keys are shared); the
    /// sorting and the labels of each flattened series are made after it
    /// is let go, so a scrape or a write to the TSDB holds up no batch for
    /// longer than that copy.
    fn flatten(&self) -> Vec<(Header, FlatSeries)> {
        let (hermes, per_session, semconv) = {
            let state = self.state.lock();
            (
                state.series.each_ref().map(Series::snapshot),
                state.per_session(),
                state.semconv.each_ref().map(Series::snapshot),
            )
        };
        let mut out = Vec::new();
        let namespace = &self.options().namespace;
        for (family, series) in families::ALL.iter().zip(hermes) {
            let name = format!("{namespace}_{}", family.suffix);
            flatten_family(name, family, series, &mut out);
        }
        for (family, series) in families::PER_SESSION.iter().zip(per_session.iter()) {
            let name = format!("{namespace}_{}", family.suffix);
            flatten_family(name, family, series.snapshot(), &mut out);
        }
        for (family, series) in semconv::ALL.iter().zip(semconv) {
            flatten_family(family.suffix.to_owned(), family, series, &mut out);
        }
        out
    }
}

fn flatten_family(
    name: String,
    family: &Family,
    mut series: Snapshot,
    out: &mut Vec<(Header, FlatSeries)>,
) {
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let header = Header {
        name,
        help: family.help,
        type_name: family.kind.type_name(),
    };
    let label_names: Vec<&str> = families::COMMON_LABELS
        .iter()
        .chain(family.labels)
        .copied()
        .collect();
    for (values, value) in &series {
        let labels: Vec<(String, String)> = label_names
            .iter()
            .zip(values.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect();
        for flat in expand(&header.name, family.kind, labels, value) {
            out.push((header.clone(), flat));
        }
    }
}

fn expand(
    family: &str,
    kind: Kind,
    labels: Vec<(String, String)>,
    value: &Value,
) -> Vec<FlatSeries> {
    match (value, kind) {
        (Value::Scalar(v), _) => vec![(family.to_owned(), labels, *v)],
        (
            Value::Histogram {
                buckets,
                sum,
                count,
            },
            Kind::Histogram(bounds),
        ) => {
            let mut out = Vec::with_capacity(buckets.len() + 2);
            let mut cumulative = 0;
            for (i, in_bucket) in buckets.iter().enumerate() {
                cumulative += in_bucket;
                let le = bounds
                    .get(i)
                    .map_or("+Inf".to_owned(), |b| format_value(*b));
                let mut with_le = labels.clone();
                with_le.push(("le".to_owned(), le));
                out.push((format!("{family}_bucket"), with_le, cumulative as f64));
            }
            out.push((format!("{family}_sum"), labels.clone(), *sum));
            out.push((format!("{family}_count"), labels, *count as f64));
            out
        }
        (Value::Histogram { .. }, _) => Vec::new(),
    }
}

/// Values as Prometheus's Go client writes them for finite numbers:
/// integers without a fraction, others in shortest round-trip form.
fn format_value(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

/// Label-value escaping of the text format: `\`, `"` and newline.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
