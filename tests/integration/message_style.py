#!/usr/bin/env python3
"""message_style.py: ecsync's error messages in PostgreSQL's style.

Reads every C file of extension/, common/ and ingester/ (or the files
named on the command line) and prints one line per message that breaks a
rule of PostgreSQL's "Error Message Style Guide":

  * the primary message (errmsg) is one short statement: no "Hint:" or
    "Detail:" inside it, no second sentence, no final period, and no
    capital first letter (a proper noun such as MySQL, or an upper-case
    word, may start it);
  * a detail or hint (errdetail, errhint) is whole sentences: a capital
    first letter (or a quoted name, a function, a format) and a final
    period;
  * no ereport passes the flattened text of another error (bc_error_text:
    "message (detail) Hint: ...") as its message.

A message whose format continues with a macro (INT64_FORMAT) is checked on
its literal parts.  Exit status 1 when anything is printed.
"""
import glob
import re
import sys

PROPER = {"MySQL", "MariaDB", "Kafka", "PostgreSQL", "InnoDB", "ecsync", "Connector/C", "TLS", "SSL", "GTID"}
CALL = re.compile(r'\b(errmsg|errmsg_plural|errmsg_internal|errdetail|errdetail_log|errhint)\s*\(')
LIT = re.compile(r'\s*"((?:[^"\\]|\\.)*)"')


def literal(text):
    """the adjacent string literals a call's first argument starts with,
    and whether the format is whole (ends before a ',' or ')')"""
    parts, pos = [], 0
    while True:
        m = LIT.match(text, pos)
        if not m:
            break
        parts.append(m.group(1))
        pos = m.end()
    if not parts:
        return None, False
    rest = text[pos:].lstrip()
    return "".join(parts), rest[:1] in (",", ")")


def ereport_spans(src):
    """(start, end) of every ereport(...) call, by balanced parentheses"""
    for m in re.finditer(r'\bereport\s*\(', src):
        depth, i = 1, m.end()
        while i < len(src) and depth:
            c = src[i]
            if c == '"':
                i += 1
                while i < len(src) and src[i] != '"':
                    i += 2 if src[i] == '\\' else 1
            elif c == '(':
                depth += 1
            elif c == ')':
                depth -= 1
            i += 1
        yield m.start(), i


def check(path):
    src = open(path, encoding="utf-8").read()
    # comments out, keeping line numbers
    src = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), src, flags=re.S)
    problems = []

    def say(pos, what, txt):
        problems.append("%s:%d: %s: \"%s\"" % (path, src.count("\n", 0, pos) + 1, what, txt[:100]))

    for m in CALL.finditer(src):
        kind = m.group(1)
        txt, whole = literal(src[m.end():m.end() + 4000])
        if txt is None or txt.startswith("%s") and len(txt) <= 3:
            continue
        if kind.startswith("errmsg"):
            if re.search(r'(?i)\b(hint|detail)\s*:', txt):
                say(m.start(), kind + " holds a hint or detail", txt)
            if re.search(r'[a-z)"]\. +[A-Z]', txt):
                say(m.start(), kind + " has a second sentence", txt)
            if whole and txt.rstrip().endswith(".") and not txt.rstrip().endswith("..."):
                say(m.start(), kind + " ends with a period", txt)
            first = re.match(r"[A-Za-z][\w/]*", txt)
            if first and first.group(0)[0].isupper() and not first.group(0).isupper() \
                    and first.group(0) not in PROPER:
                say(m.start(), kind + " starts with a capital", txt)
        else:
            if whole and not re.search(r'[.?!]\s*$|[.)]\\n$|^%s$', txt):
                say(m.start(), kind + " does not end with a period", txt)
            word = re.match(r"[\w/]+", txt)
            if re.match(r'[a-z]', txt) and not (word and word.group(0) in PROPER) and \
                    not re.match(r'[a-z_]+\(|[a-z_]+\.[a-z_]|[a-z]+_[a-z_]+', txt):
                say(m.start(), kind + " does not start with a capital", txt)
    for start, end in ereport_spans(src):
        if "bc_error_text" in src[start:end]:
            say(start, "ereport of a flattened error text", src[start:start + 60])
    return problems


def main():
    files = sys.argv[1:] or sorted(glob.glob("extension/**/*.c", recursive=True) +
                                   glob.glob("common/*.c") + glob.glob("ingester/*.c"))
    problems = [p for f in files for p in check(f)]
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
