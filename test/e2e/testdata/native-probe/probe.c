/* A Node-API addon: arch() returns the CPU this file was compiled for, in
 * process.arch's names, so that loading it in a Node.js of another
 * architecture fails and a wrong build cannot pass. */
#include <node_api.h>

#if defined(__aarch64__)
#define PROBE_ARCH "arm64"
#elif defined(__x86_64__)
#define PROBE_ARCH "x64"
#else
#define PROBE_ARCH "other"
#endif

static napi_value arch(napi_env env, napi_callback_info info) {
  napi_value s;
  (void)info;
  if (napi_create_string_utf8(env, PROBE_ARCH, NAPI_AUTO_LENGTH, &s) != napi_ok) return NULL;
  return s;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "arch", NAPI_AUTO_LENGTH, arch, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "arch", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
