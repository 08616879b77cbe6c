//! `mod`: list loaded modules, load and unload their object files'
//! symbols and debuginfo, show their taints.

use std::path::{Path, PathBuf};

use krash_core::{Error, Result};
use krash_program::modules::Module;
use krash_program::symbolize::{find_module_object, index_module_objects, read_module_object};
use krash_program::Kernel;

use super::module_check::{loaded_identity, object_identity, verdict, Verdict};
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "mod",
    aliases: &[],
    summary: "module information and loading of symbols and debugging data",
    synopsis: "mod [-s module [objfile] [--force] | -d module | -S [directory] [--force] | -D | -t]",
    details: "  (none)             list every loaded module: struct module address, name, base\n\
              \x20                    of its code, size, and the object file loaded for it\n\
              \x20 -s module [objfile]  load the module's object file (its DWARF gives sym and\n\
              \x20                    dis -l source lines); without objfile, NAME.ko, NAME.ko.debug\n\
              \x20                    or NAME.ko.xz is searched under /usr/lib/debug/lib/modules/<release>\n\
              \x20                    and /lib/modules/<release> (next to the vmlinux's package tree first)\n\
              \x20 -S [directory]     load every module's object file, searching directory or the\n\
              \x20                    default trees\n\
              \x20 --force           with -s or -S: load an object file even when its build id,\n\
              \x20                    module name, srcversion or kernel release differs from the\n\
              \x20                    loaded module's (otherwise such a file is refused)\n\
              \x20 -d module          drop what -s loaded for module\n\
              \x20 -D                 drop what was loaded for every module\n\
              \x20 -t                 show each tainted module's taint letters\n\
              An object file is checked before it is loaded: its .note.gnu.build-id against the\n\
              build id in the module's memory, else its srcversion, and its module name and the\n\
              kernel release it was built for; when nothing decisive can be compared it is loaded\n\
              with a warning that says so.",
    run,
};

/// One row of crash's module table.
#[derive(Debug, Clone)]
pub struct ModuleRow {
    /// Address of `struct module`.
    pub module: u64,
    pub name: String,
    pub base: u64,
    pub size: u64,
    /// The object file loaded with `mod -s`, if any.
    pub object_file: Option<String>,
    /// True when the dump holds the module's kallsyms symbols.
    pub kallsyms: bool,
}

/// The module table; widths are computed over every module, as crash does,
/// even when only some rows are shown.
#[derive(Debug, Clone)]
pub struct ModuleTable {
    pub rows: Vec<ModuleRow>,
    pub name_width: usize,
    pub size_width: usize,
    /// 6.4+ kernels: crash titles the base column TEXT_BASE.
    pub text_base: bool,
    /// Modules `mod -S` could not load.
    pub problems: Vec<LoadProblem>,
    /// Object files loaded without a decisive identity check, or loaded
    /// despite a mismatch with `--force`.
    pub warnings: Vec<String>,
}

/// A module whose object file `mod -S` could not load.
#[derive(Debug, Clone)]
pub struct LoadProblem {
    pub module: String,
    /// Why loading failed; None when no object file was found.
    pub error: Option<String>,
}

/// One tainted module for `mod -t`.
#[derive(Debug, Clone)]
pub struct TaintRow {
    pub name: String,
    pub taints: String,
}

/// What `mod` produced.
#[derive(Debug, Clone)]
pub enum ModuleOutput {
    Table(ModuleTable),
    Taints {
        rows: Vec<TaintRow>,
    },
    /// `-d`/`-D`: nothing to show.
    Unloaded {
        names: Vec<String>,
    },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let force = args.iter().any(|a| a == "--force");
    let args: Vec<String> = args.iter().filter(|a| *a != "--force").cloned().collect();
    let p = getopt::parse("mod", &args, "sSdDt")?;
    if force && !(p.has('s') || p.has('S')) {
        return Err(Error::Usage("mod: --force goes with -s or -S".into()));
    }
    let k = &session.kernel;
    let modules = k.modules()?;
    let out = if p.has('t') {
        taints(modules)
    } else if p.has('s') {
        let name = p.args.first().ok_or_else(|| Error::Usage("mod -s: module name required".into()))?;
        let path = p.args.get(1).map(PathBuf::from);
        load_one(k, name, path.as_deref(), force)?
    } else if p.has('S') {
        let dirs = match p.args.first() {
            Some(dir) => vec![PathBuf::from(dir)],
            None => k.module_search_dirs(),
        };
        load_all(k, &dirs, force)?
    } else if p.has('d') {
        let name = p.args.first().ok_or_else(|| Error::Usage("mod -d: module name required".into()))?;
        k.unload_module_debuginfo(name)?;
        ModuleOutput::Unloaded { names: vec![name.clone()] }
    } else if p.has('D') {
        let mut names = Vec::new();
        for m in modules {
            if k.unload_module_debuginfo(&m.name).is_ok() {
                names.push(m.name.clone());
            }
        }
        ModuleOutput::Unloaded { names }
    } else {
        ModuleOutput::Table(table(k, modules, |_| true, Vec::new(), Vec::new()))
    };
    Ok(Output::Mod(out))
}

