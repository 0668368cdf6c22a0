//! PASS/FAIL lines, the `N passed, N failed` count and the summary table.

/// The checks of a run and the rows of its summary table.
#[derive(Debug, Default)]
pub struct Report {
    passed: u32,
    failed: u32,
    rows: Vec<(String, String, String)>,
}

impl Report {
    /// Records and prints one check.
    pub fn check(&mut self, ok: bool, name: &str, detail: impl std::fmt::Display) {
        if ok {
            self.passed += 1;
            println!("PASS {name}: {detail}");
        } else {
            self.failed += 1;
            println!("FAIL {name}: {detail}");
        }
    }

    /// Adds a row to the summary table: scenario, figure, value.
    pub fn row(&mut self, scenario: &str, figure: &str, value: impl std::fmt::Display) {
        println!("  {scenario}: {figure} = {value}");
        self.rows.push((scenario.to_owned(), figure.to_owned(), value.to_string()));
    }

    /// The number of failed checks.
    pub fn failed(&self) -> u32 {
        self.failed
    }

    /// Prints the summary table (Markdown) and the final count.
    pub fn finish(&self) {
        println!();
        println!("| scenario | figure | value |");
        println!("|---|---|---|");
        for (scenario, figure, value) in &self.rows {
            println!("| {scenario} | {figure} | {value} |");
        }
        println!();
        println!("{} passed, {} failed", self.passed, self.failed);
    }
}
