//! What Tab completes at the prompt, as data: command names, then by the
//! command being typed kernel symbols, struct and union names, members
//! after `TYPE.` or `variable.`, task PIDs, or a file path. The CLI's line
//! editor shows the candidates; nothing here reads the terminal.
//!
//! Name lists are built on the first Tab that needs them and kept for the
//! session (the kernel's symbol and type names do not change under it).

use krash_debuginfo::types::{Type, TypeId, TypeKind, TypeOps, TypeProvider};
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use crate::{registry, Session};

/// At most this many candidates are offered (a bare Tab after `sym `
/// would otherwise list every kernel symbol).
pub const MAX_CANDIDATES: usize = 5000;

/// What to complete at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Replace `line[start..pos]` with one of `candidates` (sorted, unique).
    Words { start: usize, candidates: Vec<String> },
    /// The word at `line[start..pos]` is a file path: the caller lists the
    /// file system.
    Path { start: usize },
}

/// The kind of word a command takes at one argument position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordKind {
    Nothing,
    Command,
    Symbol,
    /// A struct or union name (`struct`, `union`, `*`), or with a `.` a
    /// member of it.
    Aggregate,
    /// A type or a symbol (`whatis`).
    TypeOrSymbol,
    /// A PID, or else a symbol (`bt`, `ps`, `set`, `task`, ...).
    Pid,
    Path,
}

/// Completion of `line` with the cursor at byte `pos`.
pub fn complete(session: &Session, line: &str, pos: usize) -> Completion {
    let before = line.get(..pos).unwrap_or(line);
    // After a pipe the rest is a shell command; after a redirection, a file.
    let (segment, segment_start) = match last_pipe_or_redirect(before) {
        Some(i) if before[i..].starts_with('>') => {
            let start = word_start(before);
            return Completion::Path { start };
        }
        Some(_) => return Completion::Words { start: pos, candidates: Vec::new() },
        None => (before, 0),
    };
    let start = word_start(segment);
    let word = &segment[start..];
    let words: Vec<&str> = segment[..start].split_whitespace().collect();
    let kind = word_kind(session, &words, word);
    let absolute = segment_start + start;
    match kind {
        WordKind::Nothing => Completion::Words { start: pos, candidates: Vec::new() },
        WordKind::Path => Completion::Path { start: absolute },
        WordKind::Command => {
            let names = registry()
                .iter()
                .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
                .chain(session.aliases.all().iter().map(|a| a.name.as_str()));
            Completion::Words { start: absolute, candidates: matching(names, word) }
        }
        WordKind::Aggregate | WordKind::TypeOrSymbol | WordKind::Symbol | WordKind::Pid => {
            if let Some((head, fragment_at)) = member_context(word) {
                let fragment = &word[fragment_at..];
                let members = members_after(&session.kernel, kind, head);
                return Completion::Words {
                    start: absolute + fragment_at,
                    candidates: matching(members.iter().map(String::as_str), fragment),
                };
            }
            let k = &session.kernel;
            let candidates = match kind {
                WordKind::Aggregate => matching(aggregate_names(k).iter().map(String::as_str), word),
                WordKind::TypeOrSymbol => {
                    let types = aggregate_names(k).iter().chain(typedef_names(k));
                    let mut all = matching(types.map(String::as_str), word);
                    all.extend(matching(symbol_names(k).iter().map(String::as_str), word));
                    sorted_unique(all)
                }
                WordKind::Pid if word.chars().all(|c| c.is_ascii_digit()) => pids(k, word),
                _ => matching(symbol_names(k).iter().map(String::as_str), word),
            };
            Completion::Words { start: absolute, candidates }
        }
    }
}

/// Where the last `|` or `>` of the line is, but the `>` of a member
/// access (`mm->pgd`).
fn last_pipe_or_redirect(text: &str) -> Option<usize> {
    text.char_indices()
        .filter(|&(i, c)| c == '|' || (c == '>' && !text[..i].ends_with('-')))
        .map(|(i, _)| i)
        .next_back()
}

/// Start of the word the cursor is in.
fn word_start(text: &str) -> usize {
    text.rfind(char::is_whitespace).map_or(0, |i| i + 1)
}

