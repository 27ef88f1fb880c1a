/** What a token may do. A token belongs to exactly one customer. */
/** `recording.admin`: the operator's view of the fleet (GET /v1.0/nodes); it grants no customer's recordings. */
export const Permissions = ['recording.read', 'recording.write', 'recording.delete', 'recording.export', 'recording.admin'] as const;
export type Permission = (typeof Permissions)[number];

/** Accepts the API's names (`recording.read`) and the short ones (`read`) used in token files and Redis. */
export function normalizePermission(p: unknown): Permission | undefined {
  if (typeof p !== 'string') return undefined;
  const full = p.includes('.') ? p : `recording.${p}`;
  return (Permissions as readonly string[]).includes(full) ? (full as Permission) : undefined;
}
