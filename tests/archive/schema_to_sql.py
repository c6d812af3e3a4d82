#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Table definitions for tlsfin's JSONL, generated from docs/tlsfin.schema.json.

docs/scale.md shows the DuckDB, ClickHouse and Spark definitions of a
table of tlsfin records. They are printed by this script, so that they
follow the schema field for field:

  schema_to_sql.py [SCHEMA]              print the three blocks
  schema_to_sql.py --check DOC [SCHEMA]  exit 1 unless DOC holds each block
                                         verbatim, once (ctest archive.docs_sync)
  schema_to_sql.py --update DOC [SCHEMA] rewrite the blocks in DOC in place

Each block is delimited in DOC by "<!-- BEGIN schema_to_sql.py NAME -->" and
"<!-- END schema_to_sql.py NAME -->" lines.

Mapping rules (the same for every field):
  string, enum of strings  -> VARCHAR / String / STRING
  boolean                  -> BOOLEAN / Bool / BOOLEAN
  number                   -> DOUBLE / Float64 / DOUBLE
  integer, by its range    -> the smallest type that holds the schema's range
  object                   -> STRUCT / named Tuple / STRUCT
  array                    -> LIST ([]) / Array / ARRAY
  null allowed, or the key optional: DuckDB and Spark columns are nullable
  anyway; ClickHouse cannot wrap a Tuple or an Array in Nullable, so a null
  object is read as its default (every leaf Nullable, hence NULL), a null
  array as [], and every scalar leaf under a nullable object is Nullable.
