/**
 * The OpenTelemetry resources: what every span and metric of this host says
 * (service.name, default agentsight; host.name; OTEL_RESOURCE_ATTRIBUTES),
 * and per agent session the agent itself (its executable, its user, its
 * container and pod) and session.id.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { Attributes } from '@opentelemetry/api';
import { ATTR } from './semconv';

const VERSION: string = (require('../../package.json') as { version: string }).version;

/** host.arch in the conventions' words. */
const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

/** The resource of this host: SDK attributes, host, service, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over them. */
export function hostResource(serviceName: string, fromEnv: Record<string, string>): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ [ATTR.HOST_NAME]: os.hostname(), [ATTR.HOST_ARCH]: ARCH[process.arch] ?? process.arch, [ATTR.OS_TYPE]: 'linux' }))
    .merge(resourceFromAttributes({ [ATTR.SERVICE_VERSION]: VERSION }))
    .merge(resourceFromAttributes(fromEnv))
    .merge(resourceFromAttributes({ [ATTR.SERVICE_NAME]: serviceName }));
}

/** A session's resource: the host's, with the agent's attributes over it. */
export function sessionResource(host: Resource, session: Attributes): Resource {
  return host.merge(resourceFromAttributes(session));
}

let users: Map<number, string> | null = null;

/** A user's name (from /etc/passwd), or the uid as text. */
export function userName(uid: number): string {
  if (!users) {
    users = new Map();
    try {
      for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && /^\d+$/.test(f[2])) users.set(Number(f[2]), f[0]);
      }
    } catch {
      /* no passwd: uids only */
    }
  }
  return users.get(uid) ?? String(uid);
}
