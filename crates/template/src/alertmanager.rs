//! Alertmanager's notification templates: its function set (`DefaultFuncs`
//! of Alertmanager 0.28), the data model notification templates see
//! (`Data`, `Alert`, `KV` with its methods) and a builder for it.
//!
//! Reference: <https://prometheus.io/docs/alerting/latest/notifications/>.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::funcs::{args, FuncMap, MissingKey, Param};
use crate::prometheus::humanize_duration;
use crate::strings::{cases_title, compile, query_unescape, replace_all, to_json};
use crate::time::{GoDuration, GoTime};
use crate::value::{GoStruct, Value};

/// Alertmanager's template functions, with `missingkey=zero` and the
/// methods of its data types turned on.
///
/// `tz` reads zones from the system's zoneinfo files as Go does (`UTC`
/// needs none; `Local` is `/etc/localtime`, else UTC).
pub fn funcs() -> FuncMap {
    let mut f = FuncMap::builtin();
    f.set_missing_key(MissingKey::Zero);
    f.set_alertmanager_methods(true);
    f.insert_typed("toUpper", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.to_uppercase().into())
    });
    f.insert_typed("toLower", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.to_lowercase().into())
    });
    f.insert_typed("title", &[Param::String], None, |a| {
        Ok(cases_title(args::string(&a[0])?).into())
    });
    f.insert_typed("trimSpace", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.trim().into())
    });
    f.insert_typed("join", &[Param::String, STRING_SLICE], None, |a| {
        let sep = args::string(&a[0])?;
        Ok(args::strings(&a[1])?.join(sep).into())
    });
    f.insert_typed("match", &[Param::String, Param::String], None, |a| {
        let re = compile(args::string(&a[0])?)?;
        Ok(Value::Bool(re.is_match(args::string(&a[1])?)))
    });
    f.insert_typed("safeHtml", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.into())
    });
    f.insert_typed("safeUrl", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.into())
    });
    f.insert_typed("urlUnescape", &[Param::String], None, |a| {
        Ok(query_unescape(args::string(&a[0])?)?.into())
    });
    f.insert_typed(
        "reReplaceAll",
        &[Param::String, Param::String, Param::String],
        None,
        |a| {
            let re = compile(args::string(&a[0])?)?;
            Ok(replace_all(&re, args::string(&a[2])?, args::string(&a[1])?).into())
        },
    );
    f.insert_typed("stringSlice", &[], Some(Param::String), |a| {
        let items: Result<Vec<Value>, String> =
            a.iter().map(|v| args::string(v).map(Value::str)).collect();
        Ok(Value::List(items?))
    });
    f.insert_typed("date", &[Param::String, TIME], None, |a| {
        let layout = args::string(&a[0])?;
        Ok(time_arg(&a[1])?.format(layout).into())
    });
    f.insert_typed("tz", &[Param::String, TIME], None, |a| {
        let zone = args::string(&a[0])?;
        let t = time_arg(&a[1])?;
        let (offset, name) = crate::zone::load(zone)?.at(t.unix_seconds);
        Ok(Value::Time(t.in_zone(offset, &name)))
    });
    f.insert_typed("since", &[TIME], None, |a| {
        let t = time_arg(&a[0])?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let nanos = (now - t.unix_nanos()).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        Ok(Value::Duration(GoDuration {
            nanos: nanos as i64,
        }))
    });
    f.insert_typed("humanizeDuration", &[Param::Any], None, |a| {
        let seconds = crate::prometheus::convert_to_float(&a[0])?;
        Ok(humanize_duration(seconds).into())
    });
    f.insert_typed(
        "toJson",
        &[Param::Any],
        None,
        |a| Ok(to_json(&a[0])?.into()),
    );
    f
}

/// Go's `time.Time`.
const TIME: Param = Param::Other {
    go_type: "time.Time",
    accepts: |v| matches!(v, Value::Time(_)),
    nilable: false,
};

