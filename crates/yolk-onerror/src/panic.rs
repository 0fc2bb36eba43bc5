//! Panics: the payload's message, and — through a process-wide panic hook installed once and
//! chained to the previous one — the location and, in development, the backtrace.
//!
//! The hook records only while this layer polls a handler on the current thread (a
//! thread-local flag), so panics elsewhere are untouched and cost nothing extra.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::sync::Once;

use crate::report::{ErrorReport, PanicDetails};

/// What the hook records on this thread.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture {
    Off,
    Location,
    Backtrace,
}

thread_local! {
    static CAPTURE: Cell<Capture> = const { Cell::new(Capture::Off) };
    static LAST: RefCell<Option<PanicDetails>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the recording hook once per process, in front of the existing one.
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let capture = CAPTURE.with(Cell::get);
            if capture != Capture::Off {
                let details = PanicDetails {
                    location: info.location().map(ToString::to_string),
                    backtrace: (capture == Capture::Backtrace)
                        .then(|| Backtrace::force_capture().to_string()),
                };
                LAST.with(|last| *last.borrow_mut() = Some(details));
            }
            previous(info);
        }));
    });
}

/// Runs `f` with the hook recording at `capture`; restores the previous level after.
pub(crate) fn recording<T>(capture: Capture, f: impl FnOnce() -> T) -> T {
    let previous = CAPTURE.with(|cell| cell.replace(capture));
    let result = f();
    CAPTURE.with(|cell| cell.set(previous));
    result
}

/// The report of a caught panic, with what the hook recorded on this thread.
pub(crate) fn report(payload: &(dyn Any + Send)) -> ErrorReport {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    };
    let details = LAST
        .with(|last| last.borrow_mut().take())
        .unwrap_or_default();
    ErrorReport::from_panic(message, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_while_asked() {
        install_hook();
        let caught = recording(Capture::Location, || {
            std::panic::catch_unwind(|| panic!("inside {}", 1))
        });
        let first = report(caught.unwrap_err().as_ref());
        assert_eq!(first.message(), "inside 1");
        let details = first.panic().unwrap();
        assert!(details.location.as_deref().unwrap().contains("panic.rs"));
        assert!(details.backtrace.is_none());

        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7_u8));
        let second = report(caught.unwrap_err().as_ref());
        assert_eq!(second.message(), "a panic with a non-string payload");
        assert!(second.panic().unwrap().location.is_none());
    }
}
