//! Running aggregations: `sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev` and `stdvar` as folds over values in input order. This is the
//! one implementation of their arithmetic: the step-by-step path folds each
//! group's values at a step, and the streaming path in `batch` folds each
//! (group, step) as series arrive, so both give the same bits.
//!
//! Numerics follow Prometheus 3.x: sums are compensated (Kahan–Neumaier);
//! `avg` divides the compensated sum and switches to an incremental mean
//! once the sum would overflow; `stddev`/`stdvar` are population statistics
//! by Welford's method, NaN if the first value is not finite.

use promql_parser::parser::token::{
    TokenId, T_AVG, T_COUNT, T_GROUP, T_MAX, T_MIN, T_STDDEV, T_STDVAR, T_SUM,
};

use crate::engine::functions::kahan_add;

/// Which aggregation a fold computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoldKind {
    Sum,
    Mean,
    Min,
    Max,
    Count,
    Group,
    Stdvar,
    Stddev,
}

impl FoldKind {
    /// The fold of aggregation operator `op`, if it is one without a
    /// parameter that folds.
    pub(crate) fn of(op: TokenId) -> Option<FoldKind> {
        Some(match op {
            T_SUM => FoldKind::Sum,
            T_AVG => FoldKind::Mean,
            T_MIN => FoldKind::Min,
            T_MAX => FoldKind::Max,
            T_COUNT => FoldKind::Count,
            T_GROUP => FoldKind::Group,
            T_STDVAR => FoldKind::Stdvar,
            T_STDDEV => FoldKind::Stddev,
            _ => return None,
        })
    }

    /// A fold that has seen `first`.
    pub(crate) fn start(self, first: f64) -> Fold {
        let state = match self {
            FoldKind::Sum => State::Sum {
                total: first,
                compensation: 0.0,
            },
            FoldKind::Mean => State::Mean {
                total: first,
                compensation: 0.0,
                incremental: None,
            },
            FoldKind::Min | FoldKind::Max => State::Extreme(first),
            FoldKind::Count | FoldKind::Group => State::Counted,
            FoldKind::Stdvar | FoldKind::Stddev => State::Welford {
                mean: first,
                squares: if first.is_finite() { 0.0 } else { f64::NAN },
            },
        };
        Fold {
            kind: self,
            count: 1,
            state,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Sum {
        total: f64,
        compensation: f64,
    },
    Mean {
        total: f64,
        compensation: f64,
        /// The running mean once the sum has overflowed.
        incremental: Option<f64>,
    },
    Extreme(f64),
    Counted,
    Welford {
        mean: f64,
        squares: f64,
    },
}

/// An aggregation in progress over at least one value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fold {
    kind: FoldKind,
    count: u64,
    state: State,
}

impl Fold {
    /// Takes the next value in input order.
    pub(crate) fn push(&mut self, v: f64) {
        self.count += 1;
        let count = self.count as f64;
        match &mut self.state {
            State::Sum {
                total,
                compensation,
            } => (*total, *compensation) = kahan_add(v, *total, *compensation),
            State::Mean {
                total,
                compensation,
                incremental,
            } => {
                let running_mean = match *incremental {
                    Some(m) => m,
                    None => {
                        let (next, next_compensation) = kahan_add(v, *total, *compensation);
                        if !next.is_infinite() {
                            (*total, *compensation) = (next, next_compensation);
                            return;
                        }
                        *compensation /= count - 1.0;
                        *total / (count - 1.0)
                    }
                };
                let q = (count - 1.0) / count;
                let (m, c) = kahan_add(v / count, q * running_mean, q * *compensation);
                *incremental = Some(m);
                *compensation = c;
            }
            State::Extreme(held) => {
                // NaN only wins when every value is NaN.
                let replaces = match self.kind {
                    FoldKind::Min => *held > v,
                    _ => *held < v,
                };
                if replaces || held.is_nan() {
                    *held = v;
                }
            }
            State::Counted => {}
            State::Welford { mean, squares } => {
                let delta = v - *mean;
                *mean += delta / count;
                *squares += delta * (v - *mean);
            }
        }
    }

    /// The aggregation's value.
    pub(crate) fn finish(self) -> f64 {
        let count = self.count as f64;
        match self.state {
            State::Sum {
                total,
                compensation,
            } => total + compensation,
            State::Mean {
                total,
                compensation,
                incremental,
            } => match incremental {
                Some(m) => m + compensation,
                None => total / count + compensation / count,
            },
            State::Extreme(held) => held,
            State::Counted => match self.kind {
                FoldKind::Group => 1.0,
                _ => count,
            },
            State::Welford { squares, .. } => {
                let variance = squares / count;
                match self.kind {
                    FoldKind::Stddev => variance.sqrt(),
                    _ => variance,
                }
            }
        }
    }
}

/// Folds non-empty `values` in order.
pub(crate) fn fold(kind: FoldKind, values: &[f64]) -> f64 {
    let mut f = kind.start(values[0]);
    for &v in &values[1..] {
        f.push(v);
    }
    f.finish()
}
