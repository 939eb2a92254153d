//! Just enough T-SQL for the sandbox's SQL Server: a tokenizer (brackets, N'...' strings, variables,
//! comments), exact matching of a few fixed statements (SELECTs are read by `sql_select`), and
//! parsers for the statements whose text varies (ALTER DATABASE, BACKUP). Anything else is refused
//! by the instance with a SQL Server style syntax error: the sandbox never answers an empty success
//! to SQL it does not understand.

/// One token. Words and variables are upper-cased (T-SQL keywords and the default collation are case
/// insensitive); bracketed identifiers and strings keep their exact text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `[name]` (with `]]` unescaped) or `"name"`.
    Ident(String),
    /// `'text'` or `N'text'` (with `''` unescaped).
    Str(String),
    Num(String),
    /// `@name` / `@@name`, upper-cased, with the `@`s.
    Var(String),
    Punct(String),
}

impl Token {
    fn is_word(&self, w: &str) -> bool {
        matches!(self, Token::Word(x) if x == w)
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self, Token::Punct(x) if x == p)
    }
    /// The text of a name token (a word, keeping its case from `original`, or an identifier).
    fn name(&self) -> Option<String> {
        match self {
            Token::Ident(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Why a text could not be tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where it went wrong, for "Incorrect syntax near '...'".
    pub near: String,
}

/// Splits T-SQL into tokens. Words keep their original spelling in `originals` (same indexes).
pub fn tokenize(sql: &str) -> Result<(Vec<Token>, Vec<String>), SyntaxError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let mut originals = Vec::new();
    let near = |i: usize| SyntaxError {
        near: chars[i..chars.len().min(i + 20)].iter().collect(),
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = i;
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err(near(start));
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
        } else if c == '[' || c == '"' {
            let close = if c == '[' { ']' } else { '"' };
            let (s, end) = quoted_run(&chars, i + 1, close).ok_or_else(|| near(i))?;
            i = end;
            originals.push(s.clone());
            out.push(Token::Ident(s));
        } else if c == '\'' || ((c == 'N' || c == 'n') && chars.get(i + 1) == Some(&'\'')) {
            let open = if c == '\'' { i } else { i + 1 };
            let (s, end) = quoted_run(&chars, open + 1, '\'').ok_or_else(|| near(i))?;
            i = end;
            originals.push(s.clone());
            out.push(Token::Str(s));
        } else if c == '@' {
            let start = i;
            while i < chars.len() && chars[i] == '@' {
                i += 1;
            }
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            originals.push(s.clone());
            out.push(Token::Var(s.to_uppercase()));
        } else if c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            // A binary literal (0x0200AB...): kept as a `Num` whose text starts with "0x".
            let start = i;
            i += 2;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            originals.push(s.clone());
            out.push(Token::Num(format!("0x{}", &s[2..].to_uppercase())));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            originals.push(s.clone());
            out.push(Token::Num(s));
        } else if c.is_alphabetic() || c == '_' || c == '#' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '$'
                    || chars[i] == '#')
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Token::Word(s.to_uppercase()));
            originals.push(s);
        } else {
            let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let p = if matches!(two.as_str(), ">=" | "<=" | "<>" | "!=") {
                i += 2;
                two
            } else {
                i += 1;
                c.to_string()
            };
            originals.push(p.clone());
            out.push(Token::Punct(p));
        }
    }
    Ok((out, originals))
}

/// Reads a quoted run that starts at `chars[from]` (just after the opening quote) up to its closing
/// `close`, a doubled `close` standing for one (`[a]]b]`, `'it''s'`). Returns the unescaped text and
/// the index after the closing quote; `None` when the run is not closed.
fn quoted_run(chars: &[char], from: usize, close: char) -> Option<(String, usize)> {
    let mut s = String::new();
    let mut i = from;
    loop {
        let x = *chars.get(i)?;
        if x == close {
            if chars.get(i + 1) != Some(&close) {
                return Some((s, i + 1));
            }
            i += 1;
        }
        s.push(x);
        i += 1;
    }
}

