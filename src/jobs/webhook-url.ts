/**
 * A webhook destination's URL, checked where it enters (WEBHOOK_URLS, the tokens file, Redis, the operator CLI), and
 * its form for logs and errors.
 */

/** Why `raw` cannot be a webhook destination, or null when it can (the reason names the URL as shownUrl does). */
export function webhookUrlProblem(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${shownUrl(raw)} must be http(s)`;
  // fetch refuses a URL with credentials (every delivery would fail), and they would reach the logs: use the signature.
  if (u.username !== '' || u.password !== '') return `${shownUrl(raw)} must not hold a user or password (deliveries are signed)`;
  return null;
}

/**
 * What logs and error messages show of a destination: scheme, host and path. The query and the user part are left
 * out: a receiver's key often travels there (`?key=…`), and failure reasons are kept in Redis and logged.
 */
export function shownUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(not a URL)';
  }
}
