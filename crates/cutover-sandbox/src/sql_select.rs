//! What a client's SELECT asks for, read from its tokens: each output column (its name, the alias
//! after AS or the column's own name, and what it computes: a catalog column, SERVERPROPERTY(...),
//! IS_SRVROLEMEMBER(...), SUSER_SNAME(), a subquery's aggregate over sys.master_files or
//! msdb.dbo.backupset, COUNT(*)), the tables it reads (FROM / JOIN) and its WHERE clause. The
//! sandbox's SQL Server answers a query by what it asks for, as SQL Server does, not by matching a
//! client's text word for word.

use super::sql::Token;

/// What one output column computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asks {
    /// `SERVERPROPERTY('X')`, the property name lowercased.
    ServerProperty(String),
    /// `IS_SRVROLEMEMBER('role')`, the role lowercased.
    RoleMember(String),
    /// `SUSER_SNAME()`, `SUSER_NAME()`, `ORIGINAL_LOGIN()`.
    LoginName,
    /// `COUNT(*)` or `COUNT(x)` at the top of the item.
    Count,
    /// A subquery summing `sys.master_files.size` (pages): the database's size.
    DataPages,
    /// A subquery counting `sys.master_files` rows of `type = 2` (FILESTREAM / In-Memory files).
    FilestreamFiles,
    /// A subquery taking the newest `backup_finish_date` of msdb's backups of one type letter.
    LastBackup(char),
    /// A column, lowercased (`d.name` -> `name`, `CAST(d.x AS int)` -> `x`).
    Column(String),
}

/// One output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The column name the client reads (the alias as written, else the column's name).
    pub name: String,
    pub asks: Asks,
}

/// A SELECT, as far as the sandbox needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    pub items: Vec<Item>,
    /// Top-level FROM / JOIN sources, each a dotted name's parts as written (`[db].sys.filegroups`
    /// -> `["db", "sys", "filegroups"]`).
    pub from: Vec<Vec<String>>,
    /// The top-level WHERE clause's tokens (empty if none).
    pub filter: Vec<Token>,
    /// The WHERE clause's texts, as written (same indexes as `filter`).
    pub filter_text: Vec<String>,
    /// `SELECT TOP (n)` / `TOP n`: at most n rows.
    pub top: Option<u64>,
}

impl Select {
    /// Whether one of the sources is `name` (dotted, case-insensitive), ignoring a leading
    /// database part (`msdb.dbo.backupset` matches `dbo.backupset`).
    pub fn reads(&self, name: &str) -> bool {
        let want: Vec<&str> = name.split('.').collect();
        self.from.iter().any(|parts| {
            parts.len() >= want.len()
                && parts[parts.len() - want.len()..]
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
    }

    /// The database part of a three-part source ending in `tail` (`[x].sys.filegroups` -> `x`).
    pub fn database_of(&self, tail: &str) -> Option<String> {
        let want: Vec<&str> = tail.split('.').collect();
        self.from.iter().find_map(|parts| {
            let n = parts.len();
            (n == want.len() + 1
                && parts[1..]
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b)))
            .then(|| parts[0].clone())
        })
    }

    /// Whether the filter compares `column` with `op` and `value` (`d.database_id > 4`).
    pub fn filters(&self, column: &str, op: &str, value: &Token) -> bool {
        self.filter.windows(3).any(|w| {
            matches!(&w[0], Token::Word(c) if c.eq_ignore_ascii_case(column))
                && matches!(&w[1], Token::Punct(p) if p == op)
                && &w[2] == value
        })
    }

    /// The first variable (`@P1`) the filter compares `column` with.
    pub fn variable_for(&self, column: &str) -> Option<String> {
        self.filter
            .windows(3)
            .find_map(|w| match (&w[0], &w[1], &w[2]) {
                (Token::Word(c), Token::Punct(p), Token::Var(v))
                    if c.eq_ignore_ascii_case(column) && p == "=" =>
                {
                    Some(v.clone())
                }
                _ => None,
            })
    }
}

fn is_word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(x) if x == w)
}

fn is_punct(t: &Token, p: &str) -> bool {
    matches!(t, Token::Punct(x) if x == p)
}

