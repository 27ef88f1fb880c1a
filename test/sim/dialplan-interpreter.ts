/**
 * A small interpreter of asterisk-config/extensions.conf, so the simulator runs the very dialplan a real Asterisk
 * is given (the flow-action examples) instead of a copy that could drift from it.
 *
 * Parsing: `[context]`, `exten => <exten>,<priority>[(<label>)],<App>(<data>)`, `same => n[(<label>)],…`,
 * `;` comments (`\;` is a literal), pattern extensions (`_X.`, `_[a-z]!`…).
 * Running: `${VAR}`, `${VAR:offset[:length]}` and `$[ a = b ]` / `!=` / bare values, then one of the applications
 * below. Anything else is reported by `unsupportedApps()` (a unit test keeps the flow contexts inside the subset).
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { type IncludeLoader, parseAsteriskConfig } from './config-parser.js';

export interface DialplanStep {
  priority: number;
  label?: string;
  app: string;
  data: string;
}

/** context → extension (or `_pattern`) → steps in priority order */
export type Dialplan = Map<string, Map<string, DialplanStep[]>>;

export const SUPPORTED_APPS = new Set([
  'Answer', 'NoOp', 'Verbose', 'Set', 'Playtones', 'StopPlaytones', 'Wait', 'Read', 'Stasis', 'Dial', 'Goto', 'GotoIf', 'Hangup',
]);

/** What Dial() ended with (apps/app_dial.c sets DIALSTATUS). */
export interface DialResult {
  status: 'ANSWER' | 'NOANSWER' | 'CHANUNAVAIL' | 'CANCEL';
}

export interface LoadedDialplan {
  plan: Dialplan;
  /** what Asterisk (config.c, pbx_config.c) logs as a WARNING/ERROR for a line it skips */
  warnings: string[];
}

/**
 * pbx_config's reading of extensions.conf on top of Asterisk's config parser (./config-parser.ts): a line Asterisk
 * cannot place throws (the whole file is refused, as Asterisk does); a line pbx_config skips is a warning.
 */
export function loadDialplan(text: string, file = 'extensions.conf', load?: IncludeLoader): LoadedDialplan {
  const parsed = parseAsteriskConfig(text, file, load);
  const plan: Dialplan = new Map();
  const warnings = [...parsed.warnings];
  for (const cat of parsed.categories) {
    if (cat.template || /^(general|globals)$/i.test(cat.name)) continue;
    const context = plan.get(cat.name) ?? new Map<string, DialplanStep[]>();
    plan.set(cat.name, context);
    // pbx_config keeps the last extension and priority per context, across `exten =>` lines
    let lastExten: string | null = null;
    let lastPriority = -2;
    for (const v of cat.variables) {
      const where = `line ${v.line} of ${v.file}`;
      const name = v.name.toLowerCase();
      let rest = v.value;
      let exten: string;
      if (name === 'exten') {
        const comma = rest.indexOf(',');
        exten = (comma < 0 ? rest : rest.slice(0, comma)).trim();
        rest = comma < 0 ? '' : rest.slice(comma + 1);
        lastExten = exten;
      } else if (name.startsWith('same')) {
        if (lastExten === null) {
          warnings.push(`No previous pattern in the first entry of context '${cat.name}' to match '${v.name}' at ${where}`);
          continue;
        }
        exten = lastExten;
      } else {
        if (!['include', 'ignorepat', 'switch', 'lswitch', 'eswitch'].includes(name)) warnings.push(`Unknown directive: ${v.name} at ${where}`);
        continue;
      }
      const comma = rest.indexOf(',');
      const prioText = (comma < 0 ? rest : rest.slice(0, comma)).trim();
      const appText = comma < 0 ? '' : rest.slice(comma + 1).trim();
      if (prioText.includes('(') && !prioText.includes(')')) {
        warnings.push(`Label missing trailing ')' at ${where}`);
        continue;
      }
      const pm = /^([^(]*)(?:\(([^)]*)\))?/.exec(prioText)!;
      const prio = pm[1].trim();
      let priority: number;
      if (prio === 'n' || prio === 'next') {
        if (lastPriority < -1) {
          warnings.push(`Can't use 'next' priority on the first entry at ${where}!`);
          continue;
        }
        priority = lastPriority + 1;
      } else if (/^\d+$/.test(prio) && Number(prio) >= 1) priority = Number(prio);
      else {
        warnings.push(`Invalid priority/label '${prio}' at ${where}`);
        continue;
      }
      lastPriority = priority;
      const steps = context.get(exten) ?? [];
      context.set(exten, steps);
      const open = appText.indexOf('(');
      const app = (open < 0 ? appText : appText.slice(0, open)).trim();
      const data = open < 0 ? '' : appText.slice(open + 1, appText.lastIndexOf(')') > open ? appText.lastIndexOf(')') : undefined);
      steps.push({ priority, label: pm[2]?.trim() || undefined, app, data });
    }
  }
  return { plan, warnings };
}

