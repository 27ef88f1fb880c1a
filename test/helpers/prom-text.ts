/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (prom-client exports no parser): every line is a
 * HELP, a TYPE, another comment, a blank line or a sample, else it throws. Checks on top of the grammar: every family
 * has exactly one HELP and one TYPE, both before its samples; a sample belongs to a declared family (histogram and
 * summary suffixes resolved); no series appears twice; histogram buckets are cumulative, end with `+Inf`, and that
 * bucket equals `_count`.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  samples: Sample[];
  /** Sum of the values of `name`'s samples whose labels include `labels`; 0 when none. */
  value(name: string, labels?: Record<string, string>): number;
  /** Whether any sample of `name` has these labels. */
  has(name: string, labels?: Record<string, string>): boolean;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
// Go's strconv.ParseFloat, as the format says: decimal numbers, and NaN / Inf / Infinity in any case (prom-client
// writes `Nan`).
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[nN][aA][nN]|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?))';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL_NAME}=${LABEL_VALUE})(?:,${LABEL_NAME}=${LABEL_VALUE})*,?)?\\})? (${VALUE})(?: (-?\\d+))?$`);
const LABEL = new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, 'g');
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

function unescape(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function number(s: string): number {
  const l = s.toLowerCase();
  if (l === 'nan') return NaN;
  if (/^\+?inf(inity)?$/.test(l)) return Infinity;
  if (/^-inf(inity)?$/.test(l)) return -Infinity;
  return Number(s);
}

function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

const seriesKey = (s: Sample) => `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;

export function parsePrometheusText(text: string): Exposition {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const help = HELP.exec(line);
      if (help) {
        if (helps.has(help[1])) throw new Error(`second HELP for ${help[1]} at ${where}`);
        helps.set(help[1], help[2]);
        return;
      }
      const type = TYPE.exec(line);
      if (type) {
        if (families.has(type[1])) throw new Error(`second TYPE for ${type[1]} at ${where}`);
        if (!helps.has(type[1])) throw new Error(`TYPE before HELP for ${type[1]} at ${where}`);
        families.set(type[1], { name: type[1], help: helps.get(type[1])!, type: type[2] as MetricType, samples: [] });
        return;
      }
      if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`malformed ${where}`);
      return; // another comment
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample: ${where}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) {
      if (k in labels) throw new Error(`label ${k} twice at ${where}`);
      labels[k] = unescape(v);
    }
    const sample: Sample = { name: m[1], labels, value: number(m[3]) };
    const fam = familyOf(sample.name, families);
    if (!fam) throw new Error(`sample of an undeclared family (no HELP/TYPE before it) at ${where}`);
    const key = seriesKey(sample);
    if (seen.has(key)) throw new Error(`series twice: ${key}`);
    seen.add(key);
    fam.samples.push(sample);
    samples.push(sample);
  });
  for (const name of helps.keys()) if (!families.has(name)) throw new Error(`HELP without TYPE for ${name}`);
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  const matches = (s: Sample, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    families,
    samples,
    value: (name, labels = {}) => samples.filter((s) => s.name === name && matches(s, labels)).reduce((a, s) => a + s.value, 0),
    has: (name, labels = {}) => samples.some((s) => s.name === name && matches(s, labels)),
  };
}

/** Buckets of each series cumulative and ending with +Inf = _count. */
function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}_bucket without le`);
      entry.buckets.push([number(le), s.value]);
    } else if (s.name === `${f.name}_count`) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i][0] > buckets[i - 1][0])) throw new Error(`${f.name} ${key}: le not increasing`);
      if (buckets[i][1] < buckets[i - 1][1]) throw new Error(`${f.name} ${key}: buckets not cumulative`);
    }
    const last = buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${f.name} ${key}: no +Inf bucket`);
    if (count !== last[1]) throw new Error(`${f.name} ${key}: +Inf bucket ${last[1]} != _count ${count}`);
  }
}