/// Splits a batch into statements at top-level `;`.
pub fn statements(tokens: Vec<Token>, originals: Vec<String>) -> Vec<(Vec<Token>, Vec<String>)> {
    let mut out = Vec::new();
    let mut cur = (Vec::new(), Vec::new());
    for (t, o) in tokens.into_iter().zip(originals) {
        if t.is_punct(";") {
            if !cur.0.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.0.push(t);
            cur.1.push(o);
        }
    }
    if !cur.0.is_empty() {
        out.push(cur);
    }
    out
}

/// True when `tokens` are exactly the tokens of `query` (the sandbox's fixed inspection queries).
pub fn matches_query(tokens: &[Token], query: &str) -> bool {
    match tokenize(query) {
        Ok((q, _)) => q == tokens,
        Err(_) => false,
    }
}

/// Matches `tokens` against `template`, where the template's `{db}` stands for one database name
/// (bracketed identifier or plain word); returns that name.
pub fn match_db_template(tokens: &[Token], originals: &[String], template: &str) -> Option<String> {
    let marker = "\u{1}db\u{1}";
    let (t, _) = tokenize(&template.replace("{db}", &format!("[{marker}]"))).ok()?;
    if t.len() != tokens.len() {
        return None;
    }
    let mut name = None;
    for (i, (want, got)) in t.iter().zip(tokens).enumerate() {
        if matches!(want, Token::Ident(m) if m == marker) {
            name = match got {
                Token::Ident(s) => Some(s.clone()),
                Token::Word(_) => Some(originals[i].clone()),
                _ => return None,
            };
        } else if want != got {
            return None;
        }
    }
    name
}

/// A database name or a variable holding it, a path or a variable holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Literal(String),
    Var(String),
}

/// `ALTER DATABASE x SET ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterOption {
    ReadOnly,
    ReadWrite,
    SingleUser,
    RestrictedUser,
    MultiUser,
    Recovery(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    Alter {
        database: String,
        option: AlterOption,
    },
    Backup {
        /// `LOG` or `DATABASE` (full).
        log: bool,
        database: Operand,
        disk: Operand,
        /// Upper-cased option words (NORECOVERY, CHECKSUM, INIT, COPY_ONLY...).
        options: Vec<String>,
    },
}

/// `SELECT <clock expression> [[AS] alias]` over the server's clock: what it answers is the server's
/// offset from UTC (minutes) times `utc_offset_factor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockSelect {
    /// 1, 0 or -1.
    pub utc_offset_factor: i32,
    /// The alias, or "" (SQL Server names no column of an expression without one).
    pub column: String,
}

/// Where a date function's clock is: 1 for the server's local time (`GETDATE()`, `SYSDATETIME()`,
/// `CURRENT_TIMESTAMP`), 0 for UTC (`GETUTCDATE()`, `SYSUTCDATETIME()`); and the tokens it took.
fn clock_at(tokens: &[Token], i: usize) -> Option<(i32, usize)> {
    let Token::Word(f) = tokens.get(i)? else {
        return None;
    };
    let zone = match f.as_str() {
        "CURRENT_TIMESTAMP" => return Some((1, 1)),
        "GETDATE" | "SYSDATETIME" => 1,
        "GETUTCDATE" | "SYSUTCDATETIME" => 0,
        _ => return None,
    };
    (tokens.get(i + 1)?.is_punct("(") && tokens.get(i + 2)?.is_punct(")")).then_some((zone, 3))
}

