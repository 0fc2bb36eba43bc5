//! The IPC protocol between the master and each child: JSON frames, each prefixed by its length
//! as a big-endian `u32`.
//!
//! ```
//! use yolk_cluster::frame::{Frame, read_frame, write_frame};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut wire = Vec::new();
//! write_frame(&mut wire, &Frame::Go).await?;
//! let frame = read_frame(&mut wire.as_slice()).await?;
//! assert_eq!(frame, Some(Frame::Go));
//! # Ok(())
//! # }
//! ```

use std::io;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use yolk_core::messenger::{Message, Recipient};

/// The largest frame accepted, in bytes: 64 MiB. A larger length prefix is a protocol error.
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// One message on a master ↔ child channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Frame {
    /// Child → master: the app is built (and, for a worker, serving).
    Ready {
        /// The app's `drain_timeout_ms`: how long the master waits for this child to stop.
        drain_timeout_ms: u64,
    },
    /// Child → master: the app failed to start.
    Failed {
        /// The error, as shown to the user.
        error: String,
    },
    /// Child → master: route `message` to `to`.
    Send {
        /// Who it is for.
        to: Recipient,
        /// The message.
        message: Message,
    },
    /// Child → master: the reply to a request from process `to`.
    Reply {
        /// The requester's pid.
        to: u32,
        /// The reply; its `request_id` is the request's.
        message: Message,
    },
    /// Either way: a message could not be delivered; for its sender.
    Nack {
        /// The pid of the message's sender, when a child reports it to the master.
        to: u32,
        /// The request this answers, if the message was a request.
        request_id: Option<u64>,
        /// The message's topic.
        topic: String,
        /// Who it was for.
        recipient: String,
        /// Why it was not delivered.
        reason: NackReason,
    },
    /// Master → child: a message for this process.
    Deliver {
        /// The message.
        message: Message,
        /// True when this process is the only recipient, so a request nobody here subscribes
        /// to is answered with a [`Frame::Nack`] at once instead of timing out.
        sole: bool,
    },
    /// Master → child: a reply to one of this process's requests.
    Replied {
        /// The reply.
        message: Message,
    },
    /// Master → child: who is alive, so sends to nobody fail at once in the sender.
    Members {
        /// The pid of the agent that messages to the agent reach, if one is ready.
        agent: Option<u32>,
        /// The workers' pids.
        workers: Vec<u32>,
        /// Agents reachable by pid only: one starting (after a crash, or from a new binary
        /// during a reload), or one stopping after a new one took over.
        #[serde(default)]
        other_agents: Vec<u32>,
    },
    /// Master → child: every process is ready; run `server_did_ready`.
    Go,
    /// Master → child: stop gracefully (drain, `before_close`, exit).
    Stop,
}

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NackReason {
    /// The recipient's queue was full.
    Full {
        /// That queue's capacity.
        capacity: usize,
    },
    /// No such recipient, or nobody there subscribes to the topic.
    NoRecipient,
}

/// Writes one frame.
///
/// # Errors
///
/// The I/O error of the writer; `InvalidData` when the frame exceeds [`MAX_FRAME_LEN`].
pub async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, frame: &Frame) -> io::Result<()> {
    let bytes = encode(frame)?;
    writer.write_all(&bytes).await?;
    writer.flush().await
}

/// Encodes one frame with its length prefix.
///
/// # Errors
///
/// `InvalidData` when the frame exceeds [`MAX_FRAME_LEN`].
pub fn encode(frame: &Frame) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; 4];
    serde_json::to_writer(&mut bytes, frame).map_err(io::Error::other)?;
    let len = bytes.len() - 4;
    if len > MAX_FRAME_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN} bytes"),
        ));
    }
    let prefix = u32::try_from(len).expect("MAX_FRAME_LEN fits in u32");
    bytes[..4].copy_from_slice(&prefix.to_be_bytes());
    Ok(bytes)
}

/// Reads one frame; `None` at a clean end of stream (the other side closed between frames).
///
/// # Errors
///
/// The I/O error of the reader; `UnexpectedEof` when the stream ends inside a frame;
/// `InvalidData` for an oversized or malformed frame.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Option<Frame>> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN} bytes"),
        ));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: serde_json::Value) -> Message {
        Message {
            topic: "t".to_owned(),
            payload,
            from: 7,
            request_id: Some(3),
        }
    }

    #[tokio::test]
    async fn frames_round_trip_in_order() {
        let frames = vec![
            Frame::Ready {
                drain_timeout_ms: 30_000,
            },
            Frame::Send {
                to: Recipient::Pid(42),
                message: message(serde_json::json!({"a": [1, 2]})),
            },
            Frame::Nack {
                to: 7,
                request_id: None,
                topic: "t".to_owned(),
                recipient: "process 9".to_owned(),
                reason: NackReason::Full { capacity: 8 },
            },
            Frame::Members {
                agent: Some(1),
                workers: vec![2, 3],
                other_agents: vec![4],
            },
            Frame::Stop,
        ];
        let mut wire = Vec::new();
        for frame in &frames {
            write_frame(&mut wire, frame).await.unwrap();
        }
        let mut reader = wire.as_slice();
        for frame in &frames {
            assert_eq!(read_frame(&mut reader).await.unwrap().as_ref(), Some(frame));
        }
        assert_eq!(read_frame(&mut reader).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_mebibyte_payload_arrives_intact_through_a_socket() {
        let (mut left, mut right) = tokio::net::UnixStream::pair().unwrap();
        let big: String = (0..1024 * 1024)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let sent = Frame::Deliver {
            message: message(serde_json::Value::String(big)),
            sole: true,
        };
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move { write_frame(&mut left, &sent).await })
        };
        let received = read_frame(&mut right).await.unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(received, Some(sent));
    }

    #[tokio::test]
    async fn truncated_and_oversized_frames_are_errors() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &Frame::Go).await.unwrap();
        wire.pop();
        let error = read_frame(&mut wire.as_slice()).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);

        let oversized = (u32::try_from(MAX_FRAME_LEN).unwrap() + 1).to_be_bytes();
        let error = read_frame(&mut oversized.as_slice()).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("exceeds the limit"), "{error}");
    }
}
