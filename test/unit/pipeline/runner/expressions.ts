/**
 * GitHub Actions expressions (`${{ ... }}` and `if:` conditions), evaluated as the runner does: literals, context
 * access (`a.b`, `a['b']`, the `*` filter), `!`, comparisons, `==`/`!=` with GitHub's loose coercion and
 * case-insensitive strings, `&&`/`||` returning an operand, and the functions the workflows may call. Written
 * here because GitHub's own evaluator (`@actions/expressions`) is an ES module only, which neither jest nor
 * the CommonJS program can load. Anything outside the documented grammar is an error, never a silent guess, so
 * a workflow that uses something new fails its job test loudly.
 *
 * Reference: "Evaluate expressions in workflows and actions" in GitHub's documentation (operators, literals,
 * functions, status check functions, object filters).
 */

/** An expression value: what the contexts hold. */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

/** What an evaluation can read: the contexts and the job's status for the status functions. */
export interface EvalContext {
  contexts: Record<string, Value>;
  /** The job's status so far (success/failure/cancelled), for success(), failure(), cancelled(). */
  jobStatus?: 'success' | 'failure' | 'cancelled';
  /** The result of each `needs` job, for a job-level `if:`. */
  needsResults?: string[];
  /** hashFiles(patterns) as the runner computes it (workspace-relative globs). */
  hashFiles?: (patterns: string[]) => string;
}

type Token =
  | { kind: 'num'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'ident'; value: string }
  | { kind: 'op'; value: string };

type Node =
  | { t: 'lit'; v: Value }
  | { t: 'ctx'; name: string }
  | { t: 'prop'; obj: Node; key: Node | string }
  | { t: 'star'; obj: Node }
  | { t: 'not'; e: Node }
  | { t: 'bin'; op: string; l: Node; r: Node }
  | { t: 'call'; fn: string; args: Node[] };

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', '.', ',', '*'];

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) {
          throw new Error(`unterminated string in expression: ${text}`);
        }
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i++];
      }
      out.push({ kind: 'str', value: s });
      continue;
    }
    const num = /^(0x[0-9a-fA-F]+|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)/.exec(text.slice(i));
    if (num && (/\d/.test(c) || ((c === '-' || c === '+') && out.length === 0))) {
      out.push({ kind: 'num', value: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i));
    if (ident) {
      out.push({ kind: 'ident', value: ident[0] });
      i += ident[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op === undefined) {
      throw new Error(`unexpected character "${c}" in expression: ${text}`);
    }
    out.push({ kind: 'op', value: op });
    i += op.length;
  }
  return out;
}

const FUNCTIONS = new Set([
  'contains',
  'startswith',
  'endswith',
  'format',
  'join',
  'tojson',
  'fromjson',
  'hashfiles',
  'success',
  'always',
  'cancelled',
  'failure',
]);

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
  ) {}

  parse(): Node {
    const node = this.or();
    if (this.pos !== this.tokens.length) {
      throw new Error(`unexpected "${this.describe(this.tokens[this.pos])}" in expression: ${this.text}`);
    }
    return node;
  }

  private describe(t: Token | undefined): string {
    return t === undefined ? 'end' : String(t.value);
  }

  private peekOp(...ops: string[]): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === 'op' && ops.includes(t.value) ? t.value : undefined;
  }

  private expectOp(op: string): void {
    if (this.peekOp(op) === undefined) {
      throw new Error(
        `expected "${op}" but found "${this.describe(this.tokens[this.pos])}" in expression: ${this.text}`,
      );
    }
    this.pos++;
  }

  private or(): Node {
    let l = this.and();
    while (this.peekOp('||')) {
      this.pos++;
      l = { t: 'bin', op: '||', l, r: this.and() };
    }
    return l;
  }

  private and(): Node {
    let l = this.equality();
    while (this.peekOp('&&')) {
      this.pos++;
      l = { t: 'bin', op: '&&', l, r: this.equality() };
    }
    return l;
  }

  private equality(): Node {
    let l = this.comparison();
    for (let op = this.peekOp('==', '!='); op; op = this.peekOp('==', '!=')) {
      this.pos++;
      l = { t: 'bin', op, l, r: this.comparison() };
    }
    return l;
  }

  private comparison(): Node {
    let l = this.unary();
    for (let op = this.peekOp('<', '<=', '>', '>='); op; op = this.peekOp('<', '<=', '>', '>=')) {
      this.pos++;
      l = { t: 'bin', op, l, r: this.unary() };
    }
    return l;
  }

  private unary(): Node {
    if (this.peekOp('!')) {
      this.pos++;
      return { t: 'not', e: this.unary() };
    }
    return this.postfix(this.primary());
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.peekOp('.')) {
        this.pos++;
        const t = this.tokens[this.pos++];
        if (t?.kind === 'op' && t.value === '*') {
          node = { t: 'star', obj: node };
        } else if (t?.kind === 'ident') {
          node = { t: 'prop', obj: node, key: t.value };
        } else {
          throw new Error(`expected a property name after "." in expression: ${this.text}`);
        }
      } else if (this.peekOp('[')) {
        this.pos++;
        if (this.peekOp('*')) {
          this.pos++;
          this.expectOp(']');
          node = { t: 'star', obj: node };
        } else {
          const key = this.or();
          this.expectOp(']');
          node = { t: 'prop', obj: node, key };
        }
      } else {
        return node;
      }
    }
  }

  private primary(): Node {
    const t = this.tokens[this.pos++];
    if (t === undefined) {
      throw new Error(`unexpected end of expression: ${this.text}`);
    }
    if (t.kind === 'num' || t.kind === 'str') {
      return { t: 'lit', v: t.value };
    }
    if (t.kind === 'op' && t.value === '(') {
      const e = this.or();
      this.expectOp(')');
      return e;
    }
    if (t.kind === 'ident') {
      const lower = t.value.toLowerCase();
      if (lower === 'true' || lower === 'false') {
        return { t: 'lit', v: lower === 'true' };
      }
      if (lower === 'null') {
        return { t: 'lit', v: null };
      }
      if (this.peekOp('(')) {
        if (!FUNCTIONS.has(lower)) {
          throw new Error(`unknown function ${t.value}() in expression: ${this.text}`);
        }
        this.pos++;
        const args: Node[] = [];
        if (!this.peekOp(')')) {
          args.push(this.or());
          while (this.peekOp(',')) {
            this.pos++;
            args.push(this.or());
          }
        }
        this.expectOp(')');
        return { t: 'call', fn: lower, args };
      }
      return { t: 'ctx', name: t.value };
    }
    throw new Error(`unexpected "${t.value}" in expression: ${this.text}`);
  }
}

