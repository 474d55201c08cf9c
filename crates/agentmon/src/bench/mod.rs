//! Load generators for benchmarking agentmon against its peers.
//!
//! - [`workload`] builds the agent-fleet data set of `bench/WORKLOAD.md`
//!   deterministically from a seed;
//! - [`remote_write`] pre-encodes that data set as Prometheus remote-write
//!   requests and sends them to any receiver, timing only the sending;
//! - [`query`] times range queries against any Prometheus-compatible query
//!   API.
//!
//! `main.rs` wires them as `agentmon bench remote-write` and
//! `agentmon bench query` and prints their reports.

pub mod query;
pub mod remote_write;
mod rng;
pub mod workload;

#[cfg(test)]
mod tests;

pub use query::{run_query_bench, QueryArgs};
pub use remote_write::{run_remote_write, RemoteWriteArgs};
