#![doc = include_str!("../README.md")]

use std::net::{Ipv4Addr, SocketAddr};

/// The address every benchmark server binds and the only one the load generator talks to.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The line a server prints once it is bound, followed by its port.
pub const LISTENING_PREFIX: &str = "listening on 127.0.0.1:";

/// The command line every benchmark server accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerArgs {
    /// Port to bind on 127.0.0.1; `0` (the default) picks a free one.
    pub port: u16,
    /// Exit when stdin reaches end of file (set by the orchestrator).
    pub exit_on_stdin_eof: bool,
}

impl ServerArgs {
    /// Parses `--port P` and `--exit-on-stdin-eof`.
    ///
    /// # Errors
    ///
    /// An unknown argument, or a port that is missing or not a number.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => {
                    let value = args.next().ok_or("`--port` needs a value")?;
                    parsed.port = value
                        .parse()
                        .map_err(|_| format!("`--port` expects a port number, got `{value}`"))?;
                }
                "--exit-on-stdin-eof" => parsed.exit_on_stdin_eof = true,
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (expected --port P, --exit-on-stdin-eof)"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// Binds the server's listener per the benchmark contract and announces it: [`listen_with`]
/// on the process arguments.
///
/// # Errors
///
/// Bad arguments, or the address cannot be bound.
pub async fn listen() -> Result<tokio::net::TcpListener, String> {
    listen_with(std::env::args().skip(1)).await
}

/// Takes `--mode M` out of `args` (for servers with several setups); `default` when absent.
///
/// ```
/// let mut args = vec!["--mode".to_owned(), "file".to_owned(), "--port".to_owned(), "0".to_owned()];
/// assert_eq!(yolk_bench::take_mode(&mut args, "off"), "file");
/// assert_eq!(args, ["--port", "0"]);
/// assert_eq!(yolk_bench::take_mode(&mut args, "off"), "off");
/// ```
pub fn take_mode(args: &mut Vec<String>, default: &str) -> String {
    match args.iter().position(|arg| arg == "--mode") {
        Some(i) if i + 1 < args.len() => {
            let mode = args.remove(i + 1);
            args.remove(i);
            mode
        }
        _ => default.to_owned(),
    }
}

/// Reads [`ServerArgs`] from `args`, binds `127.0.0.1:PORT`, prints `listening on
/// 127.0.0.1:PORT` (the real port, also when `0` was asked) and, with `--exit-on-stdin-eof`,
/// starts a thread that exits the process when stdin closes.
///
/// # Errors
///
/// Bad arguments, or the address cannot be bound.
pub async fn listen_with<I: IntoIterator<Item = String>>(
    args: I,
) -> Result<tokio::net::TcpListener, String> {
    let args = ServerArgs::parse(args)?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((LOOPBACK, args.port)))
        .await
        .map_err(|err| format!("cannot bind 127.0.0.1:{}: {err}", args.port))?;
    let port = listener
        .local_addr()
        .map_err(|err| format!("cannot read the bound address: {err}"))?
        .port();
    if args.exit_on_stdin_eof {
        std::thread::spawn(|| {
            // Read until EOF (or an error): the parent is gone or is done with us.
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    // `println!` goes through a line-buffered stdout, so the line is flushed here.
    println!("{LISTENING_PREFIX}{port}");
    Ok(listener)
}

/// Reads the port from a server's `listening on 127.0.0.1:PORT` line.
pub fn parse_listening_line(line: &str) -> Option<u16> {
    line.trim().strip_prefix(LISTENING_PREFIX)?.parse().ok()
}

/// The yolk app every yolk benchmark server starts from: `GET /` → `Hello, yolk`, env `prod`,
/// no `YOLK_*` variables read, its `run/` files under the temp dir (`yolk-bench-{name}`).
///
/// ```
/// let builder = yolk_bench::hello_app("doc");
/// assert!(builder.configured_base_dir().unwrap().ends_with("yolk-bench-doc"));
/// ```
pub fn hello_app(name: &str) -> yolk_core::AppBuilder {
    yolk_core::App::builder()
        .name("bench")
        .base_dir(std::env::temp_dir().join(format!("yolk-bench-{name}")))
        .env("prod")
        .vars(std::iter::empty::<(String, String)>())
        .config("keys", "a-benchmark-key-of-32-characters")
        .route("/", axum::routing::get(|| async { "Hello, yolk" }))
}

/// Binds per the benchmark contract, from this process's arguments ([`serve_app_with`]), boots
/// `app` and serves it until the process ends. Any failure is printed with `program`'s name and ends the process (exit 2 for the
/// arguments or the bind, 1 for the app).
pub async fn serve_app(program: &str, app: yolk_core::AppBuilder) {
    serve_app_with(program, std::env::args().skip(1), app).await
}

/// [`serve_app`] with the server arguments in `args` (what is left once a server has taken
/// its own, such as [`take_mode`]'s).
pub async fn serve_app_with<I: IntoIterator<Item = String>>(
    program: &str,
    args: I,
    app: yolk_core::AppBuilder,
) {
    let listener = match listen_with(args).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{program}: {err}");
            std::process::exit(2);
        }
    };
    let served = match app.build().await {
        Ok(app) => app.serve(listener, std::future::pending()).await,
        Err(err) => Err(err),
    };
    match served {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("{program}: {err}");
            std::process::exit(1);
        }
    }
}

