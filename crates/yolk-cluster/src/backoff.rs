//! Exponential back-off between restarts of a process that keeps dying.
//!
//! ```
//! use std::time::Duration;
//! use yolk_cluster::backoff::Backoff;
//!
//! let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
//! let short = Duration::from_secs(1);
//! assert_eq!(backoff.next_delay(short), Duration::from_millis(100));
//! assert_eq!(backoff.next_delay(short), Duration::from_millis(200));
//! assert_eq!(backoff.next_delay(short), Duration::from_millis(400));
//! // A process that lived past the reset period starts the sequence again.
//! assert_eq!(backoff.next_delay(Duration::from_secs(60)), Duration::from_millis(100));
//! ```

use std::time::Duration;

/// How long a process must live for its next death to count as a fresh start: 60 s.
pub const RESET_AFTER: Duration = Duration::from_secs(60);

/// Delays that double from `initial` up to `max`, reset once a process lives [`RESET_AFTER`].
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before restarting a process that lived `lived`; each call is one step.
    pub fn next_delay(&mut self, lived: Duration) -> Duration {
        if lived >= RESET_AFTER {
            self.next = self.initial;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_stays_there() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let delays: Vec<u128> = (0..10)
            .map(|_| backoff.next_delay(Duration::ZERO).as_millis())
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
    }

    #[test]
    fn a_long_life_resets_the_sequence() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        for _ in 0..5 {
            backoff.next_delay(Duration::ZERO);
        }
        assert_eq!(backoff.next_delay(RESET_AFTER), Duration::from_millis(100));
        assert_eq!(
            backoff.next_delay(Duration::ZERO),
            Duration::from_millis(200)
        );
    }
}
