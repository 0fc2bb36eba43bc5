//! Turning a `tracing` event into a text line or a JSON line.
//!
//! Lines are built in buffers kept per thread and numbers are written without `core::fmt`:
//! a line per request is on every request's path, so it allocates nothing once warm.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::IpAddr;

use tracing::field::{Field, Visit};

use crate::clock;
use crate::context::RequestInfo;

/// An event's fields, collected once for every line written from it.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) message: String,
    /// ` key=value` pairs, for text lines.
    pub(crate) text: String,
    /// `,"key":value` pairs, for JSON lines.
    pub(crate) json: Vec<u8>,
    /// The error field's message and sources, for JSON lines.
    pub(crate) errors: Vec<String>,
}

impl Fields {
    fn clear(&mut self) {
        self.message.clear();
        self.text.clear();
        self.json.clear();
        self.errors.clear();
    }
}

/// What one event needs while it is written: its fields and the lines built from them.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) fields: Fields,
    pub(crate) text: Vec<u8>,
    pub(crate) json: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with the event's fields recorded, in buffers reused per thread.
pub(crate) fn with_fields<R>(event: &tracing::Event<'_>, f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut fresh = None;
    SCRATCH.with(|cell| {
        let mut borrowed = cell.try_borrow_mut();
        let scratch = match &mut borrowed {
            Ok(scratch) => &mut **scratch,
            // An event logged while formatting another: use buffers of its own.
            Err(_) => fresh.insert(Scratch::default()),
        };
        scratch.fields.clear();
        event.record(&mut Visitor {
            fields: &mut scratch.fields,
        });
        f(scratch)
    })
}

/// ASCII text written from its end backwards, in a buffer on the stack: a number's digits
/// come out last first, so they need neither `core::fmt` nor reversing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backwards<const N: usize> {
    bytes: [u8; N],
    start: usize,
}

impl<const N: usize> Backwards<N> {
    fn empty() -> Self {
        Self {
            bytes: [0; N],
            start: N,
        }
    }

    fn prepend(&mut self, text: &[u8]) {
        let start = self.start - text.len();
        self.bytes[start..self.start].copy_from_slice(text);
        self.start = start;
    }

    fn prepend_decimal(&mut self, mut value: u64) {
        loop {
            self.start -= 1;
            self.bytes[self.start] = b'0' + u8::try_from(value % 10).unwrap_or(0);
            value /= 10;
            if value == 0 {
                return;
            }
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII was written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// `value` in decimal.
pub(crate) fn decimal(value: u64) -> Backwards<20> {
    let mut text = Backwards::empty();
    text.prepend_decimal(value);
    text
}

/// The message of the line per request, `200 3ms`; room for `65535 18446744073709551615ms`.
pub(crate) fn request_line(status: u16, ms: u64) -> Backwards<28> {
    let mut text = Backwards::empty();
    text.prepend(b"ms");
    text.prepend_decimal(ms);
    text.prepend(b" ");
    text.prepend_decimal(u64::from(status));
    text
}

/// Appends `ip` as its `Display` writes it; IPv4 without `core::fmt`.
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (index, octet) in v4.octets().into_iter().enumerate() {
                if index > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(decimal(u64::from(octet)).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

struct Visitor<'a> {
    fields: &'a mut Fields,
}

impl Visitor<'_> {
    fn text_key(&mut self, field: &Field) {
        self.fields.text.push(' ');
        self.fields.text.push_str(field.name());
        self.fields.text.push('=');
    }

    fn json_key(&mut self, field: &Field) {
        self.fields.json.push(b',');
        json_string(&mut self.fields.json, field.name());
        self.fields.json.push(b':');
    }

    /// A field whose text and JSON forms are the same bare token (a number, a bool), given in
    /// pieces.
    fn bare(&mut self, field: &Field, token: &[&str]) {
        self.text_key(field);
        token
            .iter()
            .for_each(|piece| self.fields.text.push_str(piece));
        self.json_key(field);
        token
            .iter()
            .for_each(|piece| self.fields.json.extend_from_slice(piece.as_bytes()));
    }
}

/// The fields tracing-log adds to a `log` record (`log.target`, `log.line`, …): the target and
/// level are read from them already; the rest would only repeat the line's origin.
fn is_log_metadata(field: &Field) -> bool {
    field.name().starts_with("log.")
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.fields.message.push_str(value);
            return;
        }
        if is_log_metadata(field) {
            return;
        }
        self.text_key(field);
        self.fields.text.push_str(value);
        self.json_key(field);
        json_string(&mut self.fields.json, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if is_log_metadata(field) {
            return;
        }
        let sign = if value < 0 { "-" } else { "" };
        self.bare(field, &[sign, decimal(value.unsigned_abs()).as_str()]);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if is_log_metadata(field) {
            return;
        }
        self.bare(field, &[decimal(value).as_str()]);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.bare(field, &[if value { "true" } else { "false" }]);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.fields.text, " {}={value}", field.name());
        self.fields.errors.push(value.to_string());
        let mut source = value.source();
        while let Some(error) = source {
            let _ = write!(self.fields.text, ": {error}");
            self.fields.errors.push(error.to_string());
            source = error.source();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.fields.message, "{value:?}");
            return;
        }
        if is_log_metadata(field) {
            return;
        }
        self.text_key(field);
        let start = self.fields.text.len();
        let _ = write!(self.fields.text, "{value:?}");
        self.json_key(field);
        json_string(&mut self.fields.json, &self.fields.text[start..]);
    }
}

