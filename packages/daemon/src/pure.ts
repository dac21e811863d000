// What the CLI may import from the daemon package without starting anything
// or loading the network stack: pure functions over files, git and ids.
export { readDag, readMetrics, readParamsDiff } from './pipeline/read-only.js'
export { resolveJobId, MIN_JOB_ID_PREFIX } from './exec/job-prefix.js'
export { loadConfig, type DaemonConfig } from './config.js'
export { homePaths, type HomePaths } from './home.js'
export { loadSwarmKey } from './net/swarm-key.js'
export { parseGpus, QUERY as GPU_QUERY } from './exec/resources.js'
export { findProject } from './tracking/project.js'
export { DEFAULT_PORT } from './constants.js'
