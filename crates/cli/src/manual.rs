//! `krash man` (the man page, roff) and `krash completions SHELL` (a shell
//! completion script), both generated from the clap definition of the
//! command line. The subcommands are dispatched by hand
//! ([`crate::subcommands`]), not by clap, so they are described here as
//! clap subcommands for the generators only: a session's arguments stay
//! parsed as [`crate::args::Args`] says.

use clap::{Arg, ArgAction, Command, CommandFactory};
use clap_complete::Shell;

/// The whole command line as the man page and completions describe it.
pub(crate) fn command() -> Command {
    crate::args::Args::command()
        // Files before a subcommand name would be a session's, so clap's
        // model of the line (for the generators) keeps them apart.
        .args_conflicts_with_subcommands(true)
        // krash's own `help` subcommand (below) replaces clap's.
        .disable_help_subcommand(true)
        .subcommand(analyze())
        .subcommand(
            Command::new("decode")
                .about("Resolve an oops or panic text (standard input) to source lines, no dump needed")
                .arg(
                    Arg::new("vmlinux").value_name("VMLINUX|-").help("The vmlinux; - for none (symbols from the text)"),
                )
                .arg(
                    Arg::new("module")
                        .short('m')
                        .long("module")
                        .value_name("NAME=KO")
                        .action(ArgAction::Append)
                        .help("A module's object file (repeatable)"),
                )
                .arg(json_flag("Print a decode document (docs/json.md)")),
        )
        .subcommand(
            Command::new("mcp")
                .about("Serve an agent: the Model Context Protocol on stdio (tools open, command, analyze, commands)")
                .arg(
                    Arg::new("files")
                        .value_name("VMCORE")
                        .num_args(0..=2)
                        .help("A dump to open at start (VMLINUX VMCORE also)"),
                )
                .arg(Arg::new("vmlinux").short('k').value_name("VMLINUX").help("The dump's vmlinux"))
                .arg(
                    Arg::new("debug-dir")
                        .long("debug-dir")
                        .value_name("DIR")
                        .action(ArgAction::Append)
                        .help("Searched for the dump's vmlinux (repeatable)"),
                )
                .arg(
                    Arg::new("force")
                        .long("force")
                        .action(ArgAction::SetTrue)
                        .help("Accept a vmlinux whose build id differs"),
                )
                .arg(
                    Arg::new("no-search")
                        .long("no-search")
                        .action(ArgAction::SetTrue)
                        .help("Search nowhere for a vmlinux"),
                ),
        )
        .subcommand(
            Command::new("help").about("This help, or a subcommand's").arg(
                Arg::new("topic")
                    .value_parser(["analyze", "decode", "mcp", "completions", "man"])
                    .help("The subcommand to describe"),
            ),
        )
        .subcommand(
            Command::new("completions").about("Print a shell completion script").arg(
                Arg::new("shell")
                    .required(true)
                    .value_parser(clap::value_parser!(Shell))
                    .help("The shell: bash, zsh, fish, elvish or powershell"),
            ),
        )
        .subcommand(Command::new("man").about("Print the man page (roff): krash man | man -l -"))
}

fn json_flag(help: &'static str) -> Arg {
    Arg::new("json").long("json").action(ArgAction::SetTrue).help(help)
}

fn analyze() -> Command {
    Command::new("analyze")
        .about("Explain a dump (panic, culprit, evidence), or many grouped by signature with --batch")
        .arg(
            Arg::new("batch").long("batch").action(ArgAction::SetTrue).help(
                "Analyse every dump given or found under the directories, in parallel, and group them by signature",
            ),
        )
        .arg(json_flag("Print one JSON document (docs/json.md)"))
        .arg(
            Arg::new("json-lines")
                .long("json-lines")
                .action(ArgAction::SetTrue)
                .requires("batch")
                .conflicts_with("json")
                .help("With --batch: a JSON line per dump as each is done (completion order), then a summary line"),
        )
        .arg(
            Arg::new("jobs")
                .short('j')
                .long("jobs")
                .value_name("N")
                .value_parser(clap::value_parser!(u32).range(1..))
                .help("With --batch: analyse N dumps at a time (default: one per core)"),
        )
        .arg(
            Arg::new("debug-dir")
                .long("debug-dir")
                .value_name("DIR")
                .action(ArgAction::Append)
                .value_hint(clap::ValueHint::DirPath)
                .help("Search DIR for debuginfo before KRASH_DEBUG_PATH and /usr/lib/debug (repeatable)"),
        )
        .arg(
            Arg::new("files")
                .value_name("PATH")
                .num_args(0..)
                .value_hint(clap::ValueHint::AnyPath)
                .help("[VMLINUX] VMCORE; with --batch, dump files and directories"),
        )
}

/// `krash completions SHELL`.
pub(crate) fn completions(args: &[String]) -> Result<(), String> {
    let [shell] = args else {
        return Err("usage: krash completions bash|zsh|fish|elvish|powershell".into());
    };
    let shell: Shell = shell
        .parse()
        .map_err(|_| format!("completions: unknown shell {shell} (bash, zsh, fish, elvish, powershell)"))?;
    let mut cmd = command();
    clap_complete::generate(shell, &mut cmd, "krash", &mut std::io::stdout());
    Ok(())
}

/// `krash man`.
pub(crate) fn man(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("man: unexpected argument {a} (usage: krash man)"));
    }
    print!("{}", man_page().map_err(|e| format!("man: {e}"))?);
    Ok(())
}

/// The man page: one page (krash(1)) with a section per subcommand, its
/// synopsis and options, rather than clap_mangen's default of a reference
/// to a krash-SUBCOMMAND(1) page per subcommand, which nobody installs.
fn man_page() -> std::io::Result<String> {
    let mut cmd = command();
    // Sets each subcommand's name in synopses to `krash analyze`, ...
    cmd.build();
    let page = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    page.render_options_section(&mut out)?;
    for sub in cmd.get_subcommands() {
        let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name()).to_string();
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let sub_page = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        sub_page.render_synopsis_section(&mut part)?;
        sub_page.render_description_section(&mut part)?;
        if sub.get_arguments().next().is_some() {
            sub_page.render_options_section(&mut part)?;
        }
        // A subcommand's sections are subsections of its own section.
        let part = String::from_utf8_lossy(&part).replace("\n.SH ", "\n.SS ");
        out.extend_from_slice(part.as_bytes());
    }
    // clap_mangen heads the after-help text EXTRA; krash's is the list of
    // subcommands.
    let mut extra = Vec::new();
    page.render_extra_section(&mut extra)?;
    out.extend_from_slice(String::from_utf8_lossy(&extra).replace(".SH EXTRA", ".SH SUBCOMMANDS").as_bytes());
    page.render_version_section(&mut out)?;
    Ok(dedup_preamble(&String::from_utf8_lossy(&out)))
}

/// Each clap_mangen render starts with the same roff preamble (the `Aq`
/// string definition); one at the top is enough.
fn dedup_preamble(text: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let preamble = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        if preamble && !seen.insert(line.to_string()) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_described_command_line_is_consistent() {
        // clap's own checks (conflicting names, bad requirements).
        super::command().debug_assert();
    }
}
