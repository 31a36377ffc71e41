/* `wsc bench`: the load generator of bench/wsc_load, built into the tool. */
#include "../../bench/wsc_load/wsc_load.h"
#include "tool.h"

int cmd_bench(int argc, char **argv)
{
    argv[0] = "wsc bench"; /* its name in the usage and in messages */
    return wsc_load_main(argc, argv);
}