/// Parses the documented ways to ask SQL Server for its offset from UTC:
/// `DATEPART(TZOFFSET, SYSDATETIMEOFFSET())` (the offset in minutes) and
/// `DATEDIFF(MINUTE, <clock>, <clock>)` over a local and a UTC clock (`DATEDIFF` is end minus start,
/// so `DATEDIFF(MINUTE, GETUTCDATE(), GETDATE())` is the offset and the reverse its negation).
pub fn parse_clock_select(tokens: &[Token], originals: &[String]) -> Option<ClockSelect> {
    let p = |i: usize, s: &str| tokens.get(i).is_some_and(|t| t.is_punct(s));
    let w = |i: usize, s: &str| tokens.get(i).is_some_and(|t| t.is_word(s));
    if !w(0, "SELECT") {
        return None;
    }
    let (factor, end) =
        if w(1, "DATEPART") && p(2, "(") && (w(3, "TZOFFSET") || w(3, "TZ")) && p(4, ",") {
            let ok = w(5, "SYSDATETIMEOFFSET") && p(6, "(") && p(7, ")") && p(8, ")");
            ok.then_some((1, 9))?
        } else if w(1, "DATEDIFF")
            && p(2, "(")
            && (w(3, "MINUTE") || w(3, "MI") || w(3, "N"))
            && p(4, ",")
        {
            let (from, used) = clock_at(tokens, 5)?;
            if !p(5 + used, ",") {
                return None;
            }
            let (to, used2) = clock_at(tokens, 6 + used)?;
            let close = 6 + used + used2;
            p(close, ")").then_some((to - from, close + 1))?
        } else {
            return None;
        };
    let column = match &tokens[end..] {
        [] => String::new(),
        [Token::Word(a), alias] if a == "AS" => {
            name_at(&tokens[end + 1..], &originals[end + 1..], 0)
                .filter(|_| !matches!(alias, Token::Punct(_)))?
        }
        [alias] if !matches!(alias, Token::Punct(_)) && !alias.is_word("AS") => {
            name_at(&tokens[end..], &originals[end..], 0)?
        }
        _ => return None,
    };
    Some(ClockSelect {
        utc_offset_factor: factor,
        column,
    })
}

fn name_at(tokens: &[Token], originals: &[String], i: usize) -> Option<String> {
    match tokens.get(i)? {
        Token::Word(_) => Some(originals[i].clone()),
        t => t.name(),
    }
}

