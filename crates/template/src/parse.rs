//! The parser: tokens to trees, one tree per template (the main text and
//! each `{{define}}` or `{{block}}`), with the checks and error texts of
//! Go's `text/template/parse` ("unexpected EOF", "function \"x\" not
//! defined", "undefined variable \"$x\"", "missing value for if", ...).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::TemplateError;
use crate::funcs::FuncMap;
use crate::lex::{lex, Keyword, Kind, Token};
use crate::printf::go_quote;
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

/// What a control keyword ended with.
enum End {
    End,
    Else,
}

struct Parser<'a> {
    tokens: Vec<Token>,
    index: usize,
    /// Line of the token most recently looked at, for error messages.
    line: usize,
    parse_name: String,
    text: Arc<str>,
    funcs: &'a FuncMap,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    trees: BTreeMap<String, Tree>,
}

type ParseResult<T> = Result<T, TemplateError>;

/// Parses `text`; returns the main tree (named `name`) and the defined ones.
pub(crate) fn parse(
    name: &str,
    text: &str,
    funcs: &FuncMap,
) -> ParseResult<BTreeMap<String, Tree>> {
    let mut parser = Parser {
        tokens: lex(text),
        index: 0,
        line: 1,
        parse_name: name.to_string(),
        text: Arc::from(text),
        funcs,
        vars: vec!["$".to_string()],
        range_depth: 0,
        action_line: 0,
        trees: BTreeMap::new(),
    };
    let root = parser.parse_top()?;
    parser.add_tree(name.to_string(), root)?;
    Ok(parser.trees)
}

