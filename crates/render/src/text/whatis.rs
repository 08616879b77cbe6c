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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind() {
        let def = |size| Whatis::Type { definition: "struct a {\n    int b;\n}".into(), size };
        assert_eq!(render(&def(Some(4))), "struct a {\n    int b;\n}\nSIZE: 4\n");
        assert_eq!(render(&def(None)), "struct a {\n    int b;\n}\nSIZE: (unknown)\n");
        assert_eq!(
            render(&Whatis::Declaration { declaration: "unsigned long jiffies".into() }),
            "unsigned long jiffies;\n"
        );
        assert_eq!(render(&Whatis::Expression { type_name: "int *".into() }), "int *\n");
        assert_eq!(render(&Whatis::Ptype { definition: "int".into() }), "type = int\n");
    }
}
