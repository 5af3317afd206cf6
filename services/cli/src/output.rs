//! What the tool prints: messages as proto3 JSON, then as an aligned table,
//! JSON, JSON lines or CSV. In a table or CSV, money (`…Tiyn`) is written as
//! people write it, a localized name in the caller's language, a date as
//! `YYYY-MM-DD`.

use std::io::{IsTerminal, Write};

use aimaq_types::{Language, Money};
use clap::ValueEnum;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use serde_json::{Map, Value};

use crate::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

impl Format {
    /// The format asked, or a table on a terminal and JSON lines elsewhere.
    pub fn chosen(asked: Option<Format>) -> Format {
        asked.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Jsonl
        })
    }
}

/// The descriptor of the message `name`, from the pool decoded once.
pub fn descriptor(name: &str) -> Result<MessageDescriptor, CliError> {
    aimaq_proto::descriptor_pool()
        .and_then(|pool| pool.get_message_by_name(name))
        .ok_or_else(|| CliError::Output(format!("no descriptor of {name}")))
}

/// `message` as proto3 JSON (64-bit integers as strings, enums by name).
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> Result<Value, CliError> {
    let descriptor = descriptor(&M::full_name())?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|error| CliError::Output(error.to_string()))?;
    serde_json::to_value(&dynamic).map_err(|error| CliError::Output(error.to_string()))
}

/// Prints rows in one format.
pub struct Printer {
    pub format: Format,
    pub language: Language,
    /// The columns of a table or CSV; every field of the rows when empty.
    pub columns: Vec<String>,
}

impl Printer {
    /// A list of rows.
    pub fn rows(&self, rows: &[Value], out: &mut dyn Write) -> Result<(), CliError> {
        match self.format {
            Format::Json => writeln!(out, "{}", pretty(&Value::Array(rows.to_vec()))?)?,
            Format::Jsonl => {
                for row in rows {
                    writeln!(out, "{row}")?;
                }
            }
            Format::Table => {
                let (headers, cells) = self.cells(rows);
                table(&headers, &cells, out)?;
            }
            Format::Csv => {
                let (headers, cells) = self.cells(rows);
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(&headers).map_err(csv_error)?;
                for row in cells {
                    writer.write_record(&row).map_err(csv_error)?;
                }
                writer.flush()?;
            }
        }
        Ok(())
    }

    /// One resource: a table of its fields, one a line, or the row as asked.
    pub fn one(&self, row: &Value, out: &mut dyn Write) -> Result<(), CliError> {
        match self.format {
            Format::Json => writeln!(out, "{}", pretty(row)?)?,
            Format::Jsonl => writeln!(out, "{row}")?,
            Format::Csv => self.rows(std::slice::from_ref(row), out)?,
            Format::Table => {
                let fields = row.as_object().cloned().unwrap_or_default();
                let cells: Vec<Vec<String>> = fields
                    .iter()
                    .filter(|(key, _)| self.columns.is_empty() || self.columns.contains(key))
                    .map(|(key, value)| vec![header(key), cell(key, value, self.language)])
                    .collect();
                table(&["field".into(), "value".into()], &cells, out)?;
            }
        }
        Ok(())
    }

    fn cells(&self, rows: &[Value]) -> (Vec<String>, Vec<Vec<String>>) {
        let keys = if self.columns.is_empty() {
            every_key(rows)
        } else {
            self.columns.clone()
        };
        let cells = rows
            .iter()
            .map(|row| {
                keys.iter()
                    .map(|key| cell(key, &row[key.as_str()], self.language))
                    .collect()
            })
            .collect();
        (keys.iter().map(|key| header(key)).collect(), cells)
    }
}

fn pretty(value: &Value) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|error| CliError::Output(error.to_string()))
}

fn csv_error(error: csv::Error) -> CliError {
    CliError::Output(format!("CSV: {error}"))
}

/// The fields of the rows, in the order they first appear.
fn every_key(rows: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for row in rows {
        for key in row.as_object().map(Map::keys).into_iter().flatten() {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// A column's heading: money fields without their unit.
fn header(key: &str) -> String {
    key.strip_suffix("Tiyn").unwrap_or(key).to_string()
}

/// A value as a person reads it.
pub fn cell(key: &str, value: &Value, language: Language) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) if key.ends_with("Tiyn") => text
            .parse::<i64>()
            .map(|tiyn| Money::from_tiyn(tiyn).written(language))
            .unwrap_or_else(|_| text.clone()),
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|item| cell("", item, language))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => format!("[{} items]", items.len()),
        Value::Object(fields) => object_cell(fields, language),
    }
}

fn object_cell(fields: &Map<String, Value>, language: Language) -> String {
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    let localized = fields
        .keys()
        .all(|k| ["kk", "ru", "en"].contains(&k.as_str()));
    if localized {
        let wanted = text(language.tag());
        return wanted
            .or_else(|| text("ru"))
            .or_else(|| text("kk"))
            .or_else(|| text("en"))
            .unwrap_or_default()
            .to_string();
    }
    let number = |key: &str| fields.get(key).and_then(Value::as_i64);
    let a_date = fields
        .keys()
        .all(|k| ["year", "month", "day"].contains(&k.as_str()));
    if a_date
        && let (Some(year), Some(month), Some(day)) =
            (number("year"), number("month"), number("day"))
    {
        return format!("{year:04}-{month:02}-{day:02}");
    }
    Value::Object(fields.clone()).to_string()
}

/// An aligned table: the headings, then a row a line.
fn table(headers: &[String], rows: &[Vec<String>], out: &mut dyn Write) -> Result<(), CliError> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(headers))?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn printed(format: Format, rows: &[Value], columns: &[&str]) -> String {
        let printer = Printer {
            format,
            language: Language::Ru,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        };
        let mut out = Vec::new();
        printer.rows(rows, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tables_align_and_write_money_names_and_dates() {
        let rows = [
            json!({"kato": "613633100", "name": {"ru": "Агыбет", "en": "Agybet"}, "amountTiyn": "517500000"}),
            json!({"kato": "610000000", "name": {"ru": "Туркестанская область"}, "date": {"year": 2026, "month": 1, "day": 5}}),
        ];
        let text = printed(Format::Table, &rows, &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "kato       name                   amount          date"
        );
        assert!(
            lines[1].contains("Агыбет") && lines[1].contains("5 175 000,00 ₸"),
            "{text}"
        );
        assert!(lines[2].ends_with("2026-01-05"), "{text}");
    }

    #[test]
    fn csv_keeps_the_chosen_columns_and_quotes() {
        let rows = [json!({"kato": "1", "title": "a, b", "extra": true})];
        let text = printed(Format::Csv, &rows, &["kato", "title"]);
        assert_eq!(text, "kato,title\n1,\"a, b\"\n");
    }

    #[test]
    fn json_lines_are_one_row_a_line() {
        let rows = [json!({"a": 1}), json!({"b": [1, 2]})];
        assert_eq!(
            printed(Format::Jsonl, &rows, &[]),
            "{\"a\":1}\n{\"b\":[1,2]}\n"
        );
        assert_eq!(cell("b", &rows[1]["b"], Language::En), "1, 2");
    }
}
