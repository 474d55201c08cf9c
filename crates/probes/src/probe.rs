//! One probe: an HTTP GET of the target's endpoint within its timeout.

use std::time::{Duration, Instant};

use crate::target::HealthTarget;

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// The answer had the expected status.
    pub success: bool,
    /// From sending the request to the end of the answer's body (or the
    /// failure).
    pub duration: Duration,
    /// The answer's status; `None` when no answer came.
    pub status_code: Option<u16>,
    /// Why the probe failed; `None` on success.
    pub error: Option<String>,
}

/// Probes `target` once. Never fails: a failure is an outcome.
pub async fn probe(client: &reqwest::Client, target: &HealthTarget) -> ProbeOutcome {
    let started = Instant::now();
    let answer = client
        .get(target.endpoint.clone())
        .timeout(target.timeout)
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            return ProbeOutcome {
                success: false,
                duration: started.elapsed(),
                status_code: None,
                error: Some(describe(&error, target.timeout)),
            }
        }
    };
    let status = response.status().as_u16();
    // The body is read (and dropped) so the duration covers the whole
    // answer, as a client of the service would see it.
    let body = response.bytes().await;
    let duration = started.elapsed();
    let error = match body {
        Err(error) => Some(describe(&error, target.timeout)),
        Ok(_) if status != target.expected_status => Some(format!(
            "status {status}, expected {}",
            target.expected_status
        )),
        Ok(_) => None,
    };
    ProbeOutcome {
        success: error.is_none(),
        duration,
        status_code: Some(status),
        error,
    }
}

fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}ms", timeout.as_millis());
    }
    // reqwest's own text is "error sending request for url (...)"; the
    // cause (connection refused, DNS failure) is what helps an operator.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
