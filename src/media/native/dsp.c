/*
 * The mixer's per-slot DSP (src/audio/halfband.ts, pipeline.ts) in C: 2:1 half-band decimation of one 20 ms
 * block fused with the float32 rounding, the int16 saturation and Σ out², optionally preceded by the mix of two
 * int16 frames. Bit-identical to the JS path (test/unit/audio/native-dsp.test.ts compares them on the same
 * input): every output is the same sum of the same products in the same order, in double precision, with no
 * contraction into FMA (-ffp-contract=off) and no reassociation (no -ffast-math); the compiler may only run
 * independent outputs side by side in vector lanes.
 *
 * The state is the JS decimator's own Float64Array: [0, 66) the history, [66, 386) the block.
 */
#include "dsp.h"
#include "napi_args.h"
#include <math.h>
#include <stdint.h>
#include <string.h>


/* h[33 ± (2j+1)], j = 0..16: src/audio/halfband.ts HALFBAND_SIDE_TAPS (the same decimal literals, the same doubles). */
static const double C[17] = {
  0.31732222857957254, -0.10317249528813255, 0.05888250002260381, -0.038995413168781745, 0.027390084230831113,
  -0.019692152782955552, 0.014227165610429714, -0.010211300594130272, 0.007219926943078943, -0.004993021195878536,
  0.003353745464982188, -0.002170878954865525, 0.0013409775748229591, -0.0007799240556219674,
  0.0004182118732657896, -0.0001991981972764984, 8.535689720716762e-5,
};

/*
 * saturateToInt16 of mix.ts (clamp, else round half away from zero; NaN → 0), written without branches so that the
 * compiler runs it in vector lanes: for a finite v, trunc(v ± 0.5) clamped to [-32768, 32767] is the same integer as
 * the clamp-then-round of the JS (v + 0.5 is exact in double for a float-rounded |v| < 2^28).
 */
static inline int16_t saturate(float f) {
  double v = f;
  double r = v + copysign(0.5, v);
  r = r > 32767.0 ? 32767.0 : r;
  r = r < -32768.0 ? -32768.0 : r;
  r = v == v ? r : 0.0;
  return (int16_t)(int32_t)r;
}

/*
 * Output m = 0.5·O[m+16] + C0·(E[m+16]+E[m+17]) + C1·(E[m+15]+E[m+18]) + … + C16·(E[m]+E[m+33]), summed left to right
 * exactly as halfband.ts's expression, where E[i] = b[2i] and O[i] = b[2i+1]. With E contiguous, W neighbouring
 * outputs are computed side by side in vector lanes, each lane the same sequence of operations as the scalar code.
 */
/* E and O entries used: up to E[159 + 33] (b[384], b[385] for O): 193, all inside the 386-sample block */
#define EVEN (DSP_OUT + 33)

typedef double v2d __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

/* Four independent accumulators per step (4·W outputs): the additions of one output form a chain, four chains keep
 * the adder busy. Each lane still adds its terms in the scalar order. */
#define FILTER_BODY(VT, W)                                                                               \
  for (int m = 0; m < DSP_OUT; m += 4 * (W)) {                                                               \
    VT acc[4], x, y;                                                                                     \
    for (int u = 0; u < 4; u++) {                                                                        \
      memcpy(&x, o + m + u * (W) + 16, sizeof x);                                                        \
      acc[u] = x * 0.5;                                                                                  \
    }                                                                                                    \
    for (int j = 0; j < 17; j++) {                                                                       \
      for (int u = 0; u < 4; u++) {                                                                      \
        memcpy(&x, e + m + u * (W) + 16 - j, sizeof x);                                                  \
        memcpy(&y, e + m + u * (W) + 17 + j, sizeof y);                                                  \
        acc[u] = acc[u] + C[j] * (x + y);                                                                \
      }                                                                                                  \
    }                                                                                                    \
    for (int u = 0; u < 4; u++) memcpy(y_out + m + u * (W), &acc[u], sizeof acc[u]);                     \
  }

/* y_out[m] for m < 160 (a multiple of 32), 4·W outputs per step. Three builds: 8 lanes where the CPU has AVX-512 (Zen 4
 * and later, Intel Xeons since Skylake), 4 where it has AVX, else 2 (SSE2, x86-64's base). */
