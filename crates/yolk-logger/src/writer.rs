//! [`FileWriter`]: one file, one writer thread, a bounded buffer of whole lines.
//!
//! Callers append whole lines to a shared buffer under a short lock; the writer thread swaps the
//! buffer out and writes it with one `write` to a file opened with `O_APPEND`, so processes
//! sharing the file never interleave inside a line. The thread is woken only when the buffer
//! reaches `buffer_bytes`, when `flush_interval` has passed since its oldest line, on
//! [`FileWriter::flush`] and [`FileWriter::reopen`] — not once per line, which is what keeps a
//! log line per request cheap.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::OnFull;
use crate::error::LoggerError;

/// How long [`FileWriter::flush`] and [`FileWriter::reopen`] wait for the writer thread.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How a [`FileWriter`] buffers.
///
/// ```
/// let options = yolk_logger::WriterOptions::default();
/// assert_eq!(options.buffer_bytes, 64 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// Write once the buffer holds this many bytes. Default: `65536`.
    pub buffer_bytes: usize,
    /// Write a non-empty buffer at the latest after this long. Default: 1 s.
    pub flush_interval: Duration,
    /// Lines that may wait in the buffer before [`OnFull`] applies. Default: `16384`.
    pub queue_lines: usize,
    /// What a full buffer does. Default: [`OnFull::Wait`].
    pub on_full: OnFull,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            buffer_bytes: 64 * 1024,
            flush_interval: Duration::from_secs(1),
            queue_lines: 16 * 1024,
            on_full: OnFull::Wait,
        }
    }
}

/// What callers and the writer thread share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread.
    work: Condvar,
    /// Wakes callers waiting for room, or for a flush or reopen to be done.
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    buffer: Vec<u8>,
    lines: usize,
    /// When the oldest line in the buffer was added.
    oldest: Option<Instant>,
    /// Lines dropped for a full buffer and not yet reported in the file.
    dropped: u64,
    /// Flushes (and reopens) asked for, and done: each a running count.
    asked: u64,
    answered: u64,
    reopen: bool,
    closing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An append-only log file written by a thread of its own.
///
/// ```
/// use yolk_logger::{FileWriter, WriterOptions};
///
/// let dir = tempfile::tempdir()?;
/// let writer = FileWriter::open(dir.path().join("app.log"), WriterOptions::default())?;
/// writer.write_line(b"first line\n");
/// writer.flush();
/// assert_eq!(std::fs::read_to_string(dir.path().join("app.log"))?, "first line\n");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileWriter {
    path: PathBuf,
    options: WriterOptions,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) fn open_append(path: &Path) -> Result<File, LoggerError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|source| LoggerError::io("create the log directory", parent, source))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LoggerError::io("open", path, source))
}

