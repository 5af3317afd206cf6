//! Demo data of the governance service: growth points, the pilot round of akim
//! elections, rural districts' revenue and the development indicators.

use aimaq_proto::common::v1::{Date, LocalizedText};
use aimaq_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use aimaq_proto::governance::v1::*;
use aimaq_types::Iin;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Single-industry towns of the classifier.
const SINGLE_INDUSTRY_TOWNS: [&str; 6] = [
    "352410000", // Temirtau
    "392410000", // Rudny
    "552210000", // Ekibastuz
    "621010000", // Zhezkazgan
    "622010000", // Satpayev
    "156020100", // Khromtau
];

/// Agglomerations and their members.
const AGGLOMERATIONS: [(&str, &[&str]); 3] = [
    (
        "Almaty",
        &["750000000", "195200000", "196200000", "196800000"],
    ),
    ("Astana", &["710000000", "116600000"]),
    ("Shymkent", &["790000000"]),
];

/// Regions whose first village becomes a support village.
const SUPPORT_VILLAGE_REGIONS: [&str; 6] = ["11", "15", "35", "39", "55", "61"];

/// The new city of Alatau, a special economic zone near Almaty, added after the
/// 2022 classifier.
const ALATAU: &str = "192000000";

/// The 2023 pilot round of direct akim elections covered 46 districts and 3
/// cities of regional significance. Which ones is not in the demo's data: the
/// demo spreads them over the classifier's districts and cities.
const PILOT_DISTRICTS: usize = 46;
const PILOT_CITIES: usize = 3;
/// Elections of the round (by index) that end in a tie and need a repeat; the
/// repeats of the first two are held, the last is only scheduled.
const PILOT_TIES: [usize; 3] = [12, 30, 47];

/// `count` items spread evenly over `items`.
fn spread(items: Vec<String>, count: usize) -> Vec<String> {
    let len = items.len();
    if len <= count {
        return items;
    }
    (0..count).map(|i| items[i * len / count].clone()).collect()
}

/// The territories of the pilot round with their office.
fn pilot_territories(classifier: &[TerritoryInput]) -> Vec<(String, ElectionOffice)> {
    let of_kind = |kind: TerritoryKind| -> Vec<String> {
        classifier
            .iter()
            .filter(|t| t.kind == kind as i32)
            .map(|t| t.kato.clone())
            .collect()
    };
    let districts = spread(of_kind(TerritoryKind::District), PILOT_DISTRICTS);
    let cities = spread(
        of_kind(TerritoryKind::CityOfRegionalSignificance),
        PILOT_CITIES,
    );
    let with = |office: ElectionOffice| move |kato: String| (kato, office);
    districts
        .into_iter()
        .map(with(ElectionOffice::DistrictAkim))
        .chain(cities.into_iter().map(with(ElectionOffice::CityAkim)))
        .collect()
}

/// One election of the pilot round as the demo records it.
struct Pilot<'a> {
    index: usize,
    territory: &'a str,
    office: ElectionOffice,
    /// Ends in a tie: no winner, a repeat is needed.
    tie: bool,
    /// The election this one repeats.
    repeats: Option<String>,
    /// Voting took place (protocols and certification); otherwise only scheduled.
    held: bool,
}

struct Demo {
    client: GovernanceServiceClient<Channel>,
    token: String,
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

impl Demo {
    fn request<T>(&self, message: T) -> Result<Request<T>, Status> {
        super::authorized(message, &self.token)
    }

    async fn territory(&mut self, kato: &str) -> Result<Territory, Status> {
        let request = self.request(GetTerritoryRequest {
            kato: kato.into(),
            include_ancestors: false,
        })?;
        self.client
            .get_territory(request)
            .await?
            .into_inner()
            .territory
            .ok_or_else(|| Status::internal("no territory in the answer"))
    }

    /// Sets growth-point flags on a registered territory unless already set.
    async fn flag(&mut self, kato: &str, set: impl Fn(&mut GrowthPoints)) -> Result<bool, Status> {
        let territory = self.territory(kato).await?;
        let mut growth = territory.growth_points.clone().unwrap_or_default();
        set(&mut growth);
        if Some(&growth) == territory.growth_points.as_ref() {
            return Ok(false);
        }
        let request = self.request(UpsertTerritoryRequest {
            request_id: format!("demo-flags-{kato}-v{}", territory.version),
            territory: Some(TerritoryInput {
                kato: territory.kato,
                kind: territory.kind,
                name: territory.name,
                rural: territory.rural,
                population: territory.population,
                growth_points: Some(growth),
                valid_from: territory.valid_from,
                valid_to: territory.valid_to,
            }),
            expected_version: territory.version,
        })?;
        self.client.upsert_territory(request).await?;
        Ok(true)
    }

