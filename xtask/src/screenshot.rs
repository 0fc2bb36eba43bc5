//! `cargo xtask screenshot`: renders yolk-onerror's developer error page in headless Chromium
//! and saves it as PNGs under `target/screenshots/`, for a person to look at.
//!
//! It builds and starts `yolk-onerror`'s `dev_page` example on `127.0.0.1:0`, reads the port
//! from its `listening on 127.0.0.1:PORT` line, takes one screenshot per page (a handler error
//! with causes, a panic with its backtrace), checks each PNG exists and is not trivially small,
//! then stops the server. Needs `chromium` on `PATH` (Debian: `apt-get install chromium`); not
//! part of `test-all`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const HELP: &str = "\
Usage: cargo xtask screenshot

Builds yolk-onerror's dev_page example, serves it on 127.0.0.1 in the local environment,
and saves headless-Chromium screenshots of its error pages to target/screenshots/:
  onerror-dev-page.png        a handler error with a chain of causes
  onerror-dev-page-panic.png  a panic with its location and backtrace
then does the same with yolk-development's dev_pages example:
  development-loader-trace.png  the boot trace of the master, an agent and a worker (/__loader_trace__)
  development-build-error.png   the page a browser gets while the build is broken";

/// yolk-development's pages: file name, path on the dev_pages example server.
const DEVELOPMENT_PAGES: &[(&str, &str)] = &[
    ("development-loader-trace.png", "/__loader_trace__"),
    ("development-build-error.png", "/__build_error__"),
];

/// The pages: file name, path on the example server.
const PAGES: &[(&str, &str)] = &[
    ("onerror-dev-page.png", "/orders/42"),
    ("onerror-dev-page-panic.png", "/boom"),
];

/// A PNG smaller than this is a blank or broken page.
const MIN_PNG_BYTES: u64 = 20_000;

/// Kills and reaps the child when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `screenshot` with the arguments after the task name.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        if arg == "-h" || arg == "--help" {
            println!("{HELP}");
            return Ok(());
        }
        return Err(format!("unknown option `{arg}` for screenshot\n\n{HELP}"));
    }
    if Command::new("chromium").arg("--version").output().is_err() {
        return Err(
            "`chromium` is not on PATH; install it (Debian: apt-get install chromium)".into(),
        );
    }
    println!("==> screenshot: cargo build -p yolk-onerror --example dev_page");
    let status = crate::cargo(["build", "-p", "yolk-onerror", "--example", "dev_page"])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err(format!("building the dev_page example failed ({status})"));
    }
    let target = crate::target_dir()?;
    let mut server = Reaped(
        Command::new(target.join("debug/examples/dev_page"))
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("cannot start dev_page: {err}"))?,
    );
    let port = read_port(&mut server.0)?;
    let out_dir = target.join("screenshots");
    std::fs::create_dir_all(&out_dir)
        .map_err(|err| format!("cannot create {}: {err}", out_dir.display()))?;
    for (file, path) in PAGES {
        let png = out_dir.join(file);
        shoot(&format!("http://127.0.0.1:{port}{path}"), &png)?;
        println!("    {} ({} bytes)", png.display(), check_png(&png)?);
    }
    drop(server);
    development(&target, &out_dir)
}

/// Serves yolk-development's dev_pages example and shoots its pages.
fn development(target: &Path, out_dir: &Path) -> Result<(), String> {
    println!("==> screenshot: cargo build -p yolk-development --example dev_pages");
    let status = crate::cargo(["build", "-p", "yolk-development", "--example", "dev_pages"])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err(format!("building the dev_pages example failed ({status})"));
    }
    let mut server = Reaped(
        Command::new(target.join("debug/examples/dev_pages"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("cannot start dev_pages: {err}"))?,
    );
    let port = read_port(&mut server.0)?;
    for (file, path) in DEVELOPMENT_PAGES {
        let png = out_dir.join(file);
        shoot(&format!("http://127.0.0.1:{port}{path}"), &png)?;
        println!("    {} ({} bytes)", png.display(), check_png(&png)?);
    }
    Ok(())
}

/// Waits for the server's `listening on 127.0.0.1:PORT` line; keeps draining its stdout after.
fn read_port(child: &mut Child) -> Result<u16, String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line
                .trim()
                .strip_prefix("listening on 127.0.0.1:")
                .and_then(|port| port.parse::<u16>().ok())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(port);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .map_err(|_| "the example printed no `listening on 127.0.0.1:PORT` line".to_owned())
}

/// One headless Chromium screenshot of `url` into `png`, with a throw-away profile.
fn shoot(url: &str, png: &Path) -> Result<(), String> {
    let profile = std::env::temp_dir().join(format!("yolk-screenshot-{}", std::process::id()));
    let _ = std::fs::remove_file(png);
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run chromium: {err}"))?;
    let _ = std::fs::remove_dir_all(&profile);
    if !output.status.success() {
        return Err(format!(
            "chromium failed on {url} ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// The PNG's size, when it is a PNG of a rendered page.
fn check_png(png: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(png).map_err(|err| format!("no {}: {err}", png.display()))?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!("{} is not a PNG", png.display()));
    }
    let size = bytes.len() as u64;
    if size < MIN_PNG_BYTES {
        return Err(format!(
            "{} is only {size} bytes: the page probably did not render",
            png.display()
        ));
    }
    Ok(size)
}
