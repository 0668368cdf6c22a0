//! Command-line arguments: `--name value` pairs and `--flag`s, parsed by hand (no parser
//! dependency for a dozen options).

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--name value` options and bare words.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
    /// Words that are not options, in order.
    pub words: Vec<String>,
}

impl Args {
    /// Parses `args`; `flags` names the options that take no value.
    pub fn parse(args: impl IntoIterator<Item = String>, flags: &[&str]) -> Result<Self, String> {
        let mut parsed = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.strip_prefix("--") {
                // A bare `--` (scripts/load.sh's separator) only separates.
                Some("") => {}
                Some(name) if flags.contains(&name) => parsed.flags.push(name.to_owned()),
                Some(name) => {
                    let value = args.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    parsed.values.insert(name.to_owned(), value);
                }
                None => parsed.words.push(arg),
            }
        }
        Ok(parsed)
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|flag| flag == name)
    }

    /// The value of `--name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name` parsed, or `default`; exits with a message on a bad value.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(text) => text.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: cannot parse {text:?}");
                std::process::exit(2);
            }),
        }
    }
}