/// Reads a SELECT; `None` if the statement is not one (or has no output column).
pub fn parse_select(tokens: &[Token], originals: &[String]) -> Option<Select> {
    if !tokens.first().is_some_and(|t| is_word(t, "SELECT")) {
        return None;
    }
    // Top-level clause boundaries.
    let mut depth = 0i32;
    let mut from_at = None;
    let mut where_at = None;
    let mut order_at = None;
    for (i, t) in tokens.iter().enumerate() {
        if is_punct(t, "(") {
            depth += 1;
        } else if is_punct(t, ")") {
            depth -= 1;
        } else if depth == 0 {
            if is_word(t, "FROM") && from_at.is_none() {
                from_at = Some(i);
            } else if is_word(t, "WHERE") && where_at.is_none() {
                where_at = Some(i);
            } else if is_word(t, "ORDER") && order_at.is_none() {
                order_at = Some(i);
            }
        }
    }
    let list_end = from_at.or(where_at).or(order_at).unwrap_or(tokens.len());
    // TOP n or TOP (n) before the select list.
    let (top, list_start) = match (tokens.get(1), tokens.get(2), tokens.get(3), tokens.get(4)) {
        (Some(t), Some(Token::Num(n)), _, _) if is_word(t, "TOP") => (n.parse().ok(), 3),
        (Some(t), Some(p), Some(Token::Num(n)), Some(q))
            if is_word(t, "TOP") && is_punct(p, "(") && is_punct(q, ")") =>
        {
            (n.parse().ok(), 5)
        }
        _ => (None, 1),
    };
    let items = split_top_level(list_start, list_end, tokens)
        .into_iter()
        .map(|(a, b)| item(&tokens[a..b], &originals[a..b]))
        .collect::<Option<Vec<_>>>()?;
    if items.is_empty() {
        return None;
    }
    let mut from = Vec::new();
    if let Some(f) = from_at {
        let end = where_at.or(order_at).unwrap_or(tokens.len());
        let mut i = f;
        let mut depth = 0i32;
        while i < end {
            let t = &tokens[i];
            if is_punct(t, "(") {
                depth += 1;
            } else if is_punct(t, ")") {
                depth -= 1;
            } else if depth == 0 && (is_word(t, "FROM") || is_word(t, "JOIN")) {
                let (parts, next) = dotted(tokens, originals, i + 1);
                if !parts.is_empty() {
                    from.push(parts);
                }
                i = next;
                continue;
            }
            i += 1;
        }
    }
    let (filter, filter_text) = match where_at {
        Some(w) => {
            let end = order_at.unwrap_or(tokens.len());
            (tokens[w + 1..end].to_vec(), originals[w + 1..end].to_vec())
        }
        None => (Vec::new(), Vec::new()),
    };
    Some(Select {
        items,
        from,
        filter,
        filter_text,
        top,
    })
}

/// `[from, end)` split at top-level commas.
fn split_top_level(from: usize, end: usize, tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = from;
    for (i, t) in tokens.iter().enumerate().take(end).skip(from) {
        if is_punct(t, "(") {
            depth += 1;
        } else if is_punct(t, ")") {
            depth -= 1;
        } else if depth == 0 && is_punct(t, ",") {
            out.push((start, i));
            start = i + 1;
        }
    }
    if start < end {
        out.push((start, end));
    }
    out
}

/// A name token's text as written (a word's original spelling, an identifier's text).
fn name_at(tokens: &[Token], originals: &[String], i: usize) -> Option<String> {
    match tokens.get(i)? {
        Token::Word(_) => originals.get(i).cloned(),
        Token::Ident(s) => Some(s.clone()),
        _ => None,
    }
}

/// A dotted name starting at `i`: its parts and the index after it.
fn dotted(tokens: &[Token], originals: &[String], mut i: usize) -> (Vec<String>, usize) {
    let mut parts = Vec::new();
    while let Some(n) = name_at(tokens, originals, i) {
        parts.push(n);
        i += 1;
        if tokens.get(i).is_some_and(|t| is_punct(t, ".")) {
            i += 1;
        } else {
            break;
        }
    }
    (parts, i)
}

/// The string argument of `FUNC('x')` found in `tokens`, lowercased.
fn string_arg(tokens: &[Token], func: &str) -> Option<String> {
    tokens.windows(3).find_map(|w| match (&w[0], &w[1], &w[2]) {
        (Token::Word(f), Token::Punct(p), Token::Str(s)) if f == func && p == "(" => {
            Some(s.to_lowercase())
        }
        _ => None,
    })
}

fn has_word(tokens: &[Token], w: &str) -> bool {
    tokens.iter().any(|t| is_word(t, w))
}

