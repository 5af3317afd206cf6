//! Demo data of the budget service, from the facts of the design brief:
//! 'Auyl – El Besigi' with 701 billion tenge over 2019–2024 and about 6,000
//! projects, and this year's 1,000 projects in 500 villages; 'Auyl Amanaty' with
//! this year's 50 billion tenge of micro-credits; regional-standards statuses
//! such that the national sufficiency is 64%.
//!
//! Everything is derived from the real classifier by a fixed hash, so every run
//! produces the same data: projects are spread over real villages, allocations
//! are what the projects there need (plus a margin), and the statuses are chosen
//! so that, once the completed projects have met their standards, 64% of what
//! applies is met.

use std::collections::BTreeSet;

use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::budget::v1::*;
use aimaq_proto::common::v1::LocalizedText;
use aimaq_proto::governance::v1::TerritoryInput;
use aimaq_types::Kato;
use futures::{StreamExt, TryStreamExt, stream};
use tonic::Status;
use tonic::transport::Channel;

use super::budget_plan::*;

struct Demo {
    client: BudgetServiceClient<Channel>,
    token: String,
}

impl Demo {
    async fn program(
        &self,
        code: &str,
        title: (&str, &str, &str),
        kind: ProgramKind,
        years: (i32, i32),
    ) -> Result<(), Status> {
        let (budget_code, budget_code_source) = programme_code(code)?;
        let request = super::authorized(
            CreateProgramRequest {
                request_id: format!("demo-program-{code}"),
                program: Some(Program {
                    code: code.into(),
                    title: Some(LocalizedText {
                        kk: title.0.into(),
                        ru: title.1.into(),
                        en: title.2.into(),
                    }),
                    kind: kind as i32,
                    funding_source: FundingSource::NationalBudget as i32,
                    first_year: years.0,
                    last_year: years.1,
                    budget_code,
                    budget_code_source,
                    ..Program::default()
                }),
            },
            &self.token,
        )?;
        self.client.clone().create_program(request).await?;
        Ok(())
    }

    /// The three programmes, their envelopes and their targets; how many targets.
    async fn programmes(&self) -> Result<usize, Status> {
        self.program(
            EL_BESIGI,
            ("Ауыл – Ел бесігі", "Ауыл – Ел бесігі", "Auyl – El Besigi"),
            ProgramKind::RuralInfrastructure,
            (2019, 2027),
        )
        .await?;
        self.program(
            AMANATY,
            ("Ауыл аманаты", "Ауыл аманаты", "Auyl Amanaty"),
            ProgramKind::EntrepreneurshipMicroCredit,
            (STATEMENT_YEAR, AMANATY_PLAN[2].0),
        )
        .await?;
        self.program(
            DIPLOMA,
            (
                "Дипломмен – ауылға!",
                "С дипломом – в село!",
                "With a diploma – to the village!",
            ),
            ProgramKind::Other,
            (2009, AMANATY_PLAN[2].0),
        )
        .await?;
        for (year, billions, _) in EL_BESIGI_YEARS {
            self.envelope(EL_BESIGI, year, billions).await?;
        }
        self.envelope(EL_BESIGI, STATEMENT_YEAR, EL_BESIGI_THIS_YEAR_BILLIONS)
            .await?;
        self.envelope(AMANATY, STATEMENT_YEAR, AMANATY_BILLIONS)
            .await?;
        for (year, billions) in AMANATY_PLAN {
            self.envelope(AMANATY, year, billions).await?;
        }
        self.targets().await
    }

    /// The programme targets of `data/programme-targets.csv`; how many.
    async fn targets(&self) -> Result<usize, Status> {
        let targets = programme_targets().map_err(Status::internal)?;
        for target in &targets {
            let request = super::authorized(
                SetProgramTargetRequest {
                    request_id: format!(
                        "demo-target-{}-{}-{}-{}",
                        target.program_code, target.metric, target.from_year, target.to_year
                    ),
                    target: Some(target.clone()),
                    expected_version: 0,
                },
                &self.token,
            )?;
            self.client.clone().set_program_target(request).await?;
        }
        Ok(targets.len())
    }

