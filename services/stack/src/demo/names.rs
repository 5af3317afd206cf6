//! Kazakh and English names of the regions and the cities of republican
//! significance (`data/territory-names.csv`, sources in
//! `data/territory-names.md`), given to the classifier's rows, which have
//! Russian names only.

use aimaq_proto::governance::v1::TerritoryInput;

const TERRITORY_NAMES: &str = include_str!("../../data/territory-names.csv");

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
