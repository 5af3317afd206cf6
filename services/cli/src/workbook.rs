//! Tables written for people's spreadsheets: money in tenge (a number in a
//! workbook, with the tenge format; two decimals in CSV), headings that say
//! so, and the other values as a table shows them.

use aimaq_types::Language;
use rust_xlsxwriter::{Format, Worksheet, XlsxError};
use serde_json::Value;

use crate::CliError;
use crate::output::cell;

/// A column's heading: money in tenge.
pub fn heading(column: &str) -> String {
    match column.strip_suffix("Tiyn") {
        Some(money) => format!("{money} (KZT)"),
        None => column.to_string(),
    }
}

/// A money field's amount in tenge (proto3 JSON gives tiyn as a string).
pub fn tenge(column: &str, value: &Value) -> Option<f64> {
    let tiyn: i64 = column
        .ends_with("Tiyn")
        .then(|| value.as_str()?.parse().ok())??;
    Some(tiyn as f64 / 100.0)
}

/// A row's cells for CSV.
pub fn csv_cells(columns: &[String], row: &Value, language: Language) -> Vec<String> {
    columns
        .iter()
        .map(|c| match tenge(c, &row[c.as_str()]) {
            Some(amount) => format!("{amount:.2}"),
            None => cell(c, &row[c.as_str()], language),
        })
        .collect()
}

pub fn xlsx_error(error: XlsxError) -> CliError {
    CliError::Output(format!("workbook: {error}"))
}

fn column_number(index: usize) -> Result<u16, CliError> {
    u16::try_from(index).map_err(|_| CliError::Output("too many columns for a sheet".into()))
}

/// The bold headings of `columns` on `row`, frozen above what follows.
pub fn headings(sheet: &mut Worksheet, row: u32, columns: &[String]) -> Result<(), CliError> {
    let bold = Format::new().set_bold();
    for (index, column) in columns.iter().enumerate() {
        sheet
            .write_string_with_format(row, column_number(index)?, heading(column), &bold)
            .map_err(xlsx_error)?;
    }
    sheet.set_freeze_panes(row + 1, 0).map_err(xlsx_error)?;
    Ok(())
}

/// One data row at `row`.
pub fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    columns: &[String],
    values: &Value,
    language: Language,
) -> Result<(), CliError> {
    let money = Format::new().set_num_format("#,##0.00 \"₸\"");
    for (index, column) in columns.iter().enumerate() {
        let value = &values[column.as_str()];
        let at = column_number(index)?;
        match (tenge(column, value), value) {
            (Some(amount), _) => sheet.write_number_with_format(row, at, amount, &money),
            (None, Value::Number(n)) => sheet.write_number(row, at, n.as_f64().unwrap_or_default()),
            (None, _) => sheet.write_string(row, at, cell(column, value, language)),
        }
        .map_err(xlsx_error)?;
    }
    Ok(())
}
