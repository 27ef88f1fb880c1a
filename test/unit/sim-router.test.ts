import { describe, expect, it } from 'vitest';
import { mediaToSignal, lookupExtension } from '../sim/dialplan.js';
import { OPERATIONS, collectParams } from '../sim/params.js';
import { resolveRoute } from '../sim/router.js';
import { asteriskTimestamp } from '../sim/time.js';

describe('ARI path resolution (res_ari.c semantics)', () => {
  it('finds operations and path variables, literal segments before wildcards', () => {
    const r = resolveRoute('POST', '/channels/externalMedia');
    expect(r.kind === 'op' && r.op.id).toBe('channels.externalMedia');
    const s = resolveRoute('POST', '/channels/123.4/snoop/abc');
    expect(s.kind === 'op' && s.op.id).toBe('channels.snoopChannelWithId');
    expect(s.kind === 'op' && s.pathVars).toEqual({ channelId: '123.4', snoopId: 'abc' });
  });

  it('unknown resource → 404, wrong method → 405 with Allow, trailing slash → hint', () => {
    expect(resolveRoute('GET', '/nonexistent-resource')).toEqual({ kind: 'notFound', message: 'Resource not found' });
    expect(resolveRoute('GET', '/channels/1/snoop/x/y')).toEqual({ kind: 'notFound', message: 'Resource not found' });
    expect(resolveRoute('PUT', '/channels')).toEqual({ kind: 'methodNotAllowed', allow: 'OPTIONS,GET,POST' });
    expect(resolveRoute('GET', '/bridges/')).toEqual({ kind: 'notFound', message: 'ARI URLs do not end with a slash. Try /ari/bridges' });
  });

  it('known but unsimulated operations are reported as such', () => {
    expect(resolveRoute('POST', '/channels/1/hold').kind).toBe('unimplemented');
  });
});

describe('parameter collection', () => {
  const em = OPERATIONS.find((o) => o.id === 'channels.externalMedia')!;
  it('ignores unknown query parameters and lets JSON body fields fill parameters', () => {
    const { params, variables } = collectParams(em, new URLSearchParams('app=q&bogus=1&format=ulaw'), {}, { app: 'recorder', external_host: 'h:1', variables: { REC_ID: 'abc' } });
    expect(params).toEqual({ app: 'recorder', format: 'ulaw', external_host: 'h:1' });
    expect(params).not.toHaveProperty('bogus');
    expect(variables).toEqual({ REC_ID: 'abc' });
  });

  it('joins repeated multi-value parameters with commas', () => {
    const add = OPERATIONS.find((o) => o.id === 'bridges.addChannel')!;
    expect(collectParams(add, new URLSearchParams('channel=a&channel=b'), { bridgeId: 'x' }, null).params.channel).toBe('a,b');
  });
});

describe('dialplan and media', () => {
  it('maps test-context extensions to signals', () => {
    expect(lookupExtension('test', 'tone700')?.playbackData).toBe('tone700&tone700&tone700');
    expect(lookupExtension('test', 'short440')?.hangupAfterMs).toBe(3000);
    expect(lookupExtension('test', 'nonexistent')).toBeNull();
    expect(lookupExtension('other', 'tone440')).toBeNull();
  });

  it('parses sound: and tone: media', () => {
    expect(mediaToSignal('sound:tone1000')).toMatchObject({ durationMs: 20000, known: true });
    expect(mediaToSignal('tone:440+1000/500')).toMatchObject({ durationMs: Infinity, known: true });
    expect(mediaToSignal('sound:nope').known).toBe(false);
  });

  it("tones come from Asterisk's 8 kHz indications generator: above 4 kHz they fold back (measured on 22.10.1)", () => {
    expect(mediaToSignal('tone:6000').signal).toEqual({ type: 'sum', parts: [{ type: 'tone', freq: 2000, peak: 8190 }] });
    expect(mediaToSignal('tone:440+3400').signal).toMatchObject({ parts: [{ freq: 440 }, { freq: 3400 }] });
    expect(lookupExtension('test', 'tone6000')?.inSignal).toMatchObject({ type: 'tone', freq: 2000 });
    expect(lookupExtension('test', 'tone7000')?.inSignal).toMatchObject({ type: 'tone', freq: 1000 });
    expect(lookupExtension('test', 'tone1000')?.inSignal).toMatchObject({ type: 'tone', freq: 1000 });
  });

  it('formats timestamps like Asterisk', () => {
    expect(asteriskTimestamp(new Date(Date.UTC(2026, 10, 25, 3, 57, 57, 596)))).toBe('2026-11-25T03:57:57.596+0000');
  });
});
