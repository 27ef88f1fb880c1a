import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLIC_RECORDING_FIELDS, RECORDING_EVENT_OF, RecordingEventTypes, recordingView } from '../../../src/domain/recording-events.js';
import { RecordingStatuses, newRecording } from '../../../src/domain/recording.js';

const SRC = join(__dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

describe('recording events', () => {
  it('only the event relay hands recording events to the webhooks (the export job sends its own export_* events)', () => {
    const callers = sourceFiles(SRC)
      .filter((f) => /webhooks\.publish\(/.test(readFileSync(f, 'utf8')))
      .map((f) => f.slice(SRC.length + 1))
      .sort();
    expect(callers).toEqual(['jobs/event-relay.ts', 'jobs/export.ts']);
    const exportJob = readFileSync(join(SRC, 'jobs/export.ts'), 'utf8');
    expect(exportJob).not.toMatch(/\.publish\(\s*['"`]recording_/);
    expect(exportJob).toMatch(/\.publish\(ExportWebhookTypes\[/);
  });

  it('every status but starting has exactly one event type, and each type one status (recording_resumed: paused → recording)', () => {
    const announced = RecordingStatuses.filter((s) => RECORDING_EVENT_OF[s] !== undefined);
    expect(announced).toEqual(RecordingStatuses.filter((s) => s !== 'starting'));
    expect(new Set([...Object.values(RECORDING_EVENT_OF), 'recording_resumed'])).toEqual(new Set(RecordingEventTypes));
  });

  it('the public view is an allowlist: internal fields never leave', () => {
    const rec = { ...newRecording({ id: 'r1', customer_id: 'c', reference_type: 'call', reference_id: 'ch', now: new Date(0) }), storage_key: 'c/r1.wav', event_seq: 3, extra: 'x' };
    const view = recordingView(rec) as Record<string, unknown>;
    expect(view.storage_key).toBeUndefined();
    expect(view.event_seq).toBeUndefined();
    expect(view.extra).toBeUndefined();
    expect(view.id).toBe('r1');
    expect(Object.keys(view).every((k) => (PUBLIC_RECORDING_FIELDS as readonly string[]).includes(k))).toBe(true);
  });
});
