//! What the router tests that need a real database share: a state with an
//! empty database in a temporary directory, and requests sent through the
//! router with their answers read as text.

#![allow(dead_code)]

use std::sync::Arc;

use agentmon_server::{router, AppState, Db};
use agentmon_tsdb::Options;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

/// A state serving an empty database; the database is closed on drop.
pub struct Fixture {
    pub state: AppState,
    pub db: Arc<Db>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// `state` with an empty database (no background compaction) set.
    pub fn new(state: AppState) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            background_compaction: false,
            ..Options::default()
        };
        let db = Arc::new(Db::open(dir.path(), options).unwrap());
        assert!(state.set_db(db.clone()).is_ok());
        Fixture {
            state,
            db,
            _dir: dir,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.db.close();
    }
}

/// Sends `request` through the router; the status and the body as text.
pub async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A GET of `uri`.
pub async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// A form POST of `form` to `uri`.
pub async fn post_form(state: &AppState, uri: &str, form: &str) -> (StatusCode, String) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    send(state, request).await
}

/// Writes Prometheus text-format `text` through the import endpoint.
pub async fn import(state: &AppState, text: String) {
    let (status, body) = send(
        state,
        Request::post("/api/v1/import/prometheus")
            .body(Body::from(text))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}
