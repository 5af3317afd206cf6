//! One error vocabulary for every Aimaq service. Domain and store code return
//! [`Error`]; the API edge turns it into a `tonic::Status` with rich error details
//! (`google.rpc.BadRequest`, `PreconditionFailure`, `ResourceInfo`, `RetryInfo`)
//! in one place, [`Error::into_status`].

mod amount;
pub mod fields;
mod localize;

use std::fmt;
use std::time::Duration;

pub use amount::Amount;
pub use localize::localized;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field of the request that is wrong, and why. `field` is the proto path
/// (`territory.kato`, `polling_stations[2].registered_voters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// A state of the system that the request needs and does not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionViolation {
    /// Kind of check, for example `HEADROOM`, `STATUS`, `QUOTA`.
    pub kind: String,
    /// What was checked, for example `allocations/AUYL_EL_BESIGI/2024/610000000`.
    pub subject: String,
    /// The sums the check compared, for the localized message and for clients.
    pub amounts: Vec<(Amount, aimaq_types::Money)>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {}", describe_fields(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{resource_type} {name:?} not found")]
    NotFound { resource_type: String, name: String },
    #[error("{message}")]
    AlreadyExists {
        resource_type: String,
        name: String,
        message: String,
    },
    #[error("{message}")]
    FailedPrecondition {
        message: String,
        violations: Vec<PreconditionViolation>,
    },
    /// A concurrent change won: the caller re-reads and retries.
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{message}")]
    ResourceExhausted {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A dependency (database, another service) cannot be reached; retryable.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours. The text is logged, never sent to the caller.
    #[error("internal error: {0}")]
    Internal(String),
    /// The transaction lost a race it can win by running again; never leaves the
    /// storage layer's retry loop unless retries are exhausted.
    #[error("transaction conflict: {0}")]
    Conflict(String),
}

fn describe_fields(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Error {
        Error::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    pub fn not_found(resource_type: impl Into<String>, name: impl fmt::Display) -> Error {
        Error::NotFound {
            resource_type: resource_type.into(),
            name: name.to_string(),
        }
    }

    pub fn already_exists(
        resource_type: impl Into<String>,
        name: impl fmt::Display,
        message: impl Into<String>,
    ) -> Error {
        Error::AlreadyExists {
            resource_type: resource_type.into(),
            name: name.to_string(),
            message: message.into(),
        }
    }

    /// A failed precondition with one violation; the message repeats its description.
    /// The refusal with the sums its check compared: clients read them in
    /// tiyn, and the localized message writes them in the caller's way.
    pub fn with_amounts(mut self, sums: &[(Amount, aimaq_types::Money)]) -> Error {
        if let Error::FailedPrecondition { violations, .. } = &mut self
            && let Some(first) = violations.first_mut()
        {
            first.amounts.extend_from_slice(sums);
        }
        self
    }

    pub fn precondition(
        kind: impl Into<String>,
        subject: impl fmt::Display,
        description: impl Into<String>,
    ) -> Error {
        let description = description.into();
        Error::FailedPrecondition {
            message: description.clone(),
            violations: vec![PreconditionViolation {
                kind: kind.into(),
                subject: subject.to_string(),
                description,
                amounts: Vec::new(),
            }],
        }
    }

    /// A stale `expected_version`.
    pub fn stale_version(name: impl fmt::Display, expected: i64, current: i64) -> Error {
        Error::Aborted(format!(
            "{name} is at version {current}, the request expected version {expected}: re-read and retry"
        ))
    }

    /// Stored figures that add up past what one figure holds (records written
    /// before amounts were bounded, or too much asked at once): named, so that
    /// one bad record never reads as a fault of the whole report.
    pub fn total_overflow(subject: impl fmt::Display) -> Error {
        let subject = subject.to_string();
        Error::precondition(
            "TOTAL",
            &subject,
            format!(
                "the records of {subject} add up to more than one figure can hold; \
                 ask for fewer years or a smaller territory, or correct the record out of bounds"
            ),
        )
    }

    pub fn internal(message: impl fmt::Display) -> Error {
        Error::Internal(message.to_string())
    }

    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::FailedPrecondition { .. } => Code::FailedPrecondition,
            Error::Aborted(_) | Error::Conflict(_) => Code::Aborted,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::ResourceExhausted { .. } => Code::ResourceExhausted,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The status sent to the caller. Internal faults are logged here and answered
    /// with a generic message, so no database text ever reaches a reply; every
    /// text is cut to a bounded length, so no echoed value can outgrow the
    /// status's metadata.
    pub fn into_status(self) -> Status {
        let code = self.code();
        match self.bounded() {
            Error::InvalidArgument(violations) => {
                let message = cut(
                    format!("invalid request: {}", describe_fields(&violations)),
                    MAX_MESSAGE_CHARS,
                );
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(code, message, details)
            }
            Error::NotFound {
                resource_type,
                name,
            } => {
                let message = format!("{resource_type} {name:?} not found");
                let details =
                    ErrorDetails::with_resource_info(resource_type, name, "", message.clone());
                Status::with_error_details(code, message, details)
            }
            Error::AlreadyExists {
                resource_type,
                name,
                message,
            } => {
                let details =
                    ErrorDetails::with_resource_info(resource_type, name, "", message.clone());
                Status::with_error_details(code, message, details)
            }
            Error::FailedPrecondition {
                message,
                violations,
            } => {
                let sums: Vec<_> = violations.iter().flat_map(|v| v.amounts.clone()).collect();
                let first_kind = violations.first().map(|v| v.kind.clone());
                let mut details = ErrorDetails::with_precondition_failure(
                    violations
                        .into_iter()
                        .map(|v| {
                            tonic_types::PreconditionViolation::new(
                                v.kind,
                                v.subject,
                                v.description,
                            )
                        })
                        .collect::<Vec<_>>(),
                );
                if let (Some(kind), false) = (first_kind, sums.is_empty()) {
                    details.set_error_info(kind, "aimaq", amount::metadata(&sums));
                }
                Status::with_error_details(code, message, details)
            }
            Error::ResourceExhausted {
                message,
                retry_after,
            } => Status::with_error_details(
                code,
                message,
                ErrorDetails::with_retry_info(retry_after),
            ),
            Error::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                Status::internal("internal error; it has been logged")
            }
            Error::Conflict(message) => {
                tracing::warn!(error = %message, "transaction conflict persisted after retries");
                Status::aborted("the request conflicted with concurrent changes; retry it")
            }
            Error::Aborted(message)
            | Error::Unauthenticated(message)
            | Error::PermissionDenied(message)
            | Error::Unavailable(message) => Status::new(code, message),
        }
    }
}