/// Appends `text` as a JSON string.
pub(crate) fn json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    // Every byte that needs escaping is ASCII, so scanning bytes never splits a character.
    let bytes = text.as_bytes();
    let mut plain = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            byte if byte < 0x20 => {
                out.extend_from_slice(&bytes[plain..index]);
                let _ = write!(out, "\\u{:04x}", byte);
                plain = index + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..index]);
        out.extend_from_slice(escape);
        plain = index + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::TRACE => "TRACE",
        tracing::Level::DEBUG => "DEBUG",
        tracing::Level::INFO => "INFO",
        tracing::Level::WARN => "WARN",
        tracing::Level::ERROR => "ERROR",
    }
}

/// What every line of one event starts with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    /// When, in milliseconds since the Unix epoch.
    pub(crate) ms: i64,
    pub(crate) level: &'a tracing::Level,
    /// The process id, in decimal.
    pub(crate) pid: &'a str,
    /// The request the event belongs to, and the milliseconds since it came in.
    pub(crate) request: Option<(&'a RequestInfo, u64)>,
}

/// `2026-11-24 10:00:00,123 INFO 4242 [-/127.0.0.1/-/3ms GET /path] message key=value\n`,
/// in `out` (emptied first).
pub(crate) fn text_line(out: &mut Vec<u8>, head: &Head<'_>, fields: &Fields) {
    out.clear();
    out.extend_from_slice(&clock::stamp(head.ms));
    out.push(b' ');
    out.extend_from_slice(level_name(head.level).as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.pid.as_bytes());
    out.push(b' ');
    if let Some((info, elapsed_ms)) = head.request {
        info.write_prefix(out, elapsed_ms);
        out.push(b' ');
    }
    out.extend_from_slice(fields.message.as_bytes());
    out.extend_from_slice(fields.text.as_bytes());
    out.push(b'\n');
}

/// One JSON object per line, in `out` (emptied first): `date`, `level`, `pid`, `logger`, the
/// request's `user_id`, `ip`, `trace_id`, `use_ms`, `method`, `url` inside a request,
/// `message`, the fields, and `error` with its `chain` of sources.
pub(crate) fn json_line(out: &mut Vec<u8>, head: &Head<'_>, logger: &str, fields: &Fields) {
    out.clear();
    out.extend_from_slice(b"{\"date\":\"");
    out.extend_from_slice(&clock::stamp(head.ms));
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(level_name(head.level).as_bytes());
    out.extend_from_slice(b"\",\"pid\":");
    out.extend_from_slice(head.pid.as_bytes());
    out.extend_from_slice(b",\"logger\":");
    json_string(out, logger);
    if let Some((info, elapsed_ms)) = head.request {
        json_request(out, info, elapsed_ms);
    }
    out.extend_from_slice(b",\"message\":");
    json_string(out, &fields.message);
    out.extend_from_slice(&fields.json);
    if let Some((first, chain)) = fields.errors.split_first() {
        out.extend_from_slice(b",\"error\":{\"message\":");
        json_string(out, first);
        out.extend_from_slice(b",\"chain\":[");
        for (index, source) in chain.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            json_string(out, source);
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"}\n");
}

