use krash_commands::output::Whatis;

/// gdb's text, one line or a type body.
pub(crate) fn render(w: &Whatis) -> String {
    match w {
        Whatis::Type { definition, size: Some(size) } => format!("{definition}\nSIZE: {size}\n"),
        Whatis::Type { definition, size: None } => format!("{definition}\nSIZE: (unknown)\n"),
        Whatis::Declaration { declaration } => format!("{declaration};\n"),
        Whatis::Expression { type_name } => format!("{type_name}\n"),
        Whatis::Ptype { definition } => format!("type = {definition}\n"),
    }
}
