//! `agentmon rules check FILE...`: the checks of `promtool check rules`,
//! with its output.

use crate::file::load_rule_file;
use crate::template::Expander;

/// The outcome of checking one file: its rule count or its problems.
#[derive(Debug, Clone, PartialEq)]
pub struct FileCheck {
    pub path: String,
    pub result: Result<usize, Vec<String>>,
}

/// The outcome of checking files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// Whether every file passed.
    pub fn passed(&self) -> bool {
        self.files.iter().all(|f| f.result.is_ok())
    }

    /// What promtool prints on standard output: per file `Checking FILE`,
    /// then `  SUCCESS: N rules found` if it passed, then a blank line.
    pub fn stdout(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            out.push_str(&format!("Checking {}\n", file.path));
            if let Ok(count) = &file.result {
                out.push_str(&format!("  SUCCESS: {count} rules found\n"));
            }
            out.push('\n');
        }
        out
    }

    /// What promtool prints on standard error: for each failed file
    /// `  FAILED:` and one line per problem.
    pub fn stderr(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            if let Err(problems) = &file.result {
                out.push_str("  FAILED:\n");
                for problem in problems {
                    out.push_str(problem);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Both streams interleaved in the order promtool writes them.
    pub fn combined(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            out.push_str(&format!("Checking {}\n", file.path));
            match &file.result {
                Ok(count) => out.push_str(&format!("  SUCCESS: {count} rules found\n")),
                Err(problems) => {
                    out.push_str("  FAILED:\n");
                    for problem in problems {
                        out.push_str(problem);
                        out.push('\n');
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Checks each file as `promtool check rules` does.
pub fn check_files<P: AsRef<str>>(paths: &[P], expander: &dyn Expander) -> CheckReport {
    let files = paths
        .iter()
        .map(|path| {
            let path = path.as_ref();
            let result = load_rule_file(path, expander)
                .map(|groups| groups.iter().map(|g| g.rules.len()).sum())
                .map_err(|e| e.lines());
            FileCheck {
                path: path.to_owned(),
                result,
            }
        })
        .collect();
    CheckReport { files }
}
