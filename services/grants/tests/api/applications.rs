//! Applications from submission to the end of the obligation: amounts by the
//! terms and MCI of the decision date, one open application and one allowance
//! per person, quotas under concurrency, loan schedules, departures.

use aimaq_auth::Scope;
use aimaq_proto::common::v1::Date;
use aimaq_proto::grants::v1::*;
use aimaq_testing::{TestDatabase, on_both_backends, with_token};
use aimaq_types::Iin;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::{Harness, start};

pub(crate) fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A valid IIN of someone born on 15 March 2000, numbered `n`.
fn iin(n: u32) -> String {
    (n * 10..n * 10 + 10)
        .find_map(|serial| Iin::complete(&format!("0003155{serial:04}")))
        .unwrap()
        .to_string()
}

pub(crate) fn application(id: &str, n: u32, loan_tenge: i64) -> SubmitApplicationRequest {
    SubmitApplicationRequest {
        request_id: id.into(),
        iin: iin(n),
        full_name: format!("Specialist {n}"),
        field: Field::Healthcare as i32,
        diploma: Some(Diploma {
            level: DiplomaLevel::Bachelor as i32,
            speciality: "General medicine".into(),
            year: 2022,
            institution: "Astana Medical University".into(),
        }),
        settlement_kato: "613633100".into(),
        employer: "Village outpatient clinic".into(),
        start_date: date(2022, 1, 10),
        allowance_requested: true,
        loan_requested: (loan_tenge > 0).then_some(LoanRequest {
            amount_tiyn: loan_tenge * 100,
            term_months: 180,
        }),
        validate_only: false,
    }
}

pub(crate) fn approve(
    id: &str,
    app: &Application,
    on: Option<Date>,
    loan_tenge: i64,
) -> DecideApplicationRequest {
    DecideApplicationRequest {
        request_id: id.into(),
        application: app.name.clone(),
        decision: Decision::Approve as i32,
        decision_date: on,
        grant_allowance: true,
        grant_loan: (loan_tenge > 0).then_some(LoanRequest {
            amount_tiyn: loan_tenge * 100,
            term_months: 180,
        }),
        reason: String::new(),
        expected_version: app.version,
    }
}

impl Harness {
    /// MCI values 2022–2026 and the terms' history, and quotas for Turkestan.
    pub(crate) async fn terms(&mut self, allowances: i32) {
        let admin = self.tokens.admin();
        for (n, (from, tenge)) in [
            (date(2022, 1, 1), 3063),
            (date(2022, 4, 1), 3180),
            (date(2026, 1, 1), 4325),
        ]
        .into_iter()
        .enumerate()
        {
            self.client
                .set_mci_rate(with_token(
                    SetMciRateRequest {
                        request_id: format!("mci-{n}"),
                        rate: Some(MciRate {
                            effective_from: from,
                            value_tiyn: tenge * 100,
                            source: "Budget law".into(),
                            version: 0,
                        }),
                        expected_version: 0,
                    },
                    &admin,
                ))
                .await
                .unwrap();
        }
        for (n, (from, allowance, cap)) in [
            (date(2009, 1, 1), 70, 1500),
            (date(2010, 1, 1), 100, 1500),
            (date(2025, 10, 1), 100, 2500),
        ]
        .into_iter()
        .enumerate()
        {
            self.client
                .set_policy(with_token(
                    SetPolicyRequest {
                        request_id: format!("policy-{n}"),
                        policy: Some(Policy {
                            effective_from: from,
                            allowance_mci: allowance,
                            loan_cap_mci: cap,
                            loan_rate_bp: 1,
                            max_term_months: 180,
                            obligation_months: 36,
                            eligible_fields: vec![
                                Field::Healthcare as i32,
                                Field::Education as i32,
                            ],
                            source: "Decree".into(),
                            version: 0,
                        }),
                        expected_version: 0,
                    },
                    &admin,
                ))
                .await
                .unwrap();
        }
        for year in [2022, 2026] {
            self.client
                .set_quota(with_token(
                    SetQuotaRequest {
                        request_id: format!("quota-{year}"),
                        region_kato: "610000000".into(),
                        year,
                        allowance_count: allowances,
                        loan_amount_tiyn: 100_000_000_000,
                        expected_version: 0,
                    },
                    &admin,
                ))
                .await
                .unwrap();
        }
    }