__attribute__((target("avx512f"))) static void filter_avx512(const double *restrict e, const double *restrict o, double *restrict y_out) {
  FILTER_BODY(v8d, 8)
}
__attribute__((target("avx"))) static void filter_avx(const double *restrict e, const double *restrict o, double *restrict y_out) {
  FILTER_BODY(v4d, 4)
}
static void filter_sse2(const double *restrict e, const double *restrict o, double *restrict y_out) {
  FILTER_BODY(v2d, 2)
}

/*
 * The slot after the filter's input is laid out (e, o: the history's 33 pairs then the block's 160): filter, round to
 * float, saturate, Σ out², and the new history (the block's last 66 samples, i.e. pairs 160..192). Inlined into
 * each build below, so the vectorizer gives each its own lane width for these loops too.
 */
static inline __attribute__((always_inline)) double finish_slot(double *restrict e, double *restrict o, double *restrict hist, int16_t *restrict out, int level) {
  double y[DSP_OUT];
  if (level == DSP_AVX512) filter_avx512(e, o, y);
  else if (level == DSP_AVX2) filter_avx(e, o, y);
  else filter_sse2(e, o, y);
  for (int m = 0; m < DSP_OUT; m++) out[m] = saturate((float)y[m]);
  int64_t ss = 0;
  for (int m = 0; m < DSP_OUT; m++) ss += (int32_t)out[m] * (int32_t)out[m];
  for (int k = 0; k < DSP_HISTORY / 2; k++) {
    hist[2 * k] = e[DSP_OUT + k];
    hist[2 * k + 1] = o[DSP_OUT + k];
  }
  return (double)ss;
}

static inline __attribute__((always_inline)) void load_history(const double *restrict hist, double *restrict e, double *restrict o) {
  for (int i = 0; i < DSP_HISTORY / 2; i++) {
    e[i] = hist[2 * i];
    o[i] = hist[2 * i + 1];
  }
}

/* The block's samples straight from the two int16 frames (either may be NULL): a + b when both (exact in int32),
 * the one present, or silence — the JS mix — without a mixed copy in between. */
static inline __attribute__((always_inline)) double mix_filter(double *restrict hist, const int16_t *restrict a, const int16_t *restrict b,
                                                                int16_t *restrict out, int level) {
  double e[EVEN], o[EVEN];
  load_history(hist, e, o);
  double *restrict ev = e + DSP_HISTORY / 2, *restrict od = o + DSP_HISTORY / 2;
  if (a && b)
    for (int i = 0; i < DSP_OUT; i++) {
      ev[i] = (double)((int32_t)a[2 * i] + (int32_t)b[2 * i]);
      od[i] = (double)((int32_t)a[2 * i + 1] + (int32_t)b[2 * i + 1]);
    }
  else if (a || b) {
    const int16_t *restrict f = a ? a : b;
    for (int i = 0; i < DSP_OUT; i++) {
      ev[i] = f[2 * i];
      od[i] = f[2 * i + 1];
    }
  } else
    for (int i = 0; i < DSP_OUT; i++) ev[i] = od[i] = 0.0;
  return finish_slot(e, o, hist, out, level);
}

static inline __attribute__((always_inline)) double block_filter(double *restrict hist, const double *restrict blk, int16_t *restrict out, int level) {
  double e[EVEN], o[EVEN];
  load_history(hist, e, o);
  for (int i = DSP_HISTORY / 2; i < EVEN; i++) {
    e[i] = blk[2 * i - DSP_HISTORY];
    o[i] = blk[2 * i + 1 - DSP_HISTORY];
  }
  return finish_slot(e, o, hist, out, level);
}

/* Three builds of each: AVX-512 (the filter 8 lanes), AVX2 (the conversions, saturation and sums 4–8 lanes wide, the
 * filter 4) and x86-64's base. */
#define AVX512 "avx512f,avx512bw,avx512vl,avx512dq,avx2"
__attribute__((target(AVX512))) static double mix_filter_avx512(double *hist, const int16_t *a, const int16_t *b, int16_t *out) {
  return mix_filter(hist, a, b, out, DSP_AVX512);
}
__attribute__((target("avx2"))) static double mix_filter_avx2(double *hist, const int16_t *a, const int16_t *b, int16_t *out) {
  return mix_filter(hist, a, b, out, DSP_AVX2);
}
static double mix_filter_base(double *hist, const int16_t *a, const int16_t *b, int16_t *out) {
  return mix_filter(hist, a, b, out, DSP_BASE);
}
__attribute__((target(AVX512))) static double block_filter_avx512(double *hist, const double *blk, int16_t *out) {
  return block_filter(hist, blk, out, DSP_AVX512);
}
__attribute__((target("avx2"))) static double block_filter_avx2(double *hist, const double *blk, int16_t *out) {
  return block_filter(hist, blk, out, DSP_AVX2);
}
static double block_filter_base(double *hist, const double *blk, int16_t *out) {
  return block_filter(hist, blk, out, DSP_BASE);
}

