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
//!   ints, floats, strings, lists, string-keyed maps, structs ([`GoStruct`],
//!   whose missing fields are errors as in Go), `time.Time` and
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
//! ([`sprintf`]). Function arguments are checked against Go parameter
//! types ([`Param`]) with Go's messages. Known differences from Go are
//! listed in `docs/templates.md` (nesting depth 200, a step budget per
//! execution, maps typed by their values, a few type names in messages, no
//! `call`).

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
mod zone;

pub use error::TemplateError;
pub use funcs::{Arity, FuncMap, Function, MissingKey, Param};
pub use printf::sprintf;
pub use template::Template;
pub use time::{GoDuration, GoTime};
pub use value::{GoStruct, StructField, Value};
