//! Helpers shared by the end-to-end tests, which start the real `agentmon`
//! binary and talk HTTP to it: [`server`] runs and stops the process,
//! [`http`] wraps the API calls, [`writer`] is a remote-write load
//! generator that records exactly which samples were acknowledged,
//! [`prometheus`] runs a real Prometheus, [`exposition`] reads exposition
//! pages independently of the server's own parser, [`receiver`] runs webhook
//! receivers and a stoppable service on loopback.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod exposition;
pub mod http;
pub mod prometheus;
pub mod receiver;
pub mod server;
pub mod writer;
