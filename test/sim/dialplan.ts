/**
 * The simulator's understanding of the dialplan that asterisk-config/extensions.conf gives a real Asterisk:
 * `Local/<exten>@test` → what the `;2` half plays (= what `;1` receives, the snoop's `in`).
 */
import { type SignalSpec, tone } from './signals.js';

export interface ExtensionBehaviour {
  /** what the Local channel's ;1 half receives once the dialplan plays */
  inSignal: SignalSpec | null;
  /** what is sent to ;1 (in a real Asterisk: an ARI playback toward ;1) */
  outSignal?: SignalSpec | null;
  /** app_data of the ;2 half's ChannelDialplan Playback event */
  playbackData: string;
  /** the dialplan hangs up this long after its audio started (short440) */
  hangupAfterMs?: number;
  /** the dialplan's audio stops this long after it started, the call stays up (talk440) */
  audioForMs?: number;
}

const toneExten = /^tone(\d{2,5})$/;

/**
 * A tone from Asterisk's indications generator (Playtones, `tone:` playbacks): it synthesizes at 8 kHz (indications.c
 * sets the channel's write format to slin), so a frequency above 4 kHz folds back: Playtones(6000) is heard, on a
 * slin16 snoop, as 2000 Hz at the same level (measured on Asterisk 22.10.1: 2000 Hz −19.3 dBFS, 6000 Hz −126 dBFS).
 */
export function indicationTone(freq: number): SignalSpec {
  const f = freq % 8000;
  return tone(f > 4000 ? 8000 - f : f);
}

export function lookupExtension(
  context: string,
  exten: string,
  custom: ReadonlyMap<string, ExtensionBehaviour> = new Map(),
): ExtensionBehaviour | null {
  const own = custom.get(`${exten}@${context}`);
  if (own) return own;
  if (context !== 'test') return null;
  const m = toneExten.exec(exten);
  if (m) {
    const f = Number(m[1]);
    return { inSignal: indicationTone(f), playbackData: `tone${f}&tone${f}&tone${f}` };
  }
  switch (exten) {
    case 'short440':
      return { inSignal: tone(440), playbackData: 'tone440_3s', hangupAfterMs: 3000 };
    case 'talk440':
      return { inSignal: tone(440), playbackData: 'tone440_2s', audioForMs: 2000 };
    case 'two-tone':
      return { inSignal: tone(440), outSignal: tone(1000), playbackData: 'tone440&tone440&tone440' };
    case 'silence':
      return { inSignal: null, playbackData: 'silence/10' };
    default:
      return null;
  }
}

/** `sound:tone1000` / `tone:1000` / `tone:440+1000` → a signal and a duration (ms; Infinity for tones). */
export function mediaToSignal(media: string): { signal: SignalSpec | null; durationMs: number; known: boolean } {
  const [scheme, rest = ''] = media.split(/:(.*)/s, 2);
  if (scheme === 'sound') {
    // core sounds' beep: a short 1 kHz tone (a real install has beep.gsm; the Asterisk built here had no sounds)
    if (rest === 'beep') return { signal: tone(1000), durationMs: 250, known: true };
    const m = /^tone(\d{2,5})(_3s)?$/.exec(rest);
    if (m) return { signal: tone(Number(m[1])), durationMs: m[2] ? 3000 : 20000, known: true };
    return { signal: null, durationMs: 0, known: false };
  }
  if (scheme === 'tone') {
    // Asterisk tone string: "f1[+f2][/duration][,…]" (only the first element is simulated, played continuously)
    const first = (rest.split(';')[0] ?? '').split(',')[0] ?? '';
    const freqs = first.replace(/^!/, '').split('/')[0].split(/[+*]/).map(Number).filter((f) => Number.isFinite(f) && f > 0);
    if (freqs.length === 0) return { signal: null, durationMs: Infinity, known: true };
    return { signal: { type: 'sum', parts: freqs.map((f) => indicationTone(f)) }, durationMs: Infinity, known: true };
  }
  return { signal: null, durationMs: 0, known: false };
}
