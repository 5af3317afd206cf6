//! The kept counts (the country, a region, a district) agree with the
//! applications counted one settlement at a time, after a random mix of
//! approvals and refusals over two years, fields and loans.

use std::collections::BTreeMap;

use aimaq_proto::governance::v1::TerritoryKind;
use aimaq_proto::grants::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};

use super::applications::{application, approve, date};
use super::start;

const VILLAGES: [&str; 3] = ["613633100", "613633200", "611033100"];

/// (year, field, age band) → (allowances, their money, loans, their money).
type Summed = BTreeMap<(i32, i32, i32), [i64; 4]>;

fn summed(into: &mut Summed, rows: &[StatisticsRow]) {
    for row in rows {
        let totals = row.totals.unwrap_or_default();
        let sum = into.entry((row.year, row.field, row.age_band)).or_default();
        for (sum, more) in sum.iter_mut().zip([
            totals.allowances,
            totals.allowances_tiyn,
            totals.loans,
            totals.loans_tiyn,
        ]) {
            *sum += more;
        }
    }
}

async fn kept_statistics_equal_a_recount(database: TestDatabase) {
    let mut harness = start(database).await;
    let more = [
        ("611033000", TerritoryKind::RuralDistrict),
        ("611033100", TerritoryKind::Village),
    ];
    let governance = harness.governance.as_ref().unwrap().channel().await;
    aimaq_testing::territories::seed(governance, &harness.tokens, &more).await;
    harness.terms(100).await;
    let mut state = 20_261_206_u64;
    let mut draw = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) % n
    };
    for n in 0..24_u32 {
        let loan = if draw(2) == 0 { 0 } else { 2_000_000 };
        let mut asked = application(&format!("k-{n}"), 500 + n, loan);
        asked.settlement_kato = VILLAGES[usize::try_from(draw(3)).unwrap()].into();
        asked.field =
            [Field::Healthcare, Field::Education][usize::try_from(draw(2)).unwrap()] as i32;
        let submitted = harness.submit(asked).await.unwrap();
        let on = if draw(2) == 0 {
            date(2022, 6, 1)
        } else {
            date(2026, 6, 1)
        };
        let mut decision = approve(&format!("k-d-{n}"), &submitted, on, loan);
        if draw(4) == 0 {
            decision.decision = Decision::Reject as i32;
            decision.grant_allowance = false;
            decision.grant_loan = None;
            decision.reason = "Not a rural employer".into();
        }
        harness.decide(decision).await.unwrap();
    }
    let admin = harness.tokens.admin();
    let statistics = |territory: &str| {
        let mut client = harness.client.clone();
        let request = with_token(
            GetStatisticsRequest {
                from_year: 2009,
                to_year: 2026,
                territory_kato: territory.into(),
                group_by: [
                    StatisticsDimension::Year,
                    StatisticsDimension::Field,
                    StatisticsDimension::AgeBand,
                ]
                .map(|d| d as i32)
                .to_vec(),
            },
            &admin,
        );
        async move { client.get_statistics(request).await.unwrap().into_inner() }
    };
    let mut by_village = BTreeMap::new();
    for village in VILLAGES {
        summed(
            by_village.entry(&village[..4]).or_default(),
            &statistics(village).await.rows,
        );
    }
    let mut all = Summed::new();
    for (district, villages) in &by_village {
        let mut kept = Summed::new();
        summed(
            &mut kept,
            &statistics(&format!("{district}00000")).await.rows,
        );
        assert_eq!(&kept, villages, "district {district}");
        summed(
            &mut all,
            &statistics(&format!("{district}00000")).await.rows,
        );
    }
    for territory in ["", "610000000"] {
        let mut kept = Summed::new();
        summed(&mut kept, &statistics(territory).await.rows);
        assert_eq!(kept, all, "territory {territory:?}");
    }
    // The national total since 2009 is the country's counts summed; by region,
    // the country's rows add up to the same.
    let country = statistics("").await;
    let total = country.totals.unwrap_or_default();
    let national = country.national_since_2009.unwrap_or_default();
    assert_eq!(national, total, "the national total");
    let sums = all.values().fold([0; 4], |mut sums, more| {
        sums.iter_mut()
            .zip(more)
            .for_each(|(sum, more)| *sum += more);
        sums
    });
    assert_eq!(
        [
            total.allowances,
            total.allowances_tiyn,
            total.loans,
            total.loans_tiyn
        ],
        sums
    );
    let request = GetStatisticsRequest {
        from_year: 2009,
        to_year: 2026,
        group_by: vec![StatisticsDimension::Region as i32],
        ..GetStatisticsRequest::default()
    };
    let by_region = harness
        .client
        .clone()
        .get_statistics(with_token(request, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_region.totals, Some(total), "by region");
    assert!(
        by_region
            .rows
            .iter()
            .all(|row| row.region_kato == "610000000"),
        "{:?}",
        by_region.rows
    );
    assert!(
        all.values().any(|sums| sums[2] > 0),
        "some loans were granted"
    );
}

on_both_backends!(kept_statistics_equal_a_recount);
