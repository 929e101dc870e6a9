// `tally keygen NAME`: a CURVE key pair for tallyd --auth. Writes NAME.key
// (the secret key, mode 0600) and NAME.pub (the public key), and prints the
// public key: it goes into the auth file (a client) or to the clients (the
// server's). Never overwrites a key.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace tally::cli {

class KeygenCommand {
 public:
  explicit KeygenCommand(CLI::App& app);
  KeygenCommand(const KeygenCommand&) = delete;
  KeygenCommand& operator=(const KeygenCommand&) = delete;

  bool parsed() const { return command_->parsed(); }
  // 0 written; 2 not (a file exists, or cannot be written).
  int run() const;

 private:
  CLI::App* command_;
  std::string name_;
};

}  // namespace tally::cli