impl FileWriter {
    /// Opens (creating it and its directory) `path` for appending and starts its writer.
    ///
    /// # Errors
    ///
    /// [`LoggerError::Io`] when the directory or the file cannot be created or opened.
    pub fn open(path: impl Into<PathBuf>, options: WriterOptions) -> Result<Self, LoggerError> {
        let path = path.into();
        let file = open_append(&path)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buffer: Vec::with_capacity(options.buffer_bytes + 4096),
                ..State::default()
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let thread = {
            let thread_path = path.clone();
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("yolk-log-writer".to_owned())
                .spawn(move || run(&thread_path, file, &shared, options))
                .map_err(|source| LoggerError::io("start the writer of", &path, source))?
        };
        Ok(Self {
            path,
            options,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The file's path.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = yolk_logger::FileWriter::open(dir.path().join("a.log"), Default::default())?;
    /// assert!(writer.path().ends_with("a.log"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one or more whole lines (each ending in `\n`). With [`OnFull::Wait`] a full
    /// buffer makes the caller wait; with [`OnFull::Drop`] the line is counted and dropped.
    pub fn write_line(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        while state.lines >= self.options.queue_lines.max(1) && !state.closing {
            match self.options.on_full {
                OnFull::Wait => {
                    self.shared.work.notify_one();
                    state = self
                        .shared
                        .done
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                OnFull::Drop => {
                    state.dropped += 1;
                    return;
                }
            }
        }
        let before = state.buffer.len();
        state.buffer.extend_from_slice(line);
        state.lines += 1;
        let first = state.oldest.is_none();
        state.oldest.get_or_insert_with(Instant::now);
        let threshold = self.options.buffer_bytes;
        // The first line of a batch starts the writer's interval (it waits without a timeout
        // while the buffer is empty); a full buffer is written at once.
        if first || (before < threshold && state.buffer.len() >= threshold) {
            self.shared.work.notify_one();
        }
    }

    /// How many lines were dropped for a full buffer and are not yet reported in the file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = yolk_logger::FileWriter::open(dir.path().join("a.log"), Default::default())?;
    /// assert_eq!(writer.dropped(), 0);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// Writes every buffered line to the file; returns once done (or after 10 s).
    pub fn flush(&self) {
        self.ask(false);
    }

    /// Writes every buffered line to the file, then opens the file's path anew: after a
    /// rotation renamed it, lines go to the new file. Returns once done (or after 10 s).
    pub fn reopen(&self) {
        self.ask(true);
    }

    fn ask(&self, reopen: bool) {
        let mut state = self.shared.lock();
        state.asked += 1;
        state.reopen |= reopen;
        let ticket = state.asked;
        self.shared.work.notify_one();
        let deadline = Instant::now() + ACK_TIMEOUT;
        while state.answered < ticket && !state.closing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // The thread writes everything still buffered, then ends.
        self.shared.lock().closing = true;
        self.shared.work.notify_one();
        self.shared.done.notify_all();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn run(path: &Path, mut file: File, shared: &Shared, options: WriterOptions) {
    let mut batch: Vec<u8> = Vec::with_capacity(options.buffer_bytes + 4096);
    loop {
        let mut state = shared.lock();
        loop {
            if state.closing
                || state.asked > state.answered
                || state.buffer.len() >= options.buffer_bytes
                || state.lines >= options.queue_lines.max(1)
            {
                break;
            }
            state = match state.oldest {
                None => shared
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(oldest) => {
                    let left = options.flush_interval.saturating_sub(oldest.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    shared
                        .work
                        .wait_timeout(state, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
        std::mem::swap(&mut state.buffer, &mut batch);
        state.lines = 0;
        state.oldest = None;
        let dropped = std::mem::take(&mut state.dropped);
        let asked = state.asked;
        let reopen = std::mem::take(&mut state.reopen);
        let closing = state.closing;
        drop(state);
        // Room again for callers waiting on a full buffer.
        shared.done.notify_all();

        write_out(path, &mut file, &mut batch, dropped);
        if reopen {
            match open_append(path) {
                Ok(reopened) => file = reopened,
                Err(error) => eprintln!("yolk-logger: {error}; still writing to the old file"),
            }
        }
        let mut state = shared.lock();
        if state.answered < asked {
            state.answered = asked;
            drop(state);
            shared.done.notify_all();
        }
        if closing {
            return;
        }
    }
}

/// Writes the batch (whole lines) with one `write` call where the kernel takes it all.
fn write_out(path: &Path, file: &mut File, batch: &mut Vec<u8>, dropped: u64) {
    if dropped > 0 {
        let stamp = crate::clock::stamp(crate::clock::now_ms());
        batch.extend_from_slice(&stamp);
        let _ = writeln!(
            batch,
            " WARN {} dropped {dropped} lines: the log buffer was full (on_full = \"drop\")",
            std::process::id()
        );
    }
    if batch.is_empty() {
        return;
    }
    if let Err(error) = file.write_all(batch) {
        eprintln!(
            "yolk-logger: cannot write {} bytes to {}: {error}",
            batch.len(),
            path.display()
        );
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_in_the_buffer_until_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let options = WriterOptions {
            flush_interval: Duration::from_secs(60),
            ..WriterOptions::default()
        };
        let writer = FileWriter::open(&path, options).unwrap();
        writer.write_line(b"one\n");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        writer.flush();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n");
    }

    #[test]
    fn interval_and_size_write_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let options = WriterOptions {
            flush_interval: Duration::from_millis(30),
            buffer_bytes: 8,
            ..WriterOptions::default()
        };
        let writer = FileWriter::open(&path, options).unwrap();
        writer.write_line(b"0123456789\n");
        writer.write_line(b"x\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap() != "0123456789\nx\n" {
            assert!(Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_lone_line_is_written_after_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let options = WriterOptions {
            flush_interval: Duration::from_millis(30),
            ..WriterOptions::default()
        };
        let writer = FileWriter::open(&path, options).unwrap();
        // Let the writer thread wait on its empty buffer first.
        std::thread::sleep(Duration::from_millis(50));
        writer.write_line(b"alone\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap() != "alone\n" {
            assert!(Instant::now() < deadline, "a lone line was never written");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn reopen_follows_a_rename_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let writer = FileWriter::open(&path, WriterOptions::default()).unwrap();
        writer.write_line(b"before\n");
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        writer.write_line(b"between\n");
        writer.reopen();
        writer.write_line(b"after\n");
        drop(writer);
        let old = std::fs::read_to_string(dir.path().join("a.log.1")).unwrap();
        assert_eq!(old, "before\nbetween\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
    }

    #[test]
    fn a_full_queue_drops_with_a_count_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let options = WriterOptions {
            queue_lines: 1,
            on_full: OnFull::Drop,
            flush_interval: Duration::from_secs(60),
            buffer_bytes: 1 << 20,
        };
        let writer = FileWriter::open(&path, options).unwrap();
        for _ in 0..10_000 {
            writer.write_line(b"line\n");
        }
        writer.flush();
        assert_eq!(
            writer.dropped(),
            0,
            "every drop is reported once written out"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let written = text.lines().filter(|l| *l == "line").count() as u64;
        // The writer reports drops as it goes: add up every `dropped N lines` record.
        let reported: u64 = text
            .lines()
            .filter_map(|l| {
                l.split_once(" dropped ")?
                    .1
                    .split_once(" lines")?
                    .0
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        assert_eq!(written + reported, 10_000, "{text}");
    }
}
