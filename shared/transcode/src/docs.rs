//! A page for people reading the HTTP/JSON API, written from the OpenAPI
//! document when the server starts: plain HTML with its own style, no script
//! and nothing fetched from elsewhere, so it reads the same in a closed network.

use std::fmt::Write as _;

use serde_json::Value;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}\
code,pre{font:13px ui-monospace,monospace}h2{border-bottom:1px solid #ccd;margin-top:2.5rem}\
.op{border:1px solid #dde;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}\
.m{display:inline-block;min-width:3.5rem;font-weight:700}.get{color:#0a6}.post{color:#06c}.put{color:#b60}\
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #dde;padding:.2rem .5rem;text-align:left;vertical-align:top}\
p.d{white-space:pre-line}";

/// The page for `document`.
pub fn page(document: &Value) -> String {
    let mut out = String::new();
    let title = text(&document["info"]["title"]);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} HTTP/JSON API</title>\
         <style>{STYLE}</style></head><body><h1>{} HTTP/JSON API</h1><p class=\"d\">{}</p>\
         <p>Send the token as <code>Authorization: Bearer …</code>; a deadline as \
         <code>grpc-timeout: 5S</code>; the language of messages as <code>Accept-Language</code>. \
         The machine-readable document is <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        escape(&title),
        escape(&title),
        escape(&text(&document["info"]["description"])),
    );
    let tags = document["tags"].as_array().cloned().unwrap_or_default();
    out.push_str("<ul>");
    for tag in &tags {
        let name = text(&tag["name"]);
        let _ = write!(out, "<li><a href=\"#{0}\">{0}</a></li>", escape(&name));
    }
    out.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul>");
    for tag in &tags {
        services(&mut out, document, tag);
    }
    schemas(&mut out, &document["components"]["schemas"]);
    out.push_str("</body></html>");
    out
}

fn services(out: &mut String, document: &Value, tag: &Value) {
    let name = text(&tag["name"]);
    let _ = write!(
        out,
        "<h2 id=\"{0}\">{0}</h2><p class=\"d\">{1}</p>",
        escape(&name),
        escape(&text(&tag["description"]))
    );
    let Some(paths) = document["paths"].as_object() else {
        return;
    };
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().into_iter().flatten() {
            let in_tag = operation["tags"]
                .as_array()
                .is_some_and(|t| t.contains(&Value::String(name.clone())));
            if in_tag {
                operation_html(out, path, method, operation);
            }
        }
    }
}

fn operation_html(out: &mut String, path: &str, method: &str, operation: &Value) {
    let _ = write!(
        out,
        "<div class=\"op\" id=\"{id}\"><span class=\"m {method}\">{upper}</span> <code>{path}</code> \
         — <b>{summary}</b><p class=\"d\">{description}</p>",
        id = escape(&text(&operation["operationId"])),
        method = escape(method),
        upper = escape(&method.to_ascii_uppercase()),
        path = escape(path),
        summary = escape(&text(&operation["summary"])),
        description = escape(&text(&operation["description"])),
    );
    if let Some(parameters) = operation["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>",
        );
        for parameter in parameters {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"d\">{}</td></tr>",
                escape(&text(&parameter["name"])),
                escape(&text(&parameter["in"])),
                type_html(&parameter["schema"]),
                escape(&text(&parameter["description"])),
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                out,
                "<p>Body ({}): {}</p>",
                escape(media),
                type_html(&body["schema"])
            );
        }
    }
    if let Some(content) = operation["responses"]["200"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                out,
                "<p>Answer ({}): {}</p>",
                escape(media),
                type_html(&body["schema"])
            );
        }
    }
    out.push_str("</div>");
}

fn schemas(out: &mut String, schemas: &Value) {
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in schemas.as_object().into_iter().flatten() {
        let _ = write!(
            out,
            "<div class=\"op\" id=\"{0}\"><b>{0}</b><p class=\"d\">{1}</p>",
            escape(name),
            escape(&text(&schema["description"]))
        );
        if let Some(properties) = schema["properties"].as_object().filter(|p| !p.is_empty()) {
            out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
            for (field, property) in properties {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td class=\"d\">{}</td></tr>",
                    escape(field),
                    type_html(property),
                    escape(&text(&property["description"])),
                );
            }
            out.push_str("</table>");
        }
        out.push_str("</div>");
    }
}

/// A schema's type, linking to the schema it refers to.
fn type_html(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"]
        .as_str()
        .or_else(|| schema["allOf"][0]["$ref"].as_str())
    {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#{0}\">{0}</a>", escape(name));
    }
    match schema["type"].as_str() {
        Some("array") => format!("array of {}", type_html(&schema["items"])),
        Some("object") if schema["additionalProperties"].is_object() => {
            format!("map of {}", type_html(&schema["additionalProperties"]))
        }
        Some(kind) => {
            let mut shown = escape(kind);
            if let Some(format) = schema["format"].as_str() {
                let _ = write!(shown, " ({})", escape(format));
            }
            if let Some(values) = schema["enum"].as_array() {
                let names: Vec<String> = values.iter().map(|v| escape(&text(v))).collect();
                let _ = write!(shown, ": {}", names.join(", "));
            }
            shown
        }
        None => "any".to_string(),
    }
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_default()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_operations_and_escapes_text() {
        let document = serde_json::json!({
            "info": { "title": "Aimaq", "description": "a <b> & c" },
            "tags": [{ "name": "S", "description": "the service" }],
            "paths": { "/v1/x/{id}": { "get": {
                "operationId": "S_Get", "summary": "Get", "tags": ["S"],
                "parameters": [{ "name": "id", "in": "path", "schema": { "type": "string" } }],
                "responses": { "200": { "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/X" } } } } }
            } } },
            "components": { "schemas": { "X": { "type": "object", "properties": {
                "n": { "type": "string", "format": "int64" } } } } }
        });
        let page = page(&document);
        assert!(page.contains("a &lt;b&gt; &amp; c"));
        assert!(page.contains("<code>/v1/x/{id}</code>"));
        assert!(page.contains("<a href=\"#X\">X</a>"));
        assert!(page.contains("string (int64)"));
        assert!(
            !page.contains("<script") && !page.contains("http://") && !page.contains("https://")
        );
    }
}