/** Parses an expression (the text inside `${{ }}`); throws on anything outside the grammar. */
export function parseExpression(text: string): Node {
  return new Parser(tokenize(text), text).parse();
}

function isObject(v: Value): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** GitHub's truthiness: false, 0, -0, '', null and NaN are falsy. */
export function truthy(v: Value): boolean {
  if (v === null || v === false || v === '') {
    return false;
  }
  if (typeof v === 'number') {
    return v !== 0 && !Number.isNaN(v);
  }
  return true;
}

function toNumber(v: Value): number {
  if (v === null) {
    return 0;
  }
  if (typeof v === 'boolean') {
    return v ? 1 : 0;
  }
  if (typeof v === 'number') {
    return v;
  }
  if (typeof v === 'string') {
    return v.trim() === '' ? 0 : Number(v);
  }
  return NaN;
}

/** How a value is written into a script or an input: null is '', objects are JSON. */
export function toText(v: Value): string {
  if (v === null) {
    return '';
  }
  if (typeof v === 'string') {
    return v;
  }
  if (typeof v === 'boolean' || typeof v === 'number') {
    return String(v);
  }
  return JSON.stringify(v, null, 2);
}

function looseEqual(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    return a.toLowerCase() === b.toLowerCase();
  }
  if (typeof a === typeof b && (typeof a !== 'object' || a === null || b === null)) {
    return a === b;
  }
  if ((typeof a === 'object' && a !== null) || (typeof b === 'object' && b !== null)) {
    return a === b;
  }
  return toNumber(a) === toNumber(b);
}

function compare(op: string, a: Value, b: Value): boolean {
  let x: number | string;
  let y: number | string;
  if (typeof a === 'string' && typeof b === 'string') {
    x = a.toLowerCase();
    y = b.toLowerCase();
  } else {
    x = toNumber(a);
    y = toNumber(b);
    if (Number.isNaN(x) || Number.isNaN(y)) {
      return false;
    }
  }
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

function getProp(obj: Value, key: Value): Value {
  if (Array.isArray(obj)) {
    if (typeof key === 'number' || (typeof key === 'string' && /^\d+$/.test(key))) {
      return obj[Number(key)] ?? null;
    }
    // A property of a filtered array applies to each element (`needs.*.result`).
    return obj.map((e) => getProp(e, key)).filter((e) => e !== null);
  }
  if (isObject(obj) && typeof key === 'string') {
    if (key in obj) {
      return obj[key];
    }
    const found = Object.keys(obj).find((k) => k.toLowerCase() === key.toLowerCase());
    return found === undefined ? null : obj[found];
  }
  return null;
}

function format(template: string, args: Value[]): string {
  return template.replace(/\{\{|\}\}|\{(\d+)\}/g, (m, i: string | undefined) => {
    if (m === '{{') {
      return '{';
    }
    if (m === '}}') {
      return '}';
    }
    const n = Number(i);
    if (n >= args.length) {
      throw new Error(`format(): no argument {${n}}`);
    }
    return toText(args[n]);
  });
}

function evalNode(node: Node, ctx: EvalContext): Value {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'ctx': {
      const name = Object.keys(ctx.contexts).find((k) => k.toLowerCase() === node.name.toLowerCase());
      if (name === undefined) {
        throw new Error(`unknown context "${node.name}"`);
      }
      return ctx.contexts[name];
    }
    case 'prop':
      return getProp(
        evalNode(node.obj, ctx),
        typeof node.key === 'string' ? node.key : evalNode(node.key, ctx),
      );
    case 'star': {
      const v = evalNode(node.obj, ctx);
      return Array.isArray(v) ? v : isObject(v) ? Object.values(v) : [];
    }
    case 'not':
      return !truthy(evalNode(node.e, ctx));
    case 'bin': {
      if (node.op === '&&') {
        const l = evalNode(node.l, ctx);
        return truthy(l) ? evalNode(node.r, ctx) : l;
      }
      if (node.op === '||') {
        const l = evalNode(node.l, ctx);
        return truthy(l) ? l : evalNode(node.r, ctx);
      }
      const l = evalNode(node.l, ctx);
      const r = evalNode(node.r, ctx);
      if (node.op === '==') {
        return looseEqual(l, r);
      }
      if (node.op === '!=') {
        return !looseEqual(l, r);
      }
      return compare(node.op, l, r);
    }
    case 'call':
      return call(node.fn, node.args, ctx);
  }
}

