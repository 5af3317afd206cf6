//! The request message of a transcoded call, from the path's variables, the
//! query's parameters and the JSON body (proto3 JSON: unknown fields are
//! refused, 64-bit integers as strings or numbers, enums by name).

use std::collections::HashSet;

use base64::Engine as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage as _, Value,
};
use tonic::Status;

use crate::route::{BodyRule, Route};

fn invalid(field: &str, description: impl Into<String>) -> Status {
    aimaq_error::Error::invalid(field, description).into_status()
}

/// The request message of `route` from a request's parts.
pub fn build(
    route: &Route,
    bindings: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    let descriptor = route.rpc.input();
    let mut message = match &route.body {
        BodyRule::Whole => from_json(descriptor, body)?,
        BodyRule::None => {
            if !is_blank(body) {
                return Err(invalid(
                    "body",
                    "this method takes no body: give its fields in the query",
                ));
            }
            DynamicMessage::new(descriptor)
        }
        BodyRule::Field(name) => body_field(descriptor, name, body)?,
    };
    let mut given = HashSet::new();
    for (field, value) in bindings {
        set(&mut message, field, value, Source::Path)?;
        given.insert(field.clone());
    }
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if route.body == BodyRule::Whole {
            return Err(invalid(
                &name,
                "this method takes its fields in the body, not the query",
            ));
        }
        if given.contains(name.as_ref()) && !is_list(&message, &name) {
            return Err(invalid(&name, "given more than once"));
        }
        set(&mut message, &name, &value, Source::Query)?;
        given.insert(name.into_owned());
    }
    Ok(message)
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// A message of type `descriptor` from a JSON object (`{}` when empty).
pub fn from_json(descriptor: MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, Status> {
    if is_blank(body) {
        return Ok(DynamicMessage::new(descriptor));
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize(descriptor, &mut reader)
        .and_then(|message| reader.end().map(|()| message))
        .map_err(|error| invalid("body", format!("not a valid JSON request: {error}")))?;
    Ok(message)
}

fn body_field(
    descriptor: MessageDescriptor,
    name: &str,
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    let mut message = DynamicMessage::new(descriptor.clone());
    let field = descriptor
        .get_field_by_name(name)
        .ok_or_else(|| Status::internal(format!("an HTTP rule names no field {name}")))?;
    let Kind::Message(kind) = field.kind() else {
        return Err(Status::internal("an HTTP body field that is not a message"));
    };
    message.set_field(&field, Value::Message(from_json(kind, body)?));
    Ok(message)
}

fn is_list(message: &DynamicMessage, path: &str) -> bool {
    let mut descriptor = message.descriptor();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(field) = field_named(&descriptor, part) else {
            return false;
        };
        if parts.peek().is_none() {
            return field.is_list();
        }
        match field.kind() {
            Kind::Message(inner) => descriptor = inner,
            _ => return false,
        }
    }
    false
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Path,
    Query,
}

/// The field by its proto name or its JSON name.
fn field_named(descriptor: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    descriptor
        .get_field_by_name(name)
        .or_else(|| descriptor.get_field_by_json_name(name))
}

/// Sets the field at the dotted `path` to `text`, appending to a list.
fn set(message: &mut DynamicMessage, path: &str, text: &str, source: Source) -> Result<(), Status> {
    set_value(message, path, text, source).map_err(|why| invalid(path, why))
}

/// Sets the field at the dotted `path` (proto or JSON names) of `message`
/// from `text`, written as proto3 JSON writes such a value in a string (a
/// number, `true`, an enum's name, base64); a list gets one more item. The
/// error says what is wrong.
pub fn set_from_text(message: &mut DynamicMessage, path: &str, text: &str) -> Result<(), String> {
    set_value(message, path, text, Source::Query)
}

fn set_value(
    message: &mut DynamicMessage,
    path: &str,
    text: &str,
    source: Source,
) -> Result<(), String> {
    let mut target = message;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = field_named(&target.descriptor(), part)
            .ok_or_else(|| "no such field in this request".to_string())?;
        if parts.peek().is_some() {
            let nested = match target.get_field_mut(&field) {
                Value::Message(inner) if !field.is_map() => Some(inner),
                _ => None,
            };
            target = nested.ok_or_else(|| format!("{part} has no fields to set"))?;
            continue;
        }
        if field.is_map() {
            return Err("a map is given in a JSON body, not the query".into());
        }
        let value = scalar(&field.kind(), text)?;
        if field.is_list() {
            if let Value::List(items) = target.get_field_mut(&field) {
                items.push(value);
            }
        } else {
            if source == Source::Path
                && target.has_field(&field)
                && *target.get_field(&field) != value
            {
                return Err("the path and the body give different values".into());
            }
            target.set_field(&field, value);
        }
    }
    Ok(())
}

