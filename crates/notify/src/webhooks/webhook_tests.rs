use super::*;
use crate::webhooks::event::EventType;

fn spec(body: Value) -> Result<WebhookSpec, serde_json::Error> {
    serde_json::from_value(body)
}

fn valid(body: Value) -> Webhook {
    spec(body)
        .expect("parses")
        .validate(1_780_000_000_000)
        .expect("valid")
}

fn invalid(body: Value) -> String {
    match spec(body) {
        Err(e) => e.to_string(),
        Ok(spec) => spec.validate(0).expect_err("refused").to_string(),
    }
}

#[test]
fn defaults_are_all_events_and_enabled() {
    let webhook =
        valid(json!({"name": "slack", "url": "https://hooks.example.com/services/T/B/x"}));
    assert!(webhook.enabled);
    assert_eq!(webhook.filter.names(), ["all"]);
    assert!(webhook.filter.matches(EventType::HealthChanged));
    assert_eq!(webhook.created_at_ms, 1_780_000_000_000);
}

#[test]
fn names_urls_headers_and_fields_are_checked() {
    let url = "https://hooks.example.com/x";
    for (body, expected) in [
        (
            json!({"name": "", "url": url}),
            "webhook name \"\" is invalid",
        ),
        (
            json!({"name": "a b", "url": url}),
            "must match [A-Za-z0-9_.-]{1,128}",
        ),
        (json!({"name": "x".repeat(129), "url": url}), "is invalid"),
        (
            json!({"name": "w", "url": "hooks.example.com/x"}),
            "not an absolute URL",
        ),
        (
            json!({"name": "w", "url": "ftp://example.com/x"}),
            "scheme \"ftp\"",
        ),
        (
            json!({"name": "w", "url": url, "events": ["nope"]}),
            "unknown event type \"nope\"",
        ),
        (
            json!({"name": "w", "url": url, "events": []}),
            "at least one",
        ),
        (
            json!({"name": "w", "url": url, "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            json!({"name": "w", "url": url, "headers": {"Content-Type": "x"}}),
            "set by agentmon",
        ),
        (
            json!({"name": "w", "url": url, "headers": {"bad name": "x"}}),
            "not a valid HTTP header name",
        ),
        (
            json!({"name": "w", "url": url, "headers": {"X-A": "a\nb"}}),
            "not a valid HTTP header value",
        ),
        (
            json!({"name": "w", "url": url, "secret": ""}),
            "secret must not be empty",
        ),
        (json!({"url": url}), "missing field `name`"),
    ] {
        let error = invalid(body.clone());
        assert!(error.contains(expected), "{body}: {error}");
    }
    let name = "A-z_0.9".to_owned() + &"n".repeat(121);
    assert_eq!(
        valid(json!({"name": name, "url": "http://127.0.0.1:9/"})).name,
        name
    );
}

#[test]
fn a_refused_url_is_not_repeated_in_the_error() {
    let error = invalid(json!({"name": "w", "url": "gopher://host/token-abc123"}));
    assert!(!error.contains("token-abc123"), "{error}");
}

#[test]
fn the_view_redacts_url_headers_and_secret() {
    let webhook = valid(json!({
        "name": "slack",
        "url": "https://hooks.example.com/services/T000/B000/token123",
        "events": ["job_completed", "miner_offline", "alert"],
        "enabled": false,
        "headers": {"Authorization": "Bearer abc"},
        "secret": "s3cret",
    }));
    let view = webhook.view();
    assert_eq!(
        view,
        json!({
            "name": "slack",
            "url": "https://hooks.example.com/<secret>",
            "events": ["job_completed", "miner_offline", "alert"],
            "enabled": false,
            "created_at": "2026-05-28T20:26:40Z",
            "headers": {"Authorization": "<secret>"},
            "signed": true,
        })
    );
    let debug = format!("{webhook:?}");
    for hidden in ["token123", "Bearer abc", "s3cret"] {
        assert!(!debug.contains(hidden), "{debug}");
    }
}

#[test]
fn prepare_builds_the_request_with_headers_and_signature() {
    let webhook = valid(json!({
        "name": "ops",
        "url": "http://127.0.0.1:9000/hook?token=t",
        "headers": {"Authorization": "Bearer abc"},
        "secret": "key",
    }));
    let event = WebhookEvent::new(EventType::Alert, 0, json!({"status": "firing"}));
    let delivery = webhook.prepare(&event, "0123abcd");
    assert_eq!(delivery.integration, IntegrationKind::EventWebhook);
    assert_eq!(delivery.receiver, "ops");
    assert_eq!(delivery.group_key, "alert:0123abcd");
    assert_eq!(delivery.target, "http://127.0.0.1:9000/<secret>");
    let DeliveryRequest::Http(request) = &delivery.request else {
        panic!("an HTTP request");
    };
    assert_eq!(request.url, "http://127.0.0.1:9000/hook?token=t");
    assert_eq!(request.body, event.body());
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("Authorization").as_deref(), Some("Bearer abc"));
    assert_eq!(header(EVENT_HEADER).as_deref(), Some("alert"));
    assert_eq!(header(EVENT_ID_HEADER).as_deref(), Some("0123abcd"));
    let expected = format!(
        "sha256={}",
        hex(&hmac_sha256(b"key", request.body.as_bytes()))
    );
    assert_eq!(header(SIGNATURE_HEADER), Some(expected));
    // Without a secret, no signature.
    let unsigned = valid(json!({"name": "u", "url": "http://127.0.0.1:9000/"}));
    let DeliveryRequest::Http(request) = unsigned.prepare(&event, "1").request else {
        panic!("an HTTP request");
    };
    assert!(request.headers.iter().all(|(n, _)| n != SIGNATURE_HEADER));
}