/// A load target: a loopback address and the path to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Always on 127.0.0.1.
    pub addr: SocketAddr,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Target {
    /// Parses `http://127.0.0.1:PORT[/path]`.
    ///
    /// # Errors
    ///
    /// Anything but plain `http` to `127.0.0.1` with an explicit port: the load generator
    /// refuses every other host.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://127.0.0.1:").ok_or_else(|| {
            format!("refusing `{url}`: only http://127.0.0.1:PORT/... is allowed")
        })?;
        let (port, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{url}`: `{port}` is not a port number"))?;
        if port == 0 {
            return Err(format!("`{url}`: port 0 is not a target"));
        }
        Ok(Self {
            addr: SocketAddr::from((LOOPBACK, port)),
            path: path.to_owned(),
        })
    }
}

/// The value at quantile `q` (0.0..=1.0) of sorted samples, nearest-rank; 0 when empty.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_accepts_loopback_only() {
        let target = Target::parse("http://127.0.0.1:8080/hello?x=1").unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.path, "/hello?x=1");
        assert_eq!(Target::parse("http://127.0.0.1:9").unwrap().path, "/");
        for refused in [
            "http://localhost:8080/",
            "http://10.0.0.1:80/",
            "https://127.0.0.1:443/",
            "http://127.0.0.1.example.com:80/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:/",
            "http://127.0.0.10:80/",
        ] {
            assert!(Target::parse(refused).is_err(), "{refused} was accepted");
        }
    }

    #[test]
    fn server_args() {
        let args = |list: &[&str]| ServerArgs::parse(list.iter().map(|s| (*s).to_owned()));
        assert_eq!(args(&[]).unwrap(), ServerArgs::default());
        assert_eq!(
            args(&["--port", "7", "--exit-on-stdin-eof"]).unwrap(),
            ServerArgs {
                port: 7,
                exit_on_stdin_eof: true
            }
        );
        assert!(args(&["--port"]).is_err());
        assert!(args(&["--port", "x"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }

    #[test]
    fn listening_line() {
        assert_eq!(
            parse_listening_line("listening on 127.0.0.1:4321\n"),
            Some(4321)
        );
        assert_eq!(parse_listening_line("listening on 0.0.0.0:4321"), None);
        assert_eq!(parse_listening_line("hello"), None);
    }

    #[test]
    fn percentiles() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 0.5), 50);
        assert_eq!(percentile(&samples, 0.99), 99);
        assert_eq!(percentile(&samples, 1.0), 100);
        assert_eq!(percentile(&samples, 0.0), 1);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
