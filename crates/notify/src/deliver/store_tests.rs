//! Tests of the queue's store: claims, superseding, damaged rows.

use super::*;
use crate::receivers::HttpRequest;

fn delivery(group: &str) -> PreparedDelivery {
    PreparedDelivery {
        receiver: "r".into(),
        integration: IntegrationKind::Webhook,
        integration_index: 0,
        group_key: group.into(),
        target: "http://h".into(),
        firing: 1,
        resolved: 0,
        request: DeliveryRequest::Http(HttpRequest {
            url: "http://h/x".into(),
            headers: vec![],
            body: "{}".into(),
            timeout_ms: None,
        }),
    }
}

#[test]
fn a_damaged_row_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = DeliveryStore::open(&dir.path().join("q"), SecretKey::generate().unwrap()).unwrap();
    let ids: Vec<i64> = store
        .enqueue(&[delivery("a"), delivery("b")], 10)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    store
        .with_connection(|c| {
            c.execute(
                "UPDATE deliveries SET payload = x'01ff' WHERE id = ?1",
                [ids[0]],
            )
            .doing("damage")
        })
        .unwrap();
    let claimed = store.claim_due(20, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, ids[1]);
    assert_eq!(claimed[0].request, delivery("b").request);
    let failed = store
        .list_deliveries(
            &crate::deliver::DeliveryFilter {
                status: Some(DeliveryStatus::Failed),
                ..Default::default()
            },
            crate::deliver::Page::default(),
        )
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("malformed"));
}

#[test]
fn one_claim_per_group_and_none_while_one_is_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q");
    let key = SecretKey::generate().unwrap();
    let store = DeliveryStore::open(&path, key.clone()).unwrap();
    store.enqueue(&[delivery("a")], 10).unwrap();
    let first = store.claim_due(10, 10).unwrap();
    assert_eq!(first.len(), 1);
    // A newer notification of the group waits while the first is sent.
    store.enqueue(&[delivery("a"), delivery("b")], 11).unwrap();
    let second = store.claim_due(11, 10).unwrap();
    assert_eq!(
        second
            .iter()
            .map(|c| c.group_key.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    // Not yet due.
    assert!(store.claim_due(5, 10).unwrap().is_empty());
    // A crash: both claims are released at the next open, and the
    // older "a" is superseded by the newer one.
    drop(store);
    let store = DeliveryStore::open(&path, key).unwrap();
    let again = store.claim_due(20, 10).unwrap();
    let mut groups: Vec<&str> = again.iter().map(|c| c.group_key.as_str()).collect();
    groups.sort_unstable();
    assert_eq!(groups, ["a", "b"]);
    let a = again.iter().find(|c| c.group_key == "a").unwrap();
    assert_eq!(a.id, 2, "the newer delivery of the group is the one kept");
}

#[test]
fn only_finished_deliveries_leave_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = DeliveryStore::open(&dir.path().join("q"), SecretKey::generate().unwrap()).unwrap();
    store.enqueue(&[delivery("a"), delivery("b")], 10).unwrap();
    let claimed = store.claim_due(10, 1).unwrap();
    let sent = AttemptRecord {
        status: DeliveryStatus::Sent,
        next_attempt_at_ms: None,
        response_code: Some(200),
        error: None,
    };
    store.record(claimed[0].id, true, &sent, 100).unwrap();
    assert_eq!(store.delete_finished_before(100).unwrap(), 0);
    assert_eq!(store.delete_finished_before(101).unwrap(), 1);
    let left = store
        .list_deliveries(
            &crate::deliver::DeliveryFilter::default(),
            crate::deliver::Page::default(),
        )
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, DeliveryStatus::Pending);
}

#[test]
fn enqueueing_is_synced_claims_and_records_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = DeliveryStore::open(&dir.path().join("q"), SecretKey::generate().unwrap()).unwrap();
    // SQLite's codes: 1 = NORMAL, 2 = FULL.
    let level = || {
        store
            .with_connection(|c| {
                c.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
                    .doing("read synchronous")
            })
            .unwrap()
    };
    assert_eq!(level(), 2, "opened synced");
    let id = store.enqueue(&[delivery("a")], 10).unwrap()[0].id;
    assert_eq!(level(), 2);
    let claimed = store.claim_due(20, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(level(), 1, "claims are relaxed");
    store.enqueue(&[delivery("b")], 30).unwrap();
    assert_eq!(level(), 2, "enqueueing syncs again");
    let sent = AttemptRecord {
        status: DeliveryStatus::Sent,
        next_attempt_at_ms: None,
        response_code: Some(200),
        error: None,
    };
    store.record(id, true, &sent, 40).unwrap();
    assert_eq!(level(), 1, "attempt records are relaxed");
    // The relaxed writes are still committed and visible.
    let sent_rows = store
        .list_deliveries(
            &crate::deliver::DeliveryFilter {
                status: Some(DeliveryStatus::Sent),
                ..Default::default()
            },
            crate::deliver::Page::default(),
        )
        .unwrap();
    assert_eq!(sent_rows.len(), 1);
    assert_eq!(sent_rows[0].id, id);
}
