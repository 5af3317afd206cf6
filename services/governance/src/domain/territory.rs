//! Territories of the classifier and the rules a registry entry must satisfy.

use aimaq_error::{Error, Violations};
use aimaq_types::Kato;
use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerritoryKind {
    Region,
    CityOfRepublicanSignificance,
    CityAdministration,
    District,
    CityOfRegionalSignificance,
    CityOfDistrictSignificance,
    RuralDistrict,
    Village,
    Settlement,
    Other,
}

impl TerritoryKind {
    pub const ALL: [TerritoryKind; 10] = [
        TerritoryKind::Region,
        TerritoryKind::CityOfRepublicanSignificance,
        TerritoryKind::CityAdministration,
        TerritoryKind::District,
        TerritoryKind::CityOfRegionalSignificance,
        TerritoryKind::CityOfDistrictSignificance,
        TerritoryKind::RuralDistrict,
        TerritoryKind::Village,
        TerritoryKind::Settlement,
        TerritoryKind::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TerritoryKind::Region => "region",
            TerritoryKind::CityOfRepublicanSignificance => "city_of_republican_significance",
            TerritoryKind::CityAdministration => "city_administration",
            TerritoryKind::District => "district",
            TerritoryKind::CityOfRegionalSignificance => "city_of_regional_significance",
            TerritoryKind::CityOfDistrictSignificance => "city_of_district_significance",
            TerritoryKind::RuralDistrict => "rural_district",
            TerritoryKind::Village => "village",
            TerritoryKind::Settlement => "settlement",
            TerritoryKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<TerritoryKind> {
        TerritoryKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// Whether a unit of this kind may sit at a code's structural level. The
    /// classifier places cities and city districts at several levels, so those
    /// kinds fit more than one; regions and republican cities only the first,
    /// rural districts only the third.
    pub fn fits_level(self, level: u8) -> bool {
        use TerritoryKind::*;
        match level {
            1 => matches!(self, Region | CityOfRepublicanSignificance),
            2 => matches!(
                self,
                District | CityAdministration | CityOfRegionalSignificance | Other
            ),
            3 => matches!(
                self,
                RuralDistrict
                    | District
                    | CityOfRegionalSignificance
                    | CityOfDistrictSignificance
                    | Village
                    | Settlement
                    | Other
            ),
            4 => matches!(
                self,
                Village | Settlement | CityOfDistrictSignificance | District | Other
            ),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub kk: String,
    pub ru: String,
    pub en: String,
}

impl Names {
    /// The languages the name is given in, as tags, in the order kk, ru, en.
    pub fn languages(&self) -> Vec<&'static str> {
        [("kk", &self.kk), ("ru", &self.ru), ("en", &self.en)]
            .into_iter()
            .filter(|(_, name)| !name.trim().is_empty())
            .map(|(tag, _)| tag)
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrowthPoints {
    /// Empty when the territory belongs to no agglomeration.
    pub agglomeration: String,
    pub single_industry_town: bool,
    pub support_village: bool,
    pub special_economic_zone: bool,
}

/// When a territory existed under its code: from the day it was formed
/// (`None`: before the classifier's records) to the day it was abolished
/// (`None`: it exists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Validity {
    /// Whether the territory existed on some day of `year`.
    pub fn covers_year(&self, year: i32) -> bool {
        self.from.is_none_or(|from| from.year() <= year)
            && self.to.is_none_or(|to| to.year() >= year)
    }

    /// The first year from `from` to `to` the territory did not exist in, if
    /// any: a report over years it was not there would put another
    /// territory's money under its code.
    pub fn first_year_missing(&self, (from, to): (i32, i32)) -> Option<i32> {
        (from..=to).find(|year| !self.covers_year(*year))
    }

    /// The years from `from` to `to` the territory existed in, if any: one
    /// range, since it existed over one period.
    pub fn years_within(&self, (from, to): (i32, i32)) -> Option<(i32, i32)> {
        let first = self.from.map_or(from, |date| from.max(date.year()));
        let last = self.to.map_or(to, |date| to.min(date.year()));
        (first <= last).then_some((first, last))
    }
}

/// What a caller may set on a territory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerritoryDraft {
    pub kato: Kato,
    pub kind: TerritoryKind,
    pub names: Names,
    pub rural: bool,
    pub population: i64,
    pub growth_points: GrowthPoints,
    pub validity: Validity,
}

/// A territory as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Territory {
    pub draft: TerritoryDraft,
    pub parent: Option<Kato>,
    pub version: i64,
    pub updated_at_micros: i64,
}

pub const MAX_NAME: usize = 200;

/// Checks a draft's own fields (the API layer has already parsed the code and
/// kind); `field` is the proto path of the territory in the request.
pub fn check_draft(draft: &TerritoryDraft, field: &str) -> Result<(), Error> {
    let mut violations = Violations::new();
    let level = draft.kato.level();
    violations.check(
        draft.kind.fits_level(level),
        format!("{field}.kind"),
        format!(
            "a {} cannot have a level-{level} code such as {}",
            draft.kind.as_str(),
            draft.kato
        ),
    );
    violations.check(
        !draft.names.ru.trim().is_empty(),
        format!("{field}.name.ru"),
        "the Russian name is required",
    );
    for (language, name) in [
        ("kk", &draft.names.kk),
        ("ru", &draft.names.ru),
        ("en", &draft.names.en),
    ] {
        violations.check(
            name.chars().count() <= MAX_NAME,
            format!("{field}.name.{language}"),
            format!("at most {MAX_NAME} characters"),
        );
    }
    if let (Some(from), Some(to)) = (draft.validity.from, draft.validity.to) {
        violations.check(
            from <= to,
            format!("{field}.valid_to"),
            "must not be before valid_from",
        );
    }
    if let Err(why) = aimaq_types::bounds::people(draft.population) {
        violations.add(format!("{field}.population"), why);
    }
    violations.check(
        draft.growth_points.agglomeration.chars().count() <= MAX_NAME,
        format!("{field}.growth_points.agglomeration"),
        format!("at most {MAX_NAME} characters"),
    );
    violations.into_result()
}

/// The parent of a new code given the codes that exist, or the refusal naming the
/// candidates that were looked for.
pub fn resolve_parent(kato: Kato, exists: impl Fn(Kato) -> bool) -> Result<Option<Kato>, Error> {
    if kato.level() == 1 {
        return Ok(None);
    }
    kato.parent_in(&exists).map(Some).ok_or_else(|| {
        let candidates: Vec<String> = kato.parent_candidates().map(|k| k.to_string()).collect();
        Error::precondition(
            "PARENT_EXISTS",
            format!("territories/{kato}"),
            format!(
                "no parent territory of {kato} is registered (looked for {})",
                candidates.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(code: &str, kind: TerritoryKind) -> TerritoryDraft {
        TerritoryDraft {
            kato: Kato::parse(code).unwrap(),
            kind,
            names: Names {
                ru: "с.Агыбет".into(),
                ..Names::default()
            },
            rural: true,
            population: 1200,
            growth_points: GrowthPoints::default(),
            validity: Validity::default(),
        }
    }

    #[test]
    fn kinds_fit_their_levels() {
        assert!(check_draft(&draft("610000000", TerritoryKind::Region), "t").is_ok());
        assert!(check_draft(&draft("613633000", TerritoryKind::RuralDistrict), "t").is_ok());
        assert!(check_draft(&draft("613633100", TerritoryKind::Village), "t").is_ok());
        let Err(Error::InvalidArgument(violations)) =
            check_draft(&draft("613633100", TerritoryKind::Region), "territory")
        else {
            panic!("a village code cannot be a region");
        };
        assert_eq!(violations[0].field, "territory.kind");
        assert!(!TerritoryKind::RuralDistrict.fits_level(2));
    }

    #[test]
    fn every_violation_is_reported() {
        let mut bad = draft("613633100", TerritoryKind::Village);
        bad.names.ru = " ".into();
        bad.population = -1;
        bad.names.en = "x".repeat(MAX_NAME + 1);
        let Err(Error::InvalidArgument(violations)) = check_draft(&bad, "territory") else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "territory.name.ru",
                "territory.name.en",
                "territory.population"
            ]
        );
    }

    #[test]
    fn parent_is_the_nearest_registered_candidate() {
        let registry = ["610000000", "613600000"].map(|c| Kato::parse(c).unwrap());
        let exists = |k: Kato| registry.contains(&k);
        let village = Kato::parse("613633100").unwrap();
        assert_eq!(resolve_parent(village, exists).unwrap(), Some(registry[1]));
        assert_eq!(resolve_parent(registry[0], exists).unwrap(), None);
        let orphan = Kato::parse("623633100").unwrap();
        let Err(Error::FailedPrecondition { message, .. }) = resolve_parent(orphan, exists) else {
            panic!("an orphan has no parent");
        };
        assert!(message.contains("623633000"));
    }

    #[test]
    fn a_territory_exists_in_the_years_of_its_validity() {
        let abai = Validity {
            from: NaiveDate::from_ymd_opt(2022, 6, 8),
            to: None,
        };
        assert!(!abai.covers_year(2021));
        assert!(abai.covers_year(2022) && abai.covers_year(2030));
        let old = Validity {
            from: None,
            to: NaiveDate::from_ymd_opt(2022, 6, 7),
        };
        assert!(old.covers_year(2019) && old.covers_year(2022) && !old.covers_year(2023));
        assert!(Validity::default().covers_year(1991));
        assert_eq!(abai.first_year_missing((2019, 2024)), Some(2019));
        assert_eq!(abai.first_year_missing((2022, 2024)), None);
        assert_eq!(old.first_year_missing((2020, 2025)), Some(2023));
        assert_eq!(abai.years_within((2019, 2025)), Some((2022, 2025)));
        assert_eq!(old.years_within((2019, 2025)), Some((2019, 2022)));
        assert_eq!(old.years_within((2023, 2025)), None);
        assert_eq!(abai.years_within((2019, 2021)), None);
        assert_eq!(
            Validity::default().years_within((2019, 2025)),
            Some((2019, 2025))
        );
        for (from, to) in [(2015, 2030), (2022, 2022), (2020, 2023)] {
            if let Some(years) = abai.years_within((from, to)) {
                assert_eq!(abai.first_year_missing(years), None, "{from}-{to}");
            }
        }
    }

    #[test]
    fn a_name_says_which_languages_it_has() {
        let names = Names {
            ru: "Туркестанская область".into(),
            en: "Turkistan Region".into(),
            ..Names::default()
        };
        assert_eq!(names.languages(), ["ru", "en"]);
        assert!(Names::default().languages().is_empty());
    }

    #[test]
    fn kinds_round_trip_their_stored_names() {
        for kind in TerritoryKind::ALL {
            assert_eq!(TerritoryKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TerritoryKind::parse("galaxy"), None);
    }
}
