//! A parsed template set: the main template and its `{{define}}`d ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::TemplateError;
use crate::exec::{Executor, Options, DEFAULT_MAX_OUTPUT, DEFAULT_MAX_STEPS};
use crate::funcs::FuncMap;
use crate::parse::{self, is_empty_tree, Tree};
use crate::value::Value;

/// A parsed template set, like a Go `*template.Template` with its
/// associated templates. Cheap to clone (trees are shared).
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    trees: BTreeMap<String, Arc<Tree>>,
    options: Options,
    max_steps: u64,
    max_output: usize,
}

impl Template {
    /// Parses `text` as the template `name`. Functions are checked against
    /// `funcs` (and Go's built-ins); the map's `missingkey` option and
    /// method set become the template's.
    pub fn parse(name: &str, text: &str, funcs: &FuncMap) -> Result<Template, TemplateError> {
        let trees = parse::parse(name, text, funcs)?;
        Ok(Template {
            name: name.to_string(),
            trees: trees.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            options: Options {
                missing_key: funcs.missing_key(),
                alertmanager_methods: funcs.alertmanager_methods(),
            },
            max_steps: DEFAULT_MAX_STEPS,
            max_output: DEFAULT_MAX_OUTPUT,
        })
    }

    /// Parses more text into the set (a template file): its `{{define}}`s
    /// are added, replacing same-named ones unless the new body is empty,
    /// and its top-level text becomes the template `name`.
    pub fn add(&mut self, name: &str, text: &str, funcs: &FuncMap) -> Result<(), TemplateError> {
        let trees = parse::parse(name, text, funcs)?;
        for (tree_name, tree) in trees {
            let keep_old = self
                .trees
                .get(&tree_name)
                .is_some_and(|old| is_empty_tree(&tree.root) && !is_empty_tree(&old.root));
            if !keep_old {
                self.trees.insert(tree_name, Arc::new(tree));
            }
        }
        Ok(())
    }

    /// Sets how much work one execution may do (nodes walked, commands
    /// run, range iterations; 20 million by default) before it fails with
    /// [`TemplateError::TooMuchWork`]. Go has no such limit; it guards
    /// against templates that recurse or loop without end.
    pub fn set_step_limit(&mut self, steps: u64) {
        self.max_steps = steps;
    }

    /// Sets the most text one execution may write, which is also the
    /// longest string a function may return (64 MiB by default); past it
    /// execution fails with [`TemplateError::TooMuchOutput`].
    pub fn set_output_limit(&mut self, bytes: usize) {
        self.max_output = bytes;
    }

    /// The name of the main template.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names of every template in the set, sorted.
    pub fn template_names(&self) -> impl Iterator<Item = &str> {
        self.trees.keys().map(String::as_str)
    }

    /// Whether the set has a template of that name.
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Executes the main template with `data` as dot and `$`.
    pub fn execute(&self, data: &Value, funcs: &FuncMap) -> Result<String, TemplateError> {
        self.execute_named(&self.name, data, funcs)
    }

    /// Executes the template `name` of the set.
    pub fn execute_named(
        &self,
        name: &str,
        data: &Value,
        funcs: &FuncMap,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError::NoTemplate {
                name: name.to_string(),
                set: self.name.clone(),
            });
        };
        let mut executor = Executor {
            trees: &self.trees,
            funcs,
            options: self.options,
            out: String::new(),
            depth: 0,
            steps: 0,
            max_steps: self.max_steps,
            max_output: self.max_output,
        };
        executor.run(tree, data)?;
        Ok(executor.out)
    }
}
