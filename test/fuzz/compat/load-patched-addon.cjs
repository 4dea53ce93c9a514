// Preloaded (node --require) into the Jazzer.js process by jazzer-compat.ts: @jazzer.js/fuzzer
// loads its addon from a fixed path, so its dlopen is pointed at the patched copy named by
// COFFER_JAZZER_ADDON instead.
const patched = process.env.COFFER_JAZZER_ADDON;
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  const target = patched && /[\\/]fuzzer-linux-x64\.node$/.test(String(filename)) ? patched : filename;
  return dlopen.call(this, module, target, ...rest);
};
