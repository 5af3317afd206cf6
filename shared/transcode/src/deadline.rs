//! A caller's deadline, from its `grpc-timeout` header, for gRPC and
//! HTTP/JSON callers alike.

use std::time::Duration;

/// How much sooner than a caller's `grpc-timeout` a call is cut off: tonic's
/// own timer on that header, started a little earlier, would otherwise
/// sometimes fire first and answer CANCELLED instead of DEADLINE_EXCEEDED
/// (to an HTTP/JSON caller, an empty 200).
const CALLER_MARGIN: Duration = Duration::from_millis(5);

/// How long the server may work on a call whose caller set `grpc-timeout`.
pub fn caller_deadline(headers: &http::HeaderMap) -> Option<Duration> {
    grpc_timeout(headers).map(|asked| asked.saturating_sub(CALLER_MARGIN))
}

/// The caller's deadline from the `grpc-timeout` header: up to 8 digits and a unit
/// (H, M, S, m, u, n).
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        headers
    }

    #[test]
    fn caller_deadlines_are_read_in_every_unit() {
        assert_eq!(grpc_timeout(&header("2H")), Some(Duration::from_secs(7200)));
        assert_eq!(grpc_timeout(&header("3M")), Some(Duration::from_secs(180)));
        assert_eq!(grpc_timeout(&header("5S")), Some(Duration::from_secs(5)));
        assert_eq!(
            grpc_timeout(&header("250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(grpc_timeout(&header("7u")), Some(Duration::from_micros(7)));
        assert_eq!(grpc_timeout(&header("9n")), Some(Duration::from_nanos(9)));
    }

    #[test]
    fn malformed_deadlines_are_ignored() {
        for bad in ["", "S", "123456789S", "5x", "-5S", "5"] {
            assert_eq!(grpc_timeout(&header(bad)), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
