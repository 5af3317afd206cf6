//! The budget demo's plan, made from the classifier alone: which villages get
//! which projects and credits, what each allocation holds, and which standards
//! statuses give the published sufficiency. Pure; `budget.rs` loads it.

use std::collections::{BTreeMap, BTreeSet};

use aimaq_proto::budget::v1::*;
use aimaq_proto::governance::v1::{TerritoryInput, TerritoryKind};
use aimaq_types::{Iin, Kato};

use super::mix;

pub(super) const EL_BESIGI: &str = "AUYL_EL_BESIGI";
pub(super) const AMANATY: &str = "AUYL_AMANATY";
pub(super) const DIPLOMA: &str = "DIPLOMA_TO_VILLAGE";
/// The year of the source statement, to which its "this year" figures are
/// pinned: its own dates make it 2025 (it reports 2019–2024 as the past).
pub(super) const STATEMENT_YEAR: i32 = 2025;
pub(super) const TIYN_PER_BILLION_TENGE: i64 = 100 * 1_000_000_000;
/// 'Auyl – El Besigi' 2019–2024: billions of tenge and projects per year; the
/// envelopes sum to 701 billion and the projects to 6,000.
pub(super) const EL_BESIGI_YEARS: [(i32, i64, usize); 6] = [
    (2019, 30, 500),
    (2020, 100, 900),
    (2021, 120, 1000),
    (2022, 140, 1100),
    (2023, 151, 1200),
    (2024, 160, 1300),
];
/// The statement year's envelope (not given by the statement: the demo's
/// figure) and its 1,000 projects in 500 villages.
pub(super) const EL_BESIGI_THIS_YEAR_BILLIONS: i64 = 150;
pub(super) const EL_BESIGI_THIS_YEAR_PROJECTS: usize = 1000;
pub(super) const EL_BESIGI_THIS_YEAR_VILLAGES: usize = 500;
pub(super) const AMANATY_BILLIONS: i64 = 50;
/// 'Auyl Amanaty' over the three years after the statement: "nearly 450
/// billion tenge", split evenly by the demo (the split is not published).
pub(super) const AMANATY_PLAN: [(i32, i64); 3] = [(2026, 150), (2027, 150), (2028, 150)];
pub(super) const AMANATY_CREDITS: usize = 2000;
/// Share of an envelope the demo's projects cost, in percent.
pub(super) const SPENT_PERCENT: i64 = 96;
/// Margin an allocation keeps over the cost of its projects, in percent.
pub(super) const MARGIN_PERCENT: i64 = 2;
/// The national sufficiency the statuses are chosen for: 64%.
pub(super) const SUFFICIENCY: (usize, usize) = (16, 25);
/// How many items go in one import call, and how many calls run at once.
pub(super) const BATCH: usize = 500;
pub(super) const CONCURRENT_CALLS: usize = 4;

/// Standards, and how often each applies to a village, in percent.
pub(super) const STANDARDS: [(&str, u64); 7] = [
    ("SCHOOL", 80),
    ("MEDICAL_POST", 95),
    ("DRINKING_WATER", 100),
    ("PAVED_ROAD", 100),
    ("INTERNET", 100),
    ("CULTURE_HOUSE", 60),
    ("SPORTS_GROUND", 70),
];

/// What infrastructure projects build, and the standard each meets.
pub(super) const WORKS: [(ProjectCategory, &str, &str); 7] = [
    (ProjectCategory::SocialInfrastructure, "School", "SCHOOL"),
    (
        ProjectCategory::SocialInfrastructure,
        "Medical post",
        "MEDICAL_POST",
    ),
    (
        ProjectCategory::EngineeringInfrastructure,
        "Water supply network",
        "DRINKING_WATER",
    ),
    (
        ProjectCategory::TransportInfrastructure,
        "Paved access road",
        "PAVED_ROAD",
    ),
    (
        ProjectCategory::EngineeringInfrastructure,
        "Broadband connection",
        "INTERNET",
    ),
    (
        ProjectCategory::SocialInfrastructure,
        "Culture house",
        "CULTURE_HOUSE",
    ),
    (
        ProjectCategory::SocialInfrastructure,
        "Sports ground",
        "SPORTS_GROUND",
    ),
];

/// A number below `n` drawn by `key`.
pub(super) fn below(key: u64, n: usize) -> usize {
    (mix(key) % n.max(1) as u64) as usize
}

#[derive(Clone)]
pub(super) struct Village {
    pub(super) kato: Kato,
    pub(super) district: Kato,
    pub(super) name: String,
    /// The year it was formed under its code, when the classifier's records
    /// say (the regions formed in 2022).
    pub(super) formed: Option<i32>,
}

/// The villages that existed under their codes in `year`.
pub(super) fn existing_in(villages: &[Village], year: i32) -> Vec<Village> {
    villages
        .iter()
        .filter(|v| v.formed.is_none_or(|formed| formed <= year))
        .cloned()
        .collect()
}

