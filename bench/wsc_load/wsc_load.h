/* The load generator's entry point, shared by its own program (main.c) and
 * the `wsc bench` subcommand of the command-line tool. */
#ifndef WSC_LOAD_ENTRY_H
#define WSC_LOAD_ENTRY_H

/* Parses argv (argv[0] names the program in messages and the usage), runs
 * the load and prints the report. Returns the exit status: 0 ok, 1 errors
 * (or no message echoed), 2 bad usage. Installs handlers for SIGINT,
 * SIGTERM and SIGALRM and ignores SIGPIPE, so call it once per process. */
int wsc_load_main(int argc, char **argv);

#endif
