//! A keep-alive HTTP/1.1 load generator for servers on 127.0.0.1.
//!
//! Usage: `load --url http://127.0.0.1:PORT/path [--connections C] [--duration-ms D]
//! [--warmup-ms W] [--threads T] [--header "name: value"]...`
//!
//! Every request carries the `--header`s given (repeatable), for example
//! `--header "cookie: csrfToken=..."` to load a server as a returning client would.
//!
//! Opens `C` connections, each sending one request at a time for `W + D` ms; only responses
//! completed in the last `D` ms count. Prints one JSON line:
//! `{"requests":..,"errors":..,"seconds":..,"rps":..,"p50_us":..,"p99_us":..,"answered":..}`
//! where `requests` are 2xx responses and `errors` are failed connections, failed requests and
//! non-2xx answers, both counted in the measured window; `answered` counts every response of
//! the whole run, warm-up included (what the server's CPU time over the run paid for).
//! Any URL not on 127.0.0.1 is refused; the run is bounded in time whatever the server does.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout_at};
use yolk_bench::{Target, percentile};

/// Longest run accepted (warm-up plus measurement), so a typo cannot start an endless test.
const MAX_RUN: Duration = Duration::from_secs(600);
/// How long past the end a request in flight may take before it is abandoned.
const GRACE: Duration = Duration::from_secs(2);
/// Pause before reconnecting after a failed connection, so a dead server is not spun on.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
struct Options {
    target: Target,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    threads: usize,
    /// Extra headers sent with every request.
    headers: http::HeaderMap,
}

const USAGE: &str = "usage: load --url http://127.0.0.1:PORT/path [--connections C (32)] \
[--duration-ms D (3000)] [--warmup-ms W (500)] [--threads T (1)] [--header \"name: value\"]...";

/// `name: value` as a header; `host` and framing headers are the generator's own.
fn parse_header(text: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`--header` expects `name: value`, got `{text}`"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`--header`: `{}` is not a header name", name.trim()))?;
    if matches!(
        name.as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection"
    ) {
        return Err(format!("`--header`: `{name}` is set by load itself"));
    }
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("`--header`: the value of `{name}` is not a header value"))?;
    Ok((name, value))
}

