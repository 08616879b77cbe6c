//! Splits a command line the way crash does: `CMD ARGS | shell pipeline`,
//! `CMD ARGS > file`, `CMD ARGS >> file`. Quotes protect `|` and `>`.

/// Where a command's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    /// Fed to `sh -c PIPELINE` on its standard input.
    Pipe(String),
    File {
        path: String,
        append: bool,
    },
}

/// One command line, split into words and its output destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub words: Vec<String>,
    pub sink: Sink,
}

/// Parses a line; returns None for a blank line or a comment.
pub fn parse_line(line: &str) -> Result<Option<CommandLine>, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let (command_part, sink) = split_sink(trimmed)?;
    let words = split_words(command_part)?;
    if words.is_empty() {
        return Err("missing command before the pipe or redirection".into());
    }
    Ok(Some(CommandLine { words, sink }))
}

fn split_sink(line: &str) -> Result<(&str, Sink), String> {
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    for (i, c) in line.char_indices() {
        let after = prev;
        prev = Some(c);
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            // `p ptr->member`: an arrow is C, not a redirection.
            (None, '>') if after == Some('-') => {}
            (None, '|') => {
                let pipeline = line[i + 1..].trim();
                if pipeline.is_empty() {
                    return Err("missing command after '|'".into());
                }
                return Ok((&line[..i], Sink::Pipe(pipeline.to_string())));
            }
            (None, '>') => {
                let append = line[i + 1..].starts_with('>');
                let rest = if append { &line[i + 2..] } else { &line[i + 1..] };
                let path = rest.trim();
                if path.is_empty() {
                    return Err("missing file name after '>'".into());
                }
                return Ok((&line[..i], Sink::File { path: path.to_string(), append }));
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    Ok((line, Sink::Stdout))
}

fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_and_redirects() {
        let l = parse_line("ps | grep insmod | wc -l").unwrap().unwrap();
        assert_eq!(l.words, vec!["ps"]);
        assert_eq!(l.sink, Sink::Pipe("grep insmod | wc -l".into()));
        let l = parse_line("log >> /tmp/x").unwrap().unwrap();
        assert_eq!(l.sink, Sink::File { path: "/tmp/x".into(), append: true });
        let l = parse_line("log > out.txt").unwrap().unwrap();
        assert_eq!(l.sink, Sink::File { path: "out.txt".into(), append: false });
    }

    #[test]
    fn arrows_are_not_redirections() {
        let l = parse_line("p ((struct task_struct *)0xffff888001)->pid > /tmp/out").unwrap().unwrap();
        assert_eq!(l.words, vec!["p", "((struct", "task_struct", "*)0xffff888001)->pid"]);
        assert_eq!(l.sink, Sink::File { path: "/tmp/out".into(), append: false });
        let l = parse_line("p a->b->c").unwrap().unwrap();
        assert_eq!(l.sink, Sink::Stdout);
    }

    #[test]
    fn quotes_protect_separators() {
        let l = parse_line(r#"search -c "a|b" "x > y""#).unwrap().unwrap();
        assert_eq!(l.words, vec!["search", "-c", "a|b", "x > y"]);
        assert_eq!(l.sink, Sink::Stdout);
    }

    #[test]
    fn blank_comment_and_errors() {
        assert_eq!(parse_line("   ").unwrap(), None);
        assert_eq!(parse_line("# note").unwrap(), None);
        assert!(parse_line("ps |").is_err());
        assert!(parse_line("| wc").is_err());
        assert!(parse_line("p \"abc").is_err());
    }
}
