//! Serves the hello app: `cargo run -p hello` (then `hello --port 7001`, `hello status`,
//! `hello stop`, `hello start --single`, …: `yolk::run`'s commands).

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    // `config/` is looked up under the base directory, which defaults to the current one. The
    // crate's own directory, fixed at compile time, makes `cargo run -p hello` find
    // `config/config.default.toml` from any working directory (and puts `run/` beside it).
    yolk::run(|| hello::app().base_dir(env!("CARGO_MANIFEST_DIR")))
}
