//! Bulk registration of territories (the national classifier): which rows are
//! created, updated, left alone or rejected, and which registered codes get a new
//! parent. A pure plan, applied by the store in one transaction.

use std::collections::{HashMap, HashSet};

use aimaq_types::Kato;

use super::territory::{Territory, TerritoryDraft, resolve_parent};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    pub create: Vec<Territory>,
    /// New content or a new parent for registered codes, with their next version.
    pub update: Vec<Territory>,
    pub unchanged: usize,
    /// Codes refused, with the reason.
    pub rejected: Vec<(Kato, String)>,
}

/// Plans an import of `drafts` over the `existing` registry. A row whose parent
/// is neither registered nor imported is rejected, and so, in turn, are rows that
/// would have hung below it. `now` stamps what changes.
pub fn plan_import(
    existing: &HashMap<Kato, Territory>,
    drafts: Vec<TerritoryDraft>,
    now_micros: i64,
) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let (accepted, codes) = placed_drafts(existing, drafts, &mut plan.rejected);
    let parent_of = |kato: Kato| kato.parent_in(|k| codes.contains(&k));
    let mut imported = HashSet::new();
    for draft in accepted {
        imported.insert(draft.kato);
        let parent = parent_of(draft.kato);
        match existing.get(&draft.kato) {
            Some(current) if current.draft == draft && current.parent == parent => {
                plan.unchanged += 1;
            }
            Some(current) => plan.update.push(Territory {
                draft,
                parent,
                version: current.version + 1,
                updated_at_micros: now_micros,
            }),
            None => plan.create.push(Territory {
                draft,
                parent,
                version: 1,
                updated_at_micros: now_micros,
            }),
        }
    }
    // Registered codes the import did not name may now sit below a new code.
    let mut adopted: Vec<Territory> = existing
        .values()
        .filter(|current| !imported.contains(&current.draft.kato))
        .filter_map(|current| {
            let parent = parent_of(current.draft.kato);
            (parent != current.parent).then(|| Territory {
                draft: current.draft.clone(),
                parent,
                version: current.version + 1,
                updated_at_micros: now_micros,
            })
        })
        .collect();
    adopted.sort_by_key(|territory| territory.draft.kato);
    plan.update.extend(adopted);
    plan
}

/// The drafts that can be placed: each code once, and below a parent that is
/// registered or imported; with every code the registry will hold. The others
/// go to `rejected`, with the reason.
fn placed_drafts(
    existing: &HashMap<Kato, Territory>,
    drafts: Vec<TerritoryDraft>,
    rejected: &mut Vec<(Kato, String)>,
) -> (Vec<TerritoryDraft>, HashSet<Kato>) {
    let mut seen = HashSet::new();
    let mut accepted = Vec::with_capacity(drafts.len());
    for draft in drafts {
        if seen.insert(draft.kato) {
            accepted.push(draft);
        } else {
            rejected.push((
                draft.kato,
                "the code appears more than once in the import".into(),
            ));
        }
    }
    // Drop orphans until none is left: each one dropped may orphan others.
    let mut codes: HashSet<Kato> = existing.keys().copied().chain(seen).collect();
    loop {
        let before = accepted.len();
        accepted.retain(
            |draft| match resolve_parent(draft.kato, |k| codes.contains(&k)) {
                Ok(_) => true,
                Err(error) => {
                    rejected.push((draft.kato, error.to_string()));
                    if !existing.contains_key(&draft.kato) {
                        codes.remove(&draft.kato);
                    }
                    false
                }
            },
        );
        if accepted.len() == before {
            return (accepted, codes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::territory::{GrowthPoints, Names, TerritoryKind, Validity};

    fn draft(code: &str, kind: TerritoryKind) -> TerritoryDraft {
        TerritoryDraft {
            kato: Kato::parse(code).unwrap(),
            kind,
            names: Names {
                ru: code.into(),
                ..Names::default()
            },
            rural: true,
            population: 0,
            growth_points: GrowthPoints::default(),
            validity: Validity::default(),
        }
    }

    fn registered(draft: TerritoryDraft, parent: Option<&str>) -> (Kato, Territory) {
        (
            draft.kato,
            Territory {
                draft,
                parent: parent.map(|p| Kato::parse(p).unwrap()),
                version: 1,
                updated_at_micros: 0,
            },
        )
    }

    #[test]
    fn creates_updates_and_leaves_alone() {
        let existing: HashMap<_, _> = [
            registered(draft("610000000", TerritoryKind::Region), None),
            registered(
                draft("613600000", TerritoryKind::District),
                Some("610000000"),
            ),
        ]
        .into();
        let mut renamed = draft("613600000", TerritoryKind::District);
        renamed.names.ru = "Байдибекский район".into();
        let plan = plan_import(
            &existing,
            vec![
                draft("610000000", TerritoryKind::Region),
                renamed,
                draft("613633000", TerritoryKind::RuralDistrict),
                draft("613633100", TerritoryKind::Village),
            ],
            7,
        );
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].version, 2);
        let created: Vec<(String, Option<String>)> = plan
            .create
            .iter()
            .map(|t| (t.draft.kato.to_string(), t.parent.map(|p| p.to_string())))
            .collect();
        assert_eq!(
            created,
            [
                ("613633000".to_owned(), Some("613600000".to_owned())),
                ("613633100".to_owned(), Some("613633000".to_owned())),
            ]
        );
        assert!(plan.rejected.is_empty());
    }

    #[test]
    fn orphans_and_their_descendants_are_rejected() {
        let plan = plan_import(
            &HashMap::new(),
            vec![
                draft("610000000", TerritoryKind::Region),
                draft("623633000", TerritoryKind::RuralDistrict),
                draft("623633100", TerritoryKind::Village),
                draft("610000000", TerritoryKind::Region),
            ],
            0,
        );
        assert_eq!(plan.create.len(), 1);
        let rejected: Vec<String> = plan.rejected.iter().map(|(k, _)| k.to_string()).collect();
        assert!(rejected.contains(&"610000000".to_owned()), "the duplicate");
        assert!(rejected.contains(&"623633000".to_owned()));
        // Its child had a parent only while the orphan was counted.
        assert!(rejected.contains(&"623633100".to_owned()));
    }

    #[test]
    fn registered_codes_below_a_new_one_are_adopted() {
        let existing: HashMap<_, _> = [
            registered(draft("610000000", TerritoryKind::Region), None),
            registered(
                draft("613600000", TerritoryKind::District),
                Some("610000000"),
            ),
            registered(
                draft("613633110", TerritoryKind::Village),
                Some("613600000"),
            ),
        ]
        .into();
        let plan = plan_import(
            &existing,
            vec![draft("613633000", TerritoryKind::RuralDistrict)],
            0,
        );
        assert_eq!(plan.create.len(), 1);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].draft.kato.to_string(), "613633110");
        assert_eq!(plan.update[0].parent.unwrap().to_string(), "613633000");
        assert_eq!(plan.update[0].version, 2);
    }
}
