#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

use yolk::cookies::CookieError;
use yolk::prelude::*;

/// The name of the signed cookie holding the visit count.
pub const VISITS_COOKIE: &str = "visits";

/// The hello app's routes: `GET /` greets, `GET /visits` counts the client's visits.
///
/// The builder has no `base_dir`: the binary points it at this crate's directory, tests at a
/// temporary one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let builder = hello::app().base_dir(dir.path()).config("keys", "a-test-key");
/// let app = yolk_test::TestApp::new(builder).await?;
/// app.get("/").await.assert_text("Hello, yolk");
/// app.get("/visits").await.assert_text("1");
/// # Ok(())
/// # }
/// ```
pub fn app() -> yolk::AppBuilder {
    App::builder()
        .name("hello")
        .route("/", get(hello))
        .route("/visits", get(visits))
}

async fn hello() -> &'static str {
    "Hello, yolk"
}

/// Reads the signed count (a missing, tampered or non-numeric cookie counts as 0), adds one,
/// and signs the new count back.
async fn visits(cookies: Cookies) -> Result<String, CookieError> {
    let count = cookies
        .get_signed(VISITS_COOKIE)
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    let count = count.to_string();
    cookies.set(
        VISITS_COOKIE,
        &count,
        &CookieOptions::new().with_signed(true),
    )?;
    Ok(count)
}
