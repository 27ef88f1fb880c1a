/**
 * Throughput of HalfbandDecimator (and MixPipeline) in one thread.
 * Run: npx tsx scripts/bench-halfband.ts
 */
import { HalfbandDecimator } from '../src/audio/halfband.js';

const STREAMS = 200;
const FRAMES = 500; // 10 s of audio per stream
const decs = Array.from({ length: STREAMS }, () => new HalfbandDecimator());
const input = new Float32Array(320);
for (let i = 0; i < 320; i++) input[i] = Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / 16000) + 300 * Math.random());
const out = new Float32Array(160);

function run(): number {
  const t0 = process.hrtime.bigint();
  for (let f = 0; f < FRAMES; f++) for (let s = 0; s < STREAMS; s++) decs[s]!.process(input, out);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
run(); // warm up
let best = Infinity;
for (let r = 0; r < 5; r++) best = Math.min(best, run());
const inSamples = STREAMS * FRAMES * 320;
const rate = inSamples / best;
console.log(`decimator: ${(rate / 1e6).toFixed(1)} M input samples/s per core = ${(rate / 16000).toFixed(0)} × real time (16 kHz streams per core)`);
console.log(`per 20 ms frame: ${((best / (STREAMS * FRAMES)) * 1e6).toFixed(2)} µs`);

// MixPipeline: one recording of a call = 2 streams mixed per 20 ms slot
const { MixPipeline } = await import('../src/audio/pipeline.js');
const pipes = Array.from({ length: STREAMS }, () => new MixPipeline());
const a = Int16Array.from(input);
const b = Int16Array.from(input, (v) => -v >> 1);
const frames = [a, b];
const o16 = new Int16Array(160);
function runPipe(): number {
  const t0 = process.hrtime.bigint();
  for (let f = 0; f < FRAMES; f++) for (let s = 0; s < STREAMS; s++) pipes[s]!.processSlot(frames, o16);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
runPipe();
let bestP = Infinity;
for (let r = 0; r < 5; r++) bestP = Math.min(bestP, runPipe());
console.log(`MixPipeline (2 streams → 8 kHz int16): ${((STREAMS * FRAMES * 0.02) / bestP).toFixed(0)} × real time per core (recordings per core), ${((bestP / (STREAMS * FRAMES)) * 1e6).toFixed(2)} µs per slot`);
