//! The parser: tokens to trees, one tree per template (the main text and
//! each `{{define}}` or `{{block}}`), with the checks and error texts of
//! Go's `text/template/parse` ("unexpected EOF", "function \"x\" not
//! defined", "undefined variable \"$x\"", "missing value for if", ...).

mod literal;
mod node;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::TemplateError;
use crate::funcs::FuncMap;
use crate::lex::{lex, Keyword, Kind, Token};
use crate::printf::go_quote;

use literal::parse_number;
pub(crate) use literal::unquote;
pub(crate) use node::{is_empty_tree, Arg, Branch, Command, Node, Pipe, Tree};

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
