//! `GET /api/v1/pricing` (read role): the effective price table, each
//! entry with its source (`builtin` or `config`), the built-in table's
//! version, and the models seen without a price with their unpriced tokens.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use tracing::instrument;

use agentmon_agents::pricing::BUILTIN_VERSION;

use crate::state::AppState;

#[instrument(skip_all)]
pub async fn pricing(State(state): State<AppState>) -> Json<Value> {
    let metrics = state.agent_metrics();
    let models: Vec<Value> = metrics
        .options()
        .prices
        .entries()
        .map(|(model, price)| {
            json!({
                "model": model,
                "input_usd_per_million": price.input_usd_per_million,
                "output_usd_per_million": price.output_usd_per_million,
                "source": price.source.as_str(),
            })
        })
        .collect();
    let unpriced: Vec<Value> = metrics
        .unpriced_models()
        .into_iter()
        .map(|(model, tokens)| json!({ "model": model, "tokens": tokens }))
        .collect();
    Json(json!({
        "status": "success",
        "data": {
            "builtin_version": BUILTIN_VERSION,
            "models": models,
            "unpriced": unpriced,
        }
    }))
}
