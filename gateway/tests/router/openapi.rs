//! The OpenAPI document (`GET /openapi.json`) against the router it describes: the same routes
//! (both read from `routes::served`, the table the router is built from), the security each
//! route enforces, and the shapes, ranges and formats it documents, checked by sending requests.

use std::collections::BTreeSet;
use std::str::FromStr;

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;
use wellbeing_domain::goals::GoalType;
use wellbeing_gateway::routes::{self, API_PREFIX};

use crate::harness::{Harness, harness};

/// The `/api/v1` routes that need no token.
const OPEN_API_ROUTES: [&str; 3] = [
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub(crate) async fn served_document(harness: &Harness) -> Value {
    let answer = harness
        .send_as(None, Method::GET, "/openapi.json", None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    answer.body
}

/// Every operation of the document: (method in upper case, path, operation).
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                found.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    found
}

fn served() -> BTreeSet<(String, String)> {
    routes::served()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path))
        .collect()
}

fn is_protected(path: &str) -> bool {
    path.starts_with(API_PREFIX) && !OPEN_API_ROUTES.contains(&path)
}

/// A path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", &Uuid::new_v4().to_string())
}

/// `schema`, or what its `$ref` points to.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{reference} does not resolve")),
        None => schema,
    }
}

fn request_body_schema<'a>(document: &'a Value, operation: &'a Value) -> &'a Value {
    resolve(
        document,
        &operation["requestBody"]["content"]["application/json"]["schema"],
    )
}

fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference.clone());
            }
            map.values().for_each(|value| references(value, found));
        }
        Value::Array(items) => items.iter().for_each(|value| references(value, found)),
        _ => {}
    }
}

/// Whether `value` fits `schema`: enough of JSON Schema for the shapes of this document
/// (`$ref`, `oneOf`, `enum`, `type`, `properties`, `required`, `items`).
pub(crate) fn fits(document: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let schema = resolve(document, schema);
    if let Some(variants) = schema["oneOf"].as_array() {
        return if variants
            .iter()
            .any(|variant| fits(document, variant, value).is_ok())
        {
            Ok(())
        } else {
            Err(format!("{value} fits no variant of {schema}"))
        };
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Err(format!("{value} is not one of {values:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let type_of = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let integer_as_number = type_of == "integer" && types.contains(&"number");
    if !(types.contains(&type_of) || integer_as_number) {
        return Err(format!("{value} is not of type {types:?}"));
    }
    if let Value::Object(map) = value {
        for required in string_set(&schema["required"]) {
            if !map.contains_key(&required) {
                return Err(format!("{value} lacks {required}"));
            }
        }
        for (name, field) in map {
            match schema["properties"].get(name) {
                Some(property) => fits(document, property, field)?,
                None => return Err(format!("{name} is not documented in {schema}")),
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for element in items {
            fits(document, item, element)?;
        }
    }
    Ok(())
}

/// The documented schema of `status` answers to `method path`.
pub(crate) fn answer_schema<'a>(
    document: &'a Value,
    method: &str,
    path: &str,
    status: u16,
) -> &'a Value {
    let response = resolve(
        document,
        &document["paths"][path][method]["responses"][status.to_string()],
    );
    &response["content"]["application/json"]["schema"]
}

fn string_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_served_without_a_token() {
    let harness = harness();
    let document = served_document(&harness).await;
    let version = document["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1"), "{version}");
    assert_eq!(
        document,
        serde_json::to_value(wellbeing_gateway::openapi::document()).unwrap()
    );
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        resolve(&document, &json!({"$ref": reference}));
    }
}

#[tokio::test]
async fn the_document_and_the_router_serve_the_same_routes() {
    let harness = harness();
    let document = served_document(&harness).await;
    let table = routes::served();
    assert_eq!(
        served().len(),
        table.len(),
        "the route table repeats a route"
    );
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let served = served();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served, not documented: {undocumented:?}"
    );
    assert!(
        not_served.is_empty(),
        "documented, not served: {not_served:?}"
    );
    for (method, path) in table {
        let answer = harness
            .send_as(None, method.clone(), &concrete(&path), None)
            .await;
        assert!(
            answer.status != StatusCode::NOT_FOUND
                && answer.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is not served: {}",
            answer.status
        );
    }
}