fn json_request(out: &mut Vec<u8>, info: &RequestInfo, elapsed_ms: u64) {
    out.extend_from_slice(b",\"user_id\":");
    match &*info.user_id.borrow() {
        Some(user) => json_string(out, user),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"ip\":");
    match info.ip {
        Some(ip) => {
            out.push(b'"');
            push_ip(out, ip);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"trace_id\":");
    match info.trace_id.as_ref().and_then(|id| id.to_str().ok()) {
        Some(id) => json_string(out, id),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"use_ms\":");
    out.extend_from_slice(decimal(elapsed_ms).as_bytes());
    out.extend_from_slice(b",\"method\":\"");
    out.extend_from_slice(info.method.as_str().as_bytes());
    out.extend_from_slice(b"\",\"url\":");
    json_string(out, info.url());
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::fmt::Write as _;
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use http::{HeaderValue, Method};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use super::*;
    use crate::context::{REQUEST, with_request};

    #[test]
    fn json_strings_escape() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}\té\r");
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#""a\"b\\c\nd\u0001\té\r""#
        );
        let parsed: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}\té\r");
    }

    #[test]
    fn numbers_and_addresses_read_as_display_writes_them() {
        for value in [
            0,
            7,
            9,
            10,
            99,
            100,
            4242,
            65_535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(decimal(value).as_str(), value.to_string());
        }
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "255.255.255.255",
            "9.99.100.200",
        ]
        .into_iter()
        .chain([
            "::1",
            "fe80::1:2",
            "2001:db8::ff00:42:8329",
            "::ffff:10.0.0.1",
        ]) {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            push_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
        for (status, ms) in [(200, 0), (404, 3), (500, 12_345), (u16::MAX, u64::MAX)] {
            assert_eq!(
                request_line(status, ms).as_str(),
                format!("{status} {ms}ms")
            );
        }
    }

    /// The text line as the `core::fmt` formatting before writes it.
    fn reference_text(head: &Head<'_>, fields: &Fields) -> String {
        let mut line = String::from_utf8(clock::stamp(head.ms).to_vec()).unwrap();
        let _ = write!(line, " {} {} ", head.level, head.pid);
        if let Some((info, elapsed_ms)) = head.request {
            let user = info.user_id.borrow().clone().unwrap_or_else(|| "-".into());
            let ip = info.ip.map_or_else(|| "-".into(), |ip| ip.to_string());
            let trace = info
                .trace_id
                .as_ref()
                .map_or("-", |id| id.to_str().unwrap());
            let _ = write!(
                line,
                "[{user}/{ip}/{trace}/{elapsed_ms}ms {} {}] ",
                info.method,
                info.url()
            );
        }
        let _ = writeln!(line, "{}{}", fields.message, fields.text);
        line
    }

    /// The JSON line as the `core::fmt` formatting before writes it.
    fn reference_json(head: &Head<'_>, logger: &str, fields: &Fields) -> String {
        let quoted = |text: &str| {
            let mut out = Vec::new();
            json_string(&mut out, text);
            String::from_utf8(out).unwrap()
        };
        let mut out = format!(
            "{{\"date\":\"{}\",\"level\":\"{}\",\"pid\":{},\"logger\":{}",
            std::str::from_utf8(&clock::stamp(head.ms)).unwrap(),
            head.level,
            head.pid,
            quoted(logger)
        );
        if let Some((info, elapsed_ms)) = head.request {
            let user = info
                .user_id
                .borrow()
                .as_deref()
                .map_or("null".into(), quoted);
            let ip = info.ip.map_or("null".into(), |ip| format!("\"{ip}\""));
            let trace = info
                .trace_id
                .as_ref()
                .and_then(|id| id.to_str().ok())
                .map_or("null".into(), quoted);
            let _ = write!(
                out,
                ",\"user_id\":{user},\"ip\":{ip},\"trace_id\":{trace},\"use_ms\":{elapsed_ms},\
                 \"method\":\"{}\",\"url\":{}",
                info.method,
                quoted(info.url())
            );
        }
        let _ = write!(
            out,
            ",\"message\":{}{}",
            quoted(&fields.message),
            std::str::from_utf8(&fields.json).unwrap()
        );
        if let Some((first, chain)) = fields.errors.split_first() {
            let chain: Vec<String> = chain.iter().map(|source| quoted(source)).collect();
            let _ = write!(
                out,
                ",\"error\":{{\"message\":{},\"chain\":[{}]}}",
                quoted(first),
                chain.join(",")
            );
        }
        out.push_str("}\n");
        out
    }

    /// Writes every event it sees as text and JSON lines, with fixed time and elapsed
    /// milliseconds, next to what the reference formatting gives for the same event.
    #[derive(Clone, Default)]
    struct Capture {
        lines: Arc<Mutex<Vec<[String; 4]>>>,
    }

    const MS: i64 = 1_795_510_800_123;

    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
            with_fields(event, |scratch| {
                let Scratch { fields, text, json } = scratch;
                let lines = with_request(|request| {
                    let head = Head {
                        ms: MS,
                        level: event.metadata().level(),
                        pid: "4242",
                        request: request.map(|(info, _)| (info, 17)),
                    };
                    text_line(text, &head, fields);
                    json_line(json, &head, "core", fields);
                    [
                        String::from_utf8(text.clone()).unwrap(),
                        reference_text(&head, fields),
                        String::from_utf8(json.clone()).unwrap(),
                        reference_json(&head, "core", fields),
                    ]
                });
                self.lines.lock().unwrap().push(lines);
            });
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot charge the card")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("the bank \"timed\" out")]
    struct Inner;

    fn events() {
        tracing::info!("plain");
        tracing::warn!(n = -5, u = 7_u64, ok = true, s = "hi\n\"x\"", d = ?[1, 2], "fields");
        let error = Outer(Inner);
        tracing::error!(error = &error as &dyn std::error::Error, code = 7, "failed");
        tracing::debug!(target: "yolk_logger::request", message = request_line(200, 3).as_str());
        tracing::info!(answer = 42, "{} {}", "formatted", 'é');
    }

    fn info(
        ip: Option<IpAddr>,
        trace: Option<&'static str>,
        user: Option<&str>,
    ) -> Box<RequestInfo> {
        Box::new(RequestInfo {
            start: Instant::now(),
            method: Method::PATCH,
            uri: "/orders/7?page=2&q=%22".parse().unwrap(),
            ip,
            trace_id: trace.map(HeaderValue::from_static),
            user_id: RefCell::new(user.map(str::to_owned)),
            answered_ms: std::cell::Cell::new(None),
        })
    }

    #[test]
    fn lines_are_what_the_fmt_formatting_gave() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::with_default(subscriber, || {
            events();
            for request in [
                info(Some([10, 1, 2, 3].into()), Some("trace-7"), None),
                info(
                    Some("2001:db8::1".parse().unwrap()),
                    None,
                    Some("ada \"l\""),
                ),
                info(None, Some("a/b"), Some("")),
            ] {
                REQUEST.sync_scope(request, events);
            }
        });
        let lines = capture.lines.lock().unwrap();
        assert_eq!(lines.len(), 20);
        for [text, text_reference, json, json_reference] in lines.iter() {
            assert_eq!(text, text_reference);
            assert_eq!(json, json_reference);
            serde_json::from_str::<serde_json::Value>(json).unwrap();
        }
        // Spot checks of what the reference itself gives.
        assert!(lines[1][0].ends_with(" WARN 4242 fields n=-5 u=7 ok=true s=hi\n\"x\" d=[1, 2]\n"));
        assert!(lines[8][0].ends_with(
            " DEBUG 4242 [-/10.1.2.3/trace-7/17ms PATCH /orders/7?page=2&q=%22] 200 3ms\n"
        ));
        let error: serde_json::Value = serde_json::from_str(&lines[2][2]).unwrap();
        assert_eq!(error["error"]["chain"][0], "the bank \"timed\" out");
        assert_eq!(error["code"], 7);
    }
}