/* The widest build this CPU runs, and the one in use (a test runs each in turn: dspLevel). */
static int max_level = -1, level_in_use = -1;
static int cpu_level(void) {
  if (max_level < 0) {
    __builtin_cpu_init();
    max_level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512dq")
                    ? DSP_AVX512
                    : __builtin_cpu_supports("avx2") ? DSP_AVX2 : DSP_BASE;
    level_in_use = max_level;
  }
  return level_in_use;
}

/*
 * filterBlockInt16 + copyWithin of halfband.ts on the block [hist (66), blk (320)]; returns Σ out². The new history
 * (the block's last 66 samples) is written to `hist`. `blk` may be the state's own block or a caller's scratch.
 */
double dsp_filter_block(double *restrict hist, const double *restrict blk, int16_t *restrict out) {
  switch (cpu_level()) {
    case DSP_AVX512: return block_filter_avx512(hist, blk, out);
    case DSP_AVX2: return block_filter_avx2(hist, blk, out);
    default: return block_filter_base(hist, blk, out);
  }
}

/* The mix of two frames (either may be NULL) through the same filter: a recording's cold state costs 66 doubles. */
double dsp_mix_filter(double *restrict hist, const int16_t *a, const int16_t *b, int16_t *restrict out) {
  switch (cpu_level()) {
    case DSP_AVX512: return mix_filter_avx512(hist, a, b, out);
    case DSP_AVX2: return mix_filter_avx2(hist, a, b, out);
    default: return mix_filter_base(hist, a, b, out);
  }
}

/* halfbandInt16(state: Float64Array(386), out: Int16Array(160)) → Σ out² (the block was written by the caller). */
napi_value js_halfband_int16(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) FAIL("halfbandInt16(state, out)");
  double *b;
  int16_t *out;
  if (!typed(env, argv[0], napi_float64_array, DSP_HISTORY + DSP_BLOCK, (void **)&b)) FAIL("halfbandInt16: state must be a Float64Array(386)");
  if (!typed(env, argv[1], napi_int16_array, DSP_OUT, (void **)&out)) FAIL("halfbandInt16: out must be an Int16Array(160)");
  napi_value r;
  napi_create_double(env, dsp_filter_block(b, b + DSP_HISTORY, out), &r);
  return r;
}

/* mix2HalfbandInt16(state, a: Int16Array(320), b: Int16Array(320), out) → Σ out²: block = a + b (exact), then as above. */
napi_value js_mix2_halfband_int16(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) FAIL("mix2HalfbandInt16(state, a, b, out)");
  double *st;
  int16_t *a, *bb, *out;
  if (!typed(env, argv[0], napi_float64_array, DSP_HISTORY + DSP_BLOCK, (void **)&st)) FAIL("mix2HalfbandInt16: state must be a Float64Array(386)");
  if (!typed(env, argv[1], napi_int16_array, DSP_BLOCK, (void **)&a) || !typed(env, argv[2], napi_int16_array, DSP_BLOCK, (void **)&bb))
    FAIL("mix2HalfbandInt16: a and b must be Int16Array(320)");
  if (!typed(env, argv[3], napi_int16_array, DSP_OUT, (void **)&out)) FAIL("mix2HalfbandInt16: out must be an Int16Array(160)");
  napi_value r; /* the state's block region is left alone (it is scratch: every JS path writes it before use) */
  napi_create_double(env, dsp_mix_filter(st, a, bb, out), &r);
  return r;
}

/* dspLevel(level?) → the build in use (0 base, 1 AVX2, 2 AVX-512); with `level`, that build from now on, at most the
 * widest this CPU runs: every build gives the same bits, and a test runs each against the JS. */
napi_value js_dsp_level(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t want = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc >= 1 && napi_get_value_int32(env, argv[0], &want) != napi_ok))
    FAIL("dspLevel(level?: 0 | 1 | 2)");
  cpu_level();
  if (argc >= 1) level_in_use = want < DSP_BASE ? DSP_BASE : want > max_level ? max_level : want;
  napi_value r;
  napi_create_int32(env, level_in_use, &r);
  return r;
}