fn parse_options() -> Result<Options, String> {
    let mut url = None;
    let (mut connections, mut duration_ms, mut warmup_ms, mut threads) = (32, 3000, 500, 1);
    let mut headers = http::HeaderMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        let number = |name: &str, value: String| {
            value
                .parse::<u64>()
                .map_err(|_| format!("`{name}` expects a number, got `{value}`"))
        };
        match arg.as_str() {
            "--url" => url = Some(value("--url")?),
            "--connections" => connections = number(&arg, value(&arg)?)?,
            "--duration-ms" => duration_ms = number(&arg, value(&arg)?)?,
            "--warmup-ms" => warmup_ms = number(&arg, value(&arg)?)?,
            "--threads" => threads = number(&arg, value(&arg)?)?,
            "--header" => {
                let (name, value) = parse_header(&value(&arg)?)?;
                headers.append(name, value);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let target = Target::parse(&url.ok_or_else(|| format!("`--url` is required\n{USAGE}"))?)?;
    let (duration, warmup) = (
        Duration::from_millis(duration_ms),
        Duration::from_millis(warmup_ms),
    );
    if duration.is_zero() || duration + warmup > MAX_RUN {
        return Err(format!(
            "`--duration-ms` must be > 0 and warm-up plus duration at most {} s",
            MAX_RUN.as_secs()
        ));
    }
    if !(1..=10_000).contains(&connections) || !(1..=64).contains(&threads) {
        return Err("`--connections` must be 1..=10000 and `--threads` 1..=64".to_owned());
    }
    Ok(Options {
        target,
        connections: connections as usize,
        duration,
        warmup,
        threads: threads as usize,
        headers,
    })
}

/// What one connection saw inside the measured window.
#[derive(Debug, Default)]
struct Stats {
    ok: u64,
    errors: u64,
    /// Every response, warm-up included.
    answered: u64,
    latencies_us: Vec<u32>,
}

async fn connect(target: &Target) -> Result<SendRequest<Empty<Bytes>>, BoxError> {
    let stream = TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends when `sender` is dropped or the server closes.
    tokio::spawn(connection);
    Ok(sender)
}

/// What one request on a keep-alive connection came to.
enum Outcome {
    /// The server answered; `reusable` is false when it said `Connection: close`.
    Answered {
        status: http::StatusCode,
        reusable: bool,
    },
    /// The connection was closed before the request was sent: nothing failed, reconnect.
    Closed,
}

async fn request(
    sender: &mut SendRequest<Empty<Bytes>>,
    target: &Target,
    host: &str,
    headers: &http::HeaderMap,
) -> Result<Outcome, BoxError> {
    if sender.ready().await.is_err() {
        return Ok(Outcome::Closed);
    }
    let mut req = Request::get(target.path.as_str())
        .header(header::HOST, host)
        .body(Empty::new())?;
    if !headers.is_empty() {
        req.headers_mut().extend(headers.clone());
    }
    let response = sender.send_request(req).await?;
    let status = response.status();
    let reusable = !response
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
    response.into_body().collect().await?;
    Ok(Outcome::Answered { status, reusable })
}

/// Drives one keep-alive connection until `end`, reconnecting after errors.
async fn run_connection(
    target: Arc<Target>,
    headers: Arc<http::HeaderMap>,
    measure_from: Instant,
    end: Instant,
) -> Stats {
    let host = target.addr.to_string();
    let mut stats = Stats::default();
    let in_window = |at: Instant| at >= measure_from && at <= end;
    'connections: while Instant::now() < end {
        let mut sender = match timeout_at(end, connect(&target)).await {
            Ok(Ok(sender)) => sender,
            Ok(Err(_)) => {
                if in_window(Instant::now()) {
                    stats.errors += 1;
                }
                sleep(RECONNECT_PAUSE).await;
                continue;
            }
            Err(_) => break,
        };
        while Instant::now() < end {
            let started = Instant::now();
            match timeout_at(end + GRACE, request(&mut sender, &target, &host, &headers)).await {
                Ok(Ok(Outcome::Closed)) => continue 'connections,
                Ok(Ok(Outcome::Answered { status, reusable })) => {
                    stats.answered += 1;
                    let done = Instant::now();
                    if in_window(done) {
                        if status.is_success() {
                            stats.ok += 1;
                            let micros = (done - started).as_micros();
                            stats.latencies_us.push(micros.min(u32::MAX as u128) as u32);
                        } else {
                            stats.errors += 1;
                        }
                    }
                    if !reusable {
                        continue 'connections;
                    }
                }
                Ok(Err(_)) => {
                    if in_window(Instant::now()) {
                        stats.errors += 1;
                    }
                    continue 'connections;
                }
                Err(_) => break 'connections,
            }
        }
    }
    stats
}

async fn run(options: Options) -> String {
    let target = Arc::new(options.target);
    let headers = Arc::new(options.headers);
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let tasks: Vec<_> = (0..options.connections)
        .map(|_| {
            tokio::spawn(run_connection(
                target.clone(),
                headers.clone(),
                measure_from,
                end,
            ))
        })
        .collect();

    let mut total = Stats::default();
    for task in tasks {
        // Each task stops by `end + GRACE`; a panicked task counts as one error.
        match task.await {
            Ok(stats) => {
                total.ok += stats.ok;
                total.errors += stats.errors;
                total.answered += stats.answered;
                total.latencies_us.extend(stats.latencies_us);
            }
            Err(_) => total.errors += 1,
        }
    }
    total.latencies_us.sort_unstable();
    let seconds = options.duration.as_secs_f64();
    format!(
        "{{\"requests\":{},\"errors\":{},\"seconds\":{:.3},\"rps\":{:.1},\"p50_us\":{},\"p99_us\":{},\"answered\":{}}}",
        total.ok,
        total.errors,
        seconds,
        total.ok as f64 / seconds,
        percentile(&total.latencies_us, 0.50),
        percentile(&total.latencies_us, 0.99),
        total.answered,
    )
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("load: {err}");
            std::process::exit(2);
        }
    };
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("load: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    let line = runtime.block_on(run(options));
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::parse_header;

    #[test]
    fn headers_parse_and_reserved_ones_are_refused() {
        let (name, value) = parse_header("Cookie:  csrfToken=abc; a=b ").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("cookie", "csrfToken=abc; a=b")
        );
        assert!(
            parse_header("no colon")
                .unwrap_err()
                .contains("name: value")
        );
        assert!(parse_header("host: x").unwrap_err().contains("set by load"));
        assert!(parse_header("bad name: x").is_err());
    }
}
