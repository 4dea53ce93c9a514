// The three symbols that @jazzer.js/fuzzer 4's prebuilt addon takes from glibc 2.38 / libstdc++ 13
// and that Debian 12 (glibc 2.36, libstdc++ 12) lacks. jazzer-compat.ts builds this with the
// system g++ and preloads it into the fuzzing process (soak profile only; never shipped).
#include <cstdlib>
#include <iostream>  // its static std::ios_base::Init sets up the standard streams (GCC 12 style)

// C23 spellings of strtol/strtoul (glibc 2.38): they also accept a "0b" prefix when base is 0 or
// 2. libFuzzer only parses its decimal flags with them, where the two behave alike.
extern "C" long __isoc23_strtol(const char *s, char **end, int base) { return std::strtol(s, end, base); }
extern "C" unsigned long __isoc23_strtoul(const char *s, char **end, int base) {
  return std::strtoul(s, end, base);
}

// GCC 13 headers reference this so the standard streams get initialized by libstdc++ itself; in
// libstdc++ 13 it is an empty function. The include above does that initialization here.
namespace std {
void ios_base_library_init() {}
}  // namespace std
