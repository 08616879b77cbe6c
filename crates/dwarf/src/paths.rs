//! Source paths: joined as DWARF describes them (compilation directory,
//! include directory, file name), and shortened the way the kernel's
//! `scripts/faddr2line` shows them.

/// Joins the compilation directory, an optional include directory and a
/// file name; an absolute component replaces what came before it.
pub fn join_path(comp_dir: &str, dir: Option<&str>, name: &str) -> String {
    let mut path = String::from(comp_dir);
    for part in dir.into_iter().chain(std::iter::once(name)) {
        if part.is_empty() {
            continue;
        }
        if part.starts_with('/') || path.is_empty() {
            path = part.to_string();
        } else {
            if !path.ends_with('/') {
                path.push('/');
            }
            path.push_str(part);
        }
    }
    path
}

/// Removes `.` components and folds `dir/..` pairs, without touching the
/// file system (the build tree is usually not on this machine).
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(last) if *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// The path relative to the kernel's source tree, given the tree's root
/// (`prefix`, ending in `/`); paths outside the tree are returned whole.
pub fn relative_to(path: &str, prefix: Option<&str>) -> String {
    let normal = normalize(path);
    match prefix {
        Some(prefix) if !prefix.is_empty() => match normal.strip_prefix(prefix) {
            Some(rest) => rest.to_string(),
            None => normal,
        },
        _ => normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_and_absolute_parts() {
        assert_eq!(join_path("/b", Some("kernel"), "panic.c"), "/b/kernel/panic.c");
        assert_eq!(join_path("/b", Some("/usr/include"), "x.h"), "/usr/include/x.h");
        assert_eq!(join_path("/b", None, "/abs/y.c"), "/abs/y.c");
        assert_eq!(join_path("", Some("d"), "f.c"), "d/f.c");
    }

    #[test]
    fn normalizes_dot_dot() {
        assert_eq!(normalize("a/b/../../../include/x.h"), "../include/x.h");
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(relative_to("/src/a/b/../kernel/x.c", Some("/src/a/")), "kernel/x.c");
    }
}
