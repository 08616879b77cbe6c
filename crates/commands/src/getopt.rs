//! crash's commands take POSIX getopt-style options (`-sx`, `-c 3`, `-c3`);
//! this keeps that habit without each command hand-rolling a parser.

use krash_core::{Error, Result};

/// One parsed option letter with its argument, if the spec declares one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub letter: char,
    pub arg: Option<String>,
}

/// The options and the remaining positional arguments of a command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub opts: Vec<Opt>,
    pub args: Vec<String>,
}

impl Parsed {
    /// How many times `letter` was given (`bt -FF` counts 2).
    pub fn count(&self, letter: char) -> usize {
        self.opts.iter().filter(|o| o.letter == letter).count()
    }
    pub fn has(&self, letter: char) -> bool {
        self.count(letter) > 0
    }
    /// The argument of the last occurrence of `letter`.
    pub fn value(&self, letter: char) -> Option<&str> {
        self.opts.iter().rev().find(|o| o.letter == letter).and_then(|o| o.arg.as_deref())
    }
}

/// Parses `args` against `spec` (getopt syntax: a letter followed by `:`
/// takes an argument). Options may follow positional arguments, as with
/// GNU getopt, except that a lone `-` or anything after `--` is positional,
/// and a word that is a negative number (`rd -s ADDR -1`) is positional.
pub fn parse(command: &str, args: &[String], spec: &str) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut iter = args.iter();
    while let Some(word) = iter.next() {
        if word == "--" {
            parsed.args.extend(iter.by_ref().cloned());
            break;
        }
        let is_option = word.len() > 1 && word.starts_with('-') && !word[1..].starts_with(|c: char| c.is_ascii_digit());
        if !is_option {
            parsed.args.push(word.clone());
            continue;
        }
        let letters: Vec<char> = word[1..].chars().collect();
        let mut i = 0;
        while i < letters.len() {
            let letter = letters[i];
            let takes_arg = match spec.find(letter) {
                Some(pos) => spec[pos + letter.len_utf8()..].starts_with(':'),
                None => return Err(Error::Usage(format!("{command}: invalid option -- '{letter}'"))),
            };
            if takes_arg {
                let rest: String = letters[i + 1..].iter().collect();
                let arg = if !rest.is_empty() {
                    rest
                } else {
                    iter.next()
                        .cloned()
                        .ok_or_else(|| Error::Usage(format!("{command}: option requires an argument -- '{letter}'")))?
                };
                parsed.opts.push(Opt { letter, arg: Some(arg) });
                break;
            }
            parsed.opts.push(Opt { letter, arg: None });
            i += 1;
        }
    }
    Ok(parsed)
}

/// True for the messages [`parse`] gives for an unknown option or a
/// missing option argument (the ones that call for the usage line).
pub fn is_option_error(message: &str) -> bool {
    message.contains(": invalid option -- '") || message.contains(": option requires an argument -- '")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn grouped_flags_and_arguments() {
        let p = parse("bt", &words("-FF -c 3 ffff888"), "fFc:").unwrap();
        assert_eq!(p.count('F'), 2);
        assert_eq!(p.value('c'), Some("3"));
        assert_eq!(p.args, vec!["ffff888"]);
        let p = parse("bt", &words("-c3"), "c:").unwrap();
        assert_eq!(p.value('c'), Some("3"));
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse("ps", &words("-q"), "ab").unwrap_err();
        assert_eq!(e.to_string(), "ps: invalid option -- 'q'");
        assert!(is_option_error(&e.to_string()));
        let e = parse("bt", &words("-c"), "c:").unwrap_err();
        assert!(e.to_string().contains("requires an argument"));
        assert!(is_option_error(&e.to_string()));
        assert!(!is_option_error("ps: invalid task or pid value: x"));
    }

    #[test]
    fn negative_numbers_are_positional() {
        let p = parse("rd", &words("-s ffff -1"), "s").unwrap();
        assert_eq!(p.args, vec!["ffff", "-1"]);
    }
}
