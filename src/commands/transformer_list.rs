pub fn run(json: bool) -> anyhow::Result<()> {
    let catalogue = transformers::catalogue_info();
    if json {
        println!("{}", serde_json::to_string_pretty(&catalogue)?);
        return Ok(());
    }
    for info in catalogue {
        let unique = if info.unique_safe { "  [unique-safe]" } else { "" };
        println!("{}{unique}\n  {}", info.name, info.description);
        for option in &info.options {
            println!(
                "  - {} ({}, default {}): {}",
                option.name, option.kind, option.default, option.description
            );
        }
        println!("  example:");
        for line in info.example.lines() {
            println!("    {line}");
        }
        println!();
    }
    Ok(())
}