#[tokio::test]
async fn the_documented_security_is_the_one_enforced() {
    let harness = harness();
    let document = served_document(&harness).await;
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    for (method, path, operation) in operations(&document) {
        let expected = if is_protected(&path) {
            json!([{"bearer": []}])
        } else {
            json!([])
        };
        assert_eq!(operation["security"], expected, "{method} {path}");
        assert!(operation["summary"].is_string(), "{method} {path}");
        assert!(operation["tags"][0].is_string(), "{method} {path}");
        let method = Method::from_str(&method).unwrap();
        let answer = harness
            .send_as(None, method.clone(), &concrete(&path), None)
            .await;
        assert_eq!(
            answer.status == StatusCode::UNAUTHORIZED,
            is_protected(&path),
            "{method} {path} without a token: {}",
            answer.status
        );
        if is_protected(&path) {
            assert!(operation["responses"]["401"].is_object(), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn the_error_schema_has_detail_code_and_field() {
    let harness = harness();
    let document = served_document(&harness).await;
    let schemas = &document["components"]["schemas"];
    let error = &schemas["ErrorBody"];
    let properties = property_names(error);
    for name in ["detail", "code", "field", "errors"] {
        assert!(properties.contains(name), "{name}");
    }
    assert_eq!(
        string_set(&error["required"]),
        BTreeSet::from(["code".to_owned(), "detail".to_owned()])
    );
    let codes = string_set(&resolve(&document, &error["properties"]["code"])["enum"]);
    let item = resolve(&document, &error["properties"]["errors"]["items"]);
    assert_eq!(
        property_names(item),
        BTreeSet::from(["detail".to_owned(), "field".to_owned(), "index".to_owned()])
    );
    // Every reusable error answer carries that schema.
    for (name, response) in document["components"]["responses"].as_object().unwrap() {
        if let Some(content) = response["content"]["application/json"].as_object() {
            assert_eq!(
                content["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{name}"
            );
        }
    }
    // Real error answers fit it.
    let unknown_field = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/screen-time",
            json!({"app_name": "x", "duration_minutes": 5, "colour": "red"}),
        )
        .await;
    let no_token = harness
        .send_as(None, Method::GET, "/api/v1/analytics/dashboard", None)
        .await;
    let bad_batch = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/batch",
            json!({"events": [{"type": "nap"}]}),
        )
        .await;
    for answer in [&unknown_field, &no_token, &bad_batch] {
        fits(&document, error, &answer.body).unwrap();
        assert!(codes.contains(answer.body["code"].as_str().unwrap()));
    }
    assert_eq!(unknown_field.field(), Some("colour"));
    let listed: BTreeSet<String> = bad_batch.body["errors"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(listed, property_names(item));
}

#[tokio::test]
async fn a_track_body_lists_its_fields_and_marks_the_required_ones() {
    let document = served_document(&harness()).await;
    let operation = &document["paths"]["/api/v1/analytics/track/screen-time"]["post"];
    assert_eq!(operation["requestBody"]["required"], true);
    let body = request_body_schema(&document, operation);
    assert_eq!(
        property_names(body),
        [
            "app_name",
            "category",
            "duration_minutes",
            "event_id",
            "timestamp",
            "user_id"
        ]
        .map(str::to_owned)
        .into()
    );
    assert_eq!(
        string_set(&body["required"]),
        BTreeSet::from(["app_name".to_owned(), "duration_minutes".to_owned()])
    );
    assert_eq!(body["additionalProperties"], false);
    let duration = &body["properties"]["duration_minutes"];
    assert_eq!(duration["exclusiveMinimum"], 0);
    assert_eq!(duration["maximum"], 1440);
    assert_eq!(body["properties"]["timestamp"]["format"], "date-time");
    assert_eq!(body["properties"]["category"]["default"], "other");
    let answer = &operation["responses"]["201"]["content"]["application/json"]["schema"];
    let envelope = resolve(&document, answer);
    assert_eq!(
        string_set(&envelope["required"]),
        BTreeSet::from(["data".to_owned(), "status".to_owned()])
    );
}

/// A body documented as closed (`additionalProperties: false`) is one the route refuses an
/// unknown field of, naming it.
#[tokio::test]
async fn closed_bodies_refuse_unknown_fields() {
    let harness = harness();
    let document = served_document(&harness).await;
    let mut checked = 0;
    for (method, path, operation) in operations(&document) {
        if operation["requestBody"].is_null() {
            continue;
        }
        let body = request_body_schema(&document, operation);
        assert_eq!(body["additionalProperties"], false, "{method} {path}");
        let answer = harness
            .send_json(
                Method::from_str(&method).unwrap(),
                &concrete(&path),
                json!({"surely_unknown": 1}),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}"
        );
        assert_eq!(answer.field(), Some("surely_unknown"), "{method} {path}");
        checked += 1;
    }
    assert!(checked >= 14, "{checked}");
}

/// Every documented query parameter range, date format and enumeration holds: values inside
/// pass the gateway (and reach the unreachable upstream: 503), values outside are a 422 naming
/// the parameter; a foreign `user_id` is a 403.
#[tokio::test]
async fn documented_query_parameters_are_enforced() {
    let harness = harness();
    let document = served_document(&harness).await;
    let other_user = Uuid::new_v4();
    let mut checked = 0;
    for (method, path, operation) in operations(&document) {
        if !is_protected(&path) {
            continue;
        }
        let method = Method::from_str(&method).unwrap();
        let path = concrete(&path);
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] != "query" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap();
            let schema = resolve(&document, &parameter["schema"]);
            let mut good = Vec::new();
            let mut bad = Vec::new();
            if let (Some(min), Some(max)) = (schema["minimum"].as_u64(), schema["maximum"].as_u64())
            {
                good.extend([min.to_string(), max.to_string()]);
                bad.extend([(max + 1).to_string(), "x".to_owned()]);
                bad.extend(min.checked_sub(1).map(|below| below.to_string()));
            } else if schema["format"] == "date" {
                good.push("2026-02-28".to_owned());
                bad.extend(["2026-02-30".to_owned(), "2026-2-3".to_owned()]);
            } else if let Some(values) = schema["enum"].as_array() {
                good.extend(
                    values
                        .iter()
                        .map(|value| value.as_str().unwrap().to_owned()),
                );
                bad.push("surely_not_one".to_owned());
            } else if schema["format"] == "uuid" {
                let answer = harness
                    .send(method.clone(), &format!("{path}?{name}={other_user}"), None)
                    .await;
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
                continue;
            } else {
                panic!("{method} {path}: no check for parameter {name}");
            }
            for value in good {
                let uri = format!("{path}?{name}={value}");
                let answer = harness.send(method.clone(), &uri, None).await;
                assert_eq!(
                    answer.status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{method} {uri}"
                );
            }
            for value in bad {
                let uri = format!("{path}?{name}={value}");
                let answer = harness.send(method.clone(), &uri, None).await;
                assert_eq!(
                    answer.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{method} {uri}"
                );
                assert_eq!(answer.field(), Some(name), "{method} {uri}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
}

#[tokio::test]
async fn batch_event_types_are_those_a_batch_decodes() {
    let harness = harness();
    let document = served_document(&harness).await;
    let schemas = &document["components"]["schemas"];
    let batch = request_body_schema(
        &document,
        &document["paths"]["/api/v1/analytics/track/batch"]["post"],
    );
    assert_eq!(batch["properties"]["events"]["maxItems"], 1000);
    let event = resolve(&document, &batch["properties"]["events"]["items"]);
    let types: BTreeSet<String> = event["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| {
            assert_eq!(variant["required"][0], "type");
            assert_eq!(variant["additionalProperties"], false);
            variant["properties"]["type"]["enum"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The kinds a record is answered as (`EventFields`, tagged by `type`) are those a batch takes.
    let recorded: BTreeSet<String> = schemas["EventFields"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| {
            variant["properties"]["type"]["enum"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types, recorded);
    assert_eq!(types.len(), 6);
    for kind in types {
        let answer = harness
            .send_json(
                Method::POST,
                "/api/v1/analytics/track/batch",
                json!({"events": [{"type": kind}]}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}");
        assert_ne!(answer.body["errors"][0]["field"], "type", "{kind}");
    }
}

#[tokio::test]
async fn documented_goal_types_are_the_accepted_ones() {
    let document = served_document(&harness()).await;
    let documented = string_set(&document["components"]["schemas"]["GoalTypeInput"]["enum"]);
    for name in &documented {
        assert!(GoalType::from_str(name).is_ok(), "{name}");
    }
    for goal_type in GoalType::ALL {
        assert!(documented.contains(goal_type.as_str()), "{goal_type}");
    }
}

/// The operations answers, which the gateway makes itself, fit their documented schemas (the
/// upstreams are unreachable here, so `/health` is degraded and `/readyz` is a 503).
#[tokio::test]
async fn operations_answers_fit_their_schemas() {
    let harness = harness();
    let document = served_document(&harness).await;
    for (path, status) in [
        ("/health", StatusCode::OK),
        ("/livez", StatusCode::OK),
        ("/readyz", StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let answer = harness.send_as(None, Method::GET, path, None).await;
        assert_eq!(answer.status, status, "{path}");
        let schema = answer_schema(&document, "get", path, status.as_u16());
        fits(&document, schema, &answer.body).unwrap_or_else(|error| panic!("{path}: {error}"));
    }
    let schema = answer_schema(&document, "get", "/health", 200);
    let degraded = json!({"status": "degraded", "services": {"database": "unknown",
        "cache": "unreachable", "analytics": "unreachable", "aggregator": "unhealthy"}, "aggregator_lag": null});
    fits(&document, schema, &degraded).unwrap();
    assert!(
        fits(
            &document,
            schema,
            &json!({"status": "fine", "services": {}})
        )
        .is_err()
    );
}
