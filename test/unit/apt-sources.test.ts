/**
 * scripts/apt-sources.js: the mirrors the build fetches libbpf's source from
 * and the chroots are made from, read from apt's configuration in both formats.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const apt = require('../../scripts/apt-sources.js') as {
  parseOneLine(t: string): string[];
  parseDeb822(t: string): string[];
  aptMirrors(root?: string): string[];
  FALLBACK: string;
};

describe('apt sources', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-apt-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('one-line format: deb and deb-src, options in brackets, comments', () => {
    const text = [
      '# deb http://commented.example/debian bookworm main',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian bookworm main',
      'deb-src http://src.example/debian bookworm main  # trailing comment',
      'deb cdrom:[Debian GNU/Linux 12]/ bookworm main',
      '',
    ].join('\n');
    expect(apt.parseOneLine(text)).toEqual(['http://mirror.example/debian', 'http://src.example/debian', 'cdrom:[Debian']);
  });

  it('deb822 format: several URIs, disabled stanzas, continuation lines, comments', () => {
    const text = [
      'Types: deb deb-src',
      'URIs: http://a.example/debian https://b.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      'Signed-By:',
      ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
      ' URIs: http://not-a-field.example/',
      ' -----END PGP PUBLIC KEY BLOCK-----',
      '',
      '# a disabled one',
      'Types: deb',
      'URIs: http://off.example/debian',
      'Suites: trixie',
      'Enabled: no',
      '',
      'Types: deb',
      '# URIs: http://commented.example/',
      'URIs: http://c.example/ubuntu/',
      'Suites: noble',
    ].join('\n');
    expect(apt.parseDeb822(text)).toEqual(['http://a.example/debian', 'https://b.example/debian', 'http://c.example/ubuntu/']);
  });

  it('reads sources.list and sources.list.d (.list, .sources; other files ignored), http(s) only, deduplicated, deb.debian.org last', () => {
    fs.mkdirSync(path.join(dir, 'sources.list.d'));
    fs.writeFileSync(path.join(dir, 'sources.list'), 'deb http://one.example/debian/ bookworm main\ndeb file:/srv/mirror bookworm main\n');
    fs.writeFileSync(path.join(dir, 'sources.list.d', 'a.sources'), 'Types: deb\nURIs: http://two.example/debian\nSuites: bookworm\n');
    fs.writeFileSync(path.join(dir, 'sources.list.d', 'b.list'), 'deb http://one.example/debian bookworm-updates main\n');
    fs.writeFileSync(path.join(dir, 'sources.list.d', 'c.sources.disabled'), 'Types: deb\nURIs: http://disabled.example/\nSuites: x\n');
    expect(apt.aptMirrors(dir)).toEqual(['http://one.example/debian', 'http://two.example/debian', apt.FALLBACK]);
  });

  it('no configuration at all: deb.debian.org', () => {
    expect(apt.aptMirrors(path.join(dir, 'nowhere'))).toEqual([apt.FALLBACK]);
  });
});
