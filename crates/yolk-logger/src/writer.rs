//! [`FileWriter`]: one file, one writer thread, a bounded queue of whole lines.
//!
//! Lines are buffered and written in batches of whole lines, each batch with one `write` to a
//! file opened with `O_APPEND`, so processes sharing the file never interleave inside a line.
//! The buffer is written once it holds `buffer_bytes`, after `flush_interval` at the latest,
//! on [`FileWriter::flush`] and before [`FileWriter::reopen`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
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
    /// Lines that may wait in the queue. Default: `16384`.
    pub queue_lines: usize,
    /// What a full queue does. Default: [`OnFull::Wait`].
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

enum Command {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
    Reopen(SyncSender<()>),
}

/// An append-only log file written by a thread of its own.
///
/// ```
/// use yolk_logger::{FileWriter, WriterOptions};
///
/// let dir = tempfile::tempdir()?;
/// let writer = FileWriter::open(dir.path().join("app.log"), WriterOptions::default())?;
/// writer.write_line(b"first line\n".to_vec());
/// writer.flush();
/// assert_eq!(std::fs::read_to_string(dir.path().join("app.log"))?, "first line\n");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileWriter {
    path: PathBuf,
    sender: SyncSender<Command>,
    on_full: OnFull,
    dropped: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Line(line) => write!(f, "Line({} bytes)", line.len()),
            Self::Flush(_) => f.write_str("Flush"),
            Self::Reopen(_) => f.write_str("Reopen"),
        }
    }
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
        let (sender, receiver) = mpsc::sync_channel(options.queue_lines.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let thread = {
            let thread_path = path.clone();
            let dropped = Arc::clone(&dropped);
            std::thread::Builder::new()
                .name("yolk-log-writer".to_owned())
                .spawn(move || run(&thread_path, file, &receiver, options, &dropped))
                .map_err(|source| LoggerError::io("start the writer of", &path, source))?
        };
        Ok(Self {
            path,
            sender,
            on_full: options.on_full,
            dropped,
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

    /// Queues one or more whole lines (each ending in `\n`). With [`OnFull::Wait`] a full
    /// queue makes the caller wait; with [`OnFull::Drop`] the line is counted and dropped.
    pub fn write_line(&self, line: Vec<u8>) {
        match self.on_full {
            OnFull::Wait => {
                let _ = self.sender.send(Command::Line(line));
            }
            OnFull::Drop => {
                if let Err(TrySendError::Full(_)) = self.sender.try_send(Command::Line(line)) {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// How many lines were dropped for a full queue and are not yet reported in the file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = yolk_logger::FileWriter::open(dir.path().join("a.log"), Default::default())?;
    /// assert_eq!(writer.dropped(), 0);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes every queued line to the file; returns once done (or after 10 s).
    pub fn flush(&self) {
        self.ask(Command::Flush);
    }

    /// Writes every queued line to the file, then opens the file's path anew: after a
    /// rotation renamed it, lines go to the new file. Returns once done (or after 10 s).
    pub fn reopen(&self) {
        self.ask(Command::Reopen);
    }

    fn ask(&self, command: fn(SyncSender<()>) -> Command) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.sender.send(command(ack)).is_ok() {
            let _ = done.recv_timeout(ACK_TIMEOUT);
        }
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written everything.
        let (sender, _) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.sender, sender));
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

fn run(
    path: &Path,
    mut file: File,
    receiver: &mpsc::Receiver<Command>,
    options: WriterOptions,
    dropped: &AtomicU64,
) {
    let mut buffer: Vec<u8> = Vec::with_capacity(options.buffer_bytes + 4096);
    let mut oldest: Option<Instant> = None;
    loop {
        let command = match oldest {
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(since) => {
                let wait = options.flush_interval.saturating_sub(since.elapsed());
                receiver.recv_timeout(wait)
            }
        };
        match command {
            Ok(Command::Line(line)) => {
                buffer.extend_from_slice(&line);
                oldest.get_or_insert_with(Instant::now);
                if buffer.len() >= options.buffer_bytes {
                    // Take what else is queued now, so one write carries it all.
                    while buffer.len() < options.buffer_bytes * 4 {
                        match receiver.try_recv() {
                            Ok(Command::Line(line)) => buffer.extend_from_slice(&line),
                            Ok(other) => {
                                write_out(path, &mut file, &mut buffer, dropped);
                                if !handle(path, &mut file, other) {
                                    return;
                                }
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    write_out(path, &mut file, &mut buffer, dropped);
                    oldest = None;
                }
            }
            Ok(other) => {
                write_out(path, &mut file, &mut buffer, dropped);
                oldest = None;
                if !handle(path, &mut file, other) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                write_out(path, &mut file, &mut buffer, dropped);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                write_out(path, &mut file, &mut buffer, dropped);
                return;
            }
        }
    }
}

/// Answers a flush or a reopen (the buffer is already written); false to stop.
fn handle(path: &Path, file: &mut File, command: Command) -> bool {
    match command {
        Command::Line(_) => true,
        Command::Flush(ack) => {
            let _ = ack.send(());
            true
        }
        Command::Reopen(ack) => {
            match open_append(path) {
                Ok(reopened) => *file = reopened,
                Err(error) => eprintln!("yolk-logger: {error}; still writing to the old file"),
            }
            let _ = ack.send(());
            true
        }
    }
}

/// Writes the buffer (whole lines) with one `write` call where the kernel takes it all.
fn write_out(path: &Path, file: &mut File, buffer: &mut Vec<u8>, dropped: &AtomicU64) {
    let lost = dropped.swap(0, Ordering::Relaxed);
    if lost > 0 {
        let stamp = crate::clock::stamp(crate::clock::now_ms());
        buffer.extend_from_slice(&stamp);
        let _ = writeln!(
            buffer,
            " WARN {} dropped {lost} lines: the log queue was full (on_full = \"drop\")",
            std::process::id()
        );
    }
    if buffer.is_empty() {
        return;
    }
    if let Err(error) = file.write_all(buffer) {
        eprintln!(
            "yolk-logger: cannot write {} bytes to {}: {error}",
            buffer.len(),
            path.display()
        );
    }
    buffer.clear();
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
        writer.write_line(b"one\n".to_vec());
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
        writer.write_line(b"0123456789\n".to_vec());
        writer.write_line(b"x\n".to_vec());
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap() != "0123456789\nx\n" {
            assert!(Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn reopen_follows_a_rename_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let writer = FileWriter::open(&path, WriterOptions::default()).unwrap();
        writer.write_line(b"before\n".to_vec());
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        writer.write_line(b"between\n".to_vec());
        writer.reopen();
        writer.write_line(b"after\n".to_vec());
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
            writer.write_line(b"line\n".to_vec());
        }
        let dropped = writer.dropped();
        writer.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let written = text.lines().filter(|l| *l == "line").count() as u64;
        if dropped > 0 {
            assert!(text.contains(&format!("dropped {dropped} lines")), "{text}");
        }
        assert_eq!(written + dropped, 10_000);
    }
}
