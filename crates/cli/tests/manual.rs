//! `krash man` and `krash completions SHELL`: generated from the clap
//! definitions, they must name every subcommand `krash --help` lists (a
//! subcommand added to the dispatcher and the help but not to
//! src/manual.rs fails here).

mod common;

use common::krash;

/// The subcommands `krash --help` lists (`  krash NAME ...` lines).
fn listed_subcommands() -> Vec<String> {
    let help = krash(&["--help"], "");
    assert!(help.success, "{}", help.stderr);
    let mut names: Vec<String> = help
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  krash "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_string)
        .collect();
    names.dedup();
    names
}

#[test]
fn help_lists_the_subcommands() {
    let names = listed_subcommands();
    for want in ["analyze", "decode", "help", "completions", "man"] {
        assert!(names.iter().any(|n| n == want), "krash --help does not list {want}: {names:?}");
    }
}

#[test]
fn man_page_is_roff_naming_every_subcommand_and_option() {
    let run = krash(&["man"], "");
    assert!(run.success, "{}", run.stderr);
    let page = run.stdout;
    assert!(page.contains(".TH krash 1"), "no .TH title:\n{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    for name in listed_subcommands() {
        let heading = format!(".SH \"KRASH {}\"", name.to_uppercase());
        assert!(page.contains(&heading), "the man page has no section {heading}");
    }
    // The options of the session and of analyze --batch (roff escapes `-`).
    for option in [r"\-\-json\-schema", r"\-\-no\-search", r"\-\-json\-lines", r"\-\-debug\-dir", r"\-\-module"] {
        assert!(page.contains(option), "the man page does not describe {option}");
    }
    // One roff preamble, not one per rendered section.
    assert_eq!(page.matches(".el .ds Aq").count(), 1);
    assert!(krash(&["man", "extra"], "").stderr.contains("unexpected argument"));
}

#[test]
fn completions_name_every_subcommand() {
    let names = listed_subcommands();
    for (shell, marker) in [("bash", "complete -F _krash"), ("zsh", "#compdef krash"), ("fish", "complete -c krash")] {
        let run = krash(&["completions", shell], "");
        assert!(run.success, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: no {marker:?} in the script");
        for name in &names {
            assert!(run.stdout.contains(name.as_str()), "{shell}: the completions do not name {name}");
        }
        assert!(run.stdout.contains("json-lines"), "{shell}: analyze's options are missing");
    }
    let bad = krash(&["completions", "tcsh"], "");
    assert!(!bad.success && bad.stderr.contains("unknown shell tcsh"), "{}", bad.stderr);
    let none = krash(&["completions"], "");
    assert!(!none.success && none.stderr.contains("usage: krash completions"), "{}", none.stderr);
}
