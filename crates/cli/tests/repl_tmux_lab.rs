//! The interactive prompt as a person uses it, in a real terminal (tmux):
//! Ctrl-C stops a running command and its output and returns to the
//! prompt with the session intact (loaded module, value history); Ctrl-C
//! at an empty prompt gives a new prompt; long output goes through the
//! pager with `set scroll on` (and Ctrl-C or q in the pager returns to the
//! prompt) and straight to the terminal with `set scroll off`; Tab
//! completes symbols, struct names, members, PIDs and paths, and lists the
//! candidates on a second Tab.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::one_per_scenario;

const KERNEL: &str = "6.1.0-56-cloud-amd64";
/// Long enough for krash to open a dump in a debug build on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A tmux server of our own (its own socket) running krash in one pane.
struct Tmux {
    socket: String,
    dir: PathBuf,
}

impl Tmux {
    /// `name` tells this test's tmux server from the others' running at
    /// the same time.
    fn start(name: &str, command: &str, dir: &Path) -> Tmux {
        let socket = format!("krash-test-{name}-{}", std::process::id());
        let conf = dir.join("tmux.conf");
        // A long history keeps every line krash printed; a dead pane stays
        // visible so a krash that died is seen, not a vanished session.
        std::fs::write(&conf, "set -g history-limit 2000000\nset -g remain-on-exit on\n").expect("tmux.conf");
        let tmux = Tmux { socket, dir: dir.to_path_buf() };
        tmux.run(&["-f", &conf.to_string_lossy(), "new-session", "-d", "-s", "t", "-x", "150", "-y", "40", command]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` and presses Enter.
    fn line(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "t", key]);
    }

    /// What the screen shows now.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Everything the pane printed, history included.
    fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t", "-S", "-", "-E", "-"])
    }

    fn pane_dead(&self) -> bool {
        self.run(&["display-message", "-p", "-t", "t", "#{pane_dead}"]).trim() == "1"
    }

    /// Waits until `ready` holds for the screen; the screen when it does.
    fn wait_for(&self, what: &str, timeout: Duration, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(!self.pane_dead(), "krash died while waiting for {what}:\n{}", self.history());
            assert!(start.elapsed() < timeout, "no {what} after {timeout:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Blanks the screen and its history (tmux's own reset, done at once
    /// by the server): any `krash>` line seen afterwards is a new prompt.
    fn blank(&self) {
        self.run(&["send-keys", "-R", "-t", "t"]);
        self.run(&["clear-history", "-t", "t"]);
    }

    /// Runs one command line and waits for the next prompt. Returns what
    /// the command printed (the lines between the typed line and the prompt).
    fn command(&self, text: &str) -> String {
        self.blank();
        self.line(text);
        self.wait_prompt(text);
        let history = self.history();
        let lines: Vec<&str> = history.lines().collect();
        let last_prompt = lines.iter().rposition(|l| l.starts_with("krash>")).unwrap_or(lines.len());
        lines.get(1..last_prompt).unwrap_or_default().iter().map(|l| format!("{l}\n")).collect()
    }

    /// Waits for an empty prompt on a screen blanked before `what`.
    fn wait_prompt(&self, what: &str) -> Duration {
        let start = Instant::now();
        loop {
            if at_prompt(&self.screen()) {
                return start.elapsed();
            }
            assert!(!self.pane_dead(), "krash died after {what:?}:\n{}", self.history());
            assert!(start.elapsed() < STEP_TIMEOUT, "no prompt after {what:?}; the screen:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The screen ends at an empty prompt.
fn at_prompt(screen: &str) -> bool {
    screen.lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim_end() == "krash>")
}

fn tmux_available() -> bool {
    Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success())
}

/// The last line of the screen is less's prompt (`:`, or `(END)`).
fn pager_prompt(screen: &str) -> bool {
    screen.lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim() == ":" || l.contains("(END)"))
}

#[test]
fn ctrl_c_the_pager_and_the_session_in_a_terminal() {
    let Some((t, d)) = session_in_tmux("session") else { return };
    let ko = d.dir.join("krash_scenarios.ko");
    assert!(ko.is_file(), "{}: no {}", d.label(), ko.display());

    // The session: a module's debuginfo and a value in the history.
    let out = t.command(&format!("mod -s krash_scenarios {}", ko.display()));
    assert!(out.contains(&ko.display().to_string()), "mod -s:\n{out}");
    assert!(!out.contains("WARNING"), "the right object file is verified:\n{out}");
    let out = t.command("p jiffies");
    assert!(out.contains("jiffies = $1 = "), "p jiffies:\n{out}");

    // Ctrl-C at an empty prompt: a new prompt, the session goes on.
    t.blank();
    t.key("C-c");
    t.wait_prompt("Ctrl-C at an empty prompt");

    // Ctrl-C while a command runs: `repeat -1` runs until Ctrl-C.
    t.blank();
    t.line("repeat -1 p jiffies");
    // $1 was the p above: $3 is the second run, a second after the first.
    t.wait_for("repeat's second run", STEP_TIMEOUT, |s| s.contains("jiffies = $3 = "));
    t.key("C-c");
    t.wait_prompt("Ctrl-C during repeat -1 p jiffies");
    let runs = t.history().lines().filter(|l| l.starts_with("jiffies = $")).count();
    assert!(runs >= 2, "repeat ran twice before Ctrl-C");

    // Ctrl-C while a command prints a long output: the rest is dropped.
    // `sym -l` prints every kernel symbol; twenty times over takes far
    // longer to print than the prompt may take to come back.
    t.command("set scroll off");
    t.blank();
    t.line("repeat 20 sym -l");
    t.wait_for("sym -l output", STEP_TIMEOUT, |s| s.lines().filter(|l| l.contains(" (T) ")).count() > 10);
    t.key("C-c");
    let took = t.wait_prompt("Ctrl-C during repeat 20 sym -l");
    // Printing all of it takes some 14 s in a debug build (0.7 s per sym -l).
    assert!(took < Duration::from_secs(5), "the output stopped {took:?} after Ctrl-C");

    // Ctrl-C during a long `list`: every task_struct of the task list,
    // twenty times over, is stopped at once.
    t.blank();
    t.line("repeat 20 list task_struct.tasks -s task_struct -h init_task");
    // The screen scrolls past any one member: look in the history.
    t.wait_for("list output", STEP_TIMEOUT, |_| t.history().contains("  static_prio = "));
    t.key("C-c");
    let took = t.wait_prompt("Ctrl-C during repeat 20 list");
    assert!(took < Duration::from_secs(5), "the list output stopped {took:?} after Ctrl-C");

    // Ctrl-C during a long scan of memory: back at the prompt.
    t.blank();
    t.line("search -k 0xfeedfacecafebeef");
    std::thread::sleep(Duration::from_millis(300));
    t.key("C-c");
    t.wait_prompt("Ctrl-C during search -k");

    // Everything survived: the module, the value history, the commands.
    let out = t.command("mod");
    let row = out.lines().find(|l| l.contains(" krash_scenarios ")).unwrap_or_default();
    assert!(row.contains(&ko.display().to_string()), "mod after Ctrl-C keeps the loaded module:\n{out}");
    let out = t.command("p jiffies");
    let number: Option<u32> =
        out.split("jiffies = $").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok());
    assert!(number.is_some_and(|n| n > runs as u32 + 1), "the value history goes on after Ctrl-C:\n{out}");
    let out = t.command("eval 128m");
    assert!(out.contains("hexadecimal: 8000000  (128MB)"), "eval after Ctrl-C:\n{out}");

    // `set scroll on`: a long output stops at less's prompt; q returns.
    t.command("set scroll on");
    t.blank();
    t.line("sym -l");
    t.wait_for("the pager's prompt", STEP_TIMEOUT, pager_prompt);
    t.key("q");
    t.wait_prompt("q in the pager");
    // Ctrl-C in the pager returns to the prompt too.
    t.blank();
    t.line("help");
    t.wait_for("the pager's prompt for help", STEP_TIMEOUT, pager_prompt);
    t.key("C-c");
    t.wait_prompt("Ctrl-C in the pager");
    // Short output is not paged.
    let out = t.command("eval -b 41dc065");
    assert!(out.contains("   bits set: 26 20 19 18 16 15 14 6 5 2 0"), "eval -b:\n{out}");

    // `set scroll off`: the same long output goes straight to the terminal.
    t.command("set scroll off");
    let out = t.command("help");
    assert!(out.contains("eval") && out.contains("repeat"), "help, unpaged, lists the new commands:\n{out}");
    assert!(at_prompt(&t.screen()));

    // The session ends with q.
    t.line("q");
    let start = Instant::now();
    while !t.pane_dead() {
        assert!(start.elapsed() < STEP_TIMEOUT, "krash did not exit on q:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The dump and a session started on it in tmux, for the tests here.
fn session_in_tmux(name: &str) -> Option<(Tmux, common::LabDump)> {
    let Some(d) = one_per_scenario().into_iter().find(|d| d.kernel == KERNEL) else {
        krash_labtest::skip_or_fail(format!("no {KERNEL} dump in the lab"));
        return None;
    };
    if !tmux_available() {
        krash_labtest::skip_or_fail("tmux is not installed (scripts/test installs it)");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("krash-tmux-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // No PAGER from the environment: the default pager (less -XFRK) is
    // what is tested; HOME keeps the history file out of the user's.
    let command = format!(
        "env -u PAGER -u KRASH_PAGER HOME={} LESS= {} {} {}",
        dir.display(),
        env!("CARGO_BIN_EXE_krash"),
        d.vmlinux.display(),
        d.vmcore.display()
    );
    let t = Tmux::start(name, &command, &dir);
    t.wait_for("the first prompt", START_TIMEOUT, at_prompt);
    Some((t, d))
}

/// The prompt line as the screen shows it now.
fn prompt_line(screen: &str) -> String {
    screen.lines().rev().find(|l| l.starts_with("krash>")).unwrap_or_default().trim_end().to_string()
}

#[test]
fn tab_completes_symbols_types_members_pids_and_paths() {
    let Some((t, d)) = session_in_tmux("complete") else { return };
    // Types `text`, presses Tab (twice when `list`), and returns the
    // screen once it has settled with the prompt line in `want`.
    let tab = |text: &str, list: bool, want: &dyn Fn(&str) -> bool| -> String {
        t.blank();
        t.run(&["send-keys", "-t", "t", "-l", text]);
        t.key("Tab");
        if list {
            // The second Tab lists: let the first one finish first.
            std::thread::sleep(Duration::from_millis(300));
            t.key("Tab");
        }
        let screen = t.wait_for(&format!("completion of {text:?}"), STEP_TIMEOUT, want);
        // Drop the typed line before the next one.
        t.key("C-u");
        screen
    };

    // A symbol completes to the longest common prefix, and the second Tab
    // lists every candidate.
    tab("sym schedule_timeout_kil", false, &|s| prompt_line(s) == "krash> sym schedule_timeout_killable");
    let screen = tab("sym schedule_timeo", true, &|s| s.contains("schedule_timeout_killable"));
    assert_eq!(prompt_line(&screen), "krash> sym schedule_timeout", "{screen}");
    for name in ["schedule_timeout_idle", "schedule_timeout_interruptible", "schedule_timeout_uninterruptible"] {
        assert!(screen.contains(name), "{name} is listed:\n{screen}");
    }

    // A struct name, then a member of it, then a member of a member.
    tab("struct task_stru", false, &|s| prompt_line(s) == "krash> struct task_struct");
    let screen = tab("struct mm_struct.pg", true, &|s| s.contains("pgtables_bytes"));
    assert!(screen.lines().any(|l| l.contains("pgd") && l.contains("pgtables_bytes")), "{screen}");
    tab("struct task_struct.se.vrun", false, &|s| prompt_line(s) == "krash> struct task_struct.se.vruntime");

    // A global's member for `p`, through its type from the debuginfo.
    tab("p init_task.se.vrun", false, &|s| prompt_line(s) == "krash> p init_task.se.vruntime");

    // PIDs for `bt`: PID 1 and the others starting with 1.
    let screen = tab("bt 1", true, &|s| s.lines().any(|l| l.split_whitespace().any(|w| w == "10")));
    assert!(screen.lines().any(|l| l.split_whitespace().next() == Some("1")), "PID 1 is listed:\n{screen}");

    // A path for `mod -S`: the dump's directory completes to itself.
    let parent = d.dir.parent().expect("a dump directory has a parent");
    let name = d.dir.file_name().expect("a dump directory has a name").to_string_lossy().into_owned();
    let typed = format!("mod -S {}/{}", parent.display(), &name[..name.len() - 1]);
    let want = format!("krash> mod -S {}/", d.dir.display());
    tab(&typed, false, &|s| prompt_line(s) == want);
}
