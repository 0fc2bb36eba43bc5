//! `cargo xtask dev-e2e`: the end-to-end test of `cargo yolk dev` on a copy of examples/hello
//! (edit, break, fix, with a client that must see no error). It builds a whole app — the first
//! run builds yolk's dependencies into `target/dev-e2e`, later runs are incremental — so it is
//! a step of its own, not part of `test-all`.

const HELP: &str = "\
Usage: cargo xtask dev-e2e

Runs yolk-development's ignored dev_loop test: `cargo yolk dev` on a copy of
examples/hello while a client requests / the whole time; the greeting changes, the build
breaks (the error page must name the file and line) and is fixed; the client must see no
connection error and no 5xx.";

/// Runs `dev-e2e` with the arguments after the task name.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        if arg == "-h" || arg == "--help" {
            println!("{HELP}");
            return Ok(());
        }
        return Err(format!("unknown option `{arg}` for dev-e2e\n\n{HELP}"));
    }
    println!("==> dev-e2e: cargo test -p yolk-development --test dev_loop -- --ignored");
    let status = crate::cargo([
        "test",
        "-p",
        "yolk-development",
        "--test",
        "dev_loop",
        "--",
        "--ignored",
        "--nocapture",
    ])
    .status()
    .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the dev loop test failed ({status})"))
    }
}
