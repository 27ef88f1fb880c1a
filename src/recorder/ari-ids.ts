/**
 * Every ARI object the recorder creates gets an id derived from the recording id, so that ownership is
 * known from the id alone: events for our own channels are told apart from calls, and a restarted daemon
 * can find and delete what a crashed one left behind.
 */
const PREFIX = 'rec-';

export type ResourceTag = `${'snoop' | 'em' | 'br'}-${string}`;

export function resourceId(recordingId: string, tag: ResourceTag): string {
  return `${PREFIX}${recordingId}-${tag}`;
}

export function isOwnResource(id: string): boolean {
  return id.startsWith(PREFIX);
}

/** The recording id of one of our resource ids (uuids have a fixed length of 36). */
export function recordingIdOf(id: string): string | null {
  if (!isOwnResource(id)) return null;
  const rest = id.slice(PREFIX.length);
  return rest.length > 37 && rest[36] === '-' ? rest.slice(0, 36) : null;
}
