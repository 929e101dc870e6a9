#include "apps/tally/keygen_command.h"

#include <cstdio>

#include "apps/tally/client_options.h"
#include "security/curve_keys.h"

namespace tally::cli {

KeygenCommand::KeygenCommand(CLI::App& app) {
  command_ = app.add_subcommand("keygen", "Make a CURVE key pair for tallyd --auth");
  command_->add_option("name", name_, "NAME: writes NAME.key (secret, 0600) and NAME.pub")
      ->required();
  command_->footer(
      "Prints the public key. For the server, name its .key file in the auth file\n"
      "(server_secret_key_file) and give clients the .pub; for a client, put the public key\n"
      "in the auth file with its roles and pass --key NAME.key to its programs.\n\n"
      "Example:\n"
      "  tally keygen server && tally keygen camera-gateway-7");
}

int KeygenCommand::run() const {
  Result<security::KeyPair> pair = security::generate_key_pair();
  if (!pair) {
    std::fprintf(stderr, "tally keygen: %s\n", pair.status().to_string().c_str());
    return kExitNoAnswer;
  }
  if (const Status written = security::write_key_files(name_, *pair); !written.is_ok()) {
    std::fprintf(stderr, "tally keygen: %s\n", written.to_string().c_str());
    return kExitNoAnswer;
  }
  std::printf("%s\n", pair->public_key.c_str());
  std::fprintf(stderr, "wrote %s.key (secret: keep it to its owner) and %s.pub\n", name_.c_str(),
               name_.c_str());
  return kExitDone;
}

}  // namespace tally::cli