    async fn growth_points(&mut self, villages: &[String]) -> Result<String, Status> {
        for kato in SINGLE_INDUSTRY_TOWNS {
            self.flag(kato, |g| g.single_industry_town = true).await?;
        }
        for (name, members) in AGGLOMERATIONS {
            for kato in members {
                self.flag(kato, |g| g.agglomeration = name.to_owned())
                    .await?;
            }
        }
        for kato in villages {
            self.flag(kato, |g| g.support_village = true).await?;
        }
        let request = self.request(UpsertTerritoryRequest {
            request_id: "demo-alatau".into(),
            territory: Some(TerritoryInput {
                kato: ALATAU.into(),
                kind: TerritoryKind::CityOfRegionalSignificance as i32,
                name: Some(LocalizedText {
                    kk: "Алатау қаласы".into(),
                    ru: "г.Алатау".into(),
                    en: "Alatau".into(),
                }),
                rural: false,
                population: 0,
                growth_points: Some(GrowthPoints {
                    agglomeration: "Almaty".into(),
                    special_economic_zone: true,
                    ..GrowthPoints::default()
                }),
                // When it became a city is not in the demo's sources.
                valid_from: None,
                valid_to: None,
            }),
            expected_version: 0,
        })?;
        self.client.upsert_territory(request).await?;
        Ok(format!(
            "growth points: {} single-industry towns, {} agglomerations, {} support villages, Alatau ({ALATAU}, special economic zone)",
            SINGLE_INDUSTRY_TOWNS.len(),
            AGGLOMERATIONS.len(),
            villages.len()
        ))
    }

    /// One archival election of the pilot round: scheduled, its candidates
    /// registered, and when held, its protocols submitted and certified. Its
    /// name and certified outcome.
    async fn pilot_election(&mut self, pilot: &Pilot<'_>) -> Result<(String, OutcomeKind), Status> {
        let step = if pilot.repeats.is_some() {
            "repeat"
        } else {
            "first"
        };
        let id = |part: &str| format!("demo-pilot-{}-{step}-{part}", pilot.territory);
        let stations: Vec<PollingStation> = (1..=3)
            .map(|number| PollingStation {
                number,
                address: format!("school No. {number}"),
                registered_voters: 1800 + 150 * i64::from(number),
                ..PollingStation::default()
            })
            .collect();
        // Repeats are held three months after the round.
        let (call, voting, term) = match pilot.repeats {
            None => (date(2023, 6, 1), date(2023, 8, 10), date(2023, 8, 15)),
            Some(_) => (date(2023, 9, 1), date(2023, 11, 12), date(2023, 11, 17)),
        };
        let request = self.request(ScheduleElectionRequest {
            request_id: id("schedule"),
            territory_kato: pilot.territory.into(),
            office: pilot.office as i32,
            call_date: call,
            voting_date: voting,
            nomination_close_date: None,
            winner_rule: WinnerRule::Plurality as i32,
            pilot: true,
            polling_stations: stations.clone(),
            previous_election: pilot.repeats.clone().unwrap_or_default(),
            archival: true,
        })?;
        let election = self
            .client
            .schedule_election(request)
            .await?
            .into_inner()
            .election
            .ok_or_else(|| Status::internal("no election in the answer"))?;
        let candidates = self.candidates(pilot, &election.name).await?;
        if !pilot.held {
            return Ok((election.name, OutcomeKind::Unspecified));
        }
        let votes: [i64; 3] = if pilot.tie {
            [700, 700, 150]
        } else {
            [800 + 5 * pilot.index as i64, 500, 200]
        };
        for station in &stations {
            let request = self.request(protocol(
                id(&format!("protocol-{}", station.number)),
                &election.name,
                station.number,
                &candidates,
                votes,
            ))?;
            self.client.submit_protocol(request).await?;
        }
        let request = self.request(CertifyElectionRequest {
            request_id: id("certify"),
            election: election.name.clone(),
            expected_version: 0,
            term_start: term,
        })?;
        let certified = self.client.certify_election(request).await?.into_inner();
        let outcome = certified
            .results
            .and_then(|r| r.outcome)
            .and_then(|o| OutcomeKind::try_from(o.kind).ok())
            .unwrap_or_default();
        Ok((election.name, outcome))
    }

