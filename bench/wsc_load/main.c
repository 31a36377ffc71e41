/* wsc_load: the program; the load generator itself is wsc_load_main (run.c). */
#include "wsc_load.h"

int main(int argc, char **argv)
{
    return wsc_load_main(argc, argv);
}
