//! A gRPC status as HTTP: the code AIP-193 gives it, and the status itself as
//! `google.rpc.Status` JSON with its rich details (`BadRequest` field
//! violations, `ResourceInfo`, `PreconditionFailure`, `RetryInfo`…).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage as _, Value};
use tonic::body::Body;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

pub const JSON: &str = "application/json";

/// The HTTP status for a gRPC code (`google.rpc.Code`'s mapping, AIP-193).
pub fn http_code(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        // 499, the client closed the request: not a named constant.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `status` as `google.rpc.Status` JSON.
pub fn status_json(status: &Status, pool: &DescriptorPool) -> serde_json::Value {
    let fallback = || {
        serde_json::json!({
            "code": i32::from(status.code()),
            "message": status.message(),
        })
    };
    let Some(descriptor) = pool.get_message_by_name("google.rpc.Status") else {
        return fallback();
    };
    let mut message = if status.details().is_empty() {
        DynamicMessage::new(descriptor)
    } else {
        match DynamicMessage::decode(descriptor.clone(), status.details()) {
            Ok(message) => message,
            Err(_) => DynamicMessage::new(descriptor),
        }
    };
    // The code and message of the status itself win over its details' copy
    // (the message may have been translated for the caller).
    message.set_field_by_name("code", Value::I32(i32::from(status.code())));
    message.set_field_by_name("message", Value::String(status.message().to_string()));
    serde_json::to_value(&message).unwrap_or_else(|_| fallback())
}

/// The HTTP answer for a failed call.
pub fn error_response(status: &Status, pool: &DescriptorPool) -> Response<Body> {
    let mut response = json_response(http_code(status.code()), &status_json(status, pool));
    if status.code() == Code::ResourceExhausted
        && let Some(seconds) = retry_after_seconds(status)
    {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Whole seconds to wait, rounded up, from the status's `RetryInfo`.
fn retry_after_seconds(status: &Status) -> Option<u64> {
    let delay = status.get_details_retry_info()?.retry_delay?;
    let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    Some(seconds.max(1))
}

/// `value` as a JSON answer with `code`.
pub fn json_response(code: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from(bytes))));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// A message as proto3 JSON: 64-bit integers as strings, enums by name,
/// fields by their JSON names, defaults left out.
pub fn message_json(message: &DynamicMessage) -> serde_json::Value {
    serde_json::to_value(message).unwrap_or_else(|error| {
        tracing::warn!(
            message = message.descriptor().full_name(),
            %error,
            "a message that does not map to JSON"
        );
        serde_json::Value::Null
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn codes_map_as_aip_193_says() {
        assert_eq!(http_code(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(http_code(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_code(Code::Aborted), StatusCode::CONFLICT);
        assert_eq!(http_code(Code::FailedPrecondition), StatusCode::BAD_REQUEST);
        assert_eq!(
            http_code(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            http_code(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(http_code(Code::Cancelled).as_u16(), 499);
    }

    #[test]
    fn field_violations_are_written_as_json() {
        let status =
            aimaq_error::Error::invalid("territory_kato", "must be 9 digits").into_status();
        let json = status_json(&status, &pool());
        assert_eq!(json["code"], 3);
        let detail = &json["details"][0];
        assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest");
        assert_eq!(detail["fieldViolations"][0]["field"], "territory_kato");
        assert_eq!(
            detail["fieldViolations"][0]["description"],
            "must be 9 digits"
        );
    }

    #[test]
    fn an_exhausted_quota_says_when_to_retry() {
        let details = tonic_types::ErrorDetails::with_retry_info(Some(
            std::time::Duration::from_millis(1500),
        ));
        let status = Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        let response = error_response(&status, &pool());
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "2");
    }
}
