//! The lexer: template text to tokens, as Go's `text/template/parse` lexer
//! cuts it, including the trim markers `{{- ` and ` -}}`, comments that must
//! touch the delimiters, and Go's lexical error texts ("unclosed action",
//! "unterminated quoted string", "bad character U+0021 '!'").

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    /// Any other printable ASCII character inside an action, e.g. `,`.
    Char,
    /// `.Name`: the text holds the dot.
    Field,
    /// `$name` or `$`.
    Variable,
    Dot,
    Identifier,
    Bool,
    Nil,
    Number,
    CharConstant,
    String,
    RawString,
    Comment,
    Eof,
    Error,
    Keyword(Keyword),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// One token with its byte offset and 1-based line.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    pub text: String,
    pub pos: usize,
    pub line: usize,
}

impl Token {
    /// The token as Go's parser names it in "unexpected X in Y".
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Eof => "EOF".to_string(),
            Kind::Error => self.text.clone(),
            Kind::Keyword(_) | Kind::Dot | Kind::Nil => format!("<{}>", self.text),
            _ if self.text.chars().count() > 10 => {
                let head: String = self.text.chars().take(10).collect();
                format!("{}...", crate::printf::go_quote(&head))
            }
            _ => crate::printf::go_quote(&self.text),
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// Go's `%#U`: `U+0021 '!'`.
fn describe_rune(c: char) -> String {
    let code = format!("U+{:04X}", c as u32);
    if c.is_control() {
        code
    } else {
        format!("{code} '{c}'")
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    paren_depth: usize,
    tokens: Vec<Token>,
}

/// Cuts `input` into tokens; the last one is `Eof` or `Error`.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        start: 0,
        line: 1,
        start_line: 1,
        paren_depth: 0,
        tokens: Vec::new(),
    };
    lexer.run();
    lexer.tokens
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn backup(&mut self, c: char) {
        self.pos -= c.len_utf8();
        if c == '\n' {
            self.line -= 1;
        }
    }

    fn emit(&mut self, kind: Kind) {
        let text = self.input[self.start..self.pos].to_string();
        self.tokens.push(Token {
            kind,
            text,
            pos: self.start,
            line: self.start_line,
        });
        self.ignore();
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.start_line = self.line;
    }

    /// Moves to `pos`, keeping the line count right.
    fn jump(&mut self, pos: usize) {
        if pos >= self.pos {
            self.line += self.input[self.pos..pos].matches('\n').count();
        } else {
            self.line -= self.input[pos..self.pos].matches('\n').count();
        }
        self.pos = pos;
    }

    /// Records an error token; lexing stops.
    fn error(&mut self, message: String) -> bool {
        self.tokens.push(Token {
            kind: Kind::Error,
            text: message,
            pos: self.start,
            line: self.start_line,
        });
        false
    }

    fn run(&mut self) {
        while self.lex_text() {}
    }

    /// Text up to the next action; returns false at the end.
    fn lex_text(&mut self) -> bool {
        let Some(offset) = self.rest().find(LEFT) else {
            self.jump(self.input.len());
            if self.pos > self.start {
                self.emit(Kind::Text);
            }
            self.emit(Kind::Eof);
            return false;
        };
        let delim_at = self.pos + offset;
        let after = &self.input[delim_at + LEFT.len()..];
        let trim = has_left_trim(after);
        let mut text_end = delim_at;
        if trim {
            text_end = self.start
                + self.input[self.start..delim_at]
                    .trim_end_matches(is_space)
                    .len();
        }
        self.jump(text_end);
        if self.pos > self.start {
            self.emit(Kind::Text);
        }
        // Skip trimmed white space.
        self.jump(delim_at);
        self.ignore();
        self.lex_left_delim(trim)
    }

    fn lex_left_delim(&mut self, trim: bool) -> bool {
        self.pos += LEFT.len();
        let after_marker = if trim { 2 } else { 0 };
        if self.rest()[after_marker..].starts_with("/*") {
            self.jump(self.pos + after_marker);
            self.ignore();
            return self.lex_comment();
        }
        self.emit(Kind::LeftDelim);
        self.jump(self.pos + after_marker);
        self.ignore();
        self.paren_depth = 0;
        self.lex_inside_action()
    }

