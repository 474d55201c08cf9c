//! `limitk` and `limit_ratio`: keep some of a group's series, unchanged,
//! without looking at their values.
//!
//! `limitk(k, v)` keeps the first k series of each group in input order.
//! `limit_ratio(r, v)` keeps a series when its *sample offset* — the
//! 64-bit xxHash of its labels divided by 2^64 − 1 — is below r (for
//! r ≥ 0) or at least 1 + r (for r < 0), so `limit_ratio(r, v)` and
//! `limit_ratio(-(1 - r), v)` split `v` in two. The hash is Prometheus's
//! `labels.Labels.Hash`: XXH64 (seed 0) over each label's name, a 0xff
//! byte, its value and another 0xff, in label-name order, so the same
//! series are picked as in Prometheus. The labels hashed are those the
//! series has at that point; a pending name drop (see the engine module)
//! is applied first, since Prometheus drops names eagerly by default.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/operators/#aggregation-operators>
//! and `aggregationK` / `AddRatioSample` in Prometheus 3.5's `promql/engine.go`.

use agentmon_model::{Labels, METRIC_NAME_LABEL};

use super::{k_of, Grouping};
use crate::annotations::{self, Annotations};
use crate::engine::eval::Element;
use crate::error::PromqlError;

/// `limitk`: per group, the first `k` series in input order.
pub(super) fn limitk(
    input: Vec<Element>,
    grouping: &Grouping<'_>,
    k: f64,
) -> Result<Vec<Element>, PromqlError> {
    let k = k_of(k)?.min(input.len() as i64);
    if k < 1 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (_, mut members) in grouping.split(input) {
        members.truncate(k as usize);
        out.extend(members);
    }
    Ok(out)
}

/// `limit_ratio`: the series whose sample offset falls in the part of
/// [0, 1) the ratio selects. A ratio beyond ±1 is capped with a warning; a
/// NaN ratio fails the query.
pub(super) fn limit_ratio(
    input: Vec<Element>,
    grouping: &Grouping<'_>,
    ratio: f64,
    annotations: &mut Annotations,
) -> Result<Vec<Element>, PromqlError> {
    if ratio.is_nan() {
        return Err(PromqlError::RatioIsNaN);
    }
    let capped = ratio.clamp(-1.0, 1.0);
    if capped != ratio {
        annotations.warn(annotations::invalid_ratio(ratio, capped));
    }
    if capped == 0.0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (_, members) in grouping.split(input) {
        out.extend(
            members
                .into_iter()
                .filter(|e| ratio_keeps(capped, sample_offset(&e.labels, e.drop_name))),
        );
    }
    Ok(out)
}

/// Whether a series at `offset` in [0, 1] is kept by `ratio` in [-1, 1].
fn ratio_keeps(ratio: f64, offset: f64) -> bool {
    if ratio >= 0.0 {
        offset < ratio
    } else {
        offset >= 1.0 + ratio
    }
}

/// Where the series falls in [0, 1]: its label hash over the largest hash.
fn sample_offset(labels: &Labels, drop_name: bool) -> f64 {
    label_hash(labels, drop_name) as f64 / u64::MAX as f64
}

/// Prometheus's label-set hash (see the module documentation), skipping
/// `__name__` when its drop is pending.
pub(super) fn label_hash(labels: &Labels, drop_name: bool) -> u64 {
    let mut hasher = xxhash_rust::xxh64::Xxh64::new(0);
    for label in labels.iter() {
        if drop_name && label.name == METRIC_NAME_LABEL {
            continue;
        }
        hasher.update(label.name.as_bytes());
        hasher.update(&[0xff]);
        hasher.update(label.value.as_bytes());
        hasher.update(&[0xff]);
    }
    hasher.digest()
}
