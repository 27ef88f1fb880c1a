/**
 * asterisk-config/ loads as a real Asterisk loads it: the simulator's reader follows config.c and pbx_config.c,
 * and refuses what Asterisk refused (the broken fixture). Every extension the e2e driver dials resolves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AsteriskConfigError, parseAsteriskConfig } from '../sim/config-parser.js';
import { findSteps, loadDialplan, loadDialplanFile, unsupportedApps } from '../sim/dialplan-interpreter.js';

const dir = fileURLToPath(new URL('../../asterisk-config/', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures/asterisk-config/', import.meta.url));

describe('asterisk-config/ as Asterisk reads it', () => {
  it('every file parses with no line Asterisk would refuse or skip', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.conf'));
    expect(files).toEqual(expect.arrayContaining(['ari.conf', 'http.conf', 'extensions.conf', 'extensions_ari_recorder.conf', 'extensions_ari_recorder_test.conf']));
    for (const f of files) {
      const parsed = parseAsteriskConfig(readFileSync(join(dir, f), 'utf8'), f, (name) => readFileSync(join(dir, name), 'utf8'));
      expect(parsed.warnings, f).toEqual([]);
      expect(parsed.categories.length, f).toBeGreaterThan(0);
    }
    const { plan, warnings } = loadDialplanFile(join(dir, 'extensions.conf'));
    expect(warnings).toEqual([]);
    expect([...plan.keys()].sort()).toEqual(['flow-examples', 'test', 'test-play', 'testconf', 'testdial']);
  });

  it('the drop-in files load on their own (a user #includes only what they need)', () => {
    for (const [file, contexts] of [
      ['extensions_ari_recorder.conf', ['flow-examples']],
      ['extensions_ari_recorder_test.conf', ['test', 'test-play', 'testconf', 'testdial']],
    ] as const) {
      const { plan, warnings } = loadDialplan(readFileSync(join(dir, file), 'utf8'), file);
      expect(warnings, file).toEqual([]);
      expect([...plan.keys()].sort(), file).toEqual([...contexts]);
    }
  });

  it('every extension the e2e driver dials exists (patterns read as pbx.c reads them)', () => {
    const { plan } = loadDialplanFile(join(dir, 'extensions.conf'));
    for (const exten of ['tone440', 'tone700', 'tone1000', 'tone300', 'short440', 'talk440', 'two-tone', 'silence', 'ring']) {
      expect(findSteps(plan, 'test', exten), exten).toBeDefined();
    }
    expect(findSteps(plan, 'test', 'talk440')?.map((s) => s.app)).toEqual(['Answer', 'Playtones', 'Wait', 'StopPlaytones', 'Wait', 'Hangup']);
    expect(findSteps(plan, 'testconf', 'conf1')?.[0]).toMatchObject({ app: 'ConfBridge', data: '${EXTEN}' });
    expect(findSteps(plan, 'testdial', '700')?.[0]).toMatchObject({ app: 'Dial', data: 'Local/tone${EXTEN}@test' });
    expect(findSteps(plan, 'test-play', 's')?.[0].app).toBe('Answer');
    // answer:false on Asterisk: ;2 enters the app while ringing (no Answer() before Stasis)
    expect(findSteps(plan, 'test', 'ring')?.map((s) => [s.app, s.data])).toEqual([['Stasis', '${TESTAPP}'], ['Hangup', '']]);
    for (const s of ['record_all', 'consent', 'pause_resume']) expect(findSteps(plan, 'flow-examples', s), s).toBeDefined();
    expect(unsupportedApps(plan, 'flow-examples')).toEqual([]);
  });

  it('ari.conf lists CUSTOMER_ID in channelvars and http.conf binds to loopback', () => {
    const ari = parseAsteriskConfig(readFileSync(join(dir, 'ari.conf'), 'utf8'), 'ari.conf');
    expect(ari.categories.find((c) => c.name === 'general')?.variables.find((v) => v.name === 'channelvars')?.value).toBe('CUSTOMER_ID');
    const http = parseAsteriskConfig(readFileSync(join(dir, 'http.conf'), 'utf8'), 'http.conf');
    expect(http.categories[0].variables.find((v) => v.name === 'bindaddr')?.value).toBe('127.0.0.1');
  });

  it('refuses the extensions.conf a real Asterisk refused: a line before the first context loses the whole file', () => {
    const text = readFileSync(join(fixtures, 'broken-extensions.conf'), 'utf8');
    expect(() => loadDialplan(text, 'extensions.conf')).toThrow(AsteriskConfigError);
    expect(() => loadDialplan(text, 'extensions.conf')).toThrow('No category context for line 8 of extensions.conf');
  });

  it('follows config.c on headers, includes and comments', () => {
    const refuse = (text: string, msg: string, load?: (n: string) => string | undefined) =>
      expect(() => parseAsteriskConfig(text, 'x.conf', load)).toThrow(msg);
    refuse('[a\nx=1', "no closing ']'");
    refuse('[a](!\nx=1', "no closing ')'");
    refuse('[a](+)\nx=1', "Category addition requested, but category 'a' does not exist");
    refuse('[a](tmpl)\nx=1', "Inheritance requested, but category 'tmpl' does not exist");
    refuse('#include nothere.conf', "the file 'nothere.conf' was listed as a #include but it does not exist");
    refuse('x=1', 'No category context for line 1');
    // text after "]" that is not "(" is ignored: "[a], [b]" is the category "a" only
    expect(parseAsteriskConfig('[a], [b]\nx=1', 'x.conf').categories.map((c) => c.name)).toEqual(['a']);
    // #tryinclude of a missing file is fine; ;-- block comments --; span lines; \; is a literal
    const ok = parseAsteriskConfig('#tryinclude nothere.conf\n;-- comment\nx=1 --;\n[a]\nv = a\\;b ; c\nnoequals', 'x.conf');
    expect(ok.categories[0].variables).toMatchObject([{ name: 'v', value: 'a;b' }]);
    expect(ok.warnings).toEqual(["No '=' (equal sign) in line 6 of x.conf"]);
    const inc = parseAsteriskConfig('#include b.conf\n[c]\ny=2', 'a.conf', (n) => (n === 'b.conf' ? '[b]\nx=1' : undefined));
    expect(inc.categories.map((c) => c.name)).toEqual(['b', 'c']);
  });

  it('pbx_config warnings: same without an extension, next on the first entry, bad priorities', () => {
    const { warnings, plan } = loadDialplan('[c]\nsame => n,NoOp()\nexten => a,n,NoOp()\nexten => b,x,NoOp()\nexten => d,1,NoOp()\n same => n(l,NoOp()\nfoo => bar');
    expect(warnings).toHaveLength(5);
    expect(findSteps(plan, 'c', 'd')).toHaveLength(1);
  });
});
