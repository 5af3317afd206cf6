//! What each kind of file holds: its columns (by proto field name, or the
//! English and Russian headings the files people have use), and a row made
//! into the message the service takes. Money columns in tenge are written as
//! people write them (`1 500 000,50`, `1,500,000.50`); enums by their name
//! or its last part (`planned`); dates as `YYYY-MM-DD`; lists split on `;`.

use aimaq_types::Money;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage as _};

use crate::sheet::Row;

/// A kind of file `aimaq import` reads.
pub struct FileKind {
    /// The message each row becomes.
    pub message: &'static str,
    /// Headings, normalised (lower case, `_` for spaces), and the field each
    /// sets: a dotted path, or a field ending `_tiyn` given in tenge.
    pub headings: &'static [(&'static str, &'static str)],
}

pub const PROJECTS: FileKind = FileKind {
    message: "aimaq.budget.v1.ImportedProject",
    headings: &[
        ("распределение", "allocation"),
        ("аллокация", "allocation"),
        ("като", "settlement_kato"),
        ("като_нп", "settlement_kato"),
        ("код_като", "settlement_kato"),
        ("kato", "settlement_kato"),
        ("категория", "category"),
        ("наименование", "title"),
        ("название", "title"),
        ("бин", "borrower_id"),
        ("иин/бин", "borrower_id"),
        ("заемщик", "borrower_id"),
        ("borrower", "borrower_id"),
        ("стоимость", "cost_tiyn"),
        ("стоимость,_тг", "cost_tiyn"),
        ("cost", "cost_tiyn"),
        ("стандарты", "standard_codes"),
        ("standards", "standard_codes"),
        ("статус", "status"),
        ("освоено", "disbursed_tiyn"),
        ("освоено,_тг", "disbursed_tiyn"),
        ("disbursed", "disbursed_tiyn"),
    ],
};

pub const STANDARD_STATUSES: FileKind = FileKind {
    message: "aimaq.budget.v1.StandardStatusInput",
    headings: &[
        ("като", "settlement_kato"),
        ("kato", "settlement_kato"),
        ("стандарт", "standard_code"),
        ("standard", "standard_code"),
        ("применим", "applicable"),
        ("выполнен", "met"),
    ],
};

pub const REVENUES: FileKind = FileKind {
    message: "aimaq.governance.v1.RecordRevenueRequest",
    headings: &[
        ("като", "territory_kato"),
        ("kato", "territory_kato"),
        ("год", "fiscal_year"),
        ("year", "fiscal_year"),
        ("источник", "source"),
        ("сумма", "amount_tiyn"),
        ("сумма,_тг", "amount_tiyn"),
        ("amount", "amount_tiyn"),
        ("примечание", "note"),
    ],
};

pub const APPLICATIONS: FileKind = FileKind {
    message: "aimaq.grants.v1.SubmitApplicationRequest",
    headings: &[
        ("иин", "iin"),
        ("фио", "full_name"),
        ("name", "full_name"),
        ("специальность", "field"),
        ("като", "settlement_kato"),
        ("kato", "settlement_kato"),
        ("работодатель", "employer"),
        ("дата_начала", "start_date"),
        ("подъемные", "allowance_requested"),
        ("allowance", "allowance_requested"),
        ("кредит", "loan_requested.amount_tiyn"),
        ("loan", "loan_requested.amount_tiyn"),
        ("срок_кредита,_мес", "loan_requested.term_months"),
        ("loan_months", "loan_requested.term_months"),
    ],
};

pub const TERRITORIES: FileKind = FileKind {
    message: "aimaq.governance.v1.TerritoryInput",
    headings: &[
        ("като", "kato"),
        ("код_като", "kato"),
        ("тип", "kind"),
        ("вид", "kind"),
        ("наименование", "name.ru"),
        ("наименование_рус", "name.ru"),
        ("наименование_каз", "name.kk"),
        ("name", "name.ru"),
        ("name_ru", "name.ru"),
        ("name_kk", "name.kk"),
        ("name_en", "name.en"),
        ("сельская", "rural"),
        ("население", "population"),
        ("действует_с", "valid_from"),
        ("действует_по", "valid_to"),
    ],
};

/// How a file's columns map to fields, checked before any row is read.
pub struct Columns {
    descriptor: MessageDescriptor,
    /// Column as written → field path.
    fields: Vec<(String, String)>,
}

fn normalise(heading: &str) -> String {
    heading.trim().to_lowercase().replace([' ', '-'], "_")
}