    /// The pilot round: 49 first elections, then the repeats of the ties.
    async fn pilot_round(&mut self, classifier: &[TerritoryInput]) -> Result<String, Status> {
        let territories = pilot_territories(classifier);
        let (mut won, mut ties) = (0, Vec::new());
        for (index, (territory, office)) in territories.iter().enumerate() {
            let tie = PILOT_TIES.contains(&index);
            let pilot = Pilot {
                index,
                territory,
                office: *office,
                tie,
                repeats: None,
                held: true,
            };
            let (name, outcome) = self.pilot_election(&pilot).await?;
            if outcome == OutcomeKind::Winner {
                won += 1;
            } else {
                ties.push((index, territory, *office, name));
            }
        }
        let mut repeats_held = 0;
        for (n, (index, territory, office, tied)) in ties.iter().enumerate() {
            let held = n + 1 < ties.len();
            let repeat = Pilot {
                index: *index,
                territory,
                office: *office,
                tie: false,
                repeats: Some(tied.clone()),
                held,
            };
            self.pilot_election(&repeat).await?;
            repeats_held += usize::from(held);
        }
        Ok(format!(
            "pilot round 2023: {} elections ({PILOT_DISTRICTS} districts, {PILOT_CITIES} cities of regional significance) certified, {won} elected, {} ties; {repeats_held} repeats held and {} scheduled",
            territories.len(),
            ties.len(),
            ties.len() - repeats_held
        ))
    }

    /// Registers the three candidates of a pilot election: two parties' and a
    /// self-nominated one; their resource names in order.
    async fn candidates(
        &mut self,
        pilot: &Pilot<'_>,
        election: &str,
    ) -> Result<Vec<String>, Status> {
        let (index, territory) = (pilot.index, pilot.territory);
        let step = if pilot.repeats.is_some() {
            "repeat"
        } else {
            "first"
        };
        let mut candidates = Vec::new();
        for (n, (party, born)) in [("Amanat", "750314"), ("Ak Zhol", "820607"), ("", "880921")]
            .into_iter()
            .enumerate()
        {
            let iin = (0..10)
                .find_map(|s| Iin::complete(&format!("{born}3{:04}", index * 100 + n * 10 + s)))
                .ok_or_else(|| Status::internal("no IIN"))?;
            let request = self.request(RegisterCandidateRequest {
                request_id: format!("demo-pilot-{territory}-{step}-candidate-{n}"),
                election: election.to_owned(),
                iin: iin.to_string(),
                full_name: format!("Candidate {} for {territory}", n + 1),
                nomination: if party.is_empty() {
                    Nomination::Self_
                } else {
                    Nomination::Party
                } as i32,
                party: party.into(),
            })?;
            let candidate = self
                .client
                .register_candidate(request)
                .await?
                .into_inner()
                .candidate
                .ok_or_else(|| Status::internal("no candidate in the answer"))?;
            candidates.push(candidate.name);
        }
        Ok(candidates)
    }

    /// Revenue of rural districts 2019–2025: 3.5-fold by 2024, then level.
    async fn revenue(&mut self, rural_districts: &[String]) -> Result<String, Status> {
        // Tenge per district: own revenue rises 3.5-fold, transfers stay level.
        let own_by_year = [
            (2019, 20_000_000),
            (2020, 26_000_000),
            (2021, 34_000_000),
            (2022, 45_000_000),
            (2023, 58_000_000),
            (2024, 70_000_000),
            (2025, 70_000_000),
        ];
        for (d, kato) in rural_districts.iter().enumerate() {
            for (year, own_tenge) in own_by_year {
                // Larger districts collect more; every one grows alike.
                let own_tiyn = own_tenge * (10 + d as i64) / 10 * 100;
                for (source, share) in [
                    (RevenueSource::PersonalIncomeTax, 40),
                    (RevenueSource::PropertyTax, 20),
                    (RevenueSource::LandTax, 25),
                    (RevenueSource::VehicleTax, 10),
                    (RevenueSource::OtherOwn, 5),
                ] {
                    let request = self.request(RecordRevenueRequest {
                        request_id: format!("demo-revenue-{kato}-{year}-{}", source.as_str_name()),
                        territory_kato: kato.clone(),
                        fiscal_year: year,
                        source: source as i32,
                        amount_tiyn: own_tiyn * share / 100,
                        note: String::new(),
                        validate_only: false,
                    })?;
                    self.client.record_revenue(request).await?;
                }
            }
        }
        Ok(format!(
            "rural-district revenue 2019-2025 for {} rural districts (3.5-fold growth)",
            rural_districts.len()
        ))
    }

