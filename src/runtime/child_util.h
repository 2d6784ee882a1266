// Small helpers for code that runs in the cloned child: no allocation, no
// logging, no exceptions. Errors are written into a protocol Message.
#pragma once

#include <cerrno>

#include "runtime/protocol.h"

namespace husk::runtime {

// Records a failure: err->err = code, text = the pieces joined. Returns -1.
template <typename... Parts>
int ChildFail(Message* err, int code, Parts... parts) noexcept {
  err->type = MsgType::kError;
  err->err = code;
  MsgWriter w(err);
  (w << ... << parts);
  return -1;
}

// Copies the directory part and the last component of an absolute path into
// caller buffers ("/dev/pts/ptmx" → "/dev/pts", "ptmx"). Returns false if too long.
bool SplitPathNoAlloc(const char* path, char* dir, size_t dir_len, const char** base) noexcept;

}  // namespace husk::runtime
