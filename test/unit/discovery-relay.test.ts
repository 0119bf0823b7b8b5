import { describe, expect, it } from 'vitest';
import { DiscoveryRelay } from '../../lib/tracers/ssl/loader';
import type { AttachedTarget } from '../../lib/tracers/ssl/discovery';

const target = (path: string): AttachedTarget => ({ path, library: 'openssl', functions: ['SSL_read'], links: 2, via: 'system' });

describe('DiscoveryRelay', () => {
  it('holds what a discovery says before its tracer connects, passes it on in order, then passes on as it comes', () => {
    const relay = new DiscoveryRelay();
    relay.notice('first');
    relay.attached(target('/lib/a.so'));
    relay.notice('second');
    const got: string[] = [];
    relay.connect({ notice: (m) => got.push(`notice ${m}`), attached: (a) => got.push(`attached ${a.path}`) });
    expect(got).toEqual(['notice first', 'attached /lib/a.so', 'notice second']);
    relay.attached(target('/lib/b.so'));
    relay.notice('third');
    expect(got.slice(3)).toEqual(['attached /lib/b.so', 'notice third']);
  });
});
