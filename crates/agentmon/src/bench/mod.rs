//! Load generators for benchmarking agentmon against its peers.
//!
//! - [`workload`] builds the agent-fleet data set of `bench/WORKLOAD.md`
//!   deterministically from a seed;
//! - [`remote_write`] pre-encodes that data set as Prometheus remote-write
//!   requests and sends them to any receiver, timing only the sending;
//! - [`query`] times range queries against any Prometheus-compatible query
//!   API;
//! - [`events`] sends the realistic agent-event stream of [`event_mix`] to
//!   the events API (or to VictoriaMetrics' import API, for the peer run)
//!   and checks the derived counters;
//! - [`live`] measures the delay from posting an event to its delivery to
//!   many WebSocket subscribers;
//! - [`scrape_targets`] serves many scrape targets with changing values;
//! - [`feed`] remote-writes the workload in real time to several receivers;
//! - [`alert_rules`] writes a rule file of many alerting rules over it.
//!
//! `main.rs` wires them as `agentmon bench remote-write|query|events|live|
//! scrape-targets|feed|alert-rules` and prints their reports.

pub mod alert_rules;
pub mod event_mix;
pub mod events;
pub mod feed;
pub mod live;
pub mod query;
pub mod remote_write;
mod rng;
pub mod scrape_targets;
pub mod workload;

#[cfg(test)]
mod event_tests;
#[cfg(test)]
mod tests;

pub use alert_rules::{run_alert_rules, AlertRulesArgs};
pub use events::{run_events_bench, EventsArgs};
pub use feed::{run_feed, FeedArgs};
pub use live::{run_live_bench, LiveArgs};
pub use query::{run_query_bench, QueryArgs};
pub use remote_write::{run_remote_write, RemoteWriteArgs};
pub use scrape_targets::{run_scrape_targets, ScrapeTargetsArgs};
