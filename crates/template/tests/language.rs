//! The template language against cases drawn from Go's `text/template`
//! behaviour: control structures, variables and their scopes, trimming,
//! map order, built-in functions, `printf`, and error texts.

use std::collections::BTreeMap;

use agentmon_template::{FuncMap, MissingKey, Template, Value};

fn data() -> Value {
    let mut m = BTreeMap::new();
    m.insert("I".to_string(), Value::Int(17));
    m.insert("F".to_string(), Value::Float(1.5));
    m.insert("S".to_string(), Value::str("xyz"));
    m.insert("Empty".to_string(), Value::str(""));
    m.insert("T".to_string(), Value::Bool(true));
    m.insert(
        "SI".to_string(),
        Value::List(vec![3.into(), 4.into(), 5.into()]),
    );
    m.insert("SIEmpty".to_string(), Value::List(vec![]));
    m.insert("SS".to_string(), Value::List(vec!["a".into(), "b".into()]));
    let msi: BTreeMap<String, Value> = [("one", 1), ("two", 2), ("three", 3)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::Int(v)))
        .collect();
    m.insert("MSI".to_string(), Value::Map(msi));
    m.insert("MSIEmpty".to_string(), Value::Map(BTreeMap::new()));
    let labels: BTreeMap<String, Value> = [("severity", "page"), ("instance", "host:9100")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::str(v)))
        .collect();
    m.insert("Labels".to_string(), Value::Map(labels));
    let mut inner = BTreeMap::new();
    inner.insert("Name".to_string(), Value::str("inner"));
    inner.insert("Nil".to_string(), Value::Nil);
    m.insert("Inner".to_string(), Value::Map(inner));
    Value::Map(m)
}

fn run_with(text: &str, funcs: &FuncMap) -> Result<String, String> {
    let t = Template::parse("t", text, funcs).map_err(|e| e.to_string())?;
    t.execute(&data(), funcs).map_err(|e| e.to_string())
}

fn run(text: &str) -> Result<String, String> {
    run_with(text, &FuncMap::builtin())
}

