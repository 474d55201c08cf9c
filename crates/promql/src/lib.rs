//! The PromQL side of agentmon.
//!
//! This crate will hold the PromQL evaluator: the engine that runs instant and
//! range queries against the embedded TSDB. For now it holds the groundwork for
//! checking that engine against Prometheus: [`promqltest`], a parser for the
//! promqltest scripts of the Prometheus conformance suite. It turns a script
//! into a [`promqltest::Script`] of typed commands (load data, clear it,
//! evaluate a query and compare) without evaluating anything, so that a
//! conformance runner can drive the engine once it exists.

pub mod promqltest;
