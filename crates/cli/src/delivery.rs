//! Where a command line's output goes, written a piece at a time so that
//! Ctrl-C stops it at once (what is still pending is dropped) and a
//! reader that goes away (`| head`, quitting the pager) ends it quietly.

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};

use krash_commands::interrupt::Interrupt;

use crate::line::Sink;

/// Written between two looks at the Ctrl-C flag.
const PIECE: usize = 4096;

/// An open destination: standard output, a pager or shell pipeline fed on
/// its standard input, or a file.
pub(crate) struct Delivery {
    target: Target,
    /// The last byte written to the terminal was a newline (or nothing was
    /// written): the prompt will start a line of its own.
    at_line_start: bool,
}

enum Target {
    Stdout,
    Child {
        child: Child,
        stdin: Option<ChildStdin>,
    },
    File(std::fs::File),
    /// The reader went away, the file could not be opened, or the user
    /// interrupted: the rest is dropped.
    Closed,
}

impl Delivery {
    /// Opens `sink`; with `pager` (standard output only), output goes
    /// through `sh -c PAGER` instead.
    pub(crate) fn open(sink: &Sink, pager: Option<&str>) -> Delivery {
        let target = match (sink, pager) {
            (Sink::Stdout, None) => Target::Stdout,
            (Sink::Stdout, Some(pager)) => spawn(pager),
            (Sink::Pipe(pipeline), _) => spawn(pipeline),
            (Sink::File { path, append }, _) => {
                let file =
                    std::fs::OpenOptions::new().create(true).write(true).append(*append).truncate(!*append).open(path);
                match file {
                    Ok(f) => Target::File(f),
                    Err(e) => {
                        eprintln!("krash: {path}: {e}");
                        Target::Closed
                    }
                }
            }
        };
        Delivery { target, at_line_start: true }
    }

    /// Writes `text`; false once the output ended early (interrupted, or
    /// the reader is gone), after which writes do nothing.
    pub(crate) fn write(&mut self, text: &str, interrupt: &Interrupt) -> bool {
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            if interrupt.is_set() {
                self.close();
                return false;
            }
            let (piece, tail) = rest.split_at(rest.len().min(PIECE));
            let written = match &mut self.target {
                Target::Stdout => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(piece).and_then(|_| out.flush())
                }
                Target::Child { stdin: Some(stdin), .. } => stdin.write_all(piece),
                Target::File(f) => f.write_all(piece),
                Target::Child { stdin: None, .. } | Target::Closed => return false,
            };
            match written {
                Ok(()) => {
                    if let Some(&last) = piece.last() {
                        self.at_line_start = last == b'\n';
                    }
                }
                Err(e) => {
                    // A closed pipe (`| head`, the pager quit) is no error worth
                    // reporting; anything else (a full disk) is.
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        eprintln!("krash: writing output: {e}");
                    }
                    self.close();
                    return false;
                }
            }
            rest = tail;
        }
        true
    }

    /// Stops taking output: closes the reader's input (it sees the end).
    fn close(&mut self) {
        match &mut self.target {
            Target::Child { stdin, .. } => drop(stdin.take()),
            Target::Stdout => {
                // The prompt starts a line of its own after cut-off output.
                if !self.at_line_start {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(b"\n").and_then(|_| out.flush());
                    self.at_line_start = true;
                }
                self.target = Target::Closed;
            }
            Target::File(_) | Target::Closed => self.target = Target::Closed,
        }
    }

    /// Ends the output: the pager or pipeline reads what is left and exits
    /// (the user quits the pager), and krash waits for it.
    pub(crate) fn finish(mut self) {
        self.close();
        if let Target::Child { child, .. } = &mut self.target {
            let _ = child.wait();
        }
    }
}

fn spawn(command: &str) -> Target {
    let _ = std::io::stdout().flush();
    match Command::new("sh").arg("-c").arg(command).stdin(Stdio::piped()).spawn() {
        Ok(mut child) => {
            let stdin = child.stdin.take();
            Target::Child { child, stdin }
        }
        Err(e) => {
            eprintln!("krash: cannot run '{command}': {e}");
            Target::Closed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_get_everything_and_interrupts_stop_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let sink = Sink::File { path: path.display().to_string(), append: false };
        let interrupt = Interrupt::new();
        let text = "line\n".repeat(5000);
        let mut d = Delivery::open(&sink, None);
        assert!(d.write(&text, &interrupt));
        d.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

        let mut d = Delivery::open(&sink, None);
        interrupt.set();
        assert!(!d.write(&text, &interrupt));
        assert!(!d.write("more\n", &interrupt));
        d.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "nothing is written once interrupted");
    }

    #[test]
    fn a_reader_that_leaves_ends_the_output_quietly() {
        let interrupt = Interrupt::new();
        let mut d = Delivery::open(&Sink::Pipe("head -c 10 >/dev/null".into()), None);
        let text = "0123456789\n".repeat(100_000);
        // `head` exits after 10 bytes: the write fails with a broken pipe
        // (reported as an early end, not an error) instead of blocking.
        assert!(!d.write(&text, &interrupt));
        d.finish();
    }
}