impl Columns {
    /// The fields of `columns` in a file of `kind`; an unknown column is
    /// named, with the columns this kind knows.
    pub fn of(kind: &FileKind, columns: &[String]) -> Result<Columns, String> {
        let descriptor = crate::output::descriptor(kind.message).map_err(|e| e.to_string())?;
        let mut fields = Vec::new();
        for column in columns.iter().filter(|c| !c.trim().is_empty()) {
            let heading = normalise(column);
            let path = kind
                .headings
                .iter()
                .find(|(known, _)| *known == heading)
                .map(|(_, path)| path.to_string())
                .or_else(|| path_exists(&descriptor, &heading).then(|| heading.clone()))
                .or_else(|| {
                    let tiyn = format!("{heading}_tiyn");
                    path_exists(&descriptor, &tiyn).then_some(tiyn)
                });
            match path {
                Some(path) => fields.push((column.clone(), path)),
                None => {
                    let known: Vec<_> = descriptor.fields().map(|f| f.name().to_string()).collect();
                    return Err(format!(
                        "the column {column:?} is not one of this file's: {} (or their Russian headings)",
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(Columns { descriptor, fields })
    }

    /// The message of `row`, or the column and what is wrong with it.
    pub fn message(&self, row: &Row) -> Result<DynamicMessage, (String, String)> {
        let mut message = DynamicMessage::new(self.descriptor.clone());
        for (column, path) in &self.fields {
            let text = row
                .cells
                .get(column)
                .map(String::as_str)
                .unwrap_or_default();
            if text.is_empty() {
                continue;
            }
            set(&mut message, path, text).map_err(|why| (column.clone(), why))?;
        }
        Ok(message)
    }
}

fn path_exists(descriptor: &MessageDescriptor, path: &str) -> bool {
    field_kind(descriptor, path).is_some()
}

fn field_kind(descriptor: &MessageDescriptor, path: &str) -> Option<(Kind, bool)> {
    let mut current = descriptor.clone();
    let mut found = None;
    for part in path.split('.') {
        let field = current.get_field_by_name(part)?;
        if let Kind::Message(inner) = field.kind() {
            current = inner;
        }
        found = Some((field.kind(), field.is_list()));
    }
    found
}

/// Sets `path` from a cell as people write it.
fn set(message: &mut DynamicMessage, path: &str, text: &str) -> Result<(), String> {
    let Some((kind, list)) = field_kind(&message.descriptor(), path) else {
        return Err("no such field".into());
    };
    if list {
        for item in text
            .split([';', ','])
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            aimaq_transcode::set_from_text(message, path, item)?;
        }
        return Ok(());
    }
    let value = match &kind {
        _ if path.ends_with("_tiyn") => tenge_to_tiyn(text)?.to_string(),
        Kind::Enum(descriptor) => {
            let upper = text.trim().to_uppercase().replace([' ', '-'], "_");
            let prefix = descriptor
                .values()
                .find(|v| v.number() == 0)
                .map(|v| v.name().trim_end_matches("UNSPECIFIED").to_string())
                .unwrap_or_default();
            if descriptor.get_value_by_name(&upper).is_some() {
                upper
            } else {
                format!("{prefix}{upper}")
            }
        }
        Kind::Bool => yes_or_no(text)?.to_string(),
        Kind::Message(inner) if inner.name() == "Date" => {
            let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| format!("{text:?} is not a date: write YYYY-MM-DD"))?;
            let date = aimaq_proto::date_to_proto(date);
            for (part, value) in [
                ("year", date.year),
                ("month", date.month),
                ("day", date.day),
            ] {
                aimaq_transcode::set_from_text(
                    message,
                    &format!("{path}.{part}"),
                    &value.to_string(),
                )?;
            }
            return Ok(());
        }
        _ => text.trim().to_string(),
    };
    aimaq_transcode::set_from_text(message, path, &value)
}

fn yes_or_no(text: &str) -> Result<bool, String> {
    match text.trim().to_lowercase().as_str() {
        "true" | "yes" | "1" | "да" | "иә" => Ok(true),
        "false" | "no" | "0" | "нет" | "жоқ" => Ok(false),
        other => Err(format!("{other:?} is neither yes nor no")),
    }
}

/// Tenge as people write them, in tiyn: `1 500 000,50`, `1,500,000.50`,
/// `1500000.5`, `-20`.
pub fn tenge_to_tiyn(text: &str) -> Result<i64, String> {
    let refused = || format!("{text:?} is not an amount of tenge (as 1 500 000,50)");
    let compact: String = text
        .trim()
        .trim_end_matches(['₸', ' '])
        .trim_end_matches("KZT")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    let (negative, digits) = match compact.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, compact.clone()),
    };
    // The last separator is the decimal one when two or fewer digits follow it.
    let split = digits
        .rfind([',', '.'])
        .filter(|&at| digits.len() - at - 1 <= 2);
    let (whole, fraction) = match split {
        Some(at) => (&digits[..at], &digits[at + 1..]),
        None => (digits.as_str(), ""),
    };
    // Thousands are grouped by three after the first group.
    let groups: Vec<&str> = whole.split([',', '.']).collect();
    let grouped =
        groups.len() == 1 || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
    if !grouped {
        return Err(refused());
    }
    let whole: String = groups.concat();
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(refused());
    }
    let tenge: i64 = whole.parse().map_err(|_| refused())?;
    let tiyn: i64 = format!("{fraction:0<2}").parse().map_err(|_| refused())?;
    let amount = tenge
        .checked_mul(Money::TIYN_PER_TENGE)
        .and_then(|t| t.checked_add(tiyn))
        .ok_or_else(refused)?;
    Ok(if negative { -amount } else { amount })
}

