//! Subcommands that are not a session: `krash decode` (oops text, no dump)
//! and `krash analyze` (a dump explained, or many with `--batch`).

use std::io::Read;

/// Runs the subcommand named by the first argument, if it is one;
/// `None` means the arguments are a normal session's.
pub(crate) fn dispatch(args: &[String]) -> Option<Result<(), String>> {
    let (first, rest) = args.split_first()?;
    match first.as_str() {
        "decode" => Some(decode(rest)),
        "analyze" => Some(crate::analyze_cli::run(rest)),
        _ => None,
    }
}

fn decode(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", krash_commands::decode::USAGE);
        return Ok(());
    }
    let mut input = String::new();
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("reading standard input: {e}"))?;
    input.push_str(&String::from_utf8_lossy(&bytes));
    let decoded = krash_commands::decode::run(args, &input).map_err(|e| e.to_string())?;
    print!("{}", krash_render::render_decoded(&decoded));
    Ok(())
}
