/** The simulator's extensions.conf interpreter, checked against the repository's own file. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DIALPLAN_FILE } from '../sim/simulator.js';
import { findSteps, loadDialplanFile, matchExten, splitArgs, substitute, unsupportedApps } from '../sim/dialplan-interpreter.js';

const { plan } = loadDialplanFile(DEFAULT_DIALPLAN_FILE);

describe('sim dialplan interpreter', () => {
  it('reads asterisk-config/extensions.conf: contexts, priorities (n), labels', () => {
    expect([...plan.keys()]).toEqual(expect.arrayContaining(['test', 'test-play', 'testconf', 'flow-examples']));
    const consent = findSteps(plan, 'flow-examples', 'consent')!;
    expect(consent.map((s) => s.priority)).toEqual(consent.map((_, i) => i + 1));
    expect(consent.find((s) => s.label === 'talk')).toMatchObject({ app: 'Dial', data: 'Local/tone440@test,,gS(2)' });
    expect(consent[2]).toMatchObject({ app: 'GotoIf', data: '$["${CONSENT}" != "1"]?talk' });
    const stasis = findSteps(plan, 'flow-examples', 'record_all')!.find((s) => s.app === 'Stasis');
    expect(stasis?.data).toBe('recorder,recording_start,format=wav'); // the trailing comment is not part of it
    expect(findSteps(plan, 'test', 'tone440')?.[0].app).toBe('Set');
    expect(findSteps(plan, 'testconf', 'abc')?.[0].app).toBe('ConfBridge');
  });

  it('the flow scenarios use only applications the simulator runs', () => {
    expect(unsupportedApps(plan, 'flow-examples')).toEqual([]);
    for (const s of ['record_all', 'consent', 'pause_resume']) expect(findSteps(plan, 'flow-examples', s)?.at(-1)?.app).toBe('Hangup');
  });

  it('patterns, arguments, variables and expressions', () => {
    // pbx.c: n/N, x/X, z/Z are digit classes in either case, so "_tone." would never match "tone440"
    expect(matchExten('_tone.', 'tone440')).toBe(false);
    expect(matchExten('_to[n]e.', 'tone440')).toBe(true);
    expect(matchExten('_to[n]e.', 'tone')).toBe(false);
    expect(matchExten('_[a-zA-Z0-9].', 'conf1')).toBe(true);
    expect(matchExten('_NXX', '123')).toBe(false);
    expect(splitArgs('CARD,,16,,1,5')).toEqual(['CARD', '', '16', '', '1', '5']);
    expect(splitArgs('$["a,b" = "x"]?l')).toEqual(['$[a,b = x]?l']);
    const vars: Record<string, string> = { CONSENT: '1', CHANNEL: 'Local/x@test-0000001a;1' };
    const get = (n: string) => vars[n];
    expect(substitute('$["${CONSENT}" != "1"]?talk', get)).toBe('0?talk');
    expect(substitute('$["${NOPE}" != "1"]?talk', get)).toBe('1?talk');
    expect(substitute('TESTDTMF_${CHANNEL:-10:8}', get)).toBe('TESTDTMF_0000001a');
  });
});