/// Parses ALTER DATABASE ... SET and BACKUP LOG|DATABASE ... TO DISK = ... [WITH ...]; `None` if the
/// statement is neither (or malformed: the caller answers a syntax error).
pub fn parse_statement(tokens: &[Token], originals: &[String]) -> Option<Statement> {
    let w = |i: usize, s: &str| tokens.get(i).is_some_and(|t| t.is_word(s));
    if w(0, "ALTER") && w(1, "DATABASE") && w(3, "SET") {
        let database = name_at(tokens, originals, 2)?;
        let (option, next) = if w(4, "RECOVERY") {
            match tokens.get(5)? {
                Token::Word(m) if matches!(m.as_str(), "FULL" | "SIMPLE" | "BULK_LOGGED") => {
                    (AlterOption::Recovery(m.clone()), 6)
                }
                _ => return None,
            }
        } else {
            let o = match tokens.get(4)? {
                Token::Word(o) => match o.as_str() {
                    "READ_ONLY" => AlterOption::ReadOnly,
                    "READ_WRITE" => AlterOption::ReadWrite,
                    "SINGLE_USER" => AlterOption::SingleUser,
                    "RESTRICTED_USER" => AlterOption::RestrictedUser,
                    "MULTI_USER" => AlterOption::MultiUser,
                    _ => return None,
                },
                _ => return None,
            };
            (o, 5)
        };
        // Termination: nothing, WITH NO_WAIT, WITH ROLLBACK IMMEDIATE, WITH ROLLBACK AFTER n [SECONDS].
        let rest = &tokens[next..];
        let ok = rest.is_empty()
            || (rest.len() == 2 && rest[0].is_word("WITH") && rest[1].is_word("NO_WAIT"))
            || (rest.len() == 3
                && rest[0].is_word("WITH")
                && rest[1].is_word("ROLLBACK")
                && rest[2].is_word("IMMEDIATE"))
            || ((rest.len() == 4 || rest.len() == 5)
                && rest[0].is_word("WITH")
                && rest[1].is_word("ROLLBACK")
                && rest[2].is_word("AFTER")
                && matches!(rest[3], Token::Num(_))
                && (rest.len() == 4 || rest[4].is_word("SECONDS")));
        return ok.then_some(Statement::Alter { database, option });
    }
    if w(0, "BACKUP") && (w(1, "LOG") || w(1, "DATABASE")) {
        let database = match tokens.get(2)? {
            Token::Var(v) => Operand::Var(v.clone()),
            _ => Operand::Literal(name_at(tokens, originals, 2)?),
        };
        if !(w(3, "TO") && w(4, "DISK") && tokens.get(5)?.is_punct("=")) {
            return None;
        }
        let disk = match tokens.get(6)? {
            Token::Var(v) => Operand::Var(v.clone()),
            Token::Str(s) => Operand::Literal(s.clone()),
            _ => return None,
        };
        let mut options = Vec::new();
        let mut i = 7;
        if i < tokens.len() {
            if !w(i, "WITH") {
                return None;
            }
            i += 1;
            loop {
                match tokens.get(i)? {
                    Token::Word(o) => options.push(o.clone()),
                    _ => return None,
                }
                i += 1;
                // `NAME = 'x'`, `STATS = 10`, `DESCRIPTION = N'...'`
                if tokens.get(i).is_some_and(|t| t.is_punct("=")) {
                    match tokens.get(i + 1)? {
                        Token::Str(_) | Token::Num(_) | Token::Var(_) => i += 2,
                        _ => return None,
                    }
                }
                match tokens.get(i) {
                    None => break,
                    Some(t) if t.is_punct(",") => i += 1,
                    Some(_) => return None,
                }
            }
        }
        return Some(Statement::Backup {
            log: w(1, "LOG"),
            database,
            disk,
            options,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Option<Statement> {
        let (t, o) = tokenize(sql).unwrap();
        parse_statement(&t, &o)
    }

    fn clock(sql: &str) -> Option<(i32, String)> {
        let (t, o) = tokenize(sql).unwrap();
        parse_clock_select(&t, &o).map(|c| (c.utc_offset_factor, c.column))
    }

    #[test]
    fn the_ways_to_ask_for_the_servers_offset_from_utc() {
        assert_eq!(
            clock("SELECT DATEPART(TZOFFSET, SYSDATETIMEOFFSET()) AS off"),
            Some((1, "off".into()))
        );
        assert_eq!(
            clock("select datepart(tz, sysdatetimeoffset())"),
            Some((1, String::new()))
        );
        assert_eq!(
            clock("SELECT DATEDIFF(MINUTE, GETUTCDATE(), GETDATE()) [Offset]"),
            Some((1, "Offset".into()))
        );
        assert_eq!(
            clock("SELECT DATEDIFF(mi, SYSDATETIME(), SYSUTCDATETIME())"),
            Some((-1, String::new()))
        );
        assert_eq!(
            clock("SELECT DATEDIFF(MINUTE, CURRENT_TIMESTAMP, GETDATE())"),
            Some((0, String::new()))
        );
        assert_eq!(
            clock("SELECT DATEDIFF(HOUR, GETUTCDATE(), GETDATE())"),
            None
        );
        assert_eq!(
            clock("SELECT DATEPART(TZOFFSET, SYSDATETIMEOFFSET()) AS"),
            None
        );
        assert_eq!(clock("SELECT GETDATE()"), None);
    }

    #[test]
    fn tokens_keep_names_and_strings_exact() {
        let (t, _) = tokenize("select [we]]ird 'name], N'O''Brien' -- c\n /* x */ @p1;").unwrap();
        assert_eq!(
            t,
            vec![
                Token::Word("SELECT".into()),
                Token::Ident("we]ird 'name".into()),
                Token::Punct(",".into()),
                Token::Str("O'Brien".into()),
                Token::Var("@P1".into()),
                Token::Punct(";".into()),
            ]
        );
        assert!(tokenize("select 'open").is_err());
        assert!(tokenize("select [open").is_err());
    }

    #[test]
    fn quoted_runs_unescape_doubled_quotes() {
        let (t, _) = tokenize(r#"'it''s' '' n'''' "a""b" []]]"#).unwrap();
        assert_eq!(
            t,
            vec![
                Token::Str("it's".into()),
                Token::Str(String::new()),
                Token::Str("'".into()),
                Token::Ident("a\"b".into()),
                Token::Ident("]".into()),
            ]
        );
        assert!(tokenize("select 'it''").is_err());
        assert!(tokenize("select \"a\"\"").is_err());
        assert_eq!(tokenize("x N'ab").unwrap_err().near, "N'ab");
    }

    #[test]
    fn fixed_queries_match_whatever_the_spacing_and_case() {
        let (t, _) = tokenize("select  name\n FROM sys.databases").unwrap();
        assert!(matches_query(&t, "SELECT name FROM sys.databases"));
        assert!(!matches_query(&t, "SELECT name FROM sys.master_files"));
    }

    #[test]
    fn template_captures_the_database() {
        let tpl = "SELECT COUNT(*) FROM {db}.sys.filegroups WHERE type = 'FX'";
        let (t, o) =
            tokenize("SELECT COUNT(*) FROM [we]]ird].sys.filegroups WHERE type = 'FX'").unwrap();
        assert_eq!(match_db_template(&t, &o, tpl).as_deref(), Some("we]ird"));
        let (t, o) =
            tokenize("SELECT COUNT(*) FROM Sales.sys.filegroups WHERE type = 'FX'").unwrap();
        assert_eq!(match_db_template(&t, &o, tpl).as_deref(), Some("Sales"));
        let (t, o) =
            tokenize("SELECT COUNT(*) FROM Sales.sys.filegroups WHERE type = 'FD'").unwrap();
        assert_eq!(match_db_template(&t, &o, tpl), None);
    }

    #[test]
    fn alter_and_backup() {
        assert_eq!(
            parse("ALTER DATABASE [we]]ird 'name] SET READ_ONLY WITH ROLLBACK IMMEDIATE"),
            Some(Statement::Alter {
                database: "we]ird 'name".into(),
                option: AlterOption::ReadOnly
            })
        );
        assert_eq!(
            parse("alter database Sales set recovery full"),
            Some(Statement::Alter {
                database: "Sales".into(),
                option: AlterOption::Recovery("FULL".into())
            })
        );
        assert_eq!(parse("ALTER DATABASE x SET READ_ONLY WITH"), None);
        assert_eq!(
            parse("BACKUP LOG @P1 TO DISK = @P2 WITH NORECOVERY, CHECKSUM, INIT"),
            Some(Statement::Backup {
                log: true,
                database: Operand::Var("@P1".into()),
                disk: Operand::Var("@P2".into()),
                options: vec!["NORECOVERY".into(), "CHECKSUM".into(), "INIT".into()],
            })
        );
        assert_eq!(
            parse(
                "BACKUP DATABASE [Sales] TO DISK = N'/b/S.bak' WITH CHECKSUM, STATS = 10, NAME = N'x'"
            ),
            Some(Statement::Backup {
                log: false,
                database: Operand::Literal("Sales".into()),
                disk: Operand::Literal("/b/S.bak".into()),
                options: vec!["CHECKSUM".into(), "STATS".into(), "NAME".into()],
            })
        );
        assert_eq!(parse("BACKUP LOG x TO TAPE = 'x'"), None);
        assert_eq!(parse("SELECT 1"), None);
    }
}
