//! Serves the hello app: `cargo run -p hello -- --port 7001 --host 127.0.0.1`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The hello app: a greeting and a visit counter in a signed cookie.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The port to listen on.
    #[arg(long, default_value_t = 7001)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    // `config/` is looked up under the base directory, which defaults to the current one. The
    // crate's own directory, fixed at compile time, makes `cargo run -p hello` find
    // `config/config.default.toml` from any working directory (and puts `run/` beside it).
    let base_dir = env!("CARGO_MANIFEST_DIR");
    let address = if args.host.contains(':') {
        format!("[{}]:{}", args.host, args.port)
    } else {
        format!("{}:{}", args.host, args.port)
    };

    let served = match hello::app().base_dir(base_dir).build().await {
        Ok(app) => app.listen(address).await,
        Err(error) => Err(error),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hello: {error}");
            ExitCode::FAILURE
        }
    }
}
