/* The mixer's per-slot DSP in C (dsp.c): exported by the same addon as the UDP receiver. */
#ifndef ARI_DSP_H
#define ARI_DSP_H
#include <node_api.h>

#include <stdint.h>

/* The slot's sizes (halfband.ts): the state's history, a 16 kHz block in, an 8 kHz slot out. */
#define DSP_HISTORY 66
#define DSP_BLOCK 320
#define DSP_OUT (DSP_BLOCK / 2)

/* The state's history (66 doubles) + a 320-sample block → 160 int16 samples; the history moves on; returns Σ out². */
double dsp_filter_block(double *hist, const double *blk, int16_t *out);
/* The same on the mix of two int16 frames of 320 samples (a + b, the one present, or silence when both are NULL). */
double dsp_mix_filter(double *hist, const int16_t *a, const int16_t *b, int16_t *out);

/* The builds of the DSP, narrowest first (dspLevel). */
enum { DSP_BASE = 0, DSP_AVX2 = 1, DSP_AVX512 = 2 };

napi_value js_dsp_level(napi_env env, napi_callback_info info);
napi_value js_halfband_int16(napi_env env, napi_callback_info info);
napi_value js_mix2_halfband_int16(napi_env env, napi_callback_info info);

#endif
