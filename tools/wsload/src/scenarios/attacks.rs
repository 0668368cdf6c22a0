//! stub
/// Runs the scenario.
pub async fn run(_run: &mut super::Run) {}