/// The longest message a status carries, and the longest text of one detail.
const MAX_MESSAGE_CHARS: usize = 2_000;
const MAX_DETAIL_CHARS: usize = 500;
/// Field violations sent: a batch of a thousand bad rows would otherwise make
/// a status larger than any client takes in its headers.
const MAX_VIOLATIONS: usize = 50;

/// `text` cut to `max` characters (an ellipsis marks the cut).
fn cut(mut text: String, max: usize) -> String {
    if let Some((end, _)) = text.char_indices().nth(max) {
        text.truncate(end);
        text.push('…');
    }
    text
}

impl Error {
    /// The same error with every text cut to what a reply may carry.
    fn bounded(self) -> Error {
        let detail = |text: String| cut(text, MAX_DETAIL_CHARS);
        let message = |text: String| cut(text, MAX_MESSAGE_CHARS);
        match self {
            Error::InvalidArgument(violations) => {
                let more = violations.len().saturating_sub(MAX_VIOLATIONS);
                let mut bounded: Vec<FieldViolation> = violations
                    .into_iter()
                    .take(MAX_VIOLATIONS)
                    .map(|v| FieldViolation {
                        field: detail(v.field),
                        description: detail(v.description),
                    })
                    .collect();
                if more > 0 {
                    // The last one sent says how many were left out.
                    if let Some(last) = bounded.last_mut() {
                        last.description =
                            detail(format!("{} (and {more} more not listed)", last.description));
                    }
                }
                Error::InvalidArgument(bounded)
            }
            Error::NotFound {
                resource_type,
                name,
            } => Error::NotFound {
                resource_type: detail(resource_type),
                name: detail(name),
            },
            Error::AlreadyExists {
                resource_type,
                name,
                message: text,
            } => Error::AlreadyExists {
                resource_type: detail(resource_type),
                name: detail(name),
                message: message(text),
            },
            Error::FailedPrecondition {
                message: text,
                violations,
            } => Error::FailedPrecondition {
                message: message(text),
                violations: violations
                    .into_iter()
                    .map(|v| PreconditionViolation {
                        kind: detail(v.kind),
                        subject: detail(v.subject),
                        description: detail(v.description),
                        amounts: v.amounts,
                    })
                    .collect(),
            },
            Error::ResourceExhausted {
                message: text,
                retry_after,
            } => Error::ResourceExhausted {
                message: message(text),
                retry_after,
            },
            Error::Aborted(text) => Error::Aborted(message(text)),
            Error::Unauthenticated(text) => Error::Unauthenticated(message(text)),
            Error::PermissionDenied(text) => Error::PermissionDenied(message(text)),
            Error::Unavailable(text) => Error::Unavailable(message(text)),
            internal @ (Error::Internal(_) | Error::Conflict(_)) => internal,
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        error.into_status()
    }
}

/// Collects every field violation of a request so the caller sees them all at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Violations {
        Violations::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, description: impl Into<String>) {
        if !ok {
            self.add(field, description);
        }
    }

    /// An update of a versioned resource names the version it read
    /// (`expected_version`), so that a concurrent change is caught as ABORTED.
    pub fn require_version(&mut self, expected_version: i64) {
        self.check(
            expected_version > 0,
            "expected_version",
            "required: the version read",
        );
    }

    /// Keeps the value of `result`, recording its error as a violation of `field`.
    pub fn take<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// Takes in the field violations of one part of a request (say `items[3]`),
    /// naming each field under `prefix` (none when empty); any other error is
    /// handed back.
    pub fn nest(&mut self, prefix: &str, result: Result<(), Error>) -> Result<(), Error> {
        match result {
            Err(Error::InvalidArgument(inner)) => {
                for violation in inner {
                    let field = if prefix.is_empty() {
                        violation.field
                    } else {
                        format!("{prefix}.{}", violation.field)
                    };
                    self.add(field, violation.description);
                }
                Ok(())
            }
            other => other,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }

    /// [`Violations::into_result`], then what the checks produced: the values
    /// kept by [`Violations::take`] and the like are there whenever no violation
    /// was recorded, so `checked` (`|| Some((a?, b?))`) finds them all.
    pub fn then<T>(self, checked: impl FnOnce() -> Option<T>) -> Result<T, Error> {
        self.into_result()?;
        checked().ok_or_else(|| Error::internal("a checked value is missing"))
    }
}

