/** Resolves `/ari/...` paths the way res_ari.c walks its handler tree: 404 "Resource not found", 405 "Invalid method". */
import { type OperationSpec, OPERATIONS, RESOURCE_PATHS } from './params.js';

interface Node {
  segment: string;
  wildcard: boolean;
  children: Node[];
  methods: Set<string>;
  template: string;
}

export type RouteResult =
  | { kind: 'notFound'; message: string }
  | { kind: 'methodNotAllowed'; allow: string }
  | { kind: 'unimplemented'; template: string }
  | { kind: 'op'; op: OperationSpec; pathVars: Record<string, string> };

/** Asterisk's ast_http_method order, used for the Allow header. */
const METHOD_ORDER = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE'];

function buildTree(): Node {
  const root: Node = { segment: '', wildcard: false, children: [], methods: new Set(), template: '' };
  for (const [path, methods] of RESOURCE_PATHS) {
    let node = root;
    for (const seg of path.split('/').filter(Boolean)) {
      let child = node.children.find((c) => c.segment === seg);
      if (!child) {
        child = { segment: seg, wildcard: seg.startsWith('{'), children: [], methods: new Set(), template: `${node.template}/${seg}` };
        node.children.push(child);
      }
      node = child;
    }
    for (const m of methods.split(' ')) node.methods.add(m);
  }
  return root;
}

const TREE = buildTree();
const OPS = new Map(OPERATIONS.map((op) => [`${op.method} ${op.path}`, op]));

/** `rest` is the part after `/ari` (e.g. `/channels/123/snoop`). */
export function resolveRoute(method: string, rest: string): RouteResult {
  if (rest.length > 1 && rest.endsWith('/')) {
    return { kind: 'notFound', message: `ARI URLs do not end with a slash. Try /ari/${rest.slice(1, -1)}` };
  }
  let node = TREE;
  const pathVars: Record<string, string> = {};
  const segments = rest.split('/').slice(1);
  for (const raw of segments) {
    if (raw.length === 0) break; // res_ari.c stops at the first empty segment
    const seg = safeDecode(raw);
    const child = node.children.find((c) => !c.wildcard && c.segment === seg) ?? node.children.find((c) => c.wildcard);
    if (!child) return { kind: 'notFound', message: 'Resource not found' };
    if (child.wildcard) pathVars[child.segment.slice(1, -1)] = seg;
    node = child;
  }
  if (!node.methods.has(method)) {
    const allow = ['OPTIONS', ...METHOD_ORDER.filter((m) => node.methods.has(m))].join(',');
    return { kind: 'methodNotAllowed', allow };
  }
  const op = OPS.get(`${method} ${node.template}`);
  if (!op) return { kind: 'unimplemented', template: node.template };
  return { kind: 'op', op, pathVars };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
