#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""promparse.py FILE: check FILE is Prometheus text exposition (0.0.4) and print
its samples, one 'name{k="v",...} value' line each, labels sorted.

Checked: every line is a '# HELP', '# TYPE' or a sample 'name{labels} value';
each sample's family was TYPEd first; histogram buckets are cumulative
(monotone in le), end with le="+Inf" equal to _count. Exit 1 naming the line.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))


def die(msg):
    print("promparse: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    types, out, hist = {}, [], {}
    for n, line in enumerate(open(sys.argv[1]), 1):
        line = line.rstrip("\n")
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not re.fullmatch(NAME, parts[2]):
                die("line %d: bad comment: %r" % (n, line))
            if parts[1] == "TYPE":
                if parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    die("line %d: bad type %r" % (n, parts[3]))
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            die("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            die("line %d: bad value %r" % (n, value))
        fam = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and types.get(fam) != "histogram":
            die("line %d: %s has no TYPE before it" % (n, name))
        if types.get(fam) == "histogram" and fam != name:
            h = hist.setdefault(fam, {"buckets": [], "count": None})
            if name.endswith("_bucket"):
                le = re.search(r'le="([^"]*)"', labels).group(1)
                h["buckets"].append((float(le), v))
            elif name.endswith("_count"):
                h["count"] = v
        pairs = sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
        lab = ",".join('%s="%s"' % p for p in pairs)
        out.append("%s{%s} %s" % (name, lab, value))
    for fam, h in hist.items():
        b = h["buckets"]
        if not b or b[-1][0] != float("inf"):
            die("%s: no le=\"+Inf\" bucket last" % fam)
        if any(b[i][0] >= b[i + 1][0] or b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            die("%s: buckets not monotone: %r" % (fam, b))
        if h["count"] != b[-1][1]:
            die("%s: +Inf bucket %r != _count %r" % (fam, b[-1][1], h["count"]))
    print("\n".join(out))


main()
