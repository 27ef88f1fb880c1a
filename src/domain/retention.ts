/** How long an available recording is kept. Pure: no I/O. */
export interface RetentionPolicy {
  /** Default days a recording stays available (30). 0 or less keeps recordings forever. */
  retentionDays: number;
  /** Per-customer overrides, in days (same meaning as retentionDays). */
  customerRetentionDays?: Record<string, number>;
}

export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;

export function retentionDaysFor(customerId: string, policy: RetentionPolicy): number {
  const override = policy.customerRetentionDays?.[customerId];
  if (override !== undefined && Number.isFinite(override)) return override;
  return Number.isFinite(policy.retentionDays) ? policy.retentionDays : DEFAULT_RETENTION_DAYS;
}

/** tm_expire (ISO) of a recording of `customerId` that became available at `availableAt`; undefined = never expires. */
export function expiryFor(customerId: string, availableAt: Date, policy: RetentionPolicy): string | undefined {
  const days = retentionDaysFor(customerId, policy);
  if (days <= 0) return undefined;
  return new Date(availableAt.getTime() + days * DAY_MS).toISOString();
}
