#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Read a depfence run report (docs/report.md) and print one fact for the e2e tests."""
import json
import sys


def name(rep, n):
    for e in rep["names"]:
        if e["name"] == n:
            return e
    sys.exit(f"no name {n} in report")


def main():
    rep = json.load(open(sys.argv[1]))
    what, args = sys.argv[2], sys.argv[3:]
    run = rep["run"]
    if what == "run":
        print(run["kind"], run["policy"], run["mode"], f"exit={run['exit_status']}",
              "start" if run["start"] else "-", "end" if run["end"] else "-")
    elif what == "name":
        e = name(rep, args[0])
        print(e["name"], e["verdict"], f"count={e['count']}", f"rule={e['rule']}")
    elif what == "addrs":
        print(" ".join(name(rep, args[0])["addresses"]))
    elif what == "asker":
        a = name(rep, args[0])["asked_by"][0]
        print(a["pid"], a["cmd"], f"exe={a['exe']}")
    elif what == "ancestry":
        print(name(rep, args[0])["asked_by"][0]["ancestry"])
    elif what == "tree":
        procs = {p["pid"]: p for p in rep["processes"]}
        a = name(rep, args[0])["asked_by"][0]
        p = procs.get(a["pid"])
        if not p:
            print("asker not in processes")
        elif p["ppid"] not in procs:
            print(f"parent {p['ppid']} not in processes")
        elif not p["start"]:
            print("no start time")
        else:
            print("ok")
    elif what == "parentcmd":
        procs = {p["pid"]: p for p in rep["processes"]}
        p = procs[name(rep, args[0])["asked_by"][0]["pid"]]
        print(procs[p["ppid"]]["cmd"])
    elif what == "truncated":
        print(rep["truncated"])
    elif what == "names":
        print(" ".join(sorted(e["name"] for e in rep["names"])))
    elif what == "nprocs":
        print(len(rep["processes"]))
    else:
        sys.exit(f"unknown {what}")


main()
