//! Loading the national classifier file (`kato-2022.csv`: `id;parent_id;code;name`,
//! the name in Russian; optional columns `name_kk` and `name_en` give the Kazakh
//! and English names where a file has them) into the registry through the service's own `ImportTerritories` RPC: used by
//! the stack's demo data, tests and benchmarks.

use std::collections::HashMap;
use std::path::Path;

use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::{
    ImportTerritoriesRequest, ImportTerritoriesResponse, TerritoryInput,
};
use aimaq_types::Kato;

use crate::api::convert::kind_to_proto;
use crate::domain::classifier::{is_rural, kind_of};
use crate::domain::territory::TerritoryKind;

/// Rows sent in one message of the import stream.
pub const BATCH: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("{path}: {source}")]
    Read { path: String, source: csv::Error },
    #[error("{path}, row {row}: {reason}")]
    Row {
        path: String,
        row: u64,
        reason: String,
    },
    #[error("import: {0}")]
    Import(#[from] tonic::Status),
}

/// The territories of a classifier file, each with the kind and urban/rural flag
/// its name and its parent give, in file order.
pub fn read(path: &Path) -> Result<Vec<TerritoryInput>, ClassifierError> {
    let shown = path.display().to_string();
    let read_error = |source| ClassifierError::Read {
        path: shown.clone(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .map_err(read_error)?;
    let headers = reader.headers().map_err(read_error)?.clone();
    let column = |name: &str| headers.iter().position(|header| header.trim() == name);
    let (kk_column, en_column) = (column("name_kk"), column("name_en"));
    let mut kinds: HashMap<String, TerritoryKind> = HashMap::new();
    let mut territories = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(read_error)?;
        let row = index as u64 + 2;
        let field = |i: usize| record.get(i).unwrap_or_default();
        let optional = |i: Option<usize>| i.map(field).unwrap_or_default().trim().to_owned();
        let (id, parent_id, code, name) = (field(0), field(1), field(2), field(3));
        let kato = Kato::parse(code).map_err(|e| ClassifierError::Row {
            path: shown.clone(),
            row,
            reason: e.to_string(),
        })?;
        let parent = kinds.get(parent_id).copied();
        let level = kato.level();
        let kind = kind_of(name, level, parent);
        kinds.insert(id.to_owned(), kind);
        territories.push(TerritoryInput {
            kato: kato.to_string(),
            kind: kind_to_proto(kind) as i32,
            name: Some(LocalizedText {
                kk: optional(kk_column),
                ru: name.to_owned(),
                en: optional(en_column),
            }),
            rural: is_rural(kind, level, parent),
            population: 0,
            growth_points: None,
            valid_from: None,
            valid_to: None,
        });
    }
    Ok(territories)
}

/// Streams `territories` to the service in batches, as one import `request_id`.
pub async fn import(
    client: &mut GovernanceServiceClient<tonic::transport::Channel>,
    token: &str,
    request_id: &str,
    territories: Vec<TerritoryInput>,
) -> Result<ImportTerritoriesResponse, ClassifierError> {
    let request_id = request_id.to_owned();
    let batches: Vec<ImportTerritoriesRequest> = territories
        .chunks(BATCH)
        .enumerate()
        .map(|(batch, rows)| ImportTerritoriesRequest {
            request_id: request_id.clone(),
            batch: i32::try_from(batch).unwrap_or(i32::MAX),
            territories: rows.to_vec(),
            validate_only: false,
        })
        .collect();
    let mut request = tonic::Request::new(tokio_stream::iter(batches));
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| tonic::Status::invalid_argument("the token is not ASCII"))?;
    request.metadata_mut().insert("authorization", bearer);
    Ok(client.import_territories(request).await?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::convert::draft_from_proto;
    use crate::domain::territory::check_draft;

    /// Kazakh and English names come from optional columns when a file has them.
    #[test]
    fn names_in_other_languages_come_from_optional_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kato.csv");
        std::fs::write(
            &path,
            "id;parent_id;code;name;name_kk;name_en\n\
             1;0;610000000;Туркестанская область;Түркістан облысы;Turkistan Region\n\
             2;1;613600000;Байдибекский район;;\n",
        )
        .unwrap();
        let rows = read(&path).unwrap();
        let names: Vec<(String, String, String)> = rows
            .iter()
            .map(|row| {
                let name = row.name.clone().unwrap();
                (name.kk, name.ru, name.en)
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "Түркістан облысы".to_owned(),
                    "Туркестанская область".to_owned(),
                    "Turkistan Region".to_owned()
                ),
                (
                    String::new(),
                    "Байдибекский район".to_owned(),
                    String::new()
                )
            ]
        );
    }

    /// Every row of the real classifier gets a kind that fits its level.
    #[test]
    fn the_national_classifier_reads_cleanly() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kato-2022.csv");
        let territories = read(&path).unwrap();
        assert_eq!(territories.len(), 16_264);
        let mut kinds: HashMap<TerritoryKind, usize> = HashMap::new();
        for row in &territories {
            let draft = draft_from_proto(Some(row)).unwrap();
            check_draft(&draft, "row").unwrap_or_else(|e| panic!("{}: {e}", row.kato));
            *kinds.entry(draft.kind).or_default() += 1;
        }
        assert_eq!(kinds[&TerritoryKind::Region], 17);
        assert_eq!(kinds[&TerritoryKind::CityOfRepublicanSignificance], 3);
        assert_eq!(kinds[&TerritoryKind::CityAdministration], 38);
        assert!(kinds[&TerritoryKind::RuralDistrict] > 2000);
        assert!(kinds[&TerritoryKind::Village] > 10_000);
    }
}