    async fn envelope(&self, code: &str, year: i32, billions: i64) -> Result<(), Status> {
        let request = super::authorized(
            SetEnvelopeRequest {
                request_id: format!("demo-envelope-{code}-{year}"),
                program_code: code.into(),
                fiscal_year: year,
                amount_tiyn: billions * TIYN_PER_BILLION_TENGE,
                expected_version: 0,
            },
            &self.token,
        )?;
        self.client.clone().set_envelope(request).await?;
        Ok(())
    }

    /// Runs `calls` at most `CONCURRENT_CALLS` at a time, stopping at the first
    /// error.
    async fn all<F>(calls: impl Iterator<Item = F>) -> Result<(), Status>
    where
        F: Future<Output = Result<(), Status>>,
    {
        stream::iter(calls)
            .buffer_unordered(CONCURRENT_CALLS)
            .try_collect::<Vec<()>>()
            .await
            .map(drop)
    }

    async fn allocate(&self, allocations: &[(&'static str, i32, Kato, i64)]) -> Result<(), Status> {
        // Regions before districts: a district draws on its region.
        for level in [1, 2] {
            let calls = allocations.iter().filter(|a| a.2.level() == level).map(
                |(program, year, kato, amount)| async move {
                    let request = super::authorized(
                        AllocateRequest {
                            request_id: format!("demo-allocate-{program}-{year}-{kato}"),
                            program_code: (*program).into(),
                            fiscal_year: *year,
                            territory_kato: kato.to_string(),
                            amount_tiyn: *amount,
                        },
                        &self.token,
                    )?;
                    self.client.clone().allocate(request).await.map(drop)
                },
            );
            Self::all(calls).await?;
        }
        Ok(())
    }

    async fn import_statuses(&self, statuses: &[StandardStatusInput]) -> Result<(), Status> {
        let calls = statuses
            .chunks(BATCH)
            .enumerate()
            .map(|(n, batch)| async move {
                let request = super::authorized(
                    ImportStandardStatusesRequest {
                        request_id: format!("demo-standards-{n}"),
                        statuses: batch.to_vec(),
                        validate_only: false,
                    },
                    &self.token,
                )?;
                self.client
                    .clone()
                    .import_standard_statuses(request)
                    .await
                    .map(drop)
            });
        Self::all(calls).await
    }

    async fn import_projects(&self, name: &str, projects: &[Planned]) -> Result<(), Status> {
        let calls = projects
            .chunks(BATCH)
            .enumerate()
            .map(|(n, batch)| async move {
                let request = super::authorized(
                    ImportProjectsRequest {
                        request_id: format!("demo-projects-{name}-{n}"),
                        projects: batch.iter().map(Planned::to_proto).collect(),
                        validate_only: false,
                    },
                    &self.token,
                )?;
                self.client.clone().import_projects(request).await.map(drop)
            });
        Self::all(calls).await
    }

    async fn sufficiency(&self) -> Result<SufficiencyFigure, Status> {
        let request = super::authorized(GetSufficiencyRequest::default(), &self.token)?;
        self.client
            .clone()
            .get_sufficiency(request)
            .await?
            .into_inner()
            .overall
            .ok_or_else(|| Status::internal("no overall sufficiency"))
    }
}

/// Loads the budget demo data over the classifier's villages.
pub async fn budget(
    client: BudgetServiceClient<Channel>,
    token: &str,
    classifier: &[TerritoryInput],
) -> Result<Vec<String>, Status> {
    let villages = villages(classifier);
    if villages.is_empty() {
        return Ok(vec![
            "budget: no villages in the classifier; nothing loaded".into(),
        ]);
    }
    let demo = Demo {
        client,
        token: token.to_owned(),
    };
    let targets = demo.programmes().await?;

    let mut history = Vec::new();
    for (year, billions, count) in EL_BESIGI_YEARS {
        // Money of a year goes to villages that existed then.
        let existing = existing_in(&villages, year);
        history.extend(el_besigi_projects(&existing, year, billions, count, count));
    }
    let this_year = el_besigi_projects(
        &villages,
        STATEMENT_YEAR,
        EL_BESIGI_THIS_YEAR_BILLIONS,
        EL_BESIGI_THIS_YEAR_PROJECTS,
        EL_BESIGI_THIS_YEAR_VILLAGES,
    );
    let credits = amanaty_credits(&villages);
    let allocations = allocations(history.iter().chain(&this_year).chain(&credits));
    demo.allocate(&allocations).await?;
    let statuses = statuses(&villages, &history);
    demo.import_statuses(&statuses).await?;
    demo.import_projects("el-besigi-history", &history).await?;
    demo.import_projects("el-besigi-this-year", &this_year)
        .await?;
    demo.import_projects("amanaty", &credits).await?;
    let sufficiency = demo.sufficiency().await?;

    let villages_this_year: BTreeSet<Kato> = this_year.iter().map(|p| p.village.kato).collect();
    Ok(vec![
        format!("budget: {targets} programme targets, each with its source"),
        format!(
            "budget: {EL_BESIGI} 2019-2024: {} bn tenge, {} projects; {STATEMENT_YEAR}: {} projects in {} villages",
            EL_BESIGI_YEARS.iter().map(|y| y.1).sum::<i64>(),
            history.len(),
            this_year.len(),
            villages_this_year.len()
        ),
        format!(
            "budget: {AMANATY} {STATEMENT_YEAR}: {AMANATY_BILLIONS} bn tenge, {} micro-credits; {}-{}: {} bn tenge in envelopes (an even split of the published plan)",
            credits.len(),
            AMANATY_PLAN[0].0,
            AMANATY_PLAN[AMANATY_PLAN.len() - 1].0,
            AMANATY_PLAN
                .iter()
                .map(|(_, billions)| billions)
                .sum::<i64>()
        ),
        format!(
            "budget: regional standards sufficiency {}.{:02}% ({} of {} met)",
            sufficiency.sufficiency_bp / 100,
            sufficiency.sufficiency_bp % 100,
            sufficiency.met,
            sufficiency.applicable
        ),
    ])
}

/// The programmes' budget classification codes, with their sources.
const PROGRAMME_CODES: &str = include_str!("../../data/programme-codes.csv");

/// The budget code of `program` in [`PROGRAMME_CODES`] and its source; none
/// when the file has no row for it.
fn programme_code(program: &str) -> Result<(String, String), Status> {
    let mut reader = csv::Reader::from_reader(PROGRAMME_CODES.as_bytes());
    for record in reader.records() {
        let record = record.map_err(|e| Status::internal(format!("programme codes: {e}")))?;
        if record.get(0) == Some(program) {
            let field = |index: usize| record.get(index).unwrap_or_default().to_owned();
            return Ok((field(1), field(2)));
        }
    }
    Ok((String::new(), String::new()))
}

/// The published programme targets, with their sources.
const PROGRAMME_TARGETS: &str = include_str!("../../data/programme-targets.csv");

/// [`PROGRAMME_TARGETS`] as requests: money in billions of tenge becomes tiyn.
fn programme_targets() -> Result<Vec<ProgramTarget>, String> {
    let mut reader = csv::Reader::from_reader(PROGRAMME_TARGETS.as_bytes());
    let mut targets = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("programme targets: {e}"))?;
        let field = |index: usize| record.get(index).unwrap_or_default();
        let number = |index: usize| {
            field(index)
                .parse::<i64>()
                .map_err(|e| format!("programme targets, row {}: {e}", line + 2))
        };
        let metric =
            TargetMetric::from_str_name(&format!("TARGET_METRIC_{}", field(1).to_uppercase()))
                .ok_or_else(|| {
                    format!(
                        "programme targets, row {}: no metric {}",
                        line + 2,
                        field(1)
                    )
                })?;
        let value = match field(5) {
            "billion tenge" => number(4)?.saturating_mul(TIYN_PER_BILLION_TENGE),
            _ => number(4)?,
        };
        targets.push(ProgramTarget {
            program_code: field(0).to_owned(),
            metric: metric as i32,
            from_year: i32::try_from(number(2)?).map_err(|e| e.to_string())?,
            to_year: i32::try_from(number(3)?).map_err(|e| e.to_string())?,
            value,
            source: field(6).to_owned(),
            ..ProgramTarget::default()
        });
    }
    Ok(targets)
}
