//! Quoting for the few statements that cannot take parameters (ALTER DATABASE names its database in
//! the statement text). Same result as T-SQL's QUOTENAME(name, '[') and a N'...' literal.

/// `[name]` with every `]` doubled, as QUOTENAME does. Database names are user input and can hold
/// `]`, `'`, spaces and anything else.
pub fn quote_ident(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `N'text'` with every `'` doubled.
pub fn quote_literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_quotename() {
        assert_eq!(quote_ident("Sales"), "[Sales]");
        assert_eq!(quote_ident("we]ird 'name"), "[we]]ird 'name]");
        assert_eq!(quote_ident("]]"), "[]]]]]");
        assert_eq!(quote_literal("O'Brien"), "N'O''Brien'");
        assert_eq!(quote_literal(""), "N''");
    }
}
