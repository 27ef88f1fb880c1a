/** Audio constants shared by media/, mixer/ and audio/. */

/** Sample rate of the slin16 RTP streams Asterisk sends (Hz). */
export const IN_RATE = 16000;
/** Sample rate of the recorded WAV (Hz). */
export const OUT_RATE = 8000;
/** Duration of one RTP frame / mixer slot (ms). */
export const FRAME_MS = 20;
/** Samples per 20 ms frame at 16 kHz. */
export const IN_FRAME_SAMPLES = 320;
/** Samples per 20 ms frame at 8 kHz. */
export const OUT_FRAME_SAMPLES = 160;
/** Bytes of one slin16 RTP payload (320 big-endian int16 samples). */
export const RTP_PAYLOAD_BYTES = 640;