/// The cells of a row as written, for the rejected rows' file.
pub fn cells_in_order(row: &Row, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| row.cells.get(c).cloned().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    /// A row's cells.
    fn row(number: usize, cells: &[(&str, &str)]) -> Row {
        Row {
            number,
            cells: cells
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn tenge_as_people_write_them() {
        assert_eq!(tenge_to_tiyn("1 500 000,50").unwrap(), 150_000_050);
        assert_eq!(tenge_to_tiyn("1,500,000.50").unwrap(), 150_000_050);
        assert_eq!(tenge_to_tiyn("1500000.5").unwrap(), 150_000_050);
        assert_eq!(tenge_to_tiyn("1,500,000").unwrap(), 150_000_000);
        assert_eq!(tenge_to_tiyn("-20").unwrap(), -2000);
        assert_eq!(tenge_to_tiyn("5 175 000,00 ₸").unwrap(), 517_500_000);
        for bad in ["", "abc", "1,5,0x", "1.2.3,456"] {
            assert!(tenge_to_tiyn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn russian_and_english_headings_make_the_same_project() {
        let russian = [
            "Распределение",
            "КАТО",
            "Категория",
            "Наименование",
            "Стоимость",
            "Стандарты",
            "Статус",
        ]
        .map(String::from);
        let english = [
            "allocation",
            "settlement_kato",
            "category",
            "title",
            "cost",
            "standard_codes",
            "status",
        ]
        .map(String::from);
        let values = [
            "allocations/P/2026/610000000",
            "613633100",
            "social infrastructure",
            "Школа",
            "1 000,50",
            "SCHOOL; WATER",
            "planned",
        ];
        let made = |columns: &[String]| {
            let cells: Vec<(&str, &str)> = columns.iter().map(String::as_str).zip(values).collect();
            let message = Columns::of(&PROJECTS, columns)
                .unwrap()
                .message(&row(2, &cells))
                .unwrap();
            serde_json::to_value(&message).unwrap()
        };
        let json = made(&russian);
        assert_eq!(json, made(&english));
        assert_eq!(json["costTiyn"], "100050");
        assert_eq!(json["category"], "PROJECT_CATEGORY_SOCIAL_INFRASTRUCTURE");
        assert_eq!(json["status"], "PROJECT_STATUS_PLANNED");
        assert_eq!(
            json["standardCodes"],
            serde_json::json!(["SCHOOL", "WATER"])
        );
    }

    #[test]
    fn unknown_columns_and_bad_cells_are_named() {
        let refused = Columns::of(&PROJECTS, &["Цена".to_string()]).err().unwrap();
        assert!(refused.contains("\"Цена\""), "{refused}");
        let columns = Columns::of(
            &APPLICATIONS,
            &["ИИН".into(), "Дата начала".into(), "Подъемные".into()],
        )
        .unwrap();
        let (column, why) = columns
            .message(&row(
                3,
                &[
                    ("ИИН", "900101300123"),
                    ("Дата начала", "01.09.2026"),
                    ("Подъемные", "да"),
                ],
            ))
            .unwrap_err();
        assert_eq!(column, "Дата начала");
        assert!(why.contains("YYYY-MM-DD"));
    }
}
