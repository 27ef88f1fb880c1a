import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AsteriskConfigError } from '../sim/config-parser.js';
import { loadDialplan, loadDialplanFile } from '../sim/dialplan-interpreter.js';

/**
 * With a real Asterisk at hand (ASTERISK_CLI: the command that runs one CLI command, e.g.
 * `/usr/sbin/asterisk -rx`; ASTERISK_CONFIG_DIR: its config dir), asterisk-config/ is installed into it and
 * reloaded: every context the files declare exists with the extensions the simulator's reader found, and the file
 * the simulator refuses (the broken fixture) is refused by Asterisk too. Without them there is nothing to load into:
 * test/unit/asterisk-config.test.ts checks the same files with the simulator's reader.
 */
const cli = process.env.ASTERISK_CLI?.split(/\s+/).filter(Boolean);
const confDir = process.env.ASTERISK_CONFIG_DIR;
const src = fileURLToPath(new URL('../../asterisk-config/', import.meta.url));
const broken = fileURLToPath(new URL('../fixtures/asterisk-config/broken-extensions.conf', import.meta.url));

function ast(command: string): string {
  return execFileSync(cli![0], [...cli!.slice(1), command], { encoding: 'utf8' });
}

/** Extensions of a context as `dialplan show` lists them ('name' => …). */
function shownExtensions(context: string): string[] {
  return [...ast(`dialplan show ${context}`).matchAll(/^\s+'([^']+)' =>/gm)].map((m) => m[1]).sort();
}

describe.runIf(cli && confDir)('asterisk-config/ in a real Asterisk', () => {
  it('loads: every context and extension the simulator reads exists in Asterisk', () => {
    for (const f of readdirSync(src).filter((n) => n.endsWith('.conf'))) copyFileSync(join(src, f), join(confDir!, f));
    expect(ast('module reload pbx_config.so')).toMatch(/reloaded successfully/);
    const { plan } = loadDialplanFile(join(src, 'extensions.conf'));
    expect(plan.size).toBeGreaterThan(0);
    for (const [context, extens] of plan) {
      expect(ast(`dialplan show ${context}`), context).toContain(`Context '${context}'`);
      expect(shownExtensions(context), context).toEqual([...extens.keys()].sort());
    }
  });

  it('refuses the broken fixture as the simulator does, keeping the dialplan it had', () => {
    const target = join(confDir!, 'extensions.conf');
    const good = readFileSync(target, 'utf8');
    expect(() => loadDialplan(readFileSync(broken, 'utf8'))).toThrow(AsteriskConfigError);
    try {
      writeFileSync(target, readFileSync(broken, 'utf8'));
      expect(ast('module reload pbx_config.so')).toMatch(/reload failure|declined|failed/i);
      expect(ast('dialplan show flow-examples')).toContain("Context 'flow-examples'");
    } finally {
      writeFileSync(target, good);
      expect(ast('module reload pbx_config.so')).toMatch(/reloaded successfully/);
    }
  });
});