#[cfg(feature = "db")]
impl From<sea_orm::DbErr> for Error {
    /// Serialization failures and deadlocks become [`Error::Conflict`] (the write
    /// loop runs the transaction again); lost connections are UNAVAILABLE
    /// (retryable by the caller); anything else is our fault and stays internal.
    fn from(error: sea_orm::DbErr) -> Error {
        use sea_orm::{DbErr, RuntimeErr, sqlx};
        let sqlx_error = match &error {
            DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => {
                tracing::warn!(error = %error, "database unavailable");
                return Error::Unavailable("the database is unavailable; retry later".into());
            }
            DbErr::Exec(RuntimeErr::SqlxError(inner))
            | DbErr::Query(RuntimeErr::SqlxError(inner)) => inner.as_ref(),
            _ => return Error::Internal(error.to_string()),
        };
        match sqlx_error {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %error, "database unavailable");
                Error::Unavailable("the database is unavailable; retry later".into())
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // PostgreSQL serialization failure, deadlock, and a unique key
                // taken by a concurrent transaction (running again sees it and
                // answers properly); SQLite busy, busy snapshot and locked.
                Some("40001" | "40P01" | "23505" | "5" | "517" | "6") => {
                    Error::Conflict(db.message().to_owned())
                }
                // A sum of stored amounts past 64 bits (PostgreSQL's numeric out
                // of range, SQLite's integer overflow): too much asked at once,
                // not a fault to hide.
                Some("22003") | Some("1") if is_overflow(db.message()) => {
                    tracing::warn!(error = %error, "a total overflowed");
                    Error::total_overflow("the request")
                }
                _ => Error::Internal(error.to_string()),
            },
            _ => Error::Internal(error.to_string()),
        }
    }
}

/// Whether a database message reports an integer overflow.
#[cfg(feature = "db")]
fn is_overflow(message: &str) -> bool {
    message.contains("out of range") || message.contains("integer overflow")
}

#[cfg(test)]
mod tests;
