"""An independent TDS client for the sandbox's SQL Server: python-tds (pytds), plain TCP.

Usage: tds_python_client.py PORT USER PASSWORD
Connects to 127.0.0.1:PORT (no TLS: pytds only starts TLS when given a cafile), runs
`SELECT name FROM sys.databases` as a SQL batch and `SELECT %s` as sp_executesql with a parameter,
and prints one line per result value: `name=<db>` for each database, then `param=<value>`.
"""
import sys

import pytds


def main() -> None:
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with pytds.connect(
        server="127.0.0.1",
        port=port,
        user=user,
        password=password,
        database="master",
        autocommit=True,
        login_timeout=30,
        timeout=30,
    ) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM sys.databases")
            for (name,) in cur.fetchall():
                print(f"name={name}")
            cur.execute("SELECT %s", ("it's [pytds]",))
            for row in cur.fetchall():
                print(f"param={row[-1]}")


if __name__ == "__main__":
    main()
