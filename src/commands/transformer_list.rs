use crate::output::outln;

pub fn run(json: bool) -> anyhow::Result<()> {
    let catalogue = transformers::catalogue_info();
    if json {
        outln!("{}", serde_json::to_string_pretty(&catalogue)?)?;
        return Ok(());
    }
    for info in catalogue {
        let unique = if info.unique_safe { "  [unique-safe]" } else { "" };
        outln!("{}{unique}\n  {}", info.name, info.description)?;
        for option in &info.options {
            outln!(
                "  - {} ({}, default {}): {}",
                option.name,
                option.kind,
                option.default,
                option.description
            )?;
        }
        outln!("  example:")?;
        for line in info.example.lines() {
            outln!("    {line}")?;
        }
        outln!()?;
    }
    Ok(())
}
