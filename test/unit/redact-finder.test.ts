/**
 * The secret finder piece by piece (lib/redact): names, shapes, masking
 * that keeps JSON and framing valid, secrets cut across pieces, command
 * lines. The corpus test drives all of it through the chains; here each
 * rule is pinned down with its kind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactArgv } from '../../lib/redact/argv';
import { findSecrets } from '../../lib/redact/find';
import { applyRanges, maskOf } from '../../lib/redact/mask';
import { classifyName, credentialLike } from '../../lib/redact/names';
import { redactText } from '../../lib/redact/rules';
import { TextStream } from '../../lib/redact/stream';
import { SseDeltaView } from '../../lib/redact/sse-view';

const kinds = (t: string) => findSecrets(t).findings.map((f) => f.kind);

describe('names', () => {
  it.each([
    ['password', 'secret'],
    ['DB_PASSWORD', 'secret'],
    ['PGPASSWORD', 'secret'],
    ['dbPassword', 'secret'],
    ['api_key', 'secret'],
    ['apiKey', 'secret'],
    ['APIKey', 'secret'],
    ['x-api-key', 'secret'],
    ['OPENAI_API_KEY', 'secret'],
    ['api%5Fkey', 'secret'],
    ['clientSecret', 'secret'],
    ['client_secret', 'secret'],
    ['aws_secret_access_key', 'secret'],
    ['SecretAccessKey', 'secret'],
    ['SECRET_KEY_BASE', 'secret'],
    ['refresh_token', 'secret'],
    ['GITHUB_TOKEN', 'secret'],
    ['SOME_SERVICE_KEY', 'secret'],
    ['private_key', 'secret'],
    ['passphrase', 'secret'],
    ['session_id', 'secret'],
    ['token', 'maybe'],
    ['key', 'maybe'],
    ['auth', 'maybe'],
    ['credentials', 'maybe'],
    ['widgetKey', 'maybe'],
  ])('%s is a secret name (%s)', (name, strength) => {
    expect(classifyName(name)?.strength).toBe(strength);
  });

  it.each([
    'max_tokens',
    'input_tokens',
    'prompt_cache_key',
    'public_key',
    'sort_key',
    'primary_key',
    'next_page_token',
    'eos_token',
    'password_policy',
    'secret_name',
    'token_url',
    'KEY_PATH',
    'TOKENIZERS_PARALLELISM',
    'PWD',
    'OLDPWD',
    'signature',
    'monkey',
    'author',
    'aws_access_key_id',
    'private_key_id',
  ])('%s is not', (name) => {
    expect(classifyName(name)).toBeNull();
  });

  it('tells credentials from words and identifiers', () => {
    for (const v of ['abcdef123456', 'Zx9Qw8Er7Ty6Ui5Op4As', 'dXNlcjpwYXNzd29yZA==', '1234567890123456']) expect(credentialLike(v), v).toBe(true);
    for (const v of ['Hello', 'user_id', 'claude-3-5-sonnet', 'gpt-4o-mini-2024-07-18', 'include', 'https://x.example/a', '${TOKEN}', 'session-42', 'v1.2.3']) {
      expect(credentialLike(v), v).toBe(false);
    }
  });
});

describe('shapes', () => {
  it.each([
    ['sk-ant-api03-' + 'A1b2C3d4E5f6G7h8I9j0'.repeat(4), 'anthropic_api_key', 'sk-ant-'],
    ['sk-proj-' + 'A1b2C3d4E5f6G7h8I9j0'.repeat(3), 'openai_api_key', 'sk-'],
    ['sk-' + 'A1b2C3d4E5f6G7h8I9j0'.repeat(2), 'openai_api_key', 'sk-'],
    ['sk-or-v1-' + 'a1b2c3d4'.repeat(8), 'openrouter_api_key', 'sk-'],
    ['AIza' + 'SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6', 'google_api_key', 'AIza'],
    ['ya29.' + 'a0AfH6SMBx1b2C3d4E5f6G7h8', 'google_oauth_token', 'ya29.'],
    ['ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8', 'github_token', 'ghp_'],
    ['github_pat_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8_x9', 'github_token', 'github_'],
    ['glpat-' + 'A1b2C3d4E5f6G7h8I9j0', 'gitlab_token', 'glpat-'],
    ['xoxb-1234567890-abcdefABCDEF', 'slack_token', 'xoxb-'],
    ['hf_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7', 'huggingface_token', 'hf_'],
    ['gsk_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7', 'groq_api_key', 'gsk_'],
    ['xai-' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7', 'xai_api_key', 'xai-'],
    ['sk_live_' + 'A1b2C3d4E5f6G7h8I9j0', 'stripe_secret_key', 'sk_'],
    ['rk_test_' + 'A1b2C3d4E5f6G7h8I9j0', 'stripe_restricted_key', 'rk_'],
    ['npm_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8', 'npm_token', 'npm_'],
    ['AKIAIOSFODNN7EXAMPLE', 'aws_access_key_id', 'AKIA'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'jwt', 'eyJ'],
  ])('%s is a %s, masked after the hint %s', (key, kind, hint) => {
    const text = `echo ${key} done`;
    expect(kinds(text)).toContain(kind);
    const masked = redactText(text);
    expect(masked).toBe(`echo ${hint}${maskOf(key.length - hint.length)} done`);
  });

  it('masks a PEM private key block whole, in text and JSON-escaped, keeping its line ends', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2C3d4E5f6G7h8\nI9j0K1l2M3n4O5p6Q7r8\n-----END RSA PRIVATE KEY-----';
    const masked = redactText(`key:\n${pem}\nend`);
    expect(masked.split('\n')).toHaveLength(pem.split('\n').length + 2);
    expect(masked).not.toMatch(/BEGIN|MIIE|END RSA/);
    const json = JSON.stringify({ private_key: pem, x: 1 });
    const mj = redactText(json);
    expect(JSON.parse(mj).x).toBe(1);
    expect(mj).not.toMatch(/MIIE|BEGIN/);
    expect(kinds(json)).toContain('private_key');
    // a certificate is not a secret
    expect(redactText('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----')).toContain('MIIB');
  });

  it('finds the AWS secret access key after its id, and by name in a credentials file', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    expect(redactText(`AKIAIOSFODNN7EXAMPLE,${secret}`)).not.toContain('wJalrXUt');
    expect(redactText(`[default]\naws_secret_access_key = ${secret}\n`)).not.toContain('wJalrXUt');
    expect(kinds(`AKIAIOSFODNN7EXAMPLE ${secret}`)).toEqual(['aws_access_key_id', 'aws_secret_access_key']);
  });

  it('Bearer and Basic credentials anywhere in text, URL userinfo, tool password flags', () => {
    expect(redactText('curl -H "Authorization: Bearer opaqueTokenValue123" https://x')).toBe('curl -H "Authorization: [REDACTED]****************" https://x');
    expect(redactText('then Bearer abcdef123456 was used')).not.toContain('abcdef12');
    expect(redactText('Basic dXNlcjpodW50ZXIy.')).not.toContain('dXNlcjpo');
    expect(redactText('git clone https://deploy:hunter2pass@git.example.com/r.git')).toBe(
      `git clone https://${maskOf('deploy:hunter2pass'.length)}@git.example.com/r.git`,
    );
    expect(redactText('redis://:s3cretpass@cache:6379')).not.toContain('s3cretpass');
    expect(redactText('mysql -u root -pS3cretPass db')).toBe('mysql -u root -p[REDACTED] db');
    expect(redactText('sshpass -p hunter2 ssh host')).toBe('sshpass -p ******* ssh host');
    expect(redactText('curl -u admin:hunter2x https://x')).toBe('curl -u admin:******** https://x');
  });

  it('named values: JSON at any depth and escaping, forms, env, ini, flags, multipart, netrc, connection strings', () => {
    const cases: Array<[string, string]> = [
      ['{"password":"hunter2-long"}', 'hunter2'],
      ['{"content":"{\\"password\\":\\"hunter2-long\\"}"}', 'hunter2'],
      ['"{\\\\\\"api_key\\\\\\":\\\\\\"deep-value-123\\\\\\"}"', 'deep-value'],
      ['{"content":"x\\n\\"client_secret\\": \\"cs-value-789\\""}', 'cs-value'],
      ['username=bob&password=hunter2&remember=1', 'hunter2'],
      ['GET /x?api%5Fkey=abc123def456&y=1', 'abc123def'],
      ['export DB_PASSWORD=hunter2\nHOME=/root', 'hunter2'],
      ['PGPASSWORD=hunter2 psql -h db', 'hunter2'],
      ['aws_secret_access_key = abcDEF123ghiJKL', 'abcDEF123'],
      ['tool --password hunter2 --verbose', 'hunter2'],
      ['tool --api-key=hunter2xyz status', 'hunter2'],
      ['Content-Disposition: form-data; name="password"\r\n\r\nhunter2\r\n--b', 'hunter2'],
      ['machine api.x.com login me password hunter2x', 'hunter2'],
      ['Server=db;User Id=sa;Password=two words;Encrypt=true', 'two words'],
      ['X-Auth-Token:\r\n  folded-token-value\r\nHost: x\r\n', 'folded-token'],
      ['password: hunter2-yaml', 'hunter2'],
    ];
    for (const [text, secret] of cases) expect(redactText(text), text).not.toContain(secret);
    expect(redactText('export DB_PASSWORD=hunter2\nHOME=/root')).toContain('HOME=/root');
  });

  it('leaves near-misses alone', () => {
    for (const t of [
      '{"token":"Hello","logprob":-0.1}',
      'ASIA_PACIFIC_NORTHEAST_1',
      'sk-learn-compatible-estimators',
      'sorted(items, key=len)',
      'for token in tokens: print(token)',
      'He was the Bearer of bad news.',
      'Basic authentication is deprecated',
      '{"key": "user_id"}',
      'export OPENAI_API_KEY=$OPENAI_API_KEY',
      'https://example.com:8443/a?page=2',
      '-----BEGIN CERTIFICATE-----',
      'cat /etc/passwd',
    ]) {
      expect(redactText(t), t).toBe(t);
    }
  });
});

describe('masking', () => {
  it('is length-preserving and keeps line ends, quotes and escape sequences whole', () => {
    const t = 'ab\\ncd"ef\\u0041gh\r\nij';
    const m = applyRanges(t, [{ start: 0, end: t.length }]);
    expect(m.length).toBe(t.length);
    expect(m).toBe('**\\n**"**\\u0041**\r\n**');
    // a range starting inside an escape leaves the escape whole
    expect(applyRanges('x\\u0041yz', [{ start: 3, end: 8 }])).toBe('x\\u0041*z');
    expect(applyRanges('x\\nyz', [{ start: 2, end: 5 }])).toBe('x\\n**');
  });

  it('JSON stays JSON whatever secrets its strings hold (property)', () => {
    const secret = fc.constantFrom(
      'sk-ant-api03-' + 'Ab1'.repeat(20),
      'hunter2-long',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIB\n-----END PRIVATE KEY-----',
      'Bearer abc123def456ghi',
    );
    const name = fc.constantFrom('password', 'api_key', 'note', 'content', 'token');
    fc.assert(
      fc.property(fc.array(fc.tuple(name, secret, fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 5 }), fc.nat({ max: 2 }), (fields, depth) => {
        let doc: unknown = Object.fromEntries(fields.map(([k, s, pre], i) => [`${k}${i ? i : ''}`, `${pre}${s}`]));
        for (let d = 0; d < depth; d++) doc = { content: JSON.stringify(doc) };
        const text = JSON.stringify(doc);
        const masked = redactText(text);
        expect(masked.length).toBe(text.length);
        expect(() => JSON.parse(masked)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('pieces', () => {
  const whole = (pieces: string[], stream = new TextStream()) => pieces.map((p) => applyRanges(p, stream.push(p))).join('');

  it('a secret cut anywhere between two pieces is masked (every cut)', () => {
    const key = 'sk-ant-api03-' + 'Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0L'.repeat(2);
    const texts = [
      `{"content":"my key ${key} ok"}`,
      `Authorization: Bearer ${key}\r\n`,
      `{"password":"hunter2-very-long-value"}`,
      `PGPASSWORD=hunter2value psql`,
    ];
    for (const text of texts) {
      for (let cut = 1; cut < text.length; cut++) {
        const out = whole([text.slice(0, cut), text.slice(cut)]);
        expect(out.length).toBe(text.length);
        for (const s of [key.slice(7), 'hunter2-very', 'hunter2value']) {
          for (let i = 0; i + 8 <= s.length; i++) expect(out, `${text} cut at ${cut}`).not.toContain(s.slice(i, i + 8));
        }
      }
    }
  });

  it('a PEM block longer than what is carried between pieces is masked to its END line', () => {
    const body = Array.from({ length: 30 }, (_, i) => `MIIB${String(i).padStart(2, '0')}` + 'Ab1Cd2Ef3Gh4'.repeat(5)).join('\n');
    const text = `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\nafter`;
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += 37) pieces.push(text.slice(i, i + 37));
    const out = whole(pieces);
    expect(out).not.toMatch(/MIIB|Ab1Cd2/);
    expect(out.endsWith('\nafter')).toBe(true);
  });

  it('a key streamed in JSON deltas is found once joined, and masked where its characters were', () => {
    const key = 'sk-proj-' + 'Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0L';
    const events = ['Use ', 'sk-', 'proj-Zx9', 'Qw8Er7Ty6', 'Ui5Op4As3Df2', 'Gh1Jk0L', ' now'].map(
      (t) => `data: ${JSON.stringify({ delta: { text: t } })}\n\n`,
    );
    const v = new SseDeltaView();
    const ts = new TextStream();
    let at = 0;
    const out = events
      .map((e) => {
        const r = [...ts.push(e), ...v.push(e, at).map((x) => ({ start: x.start - at, end: x.end - at }))];
        at += e.length;
        return applyRanges(e, r);
      })
      .join('');
    for (let i = 3; i + 8 <= key.length; i++) expect(out).not.toContain(key.slice(i, i + 8));
    expect(out).toContain('Use ');
  });
});

describe('command lines', () => {
  it('masks argv elements, keeping their number, across elements', () => {
    const cases: Array<[string[], string]> = [
      [['curl', '-H', 'Authorization: Bearer opaqueTokenValue123', 'https://x'], 'opaqueToken'],
      [['deployctl', '--password', 'two words here', '-v'], 'two words'],
      [['env', 'CLIENT_SECRET=plain value', './run'], 'plain value'],
      [['aws', 'configure', 'set', 'aws_secret_access_key', 'abcDEF123ghiJKL'], 'abcDEF123'],
      [['mysql', '-uroot', '-pS3cretPass'], 'S3cretPass'],
      [['curl', '-u', 'admin:hunter2x', 'https://x'], 'hunter2x'],
    ];
    for (const [argv, secret] of cases) {
      const m = redactArgv(argv);
      expect(m.argv).toHaveLength(argv.length);
      expect(m.argv.join(' '), argv.join(' ')).not.toContain(secret);
      expect(m.argv[0]).toBe(argv[0]);
    }
    const clean = ['python3', 'agent.py', '--max-tokens', '1024'];
    expect(redactArgv(clean).argv).toBe(clean);
  });
});
