//! The standard `process_*` metrics, read from `/proc/self` as the Go and
//! Python Prometheus clients do (names and units from
//! <https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics>).
//! On systems without `/proc` the families are simply left out.

use std::fmt::Write as _;

/// Appends `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds` and
/// `process_start_time_seconds` for the current process.
pub fn write_process_metrics(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name, which is in parentheses and may itself
    // contain spaces; `fields[0]` is field 3 (state) of proc(5).
    let Some(after_command) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return;
    };
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3).and_then(|f| f.parse::<u64>().ok());
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // SAFETY: as above.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;

    if let (Some(user), Some(system)) = (field(14), field(15)) {
        gauge_or_counter(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            (user + system) as f64 / ticks_per_second,
        );
    }
    if let Some(virtual_bytes) = field(23) {
        gauge_or_counter(
            out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            virtual_bytes as f64,
        );
    }
    if let Some(resident_pages) = field(24) {
        gauge_or_counter(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            (resident_pages * page_size) as f64,
        );
    }
    if let (Some(start_ticks), Some(boot_time)) = (field(22), boot_time_seconds()) {
        gauge_or_counter(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            boot_time as f64 + start_ticks as f64 / ticks_per_second,
        );
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        gauge_or_counter(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            entries.count() as f64,
        );
    }
    if let Some(max_fds) = max_open_files() {
        gauge_or_counter(
            out,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            max_fds as f64,
        );
    }
}

fn gauge_or_counter(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// Seconds since the epoch at which the machine booted (`btime` in /proc/stat).
fn boot_time_seconds() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

/// The soft limit on open files, from /proc/self/limits.
fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_this_process_on_linux() {
        let mut out = String::new();
        write_process_metrics(&mut out);
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(out.contains("# TYPE process_cpu_seconds_total counter\n"));
            assert!(out.contains("\nprocess_resident_memory_bytes "));
            assert!(out.contains("\nprocess_open_fds "));
            assert!(out.contains("\nprocess_start_time_seconds "));
        }
    }
}
