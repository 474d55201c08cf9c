//! API-made alert rules end to end, through the real binary and a webhook
//! receiver the test runs on loopback: a preset with its own webhook and a
//! PromQL rule with another fire on imported data, show in
//! `/api/v1/monitor/alerts/active` and reach their webhooks; the
//! acknowledged one is not repeated while the other is; a restart keeps
//! the rules and the acknowledgement; a test notification goes out at
//! once; resolving sends the resolved notification and ends the
//! acknowledgement. With tokens, changes need the write role and an
//! acknowledgement is made in the token's name.

mod common;

use std::path::Path;
use std::time::Duration;

use common::http::client;
use common::receiver::Receiver;
use common::server::{poll_until, Server};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(40);

/// A webhook receiver keeping every payload with the path it came to.
struct Hooks(Receiver);

impl Hooks {
    fn start() -> Hooks {
        Hooks(Receiver::start(200, 0, "e2e-s3cret"))
    }

    /// The URL of `path`, with a token as such URLs carry.
    fn url(&self, path: &str) -> String {
        self.0.url_for(path)
    }

    /// Payloads that came to `path` with this `status` (`firing`,
    /// `resolved`), test notifications left out.
    fn count(&self, path: &str, status: &str) -> usize {
        self.0
            .received()
            .iter()
            .filter(|r| {
                r.path == path
                    && r.body["status"] == status
                    && r.body["alerts"][0]["labels"]["agentmon_test"].is_null()
            })
            .count()
    }

    fn all(&self) -> Vec<(String, Value)> {
        self.0
            .received()
            .into_iter()
            .map(|r| (r.path, r.body))
            .collect()
    }
}

fn start(dir: &Path) -> Server {
    let config = dir.join("agentmon.yml");
    Server::start_with(
        &dir.join("data"),
        &["--config", config.to_str().expect("utf-8")],
    )
}

fn send(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let http = client();
    let request = match method {
        "POST" => http.post(server.url(path)),
        "DELETE" => http.delete(server.url(path)),
        _ => http.get(server.url(path)),
    };
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => request,
    };
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn import(server: &Server, text: &str) {
    let response = client()
        .post(server.url("/api/v1/import/prometheus"))
        .body(text.to_owned())
        .send()
        .expect("request");
    assert_eq!(response.status().as_u16(), 204);
}

