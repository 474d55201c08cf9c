//! The executor: walks a tree with data, as Go's `text/template/exec.go`
//! does — pipelines, variables and their scopes, field chains on maps and
//! on `time.Time`/`time.Duration` methods, short-circuit `and`/`or`,
//! `range` with `break`/`continue`, `{{template}}` calls — and reports
//! faults as `template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`.

mod call;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::TemplateError;
use crate::funcs::{FuncMap, MissingKey};
use crate::parse::{Arg, Branch, Command, Node, Pipe, Tree};
use crate::printf::go_quote;
use crate::value::{is_string_map, map_zero_value, write_value, Value};

/// Deepest `{{template}}` nesting. Go allows 100000; a Rust stack does
/// not, so recursion stops much earlier with Go's message.
pub(crate) const MAX_DEPTH: usize = 200;

/// Work allowed for one execution (nodes walked, commands run, range
/// iterations). Go has no such bound; without it a template that recurses
/// twice per level, or ranges over 10^12, would hold a rule evaluation or a
/// notification forever. Real templates use a few thousand steps.
pub(crate) const DEFAULT_MAX_STEPS: u64 = 20_000_000;

/// Output allowed for one execution, and the longest string a function may
/// return (`printf "%s%s" $x $x` in a loop doubles a string each time).
pub(crate) const DEFAULT_MAX_OUTPUT: usize = 64 << 20;

/// Options that change how fields are read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub missing_key: MissingKey,
    /// Alertmanager's `KV` and `Alerts` methods (`.SortedPairs`,
    /// `.Names`, `.Values`, `.Remove`, `.Firing`, `.Resolved`).
    pub alertmanager_methods: bool,
}

pub(crate) struct Executor<'a> {
    pub trees: &'a BTreeMap<String, Arc<Tree>>,
    pub funcs: &'a FuncMap,
    pub options: Options,
    pub out: String,
    pub depth: usize,
    /// Nodes walked, commands run and range iterations so far.
    pub steps: u64,
    /// The most steps allowed.
    pub max_steps: u64,
    /// The most output bytes allowed (also the longest function result).
    pub max_output: usize,
}

struct Scope<'t> {
    tree: &'t Tree,
    vars: Vec<(String, Value)>,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

type Result<T> = std::result::Result<T, TemplateError>;

/// Where a field chain starts: dot, a variable, or a computed value.
enum Base<'b> {
    Dot,
    Variable(&'b str),
    Value(Value),
}

/// The argument list of a call: the nodes after the function (or method)
/// name, and the value piped in from the previous command, if any.
struct CallArgs<'n> {
    nodes: &'n [Arg],
    piped: Option<Value>,
}

impl CallArgs<'_> {
    fn has_args(&self) -> bool {
        !self.nodes.is_empty() || self.piped.is_some()
    }
}

fn error_at(scope: &Scope, pos: usize, context: String, message: String) -> TemplateError {
    let text = &scope.tree.text[..pos.min(scope.tree.text.len())];
    let (line, column) = match text.rfind('\n') {
        Some(newline) => (1 + text.matches('\n').count(), pos - (newline + 1)),
        None => (1, pos),
    };
    TemplateError::Exec {
        location: format!("{}:{line}:{column}", scope.tree.parse_name),
        template: scope.tree.name.clone(),
        context,
        message,
    }
}

fn arg_error(scope: &Scope, arg: &Arg, message: String) -> TemplateError {
    error_at(scope, arg.pos(), arg.to_string(), message)
}

/// The node Go's executor last marked (`s.at`) after evaluating `arg`
/// successfully: the innermost, last operand it evaluated.
fn last_touched(arg: &Arg) -> &Arg {
    match arg {
        Arg::Pipe(pipe) => match pipe.cmds.last() {
            Some(cmd) => match cmd.args.split_last() {
                Some((last, rest)) if !rest.is_empty() => last_touched(last),
                Some((only, _)) => last_touched(only),
                None => arg,
            },
            None => arg,
        },
        Arg::Chain { node, .. } => last_touched(node),
        other => other,
    }
}

