// huskrun: an OCI runtime with runc 1.1's command line. Everything lives in husk::cli.
#include "cli/huskrun/cli.h"

int main(int argc, char** argv) {
  return husk::cli::Main(argc, argv);
}