"""
import difflib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.normpath(
    os.path.join(HERE, "..", "..", "docs", "tlsfin.schema.json"))
WIDTH = 72  # a type longer than this on one line is laid out over lines


def unnull(node):
    """(nullable, node without the null alternative)."""
    alts = node.get("anyOf")
    if alts:
        rest = [a for a in alts if a.get("type") != "null"]
        if len(rest) != len(alts) and len(rest) == 1:
            return True, rest[0]
        if len(rest) == 1:
            return False, rest[0]
        raise SystemExit("schema_to_sql.py: unsupported anyOf: %r" % alts)
    return False, node


def kind(node):
    if "enum" in node:
        vals = node["enum"]
        if all(isinstance(v, str) for v in vals):
            return "string", None
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "integer", (min(vals), max(vals))
        raise SystemExit("schema_to_sql.py: mixed enum %r" % vals)
    if "const" in node:
        return kind({"enum": [node["const"]]})
    t = node.get("type")
    if t == "integer":
        return "integer", (node.get("minimum"), node.get("maximum"))
    if t in ("string", "boolean", "number", "object", "array"):
        return t, None
    raise SystemExit("schema_to_sql.py: unsupported node %r" % node)


# integer ranges -> (DuckDB, ClickHouse, Spark), first match wins
INT_TYPES = [
    ((0, 255), ("UTINYINT", "UInt8", "SMALLINT")),
    ((-128, 127), ("TINYINT", "Int8", "TINYINT")),
    ((0, 65535), ("USMALLINT", "UInt16", "INT")),
    ((0, 4294967295), ("UINTEGER", "UInt32", "BIGINT")),
    ((0, None), ("UBIGINT", "UInt64", "BIGINT")),
    ((None, None), ("BIGINT", "Int64", "BIGINT")),
]


def int_types(rng):
    lo, hi = rng
    for (tlo, thi), types in INT_TYPES:
        if tlo is not None and (lo is None or lo < tlo):
            continue
        if thi is not None and (hi is None or hi > thi):
            continue
        return types
    raise AssertionError(rng)


SCALARS = {
    "string": ("VARCHAR", "String", "STRING"),
    "boolean": ("BOOLEAN", "Bool", "BOOLEAN"),
    "number": ("DOUBLE", "Float64", "DOUBLE"),
}


def fields(node):
    req = set(node.get("required", []))
    for name, sub in node.get("properties", {}).items():
        nullable, sub = unnull(sub)
        yield name, sub, nullable or name not in req


def layout(open_, items, close, indent):
    """open_ + items + close, on one line if short, else one item a line."""
    flat = open_ + ", ".join(items) + close
    if len(flat) + indent <= WIDTH and "\n" not in flat:
        return flat
    pad = " " * (indent + 2)
    return (open_ + "\n" + ",\n".join(pad + i for i in items) + "\n" +
            " " * indent + close)


def duck(node, indent):
    k, rng = kind(node)
    if k == "object":
        items = ['"%s" %s' % (n, duck(s, indent + 2)) for n, s, _ in fields(node)]
        return layout("STRUCT(", items, ")", indent)
    if k == "array":
        return duck(unnull(node["items"])[1], indent) + "[]"
    if k == "integer":
        return int_types(rng)[0]
    return SCALARS[k][0]


def ch(node, nullable, indent):
    k, rng = kind(node)
    if k == "object":
        items = ["%s %s" % (n, ch(s, nullable or nl, indent + 2))
                 for n, s, nl in fields(node)]
        return layout("Tuple(", items, ")", indent)
    if k == "array":
        _, item = unnull(node["items"])
        return "Array(%s)" % ch(item, False, indent)
    t = int_types(rng)[1] if k == "integer" else SCALARS[k][1]
    return "Nullable(%s)" % t if nullable else t


def spark(node, indent):
    k, rng = kind(node)
    if k == "object":
        items = ["`%s`: %s" % (n, spark(s, indent + 2)) for n, s, _ in fields(node)]
        return layout("STRUCT<", items, ">", indent)
    if k == "array":
        return "ARRAY<%s>" % spark(unnull(node["items"])[1], indent)
    if k == "integer":
        return int_types(rng)[2]
    return SCALARS[k][2]


def top(schema):
    if schema.get("type") != "object":
        raise SystemExit("schema_to_sql.py: the schema's top is not an object")
    return list(fields(schema))


def duckdb_block(schema):
    cols = ["    '%s': '%s'" % (n, duck(s, 4)) for n, s, _ in top(schema)]
    return ("-- DuckDB: every .jsonl / .jsonl.gz under archive/ as one table\n"
            "CREATE VIEW tlsfin AS\n"
            "SELECT * FROM read_json('archive/*.jsonl*',\n"
            "  format = 'newline_delimited',\n"
            "  columns = {\n" + ",\n".join(cols) + "\n  });\n")


def clickhouse_block(schema):
    cols = []
    for n, s, nl in top(schema):
        cols.append("    %s %s" % (n, ch(s, nl, 4)))
    return ("-- ClickHouse: INSERT INTO tlsfin FORMAT JSONEachRow\n"
            "CREATE TABLE tlsfin\n(\n" + ",\n".join(cols) + "\n)\n"
            "ENGINE = MergeTree\n"
            "ORDER BY last_ts;\n")


def spark_block(schema):
    cols = ["  `%s` %s" % (n, spark(s, 2)) for n, s, _ in top(schema)]
    return ("# Spark: spark.read.schema(TLSFIN_DDL).json(\"archive/*.jsonl*\")\n"
            "TLSFIN_DDL = \"\"\"\n" + ",\n".join(cols) + "\n\"\"\"\n")


BLOCKS = [("duckdb", "sql", duckdb_block),
          ("clickhouse", "sql", clickhouse_block),
          ("spark", "python", spark_block)]


def render(schema):
    """[(name, text)]: each block with its markers and code fence."""
    out = []
    for name, lang, fn in BLOCKS:
        out.append((name,
                    "<!-- BEGIN schema_to_sql.py %s -->\n```%s\n%s```\n"
                    "<!-- END schema_to_sql.py %s -->\n"
                    % (name, lang, fn(schema), name)))
    return out


def span(doc, name):
    b = "<!-- BEGIN schema_to_sql.py %s -->\n" % name
    e = "<!-- END schema_to_sql.py %s -->\n" % name
    i = doc.find(b)
    j = doc.find(e, i + 1) if i >= 0 else -1
    if i < 0 or j < 0 or doc.count(b) != 1 or doc.count(e) != 1:
        return None
    return i, j + len(e)


def main(argv):
    mode, doc_path = None, None
    if argv and argv[0] in ("--check", "--update"):
        if len(argv) < 2:
            raise SystemExit(__doc__)
        mode, doc_path, argv = argv[0], argv[1], argv[2:]
    schema_path = argv[0] if argv else DEFAULT_SCHEMA
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    blocks = render(schema)
    if mode is None:
        sys.stdout.write("\n".join(t for _, t in blocks))
        return 0
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    bad = 0
    for name, text in blocks:
        s = span(doc, name)
        if s is None:
            print("%s: no single BEGIN/END schema_to_sql.py %s block" %
                  (doc_path, name), file=sys.stderr)
            bad += 1
            continue
        have = doc[s[0]:s[1]]
        if have == text:
            continue
        if mode == "--update":
            doc = doc[:s[0]] + text + doc[s[1]:]
            continue
        bad += 1
        print("%s: the %s definition differs from %s (run %s --update %s):" %
              (doc_path, name, schema_path, sys.argv[0], doc_path),
              file=sys.stderr)
        sys.stderr.writelines(difflib.unified_diff(
            have.splitlines(True), text.splitlines(True),
            "docs/scale.md", "schema_to_sql.py"))
    if mode == "--update" and not bad:
        with open(doc_path, "w", encoding="utf-8") as f:
            f.write(doc)
    if bad:
        return 1
    print("%s: %d definitions match %s" % (doc_path, len(blocks), schema_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
