//! The regional standards: what a settlement should have access to, and how
//! sufficiency (met / applicable) is counted.
//!
//! Whether a standard applies to a settlement is recorded per settlement
//! (`RecordStandardStatus`, or a completed project that meets it): only recorded
//! statuses are counted. Each standard says in words where it is expected, by
//! the settlement's size, as guidance for whoever records it.

use std::collections::BTreeMap;

use aimaq_types::Kato;

/// A settlement's status against one standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardStatus {
    pub settlement: Kato,
    pub standard_code: String,
    pub applicable: bool,
    pub met: bool,
    /// The project whose completion met it.
    pub project_id: Option<i64>,
    pub version: i64,
    pub updated_at_micros: i64,
}

/// A settlement's standard as it becomes: `applicable` and `met` (by `project`
/// when a project's completion met it, keeping the project that met it before
/// while it stays met), one version on from `current`.
pub fn next_status(
    current: Option<&StandardStatus>,
    settlement: Kato,
    code: &str,
    (applicable, met): (bool, bool),
    project: Option<i64>,
    now: i64,
) -> StandardStatus {
    StandardStatus {
        settlement,
        standard_code: code.to_owned(),
        applicable,
        met,
        project_id: project.or(current.and_then(|c| c.project_id).filter(|_| met)),
        version: current.map_or(0, |c| c.version) + 1,
        updated_at_micros: now,
    }
}

/// What changes in the kept counts when a settlement's standard goes from
/// `before` to `after`, per scope of [`counted_scopes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// (scope, standard) → (applicable, met) added.
    pub standards: BTreeMap<(String, String), (i64, i64)>,
    /// scope → settlements with a status added.
    pub settlements: BTreeMap<String, i64>,
}

/// The scopes whose counts are kept in the write transaction: the republic
/// (empty), the settlement's region and its district. Counting them on read
/// would mean reading every status of a region (tens of thousands) or of the
/// country (hundreds of thousands) on every view; a rural district or a
/// settlement is a short index range, read directly.
pub fn counted_scopes(settlement: Kato) -> [String; 3] {
    let code = settlement.to_string();
    [
        String::new(),
        format!("{:0<9}", &code[..2]),
        format!("{:0<9}", &code[..4]),
    ]
}

/// The scope kept for a subtree prefix, when one is: none (the republic), a
/// region's two digits or a district's four.
pub fn counted_scope(prefix: Option<&str>) -> Option<String> {
    match prefix {
        None => Some(String::new()),
        Some(prefix) if prefix.len() == 2 || prefix.len() == 4 => Some(format!("{prefix:0<9}")),
        Some(_) => None,
    }
}

fn counted(status: Option<&StandardStatus>) -> (i64, i64) {
    status.map_or((0, 0), |s| {
        (i64::from(s.applicable), i64::from(s.applicable && s.met))
    })
}

impl Tally {
    /// Adds a status going from `before` (none: new) to `after`.
    pub fn status(&mut self, before: Option<&StandardStatus>, after: &StandardStatus) {
        let (old, new) = (counted(before), counted(Some(after)));
        if old == new {
            return;
        }
        for scope in counted_scopes(after.settlement) {
            let entry = self
                .standards
                .entry((scope, after.standard_code.clone()))
                .or_default();
            entry.0 += new.0 - old.0;
            entry.1 += new.1 - old.1;
        }
    }

    /// Adds a settlement that had no status before.
    pub fn new_settlement(&mut self, settlement: Kato) {
        for scope in counted_scopes(settlement) {
            *self.settlements.entry(scope).or_default() += 1;
        }
    }
}

pub struct Standard {
    pub code: &'static str,
    pub title_kk: &'static str,
    pub title_ru: &'static str,
    pub title_en: &'static str,
    /// Where it is expected.
    pub applicability: &'static str,
}

