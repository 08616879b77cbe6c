//! crash habits outside the terminal: `mod -s` checks the object file it
//! loads (build id, module name, kernel release; `--force` overrides),
//! `eval`, `alias`, `repeat`, `hex`/`dec`, a wrong option's usage line,
//! `| head`, and `krash --help` / `krash help`.

mod common;

use std::path::PathBuf;

use common::{krash, krash_on, one_per_scenario, LabDump};

const OLD: &str = "6.1.0-56-cloud-amd64";
const NEW: &str = "6.12.117+deb12-cloud-amd64";

fn dump_of(kernel: &str) -> Option<LabDump> {
    let found =
        one_per_scenario().into_iter().find(|d| d.kernel == kernel && d.dir.join("krash_scenarios.ko").is_file());
    if found.is_none() {
        krash_labtest::skip_or_fail(format!("no {kernel} dump with krash_scenarios.ko in the lab"));
    }
    found
}

/// The `mod` table row of `name` in `text`.
fn row<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).unwrap_or_default()
}

#[test]
fn mod_s_loads_the_right_object_and_refuses_the_wrong_ones() {
    let Some(d) = dump_of(OLD) else { return };
    let right = d.dir.join("krash_scenarios.ko");
    let Some(other_module) = krash_labtest::kernel_module(OLD, "net/key/af_key.ko") else { return };
    let Some(newer) = dump_of(NEW).map(|n| n.dir.join("krash_scenarios.ko")) else { return };
    let show = |p: &PathBuf| p.display().to_string();

    // The right object loads, verified by its build id: no warning.
    let run = krash_on(&d, &format!("mod -s krash_scenarios {}\n", show(&right)));
    assert!(row(&run.stdout, "krash_scenarios").contains(&show(&right)), "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("WARNING") && run.stderr.is_empty(), "{}{}", run.stdout, run.stderr);

    // Another module's object under krash_scenarios' name is refused,
    // naming both modules, and nothing is loaded.
    let run = krash_on(&d, &format!("mod -s krash_scenarios {}\nmod\n", show(&other_module)));
    assert!(
        run.stderr.contains("module name is af_key")
            && run.stderr.contains("krash_scenarios")
            && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert!(row(&run.stdout, "krash_scenarios").contains("(not loaded)"), "{}", run.stdout);

    // The 6.12 build of the same module in a 6.1 dump: its build id differs;
    // both ids are shown.
    let run = krash_on(&d, &format!("mod -s krash_scenarios {}\nmod\n", show(&newer)));
    let ids: Vec<&str> = run.stderr.split(|c: char| !c.is_ascii_hexdigit()).filter(|w| w.len() == 40).collect();
    assert!(run.stderr.contains("build id") && ids.len() == 2 && ids[0] != ids[1], "{}", run.stderr);
    assert!(row(&run.stdout, "krash_scenarios").contains("(not loaded)"), "{}", run.stdout);

    // --force loads it anyway, saying what differs.
    let run = krash_on(&d, &format!("mod -s krash_scenarios {} --force\n", show(&newer)));
    assert!(row(&run.stdout, "krash_scenarios").contains(&show(&newer)), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("mod: WARNING:") && run.stdout.contains("--force") && run.stdout.contains("build id"),
        "{}",
        run.stdout
    );
}

#[test]
fn mod_big_s_refuses_a_wrong_object_in_its_directory() {
    let Some(d) = dump_of(OLD) else { return };
    let Some(newer) = dump_of(NEW).map(|n| n.dir.join("krash_scenarios.ko")) else { return };
    let dir = std::env::temp_dir().join(format!("krash-mod-S-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::copy(&newer, dir.join("krash_scenarios.ko")).expect("copy the 6.12 module");
    let run = krash_on(&d, &format!("mod -S {}\n", dir.display()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("mod: krash_scenarios: ") && l.contains("build id")),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn eval_alias_repeat_radix_and_usage() {
    let Some(d) = dump_of(OLD) else { return };
    let commands = "eval 128m\n\
                    eval (1 << 32)\n\
                    eval -b 41dc065\n\
                    eval jiffies - jiffies + 16\n\
                    alias kp kmem -i\n\
                    alias\n\
                    kp\n\
                    alias kp \"\"\n\
                    repeat 3 eval 1\n\
                    hex\n\
                    p jiffies\n\
                    dec\n\
                    p jiffies\n\
                    set -v\n\
                    ps -Q\n";
    let run = krash_on(&d, commands);
    let out = &run.stdout;
    assert!(
        out.contains("hexadecimal: 8000000  (128MB)\n    decimal: 134217728  \n      octal: 1000000000\n"),
        "{out}"
    );
    assert!(out.contains("hexadecimal: 100000000  (4GB)\n    decimal: 4294967296  \n"), "{out}");
    assert!(out.contains("   bits set: 26 20 19 18 16 15 14 6 5 2 0 \n"), "{out}");
    assert!(out.contains("hexadecimal: 10  \n    decimal: 16  \n"), "a symbol minus itself: {out}");
    assert!(out.contains("runtime  kp       kmem -i \n"), "alias lists the new alias: {out}");
    assert!(out.contains("builtin  hex      set radix 16 \n"), "alias lists the built-ins: {out}");
    assert!(out.contains("TOTAL MEM"), "the alias runs kmem -i: {out}");
    assert!(out.contains("alias deleted: kp\n"), "{out}");
    assert_eq!(out.matches("hexadecimal: 1  \n").count(), 3, "repeat 3 runs three times: {out}");
    assert!(out.contains("radix: 16 (hex)\n") && out.contains("radix: 10 (decimal)\n"), "{out}");
    let jiffies: Vec<&str> = out.lines().filter(|l| l.starts_with("jiffies = $")).collect();
    assert_eq!(jiffies.len(), 2, "{out}");
    let value = |l: &str| l.rsplit(" = ").next().unwrap_or_default().to_string();
    let (hex, dec) = (value(jiffies[0]), value(jiffies[1]));
    assert!(hex.starts_with("0x"), "hex: {}", jiffies[0]);
    let hex_value = u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex jiffies");
    assert_eq!(dec.parse::<u64>().ok(), Some(hex_value), "dec: {}", jiffies[1]);
    assert!(out.contains("            scroll: on") && out.contains("             radix: 10 (decimal)"), "{out}");
    // A wrong option: the error, then the usage, as crash's cmd_usage.
    assert!(
        run.stderr.contains("ps: invalid option -- 'Q'\nUsage:\n  ps ")
            && run.stderr.contains("Enter \"help ps\" for details."),
        "{}",
        run.stderr
    );
    // The same under foreach, whether its command runs a task at a time
    // (task) or on many tasks at once (bt): the command's usage, then foreach's.
    let run = krash_on(&d, "foreach bt -Q\nforeach task -Q\n");
    for cmd in ["bt", "task"] {
        let want = format!("foreach: {cmd}: invalid option -- 'Q'\nUsage:\n  {cmd} [-");
        let at = run.stderr.find(&want).unwrap_or_else(|| panic!("foreach {cmd} -Q:\n{}", run.stderr));
        let rest = &run.stderr[at..];
        let help = rest.find(&format!("Enter \"help {cmd}\" for details.\nUsage:\n  foreach "));
        assert!(help.is_some(), "foreach {cmd} -Q: {cmd}'s usage, then foreach's:\n{}", run.stderr);
    }
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let Some(d) = dump_of(OLD) else { return };
    let run = krash_on(&d, "sym -l | head -3\neval 7\n");
    let symbols = run.stdout.lines().filter(|l| l.contains(" (")).count();
    assert_eq!(symbols, 3, "{}", run.stdout);
    assert!(run.stdout.contains("hexadecimal: 7"), "the next command runs: {}", run.stdout);
    assert!(!run.stderr.contains("Broken pipe") && !run.stderr.contains("error"), "{}", run.stderr);
}

#[test]
fn help_lists_the_subcommands_without_a_dump() {
    for args in [&["--help"][..], &["help"][..]] {
        let run = krash(args, "");
        assert!(run.success, "krash {args:?}: {}", run.stderr);
        for word in ["krash analyze", "krash decode", "--json", "-s"] {
            assert!(run.stdout.contains(word), "krash {args:?} names {word}:\n{}", run.stdout);
        }
    }
    let run = krash(&["help", "analyze"], "");
    assert!(run.success && run.stdout.contains("--batch"), "{}{}", run.stdout, run.stderr);
    let run = krash(&["analyze", "--help"], "");
    assert!(run.success && run.stdout.contains("usage: krash analyze"), "{}{}", run.stdout, run.stderr);
}