/// The villages of the classifier whose district and region are in it too, in
/// code order.
pub(super) fn villages(classifier: &[TerritoryInput]) -> Vec<Village> {
    let codes: BTreeSet<Kato> = classifier
        .iter()
        .filter_map(|t| Kato::parse(&t.kato).ok())
        .collect();
    let mut villages: Vec<Village> = classifier
        .iter()
        .filter(|t| t.kind == TerritoryKind::Village as i32 && t.rural)
        .filter_map(|t| {
            let kato = Kato::parse(&t.kato).ok()?;
            let district = kato.district();
            (district != kato.region()
                && codes.contains(&district)
                && codes.contains(&kato.region()))
            .then(|| Village {
                kato,
                district,
                name: t.name.as_ref().map(|n| n.ru.clone()).unwrap_or_default(),
                formed: t.valid_from.map(|date| date.year),
            })
        })
        .collect();
    villages.sort_by_key(|v| v.kato);
    villages
}

/// A project the demo imports.
pub(super) struct Planned {
    pub(super) program: &'static str,
    pub(super) year: i32,
    pub(super) village: Village,
    pub(super) category: ProjectCategory,
    pub(super) title: String,
    pub(super) borrower: String,
    pub(super) standard: Option<&'static str>,
    pub(super) cost: i64,
    pub(super) status: ProjectStatus,
    pub(super) disbursed: i64,
}

impl Planned {
    fn allocation(&self) -> String {
        format!(
            "allocations/{}/{}/{}",
            self.program, self.year, self.village.district
        )
    }

    pub(super) fn to_proto(&self) -> ImportedProject {
        ImportedProject {
            allocation: self.allocation(),
            settlement_kato: self.village.kato.to_string(),
            category: self.category as i32,
            title: self.title.clone(),
            borrower_id: self.borrower.clone(),
            cost_tiyn: self.cost,
            standard_codes: self.standard.iter().map(|s| (*s).to_owned()).collect(),
            status: self.status as i32,
            disbursed_tiyn: self.disbursed,
        }
    }
}

/// Weights of `count` projects, scaled so that their costs sum to `total` (in
/// whole thousands of tenge).
pub(super) fn costs(seed: u64, count: usize, total: i64) -> Vec<i64> {
    let weights: Vec<i64> = (0..count)
        .map(|i| 50 + (mix(seed ^ ((i as u64) << 8)) % 150) as i64)
        .collect();
    let sum: i64 = weights.iter().sum::<i64>().max(1);
    let thousand_tenge = 100 * 1000;
    weights
        .iter()
        .map(|w| {
            let share = i128::from(total) * i128::from(*w) / i128::from(sum);
            (share as i64 / thousand_tenge) * thousand_tenge
        })
        .collect()
}

/// A young entrepreneur's IIN, by `key`: born 1975–2003.
pub(super) fn borrower(key: u64) -> String {
    (0..100u64)
        .find_map(|attempt| {
            let h = mix(key.wrapping_add(attempt << 40));
            let year = 1975 + (h % 29) as i32;
            let (yy, century) = if year >= 2000 {
                (year - 2000, 5 + (h >> 8) % 2)
            } else {
                (year - 1900, 3 + (h >> 8) % 2)
            };
            let month = 1 + (h >> 16) % 12;
            let day = 1 + (h >> 24) % 28;
            let serial = (h >> 32) % 10_000;
            Iin::complete(&format!("{yy:02}{month:02}{day:02}{century}{serial:04}"))
        })
        .map(|iin| iin.to_string())
        .unwrap_or_default()
}

/// 'Auyl – El Besigi' of one year: `count` projects over the villages.
pub(super) fn el_besigi_projects(
    villages: &[Village],
    year: i32,
    billions: i64,
    count: usize,
    in_villages: usize,
) -> Vec<Planned> {
    let seed = mix(year as u64);
    let budget = billions * TIYN_PER_BILLION_TENGE * SPENT_PERCENT / 100;
    let costs = costs(seed, count, budget);
    // Distinct villages, in an order fixed by the year.
    let mut order: Vec<usize> = (0..villages.len()).collect();
    order.sort_by_key(|i| mix(seed ^ ((*i as u64) << 20)));
    let chosen: Vec<&Village> = order
        .into_iter()
        .take(in_villages)
        .map(|i| &villages[i])
        .collect();
    costs
        .into_iter()
        .enumerate()
        .map(|(i, cost)| {
            let key = seed ^ ((i as u64) << 24);
            let village = chosen[i % chosen.len().max(1)].clone();
            let (category, what, standard) = WORKS[below(key ^ 1, WORKS.len())];
            let roll = below(key ^ 2, 100);
            let (status, disbursed) = if year == STATEMENT_YEAR {
                match roll {
                    0..40 => (ProjectStatus::Planned, 0),
                    40..75 => (ProjectStatus::Approved, 0),
                    _ => (ProjectStatus::InProgress, cost / 2),
                }
            } else {
                match roll {
                    0..6 => (ProjectStatus::Cancelled, cost / 10),
                    6..12 if year == 2024 => (ProjectStatus::InProgress, cost * 3 / 5),
                    _ => (ProjectStatus::Completed, cost),
                }
            };
            Planned {
                program: EL_BESIGI,
                year,
                title: format!("{what} — {}", village.name),
                village,
                category,
                borrower: String::new(),
                standard: Some(standard),
                cost,
                status,
                disbursed,
            }
        })
        .collect()
}

