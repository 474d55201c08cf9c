//! The parse tree: templates, nodes, pipelines, commands and operands,
//! and their Go `String()` forms, which execution errors quote as context.

use std::sync::Arc;

use crate::value::Value;

/// One parsed template.
#[derive(Debug)]
pub(crate) struct Tree {
    pub name: String,
    /// The name given to the parse call that produced it (for locations).
    pub parse_name: String,
    /// The full text of that parse call (to turn offsets into columns).
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
    Comment,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) enum Arg {
    Field {
        pos: usize,
        names: Vec<String>,
    },
    Variable {
        pos: usize,
        name: String,
        fields: Vec<String>,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number {
        pos: usize,
        text: String,
        /// Go's "ideal constant": an int, a float, or an overflow message.
        value: Result<Value, String>,
    },
    Str {
        pos: usize,
        quoted: String,
        value: String,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Pipe(Box<Pipe>),
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number { pos, .. }
            | Arg::Str { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

/// Go's `String()` of the nodes, used as error context.
impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Field { names, .. } => {
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Variable { name, fields, .. } => {
                write!(f, "{name}")?;
                for n in fields {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Dot(_) => write!(f, "."),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number { text, .. } => write!(f, "{text}"),
            Arg::Str { quoted, .. } => write!(f, "{quoted}"),
            Arg::Identifier { name, .. } => write!(f, "{name}"),
            Arg::Pipe(p) => write!(f, "({p})"),
            Arg::Chain { node, fields, .. } => {
                match node.as_ref() {
                    Arg::Pipe(_) => write!(f, "{node}")?,
                    other => write!(f, "({other})")?,
                }
                for n in fields {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{arg}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{}", self.decl.join(", "))?;
            write!(f, "{}", if self.is_assign { " = " } else { " := " })?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}

/// Whether a template body is empty in Go's sense (only white space and
/// comments), so that a later empty definition does not replace it.
pub(crate) fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        Node::Comment => true,
        _ => false,
    })
}
