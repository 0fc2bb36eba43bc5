//! Shared by the integration tests: a log capture.
//!
//! One global subscriber for the whole test binary, writing into the buffer of the test that
//! runs on the current thread: scoped subscribers (`set_default`) race with other test threads
//! over tracing's per-callsite interest cache and lose lines now and then.

#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

thread_local! {
    static CURRENT: RefCell<Option<Logs>> = const { RefCell::new(None) };
}

/// The lines logged on this thread while its guard lives.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

/// Stops the capture when dropped.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

/// Writes into the current thread's capture, if any.
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CURRENT.with(|current| {
            if let Some(logs) = current.borrow().as_ref() {
                logs.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Starts capturing this thread's lines (tests run on a current-thread runtime).
    pub fn capture() -> (Self, Guard) {
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ThreadWriter)
                .with_ansi(false)
                .with_max_level(tracing::Level::DEBUG)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
        });
        let logs = Self::default();
        CURRENT.with(|current| *current.borrow_mut() = Some(logs.clone()));
        (logs, Guard)
    }

    /// The lines captured so far.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The lines from `yolk::onerror`.
    pub fn onerror_lines(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| line.contains("yolk::onerror"))
            .collect()
    }
}
