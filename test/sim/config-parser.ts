/**
 * Asterisk's configuration file reader (main/config.c, `config_text_file_load` and `process_text_line`), as strict
 * as Asterisk is: one line it cannot place loses the whole file, so the simulator refuses what a real Asterisk
 * refuses instead of skipping it.
 *
 * - `;` starts a comment (`\;` is a literal `;`); `;--` … `--;` is a block comment (nestable).
 * - `[name]`, `[name](options)`: a category header. Text after `]` that is not `(` is ignored, as config.c does.
 *   No `]` → "no closing ']'"; `(` without `)` → "no closing ')'"; `(+)`/`(template)` need an existing category.
 * - `#include file` / `#tryinclude file`: relative to the including file's folder (Asterisk: its config dir, where
 *   asterisk-config/ is installed). A missing `#include` fails the file.
 * - anything else needs a category before it ("No category context for line N"); `name = value` / `name => value`;
 *   a line without `=` is only a warning.
 */

export class AsteriskConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`parse error: ${message} for line ${line} of ${file}`);
    this.name = 'AsteriskConfigError';
  }
}

export interface ConfigVariable {
  name: string;
  value: string;
  /** `=>` rather than `=` */
  object: boolean;
  file: string;
  line: number;
}

export interface ConfigCategory {
  name: string;
  /** `[name](!)`: a template, not a real category */
  template: boolean;
  variables: ConfigVariable[];
}

export interface ParsedConfig {
  categories: ConfigCategory[];
  /** what Asterisk logs as a WARNING without refusing the file */
  warnings: string[];
}

/** Reads an included file by the name written after #include; undefined when it does not exist. */
export type IncludeLoader = (name: string) => string | undefined;

export function parseAsteriskConfig(text: string, file: string, load: IncludeLoader = () => undefined): ParsedConfig {
  const out: ParsedConfig = { categories: [], warnings: [] };
  const state: { current: ConfigCategory | null } = { current: null };
  parseInto(out, state, text, file, load, 0);
  return out;
}

function parseInto(out: ParsedConfig, state: { current: ConfigCategory | null }, text: string, file: string, load: IncludeLoader, depth: number): void {
  if (depth > 10) throw new AsteriskConfigError(file, 0, 'too many nested #include');
  let blockDepth = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    const stripped = stripComments(lines[i], blockDepth);
    blockDepth = stripped.depth;
    const cur = stripped.text.trim();
    if (!cur) continue;
    if (cur[0] === '[') {
      state.current = header(out, cur, file, lineno);
    } else if (cur[0] === '#') {
      const m = /^#(\S+)\s*(.*)$/.exec(cur)!;
      const directive = m[1].toLowerCase();
      const arg = m[2].trim().replace(/^["<](.*)[">]$/, '$1');
      if (directive !== 'include' && directive !== 'tryinclude') throw new AsteriskConfigError(file, lineno, `unsupported directive #${m[1]}`);
      if (!arg) throw new AsteriskConfigError(file, lineno, `directive '#${m[1]}' needs an argument`);
      const included = load(arg);
      if (included === undefined) {
        if (directive === 'tryinclude') continue;
        throw new AsteriskConfigError(file, lineno, `the file '${arg}' was listed as a #include but it does not exist`);
      }
      parseInto(out, state, included, arg, load, depth + 1);
    } else {
      if (!state.current) throw new AsteriskConfigError(file, lineno, 'No category context');
      const eq = cur.indexOf('=');
      if (eq < 0) {
        out.warnings.push(`No '=' (equal sign) in line ${lineno} of ${file}`);
        continue;
      }
      const name = cur.slice(0, eq).trim();
      const object = cur[eq + 1] === '>';
      const value = cur.slice(eq + (object ? 2 : 1)).trim();
      if (!name) {
        out.warnings.push(`No variable name in line ${lineno} of ${file}`);
        continue;
      }
      state.current.variables.push({ name, value, object, file, line: lineno });
    }
  }
}

function header(out: ParsedConfig, cur: string, file: string, lineno: number): ConfigCategory {
  const close = cur.indexOf(']');
  if (close < 0) throw new AsteriskConfigError(file, lineno, "no closing ']'");
  const name = cur.slice(1, close);
  const cat: ConfigCategory = { name, template: false, variables: [] };
  if (cur[close + 1] !== '(') {
    out.categories.push(cat);
    return cat;
  }
  const end = cur.indexOf(')', close + 2);
  if (end < 0) throw new AsteriskConfigError(file, lineno, "no closing ')'");
  let target = cat;
  let appended = false;
  for (const opt of cur.slice(close + 2, end).split(',')) {
    if (opt === '!') cat.template = true;
    else if (opt.startsWith('+')) {
      const existing = out.categories.find((c) => c.name === name);
      if (!existing) throw new AsteriskConfigError(file, lineno, `Category addition requested, but category '${name}' does not exist`);
      target = existing;
      appended = true;
    } else {
      const base = out.categories.find((c) => c.name === opt);
      if (!base) throw new AsteriskConfigError(file, lineno, `Inheritance requested, but category '${opt}' does not exist`);
      cat.variables.push(...base.variables);
    }
  }
  if (!appended) out.categories.push(cat);
  return target;
}

/** Removes `;` comments (not `\;`) and `;--` … `--;` block comments, which may span lines and nest. */
function stripComments(line: string, depth: number): { text: string; depth: number } {
  let text = '';
  for (let i = 0; i < line.length; i++) {
    if (depth > 0) {
      if (line.startsWith('--;', i)) {
        depth--;
        i += 2;
      } else if (line.startsWith(';--', i)) {
        depth++;
        i += 2;
      }
      continue;
    }
    if (line[i] === ';' && line[i - 1] !== '\\') {
      if (line.startsWith(';--', i)) {
        depth++;
        i += 2;
        continue;
      }
      break;
    }
    text += line[i];
  }
  return { text: text.replace(/\\;/g, ';'), depth };
}