/// The active alerts, by `alertname`.
fn active(server: &Server) -> Vec<Value> {
    let (status, body) = send(server, "GET", "/api/v1/monitor/alerts/active", None);
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

fn active_named(server: &Server, name: &str) -> Option<Value> {
    active(server)
        .into_iter()
        .find(|a| a["labels"]["alertname"] == name && a["state"] == "firing")
}

#[test]
fn presets_fire_notify_acknowledge_survive_a_restart_and_resolve() {
    let hooks = Hooks::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("agentmon.yml"),
        "global:\n  evaluation_interval: 1s\nalertmanager:\n  route:\n    receiver: root\n    \
         group_by: [alertname]\n    group_wait: 0s\n    group_interval: 1s\n    \
         repeat_interval: 3s\n  receivers:\n    - name: root\n",
    )
    .expect("config");
    let mut server = start(dir.path());

    // Refused input, each with a precise message.
    let refused = [
        (
            json!({"name": "x", "type": "low_balance"}),
            400,
            "needs a threshold",
        ),
        (
            json!({"name": "x", "type": "disk_full"}),
            400,
            "unknown alert type",
        ),
        (
            json!({"name": "x y", "type": "instance_down"}),
            400,
            "invalid alert name",
        ),
        (
            json!({"name": "x", "type": "instance_down", "colour": 1}),
            400,
            "unknown field",
        ),
        (
            json!({"name": "x", "type": "instance_down", "notification": "nobody"}),
            400,
            "unknown receiver",
        ),
        (
            json!({"name": "x", "type": "instance_down", "severity": "page"}),
            400,
            "invalid severity",
        ),
    ];
    for (body, status, needle) in refused {
        let (got, answer) = send(&server, "POST", "/api/v1/monitor/alerts", Some(&body));
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer.to_string().contains(needle), "{body}: {answer}");
    }
    let huge = json!({"name": "x", "type": "instance_down", "labels": {"big": "y".repeat(70_000)}});
    let (got, answer) = send(&server, "POST", "/api/v1/monitor/alerts", Some(&huge));
    assert_eq!(got, 413, "{answer}");
    let (got, answer) = send(
        &server,
        "POST",
        "/api/v1/monitor/alerts/rules",
        Some(&json!({"name": "broken", "condition": "rate(x[5m]"})),
    );
    assert_eq!(got, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or("")
            .contains("invalid condition"),
        "{answer}"
    );

    // The preset of seed 000, with its own webhook.
    let (got, created) = send(
        &server,
        "POST",
        "/api/v1/monitor/alerts",
        Some(&json!({
            "name": "low-balance",
            "type": "low_balance",
            "threshold": 100,
            "duration": 0,
            "severity": "critical",
            "webhook": hooks.url("acked"),
        })),
    );
    assert_eq!(got, 201, "{created}");
    let created = &created["data"];
    assert_eq!(created["type"], "low_balance");
    assert_eq!(created["threshold"], 100.0);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["expr"], "aitbc_wallet_balance < 100");
    assert_eq!(created["for"], "0s");
    assert_eq!(created["severity"], "critical");
    assert!(
        !created.to_string().contains("e2e-s3cret"),
        "webhook not redacted: {created}"
    );
    // A free PromQL rule (seed 001) whose alerts also go to a webhook.
    let (got, answer) = send(
        &server,
        "POST",
        "/api/v1/monitor/alerts/rules",
        Some(&json!({
            "name": "balance-watch",
            "condition": "aitbc_wallet_balance < 200",
            "duration": "0s",
            "webhook": hooks.url("plain"),
        })),
    );
    assert_eq!(got, 201, "{answer}");
    let (got, answer) = send(
        &server,
        "POST",
        "/api/v1/monitor/alerts/rules",
        Some(&json!({"name": "balance-watch", "condition": "up == 0"})),
    );
    assert_eq!(got, 409, "{answer}");

    // Both show in /api/v1/rules with their expressions.
    let (_, rules) = send(&server, "GET", "/api/v1/rules", None);
    let group = rules["data"]["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "agentmon-api").cloned())
        .unwrap_or_else(|| panic!("no agentmon-api group: {rules}"));
    let queries: Vec<&str> = group["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["query"].as_str())
        .collect();
    assert_eq!(
        queries,
        ["aitbc_wallet_balance < 200", "aitbc_wallet_balance < 100"]
    );

    // A reload of the configuration keeps them, and their webhook routes.
    let (got, answer) = send(&server, "POST", "/-/reload", Some(&json!({})));
    assert_eq!(got, 200, "{answer}");
    let (_, rules) = send(&server, "GET", "/api/v1/rules", None);
    assert!(
        rules["data"]["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["name"] == "agentmon-api")),
        "{rules}"
    );

    import(&server, "aitbc_wallet_balance{wallet=\"w1\"} 50\n");
    let firing = poll_until(DEADLINE, || {
        let a = active_named(&server, "low-balance")?;
        let b = active_named(&server, "balance-watch")?;
        Some((a, b))
    })
    .unwrap_or_else(|| panic!("not firing: {:?}\n{}", active(&server), server.log()));
    let (acked, _) = firing;
    assert_eq!(acked["labels"]["severity"], "critical");
    assert_eq!(acked["labels"]["agentmon_alert"], "low-balance");
    assert_eq!(acked["value"], 50.0);
    assert_eq!(acked["acknowledgement"], Value::Null);
    let id = acked["id"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), 16);
    let notified = poll_until(DEADLINE, || {
        (hooks.count("acked", "firing") >= 1 && hooks.count("plain", "firing") >= 1).then_some(())
    });
    assert!(notified.is_some(), "{:?}\n{}", hooks.all(), server.log());
    let payload = hooks
        .all()
        .into_iter()
        .find(|(p, _)| p == "acked")
        .expect("payload")
        .1;
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["receiver"], "agentmon-alert-low-balance");
    assert_eq!(payload["alerts"][0]["labels"]["alertname"], "low-balance");

    // Acknowledge it.
    let (got, answer) = send(
        &server,
        "POST",
        "/api/v1/monitor/alerts/0000000000000001/acknowledge",
        None,
    );
    assert_eq!(got, 404, "{answer}");
    let (got, answer) = send(
        &server,
        "POST",
        &format!("/api/v1/monitor/alerts/{id}/acknowledge"),
        Some(&json!({"comment": "topping up"})),
    );
    assert_eq!(got, 200, "{answer}");
    assert_eq!(answer["data"]["acknowledgement"]["by"], "anonymous");
    assert_eq!(answer["data"]["acknowledgement"]["comment"], "topping up");
    // A delivery queued before the acknowledgement may still land.
    std::thread::sleep(Duration::from_secs(1));
    let acked_before = hooks.count("acked", "firing");
    let plain_before = hooks.count("plain", "firing");
    // The other alert repeats twice (repeat_interval 3s) ...
    let repeated = poll_until(DEADLINE, || {
        (hooks.count("plain", "firing") >= plain_before + 2).then_some(())
    });
    assert!(repeated.is_some(), "{:?}\n{}", hooks.all(), server.log());
    // ... the acknowledged one does not.
    assert_eq!(
        hooks.count("acked", "firing"),
        acked_before,
        "{:?}",
        hooks.all()
    );
    let shown = active_named(&server, "low-balance").expect("still firing");
    assert_eq!(shown["acknowledgement"]["by"], "anonymous");
    assert_eq!(shown["acknowledgement"]["comment"], "topping up");

    // A restart keeps the rules and the acknowledgement.
    let exit = server.terminate(DEADLINE);
    assert!(exit.success(), "{exit:?}\n{}", server.log());
    let server = start(dir.path());
    let (got, list) = send(&server, "GET", "/api/v1/monitor/alerts", None);
    assert_eq!(got, 200, "{list}");
    let names: Vec<&str> = list["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["balance-watch", "low-balance"]);
    let restored = poll_until(DEADLINE, || {
        let a = active_named(&server, "low-balance")?;
        (a["acknowledgement"]["comment"] == "topping up").then_some(a)
    });
    assert!(
        restored.is_some(),
        "{:?}\n{}",
        active(&server),
        server.log()
    );
    let acked_after_restart = hooks.count("acked", "firing");
    let plain_now = hooks.count("plain", "firing");
    let repeated = poll_until(DEADLINE, || {
        (hooks.count("plain", "firing") > plain_now).then_some(())
    });
    assert!(repeated.is_some(), "{:?}\n{}", hooks.all(), server.log());
    assert_eq!(hooks.count("acked", "firing"), acked_after_restart);

    // A test notification goes out at once through the rule's webhook.
    let (got, answer) = send(
        &server,
        "POST",
        "/api/v1/monitor/alerts/low-balance/test",
        None,
    );
    assert_eq!(got, 200, "{answer}");
    assert_eq!(answer, json!({"status": "sent", "response_code": 200}));
    assert!(hooks
        .all()
        .iter()
        .any(|(p, b)| p == "acked" && b["alerts"][0]["labels"]["agentmon_test"] == "true"));

    // Resolved: the resolved notification goes out, the acknowledgement
    // ends (the alert can no longer be acknowledged: it is not firing).
    import(&server, "aitbc_wallet_balance{wallet=\"w1\"} 1000\n");
    let resolved = poll_until(DEADLINE, || {
        (hooks.count("acked", "resolved") >= 1 && hooks.count("plain", "resolved") >= 1)
            .then_some(())
    });
    assert!(resolved.is_some(), "{:?}\n{}", hooks.all(), server.log());
    assert!(active_named(&server, "low-balance").is_none());
    let (got, answer) = send(
        &server,
        "POST",
        &format!("/api/v1/monitor/alerts/{id}/acknowledge"),
        None,
    );
    assert_eq!(got, 409, "{answer}");

    // Deleting a rule.
    let (got, _) = send(
        &server,
        "DELETE",
        "/api/v1/monitor/alerts/balance-watch",
        None,
    );
    assert_eq!(got, 200);
    let (got, _) = send(
        &server,
        "DELETE",
        "/api/v1/monitor/alerts/balance-watch",
        None,
    );
    assert_eq!(got, 404);
    let (_, list) = send(&server, "GET", "/api/v1/monitor/alerts/rules", None);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
}

/// With tokens: changes need the write role, and an acknowledgement
/// without `by` is made in the token's name.
#[test]
fn writes_need_the_write_role_and_acknowledgements_name_the_token() {
    const READ: &str = "read-token-0123456789";
    const WRITE: &str = "write-token-0123456789";
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("agentmon.yml"),
        format!(
            "auth:\n  tokens:\n    - {{name: dashboard, token: \"{READ}\", role: read}}\n    \
             - {{name: ops-bot, token: \"{WRITE}\", role: write}}\nglobal:\n  \
             evaluation_interval: 1s\nalertmanager:\n  route:\n    receiver: root\n    \
             group_wait: 0s\n  receivers:\n    - name: root\n"
        ),
    )
    .expect("config");
    let server = start(dir.path());
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| -> (u16, Value) {
        let http = client();
        let request = match method {
            "POST" => http.post(server.url(path)),
            _ => http.get(server.url(path)),
        }
        .bearer_auth(token);
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_string()),
            None => request,
        };
        let response = request.send().expect("request");
        let status = response.status().as_u16();
        let text = response.text().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    };
    let rule = json!({"name": "always", "condition": "vector(1) > 0", "duration": 0});
    let (got, _) = call(
        "POST",
        "/api/v1/monitor/alerts/rules",
        READ,
        Some(rule.clone()),
    );
    assert_eq!(got, 403);
    let (got, answer) = call("POST", "/api/v1/monitor/alerts/rules", WRITE, Some(rule));
    assert_eq!(got, 201, "{answer}");
    // Without a webhook or receiver there is nothing to test.
    let (got, answer) = call("POST", "/api/v1/monitor/alerts/always/test", WRITE, None);
    assert_eq!(got, 400, "{answer}");
    assert!(answer.to_string().contains("neither a webhook"), "{answer}");
    let id = poll_until(DEADLINE, || {
        let (_, active) = call("GET", "/api/v1/monitor/alerts/active", READ, None);
        active["data"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "always" && a["state"] == "firing")
            .and_then(|a| a["id"].as_str().map(str::to_owned))
    })
    .unwrap_or_else(|| panic!("not firing\n{}", server.log()));
    // Firing in the rules is not enough: the pipeline must hold it.
    let path = format!("/api/v1/monitor/alerts/{id}/acknowledge");
    let (got, _) = call("POST", &path, READ, None);
    assert_eq!(got, 403);
    let acked = poll_until(DEADLINE, || {
        let (got, answer) = call("POST", &path, WRITE, None);
        (got == 200).then_some(answer)
    })
    .unwrap_or_else(|| panic!("not acknowledged\n{}", server.log()));
    assert_eq!(acked["data"]["acknowledgement"]["by"], "ops-bot");
    assert_eq!(acked["data"]["acknowledgement"]["comment"], "");
}
