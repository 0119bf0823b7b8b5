/**
 * Which names carry secrets: HTTP header names, JSON keys, URL and form
 * parameters, environment variables and command-line flags, and what kind of
 * secret their value is. A name is split into words (snake_case, kebab-case,
 * camelCase, UPPER_CASE, percent-encoded separators) and judged by its words:
 *
 * - `secret`: any non-empty value is a credential (`password`, `api_key`,
 *   `clientSecret`, `DB_PASSWORD`, `x-auth-token`, `aws_secret_access_key`);
 * - `maybe`: only a value that looks like a credential is (`token`, `key`,
 *   `auth`: `"token":"Hello"` in logprobs or `"key":"user_id"` are not);
 * - null: not a secret's name (`max_tokens`, `prompt_cache_key`, `public_key`).
 */

/** What kind of secret something is (`kind` of exposure events). */
export type SecretKind = string;

export interface NameVerdict {
  strength: 'secret' | 'maybe';
  kind: SecretKind;
  /** Mask the whole value, even a key of a known shape whose prefix would be kept (header values, URL parameters). */
  whole?: boolean;
}

/** Header names whose whole value is a credential (lower case). */
const SECRET_HEADER_EXACT = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-amz-security-token',
  'x-amz-content-sha256-secret',
  'ocp-apim-subscription-key',
  'x-functions-key',
  'private-token',
  'x-vault-token',
  'authentication',
]);
/** Suffixes of header names that carry credentials (x-auth-token, anthropic-api-key, x-csrf-token, ...). */
const SECRET_HEADER_SUFFIX = /(?:^|[-_])(?:api[-_]?key|apikey|token|secret|password|passwd|session[-_]?id|access[-_]?key|subscription[-_]?key)$/i;

/**
 * A judgement of names, remembered for a bounded number of them: names
 * repeat (JSON keys, the headers of every request), judging one is a few
 * expressions and a copy. `judge` never returns undefined.
 */
function remembered<T>(judge: (name: string) => T): (name: string) => T {
  const known = new Map<string, T>();
  return (name) => {
    const hit = known.get(name);
    if (hit !== undefined) return hit;
    const v = judge(name);
    if (known.size >= 4096) known.clear();
    known.set(name, v);
    return v;
  };
}

/** Is this header (any case) a credential carrier? */
export const isSecretHeader: (name: string) => boolean = remembered((name) => {
  const n = name.toLowerCase();
  return SECRET_HEADER_EXACT.has(n) || SECRET_HEADER_SUFFIX.test(n);
});

/** The kind of secret a credential header carries (by name; Bearer/Basic values are told apart by the caller). */
export function headerKind(name: string): SecretKind {
  const n = name.toLowerCase();
  if (n === 'cookie' || n === 'set-cookie') return 'cookie';
  if (n === 'authorization' || n === 'proxy-authorization' || n === 'authentication') return 'authorization';
  return nameKind(words(n)) ?? 'api_key';
}

