#include "k3s_daas/cli.hpp"

int main(int argc, char** argv) { return k3s_daas::cli::main(argc, argv); }
