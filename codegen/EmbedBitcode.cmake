# Writes OUTPUT, a C++ file defining kiln::codegen::x86Avx512Bitcode (the
# bytes of INPUT). Run as cmake -DINPUT=... -DOUTPUT=... -P EmbedBitcode.cmake.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUTPUT}
  "// Generated from codegen/x86_avx512.ll by codegen/EmbedBitcode.cmake.\n"
  "#include <cstdint>\n#include <vector>\n\n"
  "namespace kiln::codegen {\n"
  "const std::vector<uint8_t> &x86Avx512Bitcode() {\n"
  "  static const std::vector<uint8_t> bytes{${bytes}};\n"
  "  return bytes;\n}\n} // namespace kiln::codegen\n")
