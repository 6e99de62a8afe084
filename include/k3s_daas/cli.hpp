#pragma once
// The command line (interface.md): one binary, several personalities. `run` is the daemon; the
// other commands are one-shot tools over the same libraries. Owns: argument parsing, output
// (text or --json), exit codes. Must never: print a secret, or do work a library should do.

namespace k3s_daas::cli {

// Parses argv, runs the command, returns the process exit code.
int main(int argc, char** argv);

}  // namespace k3s_daas::cli