/// What an item's expression computes.
fn asks(expr: &[Token], originals: &[String]) -> Option<Asks> {
    if has_word(expr, "SELECT") {
        let type_is = |v: &Token| {
            expr.windows(3)
                .any(|w| is_word(&w[0], "TYPE") && is_punct(&w[1], "=") && &w[2] == v)
        };
        if has_word(expr, "MASTER_FILES") {
            if has_word(expr, "SUM") && has_word(expr, "SIZE") {
                return Some(Asks::DataPages);
            }
            if has_word(expr, "COUNT") && type_is(&Token::Num("2".into())) {
                return Some(Asks::FilestreamFiles);
            }
        }
        if has_word(expr, "BACKUPSET")
            && has_word(expr, "MAX")
            && has_word(expr, "BACKUP_FINISH_DATE")
        {
            for letter in ['D', 'I', 'L'] {
                if type_is(&Token::Str(letter.to_string())) {
                    return Some(Asks::LastBackup(letter));
                }
            }
        }
        return None;
    }
    if let Some(p) = string_arg(expr, "SERVERPROPERTY") {
        return Some(Asks::ServerProperty(p));
    }
    if let Some(r) = string_arg(expr, "IS_SRVROLEMEMBER") {
        return Some(Asks::RoleMember(r));
    }
    if ["SUSER_SNAME", "SUSER_NAME", "ORIGINAL_LOGIN"]
        .iter()
        .any(|f| has_word(expr, f))
    {
        return Some(Asks::LoginName);
    }
    if expr.first().is_some_and(|t| is_word(t, "COUNT")) {
        return Some(Asks::Count);
    }
    // A column: the first name not used as a function, followed through its dots.
    let mut i = 0;
    while i < expr.len() {
        let followed_by_paren = expr.get(i + 1).is_some_and(|t| is_punct(t, "("));
        if matches!(expr[i], Token::Word(_) | Token::Ident(_)) && !followed_by_paren {
            let (parts, _) = dotted(expr, originals, i);
            return parts.last().map(|p| Asks::Column(p.to_lowercase()));
        }
        i += 1;
    }
    None
}

/// One select-list item: `expr [AS alias]`.
fn item(tokens: &[Token], originals: &[String]) -> Option<Item> {
    let n = tokens.len();
    let (expr, expr_text, alias) = if n >= 3 && is_word(&tokens[n - 2], "AS") {
        (
            &tokens[..n - 2],
            &originals[..n - 2],
            name_at(tokens, originals, n - 1),
        )
    } else {
        (tokens, originals, None)
    };
    let asks = asks(expr, expr_text)?;
    let name = match (&alias, &asks) {
        (Some(a), _) => a.clone(),
        (None, Asks::Column(c)) => c.clone(),
        (None, _) => String::new(),
    };
    Some(Item { name, asks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::tokenize;

    fn select(sql: &str) -> Select {
        let (t, o) = tokenize(sql).unwrap();
        parse_select(&t, &o).unwrap()
    }

    #[test]
    fn reads_what_a_select_asks_for() {
        let s = select(
            "select CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS srv, \
             cast(is_srvrolemember('sysadmin') as int) sysadm_no_as, SUSER_SNAME() AS who",
        );
        assert_eq!(
            s.items[0],
            Item {
                name: "srv".into(),
                asks: Asks::ServerProperty("servername".into())
            }
        );
        assert_eq!(s.items[1].asks, Asks::RoleMember("sysadmin".into()));
        assert_eq!(
            s.items[2],
            Item {
                name: "who".into(),
                asks: Asks::LoginName
            }
        );
        assert!(s.from.is_empty());

        let s = select(
            "SELECT d.Name, CAST(d.compatibility_level AS int) AS cl, \
             (SELECT CAST(SUM(CAST(mf.size AS bigint)) * 8192 AS bigint) FROM sys.master_files mf \
              WHERE mf.database_id = d.database_id) AS bytes, \
             (SELECT MAX(b.backup_finish_date) FROM msdb.dbo.backupset b WHERE b.type = 'L') AS lastlog \
             FROM sys.databases d WHERE d.database_id > 4 ORDER BY d.name",
        );
        assert_eq!(
            s.items[0],
            Item {
                name: "name".into(),
                asks: Asks::Column("name".into())
            }
        );
        assert_eq!(
            s.items[1],
            Item {
                name: "cl".into(),
                asks: Asks::Column("compatibility_level".into())
            }
        );
        assert_eq!(s.items[2].asks, Asks::DataPages);
        assert_eq!(s.items[3].asks, Asks::LastBackup('L'));
        assert!(s.reads("sys.databases") && !s.reads("dbo.backupset"));
        assert!(s.filters("DATABASE_ID", ">", &Token::Num("4".into())));

        let s = select(
            "SELECT b.type FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily mf \
             ON mf.media_set_id = b.media_set_id WHERE b.database_name = @P1",
        );
        assert!(s.reads("dbo.backupset") && s.reads("msdb.dbo.backupmediafamily"));
        assert_eq!(s.variable_for("DATABASE_NAME").as_deref(), Some("@P1"));

        let s = select(
            "SELECT TOP (1) r.sku FROM sys.server_resource_stats r ORDER BY r.end_time DESC",
        );
        assert_eq!((s.top, s.items[0].name.as_str()), (Some(1), "sku"));
        assert_eq!(select("SELECT TOP 5 name FROM sys.databases").top, Some(5));
        assert_eq!(select("SELECT name FROM sys.databases").top, None);

        let s = select("SELECT COUNT(*) AS n FROM [we]]ird].sys.filegroups WHERE type = 'FX'");
        assert_eq!(s.items[0].asks, Asks::Count);
        assert_eq!(s.database_of("sys.filegroups").as_deref(), Some("we]ird"));
    }
}
