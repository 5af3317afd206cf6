//! Proto ↔ domain conversions of the governance API.

use aimaq_error::{Error, Violations};
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1 as pb;
use aimaq_types::Kato;

use crate::domain::territory::{
    GrowthPoints, Names, Territory, TerritoryDraft, TerritoryKind, Validity,
};

/// Parses a KATO code field, naming it in the error.
pub use aimaq_error::fields::kato;

pub fn kind_from_proto(kind: pb::TerritoryKind) -> Option<TerritoryKind> {
    use pb::TerritoryKind as P;
    Some(match kind {
        P::Unspecified => return None,
        P::Region => TerritoryKind::Region,
        P::CityOfRepublicanSignificance => TerritoryKind::CityOfRepublicanSignificance,
        P::CityAdministration => TerritoryKind::CityAdministration,
        P::District => TerritoryKind::District,
        P::CityOfRegionalSignificance => TerritoryKind::CityOfRegionalSignificance,
        P::CityOfDistrictSignificance => TerritoryKind::CityOfDistrictSignificance,
        P::RuralDistrict => TerritoryKind::RuralDistrict,
        P::Village => TerritoryKind::Village,
        P::Settlement => TerritoryKind::Settlement,
        P::Other => TerritoryKind::Other,
    })
}

pub fn kind_to_proto(kind: TerritoryKind) -> pb::TerritoryKind {
    use pb::TerritoryKind as P;
    match kind {
        TerritoryKind::Region => P::Region,
        TerritoryKind::CityOfRepublicanSignificance => P::CityOfRepublicanSignificance,
        TerritoryKind::CityAdministration => P::CityAdministration,
        TerritoryKind::District => P::District,
        TerritoryKind::CityOfRegionalSignificance => P::CityOfRegionalSignificance,
        TerritoryKind::CityOfDistrictSignificance => P::CityOfDistrictSignificance,
        TerritoryKind::RuralDistrict => P::RuralDistrict,
        TerritoryKind::Village => P::Village,
        TerritoryKind::Settlement => P::Settlement,
        TerritoryKind::Other => P::Other,
    }
}

/// The draft in a request's `territory` field, with every malformed field named.
pub fn draft_from_proto(input: Option<&pb::TerritoryInput>) -> Result<TerritoryDraft, Error> {
    let Some(input) = input else {
        return Err(Error::invalid("territory", "required"));
    };
    let mut violations = Violations::new();
    let kato = violations.take("territory.kato", Kato::parse(&input.kato));
    let kind = pb::TerritoryKind::try_from(input.kind)
        .ok()
        .and_then(kind_from_proto);
    violations.check(
        kind.is_some(),
        "territory.kind",
        "required: one of the TerritoryKind values",
    );
    let date =
        |violations: &mut Violations, field: &str, date: Option<&aimaq_proto::common::v1::Date>| {
            let date = date?;
            let parsed = aimaq_proto::date_from_proto(date);
            violations.check(parsed.is_some(), field, "not a calendar date");
            parsed
        };
    let validity = Validity {
        from: date(
            &mut violations,
            "territory.valid_from",
            input.valid_from.as_ref(),
        ),
        to: date(
            &mut violations,
            "territory.valid_to",
            input.valid_to.as_ref(),
        ),
    };
    let (kato, kind) = violations.then(|| Some((kato?, kind?)))?;
    let name = input.name.clone().unwrap_or_default();
    let growth = input.growth_points.clone().unwrap_or_default();
    Ok(TerritoryDraft {
        kato,
        kind,
        names: Names {
            kk: name.kk,
            ru: name.ru,
            en: name.en,
        },
        rural: input.rural,
        population: input.population,
        growth_points: GrowthPoints {
            agglomeration: growth.agglomeration,
            single_industry_town: growth.single_industry_town,
            support_village: growth.support_village,
            special_economic_zone: growth.special_economic_zone,
        },
        validity,
    })
}

pub fn territory_to_proto(territory: &Territory) -> pb::Territory {
    let draft = &territory.draft;
    pb::Territory {
        kato: draft.kato.to_string(),
        parent_kato: territory.parent.map(|k| k.to_string()).unwrap_or_default(),
        level: i32::from(draft.kato.level()),
        kind: kind_to_proto(draft.kind) as i32,
        name: Some(LocalizedText {
            kk: draft.names.kk.clone(),
            ru: draft.names.ru.clone(),
            en: draft.names.en.clone(),
        }),
        valid_from: draft.validity.from.map(aimaq_proto::date_to_proto),
        valid_to: draft.validity.to.map(aimaq_proto::date_to_proto),
        name_languages: draft
            .names
            .languages()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        rural: draft.rural,
        population: draft.population,
        growth_points: Some(pb::GrowthPoints {
            agglomeration: draft.growth_points.agglomeration.clone(),
            single_industry_town: draft.growth_points.single_industry_town,
            support_village: draft.growth_points.support_village,
            special_economic_zone: draft.growth_points.special_economic_zone,
        }),
        version: territory.version,
        update_time: Some(aimaq_proto::timestamp_from_micros(
            territory.updated_at_micros,
        )),
    }
}
