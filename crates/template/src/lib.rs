//! Go's `text/template` language, with the function sets of Prometheus
//! (alert rule labels and annotations) and Alertmanager (notification
//! templates), so that templates written for those tools expand here to the
//! same text.
//!
//! - [`Template`] is a parsed template set: the main text plus every
//!   `{{define}}`/`{{block}}`; [`Template::add`] parses more files into it.
//!   Parse and execution errors read as Go's (`template: NAME:LINE: ...`,
//!   `template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`), see
//!   [`TemplateError`].
//! - [`Value`] is template data: Go's dynamic values reduced to nil, bools,
//!   ints, floats, strings, lists, string-keyed maps, `time.Time` and
//!   `time.Duration`, printed as Go's `fmt` prints them (`%v`).
//! - [`FuncMap`] holds the functions a template may call beyond Go's
//!   built-ins (`and or not len index slice print printf println eq ne lt le
//!   gt ge html js urlquery`), and the `missingkey` option of the tool it
//!   emulates.
//! - [`prometheus`] has Prometheus's functions (`humanize`, `query`,
//!   `reReplaceAll`, ...) and [`prometheus::expand_rule_template`], which
//!   expands a rule's annotation with `$labels` and `$value` as Prometheus does.
//! - [`alertmanager`] has Alertmanager's functions and its notification data
//!   model ([`alertmanager::alertmanager_data`]).
//!
//! The language follows Go's specification
//! (<https://pkg.go.dev/text/template>): trim markers, comments, pipelines,
//! variables with Go's scoping, `if`/`else if`, `range` over lists, maps
//! (sorted keys) and integers with `break`/`continue`, `with`/`else with`,
//! `template` and `block`. `printf` is a port of Go's `fmt` verbs and flags
//! ([`sprintf`]). Known differences from Go: nested `{{template}}` calls stop
//! at depth 200 (Go: 100000); data maps stand in for Go structs, so a
//! missing field reads as a missing map key instead of failing; a map's
//! element type is inferred from its values (all strings, or empty: a map of
//! strings); `call` and complex numbers are not supported.


pub mod alertmanager;
mod builtins;
mod error;
mod exec;
mod float;
mod funcs;
mod lex;
mod parse;
mod printf;
pub mod prometheus;
mod strings;
mod template;
mod time;
mod value;

pub use error::TemplateError;
pub use funcs::{Arity, FuncMap, Function, MissingKey, Param};
pub use printf::sprintf;
pub use template::Template;
pub use time::{GoDuration, GoTime};
pub use value::{GoStruct, StructField, Value};
