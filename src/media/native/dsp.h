/* The mixer's per-slot DSP in C (dsp.c): exported by the same addon as the UDP receiver. */
#ifndef ARI_DSP_H
#define ARI_DSP_H
#include <node_api.h>

napi_value js_halfband_int16(napi_env env, napi_callback_info info);
napi_value js_mix2_halfband_int16(napi_env env, napi_callback_info info);

#endif