    /// Whether the input at `pos` is a right delimiter, and whether trimmed.
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim(rest) {
            return (true, true);
        }
        (rest.starts_with(RIGHT), false)
    }

    fn lex_comment(&mut self) -> bool {
        self.pos += 2;
        let Some(end) = self.rest().find("*/") else {
            return self.error("unclosed comment".to_string());
        };
        self.jump(self.pos + end + 2);
        let (delim, trimmed) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".to_string());
        }
        self.emit(Kind::Comment);
        if trimmed {
            self.jump(self.pos + 2);
        }
        self.pos += RIGHT.len();
        if trimmed {
            self.skip_leading_space();
        }
        self.ignore();
        true
    }

    fn skip_leading_space(&mut self) {
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            self.next();
        }
    }

    fn lex_right_delim(&mut self, trim: bool) -> bool {
        if trim {
            // The space before the marker.
            self.jump(self.pos + 1);
            self.ignore();
            self.pos += 1;
        }
        self.pos += RIGHT.len();
        self.emit(Kind::RightDelim);
        if trim {
            self.skip_leading_space();
            self.ignore();
        }
        true
    }

    fn lex_inside_action(&mut self) -> bool {
        loop {
            let (delim, trim) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    return self.lex_right_delim(trim);
                }
                return self.error("unclosed left paren".to_string());
            }
            let Some(c) = self.next() else {
                return self.error("unclosed action".to_string());
            };
            let ok = match c {
                c if is_space(c) => {
                    self.backup(c);
                    self.lex_space();
                    true
                }
                '=' => {
                    self.emit(Kind::Assign);
                    true
                }
                ':' => {
                    if self.next() != Some('=') {
                        return self.error("expected :=".to_string());
                    }
                    self.emit(Kind::Declare);
                    true
                }
                '|' => {
                    self.emit(Kind::Pipe);
                    true
                }
                '"' => self.lex_quote(),
                '`' => self.lex_raw_quote(),
                '$' => self.lex_field_or_variable(Kind::Variable),
                '\'' => self.lex_char(),
                '.' => {
                    if self.peek().is_some_and(|d| d.is_ascii_digit()) {
                        self.backup('.');
                        self.lex_number()
                    } else {
                        self.lex_field_or_variable(Kind::Field)
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.backup(c);
                    self.lex_number()
                }
                c if is_alphanumeric(c) => {
                    self.backup(c);
                    self.lex_identifier()
                }
                '(' => {
                    self.emit(Kind::LeftParen);
                    self.paren_depth += 1;
                    true
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return self.error(format!("unexpected right paren {}", describe_rune(c)));
                    }
                    self.paren_depth -= 1;
                    self.emit(Kind::RightParen);
                    true
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.emit(Kind::Char);
                    true
                }
                c => {
                    return self.error(format!(
                        "unrecognized character in action: {}",
                        describe_rune(c)
                    ))
                }
            };
            if !ok {
                return false;
            }
        }
    }

    fn lex_space(&mut self) {
        let mut count = 0;
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            self.next();
            count += 1;
        }
        // A space followed by "-}}" belongs to the trim marker.
        let before = self.pos - 1;
        if has_right_trim(&self.input[before..]) {
            let c = self.input[before..].chars().next().unwrap_or(' ');
            self.backup(c);
            if count == 1 {
                return;
            }
        }
        self.emit(Kind::Space);
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(RIGHT),
        }
    }

    fn lex_field_or_variable(&mut self, kind: Kind) -> bool {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable {
                Kind::Variable
            } else {
                Kind::Dot
            });
            return true;
        }
        while let Some(c) = self.next() {
            if !is_alphanumeric(c) {
                self.backup(c);
                break;
            }
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", describe_rune(c)));
        }
        self.emit(kind);
        true
    }

    fn lex_identifier(&mut self) -> bool {
        while let Some(c) = self.next() {
            if !is_alphanumeric(c) {
                self.backup(c);
                break;
            }
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", describe_rune(c)));
        }
        let word = &self.input[self.start..self.pos];
        let kind = match word {
            "block" => Kind::Keyword(Keyword::Block),
            "break" => Kind::Keyword(Keyword::Break),
            "continue" => Kind::Keyword(Keyword::Continue),
            "define" => Kind::Keyword(Keyword::Define),
            "else" => Kind::Keyword(Keyword::Else),
            "end" => Kind::Keyword(Keyword::End),
            "if" => Kind::Keyword(Keyword::If),
            "range" => Kind::Keyword(Keyword::Range),
            "template" => Kind::Keyword(Keyword::Template),
            "with" => Kind::Keyword(Keyword::With),
            "nil" => Kind::Nil,
            "true" | "false" => Kind::Bool,
            _ => Kind::Identifier,
        };
        self.emit(kind);
        true
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(c) = self.next() {
                        if c != '\n' {
                            continue;
                        }
                    }
                    return self.error("unterminated character constant".to_string());
                }
                None | Some('\n') => {
                    return self.error("unterminated character constant".to_string())
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::CharConstant);
        true
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(c) = self.next() {
                        if c != '\n' {
                            continue;
                        }
                    }
                    return self.error("unterminated quoted string".to_string());
                }
                None | Some('\n') => return self.error("unterminated quoted string".to_string()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String);
        true
    }

    fn lex_raw_quote(&mut self) -> bool {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".to_string()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::RawString);
        true
    }

    fn lex_number(&mut self) -> bool {
        if !self.scan_number() {
            return self.error(format!(
                "bad number syntax: {}",
                crate::printf::go_quote(&self.input[self.start..self.pos])
            ));
        }
        self.emit(Kind::Number);
        true
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.next();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 10 + 1 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 16 + 6 + 1 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if self.peek().is_some_and(is_alphanumeric) {
            self.next();
            return false;
        }
        true
    }
}

