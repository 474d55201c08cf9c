//! The values a PromQL query returns, in Prometheus's result shapes.

use agentmon_model::{Labels, Sample};

/// One element of an instant vector: a series' value at the evaluation time.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels (without `__name__` where an operator dropped it).
    pub labels: Labels,
    /// The evaluation timestamp in milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector (matrix): its points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Points in time order, timestamps in milliseconds.
    pub points: Vec<Sample>,
}

/// The result of a query. Instant queries may return any variant; range
/// queries always return [`Value::Matrix`] (a scalar expression becomes one
/// series without labels), as Prometheus's `query_range` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number, at the evaluation time.
    Scalar { t: i64, v: f64 },
    /// A string literal's value, at the evaluation time.
    String { t: i64, v: String },
    /// An instant vector: one value per series.
    Vector(Vec<InstantSample>),
    /// A range vector (or a range query's result): points per series.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// The Prometheus name of the value's type (`scalar`, `vector`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}
