//! The HTTP rules of the RPCs (`google.api.http`, AIP-127): which method and
//! path template reach which RPC, and what of the request the body carries.

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

/// One piece of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// `*`: any one segment.
    Segment,
}

/// A variable of a template: the request field it sets (a dotted path) and
/// the pieces whose segments, joined by `/`, are its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub field: String,
    start: usize,
    end: usize,
}

/// A parsed path template, as `/v1/{election=elections/*}/results` or
/// `/v1/applications/{application=applications/*}:decide`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    pub variables: Vec<Variable>,
    verb: Option<String>,
    pub text: String,
}

/// What a request's body carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyRule {
    /// No body: every field not in the path comes from the query.
    None,
    /// The whole request message (`body: "*"`).
    Whole,
    /// One field of the request (`body: "field"`).
    Field(String),
}

/// One RPC as HTTP.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    pub template: Template,
    pub body: BodyRule,
    pub rpc: MethodDescriptor,
}

/// A parameter of an OpenAPI path: its name, the request field it sets, and
/// whether it is the field's whole value (not one segment of a name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathParameter {
    pub name: String,
    pub field: String,
    pub whole: bool,
}

/// The values of a template's variables in one request path.
pub type Bindings = Vec<(String, String)>;

impl Template {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| format!("{text}: a template begins with /"))?;
        // A verb follows the last segment, outside any variable.
        let (path, verb) = match rest.rfind(':') {
            Some(at) if !rest[at..].contains('}') && !rest[at..].contains('/') => {
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            _ => (rest, None),
        };
        let mut template = Template {
            pieces: Vec::new(),
            variables: Vec::new(),
            verb,
            text: text.to_string(),
        };
        for part in split_outside_braces(path) {
            template.push(part, text)?;
        }
        Ok(template)
    }

    fn push(&mut self, part: &str, text: &str) -> Result<(), String> {
        let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
            self.pieces.push(piece(part, text)?);
            return Ok(());
        };
        let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
        let start = self.pieces.len();
        for segment in pattern.split('/') {
            self.pieces.push(piece(segment, text)?);
        }
        self.variables.push(Variable {
            field: field.to_string(),
            start,
            end: self.pieces.len(),
        });
        Ok(())
    }

    /// The variables' values when `path` (percent-encoded, as sent) matches.
    pub fn matches(&self, path: &str) -> Option<Bindings> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.len() != self.pieces.len() {
            return None;
        }
        if self.verb.is_none() && segments.last().is_some_and(|s| s.contains(':')) {
            return None;
        }
        let mut decoded = Vec::with_capacity(segments.len());
        for (segment, piece) in segments.iter().zip(&self.pieces) {
            let value = percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .ok()?;
            let fits = match piece {
                Piece::Literal(literal) => value == literal.as_str(),
                Piece::Segment => !value.is_empty(),
            };
            if !fits {
                return None;
            }
            decoded.push(value.into_owned());
        }
        Some(
            self.variables
                .iter()
                .map(|v| (v.field.clone(), decoded[v.start..v.end].join("/")))
                .collect(),
        )
    }

    /// The template as an OpenAPI path: each variable's `*` segments become
    /// parameters (`{election}` for one, `{allocation_1}`… for several), its
    /// literals stay, so that a parameter never holds a `/`.
    pub fn openapi_path(&self) -> (String, Vec<PathParameter>) {
        let mut out = String::new();
        let mut parameters = Vec::new();
        let mut index = 0;
        while index < self.pieces.len() {
            out.push('/');
            match self.variables.iter().find(|v| v.start == index) {
                Some(variable) => {
                    let stars = self.pieces[variable.start..variable.end]
                        .iter()
                        .filter(|p| **p == Piece::Segment)
                        .count();
                    let whole = variable.end - variable.start == 1;
                    let mut segments = Vec::new();
                    for piece in &self.pieces[variable.start..variable.end] {
                        match piece {
                            Piece::Literal(literal) => segments.push(literal.clone()),
                            Piece::Segment => {
                                let name = if stars == 1 {
                                    variable.field.replace('.', "_")
                                } else {
                                    format!(
                                        "{}_{}",
                                        variable.field.replace('.', "_"),
                                        parameters.len() + 1
                                    )
                                };
                                segments.push(format!("{{{name}}}"));
                                parameters.push(PathParameter {
                                    name,
                                    field: variable.field.clone(),
                                    whole,
                                });
                            }
                        }
                    }
                    out.push_str(&segments.join("/"));
                    index = variable.end;
                }
                None => {
                    if let Piece::Literal(literal) = &self.pieces[index] {
                        out.push_str(literal);
                    }
                    index += 1;
                }
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        (out, parameters)
    }
}

fn piece(segment: &str, text: &str) -> Result<Piece, String> {
    match segment {
        "*" => Ok(Piece::Segment),
        "" | "**" => Err(format!("{text}: unsupported segment {segment:?}")),
        literal if literal.contains(['{', '}', '=']) => {
            Err(format!("{text}: malformed segment {literal:?}"))
        }
        literal => Ok(Piece::Literal(literal.to_string())),
    }
}

/// Splits on the `/` that are not inside `{…}`.
fn split_outside_braces(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (at, c) in path.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '/' if depth == 0 => {
                parts.push(&path[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    parts
}

/// Every RPC of `pool` that has an HTTP rule.
pub fn routes(pool: &DescriptorPool) -> Result<Vec<Route>, String> {
    let Some(http) = pool.get_extension_by_name("google.api.http") else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for service in pool.services() {
        for rpc in service.methods() {
            let options = rpc.options();
            if !options.has_extension(&http) {
                continue;
            }
            if let Value::Message(rule) = options.get_extension(&http).as_ref() {
                routes.push(route_of(rule, rpc.clone())?);
            }
        }
    }
    Ok(routes)
}

fn route_of(rule: &DynamicMessage, rpc: MethodDescriptor) -> Result<Route, String> {
    let text_of = |name: &str| match rule.get_field_by_name(name).as_deref() {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        _ => None,
    };
    let verbs = [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ];
    let (method, path) = verbs
        .into_iter()
        .find_map(|(name, method)| text_of(name).map(|path| (method, path)))
        .ok_or_else(|| format!("{}: an HTTP rule without a method", rpc.full_name()))?;
    let body = match text_of("body").as_deref() {
        None => BodyRule::None,
        Some("*") => BodyRule::Whole,
        Some(field) => BodyRule::Field(field.to_string()),
    };
    Ok(Route {
        method,
        template: Template::parse(&path)?,
        body,
        rpc,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn bound(template: &str, path: &str) -> Option<Bindings> {
        Template::parse(template).unwrap().matches(path)
    }

    #[test]
    fn variables_take_their_segments() {
        assert_eq!(
            bound("/v1/territories/{kato}", "/v1/territories/111000000"),
            Some(vec![("kato".into(), "111000000".into())])
        );
        assert_eq!(
            bound(
                "/v1/{allocation=allocations/*/*/*}",
                "/v1/allocations/P/2025/1104"
            ),
            Some(vec![(
                "allocation".into(),
                "allocations/P/2025/1104".into()
            )])
        );
        assert_eq!(
            bound(
                "/v1/{election=elections/*}/polling-stations/{station_number}:close",
                "/v1/elections/e1/polling-stations/7:close"
            ),
            Some(vec![
                ("election".into(), "elections/e1".into()),
                ("station_number".into(), "7".into())
            ])
        );
        assert_eq!(
            bound("/v1/territories/{territory.kato}", "/v1/territories/a%20b"),
            Some(vec![("territory.kato".into(), "a b".into())])
        );
    }

    #[test]
    fn a_path_matches_only_its_own_shape() {
        let decide = "/v1/{application=applications/*}:decide";
        assert!(bound(decide, "/v1/applications/9:decide").is_some());
        for path in [
            "/v1/applications/9",
            "/v1/applications/9:pay",
            "/v1/applications/:decide",
            "/v1/other/9:decide",
            "/v1/applications/9/x:decide",
        ] {
            assert_eq!(bound(decide, path), None, "{path}");
        }
        assert_eq!(bound("/v1/allocations", "/v1/allocations:export"), None);
        assert_eq!(bound("/v1/territories/{kato}", "/v1/territories/"), None);
    }

    #[test]
    fn openapi_paths_keep_slashes_out_of_parameters() {
        let path = |t: &str| Template::parse(t).unwrap().openapi_path();
        assert_eq!(
            path("/v1/{election=elections/*}/results"),
            (
                "/v1/elections/{election}/results".into(),
                vec![PathParameter {
                    name: "election".into(),
                    field: "election".into(),
                    whole: false
                }]
            )
        );
        let (text, parameters) = path("/v1/{allocation=allocations/*/*/*}:adjust");
        assert_eq!(
            text,
            "/v1/allocations/{allocation_1}/{allocation_2}/{allocation_3}:adjust"
        );
        assert_eq!(parameters.len(), 3);
        assert_eq!(
            path("/v1/territories/{territory.kato}").0,
            "/v1/territories/{territory_kato}"
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for text in ["v1/x", "/v1//x", "/v1/**", "/v1/{a=b/{c}}"] {
            assert!(Template::parse(text).is_err(), "{text}");
        }
    }
}
