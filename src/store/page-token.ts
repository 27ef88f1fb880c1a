import { AppError } from '../domain/errors.js';

/** Position in a newest-first listing: the last item returned (score = tm_create epoch ms, then id descending). */
export interface PageCursor {
  score: number;
  id: string;
}

/** Opaque page token: base64url of `<score>:<id>`. */
export function encodePageToken(c: PageCursor): string {
  return Buffer.from(`${c.score}:${c.id}`, 'utf8').toString('base64url');
}

export function decodePageToken(token: string): PageCursor {
  const bad = () => new AppError('VALIDATION', 'invalid page_token');
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(token)) throw bad();
  const raw = Buffer.from(token, 'base64url').toString('utf8');
  const sep = raw.indexOf(':');
  if (sep <= 0) throw bad();
  const scoreText = raw.slice(0, sep);
  const id = raw.slice(sep + 1);
  if (!/^-?\d{1,16}$/.test(scoreText) || id.length === 0) throw bad();
  return { score: Number(scoreText), id };
}

/** true when (score, id) comes after the cursor in newest-first order. */
export function isAfterCursor(score: number, id: string, c: PageCursor | undefined): boolean {
  if (!c) return true;
  return score < c.score || (score === c.score && id < c.id);
}
