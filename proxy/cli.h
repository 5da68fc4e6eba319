/* SPDX-License-Identifier: GPL-2.0-only */
/* depfence subcommands. Each returns the process exit status. */
#ifndef DEPFENCE_CLI_H
#define DEPFENCE_CLI_H

int cli_run(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_learn(int argc, char **argv);
/* Print "depfence SUB: MESSAGE" on stderr and return 2, the usage-error status. */
int cli_usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