/** Words that make any value a secret wherever they are in the name. */
const STRONG = new Set(['password', 'passwd', 'passphrase', 'secret', 'secrets', 'apikey', 'privatekey', 'clientsecret', 'secretkey', 'accesstoken']);
/** Compound single words, split for judging. */
const COMPOUNDS: Record<string, string[]> = {
  apikey: ['api', 'key'],
  authtoken: ['auth', 'token'],
  accesstoken: ['access', 'token'],
  refreshtoken: ['refresh', 'token'],
  idtoken: ['id', 'token'],
  sessiontoken: ['session', 'token'],
  bearertoken: ['bearer', 'token'],
  clientsecret: ['client', 'secret'],
  secretkey: ['secret', 'key'],
  privatekey: ['private', 'key'],
  accesskey: ['access', 'key'],
  sessionid: ['session', 'id'],
  xapikey: ['x', 'api', 'key'],
};
/** Last words that name something about a secret, not the secret (`secret_name`, `token_url`, `key_file`). */
const NOT_A_VALUE = new Set([
  'name',
  'names',
  'id',
  'ids',
  'arn',
  'ref',
  'path',
  'file',
  'dir',
  'url',
  'uri',
  'endpoint',
  'host',
  'port',
  'type',
  'kind',
  'version',
  'count',
  'length',
  'len',
  'size',
  'ttl',
  'expiry',
  'expires',
  'expiration',
  'timeout',
  'limit',
  'max',
  'min',
  'enabled',
  'disabled',
  'required',
  'mode',
  'format',
  'prefix',
  'suffix',
  'hint',
  'label',
  'field',
  'header',
  'param',
  'env',
  'var',
  'source',
  'provider',
  'helper',
  'command',
  'cmd',
  'stdin',
  'location',
  'policy',
  'strength',
  'reset',
  'changed',
  'set',
  'exists',
  'usage',
  'used',
  'tokens',
  'keys',
  'fingerprint',
  'algorithm',
  'alg',
  'scope',
  'scopes',
  'user',
  'username',
  'login',
  'region',
]);
/** Words before `token` that make it not a credential (tokenizer configs, pagination, token counts). */
const BENIGN_TOKEN = new Set([
  'eos',
  'bos',
  'pad',
  'unk',
  'sep',
  'cls',
  'mask',
  'stop',
  'start',
  'end',
  'special',
  'next',
  'page',
  'continuation',
  'pagination',
  'cursor',
  'sync',
  'output',
  'input',
  'first',
  'last',
  'max',
  'min',
  'num',
  'total',
  'count',
  'prompt',
  'completion',
  'reasoning',
  'cached',
  'thinking',
  'vocab',
  'csrf',
  'xsrf',
]);
/** Words before `key` that make it not a credential (`sort_key`, `prompt_cache_key`, `public_key`). */
const BENIGN_KEY = new Set([
  'public',
  'sort',
  'primary',
  'partition',
  'foreign',
  'cache',
  'idempotency',
  'object',
  'hash',
  'range',
  'row',
  'map',
  'lookup',
  'dedup',
  'dedupe',
  'group',
  'routing',
  'message',
  'translation',
  'i18n',
  'unique',
  'composite',
  'index',
  'order',
  'lock',
  'storage',
  's3',
  'bucket',
  'item',
  'node',
  'list',
  'dict',
  'column',
  'table',
  'shard',
  'join',
  'match',
  'event',
  'config',
  'state',
  'query',
  'filter',
  'metric',
  'label',
  'tag',
  'attribute',
  'property',
  'react',
  'hot',
  'short',
  'menu',
  'sub',
  'dom',
  'js',
  'next',
]);
/** Words before `key` that make it a credential whatever the value (`api_key`, `signing_key`). */
const SECRET_KEY_WORDS = new Set([
  'api',
  'access',
  'secret',
  'private',
  'auth',
  'signing',
  'encryption',
  'master',
  'license',
  'client',
  'service',
  'account',
  'app',
  'admin',
  'deploy',
  'webhook',
  'subscription',
  'session',
  'hmac',
  'jwt',
  'openai',
  'anthropic',
  'gemini',
  'google',
  'stripe',
  'mistral',
  'groq',
  'xai',
]);

const GLUED = /^([a-z0-9]{2,})(password|passwd|passphrase|secret|token|apikey|accesskey|secretkey|privatekey|authtoken|accesstoken)$/;

/** Split a name into lower-case words (percent-encoded separators decoded). */
export function words(name: string): string[] {
  let n = name;
  if (n.includes('%'))
    n = n
      .replace(/%5[Ff]/g, '_')
      .replace(/%2[Dd]/g, '-')
      .replace(/%2[Ee]/g, '.');
  const out: string[] = [];
  for (const part of n
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)) {
    if (!part) continue;
    const c = COMPOUNDS[part];
    if (c) {
      out.push(...c);
      continue;
    }
    // a secret word glued to another: PGPASSWORD, MYSQLPWD, githubtoken
    const glued = GLUED.exec(part);
    if (glued && glued[1]) out.push(glued[1], ...(COMPOUNDS[glued[2]] ?? [glued[2]]));
    else out.push(part);
  }
  return out;
}

function nameKind(w: readonly string[]): SecretKind | null {
  const has = (x: string) => w.includes(x);
  if (has('password') || has('passwd') || has('passphrase') || has('pwd') || has('pass')) return 'password';
  if (has('private') && has('key')) return 'private_key';
  if (has('aws') && has('secret')) return 'aws_secret_access_key';
  if (has('secret') && has('access') && has('key')) return 'aws_secret_access_key';
  if (has('client') && has('secret')) return 'client_secret';
  if (has('api') && has('key')) return 'api_key';
  if (has('cookie')) return 'cookie';
  if (has('session')) return 'session_token';
  if (has('secret') || has('secrets')) return 'secret';
  if (has('token')) return 'token';
  if (has('authorization')) return 'authorization';
  if (has('key')) return 'api_key';
  return null;
}

/**
 * Is this a secret's name, and how sure? `upper`: the name is written in
 * capitals (an environment variable), where an unknown `FOO_KEY` is a secret.
 */
export function classifyName(name: string): NameVerdict | null {
  if (name.length === 0 || name.length > 80) return null;
  return verdictOf(name);
}

const verdictOf = remembered(judgeName);

