//! The request body as multer reads it: metered against the body limit, and paced so that
//! memory stays bounded whatever the upload's size.
//!
//! multer pulls from its stream until the stream is pending, so a fast client could fill its
//! buffer far ahead of the handler. [`MeteredBody`] yields at most [`BUDGET`] bytes per wake-up
//! and then reports itself pending (waking its task at once), so multer parses what it has
//! before it reads more: the handler's pace is the client's pace.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use crate::error::BoxError;
use crate::limits::MAX_PART_HEADER_BYTES;

/// The most bytes handed to multer per wake-up while reading part data: what one upload may
/// hold in memory. 1 MiB keeps the file writes large (a 256 KiB budget halved their size and
/// cost a fifth of the upload rate against bare multer).
pub(crate) const BUDGET: usize = 1024 * 1024;
/// The size of the pieces handed to multer while it looks for a part's headers, so that a
/// header block too long is found within a piece of the limit.
const HEADER_PIECE: usize = 1024;

/// What the extractor and the body share: bytes read, the limit, and whether multer is
/// reading part headers.
#[derive(Debug)]
pub(crate) struct Meter {
    pulled: AtomicU64,
    limit: AtomicU64,
    in_headers: AtomicBool,
    headers_start: AtomicU64,
}

impl Meter {
    pub(crate) fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            pulled: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
            in_headers: AtomicBool::new(false),
            headers_start: AtomicU64::new(0),
        })
    }

    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub(crate) fn enter_headers(&self) {
        self.headers_start
            .store(self.pulled.load(Ordering::Relaxed), Ordering::Relaxed);
        self.in_headers.store(true, Ordering::Relaxed);
    }

    pub(crate) fn leave_headers(&self) {
        self.in_headers.store(false, Ordering::Relaxed);
    }
}

/// Why the body stopped: handed to multer as a stream error, and recognised on the way out.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The body went over its limit (the limit in bytes).
    BodyLimit(u64),
    /// A part's headers went on past [`MAX_PART_HEADER_BYTES`].
    HeadersTooLong,
    /// The client's body failed.
    Read(BoxError),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BodyLimit(limit) => write!(f, "body over {limit} bytes"),
            Self::HeadersTooLong => f.write_str("part headers too long"),
            Self::Read(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Stop {}

type Inner = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// The body stream given to multer.
pub(crate) struct MeteredBody {
    inner: Inner,
    meter: Arc<Meter>,
    rest: Option<Bytes>,
    used: usize,
    done: bool,
}

impl MeteredBody {
    pub(crate) fn new(inner: Inner, meter: Arc<Meter>) -> Self {
        Self {
            inner,
            meter,
            rest: None,
            used: 0,
            done: false,
        }
    }

    fn fail(&mut self, stop: Stop) -> Poll<Option<Result<Bytes, Stop>>> {
        self.done = true;
        self.rest = None;
        Poll::Ready(Some(Err(stop)))
    }
}

impl Stream for MeteredBody {
    type Item = Result<Bytes, Stop>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let in_headers = this.meter.in_headers.load(Ordering::Relaxed);
        let budget = if in_headers { HEADER_PIECE } else { BUDGET };
        if this.used >= budget {
            // Let multer parse what it holds before it reads on.
            this.used = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut chunk = loop {
            if let Some(rest) = this.rest.take() {
                break rest;
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => {
                    this.used = 0;
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(error))) => return this.fail(Stop::Read(error)),
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => {}
                Poll::Ready(Some(Ok(chunk))) => break chunk,
            }
        };
        let piece = budget - this.used.min(budget);
        if chunk.len() > piece.max(1) {
            this.rest = Some(chunk.split_off(piece.max(1)));
        }
        let len = chunk.len() as u64;
        let pulled = this.meter.pulled.fetch_add(len, Ordering::Relaxed) + len;
        let limit = this.meter.limit.load(Ordering::Relaxed);
        if pulled > limit {
            return this.fail(Stop::BodyLimit(limit));
        }
        if in_headers
            && pulled - this.meter.headers_start.load(Ordering::Relaxed) > MAX_PART_HEADER_BYTES
        {
            return this.fail(Stop::HeadersTooLong);
        }
        this.used += chunk.len();
        Poll::Ready(Some(Ok(chunk)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn metered(chunks: Vec<Bytes>, limit: u64) -> (MeteredBody, Arc<Meter>) {
        let meter = Meter::new(limit);
        let inner: Inner = Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<_, BoxError>),
        ));
        (MeteredBody::new(inner, Arc::clone(&meter)), meter)
    }

    #[tokio::test]
    async fn splits_large_chunks_and_counts() {
        let (mut body, meter) = metered(vec![Bytes::from(vec![b'x'; BUDGET * 2 + 10])], u64::MAX);
        let mut sizes = Vec::new();
        while let Some(chunk) = body.next().await {
            sizes.push(chunk.unwrap().len());
        }
        assert_eq!(sizes, [BUDGET, BUDGET, 10]);
        assert_eq!(
            meter.pulled.load(Ordering::Relaxed),
            (BUDGET * 2 + 10) as u64
        );
    }

    #[tokio::test]
    async fn limit_is_inclusive() {
        let (mut body, _) = metered(vec![Bytes::from_static(b"abcd")], 4);
        assert!(body.next().await.unwrap().is_ok());
        assert!(body.next().await.is_none());
        let (mut body, _) = metered(vec![Bytes::from_static(b"abcde")], 4);
        assert!(matches!(body.next().await, Some(Err(Stop::BodyLimit(4)))));
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn header_mode_uses_small_pieces_and_stops_long_headers() {
        let (mut body, meter) = metered(vec![Bytes::from(vec![b'h'; 64 * 1024])], u64::MAX);
        meter.enter_headers();
        let mut total = 0;
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    assert!(chunk.len() <= HEADER_PIECE);
                    total += chunk.len() as u64;
                }
                Some(Err(Stop::HeadersTooLong)) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(total <= MAX_PART_HEADER_BYTES);
    }
}
