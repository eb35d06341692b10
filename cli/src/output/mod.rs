//! Everything the CLI prints, human or JSON (`--json`), through a [`Printer`] so that tests can
//! read it. What a node answers is never trusted to be well formed: human output cuts ids
//! with [`short`] (by characters, never by bytes) and passes every text through [`clean`], so a
//! hostile answer can make odd output but no panic and no terminal control sequences. JSON
//! prints answers as they came (serde escapes control characters).
//!
//! # Layout
//! - `alerts`: alert lists, one alert in detail, its receipts, `watch` lines.
//! - `lists`: check-ins, shelters, shelter requests, the directory.
//! - `records`: the profile, joining, and how far a signed record got.
//! - `operator`: answers of the operator socket.

mod alerts;
mod lists;
mod operator;
mod records;
#[cfg(test)]
pub(crate) mod tests;

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;

use crate::i18n;

pub(crate) use alerts::{alert_detail, alerts, receipts, watch_line, Change};
pub(crate) use lists::{checkins, directory, shelter_requests, shelters, OpenedRequest};
pub(crate) use operator::operator;
pub(crate) use records::{delivery, device_code, joined, profile};

/// Characters of an id shown in tables and lines (ids are 52 base32 or 64 hex characters).
pub(crate) const SHORT_ID_CHARS: usize = 8;

/// Where output goes: standard output for results, standard error for warnings, and whether
/// results are JSON.
pub(crate) struct Printer<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    json: bool,
}

impl<'a> Printer<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, err: &'a mut dyn Write, json: bool) -> Self {
        Self { out, err, json }
    }

    /// Whether results are JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// One line of results.
    pub(crate) fn line(&mut self, text: &str) -> anyhow::Result<()> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// One line on standard error, as printed (prefixes are the caller's).
    pub(crate) fn warn(&mut self, text: &str) -> anyhow::Result<()> {
        writeln!(self.err, "{text}")?;
        Ok(())
    }

    /// `value` as indented JSON.
    pub(crate) fn json_value<T: Serialize + ?Sized>(&mut self, value: &T) -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut *self.out, value)?;
        writeln!(self.out)?;
        Ok(())
    }

    /// `value` as one line of JSON (streams such as `watch`).
    pub(crate) fn json_line<T: Serialize + ?Sized>(&mut self, value: &T) -> anyhow::Result<()> {
        serde_json::to_writer(&mut *self.out, value)?;
        writeln!(self.out)?;
        Ok(())
    }

    /// Rows as aligned columns, under the headers of the given message ids (`col-*`; an empty
    /// id is an empty header). Cells are [`clean`]ed; a row longer than the header is cut.
    pub(crate) fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<()> {
        let header: Vec<String> = header
            .iter()
            .map(|id| {
                if id.is_empty() {
                    String::new()
                } else {
                    i18n::tr(id)
                }
            })
            .collect();
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| {
                row.iter()
                    .take(header.len())
                    .map(|c| clean(c).into_owned())
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
            }
            s.trim_end().to_string()
        };
        writeln!(self.out, "{}", line(&header))?;
        for row in rows {
            writeln!(self.out, "{}", line(&row))?;
        }
        Ok(())
    }
}

/// The first [`SHORT_ID_CHARS`] characters of an id from an answer, cleaned: whole characters
/// however the string is encoded, all of it if shorter, `-` if empty.
pub(crate) fn short(id: &str) -> String {
    let cut: String = id.chars().take(SHORT_ID_CHARS).collect();
    if cut.is_empty() {
        "-".into()
    } else {
        clean(&cut).into_owned()
    }
}

/// Text from an answer made safe for a terminal: line breaks and tabs become spaces, other
/// control characters (escape sequences start with one) become U+FFFD.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\n' | '\r' | '\t' => ' ',
                c if c.is_control() => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// A name from an answer if there is one, else the short form of the key.
pub(crate) fn name_or_key(name: &Option<String>, key: &str) -> String {
    match name {
        Some(n) => clean(n).into_owned(),
        None => short(key),
    }
}

/// Milliseconds from an answer as seconds with one decimal; negative times read as 0.
pub(crate) fn seconds(ms: i64) -> String {
    format!("{:.1}", ms.max(0) as f64 / 1000.0)
}

fn kebab<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A value of a closed set (`prefix` names it: role, severity...) as people read it.
fn shown<T: Serialize>(prefix: &str, v: &T) -> String {
    i18n::value(prefix, &kebab(v))
}

/// A value of a closed set that an answer gives as text (an alert status, an action).
fn shown_text(prefix: &str, v: &str) -> String {
    i18n::value(prefix, &clean(v))
}

fn role(r: protocol::event::Role) -> String {
    i18n::value("role", r.as_str())
}