pub const CATALOGUE: [Standard; 7] = [
    Standard {
        code: "SCHOOL",
        title_kk: "Мектеп",
        title_ru: "Школа",
        title_en: "School",
        applicability: "settlements of 200 residents or more",
    },
    Standard {
        code: "MEDICAL_POST",
        title_kk: "Медициналық пункт немесе амбулатория",
        title_ru: "Медицинский пункт или врачебная амбулатория",
        title_en: "Medical post or outpatient clinic",
        applicability: "settlements of 50 residents or more",
    },
    Standard {
        code: "DRINKING_WATER",
        title_kk: "Ауыз сумен жабдықтау",
        title_ru: "Питьевое водоснабжение",
        title_en: "Drinking water supply",
        applicability: "every settlement",
    },
    Standard {
        code: "PAVED_ROAD",
        title_kk: "Асфальтталған жолмен қатынас",
        title_ru: "Подъезд по дороге с твёрдым покрытием",
        title_en: "Paved road access",
        applicability: "every settlement",
    },
    Standard {
        code: "INTERNET",
        title_kk: "Интернет",
        title_ru: "Интернет",
        title_en: "Internet",
        applicability: "every settlement",
    },
    Standard {
        code: "CULTURE_HOUSE",
        title_kk: "Мәдениет үйі",
        title_ru: "Дом культуры",
        title_en: "Culture house",
        applicability: "settlements of 500 residents or more",
    },
    Standard {
        code: "SPORTS_GROUND",
        title_kk: "Спорт алаңы",
        title_ru: "Спортивная площадка",
        title_en: "Sports ground",
        applicability: "settlements of 300 residents or more",
    },
];

pub fn find(code: &str) -> Option<&'static Standard> {
    CATALOGUE.iter().find(|standard| standard.code == code)
}

/// Sufficiency in basis points (two decimals of a percentage), rounded half up;
/// 0 when nothing applies.
pub fn sufficiency_bp(met: i64, applicable: i64) -> i32 {
    if applicable <= 0 {
        return 0;
    }
    let (met, applicable) = (i128::from(met), i128::from(applicable));
    let rounded = (met * 20_000 + applicable) / (2 * applicable);
    i32::try_from(rounded).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_catalogue_covers_what_the_programme_measures() {
        for code in [
            "SCHOOL",
            "MEDICAL_POST",
            "DRINKING_WATER",
            "PAVED_ROAD",
            "INTERNET",
            "CULTURE_HOUSE",
            "SPORTS_GROUND",
        ] {
            assert!(find(code).is_some(), "{code}");
        }
        assert!(find("school").is_none());
    }

    #[test]
    fn sufficiency_rounds_half_up_to_two_decimals() {
        assert_eq!(sufficiency_bp(64, 100), 6400);
        assert_eq!(sufficiency_bp(2, 3), 6667);
        assert_eq!(sufficiency_bp(1, 3), 3333);
        assert_eq!(sufficiency_bp(1, 8), 1250);
        assert_eq!(sufficiency_bp(1, 20_000), 1);
        assert_eq!(sufficiency_bp(1, 20_001), 0);
        assert_eq!(sufficiency_bp(0, 0), 0);
        assert_eq!(sufficiency_bp(7, 7), 10_000);
    }

    fn status(code: &str, applicable: bool, met: bool) -> StandardStatus {
        next_status(
            None,
            Kato::parse("613633100").unwrap(),
            code,
            (applicable, met),
            None,
            0,
        )
    }

    #[test]
    fn a_tally_adds_the_difference_at_every_kept_scope() {
        let mut tally = Tally::default();
        let unmet = status("SCHOOL", true, false);
        tally.status(None, &unmet);
        tally.new_settlement(unmet.settlement);
        let met = status("SCHOOL", true, true);
        tally.status(Some(&unmet), &met);
        // Not applicable: neither counts.
        tally.status(None, &status("INTERNET", false, true));
        let scopes = ["", "610000000", "613600000"];
        for scope in scopes {
            assert_eq!(tally.standards[&(scope.into(), "SCHOOL".into())], (1, 1));
            assert_eq!(tally.settlements[scope], 1);
        }
        assert_eq!(tally.standards.len(), 3);
        tally.status(Some(&met), &status("SCHOOL", false, false));
        assert_eq!(tally.standards[&("".into(), "SCHOOL".into())], (0, 0));
    }

    #[test]
    fn kept_scopes_are_the_republic_regions_and_districts() {
        assert_eq!(counted_scope(None).as_deref(), Some(""));
        assert_eq!(counted_scope(Some("61")).as_deref(), Some("610000000"));
        assert_eq!(counted_scope(Some("6136")).as_deref(), Some("613600000"));
        assert_eq!(counted_scope(Some("613633")), None);
        assert_eq!(counted_scope(Some("613633100")), None);
    }
}
