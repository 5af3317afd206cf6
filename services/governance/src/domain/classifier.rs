//! What a row of the national classifier (KATO) is, from the markers in its
//! Russian name: `область` region, `г.` city, `Г.А.` city administration, `район`
//! district, `с.о.` / `с.а.` / `п.а.` rural district or rural / settlement
//! administration, `с.` village, `п.` settlement; anything else (stations,
//! wintering places) is "other".

use super::territory::TerritoryKind;

/// The kind of a classifier row, given its name, its structural level and the
/// kind of its parent (cities are regional under a city administration, of
/// district significance elsewhere).
pub fn kind_of(name: &str, level: u8, parent: Option<TerritoryKind>) -> TerritoryKind {
    let has = |marker: &str| name.split_whitespace().any(|word| word.starts_with(marker));
    if has("область") {
        TerritoryKind::Region
    } else if has("Г.А.") {
        TerritoryKind::CityAdministration
    } else if has("г.") {
        match (level, parent) {
            (1, _) => TerritoryKind::CityOfRepublicanSignificance,
            (_, Some(TerritoryKind::CityAdministration)) => {
                TerritoryKind::CityOfRegionalSignificance
            }
            _ => TerritoryKind::CityOfDistrictSignificance,
        }
    } else if has("район") {
        TerritoryKind::District
    } else if has("с.о.") || has("с.а.") || has("п.а.") {
        TerritoryKind::RuralDistrict
    } else if has("с.") {
        TerritoryKind::Village
    } else if has("п.") {
        TerritoryKind::Settlement
    } else {
        TerritoryKind::Other
    }
}

/// Whether a unit counts as rural: rural districts and what lies in them, and the
/// districts of regions (a city's districts are urban).
pub fn is_rural(kind: TerritoryKind, level: u8, parent: Option<TerritoryKind>) -> bool {
    match kind {
        TerritoryKind::RuralDistrict | TerritoryKind::Village | TerritoryKind::Settlement => true,
        TerritoryKind::District => parent == Some(TerritoryKind::Region),
        TerritoryKind::Other => level >= 3,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TerritoryKind::*;

    #[test]
    fn markers_give_kinds() {
        assert_eq!(kind_of("Туркестанская область", 1, None), Region);
        assert_eq!(kind_of("область Абай", 1, None), Region);
        assert_eq!(kind_of("г.Астана", 1, None), CityOfRepublicanSignificance);
        assert_eq!(kind_of("Семей Г.А.", 2, Some(Region)), CityAdministration);
        assert_eq!(
            kind_of("г.Семей", 3, Some(CityAdministration)),
            CityOfRegionalSignificance
        );
        assert_eq!(
            kind_of("г.Шардара", 3, Some(District)),
            CityOfDistrictSignificance
        );
        assert_eq!(kind_of("Байдибекский район", 2, Some(Region)), District);
        assert_eq!(kind_of("Агыбетский с.о.", 3, Some(District)), RuralDistrict);
        assert_eq!(kind_of("Абайская с.а.", 3, Some(District)), RuralDistrict);
        assert_eq!(kind_of("Жайремская п.а.", 3, Some(District)), RuralDistrict);
        assert_eq!(kind_of("с.Агыбет", 4, Some(RuralDistrict)), Village);
        assert_eq!(kind_of("п.Жайрем", 4, Some(RuralDistrict)), Settlement);
        assert_eq!(kind_of("ст.Бадам", 4, Some(RuralDistrict)), Other);
        assert_eq!(kind_of("зимовка Жанабаз", 4, Some(RuralDistrict)), Other);
    }

    #[test]
    fn rural_or_urban() {
        assert!(is_rural(Village, 4, Some(RuralDistrict)));
        assert!(is_rural(District, 2, Some(Region)));
        assert!(!is_rural(District, 2, Some(CityOfRepublicanSignificance)));
        assert!(!is_rural(CityOfDistrictSignificance, 3, Some(District)));
        assert!(is_rural(Other, 4, Some(RuralDistrict)));
    }
}