impl Parser<'_> {
    fn error<T>(&self, message: impl Into<String>) -> ParseResult<T> {
        Err(TemplateError::Parse {
            name: self.parse_name.clone(),
            line: self.line,
            message: message.into(),
        })
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.index.min(self.tokens.len() - 1)].clone();
        self.index += 1;
        self.line = token.line;
        token
    }

    fn peek(&mut self) -> Token {
        let token = self.tokens[self.index.min(self.tokens.len() - 1)].clone();
        self.line = token.line;
        token
    }

    fn backup(&mut self) {
        self.index -= 1;
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let token = self.next();
            if token.kind != Kind::Space {
                return token;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let token = self.next_non_space();
        self.backup();
        token
    }

    fn unexpected<T>(&mut self, token: &Token, context: &str) -> ParseResult<T> {
        if token.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if token.text.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            self.line = token.line;
            return self.error(format!("{}{extra}", token.text));
        }
        self.error(format!("unexpected {} in {context}", token.describe()))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> ParseResult<Token> {
        let token = self.next_non_space();
        if token.kind != kind {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn add_tree(&mut self, name: String, root: Vec<Node>) -> ParseResult<()> {
        if let Some(existing) = self.trees.get(&name) {
            if !is_empty_tree(&existing.root) {
                if is_empty_tree(&root) {
                    return Ok(());
                }
                return self.error(format!(
                    "template: multiple definition of template {}",
                    go_quote(&name)
                ));
            }
        }
        self.trees.insert(
            name.clone(),
            Tree {
                name,
                parse_name: self.parse_name.clone(),
                text: self.text.clone(),
                root,
            },
        );
        Ok(())
    }

    fn parse_top(&mut self) -> ParseResult<Vec<Node>> {
        let mut root = Vec::new();
        loop {
            let token = self.peek();
            if token.kind == Kind::Eof {
                break;
            }
            if token.kind == Kind::LeftDelim {
                let start = self.index;
                self.next();
                if self.next_non_space().kind == Kind::Keyword(Keyword::Define) {
                    self.parse_definition()?;
                    continue;
                }
                self.index = start;
            }
            match self.text_or_action()? {
                Item::Node(n) => root.push(n),
                Item::End => return self.error("unexpected {{end}}"),
                Item::Else => return self.error("unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    fn parse_template_name(&mut self, token: &Token, context: &str) -> ParseResult<String> {
        match token.kind {
            Kind::String | Kind::RawString => match unquote(&token.text) {
                Some(s) => Ok(s),
                None => self.error("invalid syntax"),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn parse_definition(&mut self) -> ParseResult<()> {
        let context = "define clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, context)?;
        self.expect(Kind::RightDelim, context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if !matches!(end, End::End) {
            return self.error(format!("unexpected {{{{else}}}} in {context}"));
        }
        self.add_tree(name, list)
    }

    /// Nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> ParseResult<(Vec<Node>, End)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End => return Ok((list, End::End)),
                Item::Else => return Ok((list, End::Else)),
            }
        }
        self.error("unexpected EOF")
    }

    fn text_or_action(&mut self) -> ParseResult<Item> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Text => Ok(Item::Node(Node::Text(token.text))),
            Kind::LeftDelim => {
                self.action_line = token.line;
                let result = self.action();
                self.action_line = 0;
                result
            }
            Kind::Comment => Ok(Item::Node(Node::Comment)),
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> ParseResult<Item> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Keyword(Keyword::Block) => return self.block_control().map(Item::Node),
            Kind::Keyword(Keyword::Break) => {
                return self.loop_control("break").map(|()| Item::Node(Node::Break))
            }
            Kind::Keyword(Keyword::Continue) => {
                return self
                    .loop_control("continue")
                    .map(|()| Item::Node(Node::Continue))
            }
            Kind::Keyword(Keyword::Else) => return self.else_control(),
            Kind::Keyword(Keyword::End) => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::End);
            }
            Kind::Keyword(Keyword::If) => return self.if_control().map(Item::Node),
            Kind::Keyword(Keyword::Range) => {
                return self.control("range").map(|b| Item::Node(Node::Range(b)))
            }
            Kind::Keyword(Keyword::Template) => return self.template_control().map(Item::Node),
            Kind::Keyword(Keyword::With) => return self.with_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        // Variables declared here live until the enclosing {{end}}.
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn loop_control(&mut self, word: &str) -> ParseResult<()> {
        let token = self.next_non_space();
        if token.kind != Kind::RightDelim {
            return self.unexpected(&token, &format!("{{{{{word}}}}}"));
        }
        if self.range_depth == 0 {
            return self.error(format!("{{{{{word}}}}} outside {{{{range}}}}"));
        }
        Ok(())
    }

    fn else_control(&mut self) -> ParseResult<Item> {
        let peek = self.peek_non_space();
        if matches!(
            peek.kind,
            Kind::Keyword(Keyword::If) | Kind::Keyword(Keyword::With)
        ) {
            // "else if" / "else with": the keyword stays pending.
            return Ok(Item::Else);
        }
        self.expect(Kind::RightDelim, "else")?;
        Ok(Item::Else)
    }

    fn if_control(&mut self) -> ParseResult<Node> {
        self.control("if").map(Node::If)
    }

    fn with_control(&mut self) -> ParseResult<Node> {
        self.control("with").map(Node::With)
    }

    fn control(&mut self, context: &str) -> ParseResult<Branch> {
        let saved = self.vars.len();
        let result = self.control_inner(context);
        self.vars.truncate(saved);
        result
    }

    fn control_inner(&mut self, context: &str) -> ParseResult<Branch> {
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, end) = listed?;
        let mut else_list = None;
        if let End::Else = end {
            let peek = self.peek_non_space();
            if context == "if" && peek.kind == Kind::Keyword(Keyword::If) {
                self.next_non_space();
                else_list = Some(vec![self.if_control()?]);
            } else if context == "with" && peek.kind == Kind::Keyword(Keyword::With) {
                self.next_non_space();
                else_list = Some(vec![self.with_control()?]);
            } else {
                let (list, end) = self.item_list()?;
                if !matches!(end, End::End) {
                    return self.error("expected end; found {{else}}");
                }
                else_list = Some(list);
            }
        }
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_control(&mut self) -> ParseResult<Node> {
        let context = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, context)?;
        let pipe = if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            Some(self.pipeline(context, Kind::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> ParseResult<Node> {
        let context = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, context)?;
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let listed = self.item_list();
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        let (list, end) = listed?;
        if !matches!(end, End::End) {
            return self.error(format!("unexpected {{{{else}}}} in {context}"));
        }
        self.add_tree(name.clone(), list)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> ParseResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations or assignments.
        loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let before = self.index;
            self.next_non_space();
            let after_variable = self.peek();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.text.clone());
                    self.vars.push(v.text);
                    break;
                }
                Kind::Char if next.text == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.text.clone());
                    self.vars.push(v.text);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => return self.error("range can only initialize variables"),
                        }
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                _ => {
                    let _ = after_variable;
                    self.index = before;
                    break;
                }
            }
        }
        loop {
            let token = self.next_non_space();
            if token.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&mut self, pipe: &Pipe, context: &str) -> ParseResult<()> {
        if pipe.cmds.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                cmd.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number { .. }
                        | Arg::Str { .. }
                )
            ) {
                return self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> ParseResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                args.push(operand);
            }
            let token = self.next();
            match token.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.error("empty command");
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> ParseResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().text[1..].to_string());
        }
        Ok(Some(match node {
            // Go gives the merged node the position of the first added field.
            Arg::Field { mut names, .. } => {
                names.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    names,
                }
            }
            Arg::Variable {
                name,
                fields: mut existing,
                ..
            } => {
                existing.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    name,
                    fields: existing,
                }
            }
            Arg::Bool(..) | Arg::Str { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return self.error(format!(
                    "unexpected . after term {}",
                    go_quote(&node.to_string())
                ));
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> ParseResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.kind {
            Kind::Identifier => {
                if !self.funcs.contains(&token.text) && !crate::builtins::is_builtin(&token.text) {
                    return self.error(format!("function {} not defined", go_quote(&token.text)));
                }
                Arg::Identifier {
                    pos,
                    name: token.text,
                }
            }
            Kind::Dot => Arg::Dot(pos),
            Kind::Nil => Arg::Nil(pos),
            Kind::Variable => {
                if !self.vars.contains(&token.text) {
                    return self.error(format!("undefined variable {}", go_quote(&token.text)));
                }
                Arg::Variable {
                    pos,
                    name: token.text,
                    fields: Vec::new(),
                }
            }
            Kind::Field => Arg::Field {
                pos,
                names: vec![token.text[1..].to_string()],
            },
            Kind::Bool => Arg::Bool(pos, token.text == "true"),
            Kind::CharConstant | Kind::Number => {
                match parse_number(&token.text, token.kind == Kind::CharConstant) {
                    Ok(value) => Arg::Number {
                        pos,
                        text: token.text,
                        value,
                    },
                    Err(message) => return self.error(message),
                }
            }
            Kind::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", Kind::RightParen)?,
            )),
            Kind::String | Kind::RawString => match unquote(&token.text) {
                Some(value) => Arg::Str {
                    pos,
                    quoted: token.text,
                    value,
                },
                None => return self.error("invalid syntax"),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Item {
    Node(Node),
    End,
    Else,
}

/// Go's `strconv.Unquote` for "...", `...` and '...'.
pub(crate) fn unquote(text: &str) -> Option<String> {
    let quote = text.chars().next()?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let body = &text[1..text.len() - 1];
    if quote == '`' {
        return (!body.contains('`')).then(|| body.replace('\r', ""));
    }
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '\'' | '"' if e == quote => out.push(e),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| chars.next()).collect();
                if hex.len() != n {
                    return None;
                }
                let code = u32::from_str_radix(&hex, 16).ok()?;
                if e == 'x' {
                    // A byte; only valid UTF-8 results are kept here.
                    out.push(char::from_u32(code)?);
                } else {
                    out.push(char::from_u32(code)?);
                }
            }
            '0'..='7' => {
                let mut code = e.to_digit(8)?;
                for _ in 0..2 {
                    code = code * 8 + chars.next()?.to_digit(8)?;
                }
                if code > 255 {
                    return None;
                }
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    if quote == '\'' && out.chars().count() != 1 {
        return None;
    }
    Some(out)
}

/// Parses a number or character constant as Go's parser does, then picks
/// the value Go's executor uses for it: a float when the text has `.`, `e`
/// or `p` (and is not hex or a character), an int otherwise.
fn parse_number(text: &str, is_char: bool) -> Result<Result<Value, String>, String> {
    if is_char {
        let Some(s) = unquote(text) else {
            return Err(format!("malformed character constant: {text}"));
        };
        let c = s.chars().next().unwrap_or('\0');
        return Ok(Ok(Value::Int(i64::from(c as u32))));
    }
    let int = parse_go_int(text);
    let float = match int {
        Some(i) => Some(i as f64),
        None => {
            let cleaned = text.to_string();
            match cleaned.parse::<f64>() {
                Ok(f) if !cleaned.contains(['.', 'e', 'E', 'p', 'P']) => {
                    let _ = f;
                    if parse_go_uint(text).is_some() {
                        return Ok(Err(format!("{text} overflows int")));
                    }
                    return Err(format!("integer overflow: {}", go_quote(text)));
                }
                Ok(f)
                    if !cleaned.to_ascii_lowercase().contains("inf")
                        && !cleaned.to_ascii_lowercase().contains("nan") =>
                {
                    Some(f)
                }
                _ => None,
            }
        }
    };
    let is_hex = text
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("0x");
    match (int, float) {
        (_, Some(f)) if !is_hex && text.contains(['.', 'e', 'E', 'p', 'P']) => {
            Ok(Ok(Value::Float(f)))
        }
        (Some(i), _) => Ok(Ok(Value::Int(i))),
        (None, Some(f)) => Ok(Ok(Value::Float(f))),
        (None, None) => Err(format!("illegal number syntax: {}", go_quote(text))),
    }
}

fn parse_go_uint(text: &str) -> Option<u64> {
    let (radix, digits) = split_radix(text.strip_prefix('+').unwrap_or(text))?;
    u64::from_str_radix(&digits, radix).ok()
}

/// Go's `strconv.ParseInt(text, 0, 64)`.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = split_radix(body)?;
    let magnitude = i128::from(u64::from_str_radix(&digits, radix).ok()?);
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn split_radix(body: &str) -> Option<(u32, String)> {
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], false)
    } else {
        (10, lower.as_str(), false)
    };
    let bad_underscore =
        digits.ends_with('_') || digits.contains("__") || (!prefixed && digits.starts_with('_'));
    if digits.is_empty() || bad_underscore || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    Some((radix, digits.replace('_', "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_go_ideal_constants() {
        let n = |t: &str| parse_number(t, false);
        assert_eq!(n("42"), Ok(Ok(Value::Int(42))));
        assert_eq!(n("0x1F"), Ok(Ok(Value::Int(31))));
        assert_eq!(n("0o17"), Ok(Ok(Value::Int(15))));
        assert_eq!(n("017"), Ok(Ok(Value::Int(15))));
        assert_eq!(n("0b101"), Ok(Ok(Value::Int(5))));
        assert_eq!(n("1_000"), Ok(Ok(Value::Int(1000))));
        assert_eq!(
            n("1__0"),
            Err("illegal number syntax: \"1__0\"".to_string())
        );
        assert_eq!(n("1.0"), Ok(Ok(Value::Float(1.0))));
        assert_eq!(n("1e3"), Ok(Ok(Value::Float(1000.0))));
        assert_eq!(n("-2.5"), Ok(Ok(Value::Float(-2.5))));
        assert_eq!(n(".5"), Ok(Ok(Value::Float(0.5))));
        assert_eq!(parse_number("'a'", true), Ok(Ok(Value::Int(97))));
        assert_eq!(
            n("18446744073709551615"),
            Ok(Err("18446744073709551615 overflows int".to_string()))
        );
    }

    #[test]
    fn unquotes_like_strconv() {
        assert_eq!(
            unquote(r#""a\tb\u00e9\x41\101""#).as_deref(),
            Some("a\tbéAA")
        );
        assert_eq!(unquote("`a\\n`").as_deref(), Some("a\\n"));
        assert_eq!(unquote(r#""\'""#), None);
        assert_eq!(unquote(r"'\''").as_deref(), Some("'"));
    }
}
