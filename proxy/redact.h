/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Secrets out of logged command lines. A command line reaches the log as argv
 * joined by spaces (procinfo.c), so words are space-separated; each of these
 * becomes "***":
 *  - URL userinfo: "user:TOKEN" in "https://user:TOKEN@host/x" (the whole
 *    userinfo, a bare "TOKEN@" too: tokens are often passed as the user);
 *  - the value of a long option whose name holds password, passwd, token,
 *    secret, key, apikey, api-key or auth (any case): "--token=abc" ->
 *    "--token=***", "--password abc" -> "--password ***" (a next word that
 *    starts with '-' is an option, not a value, and stays);
 *  - an Authorization header's value (Proxy-Authorization too, any case):
 *    "Authorization: Bearer xyz" -> "Authorization: ***", the scheme word
 *    (Bearer, Basic, Token, ...) and the credential after it both hidden.
 * Over-hiding is the safe way to be wrong: a flag like "--anyauth" hides the
 * word after it. `--log-full-cmdline` skips all of this.
 *
 * No allocation, one pass, output cut at the caller's buffer.
 */
#ifndef DEPFENCE_REDACT_H
#define DEPFENCE_REDACT_H

#include <stddef.h>

/* The hidden form of every secret. */
#define REDACTED "***"

/*
 * SRC (LEN bytes, a joined command line) into DST with every secret replaced
 * by REDACTED; cut to CAP - 1 bytes and NUL-terminated (CAP > 0). Returns the
 * length written.
 */
size_t redact_cmdline(char *dst, size_t cap, const char *src, size_t len);
/*
 * An ancestry ("PID:CMD > PID:CMD", procinfo.h): each CMD redacted on its own,
 * so one command's "--password" never hides the next one's pid.
 */
size_t redact_ancestry(char *dst, size_t cap, const char *src, size_t len);

#endif