/// What the word after `words` (the command and its earlier arguments) is.
fn word_kind(session: &Session, words: &[&str], word: &str) -> WordKind {
    let Some(&command) = words.first() else {
        // crash's shorthand `task_struct.pid ADDR` starts with a type.
        return if word.contains('.') { WordKind::Aggregate } else { WordKind::Command };
    };
    if word.starts_with('-') {
        return WordKind::Nothing;
    }
    if word.starts_with(['/', '~']) || word.starts_with("./") || word.starts_with("../") {
        return WordKind::Path;
    }
    let command = match crate::lookup(command) {
        Some(spec) => spec.name,
        None if crate::commands::struct_cmd::names_aggregate(session, command) => return WordKind::Symbol,
        None => command,
    };
    let arguments = words.iter().skip(1).filter(|w| !w.starts_with('-')).count();
    match command {
        "struct" | "union" | "*" if arguments == 0 => WordKind::Aggregate,
        "whatis" | "ptype" => WordKind::TypeOrSymbol,
        // `list -s TYPE` / `tree -s TYPE`: the word after -s is a type.
        "list" | "tree" if words.last().is_some_and(|w| *w == "-s" || *w == "-o") => WordKind::Aggregate,
        // `mod -s NAME FILE`, `mod -S DIR`, `mod -t`: paths after the name.
        "mod" if words.contains(&"-S") => WordKind::Path,
        "mod" if words.contains(&"-s") && arguments >= 1 => WordKind::Path,
        "bt" | "ps" | "set" | "task" | "files" | "vm" | "sig" | "net" | "foreach" | "fuser" => WordKind::Pid,
        "help" => WordKind::Command,
        "alias" | "eval" | "log" | "sys" | "mach" | "runq" | "q" | "exit" => WordKind::Nothing,
        _ => WordKind::Symbol,
    }
}

/// For a word with a member access (`task_struct.se.vr`, `init_task.mm->`,
/// `task_struct.pid,com`): the head naming the aggregate (`task_struct.se`,
/// `init_task.mm`, `task_struct`) and where the member fragment starts.
fn member_context(word: &str) -> Option<(&str, usize)> {
    let dot = word.rfind('.');
    let arrow = word.rfind("->").map(|i| i + 1);
    let comma = word.rfind(',');
    let last = dot.max(arrow)?;
    match comma {
        // crash's `struct task_struct.pid,comm`: members of the type
        // before the first dot.
        Some(c) if c > last => {
            let first_dot = word.find('.')?;
            Some((&word[..first_dot], c + 1))
        }
        _ => {
            let head_end = if arrow == Some(last) { last - 1 } else { last };
            Some((&word[..head_end], last + 1))
        }
    }
}

/// Member names of what `head` names: a struct/union and member path for
/// type commands, else a global variable and member path.
fn members_after(k: &Kernel, kind: WordKind, head: &str) -> Vec<String> {
    let types = k.type_arena();
    let normalized = head.replace("->", ".");
    let mut parts = normalized.split('.');
    let Some(first) = parts.next() else {
        return Vec::new();
    };
    let first = first.trim_start_matches(['*', '&', '(']);
    let root = match kind {
        WordKind::Aggregate => aggregate_id(types, first),
        WordKind::TypeOrSymbol => aggregate_id(types, first).or_else(|| variable_type(k, first)),
        _ => variable_type(k, first).or_else(|| aggregate_id(types, first)),
    };
    let Some(mut ty) = root else {
        return Vec::new();
    };
    for component in parts {
        let Some(inner) = pointee(types, ty) else {
            return Vec::new();
        };
        match types.member_path(inner, component) {
            Ok(loc) => ty = loc.ty,
            Err(_) => return Vec::new(),
        }
    }
    let Some(inner) = pointee(types, ty) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    member_names(types, inner, &mut names, 0);
    names
}

fn aggregate_id(types: &krash_program::type_arena::TypeArena, name: &str) -> Option<TypeId> {
    [TypeKind::Struct, TypeKind::Union, TypeKind::Typedef].into_iter().find_map(|kind| types.find_type(kind, name).ok())
}

/// The type of the global `name`, asking the vmlinux's DWARF as `p` does
/// when BTF does not type it (BTF types per-cpu variables only).
fn variable_type(k: &Kernel, name: &str) -> Option<TypeId> {
    let types = k.type_arena();
    let mut var = types.find_variable(name).ok().flatten();
    if var.is_none() && k.lookup_symbol(name).is_some() && !types.has_fallback() && k.load_dwarf_fallback() {
        var = types.find_variable(name).ok().flatten();
    }
    var.map(|v| v.ty)
}

/// The aggregate a member access on `ty` reaches: through typedefs,
/// qualifiers, one pointer or array level.
fn pointee(types: &krash_program::type_arena::TypeArena, ty: TypeId) -> Option<TypeId> {
    let (id, resolved) = types.resolve(ty).ok()?;
    let id = match resolved {
        Type::Pointer { to } | Type::Array { elem: to, .. } => types.resolve(to).ok()?.0,
        _ => id,
    };
    matches!(types.type_by_id(id).ok()?, Type::Struct(_) | Type::Union(_)).then_some(id)
}

