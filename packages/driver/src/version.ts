/** The driver's build identity, printed by `--version` in upstream's JSON shape. */
export const DRIVER_VERSION = '0.1.0';

export interface BuildInfo {
  readonly BuildVersion: string;
  readonly GitCommit: string;
  readonly BuildDate: string;
}

/** The image build sets SSCSI_GIT_COMMIT and SSCSI_BUILD_DATE; a source checkout reports `unknown`. */
export function buildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  return {
    BuildVersion: `v${DRIVER_VERSION}`,
    GitCommit: env.SSCSI_GIT_COMMIT ?? 'unknown',
    BuildDate: env.SSCSI_BUILD_DATE ?? 'unknown',
  };
}

/** The Kubernetes client user agent, shaped as upstream's. */
export function userAgent(info: BuildInfo = buildInfo()): string {
  return `csi-secrets-store/controller/${info.BuildVersion} (${process.platform}/${process.arch}) ${info.GitCommit}/${info.BuildDate}`;
}
