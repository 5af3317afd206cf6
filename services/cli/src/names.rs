//! Territory names beside their KATO codes in tables and CSV: every
//! `…Kato` field of the rows gets a `…Name` column after it, in the caller's
//! language, each distinct code asked of governance once.

use std::collections::{BTreeSet, HashMap};

use aimaq_proto::governance::v1::GetTerritoryRequest;
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_types::Language;
use futures::StreamExt;
use serde_json::{Map, Value};

use crate::output::{cell, to_json};
use crate::{CliError, Connection};

/// Codes looked up at once.
const CONCURRENT: usize = 8;
/// Beyond this many distinct codes, rows are shown without names.
const MAX_CODES: usize = 2000;

/// Adds the names of the territories the rows name.
pub async fn annotate(
    connection: &Connection,
    rows: &mut [Value],
    language: Language,
) -> Result<(), CliError> {
    let codes: BTreeSet<String> = rows
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|row| row.iter())
        .filter(|(key, _)| key.ends_with("Kato"))
        .filter_map(|(_, value)| value.as_str().filter(|v| !v.is_empty()).map(str::to_string))
        .collect();
    if codes.is_empty() || codes.len() > MAX_CODES {
        return Ok(());
    }
    let client = GovernanceServiceClient::new(connection.channel.clone());
    let lookups = codes.into_iter().map(|kato| {
        let mut client = client.clone();
        let request = connection.request(GetTerritoryRequest {
            kato: kato.clone(),
            include_ancestors: false,
        });
        async move {
            let name = match request {
                Ok(request) => match client.get_territory(request).await {
                    Ok(answer) => answer.into_inner().territory.map(|t| to_json(&t)),
                    Err(_) => None,
                },
                Err(_) => None,
            };
            (kato, name)
        }
    });
    let mut names = HashMap::new();
    let mut answers = futures::stream::iter(lookups).buffer_unordered(CONCURRENT);
    while let Some((kato, territory)) = answers.next().await {
        if let Some(territory) = territory.transpose()? {
            names.insert(kato, cell("name", &territory["name"], language));
        }
    }
    for row in rows.iter_mut() {
        if let Value::Object(fields) = row {
            *fields = with_names(std::mem::take(fields), &names);
        }
    }
    Ok(())
}

/// `fields` with a `…Name` after each `…Kato` whose name is known.
fn with_names(fields: Map<String, Value>, names: &HashMap<String, String>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in fields {
        let name = key
            .strip_suffix("Kato")
            .zip(value.as_str().and_then(|code| names.get(code)))
            .map(|(stem, name)| (format!("{stem}Name"), Value::String(name.clone())));
        out.insert(key, value);
        if let Some((key, name)) = name {
            out.insert(key, name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_their_codes() {
        let names = HashMap::from([("613633100".to_string(), "Агыбет".to_string())]);
        let row = json!({"name": "p1", "settlementKato": "613633100", "costTiyn": "1"});
        let Value::Object(fields) = row else {
            unreachable!()
        };
        let keys: Vec<String> = with_names(fields, &names).keys().cloned().collect();
        assert_eq!(
            keys,
            ["name", "settlementKato", "settlementName", "costTiyn"]
        );
    }
}