    /// The republic's development indicators and their targets, from
    /// `data/national-indicators.csv`, each with its source.
    async fn indicators(&mut self) -> Result<String, Status> {
        let mut reader = csv::Reader::from_reader(NATIONAL_INDICATORS.as_bytes());
        let mut count = 0;
        for record in reader.records() {
            let record = record.map_err(|e| Status::internal(format!("indicators: {e}")))?;
            let field = |index: usize| record.get(index).unwrap_or_default();
            let unreadable = || Status::internal(format!("indicators: {record:?}"));
            let kind = IndicatorKind::from_str_name(&format!("INDICATOR_KIND_{}", field(0)))
                .ok_or_else(unreadable)?;
            let figure = IndicatorFigure::from_str_name(&format!("INDICATOR_FIGURE_{}", field(1)))
                .ok_or_else(unreadable)?;
            let year: i32 = field(2).parse().map_err(|_| unreadable())?;
            let request = self.request(RecordIndicatorRequest {
                request_id: format!("demo-indicator-national-{}-{}-{year}", field(0), field(1)),
                territory_kato: String::new(),
                kind: kind as i32,
                figure: figure as i32,
                year,
                value_bp: field(3).parse().map_err(|_| unreadable())?,
                source: field(4).into(),
                expected_version: 0,
            })?;
            self.client.record_indicator(request).await?;
            count += 1;
        }
        Ok(format!(
            "indicators: {count} national figures (sufficiency 64% in 2025, 70% by 2028; SME share 40% by 2030; renewables 15% by 2030), each with its source"
        ))
    }
}

/// Loads the governance demo data; `classifier` is what was imported.
pub async fn governance(
    client: GovernanceServiceClient<Channel>,
    token: &str,
    classifier: &[TerritoryInput],
) -> Result<Vec<String>, Status> {
    let mut demo = Demo {
        client,
        token: token.to_owned(),
    };
    let first_village = |region: &str| {
        classifier
            .iter()
            .find(|t| t.kato.starts_with(region) && t.kind == TerritoryKind::Village as i32)
            .map(|t| t.kato.clone())
    };
    let villages: Vec<String> = SUPPORT_VILLAGE_REGIONS
        .iter()
        .filter_map(|r| first_village(r))
        .collect();
    let mut lines = vec![demo.growth_points(&villages).await?];

    lines.push(demo.pilot_round(classifier).await?);

    let rural_districts: Vec<String> = classifier
        .iter()
        .filter(|t| t.kind == TerritoryKind::RuralDistrict as i32 && t.kato.starts_with("61"))
        .take(20)
        .map(|t| t.kato.clone())
        .collect();
    lines.push(demo.revenue(&rural_districts).await?);

    lines.push(demo.indicators().await?);
    Ok(lines)
}
/// A polling station's protocol: `votes` for each candidate, 60 against all,
/// 25 spoiled, and 10 ballots issued but not cast.
fn protocol(
    request_id: String,
    election: &str,
    station_number: i32,
    candidates: &[String],
    votes: [i64; 3],
) -> SubmitProtocolRequest {
    let cast = votes.iter().sum::<i64>() + 60 + 25;
    SubmitProtocolRequest {
        request_id,
        election: election.to_owned(),
        station_number,
        ballots_issued: cast + 10,
        candidate_votes: candidates
            .iter()
            .zip(votes)
            .map(|(candidate, votes)| CandidateVotes {
                candidate: candidate.clone(),
                votes,
            })
            .collect(),
        against_all: 60,
        spoiled: 25,
        expected_version: 0,
        correction_reason: String::new(),
    }
}

/// The republic's development indicators, with their sources.
const NATIONAL_INDICATORS: &str = include_str!("../../data/national-indicators.csv");
