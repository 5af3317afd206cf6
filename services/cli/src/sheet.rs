//! The rows of a file people exchange: CSV (comma or semicolon separated),
//! JSON lines, or the first sheet of an Excel workbook (`.xlsx`). The first
//! row of a CSV or a sheet names the columns.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader};
use sha2::{Digest, Sha256};

use crate::CliError;

/// One row: its number in the file (the header is row 1 of a CSV or sheet;
/// the first line is row 1 of JSON lines) and its cells by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: usize,
    pub cells: BTreeMap<String, String>,
}

/// A file's rows, its column names as written, and the digest of its bytes.
pub struct Sheet {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub digest: String,
}

pub fn read(path: &Path) -> Result<Sheet, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|error| CliError::Usage(format!("{}: {error}", path.display())))?;
    let digest = hex_digest(&bytes);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let named = |error: String| CliError::Usage(format!("{}: {error}", path.display()));
    let (columns, rows) = match extension.as_str() {
        "csv" => csv_rows(&bytes).map_err(named)?,
        "jsonl" | "ndjson" => json_lines(&bytes).map_err(named)?,
        "xlsx" => workbook_rows(path).map_err(named)?,
        other => {
            return Err(named(format!(
                "unknown kind of file {other:?}: give .csv, .jsonl or .xlsx"
            )));
        }
    };
    Ok(Sheet {
        columns,
        rows,
        digest,
    })
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn csv_rows(bytes: &[u8]) -> Result<(Vec<String>, Vec<Row>), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let text = text.trim_start_matches('\u{feff}');
    // Spreadsheets saved in Russian locales separate with semicolons.
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", index + 2))?;
        let cells = columns
            .iter()
            .cloned()
            .zip(record.iter().map(|c| c.trim().to_string()))
            .collect();
        rows.push(Row {
            number: index + 2,
            cells,
        });
    }
    Ok((columns, rows))
}

fn json_lines(bytes: &[u8]) -> Result<(Vec<String>, Vec<Row>), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", index + 1))?;
        let object = value
            .as_object()
            .ok_or_else(|| format!("line {}: not a JSON object", index + 1))?;
        let mut cells = BTreeMap::new();
        for (key, value) in object {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
            cells.insert(key.clone(), json_text(value));
        }
        rows.push(Row {
            number: index + 1,
            cells,
        });
    }
    Ok((columns, rows))
}

/// A JSON value as a cell: lists joined by `;`.
fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(json_text).collect::<Vec<_>>().join(";")
        }
        other => other.to_string(),
    }
}

fn workbook_rows(path: &Path) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsxError| e.to_string())?;
    let first = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "the workbook has no sheet".to_string())?;
    let range = workbook
        .worksheet_range(&first)
        .map_err(|e| e.to_string())?;
    let mut lines = range.rows();
    let columns: Vec<String> = lines
        .next()
        .map(|header| {
            header
                .iter()
                .map(|c| cell_text(c).trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let start = range.start().map_or(0, |(row, _)| row as usize);
    let mut rows = Vec::new();
    for (index, line) in lines.enumerate() {
        if line.iter().all(|c| cell_text(c).trim().is_empty()) {
            continue;
        }
        let cells = columns
            .iter()
            .cloned()
            .zip(line.iter().map(|c| cell_text(c).trim().to_string()))
            .collect();
        rows.push(Row {
            number: start + index + 2,
            cells,
        });
    }
    Ok((columns, rows))
}

/// A cell as text: whole numbers without a decimal point, dates as
/// `YYYY-MM-DD`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::Float(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{number:.0}")
        }
        Data::DateTime(moment) => moment
            .as_datetime()
            .map(|t| t.date().format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_with_semicolons_and_a_byte_order_mark() {
        let (columns, rows) =
            csv_rows("\u{feff}Като;Стоимость\n613633100; 1 500,00 \n".as_bytes()).unwrap();
        assert_eq!(columns, vec!["Като", "Стоимость"]);
        assert_eq!(rows[0].number, 2);
        assert_eq!(rows[0].cells["Стоимость"], "1 500,00");
    }

    #[test]
    fn json_lines_keep_their_line_numbers() {
        let (columns, rows) =
            json_lines(b"{\"a\":1,\"b\":[\"x\",\"y\"]}\n\n{\"a\":\"2\"}\n").unwrap();
        assert_eq!(columns, vec!["a", "b"]);
        assert_eq!(rows[1].number, 3);
        assert_eq!(rows[0].cells["b"], "x;y");
        assert!(json_lines(b"[1]").is_err());
    }
}