/// 'Auyl Amanaty' of this year: micro-credits to villagers.
pub(super) fn amanaty_credits(villages: &[Village]) -> Vec<Planned> {
    let seed = mix(0xa3a7);
    let budget = AMANATY_BILLIONS * TIYN_PER_BILLION_TENGE * SPENT_PERCENT / 100;
    costs(seed, AMANATY_CREDITS, budget)
        .into_iter()
        .enumerate()
        .map(|(i, cost)| {
            let key = seed ^ ((i as u64) << 24);
            let village = villages[below(key, villages.len())].clone();
            let (status, disbursed) = match below(key ^ 2, 100) {
                0..30 => (ProjectStatus::Approved, 0),
                30..80 => (ProjectStatus::InProgress, cost),
                _ => (ProjectStatus::Completed, cost),
            };
            Planned {
                program: AMANATY,
                year: STATEMENT_YEAR,
                title: format!("Micro-credit for a rural business — {}", village.name),
                village,
                category: ProjectCategory::Entrepreneurship,
                borrower: borrower(key),
                standard: None,
                cost,
                status,
                disbursed,
            }
        })
        .collect()
}

/// Allocations the projects need: each district what its projects cost plus the
/// margin, each region the sum of its districts. Regions come first.
pub(super) fn allocations<'a>(
    projects: impl Iterator<Item = &'a Planned>,
) -> Vec<(&'static str, i32, Kato, i64)> {
    let mut districts: BTreeMap<(&'static str, i32, Kato), i64> = BTreeMap::new();
    for project in projects {
        *districts
            .entry((project.program, project.year, project.village.district))
            .or_default() += project.cost;
    }
    let mut regions: BTreeMap<(&'static str, i32, Kato), i64> = BTreeMap::new();
    let mut result = Vec::new();
    for ((program, year, district), cost) in districts {
        let amount = cost + cost * MARGIN_PERCENT / 100;
        *regions
            .entry((program, year, district.region()))
            .or_default() += amount;
        result.push((program, year, district, amount));
    }
    let mut all: Vec<_> = regions
        .into_iter()
        .map(|((program, year, region), amount)| (program, year, region, amount))
        .collect();
    all.extend(result);
    all
}

/// Every (village, standard) status: what applies by the table above, with the
/// pairs completed projects meet applicable and not yet met (their completion
/// meets them), and as many others met as make `SUFFICIENCY` in the end.
pub(super) fn statuses(villages: &[Village], projects: &[Planned]) -> Vec<StandardStatusInput> {
    let met_by_projects: BTreeSet<(Kato, &str)> = projects
        .iter()
        .filter(|p| p.status == ProjectStatus::Completed)
        .filter_map(|p| Some((p.village.kato, p.standard?)))
        .collect();
    let mut pairs: Vec<(Kato, &str, bool)> = Vec::new();
    for village in villages {
        for (index, (code, percent)) in STANDARDS.iter().enumerate() {
            let key = mix(u64::from(village_number(village.kato)) ^ ((index as u64) << 40));
            let applies = met_by_projects.contains(&(village.kato, *code)) || key % 100 < *percent;
            pairs.push((village.kato, code, applies));
        }
    }
    // Applicable pairs a multiple of the denominator, so that the share is exact.
    let (numerator, denominator) = SUFFICIENCY;
    let mut applicable = pairs.iter().filter(|p| p.2).count();
    for pair in pairs.iter_mut().rev() {
        if applicable.is_multiple_of(denominator) {
            break;
        }
        if pair.2 && !met_by_projects.contains(&(pair.0, pair.1)) {
            pair.2 = false;
            applicable -= 1;
        }
    }
    let mut to_meet = (applicable * numerator / denominator).saturating_sub(met_by_projects.len());
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|i| mix(*i as u64 ^ 0x5eed));
    let mut met = vec![false; pairs.len()];
    for i in order {
        let (kato, code, applies) = pairs[i];
        if to_meet > 0 && applies && !met_by_projects.contains(&(kato, code)) {
            met[i] = true;
            to_meet -= 1;
        }
    }
    pairs
        .into_iter()
        .zip(met)
        .map(|((kato, code, applicable), met)| StandardStatusInput {
            settlement_kato: kato.to_string(),
            standard_code: code.to_owned(),
            applicable,
            met,
        })
        .collect()
}

pub(super) fn village_number(kato: Kato) -> u32 {
    kato.to_string().parse().unwrap_or(0)
}
