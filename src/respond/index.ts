/** Response workflows: configuration, planning (what an alert triggers) and the runner that executes actions. */
export { parseWorkflows, DEFAULT_STOP_SCRIPT, type Workflow } from './config.js';
export { ConfigError } from '../configError.js';
export { planActions, actionId, stopTarget, type AlertFacts, type PlanOptions } from './plan.js';
export { ActionRunner, ApprovalError, type RunnerOptions } from './runner.js';
export { signBody } from './webhook.js';
