//! The OpenAPI 3.1 document of the HTTP/JSON API, made from the descriptors:
//! every routed RPC as an operation (tagged with its service), its path and
//! query parameters, its body, and every message it reaches as a schema of its
//! proto3 JSON form, with the proto comments as descriptions.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

use crate::route::{BodyRule, PathParameter, Route};

/// How deep a query parameter may name a nested field (`date.year`).
const MAX_QUERY_DEPTH: usize = 3;
const STATUS: &str = "google.rpc.Status";

/// The document for `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    let mut tags = BTreeMap::new();
    for route in routes {
        let service = route.rpc.parent_service();
        tags.entry(service.full_name().to_string())
            .or_insert_with(|| {
                let mut tag = json!({ "name": service.full_name() });
                if let Some(text) = comment(&service.parent_file(), service.path()) {
                    tag["description"] = Value::String(text);
                }
                tag
            });
        let (path, operation) = operation(route, &mut schemas);
        paths
            .entry(path)
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    let status = routes
        .first()
        .and_then(|r| r.rpc.parent_pool().get_message_by_name(STATUS));
    if let Some(status) = status {
        schemas.add(&status);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Aimaq",
            "version": "v1",
            "description": "Regional development programmes: local self-government, budget allocations and grants. \
                Every operation is also a gRPC method of the same name; the JSON is proto3 JSON \
                (64-bit integers as strings, enums by name). Failures are google.rpc.Status with their details.",
        },
        "security": [{ "bearer": [] }],
        "tags": tags.into_values().collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token of the calling system: its agency, scopes and territory."
                },
                "clientCertificate": {
                    "type": "mutualTLS",
                    "description": "The calling system's certificate, where the deployment requires one."
                }
            },
            "schemas": schemas.done,
        }
    })
}

/// One operation, and its OpenAPI path.
fn operation(route: &Route, schemas: &mut Schemas) -> (String, Value) {
    let rpc = &route.rpc;
    let input = rpc.input();
    let (path, path_parameters) = route.template.openapi_path();
    let bound: BTreeSet<String> = route
        .template
        .variables
        .iter()
        .map(|v| v.field.clone())
        .collect();
    let mut parameters: Vec<Value> = path_parameters
        .iter()
        .map(|parameter| path_parameter(&input, parameter))
        .collect();
    if route.body == BodyRule::None {
        query_parameters(&input, "", &bound, 0, &mut parameters);
    }
    let mut operation = json!({
        "operationId": format!("{}_{}", rpc.parent_service().name(), rpc.name()),
        "tags": [rpc.parent_service().full_name()],
        "summary": rpc.name(),
        "parameters": parameters,
        "responses": responses(route, schemas),
    });
    if let Some(text) = comment(&rpc.parent_file(), rpc.path()) {
        operation["description"] = Value::String(text);
    }
    if route.body != BodyRule::None {
        operation["requestBody"] = request_body(route, schemas);
    }
    (path, operation)
}

fn path_parameter(input: &MessageDescriptor, path: &PathParameter) -> Value {
    let target = field_at(input, &path.field);
    let schema = match &target {
        Some(target) if path.whole && target.kind().as_message().is_none() => {
            scalar_schema(&target.kind())
        }
        _ => json!({ "type": "string" }),
    };
    let mut parameter =
        json!({ "name": path.name, "in": "path", "required": true, "schema": schema });
    if let Some(text) = target.and_then(|f| comment(&f.parent_file(), f.path())) {
        parameter["description"] = Value::String(text);
    }
    parameter
}

fn field_at(message: &MessageDescriptor, path: &str) -> Option<FieldDescriptor> {
    let mut descriptor = message.clone();
    let mut found = None;
    for part in path.split('.') {
        let field = descriptor.get_field_by_name(part)?;
        if let Kind::Message(inner) = field.kind() {
            descriptor = inner;
        }
        found = Some(field);
    }
    found
}

/// Every field not in the path, as a query parameter; a message's fields by
/// their dotted names.
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    bound: &BTreeSet<String>,
    depth: usize,
    out: &mut Vec<Value>,
) {
    for field in message.fields() {
        let name = format!("{prefix}{}", field.name());
        if bound.contains(&name) || field.is_map() {
            continue;
        }
        match field.kind() {
            Kind::Message(inner) if !is_well_known(&inner) => {
                if depth < MAX_QUERY_DEPTH && !field.is_list() {
                    query_parameters(&inner, &format!("{name}."), bound, depth + 1, out);
                }
            }
            kind => {
                let mut schema = scalar_schema(&kind);
                if field.is_list() {
                    schema = json!({ "type": "array", "items": schema });
                }
                let mut parameter = json!({ "name": name, "in": "query", "schema": schema });
                if field.is_list() {
                    parameter["explode"] = Value::Bool(true);
                }
                if let Some(text) = comment(&field.parent_file(), field.path()) {
                    parameter["description"] = Value::String(text);
                }
                out.push(parameter);
            }
        }
    }
}