/// Member names of the aggregate `id`, with anonymous members' members in
/// their place (C reaches them directly).
fn member_names(types: &krash_program::type_arena::TypeArena, id: TypeId, out: &mut Vec<String>, depth: usize) {
    const MAX_ANONYMOUS_DEPTH: usize = 8;
    let Ok(Type::Struct(c) | Type::Union(c)) = types.type_by_id(id) else {
        return;
    };
    for member in c.members {
        match member.name {
            Some(name) => out.push(name),
            None if depth < MAX_ANONYMOUS_DEPTH => {
                if let Ok((inner, _)) = types.resolve(member.ty) {
                    member_names(types, inner, out, depth + 1);
                }
            }
            None => {}
        }
    }
}

/// The candidates among `names` that start with `prefix`, sorted, unique
/// and capped.
fn matching<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    let found: Vec<String> = names.filter(|n| n.starts_with(prefix)).map(str::to_string).collect();
    sorted_unique(found)
}

fn sorted_unique(mut names: Vec<String>) -> Vec<String> {
    names.sort_unstable();
    names.dedup();
    names.truncate(MAX_CANDIDATES);
    names
}

/// Every symbol name of the kernel and its modules, sorted and unique.
struct SymbolNames(Vec<String>);

fn symbol_names(k: &Kernel) -> &[String] {
    &k.session_cached(|| {
        let mut names: Vec<String> = k.symbols().iter().map(|s| s.name.to_string()).collect();
        if let Ok(modules) = k.modules() {
            for m in modules {
                names.extend(m.symbols.iter().map(|s| s.name.to_string()));
            }
        }
        names.sort_unstable();
        names.dedup();
        SymbolNames(names)
    })
    .0
}

/// Struct and union names, then typedef names, sorted and unique.
struct TypeNames {
    aggregates: Vec<String>,
    typedefs: Vec<String>,
}

fn type_names(k: &Kernel) -> &TypeNames {
    k.session_cached(|| {
        let types = k.type_arena();
        let list = |kinds: &[TypeKind]| {
            let mut names: Vec<String> =
                kinds.iter().flat_map(|&kind| types.type_names(kind).unwrap_or_default()).collect();
            names.sort_unstable();
            names.dedup();
            names
        };
        TypeNames { aggregates: list(&[TypeKind::Struct, TypeKind::Union]), typedefs: list(&[TypeKind::Typedef]) }
    })
}

fn aggregate_names(k: &Kernel) -> &[String] {
    &type_names(k).aggregates
}

fn typedef_names(k: &Kernel) -> &[String] {
    &type_names(k).typedefs
}

/// PIDs starting with `prefix`, in numeric order.
fn pids(k: &Kernel, prefix: &str) -> Vec<String> {
    let Ok(tasks) = k.tasks() else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = tasks.iter().map(|t| t.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter().map(|p| p.to_string()).filter(|p| p.starts_with(prefix)).take(MAX_CANDIDATES).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_context_finds_the_head_and_the_fragment() {
        assert_eq!(member_context("task_struct.se.vr"), Some(("task_struct.se", 15)));
        assert_eq!(member_context("init_task.mm->pg"), Some(("init_task.mm", 14)));
        assert_eq!(member_context("task_struct.pid,co"), Some(("task_struct", 16)));
        assert_eq!(member_context("jiffies"), None);
        assert_eq!(member_context("a."), Some(("a", 2)));
    }

    #[test]
    fn a_member_arrow_is_not_a_redirection() {
        assert_eq!(last_pipe_or_redirect("p init_task.mm->pg"), None);
        assert_eq!(last_pipe_or_redirect("log > out"), Some(4));
        assert_eq!(last_pipe_or_redirect("ps | grep a->b"), Some(3));
    }

    #[test]
    fn word_start_is_after_the_last_blank() {
        assert_eq!(word_start("p init_"), 2);
        assert_eq!(word_start("sym"), 0);
        assert_eq!(word_start("bt "), 3);
    }

    #[test]
    fn matching_is_sorted_unique_and_capped() {
        let names = ["b", "ab", "aa", "ab"];
        assert_eq!(matching(names.iter().copied(), "a"), vec!["aa", "ab"]);
        let many: Vec<String> = (0..MAX_CANDIDATES + 10).map(|i| format!("x{i}")).collect();
        assert_eq!(matching(many.iter().map(String::as_str), "x").len(), MAX_CANDIDATES);
    }
}
