/**
 * Throwaway TLS material for the local API stand-ins: a private CA and a
 * server certificate for `localhost`, `127.0.0.1` and `::1`, made with the
 * `openssl` command-line tool (EC P-256 keys, so it takes a few tens of ms).
 *
 * Everything is written into a private directory (mode 0700, files 0600) and
 * removed again by dispose(). Clients trust the CA through `caFile`:
 * `SSL_CERT_FILE` (OpenSSL, Python), `NODE_EXTRA_CA_CERTS` (Node),
 * `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`, or `curl --cacert`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { trustedDir } from '../sinks/safe-file';

const execFileP = promisify(execFile);

export interface TlsMaterialOptions {
  /**
   * Directory to write the files into. Created (mode 0700) when missing. By
   * default a fresh private directory under the system temp dir; that one is
   * removed whole by dispose(), a given one only loses the files written here.
   */
  dir?: string;
  /** Extra DNS names for the server certificate (localhost is always there). */
  dnsNames?: string[];
  /** Extra IP addresses for the server certificate (127.0.0.1 and ::1 are always there). */
  ipAddresses?: string[];
  /** Validity in days (default 2: these certificates are for one run). */
  days?: number;
  /** The openssl binary (default: /usr/bin/openssl, /usr/local/bin/openssl or /bin/openssl; `openssl` on PATH only when not root). */
  openssl?: string;
}

export interface TlsMaterial {
  /** Directory holding the files. */
  dir: string;
  /** PEM of the CA certificate: what clients must trust. */
  caCert: string;
  /** Path of the CA certificate (PEM). */
  caFile: string;
  /** PEM of the server certificate (leaf only). */
  cert: string;
  /** PEM of the server's private key. */
  key: string;
  /** Path of the server certificate. */
  certFile: string;
  /** Path of the server key. */
  keyFile: string;
  /** Remove the files (and the directory when it was made here). Idempotent. */
  dispose(): Promise<void>;
  /** Synchronous dispose(), for process exit handlers. */
  disposeSync(): void;
}

const FILES = ['ca.key', 'ca.pem', 'server.key', 'server.csr', 'server.pem', 'server.ext', 'ca.srl'];

/** Where openssl is looked for first: fixed places, so root never runs an `openssl` someone put on its PATH. */
const OPENSSL = ['/usr/bin/openssl', '/usr/local/bin/openssl', '/bin/openssl'];

function defaultOpenssl(): string {
  const found = OPENSSL.find((p) => fs.existsSync(p));
  if (found) return found;
  if (process.geteuid?.() === 0) throw new Error(`createTlsMaterial: openssl not found at ${OPENSSL.join(', ')} (as root, PATH is not searched)`);
  return 'openssl';
}

/**
 * Where to make the private temporary directory: $TMPDIR (os.tmpdir()) when
 * no one else can change it, else /tmp (under `sudo -E`, TMPDIR may be a
 * directory of the invoking user's, who could swap the new directory for a
 * link while the keys are written).
 */
async function privateTmpBase(): Promise<string> {
  let refused: unknown;
  for (const base of new Set([os.tmpdir(), '/tmp'])) {
    try {
      const real = await trustedDir(base, { what: 'temporary directory', sticky: true });
      if (real) return real;
    } catch (err) {
      refused ??= err;
    }
  }
  throw refused ?? new Error('createTlsMaterial: no temporary directory (neither $TMPDIR nor /tmp exists)');
}

/** Make a CA and a localhost server certificate signed by it. */
export async function createTlsMaterial(opts: TlsMaterialOptions = {}): Promise<TlsMaterial> {
  const openssl = opts.openssl ?? defaultOpenssl();
  const days = String(opts.days ?? 2);
  let dir: string;
  let ownDir: boolean;
  if (opts.dir) {
    // the keys are written there (by openssl, which follows links): a directory nobody else controls
    dir = (await trustedDir(opts.dir, { what: 'TLS directory', create: true }))!;
    ownDir = false;
  } else {
    dir = await fsp.mkdtemp(path.join(await privateTmpBase(), 'agentsight-standin-'));
    ownDir = true;
  }
  const f = (name: string) => path.join(dir, name);
  let disposed = false;
  const disposeSync = () => {
    if (disposed) return;
    disposed = true;
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    else for (const n of FILES) fs.rmSync(f(n), { force: true });
  };
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    if (ownDir) await fsp.rm(dir, { recursive: true, force: true });
    else await Promise.all(FILES.map((n) => fsp.rm(f(n), { force: true })));
  };

  try {
    // Private before anything secret is written (mkdtemp already makes 0700).
    await fsp.chmod(dir, 0o700);
    const run = (args: string[]) => execFileP(openssl, args, { cwd: dir, timeout: 20_000 });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    const dns = ['localhost', ...(opts.dnsNames ?? [])];
    const ips = ['127.0.0.1', '::1', ...(opts.ipAddresses ?? [])];
    const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(',');
    await fsp.writeFile(
      f('server.ext'),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${san}`,
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid,issuer',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    // CA and server key/CSR are independent: make them at the same time.
    await Promise.all([
      run([
        'req',
        '-x509',
        ...ec,
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        days,
        '-subj',
        '/O=agentsight/CN=agentsight stand-in CA (throwaway)',
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]),
      run(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/O=agentsight/CN=localhost']),
    ]);
    await run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '0x' + randomBytes(12).toString('hex'),
      '-days',
      days,
      '-sha256',
      '-extfile',
      'server.ext',
      '-out',
      'server.pem',
    ]);
    for (const n of FILES) await fsp.chmod(f(n), 0o600).catch(() => undefined);
    // Neither the CA key nor the CSR is needed any more: a stolen CA key could
    // sign for any name this machine's clients were told to trust for the run.
    await Promise.all(['ca.key', 'server.csr', 'server.ext'].map((n) => fsp.rm(f(n), { force: true })));
    const [caCert, cert, key] = await Promise.all([
      fsp.readFile(f('ca.pem'), 'utf8'),
      fsp.readFile(f('server.pem'), 'utf8'),
      fsp.readFile(f('server.key'), 'utf8'),
    ]);
    return {
      dir,
      caCert,
      caFile: f('ca.pem'),
      cert,
      key,
      certFile: f('server.pem'),
      keyFile: f('server.key'),
      dispose,
      disposeSync,
    };
  } catch (err) {
    await dispose();
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`createTlsMaterial: '${openssl}' not found (install the openssl package)`, { cause: err });
    throw new Error(`createTlsMaterial: openssl failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}
