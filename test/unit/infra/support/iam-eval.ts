/**
 * Evaluates the IAM conditions the stacks write, for the subset of CEL they use: `resource.type == "…"`,
 * `resource.name.startsWith("…")`, `api.getAttribute("storage.googleapis.com/objectListPrefix", "")
 * .startsWith("…")`, `&&`, `||` and parentheses. Anything else in an expression is an error, so a condition
 * this cannot read fails the test instead of being guessed at.
 */

/** What Cloud Storage checks a request against. */
export interface StorageRequest {
  /** `storage.googleapis.com/Object` for object reads and writes, `storage.googleapis.com/Bucket` for list. */
  type: "storage.googleapis.com/Object" | "storage.googleapis.com/Bucket";
  /** `projects/_/buckets/B/objects/O`, or `projects/_/buckets/B` for a list. */
  name: string;
  /** A list request's `prefix` parameter (absent: the attribute's default applies). */
  listPrefix?: string;
}

type Token =
  | { t: "str"; v: string }
  | { t: "op"; v: "&&" | "||" | "==" | "(" | ")" }
  | { t: "fn"; v: "type" | "nameStartsWith" | "listPrefixStartsWith" };

const PATTERNS: [RegExp, (m: RegExpExecArray) => Token][] = [
  [/^"((?:[^"\\]|\\.)*)"/, (m) => ({ t: "str", v: JSON.parse(`"${m[1]}"`) as string })],
  [/^&&/, () => ({ t: "op", v: "&&" })],
  [/^\|\|/, () => ({ t: "op", v: "||" })],
  [/^==/, () => ({ t: "op", v: "==" })],
  [/^\(/, () => ({ t: "op", v: "(" })],
  [/^\)/, () => ({ t: "op", v: ")" })],
  [/^resource\.type\b/, () => ({ t: "fn", v: "type" })],
  [/^resource\.name\.startsWith\(/, () => ({ t: "fn", v: "nameStartsWith" })],
  [
    /^api\.getAttribute\("storage\.googleapis\.com\/objectListPrefix",\s*""\)\.startsWith\(/,
    () => ({ t: "fn", v: "listPrefixStartsWith" }),
  ],
];

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  let rest = expression;
  while (rest.length > 0) {
    const ws = /^\s+/.exec(rest);
    if (ws) {
      rest = rest.slice(ws[0].length);
      continue;
    }
    let matched = false;
    for (const [re, make] of PATTERNS) {
      const m = re.exec(rest);
      if (!m) continue;
      tokens.push(make(m));
      rest = rest.slice(m[0].length);
      matched = true;
      break;
    }
    if (!matched) throw new Error(`cannot read the condition at: ${rest.slice(0, 40)}`);
  }
  return tokens;
}

/** Parses and evaluates; `startsWith(` calls consume their string argument and closing parenthesis. */
export function evaluateCondition(expression: string, request: StorageRequest): boolean {
  const tokens = tokenize(expression);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const token = tokens[i++];
    if (!token) throw new Error(`condition ends early: ${expression}`);
    return token;
  };
  const expect = (v: string) => {
    const token = next();
    if (token.t !== "op" || token.v !== v) throw new Error(`expected ${v} in ${expression}`);
  };
  const stringArg = () => {
    const token = next();
    if (token.t !== "str") throw new Error(`expected a string in ${expression}`);
    expect(")");
    return token.v;
  };
  const primary = (): boolean => {
    const token = next();
    if (token.t === "op" && token.v === "(") {
      const value = or();
      expect(")");
      return value;
    }
    if (token.t === "fn" && token.v === "type") {
      expect("==");
      const literal = next();
      if (literal.t !== "str") throw new Error(`expected a string after == in ${expression}`);
      return request.type === literal.v;
    }
    if (token.t === "fn" && token.v === "nameStartsWith") return request.name.startsWith(stringArg());
    if (token.t === "fn" && token.v === "listPrefixStartsWith") {
      return (request.listPrefix ?? "").startsWith(stringArg());
    }
    throw new Error(`unexpected ${JSON.stringify(token)} in ${expression}`);
  };
  const and = (): boolean => {
    let value = primary();
    while (peek()?.t === "op" && peek()?.v === "&&") {
      i++;
      const right = primary();
      value = value && right;
    }
    return value;
  };
  const or = (): boolean => {
    let value = and();
    while (peek()?.t === "op" && peek()?.v === "||") {
      i++;
      const right = and();
      value = value || right;
    }
    return value;
  };
  const result = or();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${expression}`);
  return result;
}

/** Every string literal a condition compares names or prefixes with. */
export function conditionLiterals(expression: string): string[] {
  return tokenize(expression)
    .filter((t): t is { t: "str"; v: string } => t.t === "str")
    .map((t) => t.v)
    .filter((v) => v !== "storage.googleapis.com/Object");
}

/** Which permissions each storage role the client stacks grant carries, of those the tests exercise. */
export const ROLE_PERMISSIONS: Record<string, readonly ("create" | "get" | "list")[]> = {
  "roles/storage.objectCreator": ["create"],
  "roles/storage.objectViewer": ["get", "list"],
  "roles/storage.objectUser": ["create", "get", "list"],
  "roles/storage.objectAdmin": ["create", "get", "list"],
};