/// Go's `[]string`.
const STRING_SLICE: Param = Param::Other {
    go_type: "[]string",
    accepts: |v| matches!(v, Value::List(l) if l.iter().all(|i| matches!(i, Value::String(_)))),
    nilable: true,
};

fn time_arg(value: &Value) -> Result<GoTime, String> {
    match value {
        Value::Time(t) => Ok(t.clone()),
        Value::Nil | Value::Missing => Err("invalid value; expected time.Time".to_string()),
        other => Err(format!(
            "wrong type for value; expected time.Time; got {}",
            other.type_name()
        )),
    }
}

/// Methods of Alertmanager's `KV` (label and annotation sets).
pub(crate) fn kv_method(
    map: &BTreeMap<String, Value>,
    name: &str,
    args: &[Value],
) -> Option<Result<Value, String>> {
    let no_args = |v: Value| {
        if args.is_empty() {
            Ok(v)
        } else {
            Err(format!(
                "wrong number of args for {name}: want 0 got {}",
                args.len()
            ))
        }
    };
    let pairs = || sorted_pairs(map);
    Some(match name {
        "SortedPairs" => no_args(Value::List(
            pairs().into_iter().map(|(k, v)| pair_value(k, v)).collect(),
        )),
        "Names" => no_args(Value::List(
            pairs().into_iter().map(|(k, _)| Value::str(k)).collect(),
        )),
        "Values" => no_args(Value::List(
            pairs().into_iter().map(|(_, v)| Value::str(v)).collect(),
        )),
        "String" => no_args(Value::String(
            pairs()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        )),
        "Remove" => match args {
            [keys] => match args::strings(keys) {
                Ok(keys) => Ok(Value::Map(
                    map.iter()
                        .filter(|(k, _)| !keys.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )),
                Err(e) => Err(e),
            },
            _ => Err(format!(
                "wrong number of args for Remove: want 1 got {}",
                args.len()
            )),
        },
        _ => return None,
    })
}

/// `alertname` first, then the other names sorted.
fn sorted_pairs(map: &BTreeMap<String, Value>) -> Vec<(String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut pairs = Vec::with_capacity(map.len());
    if let Some(v) = map.get("alertname") {
        pairs.push(("alertname".to_string(), text(v)));
    }
    for (k, v) in map {
        if k != "alertname" {
            pairs.push((k.clone(), text(v)));
        }
    }
    pairs
}

fn pair_value(name: String, value: String) -> Value {
    Value::Struct(GoStruct::new(
        "template.Pair",
        vec![
            ("Name", Value::String(name)),
            ("Value", Value::String(value)),
        ],
    ))
}

/// Methods of `Alerts` (`Firing`, `Resolved`) and `Pairs` (`Names`,
/// `Values`, `String`).
pub(crate) fn list_method(
    items: &[Value],
    name: &str,
    args: &[Value],
) -> Option<Result<Value, String>> {
    if !args.is_empty() {
        return Some(Err(format!(
            "wrong number of args for {name}: want 0 got {}",
            args.len()
        )));
    }
    let field = |v: &Value, key: &str| match v {
        Value::Struct(s) => s.field(key).and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let status = |wanted: &str| {
        Value::List(
            items
                .iter()
                .filter(|a| field(a, "Status").as_deref() == Some(wanted))
                .cloned()
                .collect(),
        )
    };
    Some(Ok(match name {
        "Firing" => status("firing"),
        "Resolved" => status("resolved"),
        "Names" => Value::List(
            items
                .iter()
                .filter_map(|p| field(p, "Name"))
                .map(Value::String)
                .collect(),
        ),
        "Values" => Value::List(
            items
                .iter()
                .filter_map(|p| field(p, "Value"))
                .map(Value::String)
                .collect(),
        ),
        "String" => Value::String(
            items
                .iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        field(p, "Name").unwrap_or_default(),
                        field(p, "Value").unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => return None,
    }))
}

/// One alert as notification templates see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertData {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Milliseconds since the epoch.
    pub starts_at_ms: i64,
    /// Milliseconds since the epoch; `None` is Go's zero time.
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
}

/// The data of one notification (Alertmanager's `template.Data`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationData {
    pub receiver: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<AlertData>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
}

impl NotificationData {
    /// Builds the data as Alertmanager does: the status is `firing` if any
    /// alert fires, and the common labels and annotations are the pairs
    /// every alert shares.
    pub fn new(
        receiver: &str,
        group_labels: BTreeMap<String, String>,
        alerts: Vec<AlertData>,
        external_url: &str,
    ) -> NotificationData {
        let status = if alerts.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        };
        let common = |pick: fn(&AlertData) -> &BTreeMap<String, String>| {
            let mut common = alerts.first().map(|a| pick(a).clone()).unwrap_or_default();
            for alert in alerts.iter().skip(1) {
                common.retain(|k, v| pick(alert).get(k) == Some(v));
            }
            common
        };
        let common_labels = common(|a| &a.labels);
        let common_annotations = common(|a| &a.annotations);
        NotificationData {
            receiver: regex::escape(receiver),
            status: status.to_string(),
            alerts,
            group_labels,
            common_labels,
            common_annotations,
            external_url: external_url.to_string(),
        }
    }
}