/// A value of `kind` from text, as proto3 JSON writes it in a string.
fn scalar(kind: &Kind, text: &str) -> Result<Value, String> {
    fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
        text.parse().map_err(|_| format!("{text:?} is not {what}"))
    }
    Ok(match kind {
        Kind::String => Value::String(text.to_string()),
        Kind::Bool => Value::Bool(number(text, "true or false")?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(number(text, "a 32-bit integer")?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(number(text, "a 64-bit integer")?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(number(text, "an unsigned 32-bit integer")?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(number(text, "an unsigned 64-bit integer")?),
        Kind::Float => Value::F32(number(text, "a number")?),
        Kind::Double => Value::F64(number(text, "a number")?),
        Kind::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
                .map_err(|_| format!("{text:?} is not base64"))?
                .into(),
        ),
        Kind::Enum(kind) => {
            let value = kind
                .get_value_by_name(text)
                .or_else(|| text.parse().ok().and_then(|n| kind.get_value(n)))
                .ok_or_else(|| {
                    let names: Vec<_> = kind.values().map(|v| v.name().to_string()).collect();
                    format!("{text:?} is not one of {}", names.join(", "))
                })?;
            Value::EnumNumber(value.number())
        }
        Kind::Message(kind) => {
            return Err(format!(
                "a {} is given by its fields, as name.field=value",
                kind.name()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::route::routes;
    use prost_reflect::DescriptorPool;

    fn route(rpc: &str) -> Route {
        let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap();
        routes(&pool)
            .unwrap()
            .into_iter()
            .find(|r| r.rpc.full_name() == rpc)
            .unwrap()
    }

    fn json(message: &DynamicMessage) -> serde_json::Value {
        serde_json::to_value(message).unwrap()
    }

    #[test]
    fn query_parameters_set_scalars_lists_enums_and_nested_fields() {
        let stats = route("aimaq.grants.v1.GrantsService.GetStatistics");
        let query = "from_year=2020&toYear=2024&territory_kato=110000000&group_by=STATISTICS_DIMENSION_YEAR&group_by=STATISTICS_DIMENSION_FIELD";
        let message = build(&stats, &[], Some(query), b"").unwrap();
        let written = json(&message);
        assert_eq!(written["fromYear"], 2020);
        assert_eq!(written["toYear"], 2024);
        assert_eq!(written["groupBy"].as_array().unwrap().len(), 2);

        let mci = route("aimaq.grants.v1.GrantsService.GetMciRate");
        let message = build(
            &mci,
            &[],
            Some("date.year=2025&date.month=1&date.day=1"),
            b"",
        )
        .unwrap();
        assert_eq!(json(&message)["date"]["month"], 1);
    }

    #[test]
    fn bad_parameters_are_named() {
        let stats = route("aimaq.grants.v1.GrantsService.GetStatistics");
        for (query, field) in [
            ("from_year=twenty", "from_year"),
            ("nonsense=1", "nonsense"),
            ("group_by=BY_MOON", "group_by"),
            ("from_year=1&from_year=2", "from_year"),
        ] {
            let refused = build(&stats, &[], Some(query), b"").unwrap_err();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{query}");
            assert!(
                refused.message().contains(field),
                "{query}: {}",
                refused.message()
            );
        }
        let refused = build(&stats, &[], None, b"{\"fromYear\": 1}").unwrap_err();
        assert!(refused.message().contains("no body"));
    }

    #[test]
    fn bodies_are_proto3_json_and_unknown_fields_are_refused() {
        let allocate = route("aimaq.budget.v1.BudgetService.Allocate");
        let body = br#"{"requestId":"r1","programCode":"P","fiscalYear":2025,"territoryKato":"111000000","amountTiyn":"100"}"#;
        let message = build(&allocate, &[], None, body).unwrap();
        assert_eq!(json(&message)["amountTiyn"], "100");
        let refused = build(&allocate, &[], None, br#"{"amount":"100"}"#).unwrap_err();
        assert!(
            refused.message().contains("amount"),
            "{}",
            refused.message()
        );
        assert!(build(&allocate, &[], None, b"{").is_err());
        assert!(build(&allocate, &[], None, b"{} {}").is_err());
        let refused = build(&allocate, &[], Some("fiscal_year=1"), b"{}").unwrap_err();
        assert!(refused.message().contains("fiscal_year"));
    }

    #[test]
    fn the_path_must_agree_with_the_body() {
        let decide = route("aimaq.grants.v1.GrantsService.DecideApplication");
        let bound = [("application".to_string(), "applications/7".to_string())];
        let message = build(&decide, &bound, None, br#"{"reason":"ok"}"#).unwrap();
        assert_eq!(json(&message)["application"], "applications/7");
        let same = br#"{"application":"applications/7"}"#;
        assert!(build(&decide, &bound, None, same).is_ok());
        let other = br#"{"application":"applications/8"}"#;
        assert!(build(&decide, &bound, None, other).is_err());
    }
}
