export { parseCommandLine, podNameOf, serviceAccountOf, usage, UsageError, type Command } from './args.js';
export { diagnose, rules, type CauseCategory, type Diagnosis } from './causes.js';
export { kubeClusterReader, loadKubeConfig, type ClusterReader } from './cluster.js';
export { dryRun, dryRunReport } from './dry-run.js';
export { estimateRefresh, explainPod, relevantProblems, rotationInterval } from './explain.js';
export { renderJson, renderText } from './render.js';
export type { Problem, Report, VolumeReport } from './report.js';
export { PLUGIN_VERSION, run } from './main.js';
