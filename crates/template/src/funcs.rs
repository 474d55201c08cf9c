//! The function map: names callable from templates, besides the language's
//! built-ins (`and`, `printf`, `eq`, ... in `builtins.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::value::Value;

/// A template function: takes the evaluated arguments, returns a value or
/// an error message (reported as `error calling NAME: message`; a message
/// starting with `wrong type for value` or `invalid value` is reported as
/// an argument error, as Go does).
pub type Function = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// How many arguments a function takes; checked before the call with Go's
/// "wrong number of args for NAME: want N got M".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    Exactly(usize),
    AtLeast(usize),
    Any,
}

/// What a missing map key yields (Go's `missingkey` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Go's default: an invalid value, printed `<no value>`.
    #[default]
    Default,
    /// `missingkey=zero`: the zero value of the map's element type
    /// (inferred from its values): `""` for maps of strings (labels,
    /// annotations), 0 for maps of ints, and `<no value>` for mixed maps,
    /// as Go gives for `map[string]interface{}`.
    Zero,
    /// `missingkey=error`: execution stops with `map has no entry for key`.
    Error,
}

/// A Go parameter type, for Go's argument checks before a call: a literal
/// of the wrong kind is refused as Go refuses it (`expected string; found
/// 1`, `can't handle 3 for arg of type template.queryResult`), and a value
/// of the wrong type with `wrong type for value; expected string; got int`,
/// both at the argument's node.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    /// `interface{}`: anything.
    Any,
    /// `string`.
    String,
    /// `float64` (an int value is refused, an int literal converted).
    Float,
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// Another Go type, named as Go names it (`*template.sample`), with a
    /// test of the values it accepts and whether nil is allowed.
    Other {
        go_type: &'static str,
        accepts: fn(&Value) -> bool,
        nilable: bool,
    },
}

/// The parameter list of a typed function.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub fixed: Vec<Param>,
    pub variadic: Option<Param>,
}

impl Params {
    pub fn at(&self, index: usize) -> Param {
        self.fixed
            .get(index)
            .copied()
            .or(self.variadic)
            .unwrap_or(Param::Any)
    }
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub function: Function,
    pub arity: Arity,
    pub params: Option<Params>,
}

/// Named functions for templates, plus the `missingkey` option of the
/// product they emulate (Prometheus and Alertmanager both parse with
/// `missingkey=zero`; [`FuncMap::builtin`] keeps Go's default).
#[derive(Clone, Default)]
pub struct FuncMap {
    entries: BTreeMap<String, Entry>,
    missing_key: MissingKey,
    alertmanager_methods: bool,
}

impl std::fmt::Debug for FuncMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncMap")
            .field("functions", &self.entries.keys().collect::<Vec<_>>())
            .field("missing_key", &self.missing_key)
            .finish()
    }
}

impl FuncMap {
    /// No functions beyond Go's built-ins, which every template has.
    pub fn builtin() -> FuncMap {
        FuncMap::default()
    }

    /// Adds or replaces a function taking any number of arguments.
    pub fn insert<F>(&mut self, name: &str, function: F)
    where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.insert_with_arity(name, Arity::Any, function);
    }

    /// Adds or replaces a function already boxed as a [`Function`].
    pub fn insert_function(&mut self, name: &str, function: Function) {
        self.entries.insert(
            name.to_string(),
            Entry {
                function,
                arity: Arity::Any,
                params: None,
            },
        );
    }

    /// Adds or replaces a function whose argument count is checked.
    pub fn insert_with_arity<F>(&mut self, name: &str, arity: Arity, function: F)
    where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.entries.insert(
            name.to_string(),
            Entry {
                function: Arc::new(function),
                arity,
                params: None,
            },
        );
    }

    /// Adds or replaces a function with Go parameter types: the count and
    /// the types of the arguments are checked before the call, with Go's
    /// messages. A `variadic` type takes any number of further arguments.
    pub fn insert_typed<F>(
        &mut self,
        name: &str,
        params: &[Param],
        variadic: Option<Param>,
        function: F,
    ) where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        let arity = match variadic {
            Some(_) => Arity::AtLeast(params.len()),
            None => Arity::Exactly(params.len()),
        };
        self.entries.insert(
            name.to_string(),
            Entry {
                function: Arc::new(function),
                arity,
                params: Some(Params {
                    fixed: params.to_vec(),
                    variadic,
                }),
            },
        );
    }

    /// Adds every function of `other` (replacing same-named ones).
    pub fn extend(&mut self, other: &FuncMap) {
        for (name, entry) in &other.entries {
            self.entries.insert(name.clone(), entry.clone());
        }
    }

    /// Whether a function of that name was added.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The names of the added functions, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// The `missingkey` option templates parsed with this map get.
    pub fn missing_key(&self) -> MissingKey {
        self.missing_key
    }

    /// Sets the `missingkey` option templates parsed with this map get.
    pub fn set_missing_key(&mut self, missing_key: MissingKey) {
        self.missing_key = missing_key;
    }

    /// Whether maps of strings and lists get Alertmanager's methods
    /// (`.SortedPairs`, `.Names`, `.Values`, `.Remove`, `.Firing`,
    /// `.Resolved`) where they have no such key.
    pub fn alertmanager_methods(&self) -> bool {
        self.alertmanager_methods
    }

    /// Turns Alertmanager's methods on or off (see [`Self::alertmanager_methods`]).
    pub fn set_alertmanager_methods(&mut self, on: bool) {
        self.alertmanager_methods = on;
    }
}

/// Argument helpers shared by the function sets, with Go's type errors.
pub(crate) mod args {
    use crate::value::Value;

    /// A string argument (`wrong type for value; expected string; got int`).
    pub fn string(value: &Value) -> Result<&str, String> {
        match value {
            Value::String(s) => Ok(s),
            Value::Nil | Value::Missing => Err("invalid value; expected string".to_string()),
            other => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
        }
    }

    /// A list of strings (`[]string`).
    pub fn strings(value: &Value) -> Result<Vec<String>, String> {
        match value {
            Value::Nil | Value::Missing => Ok(Vec::new()),
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(
                        "wrong type for value; expected []string; got []interface {}".to_string(),
                    ),
                })
                .collect(),
            other => Err(format!(
                "wrong type for value; expected []string; got {}",
                other.type_name()
            )),
        }
    }
}
