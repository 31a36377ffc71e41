/* wsc: a WebSocket server, client and load generator on the command line.
 *
 *   wsc serve [options]          an echo or broadcast server
 *   wsc connect URL [options]    a client for standard input and output
 *   wsc bench [options]          load for an echo server
 *
 * `wsc help COMMAND` or `wsc COMMAND --help` tells more; so does wsc(1). */
#include <string.h>

#include "tool.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},
    {"connect", cmd_connect},
    {"bench", cmd_bench},
};

static void usage(FILE *f)
{
    fputs("usage: wsc COMMAND [options]\n"
          "  wsc serve [--port N] [--address A] [--unix PATH] [--echo | --broadcast] ...\n"
          "      an echo server (default) or a broadcast server\n"
          "  wsc connect URL [-H 'Name: value']... [--protocol P] [--binary] [--echo] ...\n"
          "      send lines of standard input, print received messages\n"
          "  wsc bench [-c N] [-s SIZE] [-t SECONDS] [-p PORT] ...\n"
          "      load an echo server; print messages/s and latency percentiles\n"
          "  wsc help COMMAND, wsc COMMAND --help: the command's options\n"
          "See wsc(1) for everything, including exit statuses.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return STATUS_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return STATUS_OK;
    }
    /* `wsc help serve` is `wsc serve --help`. */
    char *help_argv[] = {argc > 2 ? argv[2] : NULL, "--help", NULL};
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return STATUS_OK;
        }
        cmd = argv[2];
        argc = 2;
        argv = help_argv;
    } else {
        argc--;
        argv++;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc, argv);
    tool_error("unknown command '%s'", cmd);
    usage(stderr);
    return STATUS_USAGE;
}
