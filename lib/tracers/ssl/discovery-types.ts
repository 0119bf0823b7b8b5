/** The shapes TLS discovery (discovery.ts) reports and is configured with. */
import type { TlsTarget } from './targets';

/** A probed file. */
export interface AttachedTarget {
  path: string;
  library: string;
  functions: string[];
  links: number;
  via: string;
}

/** An executable whose TLS functions the locator found (BoringSSL without symbols). */
export interface LocatorFinding {
  path: string;
  buildId: string | null;
  cached: boolean;
  ms: number;
}

export interface DiscoveryHooks {
  /** Probe a target: returns its number of links, throws if it cannot be probed. */
  attach(t: TlsTarget): number;
  notice(message: string): void;
  attached(a: AttachedTarget): void;
}

/** Bounds of the rescans after execs. */
export interface RescanLimits {
  /** Executables (by dev:inode) with rescans under way at once; execs of further ones are not rescanned (counted). Default 256. */
  maxExecutables?: number;
  /** Processes rescanned per executable; further execs of it while its rescans are under way join none (counted). Default 4. */
  maxProcesses?: number;
}

/** What discovery did and left out (the ssl tracer's stats, `discovery`). */
export interface DiscoveryStats {
  /** EXEC events of selected processes looked at */
  execs: number;
  /** execs whose process was gone before its executable could be read */
  execs_gone: number;
  /** mappings of a process read again after its exec */
  rescans: number;
  /** execs given no rescans of their own: processes of the same executable were being rescanned */
  rescans_coalesced: number;
  /** execs given no rescans because maxExecutables executables were being rescanned */
  rescans_dropped: number;
  /** rescans not done because the process had exited */
  rescans_gone: number;
}

/** Rescans of the processes of one executable (dev:inode), at RESCAN_DELAYS after the first exec. */
export interface Rescan {
  key: string;
  pids: number[];
  /** pids selected directly: say at the last rescan if they map no TLS code */
  report: Set<number>;
  step: number;
  due: number;
}