function call(fn: string, argNodes: Node[], ctx: EvalContext): Value {
  const args = argNodes.map((a) => evalNode(a, ctx));
  const str = (v: Value) => toText(v).toLowerCase();
  const arity = (min: number, max = min) => {
    if (args.length < min || args.length > max) {
      throw new Error(
        `${fn}() takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${args.length}`,
      );
    }
  };
  switch (fn) {
    case 'contains': {
      arity(2);
      const [search, item] = args;
      if (Array.isArray(search)) {
        return search.some((e) => looseEqual(e, item));
      }
      return str(search).includes(str(item));
    }
    case 'startswith':
      arity(2);
      return str(args[0]).startsWith(str(args[1]));
    case 'endswith':
      arity(2);
      return str(args[0]).endsWith(str(args[1]));
    case 'format':
      arity(1, 99);
      return format(toText(args[0]), args.slice(1));
    case 'join': {
      arity(1, 2);
      const sep = args.length > 1 ? toText(args[1]) : ',';
      return Array.isArray(args[0]) ? args[0].map(toText).join(sep) : toText(args[0]);
    }
    case 'tojson':
      arity(1);
      return JSON.stringify(args[0], null, 2);
    case 'fromjson':
      arity(1);
      return JSON.parse(toText(args[0])) as Value;
    case 'hashfiles':
      if (ctx.hashFiles === undefined) {
        throw new Error('hashFiles() is not available here');
      }
      arity(1, 99);
      return ctx.hashFiles(args.map(toText));
    case 'success':
    case 'failure':
    case 'cancelled':
    case 'always': {
      arity(0);
      if (fn === 'always') {
        return true;
      }
      if (ctx.needsResults !== undefined) {
        // A job's condition: the status of the jobs it needs.
        if (fn === 'cancelled') {
          return ctx.needsResults.includes('cancelled');
        }
        const failed = ctx.needsResults.some((r) => r === 'failure' || r === 'cancelled');
        return fn === 'failure' ? failed : !failed;
      }
      const status = ctx.jobStatus ?? 'success';
      return fn === 'success'
        ? status === 'success'
        : fn === 'failure'
          ? status === 'failure'
          : status === 'cancelled';
    }
  }
  throw new Error(`unknown function ${fn}()`);
}

/** Evaluates one expression (without `${{ }}`). */
export function evaluate(text: string, ctx: EvalContext): Value {
  return evalNode(parseExpression(text), ctx);
}

/** Replaces every `${{ expr }}` in `text` by its value as text (what the runner does to `run:` and inputs). */
export function interpolate(text: string, ctx: EvalContext): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, expr: string) => toText(evaluate(expr, ctx)));
}

/** Whether an expression calls a status function, so no implicit `success() &&` applies. */
function hasStatusFunction(node: Node): boolean {
  switch (node.t) {
    case 'call':
      return (
        ['success', 'failure', 'cancelled', 'always'].includes(node.fn) || node.args.some(hasStatusFunction)
      );
    case 'not':
      return hasStatusFunction(node.e);
    case 'bin':
      return hasStatusFunction(node.l) || hasStatusFunction(node.r);
    case 'prop':
      return hasStatusFunction(node.obj) || (typeof node.key !== 'string' && hasStatusFunction(node.key));
    case 'star':
      return hasStatusFunction(node.obj);
    default:
      return false;
  }
}

/**
 * An `if:` condition: with or without `${{ }}`; without a status function it means `success() && (...)`, as on
 * GitHub; an absent condition is `success()`.
 */
export function condition(text: string | boolean | undefined, ctx: EvalContext): boolean {
  if (text === undefined) {
    return truthy(call('success', [], ctx));
  }
  if (typeof text === 'boolean') {
    return text && truthy(call('success', [], ctx));
  }
  const trimmed = text.trim();
  const whole = /^\$\{\{([\s\S]*)\}\}$/.exec(trimmed);
  const expr = whole && !whole[1].includes('${{') ? whole[1] : trimmed;
  if (expr.includes('${{')) {
    throw new Error(`an if: condition mixes text and \${{ }}: ${text}`);
  }
  const node = parseExpression(expr);
  const value = truthy(evalNode(node, ctx));
  return hasStatusFunction(node) ? value : value && truthy(call('success', [], ctx));
}
