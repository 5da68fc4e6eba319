/* SPDX-License-Identifier: GPL-2.0-only */
/* depfence report --html: a run report drawn as one self-contained page. */
#ifndef DEPFENCE_CLI_REPORT_HTML_H
#define DEPFENCE_CLI_REPORT_HTML_H

#include <stdio.h>

#include <json-c/json.h>

/* The page for report REP on OUT: inline CSS, script and SVG, nothing fetched. */
int report_html_write(FILE *out, json_object *rep);

#endif