    async fn turkestan_quota(&mut self, year: i32) -> Quota {
        let admin = self.tokens.admin();
        self.client
            .get_quota(with_token(
                GetQuotaRequest {
                    region_kato: "610000000".into(),
                    year,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .quota
            .unwrap()
    }

    pub(crate) async fn submit(
        &mut self,
        request: SubmitApplicationRequest,
    ) -> Result<Application, Status> {
        let admin = self.tokens.admin();
        self.client
            .submit_application(with_token(request, &admin))
            .await
            .map(|r| r.into_inner().application.unwrap())
    }

    pub(crate) async fn decide(
        &mut self,
        request: DecideApplicationRequest,
    ) -> Result<Application, Status> {
        let admin = self.tokens.admin();
        self.client
            .decide_application(with_token(request, &admin))
            .await
            .map(|r| r.into_inner().application.unwrap())
    }

    async fn pay(&mut self, id: &str, app: &Application, kind: PaymentKind) -> Application {
        let admin = self.tokens.admin();
        self.client
            .record_payment(with_token(
                RecordPaymentRequest {
                    request_id: id.into(),
                    application: app.name.clone(),
                    kind: kind as i32,
                    payment_date: date(2022, 5, 1),
                    payment_reference: format!("payment {id}"),
                    expected_version: app.version,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    async fn depart(&mut self, id: &str, app: &Application, on: Option<Date>) -> Application {
        let admin = self.tokens.admin();
        self.client
            .record_departure(with_token(
                RecordDepartureRequest {
                    request_id: id.into(),
                    application: app.name.clone(),
                    departure_date: on,
                    reason: "moved away".into(),
                    expected_version: app.version,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }
}

fn precondition(status: &Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .unwrap()
        .violations[0]
        .subject
        .clone()
}

async fn from_application_to_the_end_of_the_obligation(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;

    let first = harness
        .submit(application("a1", 1, 5_000_000))
        .await
        .unwrap();
    assert_eq!(first.status(), ApplicationStatus::Submitted);
    assert_eq!(first.region_kato, "610000000");
    let status = harness
        .submit(application("a1-again", 1, 0))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), first.name);

    // Decided before 1 April 2022: 100 MCI at 3,063 tenge.
    let approved = harness
        .decide(approve("d1", &first, date(2022, 3, 15), 4_000_000))
        .await
        .unwrap();
    let terms = approved.terms.unwrap();
    assert_eq!(terms.allowance_tiyn, 100 * 306_300);
    assert_eq!(
        (terms.loan_amount_tiyn, terms.loan_rate_bp),
        (400_000_000, 1)
    );
    // A retry of the same decision changes nothing.
    let again = harness
        .decide(approve("d1", &first, date(2022, 3, 15), 4_000_000))
        .await
        .unwrap();
    assert_eq!(again, approved);

    // From 1 April 2022: 3,180 tenge.
    let second = harness.submit(application("a2", 2, 0)).await.unwrap();
    let approved_second = harness
        .decide(approve("d2", &second, date(2022, 4, 1), 0))
        .await
        .unwrap();
    assert_eq!(approved_second.terms.unwrap().allowance_tiyn, 100 * 318_000);

    let admin = harness.tokens.admin();
    let schedule = harness
        .client
        .get_loan_schedule(with_token(
            GetLoanScheduleRequest {
                application: first.name.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schedule.lines.len(), 180);
    let principal: i64 = schedule.lines.iter().map(|l| l.principal_tiyn).sum();
    assert_eq!(principal, 400_000_000);
    assert_eq!(schedule.lines[179].remaining_tiyn, 0);

    let paid = harness.pay("p1", &approved, PaymentKind::Allowance).await;
    let paid = harness
        .pay("p2", &paid, PaymentKind::LoanDisbursement)
        .await;
    assert_eq!(paid.status(), ApplicationStatus::Active);
    assert!(paid.allowance_paid && paid.loan_disbursed);

    // Left after 12 of 36 months: two thirds of the allowance back, and the
    // loan's outstanding principal at once.
    let left = harness.depart("leave-1", &paid, date(2023, 1, 10)).await;
    assert_eq!(left.status(), ApplicationStatus::Breached);
    let breach = left.breach.unwrap();
    assert_eq!((breach.served_months, breach.unserved_months), (12, 24));
    assert_eq!(breach.allowance_refund_tiyn, 100 * 306_300 * 24 / 36);
    // The schedule runs from the disbursement on 1 May 2022: 8 payments fell due
    // by 10 January 2023.
    let schedule = harness
        .client
        .get_loan_schedule(with_token(
            GetLoanScheduleRequest {
                application: first.name.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schedule.lines[0].due_date, date(2022, 6, 1));
    assert_eq!(
        breach.loan_principal_due_tiyn,
        schedule.lines[7].remaining_tiyn
    );

    // The allowance is once per person: even after the first application ended.
    let status = harness
        .submit(application("a1-later", 1, 0))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), first.name);

    // Serving the whole obligation completes it.
    let active = harness
        .pay("p3", &approved_second, PaymentKind::Allowance)
        .await;
    let done = harness.depart("leave-2", &active, date(2025, 2, 1)).await;
    assert_eq!(done.status(), ApplicationStatus::Completed);
    assert!(done.breach.is_none());

    let listed = harness
        .client
        .list_applications(with_token(
            ListApplicationsRequest {
                status: ApplicationStatus::Completed as i32,
                territory_kato: "613600000".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .applications;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, second.name);

    // Filters are input like any other: a malformed IIN is named, not
    // answered with an empty page.
    let malformed = harness
        .client
        .list_applications(with_token(
            ListApplicationsRequest {
                iin: "900101300008".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        malformed
            .get_details_bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "iin"
    );
    let by_person = harness
        .client
        .list_applications(with_token(
            ListApplicationsRequest {
                iin: second.iin.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .applications;
    assert!(by_person.iter().any(|a| a.name == second.name));
}

async fn bad_applications_and_foreign_deciders_are_refused(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;
    let fields = |status: Status| -> Vec<String> {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect()
    };
    let mut bad = application("bad", 3, 30_000_000);
    bad.iin = "000315500000".into();
    bad.field = Field::Sport as i32;
    if let Some(loan) = bad.loan_requested.as_mut() {
        loan.term_months = 240;
    }
    let status = harness.submit(bad).await.unwrap_err();
    assert_eq!(
        fields(status),
        [
            "iin",
            "field",
            "loan_requested.amount_tiyn",
            "loan_requested.term_months"
        ]
    );
    let status = harness
        .submit(SubmitApplicationRequest {
            settlement_kato: "613633000".into(),
            ..application("not-rural", 3, 0)
        })
        .await
        .unwrap_err();
    assert_eq!(fields(status), ["settlement_kato"]);

    let mut long = application("long", 3, 0);
    if let Some(diploma) = long.diploma.as_mut() {
        diploma.institution = "U".repeat(201);
    }
    assert_eq!(
        fields(harness.submit(long).await.unwrap_err()),
        ["diploma.institution"]
    );
    // A loan is granted within what was asked: not for longer.
    let mut shorter = application("shorter", 5, 1_000_000);
    if let Some(loan) = shorter.loan_requested.as_mut() {
        loan.term_months = 120;
    }
    let shorter = harness.submit(shorter).await.unwrap();
    let status = harness
        .decide(approve("longer", &shorter, date(2026, 2, 1), 1_000_000))
        .await
        .unwrap_err();
    assert_eq!(fields(status), ["grant_loan.term_months"]);

    let submitted = harness.submit(application("ok", 4, 0)).await.unwrap();
    // An approval needs the terms and the MCI in force on its date; a decision
    // on an application that does not exist is refused as such.
    let status = harness
        .decide(approve("before-mci", &submitted, date(2021, 6, 1), 0))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "mci-rates/2021-06-01");
    let status = harness
        .decide(approve("before-terms", &submitted, date(2008, 6, 1), 0))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "policies/2008-06-01");
    let nowhere = Application {
        name: "applications/999999".into(),
        ..submitted.clone()
    };
    let status = harness
        .decide(approve("nowhere", &nowhere, date(2026, 2, 1), 0))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let elsewhere = harness
        .tokens
        .token("akimat-11", &[Scope::GrantsDecide], Some("11"));
    let status = harness
        .client
        .decide_application(with_token(
            approve("foreign", &submitted, date(2026, 2, 1), 0),
            &elsewhere,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let writer = harness.tokens.token("clerk", &[Scope::GrantsWrite], None);
    let status = harness
        .client
        .decide_application(with_token(
            approve("clerk", &submitted, date(2026, 2, 1), 0),
            &writer,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let regional = harness
        .tokens
        .token("akimat-61", &[Scope::GrantsDecide], Some("61"));
    let decided = harness
        .client
        .decide_application(with_token(
            approve("regional", &submitted, date(2026, 2, 1), 0),
            &regional,
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(decided.terms.unwrap().allowance_tiyn, 100 * 432_500);
}

/// 100 approvals at once against a quota of 10: exactly 10 pass.
async fn concurrent_approvals_never_exceed_the_quota(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;
    let mut submitted = Vec::new();
    for n in 0..100 {
        submitted.push(
            harness
                .submit(application(&format!("race-{n}"), 100 + n, 0))
                .await
                .unwrap(),
        );
    }
    let admin = harness.tokens.admin();
    let calls: Vec<_> = submitted
        .iter()
        .enumerate()
        .map(|(n, app)| {
            let mut client = harness.client.clone();
            let request = with_token(
                approve(&format!("race-d-{n}"), app, date(2026, 3, 1), 0),
                &admin,
            );
            tokio::spawn(async move { client.decide_application(request).await })
        })
        .collect();
    let mut approved = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => approved += 1,
            Err(status) => assert_eq!(precondition(&status), "quotas/610000000/2026"),
        }
    }
    assert_eq!(approved, 10);
    let quota = harness.turkestan_quota(2026).await;
    assert_eq!(quota.allowances_approved, 10);
}

/// Deciders racing on one application, each sure of the version it read: one
/// decision wins, the others are told the application moved on, and the winner
/// alone shows in the application, the quota and the retried answer.
async fn one_of_concurrent_decisions_wins(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;
    let app = harness
        .submit(application("contested", 300, 0))
        .await
        .unwrap();
    let admin = harness.tokens.admin();
    let decisions: Vec<DecideApplicationRequest> = (0..8)
        .map(|n| {
            let mut decision = approve(&format!("contested-{n}"), &app, date(2026, 3, 1), 0);
            if n % 2 == 1 {
                decision.decision = Decision::Reject as i32;
                decision.grant_allowance = false;
                decision.reason = format!("decider {n} rejects");
            }
            decision
        })
        .collect();
    let calls: Vec<_> = decisions
        .iter()
        .map(|decision| {
            let mut client = harness.client.clone();
            let request = with_token(decision.clone(), &admin);
            tokio::spawn(async move { client.decide_application(request).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (n, call) in calls.into_iter().enumerate() {
        match call.await.unwrap() {
            Ok(answer) => winners.push((n, answer.into_inner().application.unwrap())),
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (winner, decided) = winners.remove(0);
    assert_eq!(decided.version, app.version + 1);
    let stored = harness
        .client
        .get_application(with_token(
            GetApplicationRequest {
                application: app.name.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(stored, decided);
    let quota = harness.turkestan_quota(2026).await;
    let approved = stored.status == ApplicationStatus::Approved as i32;
    assert_eq!(approved, winner % 2 == 0);
    assert_eq!(quota.allowances_approved, i32::from(approved));
    // The winner's retry gets its answer again; a loser's retry is still refused.
    let again = harness.decide(decisions[winner].clone()).await.unwrap();
    assert_eq!(again, decided);
    let loser = (winner + 1) % decisions.len();
    let refused = harness.decide(decisions[loser].clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);
}

/// Statistics count what was granted, with published totals of earlier years
/// marked historical and never loaded over recorded years.
async fn statistics_add_recorded_grants_to_published_totals(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;
    for n in 0..3 {
        let app = harness
            .submit(application(
                &format!("s-{n}"),
                300 + n,
                if n == 0 { 2_000_000 } else { 0 },
            ))
            .await
            .unwrap();
        let loan = if n == 0 { 2_000_000 } else { 0 };
        harness
            .decide(approve(&format!("s-d-{n}"), &app, date(2026, 6, 1), loan))
            .await
            .unwrap();
    }
    let admin = harness.tokens.admin();
    let load = |id: &str, year: i32, allowances: i64, loans: i64| {
        let mut client = harness.client.clone();
        let request = with_token(
            LoadHistoricalAggregateRequest {
                request_id: id.into(),
                year,
                region_kato: String::new(),
                totals: Some(GrantTotals {
                    allowances,
                    allowances_tiyn: allowances * 100,
                    loans,
                    loans_tiyn: loans * 1000,
                }),
                source: "Ministry of National Economy, annual report".into(),
            },
            &admin,
        );
        async move { client.load_historical_aggregate(request).await }
    };
    load("h-2009", 2009, 2_000, 0).await.unwrap();
    let loaded = load("h-2024", 2024, 7_000, 3_000)
        .await
        .unwrap()
        .into_inner();
    assert!(loaded.row.unwrap().historical);
    let status = load("h-2026", 2026, 1, 1).await.unwrap_err();
    assert_eq!(precondition(&status), "historical-aggregates/2026/national");

    let stats = harness
        .client
        .get_statistics(with_token(
            GetStatisticsRequest {
                from_year: 2009,
                to_year: 2026,
                territory_kato: String::new(),
                group_by: vec![StatisticsDimension::Year as i32],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let years: Vec<(i32, bool, i64)> = stats
        .rows
        .iter()
        .map(|r| (r.year, r.historical, r.totals.unwrap().allowances))
        .collect();
    assert_eq!(
        years,
        [(2009, true, 2_000), (2024, true, 7_000), (2026, false, 3)]
    );
    let national = stats.national_since_2009.unwrap();
    assert_eq!((national.allowances, national.loans), (9_003, 3_001));
    assert_eq!(national.allowances_tiyn, 900_000 + 3 * 100 * 432_500);

    let by_band = harness
        .client
        .get_statistics(with_token(
            GetStatisticsRequest {
                from_year: 2026,
                to_year: 2026,
                territory_kato: "613600000".into(),
                group_by: vec![
                    StatisticsDimension::AgeBand as i32,
                    StatisticsDimension::Field as i32,
                ],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let [row] = by_band.rows.as_slice() else {
        panic!("{:?}", by_band.rows);
    };
    assert_eq!(row.age_band(), AgeBand::AgeBand25To29);
    assert_eq!(row.field(), Field::Healthcare);
    assert_eq!(row.totals.unwrap().loans_tiyn, 200_000_000);
}

/// The annual report of a year: by region and field, approvals and
/// rejections, what was granted and paid, departures and what they owe back,
/// the region's quota beside; its grants are GetStatistics' for the year.
async fn the_annual_report_follows_each_decision(database: TestDatabase) {
    let mut harness = start(database).await;
    harness.terms(10).await;
    let admin = harness.tokens.admin();
    let left = harness
        .submit(application("r-a", 401, 5_000_000))
        .await
        .unwrap();
    let left = harness
        .decide(approve("r-a-d", &left, date(2022, 3, 15), 4_000_000))
        .await
        .unwrap();
    let left = harness.pay("r-a-p1", &left, PaymentKind::Allowance).await;
    let left = harness
        .pay("r-a-p2", &left, PaymentKind::LoanDisbursement)
        .await;
    let left = harness.depart("r-a-leave", &left, date(2023, 1, 10)).await;
    let breach = left.breach.unwrap();
    assert!(breach.allowance_refund_tiyn > 0);
    let stayed = harness.submit(application("r-b", 402, 0)).await.unwrap();
    harness
        .decide(approve("r-b-d", &stayed, date(2022, 4, 1), 0))
        .await
        .unwrap();
    let refused = harness.submit(application("r-c", 403, 0)).await.unwrap();
    let mut reject = approve("r-c-d", &refused, date(2022, 4, 2), 0);
    reject.decision = Decision::Reject as i32;
    reject.grant_allowance = false;
    reject.reason = "The employer is not in a rural settlement".into();
    harness.decide(reject).await.unwrap();

    let report = harness
        .client
        .get_annual_report(with_token(
            GetAnnualReportRequest {
                year: 2022,
                territory_kato: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let [row] = report.rows.as_slice() else {
        panic!("{:?}", report.rows);
    };
    assert_eq!(
        (row.region_kato.as_str(), row.field()),
        ("610000000", Field::Healthcare)
    );
    assert_eq!((row.approved, row.rejected, row.departures), (2, 1, 1));
    let (granted, paid) = (row.granted.unwrap(), row.paid.unwrap());
    assert_eq!((granted.allowances, granted.loans), (2, 1));
    assert_eq!(granted.loans_tiyn, 400_000_000);
    assert_eq!(
        (paid.allowances, paid.loans, paid.loans_tiyn),
        (1, 1, 400_000_000)
    );
    assert_eq!(
        (row.allowance_refund_tiyn, row.loan_principal_due_tiyn),
        (breach.allowance_refund_tiyn, breach.loan_principal_due_tiyn)
    );
    let [region] = report.regions.as_slice() else {
        panic!("{:?}", report.regions);
    };
    assert_eq!(
        (region.region_kato.as_str(), region.allowance_quota),
        ("610000000", 10)
    );
    // The region's sum is its one row, with no field.
    let by_field = AnnualReportRow {
        field: Field::Unspecified as i32,
        ..row.clone()
    };
    assert_eq!(region.total.as_ref(), Some(&by_field));
    assert_eq!(report.total.as_ref().unwrap().approved, 2);

    // The report's grants are the statistics' of the year.
    let statistics = harness
        .client
        .get_statistics(with_token(
            GetStatisticsRequest {
                from_year: 2022,
                to_year: 2022,
                ..GetStatisticsRequest::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(statistics.totals, report.total.unwrap().granted);

    // Abai region, formed in June 2022, has no decisions.
    let governance = harness.governance.as_ref().unwrap().channel().await;
    let abai = (
        "100000000",
        aimaq_proto::governance::v1::TerritoryKind::Region,
    );
    aimaq_testing::territories::formed(governance, &harness.tokens, abai, "Абай", (2022, 6, 8))
        .await;
    let elsewhere = harness
        .client
        .get_annual_report(with_token(
            GetAnnualReportRequest {
                year: 2022,
                territory_kato: "100000000".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(elsewhere.rows.is_empty() && elsewhere.regions.is_empty());
    let unknown_year = harness
        .client
        .get_annual_report(with_token(
            GetAnnualReportRequest {
                year: 1900,
                territory_kato: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert!(unknown_year.message().contains("year"), "{unknown_year:?}");

    // A territory formed later is reported on only for the years it existed.
    let of_abai = |year: i32| {
        let mut client = harness.client.clone();
        let request = with_token(
            GetAnnualReportRequest {
                year,
                territory_kato: "100000000".into(),
            },
            &admin,
        );
        async move { client.get_annual_report(request).await }
    };
    let before = of_abai(2021).await.unwrap_err();
    assert_eq!(
        before.get_details_bad_request().unwrap().field_violations[0].field,
        "territory_kato"
    );
    assert!(before.message().contains("2021"), "{before:?}");
}

on_both_backends!(
    the_annual_report_follows_each_decision,
    statistics_add_recorded_grants_to_published_totals,
    from_application_to_the_end_of_the_obligation,
    bad_applications_and_foreign_deciders_are_refused,
    concurrent_approvals_never_exceed_the_quota,
    one_of_concurrent_decisions_wins,
);
