//! The error vocabulary's mapping to gRPC statuses.

use super::*;

#[test]
fn an_update_must_name_the_version_it_read() {
    let mut violations = Violations::new();
    violations.require_version(3);
    assert!(violations.is_empty());
    violations.require_version(0);
    let Err(Error::InvalidArgument(found)) = violations.into_result() else {
        panic!("a missing version is a violation");
    };
    assert_eq!(found[0].field, "expected_version");
}

#[test]
fn checked_values_come_after_the_checks() {
    let mut violations = Violations::new();
    let code = violations.take("code", "12".parse::<u8>());
    let year = violations.take("year", "20x6".parse::<u16>());
    let refused = violations.then(|| Some((code?, year?)));
    assert!(
        matches!(&refused, Err(Error::InvalidArgument(v)) if v.len() == 1 && v[0].field == "year"),
        "{refused:?}"
    );
    let mut violations = Violations::new();
    let code = violations.take("code", "12".parse::<u8>());
    assert_eq!(violations.then(|| code).ok(), Some(12));
    // Nothing recorded, yet nothing produced: our fault, not the caller's.
    assert!(matches!(
        Violations::new().then(|| None::<u8>),
        Err(Error::Internal(_))
    ));
}

#[test]
fn nested_violations_are_named_under_their_part() {
    let mut violations = Violations::new();
    let inner = Err(Error::InvalidArgument(vec![FieldViolation {
        field: "cost_tiyn".into(),
        description: "must be positive".into(),
    }]));
    assert!(violations.nest("items[3]", inner).is_ok());
    assert!(violations.nest("items[4]", Ok(())).is_ok());
    let not_found = violations.nest("items[5]", Err(Error::not_found("thing", "things/1")));
    assert!(matches!(not_found, Err(Error::NotFound { .. })));
    let Err(Error::InvalidArgument(fields)) = violations.into_result() else {
        panic!("no violations");
    };
    assert_eq!(fields[0].field, "items[3].cost_tiyn");
    assert_eq!(fields.len(), 1);
}

#[test]
fn field_violations_become_bad_request_details() {
    let mut violations = Violations::new();
    violations.check(false, "territory.kato", "must be 9 digits");
    violations.check(true, "territory.name", "unused");
    violations.add("request_id", "must not be empty");
    let status = violations.into_result().unwrap_err().into_status();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("territory.kato: must be 9 digits")
    );
    let details = status.get_error_details();
    let bad = details.bad_request().unwrap();
    assert_eq!(bad.field_violations.len(), 2);
    assert_eq!(bad.field_violations[1].field, "request_id");
}

#[test]
fn precondition_carries_subject_and_numbers() {
    let status = Error::precondition(
        "HEADROOM",
        "allocations/X/2024/610000000",
        "asked 5.00 KZT, headroom 1.00 KZT",
    )
    .into_status();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = status.get_error_details();
    let failure = details.precondition_failure().unwrap();
    assert_eq!(
        failure.violations[0].subject,
        "allocations/X/2024/610000000"
    );
}

#[test]
fn internal_text_never_reaches_the_caller() {
    let status = Error::internal("relation \"secret_table\" does not exist").into_status();
    assert_eq!(status.code(), Code::Internal);
    assert!(!status.message().contains("secret_table"));
}

#[test]
fn echoed_values_are_cut_short() {
    let huge = "x".repeat(2 << 20);
    let status = Error::not_found("programme", format!("programs/{huge}")).into_status();
    assert!(
        status.message().len() < 4 * MAX_DETAIL_CHARS,
        "{}",
        status.message().len()
    );
    let status = Error::invalid("code", format!("{huge} is not a code")).into_status();
    assert!(status.message().len() < 4 * MAX_DETAIL_CHARS);
    let details = status.get_error_details();
    let bad = details.bad_request().unwrap();
    assert!(bad.field_violations[0].description.chars().count() <= MAX_DETAIL_CHARS + 1);
    let status = Error::Aborted(huge).into_status();
    assert!(status.message().chars().count() <= MAX_MESSAGE_CHARS + 1);
    assert_eq!(cut("Агыбет".into(), 3), "Агы…");
    assert_eq!(cut("abc".into(), 3), "abc");
}

#[test]
fn resource_exhausted_has_retry_delay() {
    let status = Error::ResourceExhausted {
        message: "rate limit".into(),
        retry_after: Some(Duration::from_millis(1500)),
    }
    .into_status();
    let details = status.get_error_details();
    assert_eq!(
        details.retry_info().unwrap().retry_delay,
        Some(Duration::from_millis(1500))
    );
}

/// A batch of many bad rows is refused with a status any client can read:
/// the first violations, the last saying how many more there were.
#[test]
fn many_violations_are_bounded() {
    let violations = (0..1000)
        .map(|n| FieldViolation {
            field: format!("statuses[{n}].settlement_kato"),
            description: "613633100 is not a rural settlement".into(),
        })
        .collect();
    let status = Error::InvalidArgument(violations).into_status();
    let details = status.get_error_details();
    let sent = &details.bad_request().unwrap().field_violations;
    assert_eq!(sent.len(), MAX_VIOLATIONS);
    assert!(
        sent[MAX_VIOLATIONS - 1]
            .description
            .ends_with("(and 950 more not listed)")
    );
    let mut headers = http::HeaderMap::new();
    status.add_header(&mut headers).unwrap();
    let size: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    assert!(size < 16 * 1024, "{size} bytes of headers");
}