/// `{{- ` : a hyphen followed by white space right after the delimiter.
fn has_left_trim(after_delim: &str) -> bool {
    let mut chars = after_delim.chars();
    chars.next() == Some('-') && chars.next().is_some_and(is_space)
}

/// ` -}}` : white space, a hyphen, then the delimiter.
fn has_right_trim(rest: &str) -> bool {
    let mut chars = rest.chars();
    chars.next().is_some_and(is_space) && rest[1..].starts_with("-}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<(Kind, String)> {
        lex(input).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn trims_white_space_around_markers() {
        let tokens = kinds("a  \n{{- 3 -}}\n\t b");
        assert_eq!(tokens[0], (Kind::Text, "a".to_string()));
        assert_eq!(tokens[2], (Kind::Number, "3".to_string()));
        assert_eq!(tokens[4], (Kind::Text, "b".to_string()));
    }

    #[test]
    fn negative_number_is_not_a_trim_marker() {
        let tokens = kinds("{{-3}}");
        assert_eq!(tokens[1], (Kind::Number, "-3".to_string()));
    }

    #[test]
    fn lines_are_counted() {
        let tokens = lex("a\nb{{\n.X}}\nc");
        let field = tokens
            .iter()
            .find(|t| t.kind == Kind::Field)
            .map(|t| t.line);
        assert_eq!(field, Some(3));
        assert_eq!(tokens.last().map(|t| t.line), Some(4));
    }

    #[test]
    fn lexical_errors() {
        let last = |s: &str| lex(s).pop().map(|t| t.text).unwrap_or_default();
        assert_eq!(last("{{ \"abc }}"), "unterminated quoted string");
        assert_eq!(last("{{ .A"), "unclosed action");
        assert_eq!(last("{{ .A! }}"), "bad character U+0021 '!'");
        assert_eq!(
            last("{{/* x */ }}"),
            "comment ends before closing delimiter"
        );
        assert_eq!(last("{{ 3x }}"), "bad number syntax: \"3x\"");
    }
}
