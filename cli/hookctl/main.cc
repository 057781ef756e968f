// hookctl, the operator CLI of hookd. The logic lives in hookd_hookctl (cli.h) so tests can run it.

#include <iostream>
#include <string>
#include <vector>

#include "cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return hookd::hookctl::Run(args, std::cout, std::cerr);
}
