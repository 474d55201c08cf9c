//! The delivery log: what `GET /api/v1/monitor/notifications` shows.
//! Records come newest first, paged by id; nothing secret is in them (the
//! target is redacted when the delivery is prepared, the payload is not
//! read).

use rusqlite::types::Value;
use serde::Serialize;

use super::error::{DeliverError, Doing};
use super::store::{DeliveryStatus, DeliveryStore};
use crate::receivers::IntegrationKind;

/// Which deliveries to list; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub receiver: Option<String>,
    pub integration: Option<IntegrationKind>,
    pub status: Option<DeliveryStatus>,
    pub group_key: Option<String>,
    /// Created at or after this time.
    pub since_ms: Option<i64>,
}

/// A page: at most `limit` records with ids below `before_id`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: usize,
    pub before_id: Option<i64>,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            limit: 100,
            before_id: None,
        }
    }
}

/// The largest page served.
pub const MAX_PAGE: usize = 1000;

/// One delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub receiver: String,
    pub integration: IntegrationKind,
    pub integration_index: u32,
    pub group_key: String,
    /// Redacted URL or `smtp://host:port`.
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub firing: u32,
    pub resolved: u32,
    pub created_at_ms: i64,
    pub last_attempt_at_ms: Option<i64>,
    /// For pending deliveries: when the next attempt is due.
    pub next_attempt_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub response_code: Option<u16>,
    pub last_error: Option<String>,
}

impl DeliveryStore {
    /// Lists deliveries matching `filter`, newest first.
    pub fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: Page,
    ) -> Result<Vec<DeliveryRecord>, DeliverError> {
        let mut conditions = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut condition = |sql: &str, value: Value| {
            values.push(value);
            conditions.push(format!("{sql} ?{}", values.len()));
        };
        if let Some(receiver) = &filter.receiver {
            condition("receiver =", Value::Text(receiver.clone()));
        }
        if let Some(integration) = filter.integration {
            condition(
                "integration =",
                Value::Text(integration.as_str().to_owned()),
            );
        }
        if let Some(status) = filter.status {
            condition("status =", Value::Text(status.as_str().to_owned()));
        }
        if let Some(group_key) = &filter.group_key {
            condition("group_key =", Value::Text(group_key.clone()));
        }
        if let Some(since) = filter.since_ms {
            condition("created_at_ms >=", Value::Integer(since));
        }
        if let Some(before) = page.before_id {
            condition("id <", Value::Integer(before));
        }
        let limit = page.limit.clamp(1, MAX_PAGE);
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT id, receiver, integration, integration_index, group_key, target, status,
                 attempts, firing, resolved, created_at_ms, last_attempt_at_ms, next_attempt_at_ms,
                 finished_at_ms, response_code, last_error
             FROM deliveries {where_clause} ORDER BY id DESC LIMIT {limit}"
        );
        self.with_connection(|connection| {
            let mut statement = connection.prepare(&sql).doing("prepare the log query")?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(values), |row| {
                    Ok((
                        (
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, u32>(3)?,
                            row.get::<_, String>(4)?,
                            row.get::<_, String>(5)?,
                            row.get::<_, String>(6)?,
                            row.get::<_, u32>(7)?,
                        ),
                        (
                            row.get::<_, u32>(8)?,
                            row.get::<_, u32>(9)?,
                            row.get::<_, i64>(10)?,
                            row.get::<_, Option<i64>>(11)?,
                            row.get::<_, i64>(12)?,
                            row.get::<_, Option<i64>>(13)?,
                            row.get::<_, Option<u16>>(14)?,
                            row.get::<_, Option<String>>(15)?,
                        ),
                    ))
                })
                .doing("query the log")?;
            let mut records = Vec::new();
            for row in rows {
                let (
                    (
                        id,
                        receiver,
                        integration,
                        integration_index,
                        group_key,
                        target,
                        status,
                        attempts,
                    ),
                    (
                        firing,
                        resolved,
                        created_at_ms,
                        last_attempt_at_ms,
                        next,
                        finished_at_ms,
                        response_code,
                        last_error,
                    ),
                ) = row.doing("read the log")?;
                let integration =
                    IntegrationKind::parse(&integration).ok_or(DeliverError::Unknown {
                        what: "integration",
                        value: integration,
                    })?;
                let status = DeliveryStatus::parse(&status).ok_or(DeliverError::Unknown {
                    what: "status",
                    value: status,
                })?;
                records.push(DeliveryRecord {
                    id,
                    receiver,
                    integration,
                    integration_index,
                    group_key,
                    target,
                    status,
                    attempts,
                    firing,
                    resolved,
                    created_at_ms,
                    last_attempt_at_ms,
                    next_attempt_at_ms: (status == DeliveryStatus::Pending).then_some(next),
                    finished_at_ms,
                    response_code,
                    last_error,
                });
            }
            Ok(records)
        })
    }
}
