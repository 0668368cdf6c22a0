//! The few command-line helpers both programs share: flags with values, durations in
//! seconds.

use std::time::Duration;

/// Command-line arguments with `--flag VALUE` (or `--flag=VALUE`) lookups.
#[derive(Debug, Clone)]
pub struct Args(Vec<String>);

impl Args {
    /// The program's arguments after its name.
    pub fn from_env() -> Self {
        Self(std::env::args().skip(1).collect())
    }

    /// The arguments themselves.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The value of `name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        let mut args = self.0.iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                return None;
            }
            if arg == name {
                return args.next().map(String::as_str);
            }
            if let Some(value) = arg.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
                return Some(value);
            }
        }
        None
    }

    /// The value of `name` parsed, or `default`; an unparsable value is an error.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| format!("{name}: cannot parse {value:?}")),
        }
    }

    /// A duration in (fractional) seconds, or `default`.
    pub fn seconds(&self, name: &str, default: Duration) -> Result<Duration, String> {
        match self.value(name) {
            None => Ok(default),
            Some(value) => value
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| format!("{name}: not a number of seconds: {value:?}")),
        }
    }

    /// The first argument that is neither a flag nor a flag's value (flags listed in
    /// `with_values` take one).
    pub fn positional(&self, with_values: &[&str]) -> Option<&str> {
        let mut args = self.0.iter();
        while let Some(arg) = args.next() {
            if with_values.contains(&arg.as_str()) {
                args.next();
            } else if !arg.starts_with("--") {
                return Some(arg);
            }
        }
        None
    }

    /// Everything after `--`.
    pub fn after_double_dash(&self) -> Vec<String> {
        self.0.iter().skip_while(|arg| *arg != "--").skip(1).cloned().collect()
    }
}