/// Go digs a nil interface out of a pipeline's result: it becomes invalid.
fn dig(value: Value) -> Value {
    match value {
        Value::Nil => Value::Missing,
        other => other,
    }
}

impl Executor<'_> {
    /// Runs `tree` with `data` as both dot and `$`.
    pub fn run(&mut self, tree: &Tree, data: &Value) -> Result<()> {
        let mut scope = Scope {
            tree,
            vars: vec![("$".to_string(), data.clone())],
        };
        self.walk(&mut scope, data, &tree.root).map(|_| ())
    }

    fn walk(&mut self, scope: &mut Scope, dot: &Value, nodes: &[Node]) -> Result<Flow> {
        for node in nodes {
            match self.walk_node(scope, dot, node)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    /// Counts one step of work; fails once the budget is spent.
    fn step(&mut self, scope: &Scope) -> Result<()> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(TemplateError::TooMuchWork {
                template: scope.tree.name.clone(),
                limit: self.max_steps,
            });
        }
        Ok(())
    }

    /// Fails once the output, or a string about to be made, is too long.
    fn check_size(&self, scope: &Scope, len: usize) -> Result<()> {
        if len > self.max_output {
            return Err(TemplateError::TooMuchOutput {
                template: scope.tree.name.clone(),
                limit: self.max_output,
            });
        }
        Ok(())
    }

    fn check_output(&self, scope: &Scope) -> Result<()> {
        self.check_size(scope, self.out.len())
    }

    fn walk_node(&mut self, scope: &mut Scope, dot: &Value, node: &Node) -> Result<Flow> {
        self.step(scope)?;
        match node {
            Node::Text(text) => {
                self.out.push_str(text);
                self.check_output(scope)?;
            }
            Node::Comment => {}
            Node::Action(pipe) => {
                let value = self.eval_pipeline(scope, dot, pipe)?;
                if pipe.decl.is_empty() {
                    write_value(&mut self.out, &value);
                    self.check_output(scope)?;
                }
            }
            Node::If(branch) => return self.walk_if_or_with(scope, dot, branch, false),
            Node::With(branch) => return self.walk_if_or_with(scope, dot, branch, true),
            Node::Range(branch) => return self.walk_range(scope, dot, branch),
            Node::Template { pos, name, pipe } => {
                self.walk_template(scope, dot, *pos, name, pipe.as_ref())?
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        branch: &Branch,
        with: bool,
    ) -> Result<Flow> {
        let mark = scope.vars.len();
        let value = self.eval_pipeline(scope, dot, &branch.pipe)?;
        let flow = if value.is_true() {
            let inner = if with { &value } else { dot };
            self.walk(scope, inner, &branch.list)?
        } else if let Some(else_list) = &branch.else_list {
            self.walk(scope, dot, else_list)?
        } else {
            Flow::Normal
        };
        scope.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, scope: &mut Scope, dot: &Value, branch: &Branch) -> Result<Flow> {
        let outer_mark = scope.vars.len();
        let value = self.eval_pipeline(scope, dot, &branch.pipe)?;
        let mark = scope.vars.len();
        // Elements are produced one at a time: `{{range 1000000000}}` must
        // not allocate them all.
        let pairs: Box<dyn Iterator<Item = (Value, Value)> + '_> = match &value {
            Value::List(items) => Box::new(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Value::Int(i as i64), v.clone())),
            ),
            Value::Map(map) => Box::new(
                map.iter()
                    .map(|(k, v)| (Value::String(k.clone()), v.clone())),
            ),
            Value::Int(n) => {
                if branch.pipe.decl.len() > 1 {
                    return Err(error_at(
                        scope,
                        branch.pipe.pos,
                        branch.pipe.to_string(),
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                Box::new((0..(*n).max(0)).map(|i| (Value::Int(i), Value::Int(i))))
            }
            Value::Missing | Value::Nil => Box::new(std::iter::empty()),
            other => {
                return Err(error_at(
                    scope,
                    branch.pipe.pos,
                    format!("{{{{range {}}}}}", branch.pipe),
                    format!("range can't iterate over {}", other.to_go_string()),
                ))
            }
        };
        let mut iterated = false;
        for (index, element) in pairs {
            self.step(scope)?;
            iterated = true;
            let decl = &branch.pipe.decl;
            if branch.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(scope, branch.pipe.pos, &decl[0], index)?;
                    self.set_var(scope, branch.pipe.pos, &decl[1], element.clone())?;
                } else if let Some(name) = decl.first() {
                    self.set_var(scope, branch.pipe.pos, name, element.clone())?;
                }
            } else if !decl.is_empty() {
                let top = scope.vars.len() - 1;
                scope.vars[top].1 = element.clone();
                if decl.len() > 1 {
                    scope.vars[top - 1].1 = index;
                }
            }
            let result = self.walk(scope, &element, &branch.list);
            scope.vars.truncate(mark);
            if let Flow::Break = result? {
                break;
            }
        }
        let mut flow = Flow::Normal;
        if !iterated {
            if let Some(else_list) = &branch.else_list {
                flow = self.walk(scope, dot, else_list)?;
            }
        }
        scope.vars.truncate(outer_mark);
        // A {{break}} or {{continue}} in the else list belongs to an outer range.
        Ok(flow)
    }

    fn walk_template(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        pos: usize,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> Result<()> {
        let context = || match pipe {
            Some(p) => format!("{{{{template {} {p}}}}}", go_quote(name)),
            None => format!("{{{{template {}}}}}", go_quote(name)),
        };
        let Some(tree) = self.trees.get(name).cloned() else {
            return Err(error_at(
                scope,
                pos,
                context(),
                format!("template {} not defined", go_quote(name)),
            ));
        };
        if self.depth >= MAX_DEPTH {
            return Err(error_at(
                scope,
                pos,
                context(),
                format!("exceeded maximum template depth ({MAX_DEPTH})"),
            ));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(scope, dot, p)?,
            None => Value::Missing,
        };
        self.depth += 1;
        let mut inner = Scope {
            tree: &tree,
            vars: vec![("$".to_string(), new_dot.clone())],
        };
        let result = self.walk(&mut inner, &new_dot, &tree.root);
        self.depth -= 1;
        result.map(|_| ())
    }

    fn eval_pipeline(&mut self, scope: &mut Scope, dot: &Value, pipe: &Pipe) -> Result<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let result = self.eval_command(scope, dot, cmd, value.take())?;
            value = Some(dig(result));
        }
        let value = value.unwrap_or(Value::Missing);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(scope, pipe.pos, name, value.clone())?;
            } else {
                scope.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn set_var(&self, scope: &mut Scope, pos: usize, name: &str, value: Value) -> Result<()> {
        match scope.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(error_at(
                scope,
                pos,
                name.to_string(),
                format!("undefined variable: {name}"),
            )),
        }
    }

    fn var_value(&self, scope: &Scope, arg: &Arg, name: &str) -> Result<Value> {
        match scope.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(arg_error(scope, arg, format!("undefined variable: {name}"))),
        }
    }

    fn not_a_function(&self, scope: &Scope, args: &[Arg], piped: &Option<Value>) -> Result<()> {
        if args.len() > 1 || piped.is_some() {
            return Err(arg_error(
                scope,
                &args[0],
                format!("can't give argument to non-function {}", args[0]),
            ));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        cmd: &Command,
        piped: Option<Value>,
    ) -> Result<Value> {
        self.step(scope)?;
        let first = &cmd.args[0];
        let call = CallArgs {
            nodes: &cmd.args[1..],
            piped,
        };
        match first {
            Arg::Field { names, .. } => {
                return self.eval_field_chain(scope, dot, Base::Dot, first, names, call)
            }
            Arg::Chain { node, fields, .. } => {
                let receiver = self.eval_chain_receiver(scope, dot, first, node)?;
                return self.eval_field_chain(
                    scope,
                    dot,
                    Base::Value(receiver),
                    first,
                    fields,
                    call,
                );
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(scope, dot, first, name, Some(cmd), call)
            }
            Arg::Pipe(pipe) => {
                self.not_a_function(scope, &cmd.args, &call.piped)?;
                return self.eval_pipeline(scope, dot, pipe);
            }
            Arg::Variable { name, fields, .. } => {
                if fields.is_empty() {
                    let value = self.var_value(scope, first, name)?;
                    self.not_a_function(scope, &cmd.args, &call.piped)?;
                    return Ok(value);
                }
                return self.eval_field_chain(
                    scope,
                    dot,
                    Base::Variable(name),
                    first,
                    fields,
                    call,
                );
            }
            _ => {}
        }
        self.not_a_function(scope, &cmd.args, &call.piped)?;
        match first {
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Err(arg_error(scope, first, "nil is not a command".to_string())),
            Arg::Number { value, .. } => value.clone().map_err(|m| arg_error(scope, first, m)),
            Arg::Str { value, .. } => Ok(Value::String(value.clone())),
            _ => Err(arg_error(
                scope,
                first,
                format!("can't evaluate command {}", go_quote(&first.to_string())),
            )),
        }
    }

    fn eval_chain_receiver(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        chain: &Arg,
        node: &Arg,
    ) -> Result<Value> {
        if let Arg::Nil(_) = node {
            return Err(arg_error(
                scope,
                chain,
                format!("indirection through explicit nil in {chain}"),
            ));
        }
        self.eval_arg(scope, dot, node)
    }

    fn eval_arg(&mut self, scope: &mut Scope, dot: &Value, arg: &Arg) -> Result<Value> {
        let none = || CallArgs {
            nodes: &[],
            piped: None,
        };
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Field { names, .. } => {
                self.eval_field_chain(scope, dot, Base::Dot, arg, names, none())
            }
            Arg::Variable { name, fields, .. } => {
                if fields.is_empty() {
                    return self.var_value(scope, arg, name);
                }
                self.eval_field_chain(scope, dot, Base::Variable(name), arg, fields, none())
            }
            Arg::Pipe(pipe) => self.eval_pipeline(scope, dot, pipe),
            Arg::Identifier { name, .. } => self.eval_function(scope, dot, arg, name, None, none()),
            Arg::Chain { node, fields, .. } => {
                let receiver = self.eval_chain_receiver(scope, dot, arg, node)?;
                self.eval_field_chain(scope, dot, Base::Value(receiver), arg, fields, none())
            }
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number { value, .. } => value.clone().map_err(|m| arg_error(scope, arg, m)),
            Arg::Str { value, .. } => Ok(Value::String(value.clone())),
        }
    }

    fn eval_field_chain(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        base: Base,
        node: &Arg,
        idents: &[String],
        call: CallArgs,
    ) -> Result<Value> {
        // Plain map keys and struct fields are followed by reference, so
        // that `.Labels.job` or `$.ExternalURL` copies only what it reads;
        // methods, missing keys and errors take the general path below.
        let has_args = call.has_args();
        let (mut receiver, done) = {
            let start: &Value = match &base {
                Base::Dot => dot,
                Base::Value(v) => v,
                Base::Variable(name) => match scope.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => v,
                    None => {
                        return Err(arg_error(
                            scope,
                            node,
                            format!("undefined variable: {name}"),
                        ))
                    }
                },
            };
            let mut current = start;
            let mut done = 0;
            for (i, ident) in idents.iter().enumerate() {
                if i + 1 == idents.len() && has_args {
                    break;
                }
                let next = match current {
                    Value::Map(m) => m.get(ident),
                    Value::Struct(st) => st.field(ident),
                    _ => None,
                };
                match next {
                    Some(next) => {
                        current = next;
                        done += 1;
                    }
                    None => break,
                }
            }
            (current.clone(), done)
        };
        let Some((last, init)) = idents[done..].split_last() else {
            return Ok(receiver);
        };
        for ident in init {
            receiver = self.eval_field(
                scope,
                dot,
                ident,
                node,
                CallArgs {
                    nodes: &[],
                    piped: None,
                },
                receiver,
            )?;
        }
        self.eval_field(scope, dot, last, node, call, receiver)
    }

    fn eval_call_args(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        call: CallArgs,
    ) -> Result<Vec<Value>> {
        let mut values = Vec::with_capacity(call.nodes.len() + 1);
        for node in call.nodes {
            values.push(self.eval_arg(scope, dot, node)?);
        }
        if let Some(piped) = call.piped {
            values.push(piped);
        }
        Ok(values)
    }

    fn eval_field(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        name: &str,
        node: &Arg,
        call: CallArgs,
        receiver: Value,
    ) -> Result<Value> {
        // Go reports field errors at the node it last evaluated: for a
        // chain `(pipeline).Field` that is the pipeline's last operand.
        let error_node = match node {
            Arg::Chain { node: inner, .. } => last_touched(inner),
            other => other,
        };
        let fail = |scope: &Scope, message: String| Err(arg_error(scope, error_node, message));
        let method_result = |scope: &Scope,
                             result: Option<std::result::Result<Value, String>>,
                             type_name: &str| match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(arg_error(scope, node, format!("error calling {name}: {e}"))),
            None => fail(
                scope,
                format!("can't evaluate field {name} in type {type_name}"),
            ),
        };
        match &receiver {
            Value::Missing => {
                if self.options.missing_key == MissingKey::Error {
                    return fail(
                        scope,
                        format!("nil data; no entry for key {}", go_quote(name)),
                    );
                }
                Ok(Value::Missing)
            }
            Value::Nil => fail(
                scope,
                format!("nil pointer evaluating interface {{}}.{name}"),
            ),
            Value::Time(t) => {
                let args = self.eval_call_args(scope, dot, call)?;
                method_result(scope, t.method(name, &args), "time.Time")
            }
            Value::Duration(d) => {
                let args = self.eval_call_args(scope, dot, call)?;
                method_result(scope, d.method(name, &args), "time.Duration")
            }
            Value::Struct(st) => {
                if let Some(value) = st.field(name) {
                    if call.has_args() {
                        return fail(
                            scope,
                            format!("{name} has arguments but cannot be invoked as function"),
                        );
                    }
                    return Ok(value.clone());
                }
                fail(
                    scope,
                    format!("can't evaluate field {name} in type {}", st.type_name),
                )
            }
            Value::Map(map) => {
                if let Some(value) = map.get(name) {
                    if call.has_args() {
                        return fail(scope, format!("{name} is not a method but has arguments"));
                    }
                    return Ok(value.clone());
                }
                if self.options.alertmanager_methods && is_string_map(map) {
                    let args = self.eval_call_args(scope, dot, call)?;
                    if let Some(result) = crate::alertmanager::kv_method(map, name, &args) {
                        return method_result(scope, Some(result), "template.KV");
                    }
                    return self.missing_key(scope, node, name, map);
                }
                if call.has_args() {
                    return fail(scope, format!("{name} is not a method but has arguments"));
                }
                self.missing_key(scope, node, name, map)
            }
            Value::List(items) if self.options.alertmanager_methods => {
                let args = self.eval_call_args(scope, dot, call)?;
                let result = crate::alertmanager::list_method(items, name, &args);
                method_result(scope, result, receiver.type_name())
            }
            other => fail(
                scope,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            ),
        }
    }

    fn missing_key(
        &self,
        scope: &Scope,
        node: &Arg,
        name: &str,
        map: &BTreeMap<String, Value>,
    ) -> Result<Value> {
        match self.options.missing_key {
            MissingKey::Default => Ok(Value::Missing),
            // Go's zero of interface{} is nil, which prints as <no value>.
            MissingKey::Zero => Ok(dig(map_zero_value(map))),
            MissingKey::Error => Err(arg_error(
                scope,
                node,
                format!("map has no entry for key {}", go_quote(name)),
            )),
        }
    }
}