/// Go's zero `time.Time` (0001-01-01 00:00:00 UTC), in Unix seconds.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// The fingerprint Alertmanager shows for an alert: FNV-1a 64 over the
/// sorted label pairs, each part followed by the byte 0xff, as 16 hex digits.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (k, v) in labels {
        add(k.as_bytes());
        add(&[0xff]);
        add(v.as_bytes());
        add(&[0xff]);
    }
    format!("{hash:016x}")
}

/// The template data of a notification: a `*template.Data` struct with Go's field names
/// (`.Receiver`, `.Status`, `.Alerts`, `.GroupLabels`, `.CommonLabels`,
/// `.CommonAnnotations`, `.ExternalURL`); each alert has `.Status`,
/// `.Labels`, `.Annotations`, `.StartsAt`, `.EndsAt` (times),
/// `.GeneratorURL` and `.Fingerprint`.
pub fn alertmanager_data(data: &NotificationData) -> Value {
    let kv = |m: &BTreeMap<String, String>| Value::string_map(m.iter());
    let alerts = data
        .alerts
        .iter()
        .map(|a| {
            let ends = match a.ends_at_ms {
                Some(ms) => GoTime::from_unix_millis(ms),
                None => GoTime::from_unix_nanos(i128::from(GO_ZERO_TIME_SECONDS) * 1_000_000_000),
            };
            Value::Struct(GoStruct::with_json_names(
                "template.Alert",
                vec![
                    ("Status", "status", Value::str(a.status.clone())),
                    ("Labels", "labels", kv(&a.labels)),
                    ("Annotations", "annotations", kv(&a.annotations)),
                    (
                        "StartsAt",
                        "startsAt",
                        Value::Time(GoTime::from_unix_millis(a.starts_at_ms)),
                    ),
                    ("EndsAt", "endsAt", Value::Time(ends)),
                    (
                        "GeneratorURL",
                        "generatorURL",
                        Value::str(a.generator_url.clone()),
                    ),
                    (
                        "Fingerprint",
                        "fingerprint",
                        Value::str(fingerprint(&a.labels)),
                    ),
                ],
            ))
        })
        .collect();
    Value::Struct(GoStruct::with_json_names(
        "*template.Data",
        vec![
            ("Receiver", "receiver", Value::str(data.receiver.clone())),
            ("Status", "status", Value::str(data.status.clone())),
            ("Alerts", "alerts", Value::List(alerts)),
            ("GroupLabels", "groupLabels", kv(&data.group_labels)),
            ("CommonLabels", "commonLabels", kv(&data.common_labels)),
            (
                "CommonAnnotations",
                "commonAnnotations",
                kv(&data.common_annotations),
            ),
            (
                "ExternalURL",
                "externalURL",
                Value::str(data.external_url.clone()),
            ),
        ],
    ))
}
