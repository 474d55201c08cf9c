//! The values a PromQL query returns, in Prometheus's result shapes.

use agentmon_model::{Labels, Sample};

/// One element of an instant vector: a series' value at the evaluation time.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    /// The evaluation timestamp in milliseconds.
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector (matrix): its points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<Sample>,
}

/// The result of a query. Instant queries may return any variant; range
/// queries always return [`Value::Matrix`] (a scalar expression becomes one
/// series without labels), as Prometheus's `query_range` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<InstantSample>),
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
