use aimaq_records::{
    CreatePendingRecords, CreateRecordTables, RecordCertificates, StateDigests, TransparencyLog,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, integer_null, pk_auto, string, string_len,
    string_len_null,
};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRecordTables),
            Box::new(CreateTerms),
            Box::new(CreateApplications),
            Box::new(CreateHistoricalAggregates),
            Box::new(CreatePendingRecords),
            Box::new(RecordCertificates),
            Box::new(KeepGrantedCounts),
            Box::new(KeepNationalCounts),
            Box::new(TransparencyLog),
            Box::new(StateDigests),
            Box::new(aimaq_runtime::FeedRelays),
            Box::new(aimaq_records::TraceParents),
            Box::new(aimaq_records::ChangeResources),
            Box::new(aimaq_records::LogCosignatures),
        ]
    }
}

struct CreateTerms;

impl MigrationName for CreateTerms {
    fn name(&self) -> &str {
        "m0001_create_mci_rates_and_policies"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateTerms {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("mci_rates")
                    // ISO dates sort as they compare.
                    .col(string_len("effective_from", 10).primary_key())
                    .col(big_integer("value_tiyn"))
                    .col(string("source"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("policies")
                    .col(string_len("effective_from", 10).primary_key())
                    .col(integer("allowance_mci"))
                    .col(integer("loan_cap_mci"))
                    .col(integer("loan_rate_bp"))
                    .col(integer("max_term_months"))
                    .col(integer("obligation_months"))
                    .col(string_len("eligible_fields", 200))
                    .col(string("source"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["policies", "mci_rates"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct CreateApplications;

impl MigrationName for CreateApplications {
    fn name(&self) -> &str {
        "m0002_create_applications_persons_and_quotas"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateApplications {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("applications")
                    .col(pk_auto("id").big_integer())
                    .col(string_len("iin", 12))
                    .col(string_len("full_name", 200))
                    .col(string_len("field", 40))
                    .col(integer("diploma_level"))
                    .col(string_len("diploma_speciality", 200))
                    .col(integer("diploma_year"))
                    .col(string_len("diploma_institution", 200))
                    .col(string_len("settlement_kato", 9))
                    .col(string_len("region_kato", 9))
                    .col(string_len("employer", 200))
                    .col(string_len("start_date", 10))
                    .col(boolean("allowance_requested"))
                    .col(big_integer("loan_requested_tiyn"))
                    .col(integer("loan_requested_months"))
                    .col(string_len("status", 20))
                    .col(integer("submitted_year"))
                    .col(string_len_null("decision_date", 10))
                    .col(integer_null("decision_year"))
                    .col(big_integer("allowance_tiyn"))
                    .col(big_integer("loan_amount_tiyn"))
                    .col(integer("loan_term_months"))
                    .col(integer("loan_rate_bp"))
                    .col(integer("obligation_months"))
                    .col(big_integer("mci_tiyn"))
                    .col(string_len_null("policy_effective_from", 10))
                    .col(string_len_null("age_band", 20))
                    .col(string_len("rejection_reason", 500))
                    .col(boolean("allowance_paid"))
                    .col(string_len_null("loan_disbursed_on", 10))
                    .col(string_len_null("departure_date", 10))
                    .col(integer("served_months"))
                    .col(integer("unserved_months"))
                    .col(big_integer("allowance_refund_tiyn"))
                    .col(big_integer("loan_principal_due_tiyn"))
                    .col(big_integer("version"))
                    .col(big_integer("submitted_at_micros"))
                    .col(big_integer("updated_at_micros"))
                    .to_owned(),
            )
            .await?;
        for (index, column) in [
            ("applications_by_iin", "iin"),
            ("applications_by_settlement", "settlement_kato"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(index)
                        .table("applications")
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("persons")
                    .col(string_len("iin", 12).primary_key())
                    .col(big_integer_null("open_application"))
                    .col(big_integer_null("allowance_application"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("quotas")
                    .col(string_len("region_kato", 9))
                    .col(integer("year"))
                    .col(integer("allowance_count"))
                    .col(big_integer("loan_amount_tiyn"))
                    .col(integer("allowances_approved"))
                    .col(big_integer("loans_approved_tiyn"))
                    .col(big_integer("version"))
                    .primary_key(Index::create().col("region_kato").col("year"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["quotas", "persons", "applications"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct CreateHistoricalAggregates;

impl MigrationName for CreateHistoricalAggregates {
    fn name(&self) -> &str {
        "m0003_create_historical_aggregates"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateHistoricalAggregates {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("historical_aggregates")
                    .col(integer("year"))
                    .col(string_len("region_kato", 9))
                    .col(big_integer("allowances"))
                    .col(big_integer("allowances_tiyn"))
                    .col(big_integer("loans"))
                    .col(big_integer("loans_tiyn"))
                    .col(string("source"))
                    .col(big_integer("version"))
                    .primary_key(Index::create().col("year").col("region_kato"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_by_decision_year")
                    .table("applications")
                    .col("decision_year")
                    .col("status")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("historical_aggregates").to_owned())
            .await
    }
}

struct KeepGrantedCounts;

impl MigrationName for KeepGrantedCounts {
    fn name(&self) -> &str {
        "m0004_keep_granted_counts"
    }
}

/// What the applications granted before the counts were kept, per region
/// (level 1) and district (level 2).
const COUNT_GRANTED: &str = "
    INSERT INTO granted_counts
        (level, scope_kato, year, field, age_band, allowances, allowances_tiyn, loans, loans_tiyn)
    SELECT level, scope_kato, decision_year, field, age_band,
           CAST(SUM(CASE WHEN allowance_tiyn > 0 THEN 1 ELSE 0 END) AS BIGINT),
           CAST(SUM(allowance_tiyn) AS BIGINT),
           CAST(SUM(CASE WHEN loan_amount_tiyn > 0 THEN 1 ELSE 0 END) AS BIGINT),
           CAST(SUM(loan_amount_tiyn) AS BIGINT)
    FROM (SELECT 1 AS level, region_kato AS scope_kato, decision_year, field,
                 COALESCE(age_band, '') AS age_band, allowance_tiyn, loan_amount_tiyn
          FROM applications
          WHERE status IN ('approved', 'active', 'completed', 'breached')
          UNION ALL
          SELECT 2, SUBSTR(settlement_kato, 1, 4) || '00000', decision_year, field,
                 COALESCE(age_band, ''), allowance_tiyn, loan_amount_tiyn
          FROM applications
          WHERE status IN ('approved', 'active', 'completed', 'breached')) AS granted
    WHERE decision_year IS NOT NULL
    GROUP BY level, scope_kato, decision_year, field, age_band";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for KeepGrantedCounts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("granted_counts")
                    .col(integer("level"))
                    .col(string_len("scope_kato", 9))
                    .col(integer("year"))
                    .col(string_len("field", 40))
                    .col(string_len("age_band", 20))
                    .col(big_integer("allowances"))
                    .col(big_integer("allowances_tiyn"))
                    .col(big_integer("loans"))
                    .col(big_integer("loans_tiyn"))
                    .primary_key(
                        Index::create()
                            .col("level")
                            .col("scope_kato")
                            .col("year")
                            .col("field")
                            .col("age_band"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(COUNT_GRANTED)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("granted_counts").to_owned())
            .await
    }
}

struct KeepNationalCounts;

impl MigrationName for KeepNationalCounts {
    fn name(&self) -> &str {
        "m0005_keep_national_granted_counts"
    }
}

/// The country's counts (level 0, no scope): its regions' summed.
const COUNT_NATIONAL: &str = "
    INSERT INTO granted_counts
        (level, scope_kato, year, field, age_band, allowances, allowances_tiyn, loans, loans_tiyn)
    SELECT 0, '', year, field, age_band,
           CAST(SUM(allowances) AS BIGINT), CAST(SUM(allowances_tiyn) AS BIGINT),
           CAST(SUM(loans) AS BIGINT), CAST(SUM(loans_tiyn) AS BIGINT)
    FROM granted_counts
    WHERE level = 1
    GROUP BY year, field, age_band";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for KeepNationalCounts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(COUNT_NATIONAL)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM granted_counts WHERE level = 0")
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
