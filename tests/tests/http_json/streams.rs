//! Streams over HTTP: an export as NDJSON, a change feed as Server-Sent Events
//! that resume, a client stream from a JSON array.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_streams_as_ndjson() {
    let (_system, _gateway, token, channel) = system_with_data().await;
    let path = "/v1/allocations:export?program_code=AUYL_EL_BESIGI";
    let answer = get(&channel, path, &token).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = String::from_utf8(answer.body.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let asked = ExportAllocationsRequest {
        program_code: "AUYL_EL_BESIGI".into(),
        ..Default::default()
    };
    let mut over_grpc = BudgetServiceClient::new(channel.clone())
        .export_allocations(with_token(asked, &token))
        .await
        .unwrap()
        .into_inner();
    let mut expected = Vec::new();
    while let Some(message) = over_grpc.message().await.unwrap() {
        expected.push(as_json(&message));
    }
    assert!(!expected.is_empty());
    assert_eq!(lines, expected);

    // Refused before any message: an HTTP error, not a stream.
    let answer = get(
        &channel,
        "/v1/allocations:export?from_year=2030&to_year=2020",
        &token,
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

/// The events of a Server-Sent Events stream, read until `count` have come.
async fn events(
    channel: &Channel,
    token: &str,
    path: &str,
    last_event_id: Option<&str>,
    count: usize,
) -> Vec<(String, Value)> {
    let mut asked = request(Method::GET, path, None, Some(token));
    asked
        .headers_mut()
        .insert("accept", "text/event-stream".parse().unwrap());
    if let Some(id) = last_event_id {
        asked
            .headers_mut()
            .insert("last-event-id", id.parse().unwrap());
    }
    let mut channel = channel.clone();
    let answer = channel.ready().await.unwrap().call(asked).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "text/event-stream");
    let mut body = answer.into_body();
    let mut text = String::new();
    let mut found = Vec::new();
    while found.len() < count {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&frame.into_data().unwrap()).unwrap());
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let id = event
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .unwrap()
                .to_string();
            let data = event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap();
            found.push((id, serde_json::from_str(data).unwrap()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feeds_are_server_sent_events_that_resume() {
    let (_system, _gateway, token, channel) = system_with_data().await;
    let first = events(&channel, &token, "/v1/budget/changes", None, 3).await;
    let sequences: Vec<u64> = first.iter().map(|(id, _)| id.parse().unwrap()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    for (id, event) in &first {
        assert_eq!(event["event"]["sequence"].as_str().unwrap(), id);
        // The resource after the change, as JSON of its own message.
        let resource = &event["event"]["resource"];
        let kind = resource["@type"].as_str().unwrap_or_default();
        assert!(
            kind.starts_with("type.googleapis.com/aimaq.budget.v1."),
            "{event}"
        );
        assert!(resource.as_object().is_some_and(|r| r.len() > 2), "{event}");
    }
    // Reconnecting after the first event continues with the second.
    let resumed = events(&channel, &token, "/v1/budget/changes", Some(&first[0].0), 2).await;
    assert_eq!(resumed[0], first[1]);
    assert_eq!(resumed[1], first[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stream_is_sent_as_a_json_array() {
    let system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let channel = gateway.channel().await;
    let territory = |kato: &str, name: &str| {
        json!({
            "kato": kato,
            "kind": "TERRITORY_KIND_VILLAGE",
            "name": { "ru": name },
            "rural": true,
            "population": "120",
            "validFrom": { "year": 2020, "month": 1, "day": 1 },
        })
    };
    let batches = json!([
        { "requestId": "http-import", "batch": 0, "territories": [territory("613633901", "Первое")] },
        { "requestId": "http-import", "batch": 1, "territories": [territory("613633902", "Второе")] },
    ]);
    let path = "/v1/territories:import";
    let answer = send(
        &channel,
        request(Method::POST, path, Some(&batches), Some(&token)),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["created"], "2", "{}", answer.json());
    let created = get(&channel, "/v1/territories/613633902", &token).await;
    assert_eq!(created.json()["territory"]["name"]["ru"], "Второе");

    // A bad element is named by its place.
    let bad = json!([{ "requestId": "x", "batch": 0 }, { "requestId": "x", "batch": "two" }]);
    let answer = send(
        &channel,
        request(Method::POST, path, Some(&bad), Some(&token)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json()["details"][0]["fieldViolations"][0]["field"],
        "body[1]"
    );
}