fn load_one(k: &Kernel, name: &str, path: Option<&Path>, force: bool) -> Result<ModuleOutput> {
    let module = k.module_by_name(name)?;
    let dirs = if path.is_some() { Vec::new() } else { k.module_search_dirs() };
    let found = match path {
        Some(p) => p.to_path_buf(),
        None => find_module_object(name, &dirs).ok_or_else(|| {
            Error::NotFound(format!(
                "cannot find {name}.ko (or .ko.debug, .ko.xz) in {}",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            ))
        })?,
    };
    let mut warnings = Vec::new();
    if let Some(warning) = check_object(k, module, &found, force)? {
        warnings.push(warning);
    }
    k.load_module_debuginfo(name, Some(&found), &dirs)?;
    Ok(ModuleOutput::Table(table(k, k.modules()?, |m| m.name == name, Vec::new(), warnings)))
}

/// Checks that `path` is the object of `module` as loaded in the dump:
/// Ok(None) when it is, Ok(Some(warning)) when it cannot be told (or
/// `force` overrides a mismatch), Err when it is not.
fn check_object(k: &Kernel, module: &Module, path: &Path, force: bool) -> Result<Option<String>> {
    if !path.is_file() {
        return Err(Error::NotFound(format!("{}: no such file", path.display())));
    }
    let shown = path.display();
    let outcome = read_module_object(path)
        .and_then(|bytes: Vec<u8>| object_identity(&bytes))
        .map(|object| verdict(&module.name, &object, &loaded_identity(k, module)));
    match outcome {
        Ok(Verdict::Matches) => Ok(None),
        Ok(Verdict::Differs { what, object, loaded }) => {
            let detail = format!("its {what} is {object}, the loaded {} module's is {loaded}", module.name);
            if force {
                Ok(Some(format!("{shown}: loaded with --force although {detail}")))
            } else {
                Err(Error::bad_data(
                    format!("mod: {shown}"),
                    format!(
                        "not the object of the loaded {} module: {detail} (mod -s {} {shown} --force loads it anyway)",
                        module.name, module.name
                    ),
                ))
            }
        }
        Ok(Verdict::Unverified(why)) => Ok(Some(format!("{shown}: {why}"))),
        Err(e) => Ok(Some(format!("{shown}: not checked against the loaded module ({e})"))),
    }
}

fn load_all(k: &Kernel, dirs: &[PathBuf], force: bool) -> Result<ModuleOutput> {
    let index = index_module_objects(dirs);
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    for m in k.modules()? {
        let Some(path) = index.get(&m.name) else {
            notes.push(LoadProblem { module: m.name.clone(), error: None });
            continue;
        };
        let checked = check_object(k, m, path, force);
        let loaded = checked.and_then(|warning| {
            k.load_module_debuginfo(&m.name, Some(path), dirs)?;
            Ok(warning)
        });
        match loaded {
            Ok(Some(warning)) => warnings.push(warning),
            Ok(None) => {}
            Err(e) => notes.push(LoadProblem { module: m.name.clone(), error: Some(e.to_string()) }),
        }
    }
    let modules = k.modules()?;
    Ok(ModuleOutput::Table(table(k, modules, |m| k.module_debuginfo(&m.name).is_some(), notes, warnings)))
}

fn table(
    k: &Kernel,
    modules: &[Module],
    show: impl Fn(&Module) -> bool,
    problems: Vec<LoadProblem>,
    warnings: Vec<String>,
) -> ModuleTable {
    let name_width = modules.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let size_width = modules.iter().map(|m| m.size.to_string().len()).max().unwrap_or(0);
    let rows = modules
        .iter()
        .filter(|m| show(m))
        .map(|m| ModuleRow {
            module: m.addr,
            name: m.name.clone(),
            base: m.base,
            size: m.size,
            object_file: k.module_debuginfo(&m.name).map(|d| d.path.display().to_string()),
            kallsyms: !m.symbols.is_empty(),
        })
        .collect();
    ModuleTable {
        rows,
        name_width,
        size_width,
        text_base: modules.iter().any(|m| m.has_mem_regions),
        problems,
        warnings,
    }
}

fn taints(modules: &[Module]) -> ModuleOutput {
    let rows = modules
        .iter()
        .filter(|m| m.taints != 0)
        .map(|m| TaintRow { name: m.name.clone(), taints: m.taint_letters() })
        .collect();
    ModuleOutput::Taints { rows }
}
