//! The rules Azure Resource Manager applies to a managed instance's database name, checked before any
//! request so a bad target name fails at once, naming the field, instead of late (or, for `..`, as a
//! path that points somewhere else).

/// Longest database name (SQL Server's `sysname`, and ARM's limit for SQL databases), in characters.
pub const MAX_DATABASE_NAME_CHARS: usize = 128;

/// Characters ARM refuses in a SQL database name.
const REFUSED: &[char] = &['<', '>', '*', '%', '&', ':', '\\', '/', '?'];

/// Why `name` cannot be a database on the managed instance (`None` when it can).
pub fn target_name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        return Some("is empty".into());
    }
    if chars > MAX_DATABASE_NAME_CHARS {
        return Some(format!(
            "has {chars} characters; a database name has at most {MAX_DATABASE_NAME_CHARS}"
        ));
    }
    if let Some(c) = name.chars().find(|c| REFUSED.contains(c)) {
        return Some(format!(
            "contains '{c}'; Azure refuses < > * % & : \\ / ? in a database name"
        ));
    }
    if name.chars().any(char::is_control) {
        return Some("contains a control character".into());
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("ends with '.' or a space, which Azure refuses".into());
    }
    None
}

/// `Err` with "`field` 'NAME' ...: what to do" when `name` cannot be a target database name.
pub fn check_target_name(field: &str, name: &str) -> Result<(), String> {
    match target_name_problem(name) {
        None => Ok(()),
        Some(why) => {
            let shown: String = name.chars().take(40).collect();
            let more = if name.chars().count() > 40 { "..." } else { "" };
            Err(format!(
                "{field} '{shown}{more}' {why}: give the database on the managed instance another name"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_azure_refuses_are_refused_naming_the_field() {
        for ok in ["Sales", "we]ird 'name", "a.b", "Ünïcödé", &"x".repeat(128)] {
            assert_eq!(target_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "..",
            ".",
            "",
            "  ",
            "a/b",
            "a\\b",
            "x?",
            "tail ",
            "a\u{7}b",
            &"x".repeat(129),
        ] {
            let e = check_target_name("-n/--name", bad).expect_err(bad);
            assert!(e.starts_with("-n/--name '"), "{e}");
        }
        let long = check_target_name("[[backups.database]] target_name", &"y".repeat(200))
            .expect_err("long");
        assert!(
            long.contains("200 characters") && long.contains("at most 128"),
            "{long}"
        );
        assert!(long.contains("..."), "the name is cut when shown: {long}");
    }
}
