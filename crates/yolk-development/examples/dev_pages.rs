//! Serves the boot trace page and the build-error page on 127.0.0.1, for a person (or
//! `cargo xtask screenshot`) to look at: `cargo run -p yolk-development --example dev_pages`.
//!
//! It boots an agent and an app in this process with a few plugins whose hooks take a little
//! time, so the trace has bars to draw, times those boots as a cluster's master times the
//! processes it starts, and renders a build error as the dev loop records it.

use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use yolk_core::plugin::{BootStep, Role, Timeline};
use yolk_core::{App, AppContext, BoxError, Plugin};
use yolk_development::dev::{BuildStatus, CompileError};
use yolk_development::{Development, render_build_errors, trace_routes};

/// A plugin whose hooks take the given times, in milliseconds.
#[derive(Debug)]
struct Slow {
    name: &'static str,
    load_ms: u64,
    ready_ms: u64,
}

#[async_trait::async_trait]
impl Plugin for Slow {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn did_load(&self, _app: &AppContext) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.load_ms)).await;
        Ok(())
    }

    async fn will_ready(&self, _app: &AppContext) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.ready_ms)).await;
        Ok(())
    }

    async fn agent(&self, _app: &AppContext) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.load_ms / 2)).await;
        Ok(())
    }
}

fn builder(dir: &std::path::Path, role: Role) -> yolk_core::AppBuilder {
    App::builder()
        .base_dir(dir)
        .env("local")
        .role(role)
        .plugin(Slow {
            name: "config-check",
            load_ms: 8,
            ready_ms: 2,
        })
        .plugin(Slow {
            name: "database",
            load_ms: 25,
            ready_ms: 60,
        })
        .plugin(Slow {
            name: "templates",
            load_ms: 15,
            ready_ms: 5,
        })
        .plugin(Development::default())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let (began, booted_at) = (Instant::now(), SystemTime::now());
    let agent = builder(dir.path(), Role::Agent).build().await?;
    agent.start_agent().await;
    agent.server_did_ready().await?;
    let agent_ready = began.elapsed();
    let app = builder(dir.path(), Role::Worker).build().await?;
    app.server_did_ready().await?;
    let step = |hook: &str, from: Duration, to: Duration| BootStep {
        plugin: "master".into(),
        hook: hook.into(),
        start_ms: from.as_secs_f64() * 1000.0,
        duration_ms: (to - from).as_secs_f64() * 1000.0,
    };
    let steps = vec![
        step("start_agent", Duration::ZERO, agent_ready),
        step("start_workers", agent_ready, began.elapsed()),
    ];
    Timeline::new(booted_at, steps).write(&dir.path().join("run"), "master")?;

    let status = BuildStatus {
        generation: 4,
        errors: vec![CompileError {
            message: "cannot add `{integer}` to `&str`".into(),
            file: Some("src/lib.rs".into()),
            line: Some(34),
            column: Some(21),
            rendered: "error[E0369]: cannot add `{integer}` to `&str`\n  --> src/lib.rs:34:21\n   |\n34 |     \"Hello, broken\" + 1\n   |     --------------- ^ - {integer}\n   |     |\n   |     &str\n".into(),
        }],
    };
    let page = render_build_errors(&status);
    let router: Router = trace_routes("/__loader_trace__", dir.path().join("run"), false)
        .route("/__build_error__", get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