fn request_body(route: &Route, schemas: &mut Schemas) -> Value {
    let input = route.rpc.input();
    let schema = schemas.reference(&input);
    if route.rpc.is_client_streaming() {
        return json!({
            "required": true,
            "description": "The stream's requests: a JSON array, or one request a line (NDJSON).",
            "content": {
                "application/json": { "schema": { "type": "array", "items": schema } },
                "application/x-ndjson": { "schema": schema },
            }
        });
    }
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn responses(route: &Route, schemas: &mut Schemas) -> Value {
    let output = schemas.reference(&route.rpc.output());
    let ok = if route.rpc.is_server_streaming() {
        json!({
            "description": "The stream: one message a line (NDJSON), or Server-Sent Events when \
                `text/event-stream` is accepted (resumable with Last-Event-ID). A failure after the \
                first message ends it with an error line or an `error` event.",
            "content": {
                "application/x-ndjson": { "schema": output },
                "text/event-stream": { "schema": { "type": "string" } },
            }
        })
    } else {
        json!({ "description": "OK", "content": { "application/json": { "schema": output } } })
    };
    let error = json!({
        "description": "A google.rpc.Status with the gRPC code, a message in the caller's language, \
            and details (BadRequest field violations, ResourceInfo, PreconditionFailure, RetryInfo).",
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{STATUS}") } } }
    });
    json!({ "200": ok, "default": error })
}

/// The schemas written so far.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
}

impl Schemas {
    /// The schema of `message`, written once, and a reference to it.
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known(message) {
            return schema;
        }
        self.add(message);
        json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) })
    }

    fn add(&mut self, message: &MessageDescriptor) {
        if self.done.contains_key(message.full_name()) {
            return;
        }
        // Placed first, so that a message that contains itself ends.
        self.done
            .insert(message.full_name().to_string(), Value::Null);
        let mut properties = serde_json::Map::new();
        for field in message.fields() {
            let mut schema = self.field_schema(&field);
            if let Some(text) = comment(&field.parent_file(), field.path()) {
                schema = with_description(schema, text);
            }
            properties.insert(field.json_name().to_string(), schema);
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if let Some(text) = comment(&message.parent_file(), message.path()) {
            schema["description"] = Value::String(text);
        }
        self.done.insert(message.full_name().to_string(), schema);
    }

    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        let value = |schemas: &mut Schemas, kind: &Kind| match kind {
            Kind::Message(inner) => schemas.reference(inner),
            other => scalar_schema(other),
        };
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return json!({ "type": "object" });
            };
            let values = entry.map_entry_value_field();
            return json!({ "type": "object", "additionalProperties": value(self, &values.kind()) });
        }
        let schema = value(self, &field.kind());
        if field.is_list() {
            json!({ "type": "array", "items": schema })
        } else {
            schema
        }
    }
}

/// A `$ref` cannot have siblings in every tool: it is wrapped to carry one.
fn with_description(schema: Value, text: String) -> Value {
    if schema.get("$ref").is_some() {
        json!({ "allOf": [schema], "description": text })
    } else {
        let mut schema = schema;
        schema["description"] = Value::String(text);
        schema
    }
}

fn scalar_schema(kind: &Kind) -> Value {
    match kind {
        Kind::String => json!({ "type": "string" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int64", "minimum": 0 })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" })
        }
        Kind::Float | Kind::Double => json!({ "type": "number" }),
        Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Kind::Enum(kind) => json!({
            "type": "string",
            "enum": kind.values().map(|v| v.name().to_string()).collect::<Vec<_>>(),
        }),
        Kind::Message(message) => well_known(message).unwrap_or_else(
            || json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) }),
        ),
    }
}

fn is_well_known(message: &MessageDescriptor) -> bool {
    well_known(message).is_some()
}

/// The JSON forms proto3 gives the well-known types.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$" })
        }
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": { "@type": { "type": "string" } },
            "required": ["@type"],
        }),
        "google.protobuf.Empty" => json!({ "type": "object", "additionalProperties": false }),
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        _ => return None,
    })
}

/// The comment before the element at `path` of `file`, if it has one.
pub fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?.trim();
    let joined: Vec<&str> = text.lines().map(str::trim).collect();
    (!text.is_empty()).then(|| joined.join("\n"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::route::routes;
    use prost_reflect::DescriptorPool;

    fn doc() -> Value {
        let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).unwrap();
        document(&routes(&pool).unwrap())
    }

    #[test]
    fn every_routed_rpc_is_an_operation() {
        let doc = doc();
        let count: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|methods| methods.as_object().unwrap().len())
            .sum();
        assert_eq!(count, 89);
        let decide = &doc["paths"]["/v1/applications/{application}:decide"]["post"];
        assert_eq!(decide["parameters"][0]["in"], "path");
        assert!(
            decide["description"]
                .as_str()
                .unwrap()
                .contains("decide scope")
        );
        let report = &doc["paths"]["/v1/programs/{program_code}/execution-report"]["get"];
        let names: Vec<_> = report["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert!(names.contains(&json!("from_year")), "{names:?}");
    }

    #[test]
    fn schemas_follow_proto3_json() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        let allocation = &schemas["aimaq.budget.v1.Allocation"]["properties"];
        assert_eq!(allocation["amountTiyn"]["type"], "string");
        assert!(schemas[STATUS].is_object());
        for (name, schema) in schemas.as_object().unwrap() {
            assert!(schema.is_object(), "{name} was never written");
        }
    }
}
