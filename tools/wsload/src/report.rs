//! PASS/FAIL lines, the `N passed, N failed` count and the summary table.

/// The checks of a run and the rows of its summary table.
#[derive(Debug, Default)]
pub struct Report {
    passed: u32,
    failed: u32,
    /// Criteria measured but not gated (`observe`): how many, and how many were missed.
    observed: u32,
    missed: u32,
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

    /// Prints a criterion that is measured but does not gate the run (`MET` or `MISSED`),
    /// counted apart from the checks.
    pub fn observe(&mut self, met: bool, name: &str, detail: impl std::fmt::Display) {
        self.observed += 1;
        if met {
            println!("MET (not gated) {name}: {detail}");
        } else {
            self.missed += 1;
            println!("MISSED (not gated) {name}: {detail}");
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
        if self.observed > 0 {
            println!(
                "{} criteria measured but not gated: {} met, {} missed",
                self.observed,
                self.observed - self.missed,
                self.missed
            );
        }
        println!("{} passed, {} failed", self.passed, self.failed);
    }
}
