//! What the tests against real Prometheus and promtool share: finding the
//! peer program (or skipping, or failing under `AGENTMON_REQUIRE_PEERS=1`)
//! and a child process that is killed when the test ends.

#![allow(dead_code)] // each test file uses its part

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Child;

/// `name` on `PATH` (from Debian's `prometheus` package), or `None` after
/// printing why the test is skipped; panics instead when
/// `AGENTMON_REQUIRE_PEERS=1`.
pub fn peer_or_skip(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    if let Some(found) = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
    {
        return Some(found);
    }
    if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{name} is not installed and AGENTMON_REQUIRE_PEERS=1 (apt-get install prometheus)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIP: {name} not installed (apt-get install prometheus)"
    );
    None
}

/// A peer process, killed when dropped if it still runs.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
