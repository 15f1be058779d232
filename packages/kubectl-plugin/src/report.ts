/**
 * The report `explain` and `dry-run` print: its JSON shape is `-o json`, the text rendering reads the same
 * object. Pod status fields are kept whole (`podStatus.status`), so fields a newer driver adds show up.
 */
import type { CauseCategory } from './causes.js';

export const REPORT_API_VERSION = 'secrets-store.csi.k8s.io/v1alpha1';

export interface Problem {
  /** Where it was seen: a pod status condition or an event. */
  readonly source: 'condition' | 'event' | 'mount';
  /** The event type (Warning, Normal) or the condition type. */
  readonly type: string;
  /** A condition's status. */
  readonly status?: string;
  readonly reason: string;
  readonly message: string;
  readonly at?: string;
  readonly count?: number;
  readonly diagnosis?: {
    readonly id: string;
    readonly category: CauseCategory;
    readonly cause: string;
    readonly fix: string;
  };
}

export interface RefreshEstimate {
  /** The latest time the volume's content is known to have been fetched or checked. */
  readonly lastRefresh?: { readonly at: string; readonly source: string };
  /** When the driver refreshes next, at the earliest, from the last refresh and the interval. */
  readonly nextDue?: string;
  readonly intervalSeconds: number;
  readonly intervalSource: 'class annotation' | 'driver flag (given or default)';
  /** Always true for explain: the driver does not publish its schedule. */
  readonly estimated: boolean;
  readonly note: string;
}

export interface VolumeReport {
  readonly name: string;
  readonly secretProviderClass: string;
  readonly provider?: string;
  readonly classFound: boolean;
  /** Mounted, Failed (mount failed), RefreshFailing (mounted, last refresh failed), Pending, Unknown. */
  readonly state: 'Mounted' | 'Failed' | 'RefreshFailing' | 'Pending' | 'Unknown';
  readonly podStatus?: {
    readonly name: string;
    readonly node?: string;
    readonly status: Readonly<Record<string, unknown>>;
  };
  /** Object ids and versions as the pod status records them (never contents). */
  readonly objects: readonly { readonly id: string; readonly version: string }[];
  /** dry-run only: the files written, with sizes and modes. */
  readonly files?: readonly { readonly path: string; readonly bytes: number; readonly mode: string }[];
  /** dry-run only: Kubernetes Secrets secretObjects would create, with keys. */
  readonly secrets?: readonly {
    readonly name: string;
    readonly type: string;
    readonly keys: readonly string[];
  }[];
  readonly refresh?: RefreshEstimate;
  readonly problems: readonly Problem[];
}

export interface Report {
  readonly apiVersion: typeof REPORT_API_VERSION;
  readonly kind: 'PodExplanation' | 'DryRun';
  readonly pod: {
    readonly namespace: string;
    readonly name: string;
    readonly uid?: string;
    readonly node?: string;
    readonly phase?: string;
    readonly serviceAccount: string;
  };
  readonly volumes: readonly VolumeReport[];
  /** Warning events of the pod not tied to one volume (and notes such as "no secrets-store volumes"). */
  readonly problems: readonly Problem[];
}
