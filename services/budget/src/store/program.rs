//! Programmes and their yearly envelopes.

use aimaq_error::Error;
use aimaq_types::Money;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::domain::program::{Envelope, FundingSource, Program, ProgramKind, Title};

aimaq_storage::text_enum!(KindColumn for ProgramKind {
    RuralInfrastructure = "rural_infrastructure",
    EntrepreneurshipMicroCredit = "entrepreneurship_micro_credit",
    Other = "other",
});

aimaq_storage::text_enum!(SourceColumn for FundingSource {
    NationalBudget = "national_budget",
    LocalBudget = "local_budget",
});

pub mod programs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "programs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub title_kk: String,
        pub title_ru: String,
        pub title_en: String,
        pub kind: super::KindColumn,
        pub funding_source: super::SourceColumn,
        pub first_year: i32,
        pub last_year: i32,
        pub version: i64,
        pub created_at_micros: i64,
        pub budget_code: String,
        pub budget_code_source: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod envelopes {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "envelopes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub program_code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub fiscal_year: i32,
        pub amount_tiyn: i64,
        /// What region allocations draw from it, kept with every allocation change.
        pub allocated_tiyn: i64,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `programs/{code}`.
pub fn name(code: &str) -> String {
    format!("programs/{code}")
}

/// `programs/{code}/envelopes/{year}`.
pub fn envelope_name(code: &str, year: i32) -> String {
    format!("programs/{code}/envelopes/{year}")
}

impl From<programs::Model> for Program {
    fn from(row: programs::Model) -> Program {
        Program {
            code: row.code,
            title: Title {
                kk: row.title_kk,
                ru: row.title_ru,
                en: row.title_en,
            },
            kind: row.kind.into(),
            funding_source: row.funding_source.into(),
            first_year: row.first_year,
            last_year: row.last_year,
            version: row.version,
            created_at_micros: row.created_at_micros,
            budget_code: row.budget_code,
            budget_code_source: row.budget_code_source,
        }
    }
}

impl From<Program> for programs::Model {
    fn from(program: Program) -> programs::Model {
        programs::Model {
            code: program.code,
            title_kk: program.title.kk,
            title_ru: program.title.ru,
            title_en: program.title.en,
            kind: program.kind.into(),
            funding_source: program.funding_source.into(),
            first_year: program.first_year,
            last_year: program.last_year,
            version: program.version,
            created_at_micros: program.created_at_micros,
            budget_code: program.budget_code,
            budget_code_source: program.budget_code_source,
        }
    }
}

impl From<envelopes::Model> for Envelope {
    fn from(row: envelopes::Model) -> Envelope {
        Envelope {
            program_code: row.program_code,
            fiscal_year: row.fiscal_year,
            amount: Money::from_tiyn(row.amount_tiyn),
            allocated: Money::from_tiyn(row.allocated_tiyn),
            version: row.version,
        }
    }
}

impl From<Envelope> for envelopes::Model {
    fn from(envelope: Envelope) -> envelopes::Model {
        envelopes::Model {
            program_code: envelope.program_code,
            fiscal_year: envelope.fiscal_year,
            amount_tiyn: envelope.amount.tiyn(),
            allocated_tiyn: envelope.allocated.tiyn(),
            version: envelope.version,
        }
    }
}

pub async fn find(db: &impl ConnectionTrait, code: &str) -> Result<Option<Program>, Error> {
    Ok(programs::Entity::find_by_id(code.to_owned())
        .one(db)
        .await?
        .map(Program::from))
}

/// The programme, or NOT_FOUND naming it.
pub async fn get(db: &impl ConnectionTrait, code: &str) -> Result<Program, Error> {
    find(db, code)
        .await?
        .ok_or_else(|| Error::not_found("program", name(code)))
}

pub async fn insert(db: &impl ConnectionTrait, program: Program) -> Result<(), Error> {
    programs::Entity::insert(programs::ActiveModel::from(programs::Model::from(program)))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn envelopes_of(db: &impl ConnectionTrait, code: &str) -> Result<Vec<Envelope>, Error> {
    Ok(envelopes::Entity::find()
        .filter(envelopes::Column::ProgramCode.eq(code))
        .order_by_asc(envelopes::Column::FiscalYear)
        .all(db)
        .await?
        .into_iter()
        .map(Envelope::from)
        .collect())
}

/// The envelope, locked for the rest of the transaction when `lock` (on
/// PostgreSQL).
pub async fn envelope(
    db: &impl ConnectionTrait,
    code: &str,
    fiscal_year: i32,
    lock: bool,
) -> Result<Option<Envelope>, Error> {
    let mut query = envelopes::Entity::find_by_id((code.to_owned(), fiscal_year));
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(db).await?.map(Envelope::from))
}

pub async fn save_envelope(
    db: &impl ConnectionTrait,
    envelope: Envelope,
    created: bool,
) -> Result<(), Error> {
    let row = envelopes::Model::from(envelope);
    aimaq_storage::save(db, envelopes::ActiveModel::from(row), created).await
}

/// Programmes by code, optionally of a kind and running in a year.
pub async fn list(
    db: &impl ConnectionTrait,
    kind: Option<ProgramKind>,
    year: Option<i32>,
    page: &aimaq_storage::paging::Page,
) -> Result<(Vec<Program>, String), Error> {
    let mut query = programs::Entity::find();
    if let Some(kind) = kind {
        query = query.filter(programs::Column::Kind.eq(KindColumn::from(kind)));
    }
    if let Some(year) = year {
        query = query
            .filter(programs::Column::FirstYear.lte(year))
            .filter(programs::Column::LastYear.gte(year));
    }
    if let Some(after) = &page.after {
        query = query.filter(programs::Column::Code.gt(after.clone()));
    }
    let rows = query
        .order_by_asc(programs::Column::Code)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    let (rows, next) = page.finish(rows, |row| row.code.clone());
    Ok((rows.into_iter().map(Program::from).collect(), next))
}
