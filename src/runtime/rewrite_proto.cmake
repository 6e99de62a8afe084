# Copies one .proto into the build tree, turning `import weak` into `import` (protoc's C++
# generator does not support weak imports the way gogo's Go generator used them).
# Usage: cmake -DIN=<file> -DOUT=<file> -P rewrite_proto.cmake
file(READ "${IN}" content)
string(REPLACE "import weak " "import " content "${content}")
file(WRITE "${OUT}" "${content}")