fn check(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        match run(text) {
            Ok(got) if got == *want => {}
            other => failures.push(format!("{text:?}: want {want:?}, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check_errors(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        match run(text) {
            Err(got) if got == *want => {}
            other => failures.push(format!("{text:?}: want error {want:?}, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn text_fields_and_literals() {
    check(&[
        ("", ""),
        ("some text", "some text"),
        ("{{.I}}", "17"),
        ("{{.F}}", "1.5"),
        ("{{.S}}", "xyz"),
        ("{{.SI}}", "[3 4 5]"),
        ("{{.MSI}}", "map[one:1 three:3 two:2]"),
        ("{{.Labels.severity}}", "page"),
        ("{{.Inner.Name}}", "inner"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Missing.Deeper}}", "<no value>"),
        ("{{.Inner.Nil}}", "<no value>"),
        ("{{$}}", "map[Empty: F:1.5 I:17 Inner:map[Name:inner Nil:<nil>] Labels:map[instance:host:9100 severity:page] MSI:map[one:1 three:3 two:2] MSIEmpty:map[] S:xyz SI:[3 4 5] SIEmpty:[] SS:[a b] T:true]"),
        ("{{$.I}}", "17"),
        ("{{1}}", "1"),
        ("{{-3}}", "-3"),
        ("{{+7}}", "7"),
        ("{{1.0}}", "1"),
        ("{{1e3}}", "1000"),
        ("{{1e21}}", "1e+21"),
        ("{{0x1F}}", "31"),
        ("{{0o17}}", "15"),
        ("{{0b101}}", "5"),
        ("{{1_000}}", "1000"),
        ("{{'a'}}", "97"),
        ("{{'\\n'}}", "10"),
        ("{{\"a\\tb\\u00e9\"}}", "a\tbé"),
        ("{{`raw\\t`}}", "raw\\t"),
        ("{{true}} {{false}}", "true false"),
        ("{{(1)}}", "1"),
        ("{{(.Inner).Name}}", "inner"),
        ("{{(index .SI 1)}}", "4"),
    ]);
}

#[test]
fn trim_markers_and_comments() {
    check(&[
        ("{{23 -}} < {{- 45}}", "23<45"),
        ("{{23 -}}\n\t < \n{{- 45}}", "23<45"),
        ("x \n {{- 3}}", "x3"),
        ("{{3 -}} \n x", "3x"),
        ("a{{/* comment */}}b", "ab"),
        ("a{{/*\nmulti\nline */}}b", "ab"),
        ("a \n{{- /* trimmed */ -}}\n b", "ab"),
        ("{{- 1 -}}", "1"),
        ("{{-1}}", "-1"),
        ("{{ 1 }}{{/* x */}}", "1"),
    ]);
}

#[test]
fn if_else_chains() {
    check(&[
        ("{{if true}}TRUE{{end}}", "TRUE"),
        ("{{if false}}TRUE{{end}}", ""),
        ("{{if 1}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
        ("{{if 0}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
        ("{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
        ("{{if 0.0}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
        ("{{if .Empty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if .Missing}}SET{{else}}UNSET{{end}}", "UNSET"),
        ("{{if false}}FALSE{{else if true}}TRUE{{end}}", "TRUE"),
        (
            "{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}",
            "3",
        ),
        (
            "{{if eq 1 3}}1{{else if eq 2 3}}2{{else}}else{{end}}",
            "else",
        ),
        ("{{if and .T .I}}both{{end}}", "both"),
        ("{{if not .Empty}}not empty{{end}}", "not empty"),
    ]);
}

#[test]
fn with_and_else_with() {
    check(&[
        ("{{with .S}}{{.}}{{end}}", "xyz"),
        ("{{with .Empty}}{{.}}{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{with $x := .I}}{{$x}}/{{.}}{{end}}", "17/17"),
        ("{{with .Missing}}a{{else with .I}}{{.}}{{end}}", "17"),
        (
            "{{with .Missing}}a{{else with .Empty}}b{{else}}c{{end}}",
            "c",
        ),
        ("{{with .Inner}}{{.Name}}{{end}}", "inner"),
    ]);
}

#[test]
fn range_over_lists_maps_and_ints() {
    check(&[
        ("{{range .SI}}-{{.}}-{{end}}", "-3--4--5-"),
        ("{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{range .Missing}}x{{else}}none{{end}}", "none"),
        ("{{range $x := .SI}}<{{$x}}>{{end}}", "<3><4><5>"),
        (
            "{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}",
            "<0=3><1=4><2=5>",
        ),
        ("{{range .MSI}}-{{.}}-{{end}}", "-1--3--2-"),
        (
            "{{range $k, $v := .MSI}}<{{$k}}={{$v}}>{{end}}",
            "<one=1><three=3><two=2>",
        ),
        (
            "{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}",
            "instance=host:9100;severity=page;",
        ),
        ("{{range .MSIEmpty}}x{{else}}empty map{{end}}", "empty map"),
        ("{{range .SI}}{{break}}{{.}}{{end}}", ""),
        (
            "{{range $i, $x := .SI}}{{if ge $i 2}}{{break}}{{end}}{{.}}{{end}}",
            "34",
        ),
        ("{{range .SI}}{{continue}}{{.}}{{end}}", ""),
        (
            "{{range .SI}}{{if eq . 3}}{{continue}}{{end}}{{.}}{{end}}",
            "45",
        ),
        (
            "{{range .SI}}{{range $.SS}}{{.}}{{end}}{{.}}{{end}}",
            "ab3ab4ab5",
        ),
        ("{{range 3}}{{.}}{{end}}", "012"),
        (
            "{{range 1000000000000}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}done",
            "01done",
        ),
        ("{{range 0}}x{{else}}none{{end}}", "none"),
        ("{{range $i := 2}}[{{$i}}]{{end}}", "[0][1]"),
        ("{{range .SI}}{{$.I}}{{end}}", "171717"),
    ]);
}

#[test]
fn variables_and_scopes() {
    check(&[
        ("{{$x := 1}}{{$x}}", "1"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{$x := 0}}{{range .SI}}{{$x = .}}{{end}}{{$x}}", "5"),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"),
        ("{{$x := 1}}{{with 3}}{{$x = 2}}{{end}}{{$x}}", "2"),
        ("{{$x := .Labels}}{{$x.severity}}", "page"),
        ("{{$x := .Labels.instance}}{{$x}}", "host:9100"),
        (
            "{{range $i, $e := .SI}}{{$i}}{{end}}{{$i := 9}}{{$i}}",
            "0129",
        ),
        (
            "{{$v := \"a\"}}{{$w := $v}}{{$v = \"b\"}}{{$w}}{{$v}}",
            "ab",
        ),
        ("{{with $x := 5}}{{$x}}{{end}}", "5"),
    ]);
}

#[test]
fn pipelines_and_builtins() {
    check(&[
        ("{{\"output\" | printf \"%s\"}}", "output"),
        ("{{.S | printf \"%s!\" | printf \"%q\"}}", "\"xyz!\""),
        ("{{print 1 2 \"a\" 3}}", "1 2a3"),
        ("{{println 1 \"a\"}}", "1 a\n"),
        ("{{printf \"%d-%s\" 1 \"x\"}}", "1-x"),
        ("{{print (printf \"%d\" 1) 2}}", "12"),
        ("{{and 1 0}}", "0"),
        ("{{and 1 2}}", "2"),
        ("{{or 0 \"\"}}", ""),
        ("{{or 0 2}}", "2"),
        ("{{or 1 (index .SI 99)}}", "1"),
        ("{{and 0 (index .SI 99)}}", "0"),
        ("{{not true}} {{not 0}}", "false true"),
        ("{{len .SI}} {{len .S}} {{len .MSI}}", "3 3 3"),
        ("{{index .SI 2}} {{index .MSI \"two\"}}", "5 2"),
        ("{{index .Labels \"nope\"}}|", "|"),
        ("{{index \"abc\" 1}}", "98"),
        (
            "{{slice \"abcde\" 1 3}} {{slice .SI 1}} {{slice .SI}}",
            "bc [4 5] [3 4 5]",
        ),
        (
            "{{eq 1 2 3 1}} {{eq \"a\" \"a\"}} {{ne 1 2}} {{eq .Missing \"x\"}}",
            "true true true false",
        ),
        (
            "{{lt 1.5 2.5}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}",
            "true true true false",
        ),
        (
            "{{html \"<a href='x'>&\\\"\"}}",
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;",
        ),
        ("{{js \"it's <b>\"}}", "it\\'s \\u003Cb\\u003E"),
        ("{{urlquery \"a b&c\"}}", "a+b%26c"),
        ("{{.S | len}}", "3"),
        ("{{.SI | len}}", "3"),
        ("{{3 | printf \"%d-%d\" 4}}", "4-3"),
    ]);
}

#[test]
fn printf_verbs() {
    check(&[
        ("{{printf \"%v %v %v\" 1 1.5 \"s\"}}", "1 1.5 s"),
        (
            "{{printf \"%5d|%-5d|%05d\" 42 42 -42}}",
            "   42|42   |-0042",
        ),
        (
            "{{printf \"%x %X %o %b %c %q\" 255 255 8 5 65 \"q\"}}",
            "ff FF 10 101 A \"q\"",
        ),
        (
            "{{printf \"%.2f %e %g %G\" 3.14159 1234.5678 0.00001 1e21}}",
            "3.14 1.234568e+03 1e-05 1E+21",
        ),
        (
            "{{printf \"%8.3f|%+.1e|% d\" 3.14159 12345.0 5}}",
            "   3.142|+1.2e+04| 5",
        ),
        ("{{printf \"%t %v\" true .Missing}}", "true <nil>"),
        ("{{printf \"%d\" \"foo\"}}", "%!d(string=foo)"),
        ("{{printf \"%d %d\" 1}}", "1 %!d(MISSING)"),
        ("{{printf \"%d\" 1 2}}", "1%!(EXTRA int=2)"),
        ("{{printf \"%s\" 1.5}}", "%!s(float64=1.5)"),
        ("{{printf \"%*d|%.*f\" 4 7 1 2.25}}", "   7|2.2"),
        ("{{printf \"%6.2f%%\" 99.5}}", " 99.50%"),
        ("{{printf \"%v\" .SI}}", "[3 4 5]"),
        ("{{printf \"%q\" .SS}}", "[\"a\" \"b\"]"),
        ("{{printf \"%.3s\" \"abcdef\"}}", "abc"),
        ("{{printf \"%#x %#o\" 255 8}}", "0xff 010"),
        ("{{printf \"%.0f %.0f\" 2.5 3.5}}", "2 4"),
    ]);
}

#[test]
fn templates_and_blocks() {
    check(&[
        ("{{define \"x\"}}X{{.}}{{end}}{{template \"x\" 1}}", "X1"),
        ("{{define \"x\"}}{{.}}{{end}}{{template \"x\"}}", "<no value>"),
        ("{{define \"x\"}}{{$}}{{end}}{{template \"x\" .I}}", "17"),
        ("{{block \"b\" .S}}[{{.}}]{{end}}", "[xyz]"),
        ("{{define \"rec\"}}{{if gt . 0}}{{.}}{{template \"rec\" (len (slice \"xxxxxxxxx\" 1 .))}}{{end}}{{end}}{{template \"rec\" 3}}", "321"),
    ]);
}

#[test]
fn added_files_replace_definitions_and_named_execution_works() {
    let funcs = FuncMap::builtin();
    let mut t = Template::parse(
        "main",
        "{{block \"b\" .}}default{{end}}|{{template \"other\" .}}",
        &funcs,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    t.add(
        "file.tmpl",
        "{{define \"other\"}}other={{.}}{{end}}",
        &funcs,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.execute(&Value::Int(1), &funcs).as_deref(),
        Ok("default|other=1")
    );
    t.add("override.tmpl", "{{define \"b\"}}override{{end}}", &funcs)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.execute(&Value::Int(1), &funcs).as_deref(),
        Ok("override|other=1")
    );
    // An empty definition does not replace a non-empty one.
    t.add("empty.tmpl", "{{define \"b\"}}  {{end}}", &funcs)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.execute_named("b", &Value::Nil, &funcs).as_deref(),
        Ok("override")
    );
    let missing = t.execute_named("nope", &Value::Nil, &funcs);
    assert_eq!(
        missing.map_err(|e| e.to_string()),
        Err("template: no template \"nope\" associated with template \"main\"".to_string())
    );
}

#[test]
fn missing_key_options() {
    let mut zero = FuncMap::builtin();
    zero.set_missing_key(MissingKey::Zero);
    assert_eq!(run_with("[{{.Labels.nope}}]", &zero).as_deref(), Ok("[]"));
    assert_eq!(run_with("[{{.MSI.nope}}]", &zero).as_deref(), Ok("[0]"));
    assert_eq!(
        run_with("[{{.Inner.nope}}]", &zero).as_deref(),
        Ok("[<no value>]")
    );
    assert_eq!(
        run("[{{index .MSI \"nope\"}}|{{index .Labels \"nope\"}}|{{index .Inner \"nope\"}}]")
            .as_deref(),
        Ok("[0||<no value>]")
    );
    let mut error = FuncMap::builtin();
    error.set_missing_key(MissingKey::Error);
    assert_eq!(
        run_with("{{.Labels.nope}}", &error),
        Err(
            "template: t:1:9: executing \"t\" at <.Labels.nope>: map has no entry for key \"nope\""
                .to_string()
        )
    );
}

#[test]
fn user_functions_and_their_errors() {
    let mut funcs = FuncMap::builtin();
    funcs.insert_with_arity(
        "double",
        agentmon_template::Arity::Exactly(1),
        |a| match &a[0] {
            Value::Int(i) => Ok(Value::Int(i * 2)),
            other => Err(format!(
                "wrong type for value; expected int; got {}",
                other.type_name()
            )),
        },
    );
    funcs.insert("fail", |_| Err("boom".to_string()));
    funcs.insert_function(
        "boxed",
        std::sync::Arc::new(|a: &[Value]| Ok(Value::Int(a.len() as i64))),
    );
    assert_eq!(run_with("{{boxed 1 2 3}}", &funcs).as_deref(), Ok("3"));
    assert_eq!(
        run_with("{{double 4}} {{.I | double}}", &funcs).as_deref(),
        Ok("8 34")
    );
    assert_eq!(
        run_with("{{double 1 2}}", &funcs),
        Err("template: t:1:2: executing \"t\" at <double>: wrong number of args for double: want 1 got 2".to_string())
    );
    assert_eq!(
        run_with("{{fail}}", &funcs),
        Err("template: t:1:2: executing \"t\" at <fail>: error calling fail: boom".to_string())
    );
    assert_eq!(
        run_with("x\n  {{ .I | fail }}", &funcs),
        Err("template: t:2:10: executing \"t\" at <fail>: error calling fail: boom".to_string())
    );
    assert_eq!(
        run_with("{{double \"x\"}}", &funcs),
        Err("template: t:1:2: executing \"t\" at <double \"x\">: wrong type for value; expected int; got string".to_string())
    );
}

#[test]
fn parse_errors_name_the_line() {
    check_errors(&[
        ("{{.X", "template: t:1: unclosed action"),
        ("a\n{{if true}}", "template: t:2: unexpected EOF"),
        ("{{end}}", "template: t:1: unexpected {{end}}"),
        ("{{else}}", "template: t:1: unexpected {{else}}"),
        (
            "\n\n{{nosuch 1}}",
            "template: t:3: function \"nosuch\" not defined",
        ),
        ("{{$x}}", "template: t:1: undefined variable \"$x\""),
        (
            "{{if true}}{{$x := 1}}{{end}}{{$x}}",
            "template: t:1: undefined variable \"$x\"",
        ),
        ("{{if}}{{end}}", "template: t:1: missing value for if"),
        ("{{range}}{{end}}", "template: t:1: missing value for range"),
        ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
        (
            "{{continue}}",
            "template: t:1: {{continue}} outside {{range}}",
        ),
        (
            "line\n\n{{.X | 3}}",
            "template: t:3: non executable command in pipeline stage 2",
        ),
        ("{{\"abc}}", "template: t:1: unterminated quoted string"),
        ("{{.X!}}", "template: t:1: bad character U+0021 '!'"),
        ("{{)}}", "template: t:1: unexpected right paren U+0029 ')'"),
        ("{{(1}}", "template: t:1: unclosed left paren"),
        (
            "{{/* x */ }}",
            "template: t:1: comment ends before closing delimiter",
        ),
        ("{{/* x ", "template: t:1: unclosed comment"),
        ("{{3x}}", "template: t:1: bad number syntax: \"3x\""),
        (
            "{{$x, $y := 1}}",
            "template: t:1: too many declarations in command",
        ),
        (
            "{{range $a, $b, $c := .SI}}{{end}}",
            "template: t:1: too many declarations in range",
        ),
        (
            "{{.X \"y\"z}}",
            "template: t:1: unexpected \"z\" in operand",
        ),
        (
            "{{template .X}}",
            "template: t:1: unexpected \".X\" in template clause",
        ),
        (
            "{{template .}}",
            "template: t:1: unexpected <.> in template clause",
        ),
        (
            "{{define \"a\"}}a{{end}}{{define \"a\"}}b{{end}}",
            "template: t:1: template: multiple definition of template \"a\"",
        ),
        (
            "{{if true}}a{{else}}b{{else}}c{{end}}",
            "template: t:1: expected end; found {{else}}",
        ),
        (
            "{{\"a\".X}}",
            "template: t:1: unexpected . after term \"\\\"a\\\"\"",
        ),
        ("{{\"\\z\"}}", "template: t:1: invalid syntax"),
        (
            "{{18446744073709551616}}",
            "template: t:1: integer overflow: \"18446744073709551616\"",
        ),
    ]);
}

#[test]
fn execution_errors_name_line_column_and_node() {
    check_errors(&[
        ("{{index .SI 10}}", "template: t:1:2: executing \"t\" at <index .SI 10>: error calling index: index out of range: 10"),
        ("{{.S.Y}}", "template: t:1:4: executing \"t\" at <.S.Y>: can't evaluate field Y in type string"),
        ("a\n {{ .I.Y }}", "template: t:2:6: executing \"t\" at <.I.Y>: can't evaluate field Y in type int"),
        ("{{template \"nope\"}}", "template: t:1:11: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined"),
        ("{{nil}}", "template: t:1:2: executing \"t\" at <nil>: nil is not a command"),
        ("{{eq 1 1.0}}", "template: t:1:2: executing \"t\" at <eq 1 1.0>: error calling eq: incompatible types for comparison"),
        ("{{lt true false}}", "template: t:1:2: executing \"t\" at <lt true false>: error calling lt: invalid type for comparison"),
        ("{{range .S}}{{end}}", "template: t:1:8: executing \"t\" at <{{range .S}}>: range can't iterate over xyz"),
        ("{{1 2}}", "template: t:1:2: executing \"t\" at <1>: can't give argument to non-function 1"),
        ("{{.Inner.Nil.X}}", "template: t:1:8: executing \"t\" at <.Inner.Nil.X>: nil pointer evaluating interface {}.X"),
        ("{{len 3}}", "template: t:1:2: executing \"t\" at <len 3>: error calling len: len of type int"),
        ("{{.Labels.severity 1}}", "template: t:1:9: executing \"t\" at <.Labels.severity>: severity is not a method but has arguments"),
        ("{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" 1}}", "template: t:1:25: executing \"r\" at <{{template \"r\" .}}>: exceeded maximum template depth (200)"),
    ]);
}

#[test]
fn more_scoping_and_pipeline_cases() {
    check(&[
        (
            "{{$x := \"a\"}}{{with $x := \"b\"}}{{$x}}{{end}}{{$x}}",
            "ba",
        ),
        (
            "{{template \"later\" 5}}{{define \"later\"}}L{{.}}{{end}}",
            "L5",
        ),
        ("{{if false}}a{{/* c */}}{{else}}b{{end}}", "b"),
        ("{{.SI | len | printf \"%03d\"}}", "003"),
        ("{{printf \"%s\" .Missing}}", "%!s(<nil>)"),
        (
            "{{with .Missing}}x{{else with .Empty}}y{{else with .S}}{{.}}{{end}}",
            "xyz",
        ),
        (
            "{{range $i, $e := .SS}}{{range $j, $f := $.SS}}{{$i}}{{$j}}{{end}},{{end}}",
            "0001,1011,",
        ),
        (
            "{{$n := 0}}{{range .SI}}{{if gt . 3}}{{$n = .}}{{break}}{{end}}{{end}}{{$n}}",
            "4",
        ),
        (
            "{{range .MSIEmpty}}{{else}}{{range .SI}}{{.}}{{end}}{{end}}",
            "345",
        ),
        ("{{(printf \"%d\" 3) | printf \"<%s>\"}}", "<3>"),
        ("{{- \"a\" -}} \n {{- \"b\" -}}", "ab"),
    ]);
}

#[test]
fn runaway_templates_stop_with_an_error() {
    let exponential = "{{define \"r\"}}{{if gt . 0}}\
        {{template \"r\" (len (slice \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" 1 .))}}\
        {{template \"r\" (len (slice \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" 1 .))}}\
        {{end}}{{end}}{{template \"r\" 40}}";
    let funcs = FuncMap::builtin();
    // The error names the template that was running when the budget ran out.
    for (text, running) in [(exponential, "r"), ("{{range 1000000000000}}{{end}}", "t")] {
        let mut t = Template::parse("t", text, &funcs).unwrap_or_else(|e| panic!("{e}"));
        t.set_step_limit(100_000);
        assert_eq!(
            t.execute(&data(), &funcs).map_err(|e| e.to_string()),
            Err(format!(
                "template: {running}: execution stopped after 100000 steps; \
                 the template recurses or loops too much"
            ))
        );
    }
    let doubling = "{{$x := \"ab\"}}{{range 80}}{{$x = printf \"%s%s\" $x $x}}{{end}}{{len $x}}";
    let mut t = Template::parse("t", doubling, &funcs).unwrap_or_else(|e| panic!("{e}"));
    t.set_output_limit(1 << 20);
    assert_eq!(
        t.execute(&data(), &funcs).map_err(|e| e.to_string()),
        Err(
            "template: t: execution stopped: output or a string would exceed 1048576 bytes"
                .to_string()
        )
    );
    let mut args_funcs = FuncMap::builtin();
    args_funcs.insert("pair", |a| Ok(Value::List(a.to_vec())));
    let nesting = "{{$x := 1}}{{range 80}}{{$x = pair $x $x}}{{end}}{{len $x}}";
    let mut t = Template::parse("t", nesting, &args_funcs).unwrap_or_else(|e| panic!("{e}"));
    t.set_output_limit(1 << 20);
    assert!(t.execute(&data(), &args_funcs).is_err());
    let mut t = Template::parse("t", "{{range 100}}0123456789{{end}}", &funcs)
        .unwrap_or_else(|e| panic!("{e}"));
    t.set_output_limit(500);
    assert!(t.execute(&data(), &funcs).is_err());
    // The default limit leaves ordinary work alone.
    assert_eq!(run("{{range 100000}}{{end}}done").as_deref(), Ok("done"));
}

#[test]
fn templates_and_function_maps_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<FuncMap>();
    assert_send_sync::<Value>();
}

#[test]
fn times_and_durations_have_go_methods() {
    let funcs = FuncMap::builtin();
    let mut m = BTreeMap::new();
    m.insert(
        "T".to_string(),
        Value::Time(agentmon_template::GoTime::from_unix_millis(
            1_435_065_584_128,
        )),
    );
    m.insert(
        "D".to_string(),
        Value::Duration(agentmon_template::GoDuration {
            nanos: 5_400_000_000_000,
        }),
    );
    let data = Value::Map(m);
    let t = Template::parse(
        "t",
        "{{.T}}|{{.T.Unix}}|{{.T.Format \"2006-01-02 15:04\"}}|{{.D}}|{{.D.Hours}}|{{printf \"%d\" .D}}",
        &funcs,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.execute(&data, &funcs).as_deref(),
        Ok("2015-06-23 13:19:44.128 +0000 UTC|1435065584|2015-06-23 13:19|1h30m0s|1.5|5400000000000")
    );
}
