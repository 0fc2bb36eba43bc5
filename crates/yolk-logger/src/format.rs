//! Turning a `tracing` event into a text line or a JSON line.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};

use crate::clock;
use crate::context::{REQUEST, RequestInfo};

/// An event's fields, collected once for every line written from it.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) message: String,
    /// ` key=value` pairs, for text lines.
    pub(crate) text: String,
    /// `,"key":value` pairs, for JSON lines.
    pub(crate) json: String,
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

thread_local! {
    static SCRATCH: RefCell<Fields> = RefCell::new(Fields::default());
}

/// Runs `f` with the event's fields, in a buffer reused per thread.
pub(crate) fn with_fields<R>(event: &tracing::Event<'_>, f: impl FnOnce(&Fields) -> R) -> R {
    let mut fresh = None;
    SCRATCH.with(|cell| {
        let mut borrowed = cell.try_borrow_mut();
        let fields = match &mut borrowed {
            Ok(fields) => &mut **fields,
            // An event logged while formatting another: use a buffer of its own.
            Err(_) => fresh.insert(Fields::default()),
        };
        fields.clear();
        event.record(&mut Visitor { fields });
        f(fields)
    })
}

struct Visitor<'a> {
    fields: &'a mut Fields,
}

impl Visitor<'_> {
    fn json_key(&mut self, field: &Field) {
        self.fields.json.push(',');
        json_string(&mut self.fields.json, field.name());
        self.fields.json.push(':');
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.fields.message.push_str(value);
            return;
        }
        let _ = write!(self.fields.text, " {}={value}", field.name());
        self.json_key(field);
        json_string(&mut self.fields.json, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let _ = write!(self.fields.text, " {}={value}", field.name());
        self.json_key(field);
        let _ = write!(self.fields.json, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let _ = write!(self.fields.text, " {}={value}", field.name());
        self.json_key(field);
        let _ = write!(self.fields.json, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let _ = write!(self.fields.text, " {}={value}", field.name());
        self.json_key(field);
        let _ = write!(self.fields.json, "{value}");
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
        let start = self.fields.text.len();
        let _ = write!(self.fields.text, " {}={value:?}", field.name());
        let rendered = self.fields.text[start + field.name().len() + 2..].to_owned();
        self.json_key(field);
        json_string(&mut self.fields.json, &rendered);
    }
}

/// Appends `text` as a JSON string.
pub(crate) fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
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

/// `2026-11-24 10:00:00,123 INFO 4242 [-/127.0.0.1/-/3ms GET /path] message key=value\n`
pub(crate) fn text_line(ms: i64, level: &tracing::Level, pid: u32, fields: &Fields) -> Vec<u8> {
    let mut line = Vec::with_capacity(80 + fields.message.len() + fields.text.len());
    line.extend_from_slice(&clock::stamp(ms));
    line.push(b' ');
    line.extend_from_slice(level_name(level).as_bytes());
    let _ = write!(line, " {pid} ");
    let _ = REQUEST.try_with(|info| {
        info.write_prefix(&mut line);
        line.push(b' ');
    });
    line.extend_from_slice(fields.message.as_bytes());
    line.extend_from_slice(fields.text.as_bytes());
    line.push(b'\n');
    line
}

/// One JSON object per line: `date`, `level`, `pid`, `logger`, the request's `user_id`, `ip`,
/// `trace_id`, `use_ms`, `method`, `url` inside a request, `message`, the fields, and `error`
/// with its `chain` of sources.
pub(crate) fn json_line(
    ms: i64,
    level: &tracing::Level,
    pid: u32,
    logger: &str,
    fields: &Fields,
) -> Vec<u8> {
    let mut out = String::with_capacity(160 + fields.message.len() + fields.json.len());
    out.push_str("{\"date\":\"");
    out.push_str(std::str::from_utf8(&clock::stamp(ms)).unwrap_or_default());
    let _ = write!(
        out,
        "\",\"level\":\"{}\",\"pid\":{pid},\"logger\":",
        level_name(level)
    );
    json_string(&mut out, logger);
    let _ = REQUEST.try_with(|info| json_request(&mut out, info));
    out.push_str(",\"message\":");
    json_string(&mut out, &fields.message);
    out.push_str(&fields.json);
    if let Some((first, chain)) = fields.errors.split_first() {
        out.push_str(",\"error\":{\"message\":");
        json_string(&mut out, first);
        out.push_str(",\"chain\":[");
        for (index, source) in chain.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            json_string(&mut out, source);
        }
        out.push_str("]}");
    }
    out.push_str("}\n");
    out.into_bytes()
}

fn json_request(out: &mut String, info: &RequestInfo) {
    out.push_str(",\"user_id\":");
    match &*info.user_id.borrow() {
        Some(user) => json_string(out, user),
        None => out.push_str("null"),
    }
    out.push_str(",\"ip\":");
    match info.ip {
        Some(ip) => {
            let _ = write!(out, "\"{ip}\"");
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"trace_id\":");
    match info.trace_id.as_ref().and_then(|id| id.to_str().ok()) {
        Some(id) => json_string(out, id),
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"use_ms\":{},\"method\":\"{}\",\"url\":",
        info.elapsed_ms(),
        info.method
    );
    json_string(out, info.url());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}");
    }
}
