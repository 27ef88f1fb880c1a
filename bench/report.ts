/** Pure helpers of the load bench: statistics, /proc parsing and the printed table. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function maxOf(xs: readonly number[]): number {
  let m = 0;
  for (const x of xs) if (x > m) m = x;
  return m;
}

/** Nearest-rank percentile, p in [0, 1]. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

export interface UdpCounters {
  InDatagrams: number;
  NoPorts: number;
  InErrors: number;
  OutDatagrams: number;
  RcvbufErrors: number;
  SndbufErrors: number;
}

/** Parses the `Udp:` header/value line pair of /proc/net/snmp. */
export function parseSnmpUdp(text: string): UdpCounters {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp: '));
  if (lines.length < 2) throw new Error('no Udp lines in /proc/net/snmp');
  const keys = lines[0].slice(5).trim().split(/\s+/);
  const vals = lines[1].slice(5).trim().split(/\s+/).map(Number);
  const o: Record<string, number> = {};
  keys.forEach((k, i) => (o[k] = vals[i]));
  return {
    InDatagrams: o.InDatagrams ?? 0,
    NoPorts: o.NoPorts ?? 0,
    InErrors: o.InErrors ?? 0,
    OutDatagrams: o.OutDatagrams ?? 0,
    RcvbufErrors: o.RcvbufErrors ?? 0,
    SndbufErrors: o.SndbufErrors ?? 0,
  };
}

export function diffUdp(a: UdpCounters, b: UdpCounters): UdpCounters {
  return {
    InDatagrams: b.InDatagrams - a.InDatagrams,
    NoPorts: b.NoPorts - a.NoPorts,
    InErrors: b.InErrors - a.InErrors,
    OutDatagrams: b.OutDatagrams - a.OutDatagrams,
    RcvbufErrors: b.RcvbufErrors - a.RcvbufErrors,
    SndbufErrors: b.SndbufErrors - a.SndbufErrors,
  };
}

/**
 * Sums the per-socket `drops` column and the current rx_queue of /proc/net/udp (and udp6) over the
 * sockets bound to `ports` — unlike /proc/net/snmp this is not polluted by other processes.
 */
export function socketDrops(text: string, ports: ReadonlySet<number>): { sockets: number; drops: number; rxQueueBytes: number } {
  let sockets = 0;
  let drops = 0;
  let rxQueueBytes = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13 || !/^\d+:$/.test(f[0])) continue;
    const port = parseInt(f[1].split(':').pop() ?? '', 16);
    if (!ports.has(port)) continue;
    sockets++;
    const rx = parseInt(f[4].split(':')[1] ?? '0', 16);
    rxQueueBytes += Number.isFinite(rx) ? rx : 0;
    drops += Number(f[f.length - 1]) || 0;
  }
  return { sockets, drops, rxQueueBytes };
}

/**
 * Milliseconds of CPU per recorded call-minute. A call-minute is 2 streams × 3 000 packets, so the
 * figure is normalised by the packets actually received: when the load generator falls behind, the
 * wall time stretches but the work does not, and a wall-clock normalisation would flatter the sidecar.
 */
export function cpuPerCallMinute(cpuMs: number, packets: number): number {
  const callMinutes = packets / 6000;
  return callMinutes > 0 ? cpuMs / callMinutes : 0;
}

/** Renders rows as an aligned two-or-more-column text table (first row = header). */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: readonly string[]): string =>
    '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}
