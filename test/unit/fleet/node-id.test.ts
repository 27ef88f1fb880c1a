import { describe, expect, it } from 'vitest';
import { defaultNodeId, isNodeId } from '../../../src/fleet/node-id.js';
import { ConfigError, loadConfig } from '../../../src/config.js';

describe('node id', () => {
  it('is derived from the host and the Asterisk beside it: its systemname, else its entity id', () => {
    expect(defaultNodeId({ systemName: 'ast-7', entityId: '02:fc:00:00:00:01' }, 'rec-host')).toBe('rec-host-ast-7');
    expect(defaultNodeId({ systemName: '', entityId: '02:fc:00:00:00:01' }, 'rec-host')).toBe('rec-host-02-fc-00-00-00-01');
    expect(defaultNodeId({}, 'h')).toBe('h-asterisk');
    const long = defaultNodeId({ systemName: 'x'.repeat(100) }, 'h');
    expect(long.length).toBe(64);
    expect(isNodeId(long)).toBe(true);
  });

  it('accepts letters, digits, . _ - (1–64 characters) and nothing that could spell a key or a path', () => {
    for (const ok of ['node-a', 'n1', 'host.example_1-ast']) expect(isNodeId(ok)).toBe(true);
    for (const bad of ['', '-lead', 'a:b', 'a/b', '../x', 'a b', 'x'.repeat(65), 'a{b}']) expect(isNodeId(bad), bad).toBe(false);
    expect(() => loadConfig({ RECORDER_NODE_ID: 'a:b' })).toThrow(ConfigError);
    expect(loadConfig({ RECORDER_NODE_ID: 'node-7' }).node.id).toBe('node-7');
    expect(loadConfig({ RECORDER_NODE_ID: '' }).node.id).toBeUndefined();
  });
});
