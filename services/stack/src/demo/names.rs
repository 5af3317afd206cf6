//! What the demo adds to the classifier's rows (sources in
//! `data/territory-names.md`): the Kazakh and English names of the regions and
//! the cities of republican significance (`data/territory-names.csv`; the
//! classifier has Russian names only), and the day the regions formed in 2022
//! came into being (`data/territory-periods.csv`).

use aimaq_proto::governance::v1::TerritoryInput;

const TERRITORY_NAMES: &str = include_str!("../../data/territory-names.csv");
const TERRITORY_PERIODS: &str = include_str!("../../data/territory-periods.csv");

/// Names `rows` in Kazakh and English where the data file has them; how many.
pub fn name_in_other_languages(rows: &mut [TerritoryInput]) -> Result<usize, String> {
    let mut reader = csv::Reader::from_reader(TERRITORY_NAMES.as_bytes());
    let mut named = 0;
    for record in reader.records() {
        let record = record.map_err(|e| format!("territory names: {e}"))?;
        let field = |index: usize| record.get(index).unwrap_or_default().trim().to_owned();
        let Some(row) = rows.iter_mut().find(|row| row.kato == field(0)) else {
            continue;
        };
        if let Some(name) = row.name.as_mut() {
            name.kk = field(1);
            name.en = field(2);
            named += 1;
        }
    }
    Ok(named)
}

/// Dates the rows under each prefix of the periods file from the day they
/// were formed; how many.
pub fn date_formed_territories(rows: &mut [TerritoryInput]) -> Result<usize, String> {
    let mut reader = csv::Reader::from_reader(TERRITORY_PERIODS.as_bytes());
    let mut dated = 0;
    for record in reader.records() {
        let record = record.map_err(|e| format!("territory periods: {e}"))?;
        let prefix = record.get(0).unwrap_or_default().trim().to_owned();
        let day = record.get(1).unwrap_or_default().trim();
        let parts: Vec<i32> = day
            .split('-')
            .filter_map(|part| part.parse().ok())
            .collect();
        let formed = match parts.as_slice() {
            [year, month, day] => aimaq_proto::common::v1::Date {
                year: *year,
                month: *month,
                day: *day,
            },
            _ => return Err(format!("territory periods, {prefix}: {day:?} is no date")),
        };
        if aimaq_proto::date_from_proto(&formed).is_none() {
            return Err(format!("territory periods, {prefix}: {day:?} is no date"));
        }
        for row in rows.iter_mut().filter(|row| row.kato.starts_with(&prefix)) {
            row.valid_from = Some(formed);
            dated += 1;
        }
    }
    Ok(dated)
}