/** The dialplan of one extensions.conf text (includes through `load`); throws what Asterisk would refuse. */
export function parseExtensionsConf(text: string, file?: string, load?: IncludeLoader): Dialplan {
  return loadDialplan(text, file, load).plan;
}

/** Reads the files an extensions.conf #includes: relative names from `dir` (Asterisk's config dir). */
export function includeLoader(dir: string): IncludeLoader {
  return (name) => {
    try {
      return readFileSync(isAbsolute(name) ? name : join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** Reads an extensions.conf and every file it #includes. */
export function loadDialplanFile(path: string): LoadedDialplan {
  const read = includeLoader(dirname(path));
  const text = read(path);
  if (text === undefined) throw new Error(`${path} does not exist`);
  return loadDialplan(text, basename(path), read);
}

/** Extension pattern matching as pbx.c does it for the simple cases (X, Z, N, [..], `.`, `!`). */
export function matchExten(pattern: string, exten: string): boolean {
  if (!pattern.startsWith('_')) return pattern === exten;
  let re = '^';
  const p = pattern.slice(1);
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === 'X' || c === 'x') re += '[0-9]';
    else if (c === 'Z' || c === 'z') re += '[1-9]';
    else if (c === 'N' || c === 'n') re += '[2-9]';
    else if (c === '.') re += '.+';
    else if (c === '!') re += '.*';
    else if (c === '[') {
      const end = p.indexOf(']', i);
      re += p.slice(i, end + 1);
      i = end;
    } else re += c.replace(/[.*+?^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(exten);
}

export function findSteps(plan: Dialplan, context: string, exten: string): DialplanStep[] | undefined {
  const ctx = plan.get(context);
  if (!ctx) return undefined;
  return ctx.get(exten) ?? [...ctx.entries()].find(([pat]) => matchExten(pat, exten))?.[1];
}

/** Applications a context uses that the interpreter cannot run. */
export function unsupportedApps(plan: Dialplan, context: string): string[] {
  const out = new Set<string>();
  for (const steps of plan.get(context)?.values() ?? []) for (const s of steps) if (!SUPPORTED_APPS.has(s.app)) out.add(s.app);
  return [...out];
}

/** Splits application data like AST_STANDARD_APP_ARGS: on commas outside quotes/brackets, quotes removed. */
export function splitArgs(data: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quoted = false;
  for (const c of data) {
    if (c === '"') {
      quoted = !quoted;
      continue;
    }
    if (!quoted && (c === '(' || c === '[')) depth++;
    if (!quoted && (c === ')' || c === ']')) depth--;
    if (c === ',' && !quoted && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** `${VAR}`, `${VAR:offset[:length]}` (negative offsets count from the end), then `$[expr]`. */
export function substitute(text: string, getVar: (name: string) => string | undefined): string {
  let s = text;
  for (let guard = 0; guard < 50; guard++) {
    const m = /\$\{([^${}]*)\}/.exec(s);
    if (!m) break;
    const [name, off, len] = m[1].split(':');
    let value = getVar(name.trim()) ?? '';
    if (off !== undefined) {
      const o = Number(off);
      const start = o < 0 ? Math.max(0, value.length + o) : Math.min(o, value.length);
      value = len !== undefined ? value.slice(start, start + Number(len)) : value.slice(start);
    }
    s = s.slice(0, m.index) + value + s.slice(m.index + m[0].length);
  }
  for (let guard = 0; guard < 50; guard++) {
    const m = /\$\[([^[\]]*)\]/.exec(s);
    if (!m) break;
    s = s.slice(0, m.index) + evaluate(m[1]) + s.slice(m.index + m[0].length);
  }
  return s;
}

function evaluate(expr: string): string {
  const m = /^\s*("?)(.*?)\1\s*(!=|=)\s*("?)(.*?)\4\s*$/.exec(expr);
  if (!m) return expr.trim().replace(/^"(.*)"$/, '$1');
  const equal = m[2] === m[5];
  return (m[3] === '=' ? equal : !equal) ? '1' : '0';
}

/** pbx_checkcondition: empty is false, a number is its value, any other text is true. */
function isTrue(cond: string): boolean {
  const c = cond.trim();
  if (!c) return false;
  const n = Number(c);
  return Number.isNaN(n) ? true : n !== 0;
}

export interface Cep {
  context: string;
  exten: string;
  priority: number;
}

/** What the interpreter needs from the simulated channel. Every promise settles when the channel goes away. */
export interface DialplanHost {
  alive(): boolean;
  /** the channel is now at this priority running `app(data)` (ChannelDialplan) */
  enter(cep: Cep, app: string, data: string): void;
  getVar(name: string): string | undefined;
  setVar(name: string, value: string): void;
  answer(): void;
  playtones(arg: string): void;
  stopPlaytones(): void;
  wait(ms: number): Promise<void>;
  /** digits until `#` (not included), `maxDigits`, or `timeoutMs` without a key */
  readDigits(maxDigits: number, timeoutMs: number): Promise<string>;
  /** 'FAILED' at once when the app is not registered; else when the app continues the channel (optionally elsewhere) */
  stasis(app: string, args: string[]): Promise<{ status: 'SUCCESS' | 'FAILED'; goto?: Partial<Cep> }>;
  /**
   * Dial(): calls `target` (`Local/<exten>@<context>`), bridges the channel with it once answered and resolves when
   * that bridge ends: the called party hung up (or was hung up `limitMs` after the answer, option S). `CANCEL` when
   * the caller went away first (the called party is hung up then).
   */
  dial(target: string, opts: { timeoutMs?: number; limitMs?: number }): Promise<DialResult>;
  hangup(): void;
}

/** Runs the dialplan from `start` until Hangup(), the end of the extension (auto-fallthrough) or the channel's end. */
export async function runDialplan(plan: Dialplan, host: DialplanHost, start: Cep): Promise<void> {
  let cep: Cep = { ...start };
  for (let guard = 0; guard < 10_000 && host.alive(); guard++) {
    const steps = findSteps(plan, cep.context, cep.exten);
    const step = steps?.find((s) => s.priority === cep.priority);
    if (!step) {
      host.hangup(); // no such priority: the PBX hangs the channel up
      return;
    }
    const data = substitute(step.data, (n) => builtinVar(n, cep) ?? host.getVar(n));
    host.enter(cep, step.app, data);
    const next = await execute(host, step.app, data, cep, steps!);
    if (next === 'hangup') {
      if (host.alive()) host.hangup();
      return;
    }
    cep = next ?? { ...cep, priority: cep.priority + 1 };
  }
}

function builtinVar(name: string, cep: Cep): string | undefined {
  if (name === 'EXTEN') return cep.exten;
  if (name === 'CONTEXT') return cep.context;
  if (name === 'PRIORITY') return String(cep.priority);
  return undefined;
}

async function execute(host: DialplanHost, app: string, data: string, cep: Cep, steps: DialplanStep[]): Promise<Cep | 'hangup' | undefined> {
  const args = splitArgs(data);
  switch (app) {
    case 'Answer':
      host.answer();
      return undefined;
    case 'NoOp':
    case 'Verbose':
      return undefined;
    case 'Set': {
      const eq = data.indexOf('=');
      if (eq > 0) host.setVar(data.slice(0, eq).trim(), data.slice(eq + 1));
      return undefined;
    }
    case 'Playtones':
      host.playtones(data);
      return undefined;
    case 'StopPlaytones':
      host.stopPlaytones();
      return undefined;
    case 'Wait':
      await host.wait(Number(args[0] || 0) * 1000);
      return undefined;
    case 'Read': {
      // Read(variable,filename,maxdigits,options,attempts,timeout)
      const [variable, , max, , attemptsText, timeoutText] = args;
      const maxDigits = Number(max) > 0 ? Number(max) : 255;
      const attempts = Number(attemptsText) > 0 ? Number(attemptsText) : 1;
      const timeoutMs = Number(timeoutText) > 0 ? Number(timeoutText) * 1000 : 10_000;
      let digits = '';
      for (let i = 0; i < attempts && !digits && host.alive(); i++) digits = await host.readDigits(maxDigits, timeoutMs);
      host.setVar(variable.trim(), digits);
      host.setVar('READSTATUS', host.alive() ? (digits ? 'OK' : 'TIMEOUT') : 'HANGUP');
      return undefined;
    }
    case 'Stasis': {
      const [name, ...rest] = args;
      host.setVar('STASISSTATUS', '');
      const r = await host.stasis(name.trim(), rest);
      host.setVar('STASISSTATUS', r.status);
      if (r.goto && (r.goto.context || r.goto.exten || r.goto.priority)) return { ...cep, ...r.goto, priority: r.goto.priority ?? 1 };
      return undefined;
    }
    case 'Dial': {
      // Dial(Tech/resource[&…][,timeout[,options]]) — the first target only; options g (go on when the called party
      // hangs up; without it the caller is hung up too) and S(<s>) (hang the called party up <s> s after the answer).
      const [targets = '', timeoutText = '', options = ''] = args;
      const flags = options.replace(/\([^)]*\)/g, '');
      const limit = /S\((\d+)\)/.exec(options);
      const timeoutMs = Number(timeoutText) > 0 ? Number(timeoutText) * 1000 : undefined;
      const r = await host.dial(targets.split('&')[0].trim(), { timeoutMs, limitMs: limit ? Number(limit[1]) * 1000 : undefined });
      host.setVar('DIALSTATUS', r.status);
      if (!host.alive()) return 'hangup';
      // app_dial.c: after a bridged call, only `g` lets the dialplan go on
      if (r.status === 'ANSWER' && !flags.includes('g')) return 'hangup';
      return undefined;
    }
    case 'Goto':
      return gotoTarget(data, cep, steps);
    case 'GotoIf': {
      const q = data.indexOf('?');
      if (q < 0) return undefined;
      const [yes, no] = splitArgs(data.slice(q + 1).replace(':', ',')).map((x) => x.trim());
      const target = isTrue(data.slice(0, q)) ? yes : no;
      return target ? gotoTarget(target, cep, steps) : undefined;
    }
    case 'Hangup':
      return 'hangup';
    default:
      // pbx.c: "No application 'X' for extension" → the channel is hung up
      return 'hangup';
  }
}

/** `[[context,]exten,]priority|label` */
function gotoTarget(target: string, cep: Cep, steps: DialplanStep[]): Cep {
  const parts = target.split(',').map((x) => x.trim());
  const prio = parts.pop()!;
  const exten = parts.pop() ?? cep.exten;
  const context = parts.pop() ?? cep.context;
  if (/^\d+$/.test(prio)) return { context, exten, priority: Number(prio) };
  const sameExten = context === cep.context && exten === cep.exten;
  const label = sameExten ? steps.find((s) => s.label === prio) : undefined;
  // labels in other extensions are resolved by the caller's next lookup (not needed by the examples)
  return { context, exten, priority: label?.priority ?? -1 };
}