function judgeName(name: string): NameVerdict | null {
  const w = words(name);
  if (w.length === 0) return null;
  const upper = /[A-Z]/.test(name) && !/[a-z]/.test(name);
  const last = w[w.length - 1];
  const prev = w.length > 1 ? w[w.length - 2] : '';
  const kind = () => nameKind(w) ?? 'secret';
  if (w.length === 1 && (last === 'oldpwd' || (last === 'pwd' && upper))) return null;
  if (prev === 'session' && last === 'id') return { strength: 'secret', kind: 'session_token' };
  if (NOT_A_VALUE.has(last) && w.length > 1) return null;
  for (const x of w) if (STRONG.has(x)) return { strength: 'secret', kind: kind() };
  if (last === 'pwd' || last === 'pass') return w.length > 1 ? { strength: 'secret', kind: 'password' } : { strength: 'maybe', kind: 'password' };
  if (last === 'authorization' || last === 'cookie' || last === 'bearer') return { strength: 'secret', kind: last === 'bearer' ? 'bearer_token' : kind() };
  // GITHUB_PAT, GITLAB_PAT (personal access tokens)
  if (last === 'pat' && upper && w.length > 1) return { strength: 'secret', kind: 'token' };
  if (last === 'token') {
    if (w.length === 1) return { strength: 'maybe', kind: 'token' };
    if (BENIGN_TOKEN.has(prev)) return null;
    return { strength: 'secret', kind: kind() };
  }
  if (last === 'key') {
    if (w.length === 1) return { strength: 'maybe', kind: 'api_key' };
    if (SECRET_KEY_WORDS.has(prev) || w.some((x) => x === 'secret' || x === 'private')) return { strength: 'secret', kind: kind() };
    if (BENIGN_KEY.has(prev)) return null;
    return upper ? { strength: 'secret', kind: kind() } : { strength: 'maybe', kind: 'api_key' };
  }
  if (last === 'auth' || last === 'credentials' || last === 'credential' || last === 'creds') return { strength: 'maybe', kind: 'credential' };
  if (last === 'sid' && w.length > 1) return { strength: 'maybe', kind: 'session_token' };
  return null;
}

/** URL query / form parameter names whose value is a secret after `?`/`&` (signed URLs, Gemini's ?key=). */
const SECRET_PARAM =
  /^(?:key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|code_verifier|access_token|token)$/i;

/** Is this a URL/form parameter whose value is a secret? */
export function paramVerdict(name: string): NameVerdict | null {
  const n = name.includes('%') ? name.replace(/%5[Ff]/g, '_').replace(/%2[Dd]/g, '-') : name;
  if (SECRET_PARAM.test(n))
    return { strength: 'secret', kind: /sig|signature|credential|security/i.test(n) ? 'signature' : n.toLowerCase() === 'key' ? 'api_key' : 'token' };
  return classifyName(n);
}

/** JSON object keys whose string value is a secret (any value). */
export function isSecretKey(name: string): boolean {
  return classifyName(name)?.strength === 'secret';
}

/** Is this URL/form parameter a secret? */
export function isSecretParam(name: string): boolean {
  return paramVerdict(name)?.strength === 'secret';
}

/** Does a value look like a credential (random, key-like) rather than a word, a number or an identifier? */
export function credentialLike(v: string): boolean {
  const n = v.length;
  if (n < 8 || n > 8192) return false;
  if (/[\s"'<>]/.test(v)) return false;
  if (/^(?:\[REDACTED\]\**|\*+)$/.test(v)) return false;
  if (/^(?:https?:\/\/|\/|\.\/|~\/|\$\{|\$[A-Z_]|<|\{\{)/.test(v)) return false;
  if (/^(?:true|false|null|none|undefined|include|omit|same-origin|required|optional)$/i.test(v)) return false;
  // identifiers made of words and small numbers: claude-3-5-sonnet, user_id, v1.2.3, gpt-4o-mini-2024-07-18
  const parts = v.split(/[-_.:/]+/).filter(Boolean);
  if (parts.length >= 2 && parts.every((p) => /^(?:[a-z]{1,12}|\d{1,8}|[a-z]{1,10}\d{1,3}[a-z]?|\d{1,3}[a-z]{1,3})$/.test(p))) return false;
  let lower = 0;
  let upper = 0;
  let digit = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 97 && c <= 122) lower++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c >= 48 && c <= 57) digit++;
  }
  const letters = lower + upper;
  // the base64 of user:password (docker config "auth", Basic credentials)
  if (n % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(v) && /^[\x20-\x7e]+:[\x20-\x7e]+$/.test(Buffer.from(v, 'base64').toString('latin1'))) return true;
  if (digit > 0 && letters > 0) return n >= 10 || (upper > 0 && lower > 0);
  if (digit === 0 && upper > 1 && lower > 1) return n >= 20 && upper >= 4;
  if (letters === 0 && digit >= 16) return true;
  return false;
}
