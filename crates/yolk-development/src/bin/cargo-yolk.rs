//! `cargo yolk dev`: rebuild and reload a yolk app on every change, without dropping a request.
//!
//! Install with `cargo install --path crates/yolk-development`, or run in place with
//! `cargo run -p yolk-development --bin cargo-yolk -- yolk dev`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use yolk_development::dev::{DevArgs, run};

/// Cargo calls `cargo-yolk yolk ARGS…` for `cargo yolk ARGS…`.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    /// yolk's tools.
    Yolk(Yolk),
}

#[derive(Debug, clap::Args)]
#[command(version, about)]
struct Yolk {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the app, run it as a cluster, and on each change rebuild and roll the agent and
    /// the workers onto the new binary while the old ones keep serving.
    Dev(DevArgs),
}

fn main() -> ExitCode {
    let Cargo::Yolk(yolk) = Cargo::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Command::Dev(args) = yolk.command;
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
