//! The `agentmon` binary: parses the command line, sets up logging and runs
//! the chosen subcommand. `serve` wiring lives in [`serve`], the promqltest
//! runner in [`promqltest`], the rule-file commands in [`rules`].

mod bench;
mod cli;
mod promqltest;
mod rules;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{BenchCommand, Cli, Command, LogFormat, RulesCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Bench(BenchCommand::RemoteWrite(args)) => run_remote_write_bench(&args),
        Command::Bench(BenchCommand::Query(args)) => run_query_bench(&args),
        Command::Bench(BenchCommand::Events(args)) => run_events_bench(&args),
        Command::Bench(BenchCommand::Live(args)) => run_live_bench(&args),
        Command::Bench(BenchCommand::ScrapeTargets(args)) => bench::run_scrape_targets(&args),
        Command::Bench(BenchCommand::Feed(args)) => bench::run_feed(&args),
        Command::Bench(BenchCommand::AlertRules(args)) => bench::run_alert_rules(&args),
        Command::Promqltest(args) => return promqltest::run(&args),
        Command::Rules(RulesCommand::Check(args)) => return rules::check(&args),
        Command::Rules(RulesCommand::Test(args)) => return rules::test(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the load generator and prints its report; fails if any request failed.
fn run_remote_write_bench(args: &bench::RemoteWriteArgs) -> anyhow::Result<()> {
    let report = bench::run_remote_write(args)?;
    println!("{report}");
    if !report.is_success() {
        anyhow::bail!("the load generator saw failed requests (see the report above)");
    }
    Ok(())
}

/// Times the queries and prints the report; fails if any query failed.
fn run_query_bench(args: &bench::QueryArgs) -> anyhow::Result<()> {
    let report = bench::run_query_bench(args)?;
    println!("{report}");
    if report.queries.iter().any(|q| q.error.is_some()) {
        anyhow::bail!("some queries failed (see the report above)");
    }
    Ok(())
}

/// Sends events and prints the report; fails on failed requests or a
/// derived counter that is not exact.
fn run_events_bench(args: &bench::EventsArgs) -> anyhow::Result<()> {
    let report = bench::run_events_bench(args)?;
    println!("{report}");
    if !report.is_success() {
        anyhow::bail!("failed requests or inexact counters (see the report above)");
    }
    Ok(())
}

/// Measures live-stream latency and prints the report; fails when events
/// were lost or posts failed.
fn run_live_bench(args: &bench::LiveArgs) -> anyhow::Result<()> {
    let report = bench::run_live_bench(args)?;
    println!("{report}");
    if !report.is_success() {
        anyhow::bail!("events were lost or posts failed (see the report above)");
    }
    Ok(())
}

/// Logs to stderr, filtered by `AGENTMON_LOG`, else `RUST_LOG`, else `info`.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("AGENTMON_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
