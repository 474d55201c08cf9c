//! Load generators for benchmarking agentmon against its peers.
//!
//! - [`workload`] builds the agent-fleet data set of `bench/WORKLOAD.md`
//!   deterministically from a seed;
//! - [`remote_write`] pre-encodes that data set as Prometheus remote-write
//!   requests and sends them to any receiver, timing only the sending.
//!
//! `main.rs` wires [`RemoteWriteArgs`] as `agentmon bench remote-write` and
//! prints the [`RemoteWriteReport`] returned by [`run_remote_write`].

// Until main.rs wires the subcommand nothing outside the tests calls in here.
#![allow(dead_code)]

pub mod remote_write;
mod rng;
pub mod workload;

#[cfg(test)]
mod tests;

#[allow(unused_imports)] // main.rs may only need some of these
pub use remote_write::{run_remote_write, RemoteWriteArgs, RemoteWriteReport};
