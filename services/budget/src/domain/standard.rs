//! The regional standards: what a settlement should have access to, and how
//! sufficiency (met / applicable) is counted.
//!
//! Whether a standard applies to a settlement is recorded per settlement
//! (`RecordStandardStatus`, or a completed project that meets it): only recorded
//! statuses are counted. Each standard says in words where it is expected, by
//! the settlement's size, as guidance for whoever records it.

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
}
